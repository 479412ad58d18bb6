//! A local CloudFormation for the tests: the reads the function makes (DescribeStackResource,
//! DescribeStacks, DescribeStackEvents, ListStackResources) over CloudFormation's awsQuery
//! protocol (form-encoded POST in, XML out), from stack and resource states and stack events the
//! tests register, with CloudFormation's errors: ValidationError for an unknown stack or
//! resource, Throttling on demand. Events come newest first in pages (NextToken), each with the
//! properties CloudFormation recorded, as a JSON text in which numbers and booleans are the
//! template's (`"7200"` recorded as `7200`, as CloudFormation's events may keep them), beside the
//! stack's own status events, which record none. ListStackResources lists every resource of the
//! stack as its next DescribeStackResource would show it, in pages (NextToken) when a test sets
//! their size. moto's CloudFormation would run custom resources
//! itself; this one only answers what a stack is doing.
//!
//! [`StandIn::confirm`] registers, for an event a test sends, the state in which CloudFormation
//! sends it (the resource CREATE_IN_PROGRESS without an id, UPDATE_IN_PROGRESS or
//! DELETE_IN_PROGRESS with the event's id) and the stack event it records first, with the
//! event's properties, so that tests of the lifecycle need not. Events of concurrent tests may
//! name the same stack and logical id: a lease holds the state and properties until the event is
//! answered, and an event that needs another state or other properties waits for it, as
//! CloudFormation runs one operation of a resource at a time.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::read_request;

/// A resource as the stand-in shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub resource_type: String,
    pub status: String,
    pub physical_id: Option<String>,
}

impl Resource {
    /// A `Custom::SageMakerPersonaRole` in `status`, with `physical_id` if any.
    pub fn custom(status: &str, physical_id: Option<&str>) -> Self {
        Resource {
            resource_type: "Custom::SageMakerPersonaRole".to_owned(),
            status: status.to_owned(),
            physical_id: physical_id.map(str::to_owned),
        }
    }

    /// The state in which CloudFormation sends `event`.
    pub fn sending(event: &Value) -> Self {
        let id = event["PhysicalResourceId"].as_str();
        let (status, id) = match event["RequestType"].as_str() {
            Some("Create") => ("CREATE_IN_PROGRESS", None),
            Some("Update") => ("UPDATE_IN_PROGRESS", id),
            _ => ("DELETE_IN_PROGRESS", id),
        };
        Resource {
            resource_type: event["ResourceType"]
                .as_str()
                .unwrap_or("Custom::SageMakerPersonaRole")
                .to_owned(),
            ..Resource::custom(status, id)
        }
    }
}

/// A stack event as the stand-in shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub logical_id: String,
    /// None for a Create's first event, which shows an empty id.
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    /// The properties recorded with it, as a JSON text; none for the stack's own events.
    pub properties: Option<String>,
}

impl Event {
    /// The event CloudFormation records just before it sends `event`: the resource
    /// CREATE_IN_PROGRESS without an id, UPDATE_IN_PROGRESS or DELETE_IN_PROGRESS with the
    /// event's id, with the event's properties as the template wrote them.
    pub fn sending(event: &Value) -> Self {
        let resource = Resource::sending(event);
        Event {
            logical_id: event["LogicalResourceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            physical_id: resource.physical_id,
            resource_type: resource.resource_type,
            status: resource.status,
            properties: Some(as_template(&event["ResourceProperties"]).to_string()),
        }
    }

    /// A `Custom::SageMakerPersonaRole` event of `logical_id` in `status`, with `physical_id`
    /// if any, recording `properties` as the template wrote them.
    pub fn custom(
        logical_id: &str,
        status: &str,
        physical_id: Option<&str>,
        properties: &Value,
    ) -> Self {
        Event {
            logical_id: logical_id.to_owned(),
            physical_id: physical_id.map(str::to_owned),
            resource_type: "Custom::SageMakerPersonaRole".to_owned(),
            status: status.to_owned(),
            properties: Some(as_template(properties).to_string()),
        }
    }
}

/// Properties as a template may write them: integers and booleans unquoted. CloudFormation
/// passes them to the function as strings, and its events may keep them as written.
pub fn as_template(value: &Value) -> Value {
    match value {
        Value::String(text) if text == "true" || text == "false" => Value::Bool(text == "true"),
        Value::String(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| n.to_string() == *text)
            .map_or_else(|| value.clone(), Value::from),
        Value::Array(items) => Value::Array(items.iter().map(as_template).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_template(v)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Events a page of DescribeStackEvents holds unless a test sets fewer.
pub const EVENTS_PER_PAGE: usize = 100;

/// One request the stand-in answered: the Action and its parameters.
#[derive(Debug, Clone)]
pub struct Call {
    pub action: String,
    pub params: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Stack {
    status: String,
    /// Per logical id, the answers to come: each read takes the first, the last one stays.
    resources: BTreeMap<String, VecDeque<Resource>>,
    /// The stack's events, oldest first, each with its EventId.
    events: Vec<(usize, Event)>,
    /// Events a page holds; [`EVENTS_PER_PAGE`] unless set.
    page: Option<usize>,
    /// Resources a page of ListStackResources holds; all of them unless set.
    resource_page: Option<usize>,
    /// Parameters and outputs DescribeStacks shows (the function's own stack's).
    parameters: BTreeMap<String, String>,
    outputs: BTreeMap<String, String>,
    /// How many times its status was set: DescribeStacks' LastUpdatedTime moves with it.
    updates: usize,
}

impl Stack {
    fn push(&mut self, event: Event) {
        static EVENT_IDS: AtomicUsize = AtomicUsize::new(1);
        self.events
            .push((EVENT_IDS.fetch_add(1, Ordering::Relaxed), event));
    }
}

#[derive(Debug, Default)]
struct State {
    stacks: BTreeMap<String, Stack>,
    /// Per stack, requests to answer Throttling before answering again.
    throttle: BTreeMap<String, usize>,
    calls: Vec<Call>,
    /// Per stack and logical id: the state and properties events in flight hold, and how many
    /// hold them.
    leases: BTreeMap<(String, String), ((Resource, Event), usize)>,
}

/// The stand-in: a server on 127.0.0.1 and the states it answers from.
#[derive(Debug, Clone)]
pub struct StandIn {
    endpoint: String,
    state: Arc<Mutex<State>>,
}

/// This test binary's stand-in, started on first use.
pub fn stand_in() -> &'static StandIn {
    static STAND_IN: OnceLock<StandIn> = OnceLock::new();
    STAND_IN.get_or_init(StandIn::start)
}

impl StandIn {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        StandIn { endpoint, state }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Registers a stack (or sets its status), recording the stack's own event.
    pub fn put_stack(&self, stack_id: &str, status: &str) {
        let mut state = self.state.lock().unwrap();
        let stack = state.stacks.entry(stack_id.to_owned()).or_default();
        stack.status = status.to_owned();
        stack.updates += 1;
        stack.push(Event {
            logical_id: stack_short_name(stack_id).to_owned(),
            physical_id: Some(stack_id.to_owned()),
            resource_type: "AWS::CloudFormation::Stack".to_owned(),
            status: status.to_owned(),
            properties: None,
        });
    }

    /// Sets the parameters and outputs DescribeStacks shows of a registered stack.
    pub fn put_stack_details(
        &self,
        stack_id: &str,
        parameters: &[(&str, &str)],
        outputs: &[(&str, &str)],
    ) {
        let mut state = self.state.lock().unwrap();
        let stack = state
            .stacks
            .get_mut(stack_id)
            .unwrap_or_else(|| panic!("stack {stack_id} is not registered"));
        let owned = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        stack.parameters = owned(parameters);
        stack.outputs = owned(outputs);
    }

    /// Records an event of a registered stack (the newest).
    pub fn put_event(&self, stack_id: &str, event: Event) {
        let mut state = self.state.lock().unwrap();
        state
            .stacks
            .get_mut(stack_id)
            .unwrap_or_else(|| panic!("stack {stack_id} is not registered"))
            .push(event);
    }

    /// Records the event CloudFormation records just before it sends `event` to the function
    /// ([`Event::sending`]), in `event`'s stack, which must be registered.
    pub fn record(&self, event: &Value) {
        let (stack_id, _) = names(event);
        self.put_event(&stack_id, Event::sending(event));
    }

    /// Pages the stack's events `size` at a time.
    pub fn page_events(&self, stack_id: &str, size: usize) {
        let mut state = self.state.lock().unwrap();
        state
            .stacks
            .get_mut(stack_id)
            .unwrap_or_else(|| panic!("stack {stack_id} is not registered"))
            .page = Some(size);
    }

    /// Pages the stack's resources (ListStackResources) `size` at a time.
    pub fn page_resources(&self, stack_id: &str, size: usize) {
        let mut state = self.state.lock().unwrap();
        state
            .stacks
            .get_mut(stack_id)
            .unwrap_or_else(|| panic!("stack {stack_id} is not registered"))
            .resource_page = Some(size);
    }

    /// Sets a resource of a registered stack.
    pub fn put_resource(&self, stack_id: &str, logical_id: &str, resource: Resource) {
        self.put_resource_reads(stack_id, logical_id, vec![resource]);
    }

    /// Sets the answers to the resource's next reads, the last one staying (a state that
    /// CloudFormation shows only after some reads).
    pub fn put_resource_reads(&self, stack_id: &str, logical_id: &str, reads: Vec<Resource>) {
        let mut state = self.state.lock().unwrap();
        let stack = state
            .stacks
            .get_mut(stack_id)
            .unwrap_or_else(|| panic!("stack {stack_id} is not registered"));
        stack
            .resources
            .insert(logical_id.to_owned(), reads.into_iter().collect());
    }

    /// Answers the next `count` requests naming `stack_id` with Throttling.
    pub fn throttle(&self, stack_id: &str, count: usize) {
        self.state
            .lock()
            .unwrap()
            .throttle
            .insert(stack_id.to_owned(), count);
    }

    /// The requests that named `stack_id`.
    pub fn calls_for(&self, stack_id: &str) -> Vec<Call> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.params.get("StackName").map(String::as_str) == Some(stack_id))
            .cloned()
            .collect()
    }

    /// Registers the state in which CloudFormation sends `event` now, and the event it records
    /// for it, without a lease: for an event handed to the compiled function, which takes one
    /// event at a time.
    pub fn confirm_now(&self, event: &Value) {
        let (stack_id, logical_id) = names(event);
        let resource = Resource::sending(event);
        let mut state = self.state.lock().unwrap();
        let stack = state.stacks.entry(stack_id).or_default();
        if stack.status.is_empty() {
            stack.status = "UPDATE_IN_PROGRESS".to_owned();
        }
        stack
            .resources
            .insert(logical_id, VecDeque::from([resource]));
        stack.push(Event::sending(event));
    }

    /// Registers the state in which CloudFormation sends `event` and the event it records for
    /// it, held until the lease is dropped; waits while events in flight hold another state or
    /// other properties of the same resource.
    pub async fn confirm(&self, event: &Value) -> Lease {
        let key = names(event);
        let resource = (Resource::sending(event), Event::sending(event));
        let end = Instant::now() + Duration::from_secs(120);
        loop {
            {
                let mut state = self.state.lock().unwrap();
                let shared = state.leases.get_mut(&key).map(|(held, count)| {
                    let same = *held == resource;
                    if same {
                        *count += 1;
                    }
                    same
                });
                match shared {
                    Some(true) => {
                        return Lease {
                            key,
                            state: Arc::clone(&self.state),
                        };
                    }
                    None => {
                        state.leases.insert(key.clone(), (resource, 1));
                        drop(state);
                        self.confirm_now(event);
                        return Lease {
                            key,
                            state: Arc::clone(&self.state),
                        };
                    }
                    Some(false) => {}
                }
            }
            assert!(
                Instant::now() < end,
                "resource {key:?} stayed held by events in flight in another state"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Holds the state registered for an event until the event is answered.
#[derive(Debug)]
pub struct Lease {
    key: (String, String),
    state: Arc<Mutex<State>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some((_, count)) = state.leases.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                state.leases.remove(&self.key);
            }
        }
    }
}

fn names(event: &Value) -> (String, String) {
    (
        event["StackId"].as_str().unwrap_or_default().to_owned(),
        event["LogicalResourceId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

// ------------------------------------------------------------------------------ serving

const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

fn serve(stream: TcpStream, state: &Mutex<State>) -> Option<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut stream = stream;
    // One request after another on a kept-alive connection, until the client closes it.
    while let Some(request) = read_request(&mut reader) {
        let params = form(&String::from_utf8_lossy(&request.body));
        let (status, xml) = answer(state, params);
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            if status == 200 { "OK" } else { "Bad Request" },
            xml.len()
        );
        stream.write_all(head.as_bytes()).ok()?;
        stream.write_all(xml.as_bytes()).ok()?;
    }
    Some(())
}

fn form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn answer(state: &Mutex<State>, params: BTreeMap<String, String>) -> (u16, String) {
    let mut state = state.lock().unwrap();
    let action = params.get("Action").cloned().unwrap_or_default();
    state.calls.push(Call {
        action: action.clone(),
        params: params.clone(),
    });
    let mut stack_name = params.get("StackName").cloned().unwrap_or_default();
    if let Some(left @ 1..) = state.throttle.get_mut(&stack_name) {
        *left -= 1;
        return error("Throttling", "Rate exceeded");
    }
    // A stack named rather than given by id: the one of that name not deleted.
    if !stack_name.starts_with("arn:")
        && let Some((id, _)) = state.stacks.iter().find(|(id, stack)| {
            stack_short_name(id) == stack_name && stack.status != "DELETE_COMPLETE"
        })
    {
        stack_name = id.clone();
    }
    let Some(stack) = state.stacks.get_mut(&stack_name) else {
        return error(
            "ValidationError",
            &format!("Stack with id {stack_name} does not exist"),
        );
    };
    match action.as_str() {
        "DescribeStackResource" => {
            let logical = params.get("LogicalResourceId").cloned().unwrap_or_default();
            let Some(reads) = stack.resources.get_mut(&logical) else {
                return error(
                    "ValidationError",
                    &format!("Resource {logical} does not exist for stack {stack_name}"),
                );
            };
            let resource = if reads.len() > 1 {
                reads.pop_front().unwrap()
            } else {
                reads[0].clone()
            };
            let physical = resource
                .physical_id
                .as_deref()
                .map(|id| format!("<PhysicalResourceId>{}</PhysicalResourceId>", escape(id)))
                .unwrap_or_default();
            (
                200,
                format!(
                    "<DescribeStackResourceResponse xmlns=\"{NAMESPACE}\"><DescribeStackResourceResult>\
                     <StackResourceDetail><StackName>{name}</StackName><StackId>{id}</StackId>\
                     <LogicalResourceId>{logical}</LogicalResourceId>{physical}\
                     <ResourceType>{kind}</ResourceType>\
                     <LastUpdatedTimestamp>2026-01-01T00:00:00Z</LastUpdatedTimestamp>\
                     <ResourceStatus>{status}</ResourceStatus></StackResourceDetail>\
                     </DescribeStackResourceResult><ResponseMetadata><RequestId>standin</RequestId>\
                     </ResponseMetadata></DescribeStackResourceResponse>",
                    name = escape(stack_short_name(&stack_name)),
                    id = escape(&stack_name),
                    logical = escape(&logical),
                    kind = escape(&resource.resource_type),
                    status = escape(&resource.status),
                ),
            )
        }
        "DescribeStacks" => {
            let members = |list: &BTreeMap<String, String>, key: &str, value: &str| -> String {
                list.iter()
                    .map(|(k, v)| {
                        format!(
                            "<member><{key}>{}</{key}><{value}>{}</{value}></member>",
                            escape(k),
                            escape(v)
                        )
                    })
                    .collect()
            };
            let n = stack.updates;
            (
                200,
                format!(
                    "<DescribeStacksResponse xmlns=\"{NAMESPACE}\"><DescribeStacksResult><Stacks><member>\
                     <StackName>{name}</StackName><StackId>{id}</StackId>\
                     <CreationTime>2026-01-01T00:00:00Z</CreationTime>\
                     <LastUpdatedTime>2026-01-01T{:02}:{:02}:{:02}Z</LastUpdatedTime>\
                     <Parameters>{parameters}</Parameters><Outputs>{outputs}</Outputs>\
                     <StackStatus>{status}</StackStatus></member></Stacks></DescribeStacksResult>\
                     <ResponseMetadata><RequestId>standin</RequestId></ResponseMetadata>\
                     </DescribeStacksResponse>",
                    n / 3600 % 24,
                    n / 60 % 60,
                    n % 60,
                    name = escape(stack_short_name(&stack_name)),
                    id = escape(&stack_name),
                    status = escape(&stack.status),
                    parameters = members(&stack.parameters, "ParameterKey", "ParameterValue"),
                    outputs = members(&stack.outputs, "OutputKey", "OutputValue"),
                ),
            )
        }
        "DescribeStackEvents" => {
            let size = stack.page.unwrap_or(EVENTS_PER_PAGE);
            let start: usize = match params.get("NextToken") {
                None => 0,
                Some(token) => match token.strip_prefix("page-").and_then(|n| n.parse().ok()) {
                    Some(start) => start,
                    None => return error("ValidationError", "Invalid NextToken"),
                },
            };
            let newest_first: Vec<&(usize, Event)> = stack.events.iter().rev().collect();
            let end = (start + size).min(newest_first.len());
            let members: String = newest_first
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .map(|(id, event)| {
                    let properties = event
                        .properties
                        .as_deref()
                        .map(|p| format!("<ResourceProperties>{}</ResourceProperties>", escape(p)))
                        .unwrap_or_default();
                    format!(
                        "<member><EventId>{id}</EventId><StackName>{name}</StackName>\
                         <StackId>{stack_id}</StackId><LogicalResourceId>{logical}</LogicalResourceId>\
                         <PhysicalResourceId>{physical}</PhysicalResourceId>\
                         <ResourceType>{kind}</ResourceType>\
                         <Timestamp>2026-01-01T00:00:00Z</Timestamp>\
                         <ResourceStatus>{status}</ResourceStatus>{properties}</member>",
                        name = escape(stack_short_name(&stack_name)),
                        stack_id = escape(&stack_name),
                        logical = escape(&event.logical_id),
                        physical = escape(event.physical_id.as_deref().unwrap_or_default()),
                        kind = escape(&event.resource_type),
                        status = escape(&event.status),
                    )
                })
                .collect();
            let next = if end < newest_first.len() {
                format!("<NextToken>page-{end}</NextToken>")
            } else {
                String::new()
            };
            (
                200,
                format!(
                    "<DescribeStackEventsResponse xmlns=\"{NAMESPACE}\"><DescribeStackEventsResult>\
                     <StackEvents>{members}</StackEvents>{next}</DescribeStackEventsResult>\
                     <ResponseMetadata><RequestId>standin</RequestId></ResponseMetadata>\
                     </DescribeStackEventsResponse>"
                ),
            )
        }
        "ListStackResources" => {
            let start: usize = match params.get("NextToken") {
                None => 0,
                Some(token) => match token.strip_prefix("page-").and_then(|n| n.parse().ok()) {
                    Some(start) => start,
                    None => return error("ValidationError", "Invalid NextToken"),
                },
            };
            let all: Vec<(&String, &Resource)> = stack
                .resources
                .iter()
                .filter_map(|(logical, reads)| Some((logical, reads.front()?)))
                .collect();
            let end = (start + stack.resource_page.unwrap_or(all.len())).min(all.len());
            let members: String = all
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .map(|(logical, resource)| {
                    let physical = resource
                        .physical_id
                        .as_deref()
                        .map(|id| {
                            format!("<PhysicalResourceId>{}</PhysicalResourceId>", escape(id))
                        })
                        .unwrap_or_default();
                    format!(
                        "<member><LogicalResourceId>{logical}</LogicalResourceId>{physical}\
                         <ResourceType>{kind}</ResourceType>\
                         <LastUpdatedTimestamp>2026-01-01T00:00:00Z</LastUpdatedTimestamp>\
                         <ResourceStatus>{status}</ResourceStatus></member>",
                        logical = escape(logical),
                        kind = escape(&resource.resource_type),
                        status = escape(&resource.status),
                    )
                })
                .collect();
            let next = if end < all.len() {
                format!("<NextToken>page-{end}</NextToken>")
            } else {
                String::new()
            };
            (
                200,
                format!(
                    "<ListStackResourcesResponse xmlns=\"{NAMESPACE}\"><ListStackResourcesResult>\
                     <StackResourceSummaries>{members}</StackResourceSummaries>{next}\
                     </ListStackResourcesResult><ResponseMetadata><RequestId>standin</RequestId>\
                     </ResponseMetadata></ListStackResourcesResponse>"
                ),
            )
        }
        other => error("InvalidAction", &format!("{other} is not served here")),
    }
}

fn stack_short_name(stack_id: &str) -> &str {
    stack_id
        .split_once(":stack/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(stack_id)
}

fn error(code: &str, message: &str) -> (u16, String) {
    (
        400,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{}</Message></Error><RequestId>standin</RequestId></ErrorResponse>",
            escape(message)
        ),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
