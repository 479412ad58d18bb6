//! Whether CloudFormation really sent an event. Anyone who may invoke the function can send it
//! any event, so before any IAM call the event is held against what CloudFormation says of its
//! stack: the named stack must hold the logical id as a custom resource, in the state the
//! request type implies, with the physical id the request names ([`state`]); and the event's
//! properties must be those CloudFormation recorded for that operation in the stack's events
//! ([`against_events`]). [`decide`] is that rule, pure: (request, what CloudFormation answered)
//! → [`Verdict`]; [`Check`] is the check as a machine: it asks for CloudFormation's reads and
//! re-reads a mismatch that a later read could change after a few pauses, as CloudFormation's
//! reads are eventually consistent, whoever carries the reads and pauses out ([`read`] over any
//! [`Stacks`]; [`verify`] runs it alone).
//!
//! Ids are compared as IAM compares role names, ignoring ASCII case: `SageMaker-ml-ds` is the
//! role `sagemaker-ml-ds`, so it is that role's id here too (the teardown then refuses an id
//! that is not the role's own spelling).
//!
//! Properties are compared as JSON after one normalisation: CloudFormation passes the function
//! every scalar as a string, while its events may keep the template's numbers and booleans, so
//! every number and boolean becomes its string on both sides (`3600` → `"3600"`, `true` →
//! `"true"`); keys compare in any order, arrays in order.
//!
//! What CloudFormation cannot tell: whether an event whose names, state, id and properties are
//! all CloudFormation's was sent by CloudFormation or replayed by someone who read it (the
//! replay does what CloudFormation asked for, once more).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use crate::arn::Arn;
use crate::aws::Op;
use crate::cfn::event::{Request, RequestType};

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

/// A stack event as DescribeStackEvents shows it, as far as the check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub logical_id: String,
    /// None when the event shows none (a Create's first event).
    pub physical_id: Option<String>,
    /// The resource's status the event records (`UPDATE_IN_PROGRESS`, …).
    pub status: String,
    /// The properties CloudFormation recorded with it, as the JSON text it gives; none when it
    /// recorded none (the stack's own events, some deletions).
    pub properties: Option<String>,
}

/// One page of DescribeStackEvents, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<StackEvent>,
    /// The token of the next (older) page, if any.
    pub next_token: Option<String>,
}

/// A stack's resource as ListStackResources shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedResource {
    pub logical_id: String,
    /// None until the resource's Create answered.
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `CREATE_IN_PROGRESS`, `DELETE_COMPLETE`, …
    pub status: String,
}

/// One page of ListStackResources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePage {
    pub resources: Vec<ListedResource>,
    pub next_token: Option<String>,
}

/// The status of a resource that no longer exists.
const DELETE_COMPLETE: &str = "DELETE_COMPLETE";

/// An event's stack as ListStackResources shows it, and the event's resource type: the stack's
/// roles are its resources of that type (this function's custom resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRoles {
    pub stack_id: String,
    pub resource_type: String,
    pub resources: Vec<ListedResource>,
    /// The stack's status, when it was read with the resources (an Update's count).
    pub status: Option<String>,
}

/// The stack's status while CloudFormation takes an update back: each Update then returns a
/// resource to what it was before.
pub const UPDATE_ROLLBACK_IN_PROGRESS: &str = "UPDATE_ROLLBACK_IN_PROGRESS";

impl StackRoles {
    /// A listing of `stack_id` in `status`, the type being that of its resource `logical_id`;
    /// none when the listing does not show that resource.
    pub fn of(
        stack_id: &str,
        logical_id: &str,
        status: Option<String>,
        resources: Vec<ListedResource>,
    ) -> Option<Self> {
        let resource_type = resources
            .iter()
            .find(|resource| resource.logical_id == logical_id)?
            .resource_type
            .clone();
        Some(StackRoles {
            stack_id: stack_id.to_owned(),
            resource_type,
            resources,
            status,
        })
    }

    /// Whether CloudFormation is taking an update of the stack back.
    pub fn rolling_back(&self) -> bool {
        self.status.as_deref() == Some(UPDATE_ROLLBACK_IN_PROGRESS)
    }

    /// The roles that exist or are being made: resources of the type not `DELETE_COMPLETE`.
    pub fn live(&self) -> impl Iterator<Item = &ListedResource> {
        self.resources.iter().filter(|resource| {
            resource.resource_type == self.resource_type && resource.status != DELETE_COMPLETE
        })
    }

    /// The stack's name, as its id gives it.
    pub fn stack_name(&self) -> &str {
        crate::guardrails::stack_name(&self.stack_id).unwrap_or(&self.stack_id)
    }
}

/// Whether the stack has events older than those read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Older {
    /// Every event was read.
    None,
    /// More can be read.
    Unread,
    /// More exist, past the pages the check reads ([`MAX_EVENT_PAGES`]).
    Beyond,
}

/// The stack's events read so far, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Events {
    pub events: Vec<StackEvent>,
    pub older: Older,
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
    /// DescribeStackEvents of the event's StackId, as far as [`decide`] asked for them.
    pub events: Described<Events>,
}

/// The event field a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    StackId,
    LogicalResourceId,
    PhysicalResourceId,
    RequestType,
    ResourceProperties,
    ServiceToken,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::StackId => "StackId",
            Field::LogicalResourceId => "LogicalResourceId",
            Field::PhysicalResourceId => "PhysicalResourceId",
            Field::RequestType => "RequestType",
            Field::ResourceProperties => "ResourceProperties",
            Field::ServiceToken => "ServiceToken",
        })
    }
}

/// Why an event is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: Field,
    pub reason: String,
    /// Whether a later read could change the answer (a state, id or event CloudFormation may
    /// not show yet); a settled refusal is not read again.
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
    /// The event CloudFormation recorded for this operation is older than the events read:
    /// read the next page, then decide again.
    ReadOlderEvents,
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

/// Whether two ids name the same role: IAM's names are unique ignoring ASCII case.
fn same_id(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

/// The rule: accept an event only when CloudFormation shows the stack doing what the event says
/// ([`state`]) with the properties the event carries ([`against_events`]). `function_arn` is the
/// function's own ARN, when known: the event's custom resource must name it as its
/// `ServiceToken`.
pub fn decide(request: &Request, function_arn: Option<&str>, seen: &Seen) -> Verdict {
    match state(request, seen) {
        Verdict::Accept => against_events(request, function_arn, seen),
        verdict => verdict,
    }
}

/// The stack resource's state (and, for some Deletes, the stack's): does CloudFormation show
/// the resource where the request type and its id say it is?
pub fn state(request: &Request, seen: &Seen) -> Verdict {
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
            UPDATE_IN_PROGRESS if same_id(held, named) => Verdict::Accept,
            UPDATE_IN_PROGRESS => other_id(held),
            _ => not_doing("updating"),
        },
        RequestType::Delete => {
            if status == DELETE_IN_PROGRESS && (held.is_none() || same_id(held, named)) {
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
            // The role the resource has now is never the one a cleanup deletes, in any case.
            let cleanup = CLEANUP.contains(&stack_status) && !same_id(held, named);
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

/// The event held against CloudFormation's record of the operation, once [`state`] accepted it:
/// - a Create or Update carries the properties of the resource's latest `CREATE_IN_PROGRESS` or
///   `UPDATE_IN_PROGRESS` event (a rollback's Update, which carries the old properties, has an
///   event of its own);
/// - a Delete carries the properties CloudFormation holds for its physical id: those of the
///   resource's latest event with that id (for an id that names no role, a placeholder or an
///   id CloudFormation made up, also those without an id). An Update that replaced the id
///   recorded it with the new declaration, which the cleanup's Delete need not carry: such
///   events are passed over, back to the id's latest other event.
///
/// Then the `ServiceToken` CloudFormation recorded must name this function.
pub fn against_events(request: &Request, function_arn: Option<&str>, seen: &Seen) -> Verdict {
    let stack = request.stack_id.as_str();
    let logical = request.logical_resource_id.as_str();
    let events = match &seen.events {
        Described::Found(events) => events,
        Described::Unknown(message) => {
            return refuse(
                Field::StackId,
                format!("CloudFormation shows no events of stack `{stack}` ({message})"),
                false,
            );
        }
    };
    let of_resource = || {
        events
            .events
            .iter()
            .filter(move |event| event.logical_id == logical)
    };
    let id = request.physical_resource_id.as_deref().unwrap_or_default();
    let of_id = |event: &&StackEvent| holds_id(event, id);
    let candidates: Vec<(&StackEvent, &str)> = match request.request_type {
        RequestType::Create | RequestType::Update => {
            let wanted = match request.request_type {
                RequestType::Create => CREATE_IN_PROGRESS,
                _ => UPDATE_IN_PROGRESS,
            };
            of_resource()
                .filter(|event| event.status == wanted)
                .find_map(with_properties)
                .into_iter()
                .collect()
        }
        RequestType::Delete => recorded_for_id(&events.events, logical, id),
    };
    let complete = match request.request_type {
        RequestType::Delete => candidates
            .last()
            .is_some_and(|(event, _)| event.status != UPDATE_IN_PROGRESS),
        _ => !candidates.is_empty(),
    };
    let sent = normalized(&request.properties);
    let read: Vec<(&StackEvent, Result<Value, String>)> = candidates
        .into_iter()
        .map(|(event, text)| (event, read_properties(text)))
        .collect();
    if let Some((event, Ok(properties))) = read
        .iter()
        .find(|(_, properties)| properties.as_ref().is_ok_and(|p| *p == sent))
    {
        return service_token(request, function_arn, event, properties);
    }
    let decisive = read.first().filter(|_| complete);
    let Some((event, properties)) = decisive else {
        return match events.older {
            Older::Unread => Verdict::ReadOlderEvents,
            older => not_recorded(request, older),
        };
    };
    let settled = match request.request_type {
        RequestType::Create => true,
        // This Update's own event (a rollback's, or the next update's) may not be shown yet:
        // then its old properties are those of the latest event.
        RequestType::Update => {
            request.old_properties.as_ref().map(normalized).as_ref() != properties.as_ref().ok()
        }
        // CloudFormation is deleting the id with other properties; before it shows the
        // deletion, it may not show it yet.
        RequestType::Delete => of_resource()
            .find(of_id)
            .is_some_and(|latest| latest.status == DELETE_IN_PROGRESS),
    };
    let Ok(properties) = properties else {
        return refuse(
            Field::ResourceProperties,
            format!(
                "CloudFormation's record of the properties of resource `{logical}` of stack `{stack}` ({} event) cannot be read",
                event.status
            ),
            true,
        );
    };
    refuse(
        Field::ResourceProperties,
        format!(
            "they are not those CloudFormation recorded for resource `{logical}` of stack `{stack}` in its latest {} event ({} differ)",
            event.status,
            differing(&sent, properties)
        ),
        settled,
    )
}

/// Whether an event of a resource is about the physical id `id` (ignoring ASCII case, as IAM
/// compares role names). An id that cannot be a role finds its role by the properties, which
/// CloudFormation recorded without an id too (the Create's first event).
fn holds_id(event: &StackEvent, id: &str) -> bool {
    match &event.physical_id {
        Some(held) => held.eq_ignore_ascii_case(id),
        None => crate::plan::naming::role_name_of_id(id).is_none(),
    }
}

/// The events of resource `logical_id` (among `events`, newest first) that record the
/// properties CloudFormation holds for the physical id `id`, newest first: the resource's latest
/// event with that id and properties and, while that is an `UPDATE_IN_PROGRESS` (an Update that
/// may have replaced the id recorded the new declaration with it), the id's next older ones,
/// down to and including the first of another status. A Delete's properties must be one of
/// them; the declaration a role of that id was last made or updated with is the first.
pub fn recorded_for_id<'a>(
    events: &'a [StackEvent],
    logical_id: &str,
    id: &str,
) -> Vec<(&'a StackEvent, &'a str)> {
    let mut chain = Vec::new();
    for found in events
        .iter()
        .filter(|event| event.logical_id == logical_id && holds_id(event, id))
        .filter_map(with_properties)
    {
        chain.push(found);
        if found.0.status != UPDATE_IN_PROGRESS {
            break;
        }
    }
    chain
}

/// The refusal of an event whose operation CloudFormation recorded in none of the events read:
/// settled when the events went on past those read.
fn not_recorded(request: &Request, older: Older) -> Verdict {
    let stack = request.stack_id.as_str();
    let logical = request.logical_resource_id.as_str();
    let among = match older {
        Older::Beyond => format!("among its newest {MAX_EVENT_PAGES} pages of events"),
        _ => "among its events".to_owned(),
    };
    let settled = older == Older::Beyond;
    match request.request_type {
        RequestType::Delete => refuse(
            Field::PhysicalResourceId,
            format!(
                "CloudFormation recorded no properties of resource `{logical}` of stack `{stack}` with the id `{}` {among}",
                request.physical_resource_id.as_deref().unwrap_or_default()
            ),
            settled,
        ),
        kind => refuse(
            Field::RequestType,
            format!(
                "CloudFormation recorded no {} of resource `{logical}` of stack `{stack}` {among}",
                match kind {
                    RequestType::Create => CREATE_IN_PROGRESS,
                    _ => UPDATE_IN_PROGRESS,
                }
            ),
            settled,
        ),
    }
}

/// Accepts the event whose properties matched `event`'s, if the `ServiceToken` CloudFormation
/// recorded names this function (any alias or version of it).
fn service_token(
    request: &Request,
    function_arn: Option<&str>,
    event: &StackEvent,
    properties: &Value,
) -> Verdict {
    let Some(function) = function_arn else {
        return Verdict::Accept;
    };
    let token = properties
        .get("ServiceToken")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if same_function(token, function) {
        return Verdict::Accept;
    }
    refuse(
        Field::ServiceToken,
        format!(
            "resource `{}` of stack `{}` is served by `{token}` ({} event), not by this function (`{function}`)",
            request.logical_resource_id, request.stack_id, event.status
        ),
        true,
    )
}

/// Whether a `ServiceToken` names the function `function_arn`: the same partition, region,
/// account and function name, whatever alias or version either names (one function's code
/// answers them all).
pub fn same_function(service_token: &str, function_arn: &str) -> bool {
    let function = |text| {
        let arn = Arn::parse(text)?;
        let name = arn.resource.strip_prefix("function:")?.split(':').next()?;
        (arn.service == "lambda" && !name.is_empty()).then_some((
            arn.partition,
            arn.region,
            arn.account,
            name,
        ))
    };
    match (function(service_token), function(function_arn)) {
        (Some(token), Some(own)) => token == own,
        _ => false,
    }
}

/// Properties as compared: every number and boolean as its string, as CloudFormation passes
/// them to the function.
pub fn normalized(value: &Value) -> Value {
    match value {
        Value::Number(number) => Value::String(number.to_string()),
        Value::Bool(flag) => Value::String(flag.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), normalized(value)))
                .collect(),
        ),
        Value::Null | Value::String(_) => value.clone(),
    }
}

/// An event's recorded properties, normalised; the parse error when they are no JSON.
pub fn read_properties(text: &str) -> Result<Value, String> {
    serde_json::from_str::<Value>(text)
        .map(|value| normalized(&value))
        .map_err(|e| e.to_string())
}

/// The top-level properties that differ, for a refusal's reason.
fn differing(sent: &Value, recorded: &Value) -> String {
    let empty = serde_json::Map::new();
    let (sent, recorded) = (
        sent.as_object().unwrap_or(&empty),
        recorded.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = sent
        .keys()
        .chain(recorded.keys())
        .filter(|key| sent.get(*key) != recorded.get(*key))
        .collect();
    keys.sort();
    keys.dedup();
    match keys.len() {
        0 => "their shapes".to_owned(),
        n => {
            let mut named: Vec<String> = keys.iter().take(5).map(|k| format!("`{k}`")).collect();
            if n > 5 {
                named.push(format!("{} more", n - 5));
            }
            named.join(", ")
        }
    }
}

/// An event with the properties CloudFormation recorded with it, if any.
fn with_properties(event: &StackEvent) -> Option<(&StackEvent, &str)> {
    event.properties.as_deref().map(|text| (event, text))
}

fn refuse(field: Field, reason: String, settled: bool) -> Verdict {
    Verdict::Refuse(Refusal {
        field,
        reason,
        settled,
    })
}

// ------------------------------------------------------------------ asking CloudFormation

/// The CloudFormation reads the check needs. Each is retried by the client on throttling and
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
    /// DescribeStacks: the stack's status, when it last changed, its parameters and outputs
    /// (`stack` may be a name: the function's own stack, as an operator names it).
    fn stack_details(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Described<StackDetails>, StacksError>> + Send;
    /// DescribeStackEvents: one page of the stack's events, newest first; the first page
    /// without a token.
    fn stack_events(
        &self,
        stack_id: &str,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<Described<EventPage>, StacksError>> + Send;
    /// ListStackResources: one page of the stack's resources; the first page without a token.
    fn stack_resources(
        &self,
        stack_id: &str,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<Described<ResourcePage>, StacksError>> + Send;
}

/// A stack as DescribeStacks shows it, beyond its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackDetails {
    /// The stack's id (its ARN).
    pub stack_id: String,
    pub status: String,
    /// When its last update began (CloudFormation's `LastUpdatedTime`, as text); none for a
    /// stack never updated. With the status, it tells whether the stack changed between reads.
    pub last_updated: Option<String>,
    /// Parameter values by key, as CloudFormation shows them (a list joined by commas).
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Output values by key.
    pub outputs: std::collections::BTreeMap<String, String>,
}

/// The most pages of a stack's resources read. A page holds up to a megabyte of resources and a
/// stack at most 500 of them: one page nearly always, and a bound all the same.
pub const MAX_RESOURCE_PAGES: usize = 10;

/// A stack's status and resources, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedStack {
    pub status: String,
    pub resources: Vec<ListedResource>,
}

/// The stack's status (DescribeStacks) beside its resources ([`list_resources`]).
pub async fn list_stack<S: Stacks>(stacks: &S, stack_id: &str) -> Result<ListedStack, StacksError> {
    let (status, resources) = tokio::join!(
        stacks.stack_status(stack_id),
        list_resources(stacks, stack_id)
    );
    let status = match status? {
        Described::Found(status) => status,
        Described::Unknown(message) => {
            return Err(StacksError {
                operation: Op::DescribeStacks,
                target: stack_id.to_owned(),
                message,
            });
        }
    };
    Ok(ListedStack {
        status,
        resources: resources?,
    })
}

/// Every resource of the stack (ListStackResources, page after page); an error when
/// CloudFormation knows no such stack or has more pages than [`MAX_RESOURCE_PAGES`].
pub async fn list_resources<S: Stacks>(
    stacks: &S,
    stack_id: &str,
) -> Result<Vec<ListedResource>, StacksError> {
    let failed = |message: String| StacksError {
        operation: Op::ListStackResources,
        target: stack_id.to_owned(),
        message,
    };
    let mut resources = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_RESOURCE_PAGES {
        let page = match stacks.stack_resources(stack_id, token.as_deref()).await? {
            Described::Found(page) => page,
            Described::Unknown(message) => return Err(failed(message)),
        };
        resources.extend(page.resources);
        match page.next_token {
            None => return Ok(resources),
            next => token = next,
        }
    }
    Err(failed(format!(
        "the stack's resources go on past {MAX_RESOURCE_PAGES} pages"
    )))
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

/// The most pages of a stack's events one read goes through, newest first: the operation an
/// event belongs to is recent, and a forged event must not make the function page through a
/// stack's whole history.
pub const MAX_EVENT_PAGES: usize = 10;

/// What the check asks CloudFormation next ([`Check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// DescribeStackResource of the event's resource beside the newest page of the stack's
    /// events (DescribeStackEvents) and, with `list`, every page of the stack's resources
    /// (ListStackResources), all at once ([`Reply::First`]).
    First { list: bool },
    /// DescribeStacks: the stack's status ([`Reply::StackStatus`]).
    StackStatus,
    /// DescribeStackEvents: the page of older events after `token` ([`Reply::OlderEvents`]).
    OlderEvents { token: String },
}

/// What a [`Read`] brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    First {
        resource: Result<Described<StackResource>, StacksError>,
        events: Result<Described<EventPage>, StacksError>,
        /// With `list`: the stack's resources.
        listed: Option<Result<Vec<ListedResource>, StacksError>>,
    },
    StackStatus(Result<Described<String>, StacksError>),
    OlderEvents(Result<Described<EventPage>, StacksError>),
}

/// The check's next step: a read, a pause before reading again, or its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Read(Read),
    /// Wait this long, then [`Check::paused`]: CloudFormation may show the event's state later.
    Pause(Duration),
    /// Accepted, with the stack's roles when they were listed; or refused.
    Done(Result<Option<StackRoles>, Unverified>),
}

/// The stack check as a machine: it asks for CloudFormation's reads one [`Read`] at a time,
/// decides on what they show ([`decide`]), and re-reads a mismatch that a later read could
/// change after each of its pauses. Whoever runs it carries the reads and the pauses out.
#[derive(Debug, Clone)]
pub struct Check {
    request: Request,
    function_arn: Option<String>,
    list: bool,
    /// The pauses not taken yet.
    pauses: std::collections::VecDeque<Duration>,
    /// What the current read showed so far; none before its first reply.
    seen: Option<Seen>,
    /// The token of the next page of older events, and how many pages were read.
    token: Option<String>,
    pages: usize,
    listed: Option<Result<Vec<ListedResource>, StacksError>>,
}

impl Check {
    /// The check of `request` and its first read. With `list_roles`, a Create's stack is listed
    /// beside the reads (ListStackResources), and the stack's roles come with the acceptance.
    pub fn start(
        request: &Request,
        function_arn: Option<&str>,
        pauses: &[Duration],
        list_roles: bool,
    ) -> (Check, Step) {
        let list = list_roles && request.request_type == RequestType::Create;
        let check = Check {
            request: request.clone(),
            function_arn: function_arn.map(str::to_owned),
            list,
            pauses: pauses.iter().copied().collect(),
            seen: None,
            token: None,
            pages: 0,
            listed: None,
        };
        (check, Step::Read(Read::First { list }))
    }

    /// After a [`Step::Pause`]: everything is read again.
    pub fn paused(&mut self) -> Step {
        self.seen = None;
        Step::Read(Read::First { list: self.list })
    }

    /// The next step, given what the last read brought back.
    pub fn on(&mut self, reply: Reply) -> Step {
        let unavailable = |error| Step::Done(Err(Unverified::Unavailable(error)));
        match (reply, &mut self.seen) {
            (
                Reply::First {
                    resource,
                    events,
                    listed,
                },
                _,
            ) => {
                let resource = match resource {
                    Ok(resource) => resource,
                    Err(error) => return unavailable(error),
                };
                let page = match events {
                    Ok(page) => page,
                    Err(error) => return unavailable(error),
                };
                self.token = None;
                self.pages = 1;
                self.listed = listed;
                self.seen = Some(Seen {
                    resource,
                    stack_status: None,
                    events: events_of(page, &mut self.token, self.pages),
                });
            }
            (Reply::StackStatus(status), Some(seen)) => match status {
                Ok(status) => seen.stack_status = Some(status),
                Err(error) => return unavailable(error),
            },
            (Reply::OlderEvents(page), Some(seen)) => {
                let page = match page {
                    Ok(page) => page,
                    Err(error) => return unavailable(error),
                };
                self.pages += 1;
                match (
                    events_of(page, &mut self.token, self.pages),
                    &mut seen.events,
                ) {
                    (Described::Found(older), Described::Found(read)) => {
                        read.events.extend(older.events);
                        read.older = older.older;
                    }
                    (unknown @ Described::Unknown(_), _) => seen.events = unknown,
                    (Described::Found(_), Described::Unknown(_)) => {}
                }
            }
            (reply, None) => {
                return Step::Done(Err(Unverified::Refused(Refusal {
                    field: Field::StackId,
                    reason: format!(
                        "internal error: CloudFormation's reply came out of turn ({reply:?})"
                    ),
                    settled: true,
                })));
            }
        }
        self.decide()
    }

    fn decide(&mut self) -> Step {
        let Some(seen) = &self.seen else {
            return Step::Read(Read::First { list: self.list });
        };
        match decide(&self.request, self.function_arn.as_deref(), seen) {
            Verdict::AskStackStatus if seen.stack_status.is_none() => Step::Read(Read::StackStatus),
            Verdict::ReadOlderEvents => match (self.token.take(), &seen.events) {
                (Some(token), Described::Found(_)) => Step::Read(Read::OlderEvents { token }),
                _ => self.settle(Verdict::ReadOlderEvents),
            },
            Verdict::Accept => {
                let roles = match (self.listed.take(), &seen.resource) {
                    (Some(listed), Described::Found(resource)) => match listed {
                        Ok(resources) => Some(StackRoles {
                            stack_id: self.request.stack_id.clone(),
                            resource_type: resource.resource_type.clone(),
                            resources,
                            status: None,
                        }),
                        Err(error) => return Step::Done(Err(Unverified::Unavailable(error))),
                    },
                    _ => None,
                };
                Step::Done(Ok(roles))
            }
            verdict => self.settle(verdict),
        }
    }

    /// A verdict the reads could not turn into an acceptance: a refusal, read again after the
    /// next pause when a later read could change it.
    fn settle(&mut self, verdict: Verdict) -> Step {
        let refusal = match verdict {
            Verdict::Refuse(refusal) => refusal,
            verdict => Refusal {
                field: Field::StackId,
                reason: format!(
                    "internal error: CloudFormation was read as asked but not decided on ({verdict:?})"
                ),
                settled: true,
            },
        };
        match self.pauses.pop_front() {
            Some(pause) if !refusal.settled => {
                tracing::info!(reason = %refusal, "CloudFormation does not show the event's state yet: reading again");
                Step::Pause(pause)
            }
            _ => Step::Done(Err(Unverified::Refused(refusal))),
        }
    }
}

/// Carries out one of the check's reads over any [`Stacks`].
pub async fn read<S: Stacks>(stacks: &S, request: &Request, read: Read) -> Reply {
    let stack = request.stack_id.as_str();
    match read {
        Read::First { list } => {
            let (resource, events, listed) = tokio::join!(
                stacks.stack_resource(stack, &request.logical_resource_id),
                stacks.stack_events(stack, None),
                async {
                    match list {
                        true => Some(list_resources(stacks, stack).await),
                        false => None,
                    }
                },
            );
            Reply::First {
                resource,
                events,
                listed,
            }
        }
        Read::StackStatus => Reply::StackStatus(stacks.stack_status(stack).await),
        Read::OlderEvents { token } => {
            Reply::OlderEvents(stacks.stack_events(stack, Some(&token)).await)
        }
    }
}

/// The check run to its verdict over any [`Stacks`], its pauses slept.
pub async fn verify<S: Stacks>(
    stacks: &S,
    request: &Request,
    function_arn: Option<&str>,
    pauses: &[Duration],
    list_roles: bool,
) -> Result<Option<StackRoles>, Unverified> {
    let (mut check, mut step) = Check::start(request, function_arn, pauses, list_roles);
    loop {
        step = match step {
            Step::Read(next) => check.on(read(stacks, request, next).await),
            Step::Pause(pause) => {
                tokio::time::sleep(pause).await;
                check.paused()
            }
            Step::Done(verdict) => return verdict,
        };
    }
}

/// A page of events as [`Events`], keeping its token for the next read.
fn events_of(
    page: Described<EventPage>,
    token: &mut Option<String>,
    pages: usize,
) -> Described<Events> {
    match page {
        Described::Found(page) => {
            let older = match (&page.next_token, pages < MAX_EVENT_PAGES) {
                (None, _) => Older::None,
                (Some(_), true) => Older::Unread,
                (Some(_), false) => Older::Beyond,
            };
            *token = page.next_token;
            Described::Found(Events {
                events: page.events,
                older,
            })
        }
        Described::Unknown(message) => Described::Unknown(message),
    }
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

    fn no_events() -> Described<Events> {
        Described::Found(Events {
            events: Vec::new(),
            older: Older::None,
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
            Verdict::ReadOlderEvents => "older".to_owned(),
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
                "update, the id in another case",
                Update,
                Some("SageMaker-x"),
                resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "accept",
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
                "cleanup of the current role in another case",
                Delete,
                Some("SageMaker-ml-ds"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-ml-ds")),
                stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
                "RequestType?",
            ),
            (
                "rollback cleanup of the current role in another case",
                Delete,
                Some("SAGEMAKER-OLD"),
                resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-old")),
                stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"),
                "RequestType?",
            ),
            (
                "delete, the id in another case",
                Delete,
                Some("SageMaker-x"),
                resource(TYPE, "DELETE_IN_PROGRESS", Some("sagemaker-x")),
                None,
                "accept",
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
                events: no_events(),
            };
            assert_eq!(
                outcome(state(&request(kind, id), &seen)),
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
            events: no_events(),
        };
        assert_eq!(outcome(decide(&named, None, &seen)), "StackId");
        named.stack_id = OTHER.to_owned();
        assert_eq!(outcome(decide(&named, None, &seen)), "StackId");
    }

    #[test]
    fn refusals_lead_with_the_field_at_fault() {
        let seen = Seen {
            resource: resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x")),
            stack_status: None,
            events: no_events(),
        };
        let Verdict::Refuse(refusal) = decide(
            &request(RequestType::Update, Some("sagemaker-x")),
            None,
            &seen,
        ) else {
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

    // -------------------------------------------------------------- against the events

    const TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:persona-role";

    /// What a Create, Update or Delete of resource `Role` carries: the properties `p` (a number
    /// for the template's own value, as CloudFormation's events may keep it).
    fn props(p: &str) -> Value {
        json!({"ServiceToken": TOKEN, "RoleNameSuffix": p, "MaxSessionDuration": "3600"})
    }

    /// The properties as CloudFormation's event records them: the same, with the template's
    /// number.
    fn recorded(p: &str) -> String {
        json!({"MaxSessionDuration": 3600, "RoleNameSuffix": p, "ServiceToken": TOKEN}).to_string()
    }

    fn event(status: &str, id: Option<&str>, p: Option<&str>) -> StackEvent {
        StackEvent {
            logical_id: "Role".to_owned(),
            physical_id: id.map(str::to_owned),
            status: status.to_owned(),
            properties: p.map(recorded),
        }
    }

    fn other_resource(status: &str, p: &str) -> StackEvent {
        StackEvent {
            logical_id: "Other".to_owned(),
            ..event(status, Some("sagemaker-other"), Some(p))
        }
    }

    /// A request of `kind` for id `id` with properties `p` (and, for an Update, old properties
    /// `old`), seen against `events` (newest first; `older`), the resource in the state the
    /// request implies.
    fn against(
        kind: RequestType,
        id: Option<&str>,
        p: &str,
        old: Option<&str>,
        events: Vec<StackEvent>,
        older: Older,
    ) -> Verdict {
        let mut request = request(kind, id);
        request.properties = props(p);
        request.old_properties = old.map(props);
        let status = match kind {
            RequestType::Create => "CREATE_IN_PROGRESS",
            RequestType::Update => "UPDATE_IN_PROGRESS",
            RequestType::Delete => "DELETE_IN_PROGRESS",
        };
        let held = if kind == RequestType::Create {
            None
        } else {
            id
        };
        let seen = Seen {
            resource: resource(TYPE, status, held),
            stack_status: stack("DELETE_IN_PROGRESS"),
            events: Described::Found(Events { events, older }),
        };
        decide(&request, None, &seen)
    }

    #[test]
    fn a_create_or_update_carries_the_properties_of_its_latest_in_progress_event() {
        use RequestType::{Create, Update};
        let x = Some("sagemaker-x");
        // What a case is, the request (type, id, properties, old properties), the events, and
        // whether older ones remain; the outcome.
        type Row = (
            &'static str,
            RequestType,
            Option<&'static str>,
            &'static str,
            Option<&'static str>,
            Vec<StackEvent>,
            Older,
            &'static str,
        );
        let rows: Vec<Row> = vec![
            (
                "create",
                Create,
                None,
                "p",
                None,
                vec![
                    other_resource("UPDATE_IN_PROGRESS", "q"),
                    event("CREATE_IN_PROGRESS", None, Some("p")),
                ],
                Older::None,
                "accept",
            ),
            (
                "create with other properties",
                Create,
                None,
                "forged",
                None,
                vec![event("CREATE_IN_PROGRESS", None, Some("p"))],
                Older::None,
                "ResourceProperties",
            ),
            (
                "create whose event is not shown yet",
                Create,
                None,
                "p",
                None,
                vec![other_resource("CREATE_IN_PROGRESS", "p")],
                Older::None,
                "RequestType?",
            ),
            (
                "create whose event is on an older page",
                Create,
                None,
                "p",
                None,
                vec![other_resource("CREATE_IN_PROGRESS", "p")],
                Older::Unread,
                "older",
            ),
            (
                "create whose event is past the pages read",
                Create,
                None,
                "p",
                None,
                vec![other_resource("CREATE_IN_PROGRESS", "p")],
                Older::Beyond,
                "RequestType",
            ),
            (
                "update",
                Update,
                x,
                "new",
                Some("old"),
                vec![
                    event("UPDATE_IN_PROGRESS", x, Some("new")),
                    event("CREATE_COMPLETE", x, Some("old")),
                ],
                Older::None,
                "accept",
            ),
            (
                "a forged update racing a real one",
                Update,
                x,
                "forged",
                Some("old"),
                vec![
                    event("UPDATE_IN_PROGRESS", x, Some("new")),
                    event("CREATE_COMPLETE", x, Some("old")),
                ],
                Older::None,
                "ResourceProperties",
            ),
            (
                "an update of an earlier operation, replayed",
                Update,
                x,
                "old",
                Some("older"),
                vec![
                    event("UPDATE_IN_PROGRESS", x, Some("new")),
                    event("UPDATE_COMPLETE", x, Some("old")),
                    event("UPDATE_IN_PROGRESS", x, Some("old")),
                ],
                Older::None,
                "ResourceProperties",
            ),
            (
                "a rollback, whose event is shown",
                Update,
                x,
                "old",
                Some("new"),
                vec![
                    event("UPDATE_IN_PROGRESS", x, Some("old")),
                    event("UPDATE_FAILED", x, Some("new")),
                    event("UPDATE_IN_PROGRESS", x, Some("new")),
                ],
                Older::None,
                "accept",
            ),
            (
                "a rollback whose own event is not shown yet: read again",
                Update,
                x,
                "old",
                Some("new"),
                vec![
                    event("UPDATE_FAILED", x, Some("new")),
                    event("UPDATE_IN_PROGRESS", x, Some("new")),
                ],
                Older::None,
                "ResourceProperties?",
            ),
            (
                "an update whose event records no properties is looked for further",
                Update,
                x,
                "new",
                Some("old"),
                vec![
                    event("UPDATE_IN_PROGRESS", x, None),
                    event("UPDATE_IN_PROGRESS", x, Some("new")),
                ],
                Older::None,
                "accept",
            ),
        ];
        for (what, kind, id, p, old, events, older, expected) in rows {
            assert_eq!(
                outcome(against(kind, id, p, old, events, older)),
                expected,
                "{what}"
            );
        }
    }

    #[test]
    fn a_delete_carries_the_properties_cloudformation_holds_for_its_id() {
        use RequestType::Delete;
        let x = Some("sagemaker-x");
        let old = Some("sagemaker-old");
        let placeholder = Some("persona-role:failed:r");
        let made_up = Some("ml-Role-1ABC");
        // What a case is, the id and properties, the events, whether older remain; the outcome.
        type Row = (
            &'static str,
            Option<&'static str>,
            &'static str,
            Vec<StackEvent>,
            Older,
            &'static str,
        );
        let rows: Vec<Row> = vec![
            (
                "stack deletion",
                x,
                "p",
                vec![
                    event("DELETE_IN_PROGRESS", x, Some("p")),
                    event("CREATE_COMPLETE", x, Some("p")),
                ],
                Older::None,
                "accept",
            ),
            (
                "stack deletion, the deletion's event without properties",
                x,
                "p",
                vec![
                    event("DELETE_IN_PROGRESS", x, None),
                    event("UPDATE_COMPLETE", x, Some("p")),
                ],
                Older::None,
                "accept",
            ),
            (
                "a forged delete racing the stack's deletion (RetainOnDelete dropped)",
                x,
                "forged",
                vec![
                    event("DELETE_IN_PROGRESS", x, Some("p")),
                    event("CREATE_COMPLETE", x, Some("p")),
                ],
                Older::None,
                "ResourceProperties",
            ),
            (
                "a delete whose own event is not shown yet: read again",
                x,
                "forged",
                vec![event("UPDATE_COMPLETE", x, Some("p"))],
                Older::None,
                "ResourceProperties?",
            ),
            (
                "the id in another case is the same role",
                Some("SageMaker-X"),
                "p",
                vec![event("DELETE_IN_PROGRESS", x, Some("p"))],
                Older::None,
                "accept",
            ),
            (
                "cleanup: the replaced id with its old properties, past the replacing update",
                old,
                "o",
                vec![
                    event("DELETE_IN_PROGRESS", old, None),
                    event("UPDATE_COMPLETE", x, Some("p")),
                    event("UPDATE_IN_PROGRESS", x, Some("p")),
                    event("UPDATE_IN_PROGRESS", old, Some("p")),
                    event("CREATE_COMPLETE", old, Some("o")),
                ],
                Older::None,
                "accept",
            ),
            (
                "cleanup with the replacing update's properties",
                old,
                "p",
                vec![
                    event("UPDATE_COMPLETE", x, Some("p")),
                    event("UPDATE_IN_PROGRESS", old, Some("p")),
                    event("CREATE_COMPLETE", old, Some("o")),
                ],
                Older::None,
                "accept",
            ),
            (
                "cleanup with properties the id never had",
                old,
                "forged",
                vec![
                    event("DELETE_IN_PROGRESS", old, None),
                    event("UPDATE_IN_PROGRESS", old, Some("p")),
                    event("CREATE_COMPLETE", old, Some("o")),
                ],
                Older::None,
                "ResourceProperties",
            ),
            (
                "cleanup, the id's earlier events on an older page",
                old,
                "o",
                vec![event("UPDATE_IN_PROGRESS", old, Some("p"))],
                Older::Unread,
                "older",
            ),
            (
                "a role id this resource never held",
                Some("sagemaker-victim"),
                "p",
                vec![event("CREATE_COMPLETE", x, Some("p"))],
                Older::None,
                "PhysicalResourceId?",
            ),
            (
                "a role id not among the pages read",
                Some("sagemaker-victim"),
                "p",
                vec![event("CREATE_COMPLETE", x, Some("p"))],
                Older::Beyond,
                "PhysicalResourceId",
            ),
            (
                "a failed create's placeholder",
                placeholder,
                "c",
                vec![
                    event("DELETE_IN_PROGRESS", placeholder, Some("c")),
                    event("CREATE_FAILED", placeholder, Some("c")),
                    event("CREATE_IN_PROGRESS", None, Some("c")),
                ],
                Older::None,
                "accept",
            ),
            (
                "an id made up for a create that never answered",
                made_up,
                "c",
                vec![event("CREATE_IN_PROGRESS", None, Some("c"))],
                Older::None,
                "accept",
            ),
            (
                "an id made up, with another role's suffix",
                made_up,
                "victim",
                vec![event("CREATE_IN_PROGRESS", None, Some("c"))],
                Older::None,
                "ResourceProperties?",
            ),
            (
                "a role id never matches the events without an id",
                Some("sagemaker-c"),
                "c",
                vec![event("CREATE_IN_PROGRESS", None, Some("c"))],
                Older::None,
                "PhysicalResourceId?",
            ),
        ];
        for (what, id, p, events, older, expected) in rows {
            assert_eq!(
                outcome(against(Delete, id, p, None, events, older)),
                expected,
                "{what}"
            );
        }
    }

    #[test]
    fn properties_compare_after_scalars_become_strings() {
        let sent = json!({"A": "3600", "B": "true", "C": ["1", {"D": "false"}], "E": null});
        let kept = json!({"E": null, "C": [1, {"D": false}], "B": true, "A": 3600});
        assert_eq!(normalized(&sent), normalized(&kept));
        assert_ne!(
            normalized(&json!({"C": ["1", "2"]})),
            normalized(&json!({"C": [2, 1]}))
        );
        assert_ne!(
            normalized(&json!({"A": "1"})),
            normalized(&json!({"A": ["1"]}))
        );
        assert_eq!(
            differing(
                &json!({"A": "1", "B": "2", "S3Buckets": ["x"]}),
                &json!({"A": "1", "B": "3", "Extra": "y"})
            ),
            "`B`, `Extra`, `S3Buckets`"
        );
    }

    #[test]
    fn a_record_that_is_no_json_is_refused_for_good() {
        let mut request = request(RequestType::Create, None);
        request.properties = props("p");
        let seen = Seen {
            resource: resource(TYPE, "CREATE_IN_PROGRESS", None),
            stack_status: None,
            events: Described::Found(Events {
                events: vec![StackEvent {
                    properties: Some("{\"ServiceToken\": \"trunc".to_owned()),
                    ..event("CREATE_IN_PROGRESS", None, None)
                }],
                older: Older::None,
            }),
        };
        assert_eq!(outcome(decide(&request, None, &seen)), "ResourceProperties");
    }

    #[test]
    fn only_an_event_of_this_functions_custom_resource_is_accepted() {
        let own = "arn:aws:lambda:us-east-1:123456789012:function:persona-role";
        // ServiceToken, function ARN, same function.
        for (token, function, same) in [
            (own, own, true),
            (own, &format!("{own}:live") as &str, true),
            (&format!("{own}:7") as &str, own, true),
            (
                &format!("{own}:live") as &str,
                &format!("{own}:prod") as &str,
                true,
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:persona-role-other",
                own,
                false,
            ),
            (
                "arn:aws:lambda:us-east-1:210987654321:function:persona-role",
                own,
                false,
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:persona-role",
                own,
                false,
            ),
            (
                "arn:aws-cn:lambda:us-east-1:123456789012:function:persona-role",
                own,
                false,
            ),
            (
                "arn:aws:sns:us-east-1:123456789012:persona-role",
                own,
                false,
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:Persona-Role",
                own,
                false,
            ),
            ("persona-role", own, false),
            ("", own, false),
        ] {
            assert_eq!(same_function(token, function), same, "{token} / {function}");
        }

        let mut request = request(RequestType::Create, None);
        request.properties = props("p");
        let seen = |token: &str| {
            Seen {
            resource: resource(TYPE, "CREATE_IN_PROGRESS", None),
            stack_status: None,
            events: Described::Found(Events {
                events: vec![StackEvent {
                    properties: Some(
                        json!({"ServiceToken": token, "RoleNameSuffix": "p", "MaxSessionDuration": "3600"})
                            .to_string(),
                    ),
                    ..event("CREATE_IN_PROGRESS", None, None)
                }],
                older: Older::None,
            }),
        }
        };
        let other = "arn:aws:lambda:us-east-1:123456789012:function:someone-else";
        assert_eq!(outcome(decide(&request, Some(own), &seen(TOKEN))), "accept");
        assert_eq!(outcome(decide(&request, None, &seen(TOKEN))), "accept");
        // Another function's resource, recorded with the very properties the event carries.
        request.properties["ServiceToken"] = json!(other);
        assert_eq!(
            outcome(decide(&request, Some(own), &seen(other))),
            "ServiceToken"
        );
        let Verdict::Refuse(refusal) = decide(&request, Some(own), &seen(other)) else {
            panic!("accepted");
        };
        assert!(refusal.to_string().contains("someone-else"), "{refusal}");
    }

    // -------------------------------------------------------------------- the machine

    /// A first read's reply: the resource, one page of events (`token`: more follow), and the
    /// stack's resources when listed.
    fn first(
        resource: Described<StackResource>,
        events: Vec<StackEvent>,
        token: Option<&str>,
        listed: Option<Vec<ListedResource>>,
    ) -> Reply {
        Reply::First {
            resource: Ok(resource),
            events: Ok(Described::Found(EventPage {
                events,
                next_token: token.map(str::to_owned),
            })),
            listed: listed.map(Ok),
        }
    }

    fn failed(operation: Op) -> StacksError {
        StacksError {
            operation,
            target: STACK.to_owned(),
            message: "Rate exceeded".to_owned(),
        }
    }

    /// A step in words: the read asked for, the pause, or the verdict.
    fn step(step: &Step) -> String {
        match step {
            Step::Read(Read::First { list: false }) => "read".to_owned(),
            Step::Read(Read::First { list: true }) => "read and list".to_owned(),
            Step::Read(Read::StackStatus) => "status".to_owned(),
            Step::Read(Read::OlderEvents { token }) => format!("older {token}"),
            Step::Pause(pause) => format!("pause {}ms", pause.as_millis()),
            Step::Done(Ok(None)) => "accept".to_owned(),
            Step::Done(Ok(Some(roles))) => format!("accept {} roles", roles.live().count()),
            Step::Done(Err(Unverified::Refused(refusal))) => format!("refuse {}", refusal.field),
            Step::Done(Err(Unverified::Unavailable(error))) => {
                format!("unavailable {}", error.operation)
            }
        }
    }

    /// The check's turns as rows: (what a case is, the request, CloudFormation's replies in
    /// turn, every step the check takes, the last its verdict). Pauses are [`REREADS`].
    #[test]
    fn the_check_asks_for_each_read_and_pause_until_its_verdict() {
        let updating = || resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x"));
        let updated = || resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x"));
        let recorded = || vec![event("UPDATE_IN_PROGRESS", Some("sagemaker-x"), Some("p"))];
        let mut create = request(RequestType::Create, None);
        create.properties = props("p");
        let creating = || {
            first(
                resource(TYPE, "CREATE_IN_PROGRESS", None),
                vec![event("CREATE_IN_PROGRESS", None, Some("p"))],
                None,
                Some(vec![
                    listed("Role", TYPE, "CREATE_IN_PROGRESS"),
                    listed("Other", TYPE, "CREATE_COMPLETE"),
                    listed("Gone", TYPE, "DELETE_COMPLETE"),
                ]),
            )
        };
        type Row = (&'static str, Request, bool, Vec<Reply>, Vec<&'static str>);
        let rows: Vec<Row> = vec![
            (
                "accepted at the first read",
                update("p"),
                false,
                vec![first(updating(), recorded(), None, None)],
                vec!["read", "accept"],
            ),
            (
                "a Create accepted with its stack's roles",
                create.clone(),
                true,
                vec![creating()],
                vec!["read and list", "accept 2 roles"],
            ),
            (
                "a Create's stack not listed without a limit",
                create.clone(),
                false,
                vec![match creating() {
                    Reply::First {
                        resource, events, ..
                    } => Reply::First {
                        resource,
                        events,
                        listed: None,
                    },
                    other => other,
                }],
                vec!["read", "accept"],
            ),
            (
                "re-read, then accepted",
                update("p"),
                false,
                vec![
                    first(updated(), recorded(), None, None),
                    first(updating(), recorded(), None, None),
                ],
                vec!["read", "pause 500ms", "read", "accept"],
            ),
            (
                "refused after every re-read",
                update("p"),
                false,
                vec![first(updated(), recorded(), None, None); 4],
                vec![
                    "read",
                    "pause 500ms",
                    "read",
                    "pause 1000ms",
                    "read",
                    "pause 2000ms",
                    "read",
                    "refuse RequestType",
                ],
            ),
            (
                "a settled refusal is not read again",
                update("p"),
                false,
                vec![first(
                    resource("AWS::IAM::Role", "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
                    recorded(),
                    None,
                    None,
                )],
                vec!["read", "refuse LogicalResourceId"],
            ),
            (
                "forged properties refused at once",
                update("forged"),
                false,
                vec![first(updating(), recorded(), None, None)],
                vec!["read", "refuse ResourceProperties"],
            ),
            (
                "no such resource: the stack's status, then refused",
                update("p"),
                false,
                vec![
                    Reply::First {
                        resource: Ok(unknown()),
                        events: Ok(unknown()),
                        listed: None,
                    },
                    Reply::StackStatus(Ok(unknown())),
                ],
                vec!["read", "status", "refuse StackId"],
            ),
            (
                "the recorded event on an older page",
                update("p"),
                false,
                vec![
                    first(
                        updating(),
                        vec![other_resource("UPDATE_COMPLETE", "q")],
                        Some("1"),
                        None,
                    ),
                    Reply::OlderEvents(Ok(Described::Found(EventPage {
                        events: recorded(),
                        next_token: None,
                    }))),
                ],
                vec!["read", "older 1", "accept"],
            ),
            (
                "CloudFormation unavailable",
                update("p"),
                false,
                vec![Reply::First {
                    resource: Err(failed(Op::DescribeStackResource)),
                    events: Ok(Described::Found(EventPage {
                        events: recorded(),
                        next_token: None,
                    })),
                    listed: None,
                }],
                vec!["read", "unavailable DescribeStackResource"],
            ),
            (
                "the listing unavailable fails an accepted Create",
                create.clone(),
                true,
                vec![match creating() {
                    Reply::First {
                        resource, events, ..
                    } => Reply::First {
                        resource,
                        events,
                        listed: Some(Err(failed(Op::ListStackResources))),
                    },
                    other => other,
                }],
                vec!["read and list", "unavailable ListStackResources"],
            ),
        ];
        for (case, request, list, replies, expected) in rows {
            let (mut check, mut next) = Check::start(&request, None, &REREADS, list);
            let mut steps = vec![step(&next)];
            let mut replies = replies.into_iter();
            while !matches!(next, Step::Done(_)) {
                next = match next {
                    Step::Pause(_) => check.paused(),
                    _ => match replies.next() {
                        Some(reply) => check.on(reply),
                        None => panic!("{case}: no reply left after {steps:?}"),
                    },
                };
                steps.push(step(&next));
            }
            assert_eq!(steps, expected, "{case}");
            assert_eq!(replies.next(), None, "{case}: replies left");
        }
    }

    // -------------------------------------------------------------------- reading

    /// Answers from a script: each resource read pops the next answer, the last one repeats;
    /// events come in pages of `page` from `events`.
    struct Script {
        resources: std::sync::Mutex<Vec<Described<StackResource>>>,
        status: Described<String>,
        events: Vec<StackEvent>,
        page: usize,
        reads: std::sync::atomic::AtomicUsize,
        event_reads: std::sync::atomic::AtomicUsize,
        /// The stack's resources, listed `page` at a time.
        listing: Vec<ListedResource>,
        list_reads: std::sync::atomic::AtomicUsize,
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

        async fn stack_details(&self, stack: &str) -> Result<Described<StackDetails>, StacksError> {
            Ok(match &self.status {
                Described::Found(status) => Described::Found(StackDetails {
                    stack_id: stack.to_owned(),
                    status: status.clone(),
                    ..StackDetails::default()
                }),
                Described::Unknown(message) => Described::Unknown(message.clone()),
            })
        }

        async fn stack_events(
            &self,
            _: &str,
            next_token: Option<&str>,
        ) -> Result<Described<EventPage>, StacksError> {
            self.event_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let start: usize = next_token.map_or(0, |t| t.parse().unwrap());
            let end = (start + self.page).min(self.events.len());
            Ok(Described::Found(EventPage {
                events: self.events[start..end].to_vec(),
                next_token: (end < self.events.len()).then(|| end.to_string()),
            }))
        }

        async fn stack_resources(
            &self,
            _: &str,
            next_token: Option<&str>,
        ) -> Result<Described<ResourcePage>, StacksError> {
            self.list_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let start: usize = next_token.map_or(0, |t| t.parse().unwrap());
            let end = (start + self.page).min(self.listing.len());
            Ok(Described::Found(ResourcePage {
                resources: self.listing[start..end].to_vec(),
                next_token: (end < self.listing.len()).then(|| end.to_string()),
            }))
        }
    }

    fn script(resources: Vec<Described<StackResource>>) -> Script {
        Script {
            resources: std::sync::Mutex::new(resources),
            status: Described::Found("UPDATE_IN_PROGRESS".to_owned()),
            events: vec![event("UPDATE_IN_PROGRESS", Some("sagemaker-x"), Some("p"))],
            page: 100,
            reads: Default::default(),
            event_reads: Default::default(),
            listing: Vec::new(),
            list_reads: Default::default(),
        }
    }

    fn listed(logical_id: &str, resource_type: &str, status: &str) -> ListedResource {
        ListedResource {
            logical_id: logical_id.to_owned(),
            physical_id: None,
            resource_type: resource_type.to_owned(),
            status: status.to_owned(),
        }
    }

    /// With `list_roles`, a Create's stack is listed beside the check's reads, page after page,
    /// and its roles come with the acceptance, typed as the event's resource; an Update's is not
    /// listed, nor a Create's without `list_roles`.
    #[tokio::test]
    async fn a_creates_stack_is_listed_beside_the_check() {
        let pauses = [Duration::from_millis(1); 3];
        let mut create = request(RequestType::Create, None);
        create.properties = props("p");
        let mut stack = script(vec![resource(TYPE, "CREATE_IN_PROGRESS", None)]);
        stack.events = vec![event("CREATE_IN_PROGRESS", None, Some("p"))];
        stack.page = 2;
        stack.listing = vec![
            listed("Role", TYPE, "CREATE_IN_PROGRESS"),
            listed("Other", TYPE, "CREATE_COMPLETE"),
            listed("Gone", TYPE, "DELETE_COMPLETE"),
            listed("Bucket", "AWS::S3::Bucket", "CREATE_COMPLETE"),
            listed("Elsewhere", "Custom::Other", "CREATE_COMPLETE"),
        ];
        let roles = verify(&stack, &create, None, &pauses, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(roles.resource_type, TYPE);
        assert_eq!(roles.resources.len(), 5, "every page read");
        let live: Vec<&str> = roles.live().map(|r| r.logical_id.as_str()).collect();
        assert_eq!(live, ["Role", "Other"]);
        assert_eq!(roles.stack_name(), "ml");
        assert_eq!(stack.list_reads.into_inner(), 3);
        assert_eq!(stack.reads.into_inner(), 1);

        let unlisted = script(vec![resource(TYPE, "CREATE_IN_PROGRESS", None)]);
        let mut unlisted = Script {
            events: vec![event("CREATE_IN_PROGRESS", None, Some("p"))],
            ..unlisted
        };
        unlisted.listing = vec![listed("Role", TYPE, "CREATE_IN_PROGRESS")];
        assert_eq!(
            verify(&unlisted, &create, None, &pauses, false).await,
            Ok(None)
        );
        let update_listed = script(vec![resource(
            TYPE,
            "UPDATE_IN_PROGRESS",
            Some("sagemaker-x"),
        )]);
        assert_eq!(
            verify(&update_listed, &update("p"), None, &pauses, true).await,
            Ok(None)
        );
        assert_eq!(unlisted.list_reads.into_inner(), 0);
        assert_eq!(update_listed.list_reads.into_inner(), 0);
    }

    fn update(p: &str) -> Request {
        let mut update = request(RequestType::Update, Some("sagemaker-x"));
        update.properties = props(p);
        update
    }

    #[tokio::test]
    async fn a_state_cloudformation_shows_late_is_read_again() {
        let pauses = [Duration::from_millis(1); 3];
        let late = script(vec![
            resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x")),
            resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x")),
        ]);
        assert_eq!(
            verify(&late, &update("p"), None, &pauses, false).await,
            Ok(None)
        );
        assert_eq!(late.reads.into_inner(), 2);

        let never = script(vec![resource(TYPE, "UPDATE_COMPLETE", Some("sagemaker-x"))]);
        let error = verify(&never, &update("p"), None, &pauses, false)
            .await
            .unwrap_err();
        assert!(error.to_string().starts_with("RequestType: "), "{error}");
        assert_eq!(never.reads.into_inner(), 4, "one read and three re-reads");

        let settled = script(vec![resource(
            "AWS::IAM::Role",
            "UPDATE_IN_PROGRESS",
            Some("sagemaker-x"),
        )]);
        let error = verify(&settled, &update("p"), None, &pauses, false)
            .await
            .unwrap_err();
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

    #[tokio::test]
    async fn properties_other_than_the_in_progress_events_are_refused_after_one_read() {
        let pauses = [Duration::from_millis(1); 3];
        let forged = script(vec![resource(
            TYPE,
            "UPDATE_IN_PROGRESS",
            Some("sagemaker-x"),
        )]);
        let error = verify(&forged, &update("forged"), None, &pauses, false)
            .await
            .unwrap_err();
        assert!(
            error.to_string().starts_with("ResourceProperties: "),
            "{error}"
        );
        assert!(error.to_string().contains("`RoleNameSuffix`"), "{error}");
        assert_eq!(forged.reads.into_inner(), 1);
        assert_eq!(forged.event_reads.into_inner(), 1);
    }

    #[tokio::test]
    async fn events_are_paged_only_as_far_as_needed_and_no_further_than_the_bound() {
        let pauses = [Duration::from_millis(1); 3];
        let noise = |n: usize| -> Vec<StackEvent> {
            (0..n)
                .map(|_| other_resource("UPDATE_COMPLETE", "q"))
                .collect()
        };
        let resource_at = || vec![resource(TYPE, "UPDATE_IN_PROGRESS", Some("sagemaker-x"))];

        // On the third page of two events each.
        let mut deep = script(resource_at());
        deep.page = 2;
        deep.events = noise(5);
        deep.events
            .push(event("UPDATE_IN_PROGRESS", Some("sagemaker-x"), Some("p")));
        deep.events.extend(noise(10));
        assert_eq!(
            verify(&deep, &update("p"), None, &pauses, false).await,
            Ok(None)
        );
        assert_eq!(deep.event_reads.into_inner(), 3);

        // Past the bound: refused for good after the bounded pages.
        let mut past = script(resource_at());
        past.page = 1;
        past.events = noise(MAX_EVENT_PAGES + 3);
        past.events
            .push(event("UPDATE_IN_PROGRESS", Some("sagemaker-x"), Some("p")));
        let error = verify(&past, &update("p"), None, &pauses, false)
            .await
            .unwrap_err();
        assert!(error.to_string().starts_with("RequestType: "), "{error}");
        assert_eq!(past.event_reads.into_inner(), MAX_EVENT_PAGES);
        assert_eq!(past.reads.into_inner(), 1);
    }
}
