//! A CloudFormation custom-resource event, raw JSON to a typed [`Request`]: bounded in size and
//! depth before it is parsed, and a malformed one salvaged for what is needed to answer it.

use std::time::Duration;

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use thiserror::Error;

use super::answer::shorten;

/// ServiceTimeout CloudFormation applies when the template gives none.
pub const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

/// A CloudFormation custom-resource request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub request_type: RequestType,
    pub request_id: String,
    pub response_url: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    /// Update and Delete only.
    pub physical_resource_id: Option<String>,
    pub properties: Value,
    /// Update only.
    pub old_properties: Option<Value>,
    /// The optional `ServiceTimeout` property: how long CloudFormation waits for the answer.
    pub service_timeout: Option<Duration>,
}

/// An event that is no valid request, with whatever of it is needed to still answer FAILED.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message}")]
pub struct EventError {
    pub message: String,
    pub response_url: Option<String>,
    pub request_id: Option<String>,
    pub stack_id: Option<String>,
    pub logical_resource_id: Option<String>,
    pub physical_resource_id: Option<String>,
}

/// The largest event read: an Update carries new and old properties, and no role can use more
/// than IAM's 133,120 characters of policy (see `properties::MAX_POLICY_VALUE_CHARS`) in either.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;
/// The deepest nesting read. A real event nests five levels (event, ResourceProperties,
/// ActivityParameters, an activity, a list); serde_json itself gives up at 128, before the
/// handler could answer.
pub const MAX_EVENT_DEPTH: usize = 16;

/// Reads the raw bytes of an invocation into JSON, refusing what is too large or too deep
/// before parsing it; the refusal keeps what is needed to still answer FAILED, read without
/// descending into the event's properties.
pub fn read_event(raw: &[u8]) -> Result<Value, Box<EventError>> {
    let refuse = |message: String| Box::new(salvage_envelope(raw, message));
    if raw.len() > MAX_EVENT_BYTES {
        return Err(refuse(format!(
            "the event is {} bytes; at most {MAX_EVENT_BYTES} are read (no role's properties need more)",
            raw.len()
        )));
    }
    let depth = nesting_depth(raw);
    if depth > MAX_EVENT_DEPTH {
        return Err(refuse(format!(
            "the event nests {depth} levels deep; at most {MAX_EVENT_DEPTH} are read (properties nest at most five)"
        )));
    }
    serde_json::from_slice(raw).map_err(|e| refuse(format!("the event is not JSON: {e}")))
}

/// The deepest nesting of arrays and objects in JSON text, outside strings; linear and without
/// recursion, so any input is measured.
fn nesting_depth(raw: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in raw {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The envelope of an event, each field kept raw: serde_json skips the others (and anything
/// deep inside them) without recursing.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    #[serde(rename = "ResponseURL")]
    response_url: Option<Box<RawValue>>,
    request_id: Option<Box<RawValue>>,
    stack_id: Option<Box<RawValue>>,
    logical_resource_id: Option<Box<RawValue>>,
    physical_resource_id: Option<Box<RawValue>>,
}

/// What can be read of an event that will not be parsed whole, to answer it.
fn salvage_envelope(raw: &[u8], message: String) -> EventError {
    let envelope: Option<Envelope> = serde_json::from_slice(raw).ok();
    let text = |field: fn(&Envelope) -> &Option<Box<RawValue>>| {
        envelope
            .as_ref()
            .and_then(|e| field(e).as_ref())
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    };
    EventError {
        message,
        response_url: text(|e| &e.response_url),
        request_id: text(|e| &e.request_id),
        stack_id: text(|e| &e.stack_id),
        logical_resource_id: text(|e| &e.logical_resource_id),
        physical_resource_id: text(|e| &e.physical_resource_id).filter(|id| !id.is_empty()),
    }
}

/// Parses a raw event. Never panics on any JSON.
pub fn parse_event(event: &Value) -> Result<Request, Box<EventError>> {
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
    let salvage = |message: String| {
        Box::new(EventError {
            message,
            response_url: text("ResponseURL"),
            request_id: text("RequestId"),
            stack_id: text("StackId"),
            logical_resource_id: text("LogicalResourceId"),
            physical_resource_id: text("PhysicalResourceId").filter(|id| !id.is_empty()),
        })
    };
    if !event.is_object() {
        return Err(salvage("the event is not a JSON object".to_owned()));
    }
    match event.get("RequestType").and_then(Value::as_str) {
        Some("Create" | "Update" | "Delete") => {}
        Some(other) => {
            return Err(salvage(format!(
                "unknown RequestType `{}`; expected Create, Update or Delete",
                shorten(other, 64)
            )));
        }
        None => return Err(salvage("the event has no RequestType".to_owned())),
    }
    let typed: CloudFormationCustomResourceRequest = serde_json::from_value(event.clone())
        .map_err(|e| {
            salvage(format!(
                "the event is not a CloudFormation custom-resource request: {e}"
            ))
        })?;
    let mut request = match typed {
        CloudFormationCustomResourceRequest::Create(r) => Request {
            request_type: RequestType::Create,
            request_id: r.request_id,
            response_url: r.response_url,
            stack_id: r.stack_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: None,
            properties: r.resource_properties,
            old_properties: None,
            service_timeout: None,
        },
        CloudFormationCustomResourceRequest::Update(r) => Request {
            request_type: RequestType::Update,
            request_id: r.request_id,
            response_url: r.response_url,
            stack_id: r.stack_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: Some(r.physical_resource_id),
            properties: r.resource_properties,
            old_properties: Some(r.old_resource_properties),
            service_timeout: None,
        },
        CloudFormationCustomResourceRequest::Delete(r) => Request {
            request_type: RequestType::Delete,
            request_id: r.request_id,
            response_url: r.response_url,
            stack_id: r.stack_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: Some(r.physical_resource_id),
            properties: r.resource_properties,
            old_properties: None,
            service_timeout: None,
        },
        _ => return Err(salvage("unsupported RequestType".to_owned())),
    };
    if request.physical_resource_id.as_deref() == Some("") {
        return Err(salvage(
            "the event has an empty PhysicalResourceId".to_owned(),
        ));
    }
    for (name, value) in [
        ("RequestId", &request.request_id),
        ("StackId", &request.stack_id),
        ("LogicalResourceId", &request.logical_resource_id),
    ] {
        if value.is_empty() {
            return Err(salvage(format!("the event has an empty {name}")));
        }
    }
    // CloudFormation passes ServiceTimeout among the properties; accept it top-level too.
    request.service_timeout = service_timeout(request.properties.get("ServiceTimeout"))
        .or_else(|| service_timeout(event.get("ServiceTimeout")));
    Ok(request)
}

/// ServiceTimeout in seconds, 1–3,600, as a string or a number.
fn service_timeout(value: Option<&Value>) -> Option<Duration> {
    let seconds = match value? {
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    (1..=3600)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_event() -> Value {
        serde_json::from_str(include_str!("../../events/data-scientist-create.json")).unwrap()
    }

    #[test]
    fn sample_events_parse() {
        for (file, kind, physical) in [
            (
                include_str!("../../events/data-scientist-create.json"),
                RequestType::Create,
                None,
            ),
            (
                include_str!("../../events/data-scientist-update.json"),
                RequestType::Update,
                Some("sagemaker-data-scientist"),
            ),
            (
                include_str!("../../events/data-scientist-delete.json"),
                RequestType::Delete,
                Some("sagemaker-data-scientist"),
            ),
        ] {
            let request = parse_event(&serde_json::from_str(file).unwrap()).unwrap();
            assert_eq!(request.request_type, kind);
            assert_eq!(request.physical_resource_id.as_deref(), physical);
            assert_eq!(request.logical_resource_id, "DataScientist");
            assert!(request.properties.get("Persona").is_some());
            assert_eq!(
                request.old_properties.is_some(),
                kind == RequestType::Update
            );
        }
    }

    #[test]
    fn service_timeout_is_read_from_the_properties() {
        let mut event = create_event();
        event["ResourceProperties"]["ServiceTimeout"] = json!("120");
        assert_eq!(
            parse_event(&event).unwrap().service_timeout,
            Some(Duration::from_secs(120))
        );
        event["ResourceProperties"]["ServiceTimeout"] = json!("0");
        assert_eq!(parse_event(&event).unwrap().service_timeout, None);
        event["ResourceProperties"]["ServiceTimeout"] = json!(90);
        assert_eq!(
            parse_event(&event).unwrap().service_timeout,
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn malformed_events_keep_what_is_needed_to_answer() {
        let mut event = create_event();
        event["RequestType"] = json!("Upsert");
        let error = parse_event(&event).unwrap_err();
        assert!(error.message.contains("`Upsert`"), "{error}");
        assert!(error.response_url.is_some());
        assert_eq!(
            error.request_id.as_deref(),
            Some("data-scientist-create-0001")
        );

        let mut event = create_event();
        event.as_object_mut().unwrap().remove("StackId");
        let error = parse_event(&event).unwrap_err();
        assert!(error.message.contains("StackId"), "{error}");
        assert!(error.response_url.is_some());

        let error = parse_event(&json!([1, 2])).unwrap_err();
        assert!(error.response_url.is_none());
        assert!(parse_event(&json!({"RequestType": "Delete"})).is_err());
    }

    #[test]
    fn events_too_deep_or_too_large_are_refused_with_their_envelope() {
        let mut event = create_event();
        let mut deep = json!("x");
        for _ in 0..200 {
            deep = json!([deep]);
        }
        event["ResourceProperties"]["Tags"] = deep;
        let raw = serde_json::to_vec(&event).unwrap();
        // serde_json alone gives up at 128 levels, before anything could answer.
        assert!(serde_json::from_slice::<Value>(&raw).is_err());
        let error = read_event(&raw).unwrap_err();
        assert!(
            error.message.contains("nests 202 levels deep"),
            "{}",
            error.message
        );
        assert_eq!(error.response_url.as_deref(), event["ResponseURL"].as_str());
        assert_eq!(error.request_id.as_deref(), event["RequestId"].as_str());
        assert_eq!(error.stack_id.as_deref(), event["StackId"].as_str());
        assert_eq!(error.logical_resource_id.as_deref(), Some("DataScientist"));

        let mut event = create_event();
        event["ResourceProperties"]["Description"] = json!("d".repeat(MAX_EVENT_BYTES));
        let error = read_event(&serde_json::to_vec(&event).unwrap()).unwrap_err();
        assert!(
            error.message.starts_with("the event is 52"),
            "{}",
            error.message
        );
        assert_eq!(error.request_id.as_deref(), event["RequestId"].as_str());

        // Brackets inside strings are text, not nesting.
        let mut event = create_event();
        event["ResourceProperties"]["Description"] =
            json!("[[[[[[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{{{{{{{{{");
        let raw = serde_json::to_vec(&event).unwrap();
        assert_eq!(read_event(&raw).unwrap(), event);
        let plain = serde_json::to_vec(&create_event()).unwrap();
        assert_eq!(nesting_depth(&raw), nesting_depth(&plain));

        let error = read_event(b"{\"RequestId\": \"r\", \"StackId\": 7").unwrap_err();
        assert!(
            error.message.starts_with("the event is not JSON"),
            "{}",
            error.message
        );
        assert_eq!(error.request_id, None);
    }
}
