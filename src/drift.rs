//! Releases and the roles already deployed. CloudFormation sends an Update only when a
//! resource's properties change, so a release (a catalog fix, a new default, a new boundary)
//! reaches a role only when its stack next changes it. CloudFormation's stack events carry the
//! properties each resource was last created or updated with, so every role this function owns
//! can be re-planned with this release from what its stack declared:
//!
//! - [`recover`]: a role's declaration from its owning stack as read ([`StackView`]): the latest
//!   event of the logical id with the role's id that carries properties (the rule the stack
//!   check holds a Delete to, [`stack_check::recorded_for_id`]), or why there is none to use
//!   ([`Skip`]): the stack gone, mid-operation or failed, the resource holding another role, a
//!   record of another function;
//! - [`replan`]: its plan with this release and the function's guardrails, or why this release
//!   refuses it;
//! - [`hand_edits`]: what IAM holds that the function never writes (drift): foreign inline or
//!   attached policies, a changed or removed boundary, trust principals and actions, tags not
//!   declared.
//!
//! All three are pure, decided as tables in the tests below. [`read_stack`] reads a stack as
//! they need it, over any [`Stacks`]. `persona-role drift` reports on them; the function's
//! reconcile run (`handler::reconcile`) converges the roles they plan.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::admission;
use crate::catalog;
use crate::cfn::stack_check::{
    self, Described, Events, ListedResource, Older, StackDetails, Stacks, StacksError,
};
use crate::context::StackContext;
use crate::guardrails::Guardrails;
use crate::iam::RoleState;
use crate::iam::inventory::RoleInventory;
use crate::ownership::{Owner, fold_key, is_reserved_tag_key};
use crate::plan::{self, Plan, naming::INLINE_POLICY_NAME};
use crate::policy;
use crate::properties::ROLE_NAME_PREFIX;

/// Whether a role's name is one this function gives (`sagemaker-…`) or adopts (the console's
/// `SageMaker-…`): IAM compares names ignoring case. Only such roles are read.
pub fn is_candidate_name(name: &str) -> bool {
    name.get(..ROLE_NAME_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(ROLE_NAME_PREFIX))
        && name.len() > ROLE_NAME_PREFIX.len()
}

/// Whether a role without ownership tags is Role Manager's, not yet adopted: a candidate name
/// with one of the console's per-activity policies attached.
pub fn is_role_managers(inventory: &RoleInventory) -> bool {
    Owner::of(&inventory.role.tags).is_none()
        && is_candidate_name(&inventory.role.name)
        && has_console_policy(inventory)
}

/// Whether one of the policies Role Manager's console made is attached to the role.
pub fn has_console_policy(inventory: &RoleInventory) -> bool {
    inventory
        .attached
        .iter()
        .any(|p| !p.is_aws_managed() && catalog::console::find(&p.name).is_some())
}

/// The statuses of a stack at rest: no operation runs and the last one completed. A role of a
/// stack in any other state is left alone.
pub const AT_REST: [&str; 5] = [
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
];

const DELETE_COMPLETE: &str = "DELETE_COMPLETE";

/// Whether CloudFormation is running an operation: `…_IN_PROGRESS`, cleanups and reviews
/// included.
pub fn in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

/// A role's owning stack as read for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackView {
    /// CloudFormation knows no such stack, or shows it deleted.
    Gone,
    /// CloudFormation could not be read (throttled past the retries, access denied).
    Unreadable(String),
    /// Read, with its resources and events unless it was in no state to use them.
    Read(StackRead),
}

/// What was read of a stack: its details, and, when it was at rest, its resources and its
/// events (newest first) as far as its roles needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRead {
    pub details: StackDetails,
    pub resources: Vec<ListedResource>,
    pub events: Events,
}

/// Why a role is not re-planned: reported, never touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Kind", rename_all_fields = "PascalCase")]
pub enum Skip {
    /// Its stack is of another account or region: another deployment's role.
    OtherRegion { stack_id: String },
    /// Its stack no longer exists.
    StackGone,
    /// Its stack could not be read.
    StackUnreadable { message: String },
    /// The stack holds its logical id no longer (removed and retained), or not as a custom
    /// resource.
    NotInStack,
    /// The stack's resource holds another role: this one was left by a replacement.
    Replaced { current: Option<String> },
    /// CloudFormation is running an operation on the stack or the resource.
    InProgress { status: String },
    /// The stack's or the resource's last operation failed or was cancelled: the stack's next
    /// operation decides.
    Unsettled { status: String },
    /// No event of the resource with the role's id carries properties among those read.
    NotRecorded { beyond: bool },
    /// The recorded properties are no JSON.
    UnreadableRecord { status: String, message: String },
    /// The resource is served by another function.
    OtherFunction { service_token: String },
    /// This release refuses the declaration (the properties, the guardrails or IAM's quotas).
    DoesNotPlan { reason: String },
    /// This release plans another name: only the stack's Update can replace the role.
    Renamed { planned: String },
    /// The stack changed between the run's reads: the next run takes the new declaration.
    ChangedDuringRun { status: String },
}

impl Skip {
    /// One line for the report and the log.
    pub fn describe(&self) -> String {
        match self {
            Skip::OtherRegion { stack_id } => {
                format!("its stack `{stack_id}` is of another account or region: another deployment's role")
            }
            Skip::StackGone => "its stack no longer exists: no declaration re-plans it (delete the role, or adopt it into a stack)".to_owned(),
            Skip::StackUnreadable { message } => format!("its stack could not be read: {message}"),
            Skip::NotInStack => "its stack no longer holds its logical id as a custom resource (removed and retained): no declaration re-plans it".to_owned(),
            Skip::Replaced { current } => format!(
                "its stack's resource holds {} now: this role was left by a replacement",
                current.as_deref().map_or_else(|| "no role".to_owned(), |c| format!("`{c}`"))
            ),
            Skip::InProgress { status } => {
                format!("CloudFormation is running an operation ({status}): left alone, run again later")
            }
            Skip::Unsettled { status } => format!(
                "its last stack operation did not complete ({status}): left alone until the stack's next operation"
            ),
            Skip::NotRecorded { beyond } => format!(
                "no event of its resource with its id carries properties{}",
                if *beyond { " among the newest events read" } else { "" }
            ),
            Skip::UnreadableRecord { status, message } => format!(
                "the properties CloudFormation recorded ({status} event) are no JSON: {message}"
            ),
            Skip::OtherFunction { service_token } => {
                format!("its resource is served by `{service_token}`, not by this function")
            }
            Skip::DoesNotPlan { reason } => {
                format!("this release refuses its declaration: {reason}")
            }
            Skip::Renamed { planned } => format!(
                "this release plans it as `{planned}`: only its stack's Update can replace the role"
            ),
            Skip::ChangedDuringRun { status } => format!(
                "its stack changed during the run ({status}): the next run takes its new declaration"
            ),
        }
    }

    /// Whether the role is another deployment's (another region's or another function's): not
    /// this function's to report or touch.
    pub fn is_foreign(&self) -> bool {
        matches!(self, Skip::OtherRegion { .. } | Skip::OtherFunction { .. })
    }
}

/// A role's declaration, recovered from its stack's events.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The resource's properties as CloudFormation sends them: every number and boolean as
    /// its string.
    pub properties: Value,
    /// The status of the event that recorded them (`CREATE_COMPLETE`, `UPDATE_COMPLETE`, …).
    pub event_status: String,
    /// The physical id the stack's resource holds: what an Update of it would name.
    pub physical_id: String,
}

/// The declaration of role `role` owned by `owner`, from its stack as read; `function_arn` (the
/// function's own, when known) refuses other deployments' roles and other functions' records.
pub fn recover(
    role: &str,
    owner: &Owner,
    function_arn: Option<&str>,
    view: &StackView,
) -> Result<Declared, Skip> {
    if function_arn.is_some_and(|arn| admission::foreign_stack(&owner.stack_id, arn).is_some()) {
        return Err(Skip::OtherRegion {
            stack_id: owner.stack_id.clone(),
        });
    }
    let stack = match view {
        StackView::Gone => return Err(Skip::StackGone),
        StackView::Unreadable(message) => {
            return Err(Skip::StackUnreadable {
                message: message.clone(),
            });
        }
        StackView::Read(stack) => stack,
    };
    let status = stack.details.status.as_str();
    if status == DELETE_COMPLETE {
        return Err(Skip::StackGone);
    }
    if in_progress(status) {
        return Err(Skip::InProgress {
            status: status.to_owned(),
        });
    }
    if !AT_REST.contains(&status) {
        return Err(Skip::Unsettled {
            status: status.to_owned(),
        });
    }
    let resource = stack
        .resources
        .iter()
        .find(|r| {
            r.logical_id == owner.logical_id
                && stack_check::is_custom_resource(&r.resource_type)
                && r.status != DELETE_COMPLETE
        })
        .ok_or(Skip::NotInStack)?;
    if in_progress(&resource.status) {
        return Err(Skip::InProgress {
            status: resource.status.clone(),
        });
    }
    if !resource.status.ends_with("_COMPLETE") {
        return Err(Skip::Unsettled {
            status: resource.status.clone(),
        });
    }
    let physical_id = match &resource.physical_id {
        Some(id) if id.eq_ignore_ascii_case(role) => id.clone(),
        current => {
            return Err(Skip::Replaced {
                current: current.clone(),
            });
        }
    };
    let chain = stack_check::recorded_for_id(&stack.events.events, &owner.logical_id, role);
    let Some((event, text)) = chain.first() else {
        return Err(Skip::NotRecorded {
            beyond: stack.events.older != Older::None,
        });
    };
    let properties =
        stack_check::read_properties(text).map_err(|message| Skip::UnreadableRecord {
            status: event.status.clone(),
            message,
        })?;
    if let Some(function) = function_arn {
        let token = properties
            .get("ServiceToken")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !stack_check::same_function(token, function) {
            return Err(Skip::OtherFunction {
                service_token: token.to_owned(),
            });
        }
    }
    Ok(Declared {
        properties,
        event_status: event.status.clone(),
        physical_id,
    })
}

/// The plan this release makes of a recovered declaration, with the function's guardrails; it
/// must name the role it is for (IAM compares names ignoring case).
pub fn replan(
    role: &RoleState,
    owner: &Owner,
    declared: &Declared,
    guardrails: &Guardrails,
) -> Result<Plan, Skip> {
    let refused = |reason: String| Skip::DoesNotPlan { reason };
    let context = StackContext::from_stack_id(&owner.stack_id, &owner.logical_id)
        .map_err(|e| refused(format!("StackId: {e}")))?;
    let plan = plan::plan_guarded(&declared.properties, &context, guardrails)
        .map_err(|e| refused(e.to_string()))?;
    if !plan.role.role_name.eq_ignore_ascii_case(&role.name) {
        return Err(Skip::Renamed {
            planned: plan.role.role_name,
        });
    }
    Ok(plan)
}

/// Something IAM holds on a role that the function never writes: changed by hand.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "Kind", rename_all_fields = "PascalCase")]
pub enum HandEdit {
    /// An inline policy other than the function's own.
    InlinePolicy { name: String },
    /// A managed policy attached that is neither declared nor the role's own.
    AttachedPolicy { arn: String },
    /// The permissions boundary is not the function's (changed, or removed when `actual` is
    /// none).
    Boundary {
        expected: String,
        actual: Option<String>,
    },
    /// The trust policy trusts a principal the function's never names.
    TrustPrincipal { principal: String },
    /// The trust policy allows an action the function's never does, or has a statement of
    /// another effect.
    TrustAction { action: String },
    /// A tag whose key is not declared (and not the function's own).
    Tag { key: String, value: String },
}

impl HandEdit {
    pub fn describe(&self) -> String {
        match self {
            HandEdit::InlinePolicy { name } => {
                format!("inline policy `{name}`, which the function never writes")
            }
            HandEdit::AttachedPolicy { arn } => {
                format!("managed policy `{arn}` attached, neither declared nor the role's own")
            }
            HandEdit::Boundary { expected, actual } => match actual {
                Some(actual) => format!(
                    "permissions boundary `{actual}` instead of the function's `{expected}`"
                ),
                None => format!("no permissions boundary: the function's is `{expected}`"),
            },
            HandEdit::TrustPrincipal { principal } => {
                format!("trust policy trusts `{principal}`")
            }
            HandEdit::TrustAction { action } => format!("trust policy allows `{action}`"),
            HandEdit::Tag { key, value } => format!("tag `{key}={value}` not declared"),
        }
    }
}

/// What `live` holds that the function never writes, judged against this release's `plan` of
/// its declaration. Everything else that differs (statements, descriptions, declared tags'
/// values, own policies) is what a re-plan changes, whoever changed it.
pub fn hand_edits(plan: &Plan, live: &RoleInventory) -> Vec<HandEdit> {
    let mut edits = Vec::new();
    for name in live.inline_policies.keys() {
        if name != INLINE_POLICY_NAME {
            edits.push(HandEdit::InlinePolicy { name: name.clone() });
        }
    }
    let declared = plan.all_attached_arns();
    // AWS managed policies an activity of the catalog attaches: a release may change which.
    let catalogued: BTreeSet<&str> = catalog::ACTIVITIES
        .iter()
        .flat_map(|activity| activity.aws_managed_policies.iter().copied())
        .collect();
    for attached in &live.attached {
        let own = crate::plan::naming::is_own_policy(&live.role.name, &attached.name);
        let from_catalog = attached.is_aws_managed() && catalogued.contains(attached.name.as_str());
        if !declared.contains(&attached.arn) && !own && !from_catalog {
            edits.push(HandEdit::AttachedPolicy {
                arn: attached.arn.clone(),
            });
        }
    }
    if let Some(expected) = &plan.role.permissions_boundary
        && live.role.permissions_boundary.as_ref() != Some(expected)
    {
        edits.push(HandEdit::Boundary {
            expected: expected.clone(),
            actual: live.role.permissions_boundary.clone(),
        });
    }
    let trust = |document: &Value| {
        let mut principals = BTreeSet::new();
        let mut actions = BTreeSet::new();
        for statement in policy::statements(document) {
            principals.extend(policy::principals(statement.principal()));
            principals.extend(
                policy::principals(statement.not_principal())
                    .into_iter()
                    .map(|p| format!("NotPrincipal {p}")),
            );
            let effect = statement.effect();
            let qualify = |action: String| match effect {
                "Allow" => action,
                other => format!("{other} {action}"),
            };
            actions.extend(statement.actions().into_iter().map(qualify));
            actions.extend(
                statement
                    .not_actions()
                    .into_iter()
                    .map(|a| qualify(format!("NotAction {a}"))),
            );
        }
        (principals, actions)
    };
    let (planned_principals, planned_actions) = trust(&plan.role.assume_role_policy_document);
    let (principals, actions) = trust(&live.role.trust);
    edits.extend(principals.difference(&planned_principals).map(|principal| {
        HandEdit::TrustPrincipal {
            principal: principal.clone(),
        }
    }));
    edits.extend(
        actions
            .difference(&planned_actions)
            .map(|action| HandEdit::TrustAction {
                action: action.clone(),
            }),
    );
    let declared_keys: BTreeSet<String> = plan.role.tags.iter().map(|t| fold_key(&t.key)).collect();
    for (key, value) in &live.role.tags {
        if !is_reserved_tag_key(key) && !declared_keys.contains(&fold_key(key)) {
            edits.push(HandEdit::Tag {
                key: key.clone(),
                value: value.clone(),
            });
        }
    }
    edits.sort();
    edits
}

// ------------------------------------------------------------------------------ reading

/// The most pages of a stack's events read for its roles: a role's declaration is the newest
/// event of its resource, however old, but a bound all the same.
pub const MAX_EVENT_PAGES: usize = 50;

/// Reads stack `stack_id` for the roles it owns, `wanted` as (logical id, role name): its
/// details first; when it is at rest, its resources beside its events, page after page until
/// each wanted role's newest event with properties is among them (or [`MAX_EVENT_PAGES`]).
pub async fn read_stack<S: Stacks>(
    stacks: &S,
    stack_id: &str,
    wanted: &[(String, String)],
) -> StackView {
    let unreadable = |e: StacksError| StackView::Unreadable(e.to_string());
    let details = match stacks.stack_details(stack_id).await {
        Ok(Described::Found(details)) => details,
        Ok(Described::Unknown(_)) => return StackView::Gone,
        Err(e) => return unreadable(e),
    };
    if !AT_REST.contains(&details.status.as_str()) {
        return StackView::Read(StackRead {
            details,
            resources: Vec::new(),
            events: Events {
                events: Vec::new(),
                older: Older::None,
            },
        });
    }
    let (resources, events) = tokio::join!(
        stack_check::list_resources(stacks, stack_id),
        read_events(stacks, stack_id, wanted)
    );
    match (resources, events) {
        (Ok(resources), Ok(Some(events))) => StackView::Read(StackRead {
            details,
            resources,
            events,
        }),
        // Deleted between the reads.
        (_, Ok(None)) => StackView::Gone,
        (Err(e), _) | (_, Err(e)) => unreadable(e),
    }
}

/// The owning stacks of `owned` roles (owner, role name), each read once for all its roles,
/// `at_once` at a time. With `until`, a stack not read by then is left out: its roles' reader
/// says they were not reached.
pub async fn read_stacks<'a, S: Stacks>(
    stacks: &S,
    owned: impl IntoIterator<Item = (&'a Owner, &'a str)>,
    at_once: usize,
    until: Option<Instant>,
) -> BTreeMap<String, StackView> {
    let mut wanted: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for (owner, role) in owned {
        wanted
            .entry(owner.stack_id.as_str())
            .or_default()
            .push((owner.logical_id.clone(), role.to_owned()));
    }
    futures_util::stream::iter(wanted.into_iter().map(|(stack_id, roles)| async move {
        let read = read_stack(stacks, stack_id, &roles);
        let view = match until {
            None => Some(read.await),
            Some(until) if Instant::now() >= until => None,
            Some(until) => tokio::time::timeout_at(until.into(), read).await.ok(),
        };
        view.map(|view| (stack_id.to_owned(), view))
    }))
    .buffered(at_once.max(1))
    .filter_map(std::future::ready)
    .collect()
    .await
}

/// The stack's events, newest first, until every wanted role's newest event with properties is
/// read; none when CloudFormation knows no such stack.
async fn read_events<S: Stacks>(
    stacks: &S,
    stack_id: &str,
    wanted: &[(String, String)],
) -> Result<Option<Events>, StacksError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    for page in 0..MAX_EVENT_PAGES {
        let read = match stacks.stack_events(stack_id, token.as_deref()).await? {
            Described::Found(read) => read,
            Described::Unknown(_) => return Ok(None),
        };
        events.extend(read.events);
        let found_all = wanted.iter().all(|(logical, role)| {
            !stack_check::recorded_for_id(&events, logical, role).is_empty()
        });
        let older = match (&read.next_token, page + 1 < MAX_EVENT_PAGES) {
            (None, _) => Older::None,
            (Some(_), true) => Older::Unread,
            (Some(_), false) => Older::Beyond,
        };
        if found_all || older != Older::Unread {
            return Ok(Some(Events { events, older }));
        }
        token = read.next_token;
    }
    Ok(Some(Events {
        events,
        older: Older::Beyond,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::cfn::stack_check::StackEvent;
    use crate::iam::inventory::AttachedPolicy;
    use serde_json::json;
    use std::collections::BTreeMap;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml-team/0a1b";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:persona-role-fn";
    const ROLE: &str = "sagemaker-ds";
    const TYPE: &str = "Custom::SageMakerPersonaRole";

    fn owner() -> Owner {
        Owner::new(STACK, "Ds")
    }

    fn properties(token: &str) -> Value {
        json!({"ServiceToken": token, "Persona": "DataScientist", "RoleNameSuffix": "ds",
               "MaxSessionDuration": 7200, "S3Buckets": ["ml-data"],
               "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"]})
    }

    fn event(status: &str, id: Option<&str>, properties: Option<&Value>) -> StackEvent {
        StackEvent {
            logical_id: "Ds".to_owned(),
            physical_id: id.map(str::to_owned),
            status: status.to_owned(),
            properties: properties.map(Value::to_string),
        }
    }

    fn stack(
        status: &str,
        resource: Option<(&str, Option<&str>)>,
        events: Vec<StackEvent>,
    ) -> StackView {
        StackView::Read(StackRead {
            details: StackDetails {
                stack_id: STACK.to_owned(),
                status: status.to_owned(),
                ..StackDetails::default()
            },
            resources: resource
                .into_iter()
                .map(|(status, id)| ListedResource {
                    logical_id: "Ds".to_owned(),
                    physical_id: id.map(str::to_owned),
                    resource_type: TYPE.to_owned(),
                    status: status.to_owned(),
                })
                .collect(),
            events: Events {
                events,
                older: Older::None,
            },
        })
    }

    /// (what, the stack as read, the function, the declaration or the skip)
    type RecoveryRow<'a> = (&'a str, StackView, Option<&'a str>, Result<&'a Value, Skip>);

    #[test]
    fn a_roles_declaration_is_its_latest_event_with_its_id_and_properties() {
        let mine = properties(FUNCTION);
        let older = json!({"ServiceToken": FUNCTION, "Persona": "MLOps", "RoleNameSuffix": "ds"});
        let created = || {
            vec![
                event("CREATE_COMPLETE", Some(ROLE), Some(&mine)),
                event("CREATE_IN_PROGRESS", None, Some(&mine)),
            ]
        };
        let updated = vec![
            event("UPDATE_COMPLETE", Some(ROLE), Some(&mine)),
            event("UPDATE_IN_PROGRESS", Some(ROLE), Some(&mine)),
            event("CREATE_COMPLETE", Some(ROLE), Some(&older)),
            event("CREATE_IN_PROGRESS", None, Some(&older)),
        ];
        // A rollback's Update returned the old declaration: its events are the newest.
        let rolled_back = vec![
            event("UPDATE_COMPLETE", Some(ROLE), Some(&older)),
            event("UPDATE_IN_PROGRESS", Some(ROLE), Some(&older)),
            event("UPDATE_FAILED", Some(ROLE), Some(&mine)),
            event("UPDATE_IN_PROGRESS", Some(ROLE), Some(&mine)),
            event("CREATE_COMPLETE", Some(ROLE), Some(&older)),
        ];
        let other_role = vec![event(
            "CREATE_COMPLETE",
            Some("sagemaker-other"),
            Some(&mine),
        )];
        let no_properties = vec![event("CREATE_COMPLETE", Some(ROLE), None)];
        let at_rest = |events| {
            stack(
                "UPDATE_COMPLETE",
                Some(("UPDATE_COMPLETE", Some(ROLE))),
                events,
            )
        };
        let rows: Vec<RecoveryRow> = vec![
            ("created", at_rest(created()), Some(FUNCTION), Ok(&mine)),
            (
                "updated in place",
                at_rest(updated),
                Some(FUNCTION),
                Ok(&mine),
            ),
            (
                "rolled back",
                at_rest(rolled_back),
                Some(FUNCTION),
                Ok(&older),
            ),
            (
                "function unknown (offline)",
                at_rest(created()),
                None,
                Ok(&mine),
            ),
            (
                "role id in another case (adopted)",
                stack(
                    "UPDATE_COMPLETE",
                    Some(("UPDATE_COMPLETE", Some("SageMaker-ds"))),
                    created(),
                ),
                Some(FUNCTION),
                Ok(&mine),
            ),
            (
                "stack gone",
                StackView::Gone,
                Some(FUNCTION),
                Err(Skip::StackGone),
            ),
            (
                "stack deleted",
                stack("DELETE_COMPLETE", None, created()),
                Some(FUNCTION),
                Err(Skip::StackGone),
            ),
            (
                "stack unreadable",
                StackView::Unreadable("AccessDenied".to_owned()),
                Some(FUNCTION),
                Err(Skip::StackUnreadable {
                    message: "AccessDenied".to_owned(),
                }),
            ),
            (
                "stack updating",
                stack(
                    "UPDATE_IN_PROGRESS",
                    Some(("UPDATE_COMPLETE", Some(ROLE))),
                    created(),
                ),
                Some(FUNCTION),
                Err(Skip::InProgress {
                    status: "UPDATE_IN_PROGRESS".to_owned(),
                }),
            ),
            (
                "stack cleaning up",
                stack(
                    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                    Some(("UPDATE_COMPLETE", Some(ROLE))),
                    created(),
                ),
                Some(FUNCTION),
                Err(Skip::InProgress {
                    status: "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS".to_owned(),
                }),
            ),
            (
                "stack's rollback failed",
                stack(
                    "UPDATE_ROLLBACK_FAILED",
                    Some(("UPDATE_FAILED", Some(ROLE))),
                    created(),
                ),
                Some(FUNCTION),
                Err(Skip::Unsettled {
                    status: "UPDATE_ROLLBACK_FAILED".to_owned(),
                }),
            ),
            (
                "resource failed, stack at rest",
                stack(
                    "UPDATE_ROLLBACK_COMPLETE",
                    Some(("UPDATE_FAILED", Some(ROLE))),
                    created(),
                ),
                Some(FUNCTION),
                Err(Skip::Unsettled {
                    status: "UPDATE_FAILED".to_owned(),
                }),
            ),
            (
                "logical id removed (retained)",
                stack("UPDATE_COMPLETE", None, created()),
                Some(FUNCTION),
                Err(Skip::NotInStack),
            ),
            (
                "replaced: the resource holds another role",
                stack(
                    "UPDATE_COMPLETE",
                    Some(("UPDATE_COMPLETE", Some("sagemaker-new"))),
                    created(),
                ),
                Some(FUNCTION),
                Err(Skip::Replaced {
                    current: Some("sagemaker-new".to_owned()),
                }),
            ),
            (
                "no event with the role's id",
                at_rest(other_role),
                Some(FUNCTION),
                Err(Skip::NotRecorded { beyond: false }),
            ),
            (
                "events without properties",
                at_rest(no_properties),
                Some(FUNCTION),
                Err(Skip::NotRecorded { beyond: false }),
            ),
            (
                "another function's resource",
                at_rest(vec![event(
                    "CREATE_COMPLETE",
                    Some(ROLE),
                    Some(&properties(
                        "arn:aws:lambda:us-east-1:123456789012:function:other",
                    )),
                )]),
                Some(FUNCTION),
                Err(Skip::OtherFunction {
                    service_token: "arn:aws:lambda:us-east-1:123456789012:function:other"
                        .to_owned(),
                }),
            ),
            (
                "a stack of another region",
                at_rest(created()),
                Some("arn:aws:lambda:eu-west-1:123456789012:function:persona-role-fn"),
                Err(Skip::OtherRegion {
                    stack_id: STACK.to_owned(),
                }),
            ),
        ];
        for (what, view, function, expected) in rows {
            let got = recover(ROLE, &owner(), function, &view);
            match expected {
                Ok(properties) => {
                    let declared = got.unwrap_or_else(|e| panic!("{what}: {e:?}"));
                    assert_eq!(
                        declared.properties,
                        stack_check::normalized(properties),
                        "{what}"
                    );
                }
                Err(skip) => assert_eq!(got, Err(skip), "{what}"),
            }
        }
    }

    #[test]
    fn unreadable_records_and_unread_events_are_said() {
        let bad = StackEvent {
            properties: Some("{not json".to_owned()),
            ..event("CREATE_COMPLETE", Some(ROLE), None)
        };
        let view = stack(
            "CREATE_COMPLETE",
            Some(("CREATE_COMPLETE", Some(ROLE))),
            vec![bad],
        );
        assert!(matches!(
            recover(ROLE, &owner(), None, &view),
            Err(Skip::UnreadableRecord { .. })
        ));
        let StackView::Read(mut read) = stack(
            "CREATE_COMPLETE",
            Some(("CREATE_COMPLETE", Some(ROLE))),
            Vec::new(),
        ) else {
            unreachable!()
        };
        read.events.older = Older::Beyond;
        assert_eq!(
            recover(ROLE, &owner(), None, &StackView::Read(read)),
            Err(Skip::NotRecorded { beyond: true })
        );
    }

    fn declared(properties: Value) -> Declared {
        Declared {
            properties: stack_check::normalized(&properties),
            event_status: "CREATE_COMPLETE".to_owned(),
            physical_id: ROLE.to_owned(),
        }
    }

    fn role(name: &str) -> RoleState {
        RoleState::sample(name, "/")
    }

    /// (what, declaration, guardrails, role name, planned or the skip's kind)
    type ReplanRow<'a> = (&'a str, Value, Guardrails, &'a str, Result<(), &'a str>);

    #[test]
    fn a_declaration_replans_with_this_release_and_the_guardrails() {
        let boundary = "arn:aws:iam::123456789012:policy/persona-boundary";
        let guarded = Guardrails::from_values(Some(boundary), Some(""));
        let rows: Vec<ReplanRow> = vec![
            ("plans", properties(FUNCTION), guarded.clone(), ROLE, Ok(())),
            (
                "adopted spelling",
                properties(FUNCTION),
                guarded.clone(),
                "SageMaker-ds",
                Ok(()),
            ),
            (
                "refused by the guardrails",
                json!({"Persona": "Custom", "Activities": ["S3 Bucket Access"], "S3Buckets": ["b"],
                       "RoleNameSuffix": "ds",
                       "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
                guarded.clone(),
                ROLE,
                Err("DoesNotPlan"),
            ),
            (
                "no longer valid",
                json!({"Persona": "Custom", "RoleNameSuffix": "ds", "Activities": ["Retired Activity"]}),
                guarded.clone(),
                ROLE,
                Err("DoesNotPlan"),
            ),
            (
                "planned under another name",
                properties(FUNCTION),
                guarded.clone(),
                "sagemaker-ds-old",
                Err("Renamed"),
            ),
        ];
        for (what, properties, guardrails, name, expected) in rows {
            let got = replan(&role(name), &owner(), &declared(properties), &guardrails);
            match (expected, got) {
                (Ok(()), Ok(plan)) => {
                    assert_eq!(
                        plan.role.permissions_boundary.as_deref(),
                        Some(boundary),
                        "{what}"
                    );
                }
                (Err(kind), Err(skip)) => {
                    let json = serde_json::to_value(&skip).unwrap();
                    assert_eq!(json["Kind"], kind, "{what}: {skip:?}");
                }
                (expected, got) => panic!("{what}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    fn planned() -> Plan {
        let guardrails = Guardrails::from_values(Some("arn:aws:iam::123456789012:policy/b"), None);
        let mut props = properties(FUNCTION);
        props["Tags"] = json!([{"Key": "team", "Value": "ml"}]);
        props["AddActivities"] = json!(["Canvas AI Services"]);
        replan(&role(ROLE), &owner(), &declared(props), &guardrails).unwrap()
    }

    /// The role exactly as planned, as IAM would hold it.
    fn as_planned(plan: &Plan) -> RoleInventory {
        let mut tags: BTreeMap<String, String> = plan
            .role
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        tags.insert("persona-role:stack-id".to_owned(), STACK.to_owned());
        RoleInventory {
            role: RoleState {
                trust: plan.role.assume_role_policy_document.clone(),
                permissions_boundary: plan.role.permissions_boundary.clone(),
                tags,
                ..role(ROLE)
            },
            inline_policies: plan
                .inline_policies
                .iter()
                .map(|p| (p.policy_name.clone(), p.policy_document.clone()))
                .collect(),
            attached: plan
                .all_attached_arns()
                .into_iter()
                .map(|arn| {
                    let (name, path) = crate::iam::inventory::policy_name_and_path(&arn);
                    AttachedPolicy {
                        arn,
                        name,
                        path,
                        document: None,
                        tags: BTreeMap::new(),
                    }
                })
                .collect(),
        }
    }

    /// (what, the edit made to the role as planned, the hand edits reported)
    #[test]
    fn hand_edits_are_what_the_function_never_writes() {
        let plan = planned();
        type Edit = fn(&mut RoleInventory);
        let rows: Vec<(&str, Edit, Vec<HandEdit>)> = vec![
            ("as planned", |_| {}, vec![]),
            (
                "a foreign inline policy",
                |r| {
                    r.inline_policies.insert("admin".to_owned(), json!({}));
                },
                vec![HandEdit::InlinePolicy {
                    name: "admin".to_owned(),
                }],
            ),
            (
                "the function's inline policy edited: a change, not a hand edit",
                |r| {
                    r.inline_policies
                        .insert(INLINE_POLICY_NAME.to_owned(), json!({"Statement": []}));
                },
                vec![],
            ),
            (
                "a foreign attached policy",
                |r| {
                    r.attached.push(AttachedPolicy {
                        arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned(),
                        name: "AdministratorAccess".to_owned(),
                        path: "/".to_owned(),
                        document: None,
                        tags: BTreeMap::new(),
                    });
                },
                vec![HandEdit::AttachedPolicy {
                    arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned(),
                }],
            ),
            (
                "an own policy no longer planned, a catalog policy no longer attached: changes",
                |r| {
                    r.attached.push(AttachedPolicy {
                        arn: "arn:aws:iam::123456789012:policy/sagemaker-ds-3".to_owned(),
                        name: "sagemaker-ds-3".to_owned(),
                        path: "/".to_owned(),
                        document: Some(json!({})),
                        tags: BTreeMap::new(),
                    });
                    r.attached.push(AttachedPolicy {
                        arn: "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess".to_owned(),
                        name: "AmazonSageMakerCanvasFullAccess".to_owned(),
                        path: "/".to_owned(),
                        document: None,
                        tags: BTreeMap::new(),
                    });
                },
                vec![],
            ),
            (
                "the boundary removed",
                |r| r.role.permissions_boundary = None,
                vec![HandEdit::Boundary {
                    expected: "arn:aws:iam::123456789012:policy/b".to_owned(),
                    actual: None,
                }],
            ),
            (
                "the boundary changed",
                |r| {
                    r.role.permissions_boundary =
                        Some("arn:aws:iam::123456789012:policy/wide".to_owned())
                },
                vec![HandEdit::Boundary {
                    expected: "arn:aws:iam::123456789012:policy/b".to_owned(),
                    actual: Some("arn:aws:iam::123456789012:policy/wide".to_owned()),
                }],
            ),
            (
                "another principal trusted, and TagSession",
                |r| {
                    r.role.trust["Statement"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"]}));
                },
                vec![
                    HandEdit::TrustPrincipal {
                        principal: "AWS:arn:aws:iam::111122223333:root".to_owned(),
                    },
                    HandEdit::TrustAction {
                        action: "sts:TagSession".to_owned(),
                    },
                ],
            ),
            (
                "the trust's condition removed: a change, not a hand edit",
                |r| {
                    r.role.trust["Statement"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("Condition");
                },
                vec![],
            ),
            (
                "an undeclared tag, a declared tag's value, the ownership tags",
                |r| {
                    r.role
                        .tags
                        .insert("cost-center".to_owned(), "42".to_owned());
                    r.role.tags.insert("team".to_owned(), "other".to_owned());
                    r.role
                        .tags
                        .insert("Persona-Role:Logical-Id".to_owned(), "Ds".to_owned());
                },
                vec![HandEdit::Tag {
                    key: "cost-center".to_owned(),
                    value: "42".to_owned(),
                }],
            ),
        ];
        for (what, edit, expected) in rows {
            let mut live = as_planned(&plan);
            edit(&mut live);
            assert_eq!(hand_edits(&plan, &live), expected, "{what}");
        }
    }

    #[test]
    fn candidate_names_are_the_functions_and_the_consoles() {
        for (name, candidate) in [
            ("sagemaker-ds", true),
            ("SageMaker-TheDataScientist", true),
            ("SAGEMAKER-x", true),
            ("sagemaker-", false),
            ("AmazonSageMaker-ExecutionRole-1", false),
            ("ml-admin", false),
        ] {
            assert_eq!(is_candidate_name(name), candidate, "{name}");
        }
    }
}
