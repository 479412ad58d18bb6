//! The compiled `persona-role-lambda` binary, run as Lambda runs it: a local Lambda Runtime API
//! hands it events (with request id, deadline and function ARN headers), it talks to moto and
//! PUTs its answers to the recorder. Proves the lambda_runtime wiring, the environment it needs,
//! the JSON logs, and the FAILED answer before a deadline it cannot meet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

#[test]
fn the_binary_handles_create_update_delete_through_the_runtime_api() {
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let function = Function::start(&api, moto_endpoint(), "function-lifecycle");
    let stack = own_stack("bin");
    let create = on_stack(
        &stack,
        sample_event("data-scientist", "create", "bin", &recorder),
    );
    let update = on_stack(
        &stack,
        sample_event("data-scientist", "update", "bin", &recorder),
    );
    let delete = on_stack(
        &stack,
        sample_event("data-scientist", "delete", "bin", &recorder),
    );
    let name = update["PhysicalResourceId"].as_str().unwrap().to_owned();
    for (i, event) in [&create, &update, &delete].into_iter().enumerate() {
        api.push(
            &format!("aws-request-{i}"),
            event.clone(),
            Duration::from_secs(60),
        );
    }

    let posted = api.wait_posted(3, Duration::from_secs(60));
    let logs = function.stop();
    assert_eq!(posted.len(), 3, "{posted:?}\n{}", logs.join("\n"));
    for (i, event) in [&create, &update, &delete].into_iter().enumerate() {
        let request_id = event["RequestId"].as_str().unwrap();
        let answers = recorder.for_request(request_id);
        assert_eq!(answers.len(), 1, "one answer for {request_id}");
        let answer = answers[0].json();
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        assert_eq!(answer["PhysicalResourceId"], name.as_str());
        assert_eq!(
            answers[0].headers.get("content-type").map(String::as_str),
            Some("")
        );
        let result = &posted[i];
        assert_eq!(result.aws_request_id, format!("aws-request-{i}"));
        assert_eq!(result.kind, "response", "{result:?}");
        let body: Value = serde_json::from_str(&result.body).unwrap();
        assert_eq!(body["Status"], "SUCCESS");
    }

    // Logs: flat JSON lines in Powertools' keys; the release first; one per IAM change, naming
    // the invocation and the request; never the URL's signature.
    assert!(!logs.is_empty());
    let entries: Vec<Value> = logs
        .iter()
        .filter(|l| !l.starts_with("{\"_aws\""))
        .map(|line| {
            assert!(!line.contains(SECRET_SIGNATURE), "secret in log: {line}");
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
        })
        .collect();
    let first = &entries[0];
    assert_eq!(first["message"], "persona-role-lambda starting", "{first}");
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"), "{first}");
    assert!(
        first.get("function_request_id").is_none(),
        "before any invocation: {first}"
    );
    let mut changes = 0;
    for entry in &entries {
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys[..4],
            ["level", "message", "timestamp", "service"],
            "{entry}"
        );
        assert!(
            !keys.contains(&"fields") && !keys.contains(&"span"),
            "nested: {entry}"
        );
        assert_eq!(entry["service"], "persona-role", "{entry}");
        let stamp = entry["timestamp"].as_str().unwrap();
        assert!(
            stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{entry}"
        );
        if entry["message"] == "IAM change" {
            changes += 1;
            assert_eq!(entry["level"], "INFO", "{entry}");
            assert!(entry["iam_action"].is_string(), "{entry}");
            assert!(entry["RequestId"].is_string(), "{entry}");
            assert_eq!(entry["LogicalResourceId"], "DataScientist", "{entry}");
            // The invocation, under Powertools' names: the first is the cold start.
            let invocation = entry["function_request_id"].as_str().unwrap();
            assert!(invocation.starts_with("aws-request-"), "{entry}");
            assert_eq!(
                entry["cold_start"],
                invocation == "aws-request-0",
                "{entry}"
            );
            assert_eq!(
                entry["xray_trace_id"], "Root=1-00000000-000000000000000000000000",
                "{entry}"
            );
        }
    }
    let create_changes = entries
        .iter()
        .filter(|e| e["message"] == "IAM change" && e["RequestId"] == create["RequestId"])
        .count();
    assert!(create_changes >= 2, "CreateRole and PutRolePolicy at least");
    assert!(changes > create_changes);

    // Metrics: one embedded-metric-format line per event on stdout, among the logs, named by
    // the function's AWS_LAMBDA_FUNCTION_NAME, counting the calls of the function's own client.
    let metric_lines: Vec<String> = logs
        .iter()
        .filter(|l| l.starts_with("{\"_aws\""))
        .cloned()
        .collect();
    let documents = emf::validated(&metric_lines);
    let types: Vec<&str> = documents
        .iter()
        .map(|d| d["RequestType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Create", "Update", "Delete"], "{metric_lines:#?}");
    for document in &documents {
        assert_eq!(document["FunctionName"], "persona-role");
        // Lambda's log-level filtering keeps it: the function's level (INFO, unset here).
        assert_eq!(document["level"], "INFO", "{document}");
        assert_eq!(document["Succeeded"], 1, "{document}");
        assert!(document["IamCalls"].as_u64().unwrap() > 0, "{document}");
        assert!(
            document["CloudFormationCalls"].as_u64().unwrap() > 0,
            "{document}"
        );
    }
}

#[test]
fn the_binary_answers_failed_before_a_deadline_it_cannot_meet() {
    let hole_endpoint = black_hole();
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    // At WARN, the lowest level Lambda users commonly set: the failure's lines still name the
    // invocation and the request.
    let function = Function::start_with_env(
        &api,
        &hole_endpoint,
        "function-deadline",
        &[("AWS_LAMBDA_LOG_LEVEL", "WARN")],
    );
    let create = on_stack(
        &own_stack("bindeadline"),
        sample_event("mlops", "create", "bindeadline", &recorder),
    );
    let request_id = create["RequestId"].as_str().unwrap().to_owned();
    let left = Duration::from_secs(4);
    let deadline = Instant::now() + left;
    api.push("aws-request-deadline", create, left);

    let answers = recorder.wait_for(&request_id, 1, Duration::from_secs(10));
    let answered = Instant::now();
    let posted = api.wait_posted(1, Duration::from_secs(5));
    let logs = function.stop();
    assert_eq!(answers.len(), 1, "{}", logs.join("\n"));
    assert!(
        answered < deadline,
        "answered {:?} after the deadline",
        answered - deadline
    );
    let answer = answers[0].json();
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.starts_with("timed out"), "{reason}");
    assert!(reason.contains("Lambda deadline"), "{reason}");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].kind, "response");
    let reached: Value = logs
        .iter()
        .find(|l| l.contains("deadline reached"))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("{}", logs.join("\n")));
    assert_eq!(reached["message"], "deadline reached", "{reached}");
    assert_eq!(reached["level"], "ERROR", "{reached}");
    assert_eq!(
        reached["function_request_id"], "aws-request-deadline",
        "{reached}"
    );
    assert_eq!(reached["cold_start"], true, "{reached}");
    assert_eq!(reached["RequestId"], request_id.as_str(), "{reached}");
    assert_eq!(reached["LogicalResourceId"], "MLOps", "{reached}");
    assert!(
        !logs.iter().any(|l| l.contains("\"level\":\"INFO\"")),
        "INFO lines at WARN: {}",
        logs.join("\n")
    );
}

#[test]
fn the_binary_never_logs_the_signed_response_url_even_at_trace() {
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let function = Function::start_with_env(
        &api,
        moto_endpoint(),
        "function-trace",
        &[("AWS_LAMBDA_LOG_LEVEL", "TRACE")],
    );
    let stack = own_stack("bintrace");
    let create = on_stack(
        &stack,
        sample_event("custom", "create", "bintrace", &recorder),
    );
    let delete = on_stack(
        &stack,
        sample_event("custom", "delete", "bintrace", &recorder),
    );
    api.push(
        "aws-request-trace-0",
        create.clone(),
        Duration::from_secs(60),
    );
    api.push("aws-request-trace-1", delete, Duration::from_secs(60));
    let posted = api.wait_posted(2, Duration::from_secs(60));
    let logs = function.stop();
    assert_eq!(posted.len(), 2, "{}", logs.join("\n"));
    let answers = recorder.for_request(create["RequestId"].as_str().unwrap());
    assert_eq!(answers[0].json()["Status"], "SUCCESS");
    // The level reached this function's own lines: they are there, and many.
    assert!(
        logs.iter().any(|l| l.contains("IAM change")),
        "{}",
        logs.join("\n")
    );
    // The metric lines carry the function's level, so that its filtering keeps them.
    let metric_lines: Vec<String> = logs
        .iter()
        .filter(|l| l.starts_with("{\"_aws\""))
        .cloned()
        .collect();
    let documents = emf::validated(&metric_lines);
    assert_eq!(documents.len(), 2, "{metric_lines:#?}");
    assert!(
        documents.iter().all(|d| d["level"] == "TRACE"),
        "{metric_lines:#?}"
    );
    for line in &logs {
        assert!(
            !line.contains(SECRET_SIGNATURE),
            "signed URL in a TRACE log: {line}"
        );
        assert!(!line.contains("raw JSON event"), "raw event logged: {line}");
    }
}

#[test]
fn the_binary_answers_failed_to_an_event_nested_too_deep_for_json_parsers() {
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let function = Function::start(&api, moto_endpoint(), "function-deep");
    let mut create = on_stack(
        &own_stack("bindeep"),
        sample_event("mlops", "create", "bindeep", &recorder),
    );
    let mut deep = serde_json::json!("x");
    for _ in 0..300 {
        deep = serde_json::json!([deep]);
    }
    create["ResourceProperties"]["S3Buckets"] = deep;
    let request_id = create["RequestId"].as_str().unwrap().to_owned();
    api.push("aws-request-deep", create, Duration::from_secs(30));

    let answers = recorder.wait_for(&request_id, 1, Duration::from_secs(20));
    let posted = api.wait_posted(1, Duration::from_secs(5));
    let logs = function.stop();
    assert_eq!(answers.len(), 1, "{}", logs.join("\n"));
    let answer = answers[0].json();
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("invalid request: the event nests 302 levels deep"),
        "{reason}"
    );
    assert_eq!(answer["LogicalResourceId"], "MLOps");
    assert_eq!(posted[0].kind, "response", "{:?}", posted[0]);
}

/// Deployed some other way than `template.yaml`, without a boundary in its environment, the
/// function makes no role (a role without a ceiling is never the default) and still deletes.
#[test]
fn the_binary_without_a_boundary_to_give_refuses_to_make_roles_and_still_deletes() {
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let function = Function::start_exactly(&api, moto_endpoint(), "function-unbounded", &[]);
    let stack = own_stack("unbounded");
    let create = on_stack(
        &stack,
        sample_event("compute", "create", "unbounded", &recorder),
    );
    let delete = on_stack(
        &stack,
        sample_event("compute", "delete", "unbounded", &recorder),
    );
    api.push(
        "aws-request-unbounded-0",
        create.clone(),
        Duration::from_secs(60),
    );
    api.push(
        "aws-request-unbounded-1",
        delete.clone(),
        Duration::from_secs(60),
    );
    let posted = api.wait_posted(2, Duration::from_secs(60));
    let logs = function.stop();
    assert_eq!(posted.len(), 2, "{}", logs.join("\n"));
    let answer = |event: &Value| {
        let answers = recorder.for_request(event["RequestId"].as_str().unwrap());
        assert_eq!(answers.len(), 1);
        answers[0].json()
    };
    let created = answer(&create);
    assert_eq!(created["Status"], "FAILED", "{created}");
    let reason = created["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "PERSONA_ROLE_REQUIRED_BOUNDARY: the function's environment names no permissions boundary"
        ),
        "{reason}"
    );
    assert!(
        !logs.iter().any(|l| l.contains("IAM change")),
        "no IAM change without a boundary: {}",
        logs.join("\n")
    );
    let deleted = answer(&delete);
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
}

/// The request reader every stand-in here serves with (support/http.rs).
#[test]
fn requests_are_read_one_after_another_with_their_bodies() {
    let wire = "PUT /answer?sig=x HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 5\r\nX-Empty:\r\n\r\nhello\
                GET /next HTTP/1.1\r\nConnection: keep-alive\r\n\r\n";
    let mut reader = std::io::BufReader::new(wire.as_bytes());
    let put = support::http::read_request(&mut reader).unwrap();
    assert_eq!(
        (
            put.method.as_str(),
            put.target.as_str(),
            put.version.as_str()
        ),
        ("PUT", "/answer?sig=x", "HTTP/1.1")
    );
    assert_eq!(put.header("Content-Length"), Some("5"));
    assert_eq!(put.header("x-empty"), Some(""));
    assert_eq!(put.body, b"hello");
    let get = support::http::read_request(&mut reader).unwrap();
    assert_eq!((get.method.as_str(), get.body.len()), ("GET", 0));
    assert_eq!(get.header("connection"), Some("keep-alive"));
    assert!(
        support::http::read_request(&mut reader).is_none(),
        "the connection is closed"
    );
    let truncated = "PUT / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort";
    assert!(
        support::http::read_request(&mut std::io::BufReader::new(truncated.as_bytes())).is_none()
    );
}
