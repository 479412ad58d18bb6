//! The function's metrics: one embedded metric format (EMF) line per event, valid by the
//! specification's rules (`support/emf.rs`), carrying what happened — the request type, the
//! answer's status and failure class, the IAM and CloudFormation calls with their retries and
//! throttles (counted against what moto and the fault proxy saw), the answer's time and its
//! delivery — for events run through the handler against moto and the CloudFormation stand-in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use persona_role::guardrails::Guardrails;
use persona_role::handler::{HandlerError, MetricSink, Settings};
use persona_role::{drift_report, metrics};
use serde_json::{Value, json};
use support::emf::{validate, validated};
use support::*;

/// A handler on moto whose metric lines go to `sink`.
fn metered(calls: Option<&CallLog>, sink: &MetricSink) -> TestHandler {
    metered_with(iam_client(calls), sink, Settings::default().guardrails)
}

fn metered_with(
    iam: aws_sdk_iam::Client,
    sink: &MetricSink,
    guardrails: Guardrails,
) -> TestHandler {
    handler_with(
        iam,
        Settings {
            metric_sink: sink.clone(),
            guardrails,
            ..settings()
        },
    )
}

/// The one metric document the handler wrote, validated.
fn the_line(sink: &MetricSink) -> Value {
    let lines = sink.lines();
    assert_eq!(lines.len(), 1, "one metric line per event: {lines:#?}");
    validated(&lines).remove(0)
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The metric members of a document, by name.
fn metric_names(document: &Value) -> Vec<&str> {
    document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect()
}

/// The failure classes the operator acts on; the others are the declaring user's to fix.
const OPERATOR_CLASSES: [&str; 5] = [
    "StackCheck",
    "Iam",
    "Deadline",
    "Internal",
    "InvalidRequest",
];

/// A FAILED answer counts once in `Failed` and once under its class, and in no other class;
/// once as the operator's (`OperatorFailures`) or the user's (`UserErrors`), as its class is.
fn assert_failed_as(document: &Value, class: &str) {
    assert_eq!(document["Failed"], 1, "{document}");
    assert_eq!(document["Succeeded"], 0, "{document}");
    assert_eq!(document["FailureClass"], class, "{document}");
    assert_eq!(document[format!("Failed{class}")], 1, "{document}");
    let classes: Vec<&str> = metric_names(document)
        .into_iter()
        .filter(|n| n.starts_with("Failed") && *n != "Failed")
        .collect();
    assert_eq!(classes, [format!("Failed{class}")], "{document}");
    let operator = OPERATOR_CLASSES.contains(&class);
    assert_eq!(
        document["OperatorFailures"],
        u64::from(operator),
        "{document}"
    );
    assert_eq!(document["UserErrors"], u64::from(!operator), "{document}");
}

// ----------------------------------------------------------------- the validator itself

#[test]
fn the_validator_accepts_the_specifications_example() {
    let example = json!({
        "_aws": {
            "Timestamp": 1574109732004u64,
            "CloudWatchMetrics": [{
                "Namespace": "lambda-function-metrics",
                "Dimensions": [["functionVersion"]],
                "Metrics": [{"Name": "time", "Unit": "Milliseconds"}]
            }]
        },
        "functionVersion": "$LATEST",
        "time": 100,
        "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee"
    });
    validate(&example.to_string()).unwrap();
}

/// A change that makes a valid document invalid.
type Breaks = Box<dyn Fn(&mut Value)>;

#[test]
fn the_validator_refuses_what_the_specification_forbids() {
    let valid = || {
        json!({
            "_aws": {
                "Timestamp": 1_764_633_600_000u64,
                "CloudWatchMetrics": [{
                    "Namespace": "PersonaRole",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": "Events", "Unit": "Count"}]
                }]
            },
            "FunctionName": "f",
            "Events": 1
        })
    };
    let directive = "/_aws/CloudWatchMetrics/0";
    let cases: Vec<(&str, Breaks)> = vec![
        ("no _aws", Box::new(|d| d["_aws"] = json!(null))),
        (
            "a timestamp in seconds",
            Box::new(|d| d["_aws"]["Timestamp"] = json!(1_764_633_600u64)),
        ),
        (
            "no timestamp",
            Box::new(|d| {
                d["_aws"].as_object_mut().unwrap().remove("Timestamp");
            }),
        ),
        (
            "an unknown metadata member",
            Box::new(|d| d["_aws"]["Extra"] = json!(1)),
        ),
        (
            "a metric without its value",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("Events");
            }),
        ),
        (
            "a metric whose value is text",
            Box::new(|d| d["Events"] = json!("1")),
        ),
        (
            "a nested target",
            Box::new(move |d| {
                d.pointer_mut(directive).unwrap()["Metrics"][0]["Name"] = json!("a.b");
                d["a"] = json!({"b": 1});
            }),
        ),
        (
            "too many values",
            Box::new(|d| d["Events"] = json!(vec![1; 101])),
        ),
        (
            "a dimension that is a number",
            Box::new(|d| d["FunctionName"] = json!(3)),
        ),
        (
            "a dimension that is missing",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("FunctionName");
            }),
        ),
        (
            "31 dimensions",
            Box::new(move |d| {
                let keys: Vec<String> = (0..31).map(|i| format!("D{i}")).collect();
                for key in &keys {
                    d[key] = json!("v");
                }
                d.pointer_mut(directive).unwrap()["Dimensions"] = json!([keys]);
            }),
        ),
        (
            "no dimension set",
            Box::new(move |d| {
                d.pointer_mut(directive).unwrap()["Dimensions"] = json!([]);
            }),
        ),
        (
            "101 metrics",
            Box::new(move |d| {
                let names: Vec<Value> = (0..101)
                    .map(|i| json!({"Name": format!("M{i}"), "Unit": "Count"}))
                    .collect();
                for i in 0..101 {
                    d[format!("M{i}")] = json!(1);
                }
                d.pointer_mut(directive).unwrap()["Metrics"] = json!(names);
            }),
        ),
        (
            "an unknown unit",
            Box::new(move |d| {
                d.pointer_mut(directive).unwrap()["Metrics"][0]["Unit"] = json!("Requests");
            }),
        ),
        (
            "a storage resolution of 30",
            Box::new(move |d| {
                d.pointer_mut(directive).unwrap()["Metrics"][0]["StorageResolution"] = json!(30);
            }),
        ),
        (
            "an unknown directive member",
            Box::new(move |d| {
                d.pointer_mut(directive).unwrap()["Extra"] = json!(1);
            }),
        ),
        (
            "an empty namespace",
            Box::new(move |d| {
                d.pointer_mut(directive).unwrap()["Namespace"] = json!("");
            }),
        ),
    ];
    validate(&valid().to_string()).unwrap();
    for (what, break_it) in cases {
        let mut document = valid();
        break_it(&mut document);
        assert!(
            validate(&document.to_string()).is_err(),
            "{what} was accepted: {document}"
        );
    }
    let line = valid().to_string();
    assert!(
        validate(&format!("{line} trailing")).is_err(),
        "trailing data"
    );
    assert!(
        validate(&format!("{line}\n{line}")).is_err(),
        "two documents"
    );
}

// ----------------------------------------------------------------- events end to end

#[tokio::test]
async fn a_successful_create_counts_its_calls_and_its_answer() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let calls = CallLog::default();
    let handler = metered(Some(&calls), &sink);
    let create = sample_event("data-scientist", "create", "metrics-ok", &recorder);
    let before = now_ms();
    let started = Instant::now();
    let response = invoke(&handler, &create, &recorder).await;
    let took = started.elapsed();
    assert_eq!(response["Status"], "SUCCESS", "{response}");

    let document = the_line(&sink);
    let aws = &document["_aws"];
    let stamped = aws["Timestamp"].as_u64().unwrap();
    assert!(
        stamped >= before && stamped <= now_ms(),
        "stamped {stamped}"
    );
    let directive = &aws["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], metrics::NAMESPACE);
    assert_eq!(
        directive["Dimensions"],
        json!([["FunctionName", "RequestType"], ["FunctionName"]])
    );
    assert_eq!(document["FunctionName"], TEST_FUNCTION_NAME);
    assert_eq!(document["RequestType"], "Create");
    assert_eq!(document["RequestId"], create["RequestId"]);
    assert_eq!(document["Status"], "SUCCESS");
    for (name, value) in [
        ("Events", 1),
        ("Succeeded", 1),
        ("Failed", 0),
        ("Unanswered", 0),
        ("AnswerDeliveryFailed", 0),
        ("IamRetries", 0),
        ("IamThrottles", 0),
        ("CloudFormationRetries", 0),
        ("CloudFormationThrottles", 0),
    ] {
        assert_eq!(document[name], value, "{name}: {document}");
    }
    // Every IAM call the client made, as the call log saw them; the stack check's read.
    let made = calls.calls();
    assert!(made.iter().any(|c| c == "CreateRole"), "{made:?}");
    assert_eq!(document["IamCalls"], made.len(), "{made:?}");
    assert!(document["CloudFormationCalls"].as_u64().unwrap() >= 1);
    let answer_ms = document["AnswerTime"].as_u64().unwrap();
    assert!(
        u128::from(answer_ms) <= took.as_millis(),
        "{answer_ms} ms > {took:?}"
    );
    assert!(
        !metric_names(&document)
            .iter()
            .any(|n| n.starts_with("Failed") && *n != "Failed")
    );
    assert!(document.get("FailureClass").is_none());
}

#[tokio::test]
async fn a_create_with_invalid_properties_counts_as_invalid_properties_without_iam() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let calls = CallLog::default();
    let handler = metered(Some(&calls), &sink);
    let mut create = sample_event("compute", "create", "metrics-invalid", &recorder);
    create["ResourceProperties"]["Persona"] = json!("Astronaut");
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(response["Reason"].as_str().unwrap().starts_with("Persona"));

    let document = the_line(&sink);
    assert_eq!(document["RequestType"], "Create");
    assert_failed_as(&document, "InvalidProperties");
    assert_eq!(document["IamCalls"], 0);
    assert_eq!(calls.calls(), Vec::<String>::new());
    assert_eq!(document["AnswerDeliveryFailed"], 0);
}

#[tokio::test]
async fn throttled_iam_calls_count_as_throttles_and_retries() {
    let proxy = FaultProxy::start(moto_endpoint());
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    // The function's own client configuration, its backoffs quickened.
    let handler = metered_with(
        iam_client_with(proxy.endpoint(), None, &quick_policy()),
        &sink,
        Guardrails::default(),
    );
    let create = sample_event("mlops", "create", "metrics-throttled", &recorder);
    proxy.on("CreateRole", 1, Fault::Throttle);
    proxy.on("CreateRole", 2, Fault::Throttle);
    proxy.on("PutRolePolicy", 1, Fault::Throttle);
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(proxy.injected_of("Throttle"), 3, "{:?}", proxy.injected());

    let document = the_line(&sink);
    assert_eq!(document["Succeeded"], 1);
    assert_eq!(document["IamThrottles"], 3, "{document}");
    assert_eq!(document["IamRetries"], 3, "{document}");
    // The proxy saw every attempt: each call once, and each retry.
    let seen = u64::try_from(proxy.total_seen()).unwrap();
    let calls = document["IamCalls"].as_u64().unwrap();
    assert_eq!(calls + 3, seen, "{:?}", proxy.seen());
    assert_eq!(document["CloudFormationThrottles"], 0);
}

#[tokio::test]
async fn throttled_cloudformation_reads_count_as_its_throttles_and_retries() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let stack = format!(
        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/metrics-throttled/{}",
        request_id("id")
    );
    let mut create = sample_event("custom", "create", "metrics-cfn-throttled", &recorder);
    create["StackId"] = json!(stack);
    stand_in().put_stack(&stack, "CREATE_IN_PROGRESS");
    stand_in().put_resource(
        &stack,
        create["LogicalResourceId"].as_str().unwrap(),
        Resource::custom("CREATE_IN_PROGRESS", None),
    );
    stand_in().record(&create);
    stand_in().throttle(&stack, 2);
    let handler = TestHandler {
        strict: true,
        ..metered(None, &sink)
    };
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");

    let document = the_line(&sink);
    assert_eq!(document["CloudFormationThrottles"], 2, "{document}");
    assert_eq!(document["CloudFormationRetries"], 2, "{document}");
    let reads = u64::try_from(stand_in().calls_for(&stack).len()).unwrap();
    let calls = document["CloudFormationCalls"].as_u64().unwrap();
    assert_eq!(calls + 2, reads, "{document}");
    assert_eq!(document["IamThrottles"], 0);
}

#[tokio::test]
async fn a_panic_counts_as_internal() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    // The first mutating call (CreateRole) panics before it is sent.
    let calls = CallLog::panicking_at(1);
    let handler = metered(Some(&calls), &sink);
    let create = sample_event("custom", "create", "metrics-panic", &recorder);
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        response["Reason"].as_str().unwrap().contains("panicked"),
        "{response}"
    );
    assert_failed_as(&the_line(&sink), "Internal");
}

#[tokio::test]
async fn concurrent_events_count_only_their_own_calls() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let handler = metered(None, &sink);
    let create = sample_event("custom", "create", "metrics-both", &recorder);
    let mut invalid = sample_event("compute", "create", "metrics-both", &recorder);
    invalid["ResourceProperties"]["Persona"] = json!("Astronaut");
    let (created, refused) = tokio::join!(
        invoke(&handler, &create, &recorder),
        invoke(&handler, &invalid, &recorder)
    );
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let documents = validated(&sink.lines());
    assert_eq!(documents.len(), 2);
    let of = |status: &str| {
        documents
            .iter()
            .find(|d| d["Status"] == status)
            .unwrap_or_else(|| panic!("no {status} line: {documents:#?}"))
    };
    assert!(of("SUCCESS")["IamCalls"].as_u64().unwrap() > 0);
    assert_eq!(of("FAILED")["IamCalls"], 0);
}

#[tokio::test]
async fn a_role_of_another_owner_counts_as_ownership() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let handler = metered(None, &sink);
    let create = sample_event("compute", "create", "metrics-owned", &recorder);
    let name = plan_of(&create).role.role_name;
    checker()
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(json!({"Version": "2012-10-17", "Statement": []}).to_string())
        .send()
        .await
        .unwrap();
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert_failed_as(&the_line(&sink), "Ownership");
    checker()
        .delete_role()
        .role_name(&name)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_boundary_the_function_does_not_require_counts_as_guardrail() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let handler = metered_with(
        iam_client(None),
        &sink,
        Guardrails::from_values(
            Some("arn:aws:iam::123456789012:policy/metrics-required-boundary"),
            None,
        ),
    );
    let mut create = sample_event("compute", "create", "metrics-guard", &recorder);
    create["ResourceProperties"]["PermissionsBoundary"] =
        json!("arn:aws:iam::123456789012:policy/some-other-boundary");
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        response["Reason"]
            .as_str()
            .unwrap()
            .starts_with("PermissionsBoundary"),
        "{response}"
    );
    let document = the_line(&sink);
    assert_failed_as(&document, "Guardrail");
    assert_eq!(document["IamCalls"], 0);
}

#[tokio::test]
async fn an_event_cloudformation_does_not_confirm_counts_as_stack_check() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let handler = TestHandler {
        strict: true,
        ..metered(None, &sink)
    };
    let mut create = sample_event("compute", "create", "metrics-forged", &recorder);
    // A stack CloudFormation does not know.
    create["StackId"] = json!(format!(
        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/metrics-forged/5e1f0000-0000-4000-8000-000000000000"
    ));
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let document = the_line(&sink);
    assert_failed_as(&document, "StackCheck");
    assert_eq!(document["IamCalls"], 0);
    assert!(document["CloudFormationCalls"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn a_deadline_reached_counts_as_deadline() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let handler = metered_with(
        iam_client_at(&black_hole(), None),
        &sink,
        Guardrails::default(),
    );
    let create = on_stack(
        &own_stack("metrics-deadline"),
        sample_event("mlops", "create", "metrics-deadline", &recorder),
    );
    let response = invoke_with_deadline(&handler, &create, &recorder, Duration::from_secs(3)).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let document = the_line(&sink);
    assert_failed_as(&document, "Deadline");
    assert!(document["AnswerTime"].as_u64().unwrap() < 3000);
}

#[tokio::test]
async fn a_malformed_event_counts_as_invalid_request_of_unknown_type() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let handler = metered(None, &sink);
    let mut event = sample_event("compute", "create", "metrics-malformed", &recorder);
    event["RequestType"] = json!("Upsert");
    let request_id = event["RequestId"].as_str().unwrap().to_owned();
    // Past the stand-in: the event names no request it could register.
    let delivered = handler
        .handler
        .handle(event, Some(Instant::now() + Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(delivered.response.status.as_str(), "FAILED");
    assert_eq!(recorder.for_request(&request_id).len(), 1);
    let document = the_line(&sink);
    assert_eq!(document["RequestType"], "Unknown");
    assert_eq!(document["RequestId"], request_id.as_str());
    assert_failed_as(&document, "InvalidRequest");
}

#[tokio::test]
async fn an_event_that_cannot_be_answered_counts_as_unanswered() {
    let recorder = Recorder::start();
    let sink = MetricSink::buffer();
    let handler = metered(None, &sink);
    let mut create = sample_event("compute", "create", "metrics-unanswerable", &recorder);
    create["ResponseURL"] = json!("http://169.254.169.254/latest/meta-data");
    let error = handler
        .handler
        .handle(create, Some(Instant::now() + Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert!(matches!(error, HandlerError::NoResponseUrl(_)), "{error}");
    let document = the_line(&sink);
    assert_eq!(document["RequestType"], "Create");
    assert_eq!(document["Unanswered"], 1);
    assert_eq!(document["Succeeded"], 0);
    assert_eq!(document["Failed"], 0);
    assert!(document.get("AnswerTime").is_none(), "{document}");
    assert!(document.get("Status").is_none(), "{document}");
}

#[tokio::test]
async fn an_answer_that_is_not_delivered_counts_as_delivery_failed() {
    let recorder = Recorder::start_failing(usize::MAX);
    let sink = MetricSink::buffer();
    let handler = metered(None, &sink);
    let delete = sample_event("custom", "delete", "metrics-undelivered", &recorder);
    let error = handler.handle(delete, None).await.unwrap_err();
    assert!(matches!(error, HandlerError::Delivery { .. }), "{error}");
    let document = the_line(&sink);
    assert_eq!(document["RequestType"], "Delete");
    assert_eq!(document["Succeeded"], 1);
    assert_eq!(document["AnswerDeliveryFailed"], 1);
    assert_eq!(document["Unanswered"], 0);
}

// ----------------------------------------------------------------- the template's alarms

/// Every metric name a line can carry.
fn emittable() -> BTreeSet<String> {
    let counts = persona_role::aws::meter::CallCounts::default();
    let mut answers = vec![metrics::Answer::Unanswered];
    for failure in std::iter::once(None).chain(metrics::FailureClass::ALL.map(Some)) {
        for delivered in [true, false] {
            answers.push(metrics::Answer::Sent {
                failure,
                delivered,
                time_ms: 1,
            });
        }
    }
    // The lines of the runs the operator starts or schedules, whatever their status.
    let reconcile = persona_role::reconcile::metric_document(
        "f",
        "INFO",
        &persona_role::reconcile::Report::refused("r", "x".to_owned()),
        1,
        counts,
        counts,
        1,
    );
    let reports = [
        drift_report::Report::of(1, Vec::new()),
        drift_report::Report::refused("x".to_owned()),
        drift_report::Report::failed("x".to_owned()),
    ];
    let runs: Vec<String> = reports
        .iter()
        .map(|report| drift_report::metric_document("f", "INFO", report, 1, counts, counts, 1))
        .chain([reconcile])
        .flat_map(|document| {
            metric_names(&document)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    answers
        .into_iter()
        .flat_map(|answer| {
            let facts = metrics::EventFacts {
                request_type: None,
                request_id: None,
                answer,
                iam: counts,
                cloudformation: counts,
            };
            let document = metrics::document("f", "INFO", &facts, 1);
            metric_names(&document)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .chain(runs)
        .collect()
}

/// The template's alarms watch metrics the function writes, in its namespace, under the
/// dimension set of the function alone, and tell the alarm topic when one is given.
#[test]
fn the_templates_alarms_watch_metrics_the_function_writes() {
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap())
            .unwrap();
    let emittable = emittable();
    let mut watched = BTreeMap::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let properties = &resource["Properties"];
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm")
            || properties["Namespace"].as_str() != Some(metrics::NAMESPACE)
        {
            continue;
        }
        let name = name.as_str().unwrap();
        let metric = properties["MetricName"].as_str().unwrap();
        assert!(
            emittable.contains(metric),
            "{name} watches {metric}, never written"
        );
        let dimensions = properties["Dimensions"].as_sequence().unwrap();
        assert_eq!(dimensions.len(), 1, "{name}: the function alone");
        assert_eq!(dimensions[0]["Name"].as_str(), Some(metrics::FUNCTION_NAME));
        let value = serde_yaml_ng::to_string(&dimensions[0]["Value"]).unwrap();
        assert_eq!(value.trim(), "!Ref PersonaRoleFunction", "{name}");
        assert_eq!(properties["Statistic"].as_str(), Some("Sum"), "{name}");
        let actions = serde_yaml_ng::to_string(&properties["AlarmActions"]).unwrap();
        assert!(actions.contains("AlarmTopicArn"), "{name}: {actions}");
        watched.insert(metric.to_owned(), properties.clone());
    }
    let names: Vec<&str> = watched.keys().map(String::as_str).collect();
    // What needs the operator alarms; users' mistakes (UserErrors, Failed, the user's classes)
    // page no one.
    // DriftedRoles: roles changed by hand, found by the scheduled drift report (the alarm
    // exists only with the schedule; roles a release has not reached only show).
    assert_eq!(
        names,
        [
            "AnswerDeliveryFailed",
            "DriftedRoles",
            "IamThrottles",
            "OperatorFailures"
        ]
    );
    // Throttling alarms only when sustained: every one of several periods.
    let throttling = &watched["IamThrottles"];
    let periods = throttling["EvaluationPeriods"].as_u64().unwrap();
    assert!(periods >= 3, "{periods}");
    assert_eq!(throttling["DatapointsToAlarm"].as_u64(), Some(periods));
    // The dimension set the alarms name is one every line is published under.
    let facts = metrics::EventFacts {
        request_type: None,
        request_id: None,
        answer: metrics::Answer::Unanswered,
        iam: persona_role::aws::meter::CallCounts::default(),
        cloudformation: persona_role::aws::meter::CallCounts::default(),
    };
    let sets =
        &metrics::document("f", "INFO", &facts, 1)["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
    assert!(
        sets.as_array()
            .unwrap()
            .contains(&json!([metrics::FUNCTION_NAME])),
        "{sets}"
    );
}

/// The alarms of every namespace: none watches a count that users' mistakes raise.
#[test]
fn no_alarm_pages_for_what_users_fix_in_their_stacks() {
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap())
            .unwrap();
    let users = ["Failed", "UserErrors"]
        .into_iter()
        .map(str::to_owned)
        .chain(
            metrics::FailureClass::ALL
                .into_iter()
                .filter(|c| !c.needs_operator())
                .map(|c| c.metric().to_owned()),
        )
        .collect::<Vec<_>>();
    assert!(users.contains(&"FailedInvalidProperties".to_owned()));
    assert!(users.contains(&"FailedGuardrail".to_owned()));
    let mut alarms = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        alarms += 1;
        let metric = resource["Properties"]["MetricName"].as_str().unwrap();
        assert!(
            !users.iter().any(|u| u == metric),
            "{} alarms on {metric}, which users' mistakes raise",
            name.as_str().unwrap()
        );
    }
    assert!(alarms >= 4, "{alarms} alarms");
}

// ----------------------------------------------------------------- the template's dashboard

/// The dashboard's body as CloudFormation renders it for the function deployed with
/// `overrides` (its log group `/aws/lambda/stack-persona-role`, each alarm's ARN ending in its
/// logical id), and the alarms it names.
fn dashboard(overrides: &[(&str, &str)]) -> (Value, Vec<String>) {
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap())
            .unwrap();
    let mut deployment = deployed::Deployment::new(overrides)
        .knowing("LogGroup", json!("/aws/lambda/stack-persona-role"));
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm") {
            let name = name.as_str().unwrap();
            deployment = deployment.knowing(
                &format!("{name}.Arn"),
                json!(format!(
                    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
                )),
            );
        }
    }
    let properties = deployment.properties("Dashboard").unwrap();
    let body = properties["DashboardBody"].as_str().unwrap();
    let body: Value = serde_json::from_str(body).expect("the dashboard body is JSON");
    let alarms = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().unwrap().clone())
        .map(|arn| arn.as_str().unwrap().rsplit(':').next().unwrap().to_owned())
        .collect();
    (body, alarms)
}

/// The alarms a deployment with `overrides` creates (their conditions hold).
fn alarms_deployed(overrides: &[(&str, &str)]) -> Vec<String> {
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap())
            .unwrap();
    let deployment = deployed::Deployment::new(overrides);
    let mut alarms: Vec<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(name, _)| name.as_str().unwrap().to_owned())
        .filter(|name| deployment.properties(name).is_some())
        .collect();
    alarms.sort();
    alarms
}

/// The dashboard shows every metric the function writes, of this function only, and Lambda's
/// own; lists every alarm of the template; and reads the function's own log group.
#[test]
fn the_dashboard_shows_every_metric_the_function_writes_and_every_alarm() {
    for overrides in [vec![], vec![("DriftReportSchedule", "rate(1 day)")]] {
        the_dashboard_of(&overrides);
    }
}

fn the_dashboard_of(overrides: &[(&str, &str)]) {
    let (body, alarms) = dashboard(overrides);
    let widgets = body["widgets"].as_array().unwrap();
    let mut shown = BTreeSet::new();
    for widget in widgets {
        let properties = &widget["properties"];
        match widget["type"].as_str().unwrap() {
            "metric" => {
                assert_eq!(properties["region"], "us-east-1", "{widget}");
                for row in properties["metrics"].as_array().unwrap() {
                    let row = row.as_array().unwrap();
                    let strings: Vec<&str> = row.iter().filter_map(Value::as_str).collect();
                    let (namespace, metric, dimensions) = (strings[0], strings[1], &strings[2..]);
                    let dimensions: BTreeMap<&str, &str> = dimensions
                        .chunks(2)
                        .map(|pair| (pair[0], pair[1]))
                        .collect();
                    assert_eq!(
                        dimensions.get("FunctionName"),
                        Some(&deployed::FUNCTION_NAME),
                        "{widget}"
                    );
                    match namespace {
                        metrics::NAMESPACE => {
                            shown.insert(metric.to_owned());
                            if let Some(request_type) = dimensions.get("RequestType") {
                                assert!(
                                    ["Create", "Update", "Delete", "Unknown"]
                                        .contains(request_type),
                                    "{widget}"
                                );
                            }
                            assert!(dimensions.len() <= 2, "{widget}");
                        }
                        "AWS/Lambda" => assert_eq!(dimensions.len(), 1, "{widget}"),
                        other => panic!("a metric of namespace {other}: {widget}"),
                    }
                }
            }
            "log" => {
                let query = properties["query"].as_str().unwrap();
                assert!(
                    query.starts_with("SOURCE '/aws/lambda/stack-persona-role' |"),
                    "{query}"
                );
            }
            "alarm" | "text" => {}
            other => panic!("a {other} widget"),
        }
    }
    let emittable = emittable();
    let unknown: Vec<&String> = shown.difference(&emittable).collect();
    assert!(unknown.is_empty(), "shown, never written: {unknown:?}");
    let missing: Vec<&String> = emittable.difference(&shown).collect();
    assert!(missing.is_empty(), "written, not shown: {missing:?}");

    let mut listed = alarms;
    listed.sort();
    assert_eq!(
        listed,
        alarms_deployed(overrides),
        "the alarm widget lists every alarm deployed: {overrides:?}"
    );
}
