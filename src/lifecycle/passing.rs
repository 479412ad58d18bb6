//! Whether the roles a declaration passes may be passed, decided from IAM's answers before
//! anything is changed: a role the operator's `AllowedPassRoles` does not list must be this
//! stack's own (its `persona-role:stack-id` tag names the event's stack, and its ARN is the one
//! declared); no role may be another stack's, listed or not. The boundary holds what IAM can:
//! passing only roles named as this function's or listed, never another stack's where IAM shows
//! the passed role's tag (`boundary`). The function reads the tag itself, so a deployer gets a
//! FAILED reason naming the property instead of a job that fails later, or a pass IAM could not
//! refuse.

use std::time::Duration;

use crate::arn::Arn;
use crate::guardrails::PassedRole;
use crate::iam::{IamError, RoleState};
use crate::metrics::FailureClass;
use crate::ownership::{OWNER_STACK_TAG, tag_value};

use super::Failure;

/// A role or tag written moments ago by the same stack (the role passed was created or
/// adopted just before) may not be read back yet: IAM is eventually consistent. Roles missing
/// or untagged are read once more after this pause before the refusal.
pub const REREAD_PAUSE: Duration = Duration::from_secs(2);

/// What the reads of the roles to prove decide.
#[derive(Debug, Clone, PartialEq)]
pub enum Proof {
    /// Every role is this stack's own: go on.
    Proven,
    /// Some were missing or untagged: read them all again, after [`REREAD_PAUSE`].
    Reread,
    /// FAILED, nothing changed.
    Refused(Failure),
}

/// The role name an ARN names (the last segment of its resource), which GetRole reads.
pub fn role_name(arn: &str) -> &str {
    Arn::parse(arn)
        .and_then(|arn| arn.resource_id())
        .and_then(|id| id.rsplit('/').next())
        .unwrap_or(arn)
}

/// Decides on the roles to prove as read (in the same order). `last`: no read follows, so a
/// missing or untagged role is refused rather than read again.
pub fn prove(
    stack_id: &str,
    to_prove: &[PassedRole],
    read: &[Result<Option<RoleState>, IamError>],
    last: bool,
) -> Proof {
    let mut refusals = Vec::new();
    let mut again = false;
    for (passed, found) in to_prove.iter().zip(read) {
        let PassedRole {
            property,
            arn,
            listed,
        } = passed;
        let refusal = match found {
            Ok(Some(role)) => match tag_value(&role.tags, OWNER_STACK_TAG) {
                Some(owner) if owner != stack_id => format!(
                    "{property}: role `{arn}` belongs to stack `{owner}`, not to this one{}: a role passes only its own stack's roles and those the operator lists that no other stack owns",
                    if *listed {
                        " (AllowedPassRoles lists it, but another stack's role is never passed)"
                    } else {
                        ", and is not on this function's AllowedPassRoles"
                    }
                ),
                _ if *listed => continue,
                Some(_) if role.arn == *arn => continue,
                Some(_) => format!(
                    "{property}: IAM names this stack's role `{}`, not `{arn}`; declare that ARN (IAM matches iam:PassRole by the exact ARN), or pass `!GetAtt <resource>.Arn`",
                    role.arn
                ),
                None if !last => {
                    again = true;
                    continue;
                }
                None => format!(
                    "{property}: role `{arn}` is no stack's (it carries no persona-role ownership tags) and is not on this function's AllowedPassRoles: declare it in this stack (AdoptExistingRole takes over a console role) and pass `!GetAtt <resource>.Arn`, or ask the operator to list it"
                ),
            },
            // A listed role that does not exist (yet) or that the function may not read is
            // no stack's: the operator's list admits it.
            Ok(None) | Err(IamError::Call { .. }) if *listed && !is_failure(found) => continue,
            Ok(None) if !last => {
                again = true;
                continue;
            }
            Ok(None) => format!(
                "{property}: role `{arn}` does not exist: declare it in this stack and pass `!GetAtt <resource>.Arn`, so that CloudFormation makes it first"
            ),
            Err(error) if error.code() == Some(ACCESS_DENIED) => format!(
                "{property}: role `{arn}` is not one this function may read (it manages only roles named sagemaker-* or SageMaker-*), so it is not this stack's, and it is not on this function's AllowedPassRoles"
            ),
            Err(error) => {
                return Proof::Refused(Failure::new(
                    FailureClass::Iam,
                    format!("{property}: reading role `{arn}` failed: {error}"),
                ));
            }
        };
        refusals.push(refusal);
    }
    if !refusals.is_empty() {
        return Proof::Refused(Failure::new(
            FailureClass::Guardrail,
            format!("{}; nothing was changed", refusals.join("; ")),
        ));
    }
    if again { Proof::Reread } else { Proof::Proven }
}

const ACCESS_DENIED: &str = "AccessDenied";

/// Whether a read failed for another reason than the role's absence or the function's scope.
fn is_failure(found: &Result<Option<RoleState>, IamError>) -> bool {
    match found {
        Ok(_) => false,
        Err(error) => error.code() != Some(ACCESS_DENIED),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::aws::Op;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/1111";
    const OTHER: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/2222";
    const COMPUTE: &str = "arn:aws:iam::123456789012:role/service-role/SageMaker-Compute";

    fn passed(arn: &str) -> PassedRole {
        PassedRole {
            property: "PassRoles[0]".to_owned(),
            arn: arn.to_owned(),
            listed: false,
        }
    }

    fn listed(arn: &str) -> PassedRole {
        PassedRole {
            listed: true,
            ..passed(arn)
        }
    }

    fn role(arn: &str, stack: Option<&str>) -> Result<Option<RoleState>, IamError> {
        let tags: BTreeMap<String, String> = stack
            .map(|s| (OWNER_STACK_TAG.to_owned(), s.to_owned()))
            .into_iter()
            .collect();
        Ok(Some(RoleState {
            name: role_name(arn).to_owned(),
            path: "/".to_owned(),
            arn: arn.to_owned(),
            role_id: "AROA".to_owned(),
            description: None,
            max_session_duration: None,
            trust: serde_json::json!({}),
            permissions_boundary: None,
            tags,
        }))
    }

    fn error(code: &str) -> Result<Option<RoleState>, IamError> {
        Err(IamError::Call {
            operation: Op::GetRole,
            target: "x".to_owned(),
            code: Some(code.to_owned()),
            message: code.to_owned(),
        })
    }

    /// The decision's kind and, when refused, the start of its reason.
    fn outcome(proof: Proof) -> String {
        match proof {
            Proof::Proven => "proven".to_owned(),
            Proof::Reread => "reread".to_owned(),
            Proof::Refused(failure) => format!("{:?}: {}", failure.class, failure.reason),
        }
    }

    #[test]
    fn only_this_stacks_own_roles_are_proven() {
        let other_path = "arn:aws:iam::123456789012:role/team/SageMaker-Compute";
        // What a case is, the role as read, whether no read follows, and the outcome.
        type Case = (
            &'static str,
            Result<Option<RoleState>, IamError>,
            bool,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "this stack's role",
                role(COMPUTE, Some(STACK)),
                true,
                "proven",
            ),
            (
                "another stack's role",
                role(COMPUTE, Some(OTHER)),
                true,
                "Guardrail: PassRoles[0]: role `arn:aws:iam::123456789012:role/service-role/SageMaker-Compute` belongs to stack `arn:aws:cloudformation:us-east-1:123456789012:stack/other/2222`",
            ),
            (
                "another stack's role is not read again",
                role(COMPUTE, Some(OTHER)),
                false,
                "Guardrail: PassRoles[0]: role",
            ),
            (
                "an untagged role, first read",
                role(COMPUTE, None),
                false,
                "reread",
            ),
            (
                "an untagged role, read again",
                role(COMPUTE, None),
                true,
                "Guardrail: PassRoles[0]: role `arn:aws:iam::123456789012:role/service-role/SageMaker-Compute` is no stack's",
            ),
            ("a missing role, first read", Ok(None), false, "reread"),
            (
                "a missing role, read again",
                Ok(None),
                true,
                "Guardrail: PassRoles[0]: role `arn:aws:iam::123456789012:role/service-role/SageMaker-Compute` does not exist",
            ),
            (
                "this stack's role under another path than declared",
                role(other_path, Some(STACK)),
                true,
                "Guardrail: PassRoles[0]: IAM names this stack's role `arn:aws:iam::123456789012:role/team/SageMaker-Compute`",
            ),
            (
                "a role the function may not read",
                error("AccessDenied"),
                false,
                "Guardrail: PassRoles[0]: role `arn:aws:iam::123456789012:role/service-role/SageMaker-Compute` is not one this function may read",
            ),
            (
                "IAM failing",
                error("Throttling"),
                false,
                "Iam: PassRoles[0]: reading role",
            ),
        ];
        for (name, read, last, expected) in cases {
            let got = outcome(prove(STACK, &[passed(COMPUTE)], &[read], last));
            assert!(got.starts_with(expected), "{name}: {got}");
        }
    }

    #[test]
    fn a_listed_role_need_not_be_this_stacks_but_is_never_another_stacks() {
        type Case = (
            &'static str,
            Result<Option<RoleState>, IamError>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("an untagged listed role", role(COMPUTE, None), "proven"),
            ("a listed role that does not exist", Ok(None), "proven"),
            (
                "a listed role the function may not read",
                error("AccessDenied"),
                "proven",
            ),
            (
                "this stack's listed role",
                role(COMPUTE, Some(STACK)),
                "proven",
            ),
            (
                "another stack's listed role",
                role(COMPUTE, Some(OTHER)),
                "Guardrail: PassRoles[0]: role `arn:aws:iam::123456789012:role/service-role/SageMaker-Compute` belongs to stack `arn:aws:cloudformation:us-east-1:123456789012:stack/other/2222`, not to this one (AllowedPassRoles lists it, but another stack's role is never passed)",
            ),
            (
                "IAM failing",
                error("Throttling"),
                "Iam: PassRoles[0]: reading role",
            ),
        ];
        for (name, read, expected) in cases {
            let got = outcome(prove(STACK, &[listed(COMPUTE)], &[read], false));
            assert!(got.starts_with(expected), "{name}: {got}");
        }
    }

    #[test]
    fn every_refused_role_is_named_at_once_and_nothing_is_changed() {
        let roles = [
            passed(COMPUTE),
            PassedRole {
                property: "ActivityParameters.Manage Pipelines.PassRoles[1]".to_owned(),
                arn: "arn:aws:iam::123456789012:role/sagemaker-pipeline".to_owned(),
                listed: false,
            },
        ];
        let read = [
            role(COMPUTE, Some(OTHER)),
            role("arn:aws:iam::123456789012:role/sagemaker-pipeline", None),
        ];
        let got = outcome(prove(STACK, &roles, &read, true));
        assert!(got.contains("PassRoles[0]: role"), "{got}");
        assert!(
            got.contains("ActivityParameters.Manage Pipelines.PassRoles[1]: role"),
            "{got}"
        );
        assert!(got.ends_with("; nothing was changed"), "{got}");
    }

    #[test]
    fn a_role_name_is_the_arns_last_segment() {
        assert_eq!(role_name(COMPUTE), "SageMaker-Compute");
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/sagemaker-x"),
            "sagemaker-x"
        );
    }
}
