//! The CloudFormation side of the custom resource: raw event JSON to a typed [`Request`], the
//! [`Response`] body (at most 4,096 bytes), ResponseURL validation and the PUT of the response.
//!
//! The ResponseURL is a bearer credential for one response: nothing here logs more of it than its
//! host, and network errors are stripped of the URL before they are shown.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use thiserror::Error;

use crate::arn::Arn;

/// CloudFormation refuses a response body longer than this ("Response object is too long").
pub const MAX_BODY_BYTES: usize = 4096;
/// Prefix of the PhysicalResourceId a failed Create answers with when it owns no role: role names
/// cannot contain `:`, so this never names a role and the rollback Delete of it is a no-op.
pub const PLACEHOLDER_PREFIX: &str = "persona-role:failed:";
/// ServiceTimeout CloudFormation applies when the template gives none.
pub const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_secs(3600);
/// Reason text kept when a Reason must be shortened to fit the body.
const MIN_REASON_BYTES: usize = 200;
const TRIMMED_MARK: &str = " [trimmed]";
/// The shortest time one PUT attempt gets, even past the deadline.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// `Fn::GetAtt` attributes, most important first: trimming drops from the end.
    pub data: Vec<(String, String)>,
}

/// What had to go to keep a body within [`MAX_BODY_BYTES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trimmed {
    pub reason: bool,
    pub dropped_data: Vec<String>,
}

impl Response {
    /// The JSON body, at most [`MAX_BODY_BYTES`] long: the Reason is shortened first (to at least
    /// a couple of hundred bytes), then Data attributes are dropped from the last, then the Reason
    /// goes down to nothing. The ids are never cut.
    pub fn body(&self) -> (Vec<u8>, Trimmed) {
        let mut reason = self.reason.clone();
        let mut data = self.data.clone();
        let mut trimmed = Trimmed::default();
        loop {
            let body = self.serialize(reason.as_deref(), &data);
            if body.len() <= MAX_BODY_BYTES {
                return (body, trimmed);
            }
            let excess = body.len() - MAX_BODY_BYTES;
            let floor = MIN_REASON_BYTES + TRIMMED_MARK.len();
            if let Some(text) = reason.as_mut().filter(|r| r.len() > floor) {
                let keep = text
                    .len()
                    .saturating_sub(excess + TRIMMED_MARK.len())
                    .max(MIN_REASON_BYTES);
                *text = format!("{}{TRIMMED_MARK}", cut(text, keep));
                trimmed.reason = true;
                continue;
            }
            if let Some((key, _)) = data.pop() {
                trimmed.dropped_data.push(key);
                continue;
            }
            match reason.as_mut().filter(|r| !r.is_empty()) {
                Some(text) => {
                    let keep = text.len().saturating_sub(excess);
                    *text = cut(text, keep).to_owned();
                    trimmed.reason = true;
                }
                // Only the ids are left: nothing more can go.
                None => return (body, trimmed),
            }
        }
    }

    fn serialize(&self, reason: Option<&str>, data: &[(String, String)]) -> Vec<u8> {
        let mut response = CloudFormationCustomResourceResponse::default();
        response.status = match self.status {
            Status::Success => CloudFormationCustomResourceResponseStatus::Success,
            Status::Failed => CloudFormationCustomResourceResponseStatus::Failed,
        };
        response.reason = reason.map(str::to_owned);
        response.physical_resource_id = self.physical_resource_id.clone();
        response.stack_id = self.stack_id.clone();
        response.request_id = self.request_id.clone();
        response.logical_resource_id = self.logical_resource_id.clone();
        response.no_echo = false;
        response.data = data.iter().cloned().collect();
        // Serializing strings and a string map cannot fail.
        serde_json::to_vec(&response).unwrap_or_default()
    }
}

/// The first at most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        text.to_owned()
    } else {
        format!("{}…", cut(text, max))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("the ResponseURL is not a URL")]
    Unparsable,
    #[error("the ResponseURL must use https, not `{0}`")]
    Scheme(String),
    #[error(
        "the ResponseURL `{0}` is not in one of CloudFormation's response buckets ({RESPONSE_BUCKET_PREFIX}<region> on S3)"
    )]
    NotAResponseBucket(String),
    #[error("the ResponseURL must not carry user credentials")]
    Credentials,
    #[error(
        "the ResponseURL's response bucket is region `{bucket}`'s, but the stack is in `{stack}`: CloudFormation answers through its own region's bucket"
    )]
    OtherRegion { bucket: String, stack: String },
    #[error(
        "the ResponseURL's signature expired at {expired} (signed {signed}): CloudFormation no longer waits for this answer"
    )]
    Expired { signed: String, expired: String },
}

/// CloudFormation's response buckets are named this, then the region without dashes.
pub const RESPONSE_BUCKET_PREFIX: &str = "cloudformation-custom-resource-response-";

/// Checks that a ResponseURL is one CloudFormation could have sent: https, to an object in one of
/// CloudFormation's response buckets on an S3 endpoint (`*.amazonaws.com`, `*.amazonaws.com.cn`),
/// virtual-hosted or path style. Anyone's bucket, API Gateway or load balancer is refused. With
/// `allow_loopback` (local tests only), http or https on 127.0.0.1 or localhost is accepted too.
pub fn validate_response_url(raw: &str, allow_loopback: bool) -> Result<Url, UrlError> {
    let url = Url::parse(raw).map_err(|_| UrlError::Unparsable)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost");
    if allow_loopback && loopback && matches!(url.scheme(), "http" | "https") {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(UrlError::Scheme(url.scheme().to_owned()));
    }
    let first_segment = url.path().trim_start_matches('/').split('/').next();
    let in_response_bucket = match host.split_once('.') {
        // Virtual-hosted style: the bucket is the first label.
        Some((bucket, endpoint)) if is_response_bucket(bucket) => is_s3_endpoint(endpoint),
        // Path style: the bucket is the first path segment.
        _ => is_s3_endpoint(&host) && first_segment.is_some_and(is_response_bucket),
    };
    if !in_response_bucket || url.port().is_some() {
        let shown = format!("{host}{}", cut(url.path(), 60));
        return Err(UrlError::NotAResponseBucket(shorten(&shown, 160)));
    }
    Ok(url)
}

/// Refuses a ResponseURL whose response bucket is not that of the stack's region (the region of
/// `stack_id`, without dashes, ends the bucket's name): a forged event could otherwise have the
/// answer PUT to any region's bucket. Loopback URLs (local tests) name no bucket and pass.
pub fn check_response_region(url: &Url, stack_id: &str) -> Result<(), UrlError> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let first_segment = url.path().trim_start_matches('/').split('/').next();
    let bucket = match host.split_once('.') {
        Some((bucket, _)) if is_response_bucket(bucket) => bucket,
        _ => match first_segment.filter(|s| is_response_bucket(s)) {
            Some(bucket) => bucket,
            None => return Ok(()),
        },
    };
    let bucket_region = bucket
        .strip_prefix(RESPONSE_BUCKET_PREFIX)
        .unwrap_or_default();
    let stack = Arn::parse(stack_id).map_or("", |arn| arn.region);
    if stack.replace('-', "") == bucket_region {
        return Ok(());
    }
    Err(UrlError::OtherRegion {
        bucket: bucket_region.to_owned(),
        stack: shorten(stack, 32),
    })
}

fn is_response_bucket(bucket: &str) -> bool {
    bucket
        .strip_prefix(RESPONSE_BUCKET_PREFIX)
        .is_some_and(|region| {
            !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `s3.amazonaws.com`, `s3.REGION.amazonaws.com`, `s3-REGION.amazonaws.com`,
/// `s3.dualstack.REGION.amazonaws.com`, and the same under `amazonaws.com.cn`.
fn is_s3_endpoint(host: &str) -> bool {
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let region_like = |r: &str| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match rest {
        "s3" => true,
        _ => {
            if let Some(region) = rest
                .strip_prefix("s3.dualstack.")
                .or_else(|| rest.strip_prefix("s3."))
                .or_else(|| rest.strip_prefix("s3-"))
            {
                region_like(region)
            } else {
                false
            }
        }
    }
}

/// When a pre-signed ResponseURL was signed and when its signature expires, from its query:
/// `X-Amz-Date` and `X-Amz-Expires` (SigV4) or `Expires` (SigV2, expiry only). `None` where the
/// URL says nothing of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub signed: Option<SystemTime>,
    pub expires: SystemTime,
}

impl Signature {
    pub fn of(url: &Url) -> Option<Signature> {
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.into_owned())
        };
        if let (Some(date), Some(expires)) = (param("X-Amz-Date"), param("X-Amz-Expires")) {
            let signed = parse_amz_date(&date)?;
            let seconds: u64 = expires.parse().ok()?;
            return Some(Signature {
                signed: Some(signed),
                expires: signed.checked_add(Duration::from_secs(seconds))?,
            });
        }
        let epoch: u64 = param("Expires")?.parse().ok()?;
        Some(Signature {
            signed: None,
            expires: UNIX_EPOCH.checked_add(Duration::from_secs(epoch))?,
        })
    }

    /// Refuses a signature that expired by `now`: its answer can no longer be delivered.
    pub fn check(&self, now: SystemTime) -> Result<(), UrlError> {
        if now < self.expires {
            return Ok(());
        }
        Err(UrlError::Expired {
            signed: self
                .signed
                .map(format_utc)
                .unwrap_or_else(|| "?".to_owned()),
            expired: format_utc(self.expires),
        })
    }
}

/// `20261125T120000Z` → that instant (UTC).
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = crate::time::days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// An instant as `2026-11-25T12:00:00Z`.
fn format_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::time::format(i64::try_from(secs).unwrap_or(0))
}

/// The HTTP client for answers: no redirects (a redirect could lead the answer, and the
/// signature in its URL, to any host) and no proxy from the environment.
pub fn answer_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
}

/// What of a URL may be logged: its host.
pub fn loggable_host(url: &Url) -> &str {
    url.host_str().unwrap_or("?")
}

/// How the PUT of the answer to the ResponseURL is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRetry {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub attempt_timeout: Duration,
}

impl Default for AnswerRetry {
    fn default() -> Self {
        AnswerRetry {
            max_attempts: 6,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PutError {
    #[error("the response URL answered HTTP {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    #[error("the response could not be sent after {attempts} attempt(s): {message}")]
    Network { message: String, attempts: u32 },
    #[error("no time was left before the Lambda deadline to send the response")]
    NoTime,
}

/// PUTs a response body with an empty Content-Type (the URL is signed without one). Network errors
/// and 5xx answers are retried with exponential backoff, within the deadline. Returns the number
/// of attempts made.
pub async fn put_response(
    http: &reqwest::Client,
    url: &Url,
    body: Vec<u8>,
    policy: &AnswerRetry,
    deadline: Option<Instant>,
) -> Result<u32, PutError> {
    let host = loggable_host(url);
    let mut backoff = policy.first_backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        // The first attempt is always made, however late: the deadline is an estimate, and a
        // late answer beats none.
        let mut timeout = policy.attempt_timeout;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() && attempt > 1 {
                return Err(PutError::NoTime);
            }
            timeout = timeout.min(left.max(MIN_ATTEMPT_TIMEOUT));
        }
        let result = http
            .put(url.clone())
            .header(CONTENT_TYPE, "")
            .body(body.clone())
            .timeout(timeout)
            .send()
            .await;
        let error = match result {
            Ok(answer) if answer.status().is_success() => {
                tracing::info!(
                    host,
                    status = answer.status().as_u16(),
                    attempt,
                    "response delivered"
                );
                return Ok(attempt);
            }
            Ok(answer) if answer.status().is_server_error() => PutError::Status {
                status: answer.status().as_u16(),
                attempts: attempt,
            },
            Ok(answer) => {
                return Err(PutError::Status {
                    status: answer.status().as_u16(),
                    attempts: attempt,
                });
            }
            Err(e) => PutError::Network {
                // reqwest's errors name the URL, signature included: drop it.
                message: error_chain(&e.without_url()),
                attempts: attempt,
            },
        };
        let out_of_time = deadline.is_some_and(|d| Instant::now() + backoff >= d);
        if attempt >= policy.max_attempts || out_of_time {
            return Err(error);
        }
        tracing::warn!(host, attempt, error = %error, "response PUT failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}

/// An error and its sources on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_event() -> Value {
        serde_json::from_str(include_str!("../events/data-scientist-create.json")).unwrap()
    }

    fn response(reason: Option<String>, data: Vec<(String, String)>) -> Response {
        Response {
            status: Status::Failed,
            reason,
            physical_resource_id: "sagemaker-x".to_owned(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".to_owned(),
            request_id: "r-1".to_owned(),
            logical_resource_id: "Role".to_owned(),
            data,
        }
    }

    #[test]
    fn sample_events_parse() {
        for (file, kind, physical) in [
            (
                include_str!("../events/data-scientist-create.json"),
                RequestType::Create,
                None,
            ),
            (
                include_str!("../events/data-scientist-update.json"),
                RequestType::Update,
                Some("sagemaker-data-scientist"),
            ),
            (
                include_str!("../events/data-scientist-delete.json"),
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
    fn body_has_cloudformation_field_names() {
        let mut r = response(
            Some("bad".to_owned()),
            vec![("Arn".to_owned(), "a".to_owned())],
        );
        r.status = Status::Success;
        let (body, trimmed) = r.body();
        assert_eq!(trimmed, Trimmed::default());
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["Status"], "SUCCESS");
        assert_eq!(value["Reason"], "bad");
        assert_eq!(value["PhysicalResourceId"], "sagemaker-x");
        assert_eq!(value["RequestId"], "r-1");
        assert_eq!(value["LogicalResourceId"], "Role");
        assert_eq!(value["NoEcho"], false);
        assert_eq!(value["Data"]["Arn"], "a");
    }

    #[test]
    fn long_reason_is_trimmed_first() {
        let reason = "é\"".repeat(3000);
        let data = vec![("Arn".to_owned(), "x".repeat(100))];
        let (body, trimmed) = response(Some(reason), data).body();
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        assert!(trimmed.reason);
        assert!(trimmed.dropped_data.is_empty());
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert!(value["Reason"].as_str().unwrap().ends_with(TRIMMED_MARK));
        assert_eq!(value["Data"]["Arn"].as_str().unwrap().len(), 100);
    }

    #[test]
    fn data_is_dropped_from_the_last_when_the_reason_is_short_enough() {
        let data = vec![
            ("Arn".to_owned(), "a".repeat(100)),
            ("PolicyArns".to_owned(), "p".repeat(3000)),
            ("Activities".to_owned(), "b".repeat(2000)),
        ];
        let (body, trimmed) = response(Some("r".repeat(1000)), data).body();
        assert!(body.len() <= MAX_BODY_BYTES);
        assert_eq!(trimmed.dropped_data, ["Activities"]);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert!(value["Data"].get("PolicyArns").is_some());
        assert_eq!(
            value["Reason"].as_str().unwrap().len(),
            MIN_REASON_BYTES + TRIMMED_MARK.len()
        );
    }

    #[test]
    fn ids_are_never_cut() {
        let mut r = response(Some("x".repeat(5000)), Vec::new());
        r.stack_id = "s".repeat(3800);
        let (body, trimmed) = r.body();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["StackId"].as_str().unwrap().len(), 3800);
        assert!(trimmed.reason);
        assert!(body.len() <= MAX_BODY_BYTES);
    }

    #[test]
    fn response_url_must_be_https_on_an_aws_host() {
        let good = [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=1",
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
            "https://cloudformation-custom-resource-response-usgovwest1.s3.us-gov-west-1.amazonaws.com/x",
            "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x",
            "https://S3.US-WEST-2.AMAZONAWS.COM/cloudformation-custom-resource-response-uswest2/x",
        ];
        for url in good {
            assert!(validate_response_url(url, false).is_ok(), "{url}");
        }
        let bad = [
            (
                "http://s3.amazonaws.com/x",
                UrlError::Scheme("http".to_owned()),
            ),
            (
                "https://amazonaws.com/x",
                UrlError::NotAResponseBucket("amazonaws.com/x".to_owned()),
            ),
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/x",
                UrlError::NotAResponseBucket(
                    "cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/x"
                        .to_owned(),
                ),
            ),
            // Anyone's bucket, API Gateway, a load balancer: all *.amazonaws.com, none allowed.
            (
                "https://my-bucket.s3.amazonaws.com/x",
                UrlError::NotAResponseBucket("my-bucket.s3.amazonaws.com/x".to_owned()),
            ),
            (
                "https://s3.amazonaws.com/my-bucket/cloudformation-custom-resource-response-useast1",
                UrlError::NotAResponseBucket(
                    "s3.amazonaws.com/my-bucket/cloudformation-custom-resource-response-useast1"
                        .to_owned(),
                ),
            ),
            (
                "https://abc123.execute-api.us-east-1.amazonaws.com/cloudformation-custom-resource-response-useast1",
                UrlError::NotAResponseBucket(
                    "abc123.execute-api.us-east-1.amazonaws.com/cloudformation-custom-resource-response-useast1"
                        .to_owned(),
                ),
            ),
            (
                "https://cloudformation-custom-resource-response-useast1.elb.amazonaws.com/x",
                UrlError::NotAResponseBucket(
                    "cloudformation-custom-resource-response-useast1.elb.amazonaws.com/x".to_owned(),
                ),
            ),
            (
                "https://user:pw@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
                UrlError::Credentials,
            ),
            (
                "http://127.0.0.1:8080/x",
                UrlError::Scheme("http".to_owned()),
            ),
            ("not a url", UrlError::Unparsable),
        ];
        for (url, error) in bad {
            assert_eq!(validate_response_url(url, false), Err(error), "{url}");
        }
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

    #[test]
    fn response_bucket_must_be_the_stack_regions() {
        let stack =
            |region: &str| format!("arn:aws:cloudformation:{region}:123456789012:stack/s/1");
        for (url, region, ok) in [
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
                "us-east-1",
                true,
            ),
            (
                "https://s3.eu-west-1.amazonaws.com/cloudformation-custom-resource-response-euwest1/x",
                "eu-west-1",
                true,
            ),
            (
                "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
                "cn-north-1",
                true,
            ),
            (
                "https://cloudformation-custom-resource-response-uswest2.s3.amazonaws.com/x",
                "us-east-1",
                false,
            ),
            (
                "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x",
                "eu-west-1",
                false,
            ),
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
                "",
                false,
            ),
            ("http://127.0.0.1:9/r", "us-east-1", true),
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(
                check_response_region(&url, &stack(region)).is_ok(),
                ok,
                "{url} {region}"
            );
        }
    }

    #[test]
    fn loopback_is_allowed_only_when_asked() {
        assert!(validate_response_url("http://127.0.0.1:9/r?sig=1", true).is_ok());
        assert!(validate_response_url("http://localhost:9/r", true).is_ok());
        assert!(validate_response_url("http://10.0.0.1:9/r", true).is_err());
        assert!(validate_response_url("ftp://127.0.0.1/r", true).is_err());
    }

    #[test]
    fn the_signature_window_is_read_from_the_url() {
        let url = Url::parse(
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Date=20261125T120000Z&X-Amz-Expires=7200&X-Amz-Signature=1",
        )
        .unwrap();
        let signature = Signature::of(&url).unwrap();
        let signed = UNIX_EPOCH + Duration::from_secs(1_795_608_000);
        assert_eq!(format_utc(signed), "2026-11-25T12:00:00Z");
        assert_eq!(signature.signed, Some(signed));
        assert_eq!(signature.expires, signed + Duration::from_secs(7200));
        assert!(signature.check(signed + Duration::from_secs(7199)).is_ok());
        let error = signature
            .check(signed + Duration::from_secs(7200))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the ResponseURL's signature expired at 2026-11-25T14:00:00Z (signed 2026-11-25T12:00:00Z): CloudFormation no longer waits for this answer"
        );
        // SigV2: an expiry only.
        let v2 = Url::parse("https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x?Expires=1795615200&Signature=a").unwrap();
        let signature = Signature::of(&v2).unwrap();
        assert_eq!(signature.signed, None);
        assert_eq!(signature.expires, signed + Duration::from_secs(7200));
        // Nothing said, or nonsense: unknown.
        for query in ["", "?X-Amz-Date=2026&X-Amz-Expires=1", "?Expires=soon"] {
            let url = Url::parse(&format!("https://h.example/x{query}")).unwrap();
            assert_eq!(Signature::of(&url), None, "{query}");
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        for (text, iso) in [
            ("19700101T000000Z", "1970-01-01T00:00:00Z"),
            ("20000229T235959Z", "2000-02-29T23:59:59Z"),
            ("20261231T010203Z", "2026-12-31T01:02:03Z"),
        ] {
            assert_eq!(format_utc(parse_amz_date(text).unwrap()), iso);
        }
        assert_eq!(parse_amz_date("20261301T000000Z"), None);
    }
}
