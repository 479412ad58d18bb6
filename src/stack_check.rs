//! Whether CloudFormation really sent an event. Anyone who may invoke the function can send it
//! any event, so before any IAM call the event is held against what CloudFormation says of its
//! stack: the named stack must hold the logical id as a custom resource, in the state the
//! request type implies, with the physical id the request names. [`decide`] is that rule, pure:
//! (request, what CloudFormation answered) → [`Verdict`]; [`verify`] asks CloudFormation over
//! any [`Stacks`] and re-reads a mismatch a few times, as CloudFormation's reads are eventually
//! consistent.
//!
//! What CloudFormation cannot tell: which function a custom resource's `ServiceToken` names (it
//! does not show a resource's resolved properties), and whether an event with the right names,
//! state and id was sent by CloudFormation or by someone racing its real event.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use thiserror::Error;

use crate::cfn::{Request, RequestType};
use crate::iam::Op;

/// A stack resource as DescribeStackResource shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    /// The stack's id (its ARN) as CloudFormation spells it.
    pub stack_id: String,
    pub resource_type: String,
    /// `CREATE_IN_PROGRESS`, `UPDATE_COMPLETE`, …
    pub status: String,
    /// None until the resource's Create answered.
    pub physical_id: Option<String>,
}

/// What CloudFormation said of something it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described<T> {
    Found(T),
    /// CloudFormation knows no such stack or resource (a ValidationError), with its message.
    Unknown(String),
}

/// What CloudFormation answered so far about an event's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// DescribeStackResource of the event's StackId and LogicalResourceId.
    pub resource: Described<StackResource>,
    /// DescribeStacks of the event's StackId: the stack's status, when [`decide`] asked for it.
    pub stack_status: Option<Described<String>>,
}

/// The event field a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    StackId,
    LogicalResourceId,
    PhysicalResourceId,
    RequestType,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::StackId => "StackId",
            Field::LogicalResourceId => "LogicalResourceId",
            Field::PhysicalResourceId => "PhysicalResourceId",
            Field::RequestType => "RequestType",
        })
    }
}

/// Why an event is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: Field,
    pub reason: String,
    /// Whether a later read could change the answer (a state or id CloudFormation may not show
    /// yet); a settled refusal is not read again.
    pub settled: bool,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}; CloudFormation is not waiting for this event, so nothing was changed",
            self.field, self.reason
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// The stack's status decides: ask DescribeStacks, then decide again.
    AskStackStatus,
    Refuse(Refusal),
}

/// Resource status of a custom resource while CloudFormation waits for its Create, Update,
/// Delete.
const CREATE_IN_PROGRESS: &str = "CREATE_IN_PROGRESS";
const CREATE_FAILED: &str = "CREATE_FAILED";
const UPDATE_IN_PROGRESS: &str = "UPDATE_IN_PROGRESS";
const DELETE_IN_PROGRESS: &str = "DELETE_IN_PROGRESS";

/// Stack statuses in which CloudFormation deletes the resources an update replaced (the old
/// ones), or, after a failed update, those it made (the new ones): the Delete names a physical
/// id the resource no longer has.
const CLEANUP: [&str; 2] = [
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
];

/// Stack statuses in which CloudFormation deletes a resource whose Create was still running or
/// failed without an id (another resource failed first): the Delete carries an id CloudFormation
/// made up, and the resource shows none.
const UNDOING_CREATES: [&str; 3] = [
    "ROLLBACK_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
    "UPDATE_ROLLBACK_IN_PROGRESS",
];

/// Whether a resource type is a custom resource (`Custom::…` or the generic one).
pub fn is_custom_resource(resource_type: &str) -> bool {
    resource_type.starts_with("Custom::") || resource_type == "AWS::CloudFormation::CustomResource"
}

/// The rule: accept an event only when CloudFormation shows the stack doing what the event says.
pub fn decide(request: &Request, seen: &Seen) -> Verdict {
    let stack = request.stack_id.as_str();
    let logical = request.logical_resource_id.as_str();
    let resource = match (&seen.resource, &seen.stack_status) {
        (Described::Found(resource), _) => resource,
        (Described::Unknown(_), None) => return Verdict::AskStackStatus,
        (Described::Unknown(message), Some(Described::Unknown(_))) => {
            return refuse(
                Field::StackId,
                format!("CloudFormation knows no stack `{stack}` ({message})"),
                true,
            );
        }
        (Described::Unknown(message), Some(Described::Found(status))) => {
            return refuse(
                Field::LogicalResourceId,
                format!("stack `{stack}` ({status}) has no resource `{logical}` ({message})"),
                false,
            );
        }
    };
    if resource.stack_id != stack {
        return refuse(
            Field::StackId,
            format!(
                "`{stack}` is not the stack's id; CloudFormation's is `{}`",
                resource.stack_id
            ),
            true,
        );
    }
    if !is_custom_resource(&resource.resource_type) {
        return refuse(
            Field::LogicalResourceId,
            format!(
                "resource `{logical}` of stack `{stack}` is a `{}`, not a custom resource",
                resource.resource_type
            ),
            true,
        );
    }
    let status = resource.status.as_str();
    let held = resource.physical_id.as_deref().filter(|id| !id.is_empty());
    let named = request.physical_resource_id.as_deref();
    let not_doing = |doing: &str| {
        refuse(
            Field::RequestType,
            format!(
                "CloudFormation is not {doing} resource `{logical}` of stack `{stack}`: it is {status}"
            ),
            false,
        )
    };
    let other_id = |held: Option<&str>| {
        refuse(
            Field::PhysicalResourceId,
            format!(
                "`{}` is not the id CloudFormation holds for resource `{logical}` of stack `{stack}` (`{}`, {status})",
                named.unwrap_or_default(),
                held.unwrap_or("none")
            ),
            false,
        )
    };
    match request.request_type {
        RequestType::Create => match (status, held) {
            (CREATE_IN_PROGRESS, None) => Verdict::Accept,
            (CREATE_IN_PROGRESS, Some(id)) => refuse(
                Field::PhysicalResourceId,
                format!(
                    "resource `{logical}` of stack `{stack}` already has the id `{id}`: its Create was answered"
                ),
                true,
            ),
            _ => not_doing("creating"),
        },
        RequestType::Update => match status {
            UPDATE_IN_PROGRESS if held == named => Verdict::Accept,
            UPDATE_IN_PROGRESS => other_id(held),
            _ => not_doing("updating"),
        },
        RequestType::Delete => {
            if status == DELETE_IN_PROGRESS && (held.is_none() || held == named) {
                return Verdict::Accept;
            }
            let stack_status = match &seen.stack_status {
                None => return Verdict::AskStackStatus,
                Some(Described::Unknown(message)) => {
                    return refuse(
                        Field::StackId,
                        format!("CloudFormation knows no stack `{stack}` ({message})"),
                        true,
                    );
                }
                Some(Described::Found(stack_status)) => stack_status.as_str(),
            };
            let cleanup = CLEANUP.contains(&stack_status) && held != named;
            let undoing = UNDOING_CREATES.contains(&stack_status)
                && held.is_none()
                && [CREATE_IN_PROGRESS, CREATE_FAILED].contains(&status);
            if cleanup || undoing {
                Verdict::Accept
            } else if status == DELETE_IN_PROGRESS {
                other_id(held)
            } else {
                refuse(
                    Field::RequestType,
                    format!(
                        "CloudFormation is not deleting resource `{logical}` of stack `{stack}`: it is {status} (`{}`) and the stack {stack_status}",
                        held.unwrap_or("no id")
                    ),
                    false,
                )
            }
        }
    }
}

fn refuse(field: Field, reason: String, settled: bool) -> Verdict {
    Verdict::Refuse(Refusal {
        field,
        reason,
        settled,
    })
}

// ------------------------------------------------------------------ asking CloudFormation

/// The CloudFormation reads the check needs. Both are retried by the client on throttling and
/// network errors; an error here is one that outlasted the retries.
pub trait Stacks: Send + Sync {
    /// DescribeStackResource: the stack's resource of that logical id.
    fn stack_resource(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> impl Future<Output = Result<Described<StackResource>, StacksError>> + Send;
    /// DescribeStacks: the stack's status.
    fn stack_status(
        &self,
        stack_id: &str,
    ) -> impl Future<Output = Result<Described<String>, StacksError>> + Send;
}

/// CloudFormation did not answer, or refused for another reason than an unknown stack or resource.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("CloudFormation {operation} of `{target}` failed: {message}")]
pub struct StacksError {
    pub operation: Op,
    pub target: String,
    pub message: String,
}

/// Why an event was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Unverified {
    #[error("{0}")]
    Refused(Refusal),
    #[error("{0}; nothing was changed, retry the stack operation")]
    Unavailable(StacksError),
}

/// Pauses before each re-read of a state that does not match yet.
pub const REREADS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Asks CloudFormation and decides; a mismatch that a later read could change is read again
/// after each of `pauses`.
pub async fn verify<S: Stacks>(
    stacks: &S,
    request: &Request,
    pauses: &[Duration],
) -> Result<(), Unverified> {
    let mut pauses = pauses.iter();
    loop {
        let refusal = match read_and_decide(stacks, request).await? {
            Verdict::Accept => return Ok(()),
            Verdict::Refuse(refusal) => refusal,
            Verdict::AskStackStatus => {
                return Err(Unverified::Refused(Refusal {
                    field: Field::StackId,
                    reason: "internal error: the stack's status was read but not decided on"
                        .to_owned(),
                    settled: true,
                }));
            }
        };
        match pauses.next() {
            Some(pause) if !refusal.settled => {
                tracing::info!(reason = %refusal, "CloudFormation does not show the event's state yet: reading again");
                tokio::time::sleep(*pause).await;
            }
            _ => return Err(Unverified::Refused(refusal)),
        }
    }
}

/// One read of the resource (and, when the rule needs it, of the stack), decided.
async fn read_and_decide<S: Stacks>(stacks: &S, request: &Request) -> Result<Verdict, Unverified> {
    let resource = stacks
        .stack_resource(&request.stack_id, &request.logical_resource_id)
        .await
        .map_err(Unverified::Unavailable)?;
    let mut seen = Seen {
        resource,
        stack_status: None,
    };
    let verdict = decide(request, &seen);
    if verdict != Verdict::AskStackStatus {
        return Ok(verdict);
    }
    seen.stack_status = Some(
        stacks
            .stack_status(&request.stack_id)
            .await
            .map_err(Unverified::Unavailable)?,
    );
    Ok(decide(request, &seen))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/11111111-2222-3333-4444-555555555555";
    const OTHER: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/66666666-2222-3333-4444-555555555555";
    const TYPE: &str = "Custom::SageMakerPersonaRole";

    fn request(kind: RequestType, physical_id: Option<&str>) -> Request {
        Request {
            request_type: kind,
            request_id: "r".to_owned(),
            response_url: "https://example.com/".to_owned(),
            stack_id: STACK.to_owned(),
            logical_resource_id: "Role".to_owned(),
            physical_resource_id: physical_id.map(str::to_owned),
            properties: json!({}),
            old_properties: None,
            service_timeout: None,
        }
    }

    fn resource(resource_type: &str, status: &str, id: Option<&str>) -> Described<StackResource> {
        Described::Found(StackResource {
            stack_id: STACK.to_owned(),
            resource_type: resource_type.to_owned(),
            status: status.to_owned(),
            physical_id: id.map(str::to_owned),
        })
    }

    fn unknown<T>() -> Described<T> {
        Described::Unknown("Stack with id x does not exist".to_owned())
    }

    fn stack(status: &str) -> Option<Described<String>> {
        Some(Described::Found(status.to_owned()))
    }

    /// Accept, ask, or the field refused and whether that is settled.
    fn outcome(verdict: Verdict) -> String {
        match verdict {
            Verdict::Accept => "accept".to_owned(),
            Verdict::AskStackStatus => "ask".to_owned(),
            Verdict::Refuse(r) => format!("{}{}", r.field, if r.settled { "" } else { "?" }),
        }
    }

    /// What a case is, the request (type, physical id), what CloudFormation shows (the resource,
    /// the stack's status if asked) and the outcome.
    type Case = (
        &'static str,
        RequestType,
        Option<&'static str>,
        Described<StackResource>,
        Option<Described<String>>,
        &'static str,
    );

    #[test]
    fn only_the_state_cloudformation_shows_for_the_request_is_accepted() {
        use RequestType::{Create, Delete, Update};

        let cases: Vec<Case> = vec![
            // Create: the resource is being created and has no id yet.
            (
                "create",
                Create,
                None,
                resource(TYPE, "CREATE_IN_PROGRESS", None),
                None,
                "accept",
            ),
            (
                "create, generic type",
                Create,
                None,
                resource(
                    "AWS::CloudFormation::CustomResource",
                    "CREATE_IN_PROGRESS",
                    None,
                ),
                None,
                "accept",
            ),
            (
                "create answered already",
                Create,
                None,
                resource(TYPE, "CREATE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "PhysicalResourceId",
            ),
            (
                "create of a created resource",
                Create,
                None,
                resource(TYPE, "CREATE_COMPLETE", Some("sagemaker-x")),
                None,
                "RequestType?",
            ),
            (
                "create of a resource being updated",
                Create,
                None,
                resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "RequestType?",
            ),
            (
                "create, not a custom resource",
                Create,
                None,
                resource("AWS::IAM::Role", "CREATE_IN_PROGRESS", None),
                None,
                "LogicalResourceId",
            ),
            (
                "create, no such stack: ask",
                Create,
                None,
                unknown(),
                None,
                "ask",
            ),
            (
                "create, no such stack",
                Create,
                None,
                unknown(),
                Some(unknown()),
                "StackId",
            ),
            (
                "create, no such resource",
                Create,
                None,
                unknown(),
                stack("CREATE_IN_PROGRESS"),
                "LogicalResourceId?",
            ),
            // Update: in place, replacement, rollback of a failed update (all UPDATE_IN_PROGRESS
            // with the id the event names).
            (
                "update",
                Update,
                Some("sagemaker-x"),
                resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "accept",
            ),
            (
                "update, other id",
                Update,
                Some("sagemaker-y"),
                resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "PhysicalResourceId?",
            ),
            (
                "update of a resource at rest",
                Update,
                Some("sagemaker-x"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x")),
                None,
                "RequestType?",
            ),
            (
                "update of a resource at rest after create",
                Update,
                Some("sagemaker-x"),
                resource(TYPE, "CREATE_COMPLETE", Some("sagemaker-x")),
                None,
                "RequestType?",
            ),
            (
                "update of a resource being deleted",
                Update,
                Some("sagemaker-x"),
                resource(TYPE, "DELETE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "RequestType?",
            ),
            (
                "update, not a custom resource",
                Update,
                Some("sagemaker-x"),
                resource("AWS::IAM::Role", "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "LogicalResourceId",
            ),
            // Delete: stack deletion, rollback of a failed Create (placeholder or made-up id).
            (
                "delete",
                Delete,
                Some("sagemaker-x"),
                resource(TYPE, "DELETE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "accept",
            ),
            (
                "delete of a placeholder",
                Delete,
                Some("persona-role:failed:r"),
                resource(TYPE, "DELETE_IN_PROGRESS", Some("persona-role:failed:r")),
                None,
                "accept",
            ),
            (
                "delete, no id held",
                Delete,
                Some("ml-Role-1ABC"),
                resource(TYPE, "DELETE_IN_PROGRESS", None),
                None,
                "accept",
            ),
            (
                "delete, other id: ask",
                Delete,
                Some("sagemaker-y"),
                resource(TYPE, "DELETE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "ask",
            ),
            (
                "delete, other id",
                Delete,
                Some("sagemaker-y"),
                resource(TYPE, "DELETE_IN_PROGRESS", Some("sagemaker-x")),
                stack("DELETE_IN_PROGRESS"),
                "PhysicalResourceId?",
            ),
            // Delete of the replaced role after an update, or of the new one after a rollback.
            (
                "cleanup",
                Delete,
                Some("sagemaker-old"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-new")),
                stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
                "accept",
            ),
            (
                "rollback cleanup",
                Delete,
                Some("sagemaker-new"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-old")),
                stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"),
                "accept",
            ),
            (
                "cleanup of the current role",
                Delete,
                Some("sagemaker-new"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-new")),
                stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
                "RequestType?",
            ),
            (
                "delete of a role at rest",
                Delete,
                Some("sagemaker-x"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x")),
                stack("UPDATE_COMPLETE"),
                "RequestType?",
            ),
            (
                "delete of an old role outside cleanup",
                Delete,
                Some("sagemaker-old"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-new")),
                stack("UPDATE_COMPLETE"),
                "RequestType?",
            ),
            // A Create still running (or failed without an id) when another resource failed.
            (
                "delete of a running create",
                Delete,
                Some("ml-Role-1ABC"),
                resource(TYPE, "CREATE_IN_PROGRESS", None),
                stack("ROLLBACK_IN_PROGRESS"),
                "accept",
            ),
            (
                "delete of a failed create",
                Delete,
                Some("ml-Role-1ABC"),
                resource(TYPE, "CREATE_FAILED", None),
                stack("UPDATE_ROLLBACK_IN_PROGRESS"),
                "accept",
            ),
            (
                "delete of a running create, stack at rest",
                Delete,
                Some("ml-Role-1ABC"),
                resource(TYPE, "CREATE_IN_PROGRESS", None),
                stack("CREATE_IN_PROGRESS"),
                "RequestType?",
            ),
            (
                "delete of a created resource in rollback",
                Delete,
                Some("sagemaker-y"),
                resource(TYPE, "CREATE_COMPLETE", Some("sagemaker-x")),
                stack("ROLLBACK_IN_PROGRESS"),
                "RequestType?",
            ),
            (
                "delete, not a custom resource",
                Delete,
                Some("sagemaker-x"),
                resource("AWS::IAM::Role", "DELETE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "LogicalResourceId",
            ),
            (
                "delete, no such stack",
                Delete,
                Some("sagemaker-x"),
                unknown(),
                Some(unknown()),
                "StackId",
            ),
        ];
        for (what, kind, id, described, stack_status, expected) in cases {
            let seen = Seen {
                resource: described,
                stack_status,
            };
            assert_eq!(
                outcome(decide(&request(kind, id), &seen)),
                expected,
                "{what}"
            );
        }
    }

    #[test]
    fn a_stack_named_otherwise_than_by_its_id_is_refused() {
        let mut named = request(RequestType::Update, Some("sagemaker-x"));
        named.stack_id = "ml".to_owned();
        let seen = Seen {
            resource: resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
            stack_status: None,
        };
        assert_eq!(outcome(decide(&named, &seen)), "StackId");
        named.stack_id = OTHER.to_owned();
        assert_eq!(outcome(decide(&named, &seen)), "StackId");
    }

    #[test]
    fn refusals_lead_with_the_field_at_fault() {
        let seen = Seen {
            resource: resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x")),
            stack_status: None,
        };
        let Verdict::Refuse(refusal) =
            decide(&request(RequestType::Update, Some("sagemaker-x")), &seen)
        else {
            panic!("accepted");
        };
        let text = refusal.to_string();
        assert!(
            text.starts_with("RequestType: CloudFormation is not updating resource `Role`"),
            "{text}"
        );
        assert!(
            text.contains("UPDATE_COMPLETE") && text.contains("nothing was changed"),
            "{text}"
        );
    }

    /// Answers from a script: each read pops the next answer, the last one repeats.
    struct Script {
        resources: std::sync::Mutex<Vec<Described<StackResource>>>,
        status: Described<String>,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl Stacks for Script {
        async fn stack_resource(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Described<StackResource>, StacksError> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut answers = self.resources.lock().unwrap();
            Ok(if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            })
        }

        async fn stack_status(&self, _: &str) -> Result<Described<String>, StacksError> {
            Ok(self.status.clone())
        }
    }

    fn script(resources: Vec<Described<StackResource>>) -> Script {
        Script {
            resources: std::sync::Mutex::new(resources),
            status: Described::Found("UPDATE_IN_PROGRESS".to_owned()),
            reads: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_state_cloudformation_shows_late_is_read_again() {
        let pauses = [Duration::from_millis(1); 3];
        let update = request(RequestType::Update, Some("sagemaker-x"));
        let late = script(vec![
            resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x")),
            resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
        ]);
        assert_eq!(verify(&late, &update, &pauses).await, Ok(()));
        assert_eq!(late.reads.into_inner(), 2);

        let never = script(vec![resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x"))]);
        let error = verify(&never, &update, &pauses).await.unwrap_err();
        assert!(error.to_string().starts_with("RequestType: "), "{error}");
        assert_eq!(never.reads.into_inner(), 4, "one read and three re-reads");

        let settled = script(vec![resource(
            "AWS::IAM::Role",
            "UPDATE_IN_PROGRESS",
            Some("sagemaker-x"),
        )]);
        let error = verify(&settled, &update, &pauses).await.unwrap_err();
        assert!(
            error.to_string().starts_with("LogicalResourceId: "),
            "{error}"
        );
        assert_eq!(
            settled.reads.into_inner(),
            1,
            "a settled refusal is not read again"
        );
    }
}
