//! Whether a stack stays within the operator's per-stack limits, decided from what
//! CloudFormation and IAM answered before anything is changed: one stack (one team) must not use
//! up the account's roles (`MaxRolesPerStack`) or customer managed policies
//! (`MaxOwnPoliciesPerStack`) for every other.
//!
//! - Roles: the stack's resources of the event's resource type that exist or are being made
//!   (ListStackResources: any not `DELETE_COMPLETE`), other than the event's own; only a Create
//!   adds one, and it is refused when the others already reach the limit.
//! - Own policies: the account's customer managed policies (ListPolicies) named `<role>-<n>`,
//!   ignoring case as IAM compares names, for each role of the stack other than the planned
//!   one, plus those the plan makes. A plan that would go beyond the limit is refused only if it
//!   makes more than the role has now: a stack over its limit (the operator lowered it) can still
//!   update a role to as many policies as it has, or fewer. An Update of a rollback
//!   (`UPDATE_ROLLBACK_IN_PROGRESS`) is never refused: it returns the role to what it had.
//!
//! Concurrent events of one stack see each other's roles (CloudFormation shows a resource
//! `CREATE_IN_PROGRESS` before it invokes the function), but not the policies another event is
//! about to make: several Creates or Updates of one stack at once can together pass the policy
//! limit by what they make at the same time.

use crate::cfn::stack_check::StackRoles;
use crate::guardrails::{MAX_OWN_POLICIES_PER_STACK_ENV, MAX_ROLES_PER_STACK_ENV, PerStack};
use crate::iam::MAX_OWN_POLICIES;
use crate::metrics::FailureClass;

use super::Failure;

/// The template parameters the limits come from, as reasons name them.
pub const MAX_ROLES_PER_STACK: &str = "MaxRolesPerStack";
pub const MAX_OWN_POLICIES_PER_STACK: &str = "MaxOwnPoliciesPerStack";

/// Whether the Create of resource `logical_id` stays within `limit`, given the stack's roles
/// (read whenever there is a limit).
pub fn roles(
    limit: &PerStack,
    logical_id: &str,
    stack: Option<&StackRoles>,
) -> Result<(), Failure> {
    let (max, stack) = match (limit, stack) {
        (PerStack::Unlimited, _) => return Ok(()),
        (PerStack::Unreadable(value), _) => {
            return Err(unreadable(
                MAX_ROLES_PER_STACK,
                MAX_ROLES_PER_STACK_ENV,
                value,
            ));
        }
        (PerStack::AtMost(max), Some(stack)) => (*max, stack),
        (PerStack::AtMost(_), None) => {
            return Err(Failure::new(
                FailureClass::Internal,
                format!(
                    "internal error: {MAX_ROLES_PER_STACK} is set, but the stack's resources were not read"
                ),
            ));
        }
    };
    let others = stack
        .live()
        .filter(|resource| resource.logical_id != logical_id)
        .count();
    if others < max {
        return Ok(());
    }
    Err(Failure::new(
        FailureClass::Guardrail,
        format!(
            "{MAX_ROLES_PER_STACK}: stack `{}` already has {others} {} resources besides `{logical_id}`, and this function allows at most {max} per stack; nothing was made. Remove roles from this stack, move some to another stack, or ask the operator to raise {MAX_ROLES_PER_STACK}",
            stack.stack_name(),
            stack.resource_type,
        ),
    ))
}

/// The own managed policies a stack's roles have and a plan makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnPolicies {
    /// Those of the stack's roles other than the planned one.
    pub others: usize,
    /// Those of the planned role as IAM has them now (an Update's, a redelivered Create's).
    pub current: usize,
    /// Those the plan gives the role.
    pub planned: usize,
}

/// Counts, among the account's customer managed policies (`listed`, ARNs), those of the stack's
/// roles (`<role>-<n>`, ignoring case): the planned role's apart from the others'.
pub fn count_own_policies(
    stack: &StackRoles,
    planned_name: &str,
    planned: usize,
    listed: &[String],
) -> OwnPolicies {
    let others: Vec<String> = stack
        .live()
        .filter_map(|resource| resource.physical_id.as_deref())
        .filter(|name| !name.eq_ignore_ascii_case(planned_name))
        .map(str::to_ascii_lowercase)
        .collect();
    let planned_name = planned_name.to_ascii_lowercase();
    let mut count = OwnPolicies {
        others: 0,
        current: 0,
        planned,
    };
    for role in listed.iter().filter_map(|arn| own_policy_role(arn)) {
        if role == planned_name {
            count.current += 1;
        } else if others.contains(&role) {
            count.others += 1;
        }
    }
    count
}

/// The role a policy ARN is named after as a role's own (`…:policy/<path><role>-<n>`), in
/// lower case; none for any other name.
fn own_policy_role(arn: &str) -> Option<String> {
    let name = arn.rsplit('/').next()?;
    let (role, n) = name.rsplit_once('-')?;
    let n: usize = n.parse().ok()?;
    let canonical = (1..=MAX_OWN_POLICIES).contains(&n) && n.to_string() == name[role.len() + 1..];
    (canonical && !role.is_empty()).then(|| role.to_ascii_lowercase())
}

/// Whether a plan's own policies keep the stack within `limit`. An Update while CloudFormation
/// takes the stack's update back returns the role to what it was, and is never refused: a
/// refusal would leave the stack `UPDATE_ROLLBACK_FAILED`.
pub fn own_policies(
    limit: &PerStack,
    stack: &StackRoles,
    count: OwnPolicies,
) -> Result<(), Failure> {
    let max = match limit {
        PerStack::Unlimited => return Ok(()),
        PerStack::AtMost(max) => *max,
        PerStack::Unreadable(value) => {
            return Err(unreadable(
                MAX_OWN_POLICIES_PER_STACK,
                MAX_OWN_POLICIES_PER_STACK_ENV,
                value,
            ));
        }
    };
    let total = count.others + count.planned;
    if total <= max || count.planned <= count.current || stack.rolling_back() {
        return Ok(());
    }
    Err(Failure::new(
        FailureClass::Guardrail,
        format!(
            "{MAX_OWN_POLICIES_PER_STACK}: the role would have {} managed policies of its own (it has {}), and the other roles of stack `{}` have {}: {total} in all, and this function allows at most {max} per stack; nothing was changed. Declare less (fewer buckets, ids or values), so that more fits the role's inline policy, remove roles from this stack, or ask the operator to raise {MAX_OWN_POLICIES_PER_STACK}",
            count.planned,
            count.current,
            stack.stack_name(),
            count.others,
        ),
    ))
}

fn unreadable(parameter: &str, variable: &str, value: &str) -> Failure {
    Failure::new(
        FailureClass::Guardrail,
        format!(
            "{parameter}: the function's environment sets {variable} to `{value}`, which is no whole number, so the limit cannot be kept; nothing was changed. Deploy the function with template.yaml, which sets it from {parameter}"
        ),
    )
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;
    use crate::cfn::stack_check::ListedResource;

    const TYPE: &str = "Custom::SageMakerPersonaRole";
    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f";

    fn resource(logical_id: &str, physical_id: Option<&str>, status: &str) -> ListedResource {
        ListedResource {
            logical_id: logical_id.to_owned(),
            physical_id: physical_id.map(str::to_owned),
            resource_type: TYPE.to_owned(),
            status: status.to_owned(),
        }
    }

    /// A stack of `n` roles `R0…` (`sagemaker-r0…`), complete, beside `extra`.
    fn stack(n: usize, extra: Vec<ListedResource>) -> StackRoles {
        let mut resources: Vec<ListedResource> = (0..n)
            .map(|i| {
                resource(
                    &format!("R{i}"),
                    Some(&format!("sagemaker-r{i}")),
                    "CREATE_COMPLETE",
                )
            })
            .collect();
        resources.extend(extra);
        StackRoles {
            stack_id: STACK.to_owned(),
            resource_type: TYPE.to_owned(),
            resources,
            status: None,
        }
    }

    #[test]
    fn a_create_is_refused_once_the_stacks_other_roles_reach_the_limit() {
        let new = || resource("New", None, "CREATE_IN_PROGRESS");
        let other_type = ListedResource {
            resource_type: "AWS::IAM::Role".to_owned(),
            ..resource("Plain", Some("plain"), "CREATE_COMPLETE")
        };
        // (what, limit, the stack, refused)
        let rows: Vec<(&str, PerStack, StackRoles, bool)> = vec![
            ("no limit", PerStack::Unlimited, stack(500, vec![]), false),
            (
                "one below: the last one fits",
                PerStack::AtMost(3),
                stack(2, vec![new()]),
                false,
            ),
            (
                "at the limit",
                PerStack::AtMost(3),
                stack(3, vec![new()]),
                true,
            ),
            (
                "its own entry is not counted, listed or not",
                PerStack::AtMost(3),
                stack(2, vec![]),
                false,
            ),
            (
                "deleted roles do not count",
                PerStack::AtMost(3),
                stack(
                    2,
                    vec![
                        new(),
                        resource("Old", Some("sagemaker-old"), "DELETE_COMPLETE"),
                    ],
                ),
                false,
            ),
            (
                "roles being made or deleted count",
                PerStack::AtMost(3),
                stack(
                    1,
                    vec![
                        new(),
                        resource("Making", None, "CREATE_IN_PROGRESS"),
                        resource("Going", Some("sagemaker-going"), "DELETE_IN_PROGRESS"),
                    ],
                ),
                true,
            ),
            (
                "a failed Create's resource counts until it is deleted",
                PerStack::AtMost(2),
                stack(1, vec![new(), resource("Failed", None, "CREATE_FAILED")]),
                true,
            ),
            (
                "other resource types do not count",
                PerStack::AtMost(3),
                stack(2, vec![new(), other_type]),
                false,
            ),
            (
                "a limit of none",
                PerStack::AtMost(0),
                stack(0, vec![new()]),
                true,
            ),
            (
                "an unreadable limit refuses",
                PerStack::Unreadable("lots".to_owned()),
                stack(0, vec![new()]),
                true,
            ),
        ];
        assert_eq!(
            roles(&PerStack::AtMost(3), "New", None).map_err(|f| f.class),
            Err(FailureClass::Internal),
            "a limit is never decided without the stack's resources"
        );
        for (what, limit, stack, refused) in rows {
            let decided = roles(&limit, "New", Some(&stack));
            assert_eq!(decided.is_err(), refused, "{what}: {decided:?}");
            if let Err(failure) = decided {
                assert_eq!(failure.class, FailureClass::Guardrail, "{what}");
                assert!(
                    failure.reason.starts_with("MaxRolesPerStack: "),
                    "{what}: {}",
                    failure.reason
                );
            }
        }
        let Err(failure) = roles(&PerStack::AtMost(3), "New", Some(&stack(3, vec![new()]))) else {
            panic!("refused");
        };
        for part in [
            "stack `ml` already has 3 Custom::SageMakerPersonaRole resources besides `New`",
            "at most 3 per stack",
            "nothing was made",
        ] {
            assert!(failure.reason.contains(part), "{part}: {}", failure.reason);
        }
        let Err(failure) = roles(&PerStack::Unreadable("lots".to_owned()), "New", None) else {
            panic!("refused");
        };
        assert!(
            failure
                .reason
                .contains("sets PERSONA_ROLE_MAX_ROLES_PER_STACK to `lots`"),
            "{}",
            failure.reason
        );
    }

    fn arns(names: &[&str]) -> Vec<String> {
        names
            .iter()
            .map(|name| format!("arn:aws:iam::123456789012:policy/{name}"))
            .collect()
    }

    #[test]
    fn own_policies_are_counted_by_the_stacks_role_names_ignoring_case() {
        let stack = stack(
            2,
            vec![
                resource("Me", Some("sagemaker-me"), "UPDATE_IN_PROGRESS"),
                resource("Gone", Some("sagemaker-gone"), "DELETE_COMPLETE"),
                resource("Making", None, "CREATE_IN_PROGRESS"),
            ],
        );
        let listed = arns(&[
            "sagemaker-r0-1",
            "sagemaker-r0-2",
            "service-role/SageMaker-R1-1",
            "sagemaker-r1-20",
            "sagemaker-me-1",
            "SAGEMAKER-ME-2",
            // Not a role's own: no number, a number past any role's, a leading zero.
            "sagemaker-r0",
            "sagemaker-r0-21",
            "sagemaker-r0-01",
            "sagemaker-r0-x",
            // Another stack's role, and a role deleted from this one.
            "sagemaker-elsewhere-1",
            "sagemaker-gone-1",
            // A role whose name ends in a number: its own policies, not `sagemaker-r`'s.
            "sagemaker-r1-1-1",
        ]);
        assert_eq!(
            count_own_policies(&stack, "sagemaker-me", 5, &listed),
            OwnPolicies {
                others: 4,
                current: 2,
                planned: 5,
            }
        );
        // A replacement: the role's old name is one of the others until it is deleted.
        assert_eq!(
            count_own_policies(&stack, "sagemaker-me-renamed", 1, &listed),
            OwnPolicies {
                others: 6,
                current: 0,
                planned: 1,
            }
        );
    }

    #[test]
    fn a_plan_is_refused_when_it_takes_the_stack_past_the_limit_by_growing() {
        let count = |others, current, planned| OwnPolicies {
            others,
            current,
            planned,
        };
        // (what, limit, count, refused)
        let rows = [
            ("no limit", PerStack::Unlimited, count(5000, 0, 20), false),
            ("within", PerStack::AtMost(150), count(140, 0, 10), false),
            ("past it", PerStack::AtMost(150), count(140, 0, 11), true),
            (
                "an update that grows past it",
                PerStack::AtMost(150),
                count(140, 5, 11),
                true,
            ),
            (
                "an update that keeps what it has, over a lowered limit",
                PerStack::AtMost(100),
                count(140, 11, 11),
                false,
            ),
            (
                "an update that shrinks, over a lowered limit",
                PerStack::AtMost(100),
                count(140, 11, 3),
                false,
            ),
            (
                "a redelivered Create whose policies exist",
                PerStack::AtMost(150),
                count(150, 13, 13),
                false,
            ),
            ("a limit of none", PerStack::AtMost(0), count(0, 0, 1), true),
            (
                "an unreadable limit",
                PerStack::Unreadable("x".to_owned()),
                count(0, 0, 1),
                true,
            ),
        ];
        let updating = stack(0, vec![]);
        for (what, limit, count, refused) in rows {
            let decided = own_policies(&limit, &updating, count);
            assert_eq!(decided.is_err(), refused, "{what}: {decided:?}");
            if let Err(failure) = decided {
                assert_eq!(failure.class, FailureClass::Guardrail, "{what}");
                assert!(
                    failure.reason.starts_with("MaxOwnPoliciesPerStack: "),
                    "{what}: {}",
                    failure.reason
                );
            }
        }
        let Err(failure) = own_policies(&PerStack::AtMost(150), &updating, count(140, 0, 13))
        else {
            panic!("refused");
        };
        for part in [
            "would have 13 managed policies of its own (it has 0)",
            "other roles of stack `ml` have 140: 153 in all",
            "at most 150 per stack",
        ] {
            assert!(failure.reason.contains(part), "{part}: {}", failure.reason);
        }
        // A rollback's Update returns the role to what it had, whatever the count.
        let rolling_back = StackRoles {
            status: Some("UPDATE_ROLLBACK_IN_PROGRESS".to_owned()),
            ..stack(0, vec![])
        };
        assert_eq!(
            own_policies(&PerStack::AtMost(150), &rolling_back, count(140, 2, 13)),
            Ok(())
        );
        let updating = StackRoles {
            status: Some("UPDATE_IN_PROGRESS".to_owned()),
            ..stack(0, vec![])
        };
        assert!(own_policies(&PerStack::AtMost(150), &updating, count(140, 2, 13)).is_err());
    }
}
