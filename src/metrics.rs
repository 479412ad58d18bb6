//! The function's metrics: one CloudWatch embedded metric format (EMF) document per event, built
//! from what the handler observed ([`EventFacts`]). Pure: the handler prints the line to stdout,
//! Lambda hands it to CloudWatch Logs, and CloudWatch Logs extracts the metrics. No CloudWatch
//! call and no permission beyond writing the function's own logs.
//!
//! Each line also carries a `level` and an RFC 3339 `timestamp`: with the JSON log format,
//! Lambda's log-level filtering reads them, takes a line without them as INFO, and drops it
//! when the function's level is WARN or above. A metric line carries the function's own level,
//! so that no filtering drops it.
//!
//! Dimensions are few and closed: the function's name, and the request type (`Create`,
//! `Update`, `Delete`, or `Unknown` for an event that is no valid request). Every metric is
//! published under both `[FunctionName, RequestType]` and `[FunctionName]`, so that alarms
//! watch totals without naming a request type.

use serde_json::{Map, Value, json};

use crate::aws::meter::CallCounts;
use crate::cfn::event::RequestType;
use crate::time;

/// The CloudWatch namespace of every metric (`template.yaml`'s alarms name it too).
pub const NAMESPACE: &str = "PersonaRole";
/// The dimension naming the function (its `AWS_LAMBDA_FUNCTION_NAME`).
pub const FUNCTION_NAME: &str = "FunctionName";
/// The dimension naming the request type.
pub const REQUEST_TYPE: &str = "RequestType";
/// The request type of an event that is no valid request.
pub const UNKNOWN_REQUEST_TYPE: &str = "Unknown";

/// Events handled: 1 per event.
pub const EVENTS: &str = "Events";
/// SUCCESS answers sent (delivered or not).
pub const SUCCEEDED: &str = "Succeeded";
/// FAILED answers sent (delivered or not); each also counts under one `Failed<Class>`.
pub const FAILED: &str = "Failed";
/// Events no answer could be sent for: stale (CloudFormation no longer waits) or without a
/// usable ResponseURL.
pub const UNANSWERED: &str = "Unanswered";
/// Answers that did not reach the ResponseURL after their retries: the stack waits until the
/// resource's ServiceTimeout.
pub const ANSWER_DELIVERY_FAILED: &str = "AnswerDeliveryFailed";
/// FAILED answers the operator must look into: the function, IAM or CloudFormation failed, or
/// an event came that CloudFormation did not send ([`FailureClass::needs_operator`]). The
/// template's `OperatorFailuresAlarm` watches it.
pub const OPERATOR_FAILURES: &str = "OperatorFailures";
/// FAILED answers the declaring user fixes in the stack (a typo, a guardrail, a name another
/// owns): counted, shown on the dashboard, and alarming no one.
pub const USER_ERRORS: &str = "UserErrors";
/// Milliseconds from the invocation to the answer's last delivery attempt.
pub const ANSWER_TIME: &str = "AnswerTime";
pub const IAM_CALLS: &str = "IamCalls";
pub const IAM_RETRIES: &str = "IamRetries";
pub const IAM_THROTTLES: &str = "IamThrottles";
pub const CLOUDFORMATION_CALLS: &str = "CloudFormationCalls";
pub const CLOUDFORMATION_RETRIES: &str = "CloudFormationRetries";
pub const CLOUDFORMATION_THROTTLES: &str = "CloudFormationThrottles";

/// The levels Lambda's log-level filtering knows, least severe first.
pub const LOG_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// The level of metric lines: the function's application log level as Lambda sets it
/// (`AWS_LAMBDA_LOG_LEVEL`, from the template's ApplicationLogLevel), which its filtering
/// always keeps; INFO, Lambda's default, when it names none.
pub fn line_level(configured: Option<&str>) -> &'static str {
    configured
        .and_then(|level| {
            LOG_LEVELS
                .iter()
                .find(|known| known.eq_ignore_ascii_case(level.trim()))
        })
        .copied()
        .unwrap_or("INFO")
}

/// Why an answer was FAILED: a closed set, each class its own metric (`Failed<Class>`), so that
/// no free text ever becomes a metric or dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureClass {
    /// The event is no valid request (malformed, too large, an unusable StackId).
    InvalidRequest,
    /// The properties are invalid, or their plan fits neither IAM's quotas nor the answer, or
    /// asks what IAM cannot do in place (a new Path alone).
    InvalidProperties,
    /// CloudFormation does not confirm the event (forged, replayed, late, another account's or
    /// region's stack), or could not be asked.
    StackCheck,
    /// The function's guardrails refuse it: required boundary, allowed managed policies and
    /// roles to pass, adoption.
    Guardrail,
    /// The role or a policy is someone else's: never modified.
    Ownership,
    /// IAM refused or failed a call beyond its retries, or was not consistent yet.
    Iam,
    /// The work did not finish before the deadline.
    Deadline,
    /// A bug: a panic, or a step the handler cannot carry out.
    Internal,
}

impl FailureClass {
    pub const ALL: [FailureClass; 8] = [
        FailureClass::InvalidRequest,
        FailureClass::InvalidProperties,
        FailureClass::StackCheck,
        FailureClass::Guardrail,
        FailureClass::Ownership,
        FailureClass::Iam,
        FailureClass::Deadline,
        FailureClass::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::InvalidRequest => "InvalidRequest",
            FailureClass::InvalidProperties => "InvalidProperties",
            FailureClass::StackCheck => "StackCheck",
            FailureClass::Guardrail => "Guardrail",
            FailureClass::Ownership => "Ownership",
            FailureClass::Iam => "Iam",
            FailureClass::Deadline => "Deadline",
            FailureClass::Internal => "Internal",
        }
    }

    /// Whether a FAILED answer of this class needs the operator rather than the user who
    /// declared the resource. The user fixes invalid properties, what the guardrails refuse
    /// and a name someone else owns, in the stack. IAM and CloudFormation failing, the work
    /// outliving its deadline and a panic are the function's or the account's; an event the
    /// stack check refuses or that is no valid request did not come from CloudFormation (a
    /// direct invocation, or a change in CloudFormation itself).
    pub fn needs_operator(self) -> bool {
        match self {
            FailureClass::InvalidProperties | FailureClass::Guardrail | FailureClass::Ownership => {
                false
            }
            FailureClass::InvalidRequest
            | FailureClass::StackCheck
            | FailureClass::Iam
            | FailureClass::Deadline
            | FailureClass::Internal => true,
        }
    }

    /// The metric counting FAILED answers of this class.
    pub fn metric(self) -> &'static str {
        match self {
            FailureClass::InvalidRequest => "FailedInvalidRequest",
            FailureClass::InvalidProperties => "FailedInvalidProperties",
            FailureClass::StackCheck => "FailedStackCheck",
            FailureClass::Guardrail => "FailedGuardrail",
            FailureClass::Ownership => "FailedOwnership",
            FailureClass::Iam => "FailedIam",
            FailureClass::Deadline => "FailedDeadline",
            FailureClass::Internal => "FailedInternal",
        }
    }
}

/// A class is its name wherever it is written (a reconcile run's report).
impl serde::Serialize for FailureClass {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What became of the event's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// None could be sent: the event is stale, or names no usable ResponseURL.
    Unanswered,
    /// SUCCESS (`failure` none) or FAILED, `delivered` or not, after `time_ms`.
    Sent {
        failure: Option<FailureClass>,
        delivered: bool,
        time_ms: u64,
    },
}

/// The most of a RequestId a line carries (CloudFormation's are UUIDs; a forged event's may be
/// anything).
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// Everything the handler observed of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts {
    /// `None` for an event that is no valid request.
    pub request_type: Option<RequestType>,
    /// The event's RequestId, when it names one: not a dimension, but what joins the line to
    /// the request's log lines.
    pub request_id: Option<String>,
    pub answer: Answer,
    pub iam: CallCounts,
    pub cloudformation: CallCounts,
}

/// The EMF document of one event of `function`, its metrics stamped `timestamp_ms` (milliseconds
/// since the epoch), logged at `level` (see [`line_level`]).
pub fn document(function: &str, level: &str, facts: &EventFacts, timestamp_ms: u64) -> Value {
    let request_type = facts
        .request_type
        .map_or(UNKNOWN_REQUEST_TYPE, RequestType::as_str);
    let mut values: Vec<(&'static str, &'static str, u64)> = vec![(EVENTS, "Count", 1)];
    let mut properties = Map::new();
    match facts.answer {
        Answer::Unanswered => {
            values.extend([
                (SUCCEEDED, "Count", 0),
                (FAILED, "Count", 0),
                (OPERATOR_FAILURES, "Count", 0),
                (USER_ERRORS, "Count", 0),
                (UNANSWERED, "Count", 1),
                (ANSWER_DELIVERY_FAILED, "Count", 0),
            ]);
        }
        Answer::Sent {
            failure,
            delivered,
            time_ms,
        } => {
            let operator = failure.is_some_and(FailureClass::needs_operator);
            values.extend([
                (SUCCEEDED, "Count", u64::from(failure.is_none())),
                (FAILED, "Count", u64::from(failure.is_some())),
                (OPERATOR_FAILURES, "Count", u64::from(operator)),
                (
                    USER_ERRORS,
                    "Count",
                    u64::from(failure.is_some() && !operator),
                ),
                (UNANSWERED, "Count", 0),
                (ANSWER_DELIVERY_FAILED, "Count", u64::from(!delivered)),
                (ANSWER_TIME, "Milliseconds", time_ms),
            ]);
            // Only the class that happened: a class that never happens never becomes a metric.
            if let Some(class) = failure {
                values.push((class.metric(), "Count", 1));
            }
            let status = if failure.is_some() {
                "FAILED"
            } else {
                "SUCCESS"
            };
            properties.insert("Status".to_owned(), json!(status));
            if let Some(class) = failure {
                properties.insert("FailureClass".to_owned(), json!(class.as_str()));
            }
        }
    }
    if let Some(id) = &facts.request_id {
        let id: String = id.chars().take(MAX_REQUEST_ID_CHARS).collect();
        properties.insert("RequestId".to_owned(), json!(id));
    }
    run_document(
        function,
        level,
        request_type,
        &values,
        facts.iam,
        facts.cloudformation,
        properties,
        timestamp_ms,
    )
}

/// One metric line: `values` (name, unit, value) under `request_type`, then the IAM and
/// CloudFormation calls, then `properties` (not metrics: a status, a name). An event's line
/// ([`document`]) and the line of a run the operator starts or schedules (the reconcile run,
/// the drift report) alike.
#[allow(clippy::too_many_arguments)]
pub fn run_document(
    function: &str,
    level: &str,
    request_type: &str,
    values: &[(&str, &str, u64)],
    iam: CallCounts,
    cloudformation: CallCounts,
    properties: Map<String, Value>,
    timestamp_ms: u64,
) -> Value {
    let mut values: Vec<(&str, &str, u64)> = values.to_vec();
    values.extend([
        (IAM_CALLS, "Count", iam.calls),
        (IAM_RETRIES, "Count", iam.retries),
        (IAM_THROTTLES, "Count", iam.throttles),
        (CLOUDFORMATION_CALLS, "Count", cloudformation.calls),
        (CLOUDFORMATION_RETRIES, "Count", cloudformation.retries),
        (CLOUDFORMATION_THROTTLES, "Count", cloudformation.throttles),
    ]);
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[FUNCTION_NAME, REQUEST_TYPE], [FUNCTION_NAME]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("level".to_owned(), json!(level));
    root.insert(
        "timestamp".to_owned(),
        json!(time::format_millis(timestamp_ms)),
    );
    root.insert(FUNCTION_NAME.to_owned(), json!(function));
    root.insert(REQUEST_TYPE.to_owned(), json!(request_type));
    for (name, _, value) in values {
        root.insert(name.to_owned(), json!(value));
    }
    root.extend(properties);
    Value::Object(root)
}

/// [`document`] as one line of JSON.
pub fn line(function: &str, level: &str, facts: &EventFacts, timestamp_ms: u64) -> String {
    document(function, level, facts, timestamp_ms).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NONE: CallCounts = CallCounts {
        calls: 0,
        retries: 0,
        throttles: 0,
    };

    fn sent(failure: Option<FailureClass>, delivered: bool) -> Answer {
        Answer::Sent {
            failure,
            delivered,
            time_ms: 1234,
        }
    }

    /// What happened, the values expected `(name, value)`, and the members that must be absent.
    type Row = (
        &'static str,
        EventFacts,
        Vec<(&'static str, u64)>,
        Vec<&'static str>,
    );

    /// Each event's metric values: `(name, value)`, absent names left out of the document.
    #[test]
    fn the_metrics_of_each_kind_of_event() {
        let throttled = CallCounts {
            calls: 9,
            retries: 4,
            throttles: 3,
        };
        let checked = CallCounts {
            calls: 1,
            retries: 0,
            throttles: 0,
        };
        let rows: Vec<Row> = vec![
            (
                "a Create that succeeded",
                EventFacts {
                    request_type: Some(RequestType::Create),
                    request_id: Some("5f3c-11ee".to_owned()),
                    answer: sent(None, true),
                    iam: throttled,
                    cloudformation: checked,
                },
                vec![
                    (EVENTS, 1),
                    (SUCCEEDED, 1),
                    (FAILED, 0),
                    (UNANSWERED, 0),
                    (ANSWER_DELIVERY_FAILED, 0),
                    (ANSWER_TIME, 1234),
                    (IAM_CALLS, 9),
                    (IAM_RETRIES, 4),
                    (IAM_THROTTLES, 3),
                    (CLOUDFORMATION_CALLS, 1),
                    (CLOUDFORMATION_RETRIES, 0),
                    (CLOUDFORMATION_THROTTLES, 0),
                ],
                vec!["FailedInvalidProperties", "FailureClass"],
            ),
            (
                "an Update refused for its properties",
                EventFacts {
                    request_type: Some(RequestType::Update),
                    request_id: None,
                    answer: sent(Some(FailureClass::InvalidProperties), true),
                    iam: NONE,
                    cloudformation: checked,
                },
                vec![
                    (SUCCEEDED, 0),
                    (FAILED, 1),
                    ("FailedInvalidProperties", 1),
                    (IAM_CALLS, 0),
                ],
                vec!["FailedIam", "FailedGuardrail"],
            ),
            (
                "a Delete whose FAILED answer was not delivered",
                EventFacts {
                    request_type: Some(RequestType::Delete),
                    request_id: None,
                    answer: sent(Some(FailureClass::Iam), false),
                    iam: throttled,
                    cloudformation: checked,
                },
                vec![
                    (FAILED, 1),
                    ("FailedIam", 1),
                    (ANSWER_DELIVERY_FAILED, 1),
                    (UNANSWERED, 0),
                ],
                vec![],
            ),
            (
                "a stale event: no answer, no answer time",
                EventFacts {
                    request_type: Some(RequestType::Create),
                    request_id: None,
                    answer: Answer::Unanswered,
                    iam: NONE,
                    cloudformation: NONE,
                },
                vec![
                    (EVENTS, 1),
                    (SUCCEEDED, 0),
                    (FAILED, 0),
                    (UNANSWERED, 1),
                    (ANSWER_DELIVERY_FAILED, 0),
                ],
                vec![ANSWER_TIME, "Status"],
            ),
        ];
        for (what, facts, expected, absent) in rows {
            let document = document("persona-role", "INFO", &facts, 1_764_633_600_000);
            for (name, value) in expected {
                assert_eq!(document[name], json!(value), "{what}: {name}");
            }
            for name in absent {
                assert!(document.get(name).is_none(), "{what}: {name} present");
            }
            let listed: Vec<&str> = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap())
                .collect();
            for name in &listed {
                assert!(document[*name].is_u64(), "{what}: {name} has no value");
            }
            // Sum of the classes is the FAILED count: every FAILED answer has exactly one.
            let classes: u64 = FailureClass::ALL
                .iter()
                .filter_map(|c| document.get(c.metric()).and_then(Value::as_u64))
                .sum();
            assert_eq!(json!(classes), document[FAILED], "{what}");
            // And it is either the operator's or the user's.
            let split = document[OPERATOR_FAILURES].as_u64().unwrap()
                + document[USER_ERRORS].as_u64().unwrap();
            assert_eq!(json!(split), document[FAILED], "{what}");
        }
    }

    #[test]
    fn dimensions_are_the_function_and_a_closed_request_type() {
        let facts = |request_type| EventFacts {
            request_type,
            request_id: None,
            answer: sent(Some(FailureClass::InvalidRequest), true),
            iam: NONE,
            cloudformation: NONE,
        };
        for (request_type, expected) in [
            (Some(RequestType::Create), "Create"),
            (Some(RequestType::Update), "Update"),
            (Some(RequestType::Delete), "Delete"),
            (None, "Unknown"),
        ] {
            let document = document("fn-1", "WARN", &facts(request_type), 1);
            assert_eq!(document[REQUEST_TYPE], expected);
            assert_eq!(document[FUNCTION_NAME], "fn-1");
            assert_eq!(
                document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([["FunctionName", "RequestType"], ["FunctionName"]])
            );
            assert_eq!(
                document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                NAMESPACE
            );
            assert_eq!(document["_aws"]["Timestamp"], 1);
            assert_eq!(document["level"], "WARN");
            assert_eq!(document["timestamp"], "1970-01-01T00:00:00.001Z");
        }
    }

    #[test]
    fn metric_lines_carry_the_functions_own_log_level() {
        for (configured, level) in [
            (None, "INFO"),
            (Some("warn"), "WARN"),
            (Some(" ERROR "), "ERROR"),
            (Some("FATAL"), "FATAL"),
            (Some("trace"), "TRACE"),
            (Some("loud"), "INFO"),
            (Some(""), "INFO"),
        ] {
            assert_eq!(line_level(configured), level, "{configured:?}");
        }
    }

    /// Who acts on a FAILED answer of each class, and the metric that counts it.
    #[test]
    fn each_failure_class_counts_for_the_operator_or_the_user() {
        let operator = [
            FailureClass::InvalidRequest,
            FailureClass::StackCheck,
            FailureClass::Iam,
            FailureClass::Deadline,
            FailureClass::Internal,
        ];
        for class in FailureClass::ALL {
            let document = document(
                "f",
                "INFO",
                &EventFacts {
                    request_type: Some(RequestType::Create),
                    request_id: None,
                    answer: sent(Some(class), true),
                    iam: NONE,
                    cloudformation: NONE,
                },
                1,
            );
            let (one, zero) = if operator.contains(&class) {
                (OPERATOR_FAILURES, USER_ERRORS)
            } else {
                (USER_ERRORS, OPERATOR_FAILURES)
            };
            assert_eq!(
                class.needs_operator(),
                one == OPERATOR_FAILURES,
                "{class:?}"
            );
            assert_eq!(document[one], 1, "{class:?}");
            assert_eq!(document[zero], 0, "{class:?}");
        }
        let succeeded = document(
            "f",
            "INFO",
            &EventFacts {
                request_type: Some(RequestType::Delete),
                request_id: None,
                answer: sent(None, true),
                iam: NONE,
                cloudformation: NONE,
            },
            1,
        );
        assert_eq!(succeeded[OPERATOR_FAILURES], 0);
        assert_eq!(succeeded[USER_ERRORS], 0);
    }

    #[test]
    fn every_failure_class_has_its_own_metric() {
        let mut metrics: Vec<&str> = FailureClass::ALL.iter().map(|c| c.metric()).collect();
        metrics.sort_unstable();
        metrics.dedup();
        assert_eq!(metrics.len(), FailureClass::ALL.len());
        for class in FailureClass::ALL {
            assert_eq!(class.metric(), format!("Failed{}", class.as_str()));
        }
    }

    #[test]
    fn a_line_is_one_line_of_json() {
        let facts = EventFacts {
            request_type: Some(RequestType::Create),
            request_id: None,
            answer: sent(None, true),
            iam: NONE,
            cloudformation: NONE,
        };
        let line = line("fn\nwith a newline", "INFO", &facts, 5);
        assert!(!line.contains('\n'));
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed[FUNCTION_NAME], "fn\nwith a newline");
        assert!(parsed.get("RequestId").is_none());
    }

    #[test]
    fn a_line_names_its_request_within_bounds() {
        let facts = |id: &str| EventFacts {
            request_type: Some(RequestType::Delete),
            request_id: Some(id.to_owned()),
            answer: sent(None, true),
            iam: NONE,
            cloudformation: NONE,
        };
        let document = document("f", "INFO", &facts("5f3c-11ee"), 5);
        assert_eq!(document["RequestId"], "5f3c-11ee");
        let forged = "x".repeat(10_000);
        let document = super::document("f", "INFO", &facts(&forged), 5);
        assert_eq!(
            document["RequestId"].as_str().unwrap().len(),
            MAX_REQUEST_ID_CHARS
        );
    }
}
