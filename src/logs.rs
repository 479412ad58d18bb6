//! The Lambda function's log lines: one flat JSON object per line, in the keys Powertools for
//! AWS Lambda's logger writes, so that the queries and dashboards operators already have for
//! Powertools functions work on these too. Every line starts with `level`, `message`,
//! `timestamp` (RFC 3339, UTC, milliseconds) and `service`; inside an invocation it carries
//! `cold_start`, `function_request_id` and `xray_trace_id` (the fields of the binary's span),
//! and inside an event the custom resource's `RequestId`, `LogicalResourceId` and `RequestType`;
//! then the line's own fields (`iam_action`, `role`, `error`, …). All at the top level: no
//! `fields.` or `span.` nesting. Lambda's log-level filtering reads `level` and `timestamp`.
//!
//! Only spans of this crate's code (targets starting with `persona_role`) lend their fields:
//! the Lambda runtime's own span repeats the request id under another name.

use std::fmt::Debug;
use std::io::Write;

use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::subscriber::layer::{Context, Layer};
use lambda_runtime::tracing::subscriber::registry::LookupSpan;
use serde_json::{Map, Number, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};

use crate::time;

/// The service name when `POWERTOOLS_SERVICE_NAME` names none.
pub const DEFAULT_SERVICE: &str = "persona-role";
/// Powertools' variable naming the service every line carries.
pub const SERVICE_ENV: &str = "POWERTOOLS_SERVICE_NAME";
/// The keys every line starts with; a field of the same name never replaces them.
pub const RESERVED: [&str; 4] = ["level", "message", "timestamp", "service"];
/// Spans whose targets start with this lend their fields to the lines inside them.
const OWN_TARGETS: &str = "persona_role";

/// The layer writing each event as one flat JSON line to `writer`.
pub struct JsonLines<W> {
    service: String,
    writer: W,
}

impl<W> JsonLines<W> {
    /// Lines naming `service` (see [`service_name`]), written to `writer`.
    pub fn new(service: impl Into<String>, writer: W) -> Self {
        JsonLines {
            service: service.into(),
            writer,
        }
    }
}

/// The service name Powertools would use: `POWERTOOLS_SERVICE_NAME`, else this project's.
pub fn service_name(configured: Option<&str>) -> String {
    configured
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(DEFAULT_SERVICE)
        .to_owned()
}

/// A span's fields, kept in its extensions as they are recorded.
struct SpanFields(Map<String, Value>);

/// Collects fields as JSON values; the `message` field apart.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    values: Map<String, Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.values.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        let value =
            Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.put(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

/// Adds `fields` to `line`, leaving the reserved keys as they are.
fn extend(line: &mut Map<String, Value>, fields: &Map<String, Value>) {
    for (key, value) in fields {
        if !RESERVED.contains(&key.as_str()) {
            line.insert(key.clone(), value.clone());
        }
    }
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !span.metadata().target().starts_with(OWN_TARGETS) {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(SpanFields(fields.values));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(SpanFields(recorded)) = span.extensions_mut().get_mut::<SpanFields>() {
            recorded.extend(fields.values);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert(
            "level".to_owned(),
            Value::String(event.metadata().level().to_string()),
        );
        line.insert(
            "message".to_owned(),
            Value::String(fields.message.unwrap_or_default()),
        );
        line.insert(
            "timestamp".to_owned(),
            Value::String(time::format_millis(time::now_millis())),
        );
        line.insert("service".to_owned(), Value::String(self.service.clone()));
        // Outer spans first, so that an inner span's field wins over an outer one's.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(recorded)) = span.extensions().get::<SpanFields>() {
                    extend(&mut line, recorded);
                }
            }
        }
        extend(&mut line, &fields.values);
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // One write of the whole line, so that no other line lands inside it; a closed stdout
        // loses the line, never the answer.
        let _ = self.writer.make_writer().write_all(text.as_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::sync::{Arc, Mutex};

    use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
    use lambda_runtime::tracing::subscriber::registry;
    use tracing::Level;

    use super::*;

    /// Lines written to a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    /// The lines `log` writes, parsed.
    fn lines(log: impl FnOnce()) -> Vec<Map<String, Value>> {
        let buffer = Buffer::default();
        let subscriber = registry().with(JsonLines::new("svc", buffer.clone()));
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| match serde_json::from_str(line).unwrap() {
                Value::Object(map) => map,
                other => panic!("not an object: {other}"),
            })
            .collect()
    }

    #[test]
    fn a_line_is_flat_with_powertools_keys_first() {
        let lines = lines(|| {
            let invocation = tracing::info_span!(
                "invocation",
                cold_start = true,
                function_request_id = "aws-1",
                xray_trace_id = tracing::field::Empty,
            );
            invocation.record("xray_trace_id", "Root=1-abc");
            let _invocation = invocation.enter();
            let resource = tracing::info_span!(
                "custom_resource",
                RequestId = %"req-1",
                LogicalResourceId = "DataScientist",
            );
            let _resource = resource.enter();
            tracing::info!(iam_action = "CreateRole", attempt = 2_u64, "IAM change");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        let keys: Vec<&str> = line.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "level",
                "message",
                "timestamp",
                "service",
                "cold_start",
                "function_request_id",
                "xray_trace_id",
                "RequestId",
                "LogicalResourceId",
                "iam_action",
                "attempt"
            ]
        );
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "IAM change");
        assert_eq!(line["service"], "svc");
        assert_eq!(line["cold_start"], true);
        assert_eq!(line["function_request_id"], "aws-1");
        assert_eq!(line["xray_trace_id"], "Root=1-abc");
        assert_eq!(line["RequestId"], "req-1");
        assert_eq!(line["attempt"], 2);
        let stamp = line["timestamp"].as_str().unwrap();
        assert_eq!(time::parse(stamp).map(|_| stamp.len()), Some(24), "{stamp}");
    }

    #[test]
    fn foreign_spans_lend_nothing_and_fields_never_replace_the_reserved_keys() {
        let lines = lines(|| {
            let runtime = tracing::span!(target: "lambda_runtime::layers::trace", Level::INFO, "Lambda runtime invoke", requestId = "aws-2");
            let _runtime = runtime.enter();
            let own =
                tracing::info_span!("custom_resource", level = "forged", RequestType = "Update");
            let _own = own.enter();
            tracing::warn!(service = "other", timestamp = 5, "deadline reached");
            tracing::error!(error = %std::io::Error::other("boom"), "work failed");
        });
        assert_eq!(lines.len(), 2);
        let warn = &lines[0];
        assert_eq!(warn["level"], "WARN");
        assert_eq!(warn["service"], "svc");
        assert!(warn["timestamp"].is_string());
        assert_eq!(warn["RequestType"], "Update");
        assert!(!warn.contains_key("requestId"), "{warn:?}");
        assert!(!warn.contains_key("fields") && !warn.contains_key("span"));
        assert_eq!(lines[1]["error"], "boom");
        assert_eq!(lines[1]["level"], "ERROR");
    }

    #[test]
    fn the_service_is_powertools_own_variable_or_this_projects() {
        assert_eq!(service_name(None), "persona-role");
        assert_eq!(service_name(Some("  ")), "persona-role");
        assert_eq!(service_name(Some("ml-platform")), "ml-platform");
    }
}
