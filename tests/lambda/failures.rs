//! Every event gets exactly one answer, and nothing the stack does not own is touched: bad
//! properties, name clashes, failures and panics half-way through a Create, deadlines, flaky
//! ResponseURLs, oversized reasons, malformed events, redelivered events. On the in-memory IAM
//! (each test an account of its own), but for the deadlines met against an IAM that never
//! answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::time::{Duration, Instant};

use persona_role::cfn::answer::{MAX_BODY_BYTES, PLACEHOLDER_PREFIX};
use persona_role::context::StackContext;
use persona_role::guardrails::Guardrails;
use persona_role::handler::{HandlerError, Settings};
use persona_role::iam::Change;
use persona_role::plan::plan_properties;
use serde_json::{Value, json};
use support::memory::{self, Fault, MemoryIam};
use support::*;

fn reason(response: &Value) -> &str {
    response["Reason"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn bad_properties_fail_with_a_reason_naming_the_property() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let mut create = sample_event("data-scientist", "create", "badprops", &recorder);
    create["ResourceProperties"]["Persona"] = json!("DataScientst");
    create["ResourceProperties"]["MaxSessionDuration"] = json!("60");
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(reason(&response).contains("Persona"), "{response}");
    assert!(
        reason(&response).contains("MaxSessionDuration"),
        "{response}"
    );
    let id = response["PhysicalResourceId"].as_str().unwrap();
    assert!(id.starts_with(PLACEHOLDER_PREFIX), "{id}");
    assert_eq!(
        iam.calls(),
        Vec::<String>::new(),
        "no IAM call for bad input"
    );

    // The rollback Delete of the placeholder id changes nothing: it only looks for the role
    // the properties plan, which the failed Create never made.
    let delete = delete_after(&create, id, "badprops", &recorder);
    let response = invoke(&handler, &delete, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], id);
    assert_eq!(iam.calls(), ["GetRole"]);
}

#[tokio::test]
async fn bad_properties_in_an_update_leave_the_role_as_it_was() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("compute", "create", "badupd", &recorder);
    let name = plan_of(&create).role.role_name;
    assert_eq!(
        invoke(&handler, &create, &recorder).await["Status"],
        "SUCCESS"
    );
    let before = memory::role(&iam, &name).await.unwrap();

    let mut properties = create["ResourceProperties"].clone();
    properties["S3Buckets"] = json!("");
    properties["Activites"] = json!(["S3 Bucket Access"]);
    let update = update_after(&create, &name, properties, "badupd", &recorder);
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert_eq!(response["PhysicalResourceId"], name.as_str());
    assert!(reason(&response).contains("Activites"), "{response}");
    assert!(
        reason(&response).contains("did you mean `Activities`"),
        "{response}"
    );
    let after = memory::role(&iam, &name).await.unwrap();
    assert_eq!(before, after);

    let delete = delete_after(&create, &name, "badupd", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn a_name_clash_with_a_foreign_role_fails_and_leaves_it_unchanged() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("mlops", "create", "clash", &recorder);
    let name = plan_of(&create).role.role_name;
    memory::make_foreign_role(&iam, &name).await;
    let before = memory::snapshot(&iam, &name).await;

    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(
        reason(&response).contains(&format!("role `{name}` already exists")),
        "{response}"
    );
    let id = response["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert!(id.starts_with(PLACEHOLDER_PREFIX), "{id}");
    // IAM finds names in any case: the first read, of the console's spelling (`SageMaker-…`),
    // finds the role, so not even CreateRole is sent. (moto, whose names differ by case,
    // answers that read with nothing and refuses the CreateRole instead.)
    assert_eq!(iam.mutating(), Vec::<String>::new(), "nothing sent");
    assert_eq!(memory::snapshot(&iam, &name).await, before);

    // CloudFormation's rollback Delete carries the placeholder: the planned role is looked at,
    // found to be someone else's, and left.
    iam.clear_calls();
    let delete = delete_after(&create, &id, "clash", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert_eq!(memory::snapshot(&iam, &name).await, before);

    // Even a Delete naming the foreign role leaves it: its tags name no stack of ours.
    let delete = delete_after(&create, &name, "clash", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert_eq!(memory::snapshot(&iam, &name).await, before);

    // And an Update naming it is refused.
    let update = update_after(
        &create,
        &name,
        create["ResourceProperties"].clone(),
        "clash",
        &recorder,
    );
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(
        reason(&response).contains("not managed by this resource"),
        "{response}"
    );
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert_eq!(memory::snapshot(&iam, &name).await, before);
}

/// A foreign role IAM does not show yet: the first read misses it, CreateRole finds the name
/// taken, and the read after it finds the role someone else owns.
#[tokio::test]
async fn a_name_clash_iam_does_not_show_yet_is_found_by_create_role_and_left_unchanged() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("mlops", "create", "clash-unseen", &recorder);
    let name = plan_of(&create).role.role_name;
    iam.invisible_for(1);
    memory::make_foreign_role(&iam, &name).await;
    iam.invisible_for(0);
    let before = memory::snapshot(&iam, &name).await;

    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(
        reason(&response).contains(&format!("role `{name}` already exists")),
        "{response}"
    );
    let id = response["PhysicalResourceId"].as_str().unwrap();
    assert!(id.starts_with(PLACEHOLDER_PREFIX), "{id}");
    assert_eq!(iam.calls(), ["GetRole", "CreateRole", "GetRole"]);
    assert_eq!(memory::snapshot(&iam, &name).await, before);
}

#[tokio::test]
async fn another_logical_id_of_the_same_stack_is_foreign_too() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("custom", "create", "sibling", &recorder);
    let name = plan_of(&create).role.role_name;
    assert_eq!(
        invoke(&handler, &create, &recorder).await["Status"],
        "SUCCESS"
    );

    let mut sibling = create.clone();
    sibling["LogicalResourceId"] = json!("OtherResource");
    retarget(&mut sibling, "sibling", &recorder);
    let response = invoke(&handler, &sibling, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    let delete = delete_after(&sibling, &name, "sibling", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert!(
        memory::role_exists(&iam, &name).await,
        "the sibling's Delete left our role alone"
    );

    let delete = delete_after(&create, &name, "sibling", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn a_foreign_policy_under_a_planned_name_fails_the_create_before_any_change() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let attached = memory::make_policy(&iam, "persona-role-test-polclash-extra").await;
    let create = create_event(
        "PolicyClash",
        big_properties("polclash-test", &attached),
        "polclash",
        &recorder,
    );
    let plan = plan_of(&create);
    let taken = &plan.managed_policies[0];
    memory::make_policy_with(
        &iam,
        &taken.policy_name,
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
            "Action": "*", "Resource": "*"}]}),
    )
    .await;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(reason(&response).contains(&taken.arn), "{response}");
    assert!(
        response["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .starts_with(PLACEHOLDER_PREFIX)
    );
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert!(!memory::role_exists(&iam, &plan.role.role_name).await);
    assert!(memory::policy_exists(&iam, &taken.arn).await);
}

/// Big properties create: CreateRole, CreatePolicy ×N, PutRolePolicy, AttachRolePolicy ×M.
async fn fail_create_at(n: usize, tag: &str) {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    iam.inject(Fault::FailWrite { nth: n });
    let handler = memory::handler(&iam);
    let attached = memory::make_policy(&iam, &format!("persona-role-test-{tag}-extra")).await;
    let create = create_event(
        "Half",
        big_properties(&format!("{tag}-test"), &attached),
        tag,
        &recorder,
    );
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(reason(&response).contains("injected failure"), "{response}");
    assert!(reason(&response).contains("removed again"), "{response}");
    let id = response["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert!(id.starts_with(PLACEHOLDER_PREFIX), "{id}");
    memory::assert_gone(&iam, &name).await;
    assert!(memory::policy_exists(&iam, &attached).await);
    let failed_op = iam.mutating()[n - 1].clone();
    assert!(
        iam.mutating().len() > n || n == 1,
        "undo ran after {failed_op}"
    );

    // Delete after the failed Create.
    let delete = delete_after(&create, &id, tag, &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn a_create_failing_at_its_first_policy_leaves_nothing() {
    fail_create_at(2, "half2").await;
}

#[tokio::test]
async fn a_create_failing_at_its_inline_policy_leaves_nothing() {
    let attached = "arn:aws:iam::123456789012:policy/x";
    let context = StackContext::from_stack_id(STACK_ID, "Half").unwrap();
    let plan = plan_properties(&big_properties("x", attached), &context).unwrap();
    // CreateRole, then one CreatePolicy per managed policy, then PutRolePolicy.
    fail_create_at(2 + plan.managed_policies.len(), "halfin").await;
}

#[tokio::test]
async fn a_create_failing_at_its_last_attachment_leaves_nothing() {
    let attached = "arn:aws:iam::123456789012:policy/x";
    let context = StackContext::from_stack_id(STACK_ID, "Half").unwrap();
    let plan = plan_properties(&big_properties("x", attached), &context).unwrap();
    let calls = 1
        + plan.managed_policies.len()
        + plan.inline_policies.len()
        + plan.all_attached_arns().len();
    fail_create_at(calls, "halflast").await;
}

#[tokio::test]
async fn an_attachment_iam_cannot_find_is_retried_then_fails_leaving_nothing() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    // IAM may not see a just-created policy at once; a policy that never appears is retried on
    // the visibility schedule (4 pauses), then the Create fails and is undone.
    let missing = "arn:aws:iam::123456789012:policy/persona-role-test-never-created";
    let create = create_event(
        "Missing",
        big_properties("missing-test", missing),
        "missing",
        &recorder,
    );
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = reason(&response);
    assert!(
        reason.contains("AttachRolePolicy") && reason.contains("NoSuchEntity"),
        "{reason}"
    );
    assert!(reason.contains(missing), "{reason}");
    let attempts = iam
        .mutating()
        .iter()
        .filter(|op| op.as_str() == "AttachRolePolicy")
        .count();
    // The missing policy is attached in the first wave, beside the own policies' creation; their
    // attachments wait for that wave, so none is made.
    assert_eq!(
        attempts, 5,
        "the missing one five times, nothing else attached"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn a_panic_inside_the_handler_is_answered_failed_and_cleaned_by_the_delete() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    iam.inject(Fault::PanicWrite { nth: 3 });
    let handler = memory::handler(&iam);
    let attached = memory::make_policy(&iam, "persona-role-test-panic-extra").await;
    let create = create_event(
        "Panic",
        big_properties("panic-test", &attached),
        "panic",
        &recorder,
    );
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(reason(&response).contains("panicked"), "{response}");
    assert!(reason(&response).contains("injected panic"), "{response}");
    // The role was created before the panic: the answer names it so the rollback Delete cleans up.
    assert_eq!(response["PhysicalResourceId"], name.as_str());
    assert!(memory::role_exists(&iam, &name).await);

    let delete = delete_after(&create, &name, "panic", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn a_redelivered_create_converges_on_its_own_role() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("data-scientist", "create", "redeliver", &recorder);
    let name = plan_of(&create).role.role_name;
    let request_id = create["RequestId"].as_str().unwrap().to_owned();
    let first = handler.handle(create.clone(), None).await.unwrap();
    iam.clear_calls();
    let second = handler.handle(create.clone(), None).await.unwrap();
    assert_eq!(first.response.status.as_str(), "SUCCESS");
    assert_eq!(second.response.status.as_str(), "SUCCESS");
    assert_eq!(first.response.physical_resource_id, name);
    assert_eq!(second.response.physical_resource_id, name);
    assert_eq!(first.response.data, second.response.data);
    // The first read, of the console's spelling, finds the role in IAM (names in any case):
    // nothing to change, not even a CreateRole to refuse (moto refuses one).
    assert_eq!(iam.mutating(), Vec::<String>::new(), "nothing sent");
    assert_eq!(
        recorder.for_request(&request_id).len(),
        2,
        "one answer per delivery"
    );

    let delete = delete_after(&create, &name, "redeliver", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn a_lambda_deadline_close_by_is_answered_failed_in_time() {
    let recorder = Recorder::start();
    let handler = stuck_handler();
    let create = on_stack(
        &own_stack("deadline"),
        sample_event("mlops", "create", "deadline", &recorder),
    );
    let start = Instant::now();
    let response = invoke_with_deadline(&handler, &create, &recorder, Duration::from_secs(3)).await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    assert!(
        took > Duration::from_secs(1),
        "kept working while there was time: {took:?}"
    );
    assert_eq!(response["Status"], "FAILED");
    assert!(reason(&response).starts_with("timed out"), "{response}");
    assert!(reason(&response).contains("Lambda deadline"), "{response}");
    // IAM never answered the first read: no CreateRole was sent, so the answer names no role
    // (a CreateRole left unanswered is named: a_replacement_that_times_out_after_creating_…).
    assert!(
        response["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .starts_with("persona-role:failed:"),
        "{response}"
    );
}

#[tokio::test]
async fn a_short_service_timeout_is_honoured() {
    let recorder = Recorder::start();
    let handler = stuck_handler();
    let mut delete = on_stack(
        &own_stack("svctimeout"),
        sample_event("compute", "delete", "svctimeout", &recorder),
    );
    delete["ResourceProperties"]["ServiceTimeout"] = json!("3");
    let start = Instant::now();
    let response =
        invoke_with_deadline(&handler, &delete, &recorder, Duration::from_secs(60)).await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    assert_eq!(response["Status"], "FAILED");
    assert!(reason(&response).contains("ServiceTimeout"), "{response}");
    assert_eq!(response["PhysicalResourceId"], delete["PhysicalResourceId"]);
}

#[tokio::test]
async fn the_response_put_has_an_empty_content_type_and_is_retried_on_5xx() {
    let recorder = Recorder::start_failing(2);
    let handler = memory::handler(&MemoryIam::new());
    let delete = sample_event("custom", "delete", "retry", &recorder);
    let request_id = delete["RequestId"].as_str().unwrap().to_owned();
    let delivered = handler.handle(delete, None).await.unwrap();
    assert_eq!(delivered.attempts, 3);
    let requests = recorder.for_request(&request_id);
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.method, "PUT");
        assert_eq!(
            request.headers.get("content-type").map(String::as_str),
            Some("")
        );
        assert_eq!(request.json()["Status"], "SUCCESS");
        assert_eq!(request.json()["RequestId"], request_id.as_str());
    }
}

#[tokio::test]
async fn an_undeliverable_answer_is_an_error_after_bounded_retries() {
    let recorder = Recorder::start_failing(usize::MAX);
    let handler = memory::handler(&MemoryIam::new());
    let delete = sample_event("custom", "delete", "undeliverable", &recorder);
    let request_id = delete["RequestId"].as_str().unwrap().to_owned();
    let error = handler.handle(delete, None).await.unwrap_err();
    assert!(matches!(error, HandlerError::Delivery { .. }), "{error}");
    assert!(error.to_string().contains("HTTP 500"), "{error}");
    assert_eq!(recorder.for_request(&request_id).len(), 4);
    assert!(!error.to_string().contains(SECRET_SIGNATURE));
}

#[tokio::test]
async fn an_oversized_reason_is_trimmed_to_fit_the_body() {
    let recorder = Recorder::start();
    let handler = memory::handler(&MemoryIam::new());
    let mut create = sample_event("compute", "create", "trim", &recorder);
    for i in 0..150 {
        create["ResourceProperties"][format!("UnknownPropertyWithAVeryLongName{i:03}")] =
            json!("x");
    }
    let request_id = create["RequestId"].as_str().unwrap().to_owned();
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(
        reason(&response).starts_with("150 invalid properties"),
        "{response}"
    );
    let body = &recorder.for_request(&request_id)[0].body;
    assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
    assert!(
        body.len() > MAX_BODY_BYTES - 200,
        "trimmed, not emptied: {}",
        body.len()
    );
}

#[tokio::test]
async fn malformed_events_are_answered_when_they_can_be() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);

    let mut event = sample_event("custom", "update", "malformed", &recorder);
    event["RequestType"] = json!("Upsert");
    let response = invoke(&handler, &event, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(reason(&response).contains("`Upsert`"), "{response}");
    assert_eq!(response["PhysicalResourceId"], event["PhysicalResourceId"]);

    let mut event = sample_event("custom", "create", "malformed", &recorder);
    event.as_object_mut().unwrap().remove("LogicalResourceId");
    let response = invoke(&handler, &event, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(
        response["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .starts_with(PLACEHOLDER_PREFIX)
    );

    let mut event = sample_event("custom", "create", "malformed", &recorder);
    event["StackId"] = json!("arn:aws:cloudformation:us-east-1:1234:stack/x/y");
    let response = invoke(&handler, &event, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(reason(&response).starts_with("StackId"), "{response}");

    // No usable ResponseURL: nothing is done, nothing is sent.
    let before = recorder.requests().len();
    for url in [
        json!(null),
        json!("https://attacker.example/collect"),
        json!("http://s3.amazonaws.com/x"),
    ] {
        let mut event = sample_event("custom", "create", "malformed", &recorder);
        event["ResponseURL"] = url;
        let error = handler.handle(event, None).await.unwrap_err();
        assert!(matches!(error, HandlerError::NoResponseUrl(_)), "{error}");
    }
    assert_eq!(recorder.requests().len(), before);
    assert_eq!(iam.calls(), Vec::<String>::new());
}

#[tokio::test]
async fn the_function_guardrails_apply_to_every_role() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let boundary = memory::make_policy(&iam, "persona-role-test-guard-boundary").await;
    let allowed = memory::make_policy(&iam, "persona-role-test-guard-allowed").await;
    let refused = memory::make_policy(&iam, "persona-role-test-guard-refused").await;
    let guarded = memory::handler_with(
        &iam,
        Settings {
            guardrails: Guardrails::from_values(
                Some(&boundary),
                Some("arn:aws:iam::123456789012:policy/persona-role-test-guard-allowed*"),
            )
            .with_pass_roles(Some("arn:aws:iam::123456789012:role/sagemaker-*")),
            ..settings()
        },
    );

    let mut create = sample_event("compute", "create", "guard", &recorder);
    create["ResourceProperties"]["ManagedPolicyArns"] = json!([&allowed]);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&guarded, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let role = memory::role(&iam, &name).await.unwrap();
    assert_eq!(role.permissions_boundary, Some(boundary.clone()));
    assert_eq!(memory::attached_arns(&iam, &name).await, [allowed.as_str()]);

    let mut properties = create["ResourceProperties"].clone();
    properties["ManagedPolicyArns"] = json!([&allowed, &refused]);
    let update = update_after(&create, &name, properties, "guard", &recorder);
    let response = invoke(&guarded, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(
        reason(&response).starts_with("ManagedPolicyArns[1]"),
        "{response}"
    );
    assert_eq!(memory::attached_arns(&iam, &name).await, [allowed.as_str()]);

    // A role to pass outside AllowedPassRoles, which no stack made: refused, the role left as
    // it was.
    let mut properties = create["ResourceProperties"].clone();
    properties["Persona"] = json!("DataScientist");
    properties["S3Buckets"] = json!(["ml-data"]);
    properties["PassRoles"] = json!([
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000"
    ]);
    let update = update_after(&create, &name, properties, "guard", &recorder);
    let response = invoke(&guarded, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED");
    assert!(
        reason(&response).starts_with("PassRoles[0]: role `arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000` does not exist"),
        "{response}"
    );
    memory::assert_converged(&iam, &create).await;

    let delete = delete_after(&create, &name, "guard", &recorder);
    assert_eq!(
        invoke(&guarded, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn an_event_removing_an_own_policy_attached_elsewhere_fails_before_any_change() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    // (the event that would remove an own policy, its tag)
    for (kind, tag) in [("Delete", "inuse"), ("Update", "inuseupd")] {
        let attached = memory::make_policy(&iam, &format!("persona-role-test-{tag}-extra")).await;
        let create = create_event(
            &format!("InUse{kind}"),
            big_properties(&format!("{tag}-test"), &attached),
            tag,
            &recorder,
        );
        let name = plan_of(&create).role.role_name;
        let (event, own) = if kind == "Delete" {
            let own = plan_of(&create).managed_policies[0].arn.clone();
            (delete_after(&create, &name, tag, &recorder), own)
        } else {
            // A smaller declaration needs fewer managed policies of its own: the last ones go.
            let mut small = create["ResourceProperties"].clone();
            for key in ["AddActivities", "VpcSubnets", "VpcSecurityGroups"] {
                small.as_object_mut().unwrap().remove(key);
            }
            small["S3Buckets"] = json!(["ml-team-data"]);
            let update = update_after(&create, &name, small, tag, &recorder);
            let kept: Vec<String> = plan_of(&update)
                .managed_policies
                .iter()
                .map(|p| p.arn.clone())
                .collect();
            let own = plan_of(&create)
                .managed_policies
                .iter()
                .map(|p| p.arn.clone())
                .find(|arn| !kept.contains(arn))
                .expect("the update drops an own policy");
            (update, own)
        };
        let response = invoke(&handler, &create, &recorder).await;
        assert_eq!(response["Status"], "SUCCESS", "{response}");
        // Someone attaches the role's own policy to a role of theirs.
        let other = format!("persona-role-test-{tag}-other");
        memory::make_foreign_role(&iam, &other).await;
        let attach = Change::AttachRolePolicy { arn: own.clone() };
        memory::change(&iam, &other, attach).await;
        let before = memory::snapshot(&iam, &name).await;
        iam.clear_calls();
        let response = invoke(&handler, &event, &recorder).await;
        assert_eq!(response["Status"], "FAILED", "{kind}: {response}");
        assert_eq!(response["PhysicalResourceId"], name.as_str());
        assert!(reason(&response).contains(&own), "{kind}: {response}");
        assert!(reason(&response).contains(&other), "{kind}: {response}");
        assert_eq!(
            iam.mutating(),
            Vec::<String>::new(),
            "{kind}: nothing changed"
        );
        assert_eq!(memory::snapshot(&iam, &name).await, before, "{kind}");
        assert!(memory::policy_exists(&iam, &own).await, "{kind}");
    }
}

/// IAM may not yet show what a Create just made when the Create fails and is undone: a
/// DeletePolicy of an own policy IAM still hides answers NoSuchEntity. The undo must not count
/// that policy as gone: whatever the visibility, a failed Create leaves no role and none of its
/// own policies behind (or says it left them).
#[tokio::test]
async fn a_failed_create_leaves_nothing_behind_whatever_iam_shows_late() {
    for misses in 1..=8 {
        let recorder = Recorder::start();
        let iam = MemoryIam::new();
        let handler = memory::handler(&iam);
        let tag = format!("hidden{misses}");
        let attached = memory::make_policy(&iam, &format!("persona-role-test-{tag}-extra")).await;
        iam.invisible_for(misses);
        let create = create_event(
            "Hidden",
            big_properties(&format!("{tag}-test"), &attached),
            &tag,
            &recorder,
        );
        let name = plan_of(&create).role.role_name;
        let response = invoke(&handler, &create, &recorder).await;
        if response["Status"] == "SUCCESS" {
            memory::assert_converged(&iam, &create).await;
            continue;
        }
        let reason = reason(&response);
        if reason.contains("left behind") {
            continue;
        }
        memory::assert_gone(&iam, &name).await;
        let physical_id = response["PhysicalResourceId"].as_str().unwrap();
        let delete = delete_after(&create, physical_id, &tag, &recorder);
        let deleted = invoke(&handler, &delete, &recorder).await;
        assert_eq!(deleted["Status"], "SUCCESS", "{misses}: {deleted}");
        memory::assert_gone(&iam, &name).await;
    }
}

/// IAM shows a new role late: the writes naming it are tried again while the adapter pauses
/// (four times), so a role missed by up to four reads gets its policies once visible; missed by
/// a fifth, the Create fails and everything it made is removed again.
#[tokio::test]
async fn a_role_iam_shows_late_is_written_once_visible_or_the_create_undone() {
    for (misses, status) in [(4, "SUCCESS"), (5, "FAILED")] {
        let recorder = Recorder::start();
        let iam = MemoryIam::new();
        let handler = memory::handler(&iam);
        let tag = format!("late{misses}");
        let attached = memory::make_policy(&iam, &format!("persona-role-test-{tag}-extra")).await;
        iam.roles_invisible_for(misses);
        let create = create_event(
            "Late",
            big_properties(&format!("{tag}-test"), &attached),
            &tag,
            &recorder,
        );
        let name = plan_of(&create).role.role_name;
        let response = invoke(&handler, &create, &recorder).await;
        assert_eq!(response["Status"], status, "{misses}: {response}");
        if status == "SUCCESS" {
            memory::assert_converged(&iam, &create).await;
        } else {
            let reason = reason(&response);
            assert!(reason.contains("NoSuchEntity"), "{reason}");
            assert!(reason.contains("removed again"), "{reason}");
            memory::assert_gone(&iam, &name).await;
            assert!(memory::policy_exists(&iam, &attached).await);
        }
    }
}
