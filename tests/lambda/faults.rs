//! The lifecycle against IAM as production sees it, injected by a proxy in front of moto:
//! sustained throttling (at random and beyond a calls-per-second budget), answers lost after the
//! call took effect, hung calls, NoSuchEntity right after a create; failures at every mutating
//! call of a Create, an Update, a replacement and a Delete, and of the undo that follows; Deletes
//! with ids CloudFormation made up; own policies left with gaps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

/// Invokes with a fresh RequestId and ResponseURL, so that one event can be sent many times.
async fn send(handler: &TestHandler, event: &Value, recorder: &Recorder) -> Value {
    let mut event = event.clone();
    retarget(&mut event, "again", recorder);
    invoke(handler, &event, recorder).await
}

fn status(response: &Value) -> &str {
    response["Status"].as_str().unwrap_or_default()
}

/// A Data Scientist with customer-managed policies, an inline policy and attachments.
async fn big_create(logical_id: &str, suffix: &str, tag: &str, recorder: &Recorder) -> Value {
    let attached = make_policy(&format!("persona-role-test-{suffix}-extra")).await;
    create_event(logical_id, big_properties(suffix, &attached), tag, recorder)
}

#[tokio::test]
async fn every_event_succeeds_under_thirty_percent_throttling() {
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.throttle(0.3);
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    let mut creates = Vec::new();
    for persona in PERSONAS {
        creates.push(sample_event(persona, "create", "throttled", &recorder));
    }
    creates.push(big_create("ThrottledBig", "throttled-big", "throttled", &recorder).await);
    // All at once, as a roll-out would send them.
    let mut tasks = Vec::new();
    for create in creates.clone() {
        let handler = handler.clone();
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            send(&handler, &create, &recorder).await
        }));
    }
    let mut names = Vec::new();
    for (task, create) in tasks.into_iter().zip(&creates) {
        let response = task.await.unwrap();
        assert_eq!(status(&response), "SUCCESS", "{response}");
        names.push(response["PhysicalResourceId"].as_str().unwrap().to_owned());
        assert_converged(create).await;
    }
    assert!(
        proxy.injected_of("Throttle") >= 5,
        "throttled only {:?} of {} calls",
        proxy.injected(),
        proxy.total_seen()
    );
    for (create, name) in creates.iter().zip(&names) {
        let delete = delete_after(create, name, "throttled", &recorder);
        let response = send(&handler, &delete, &recorder).await;
        assert_eq!(status(&response), "SUCCESS", "{response}");
        assert_gone(name).await;
    }
}

#[tokio::test]
async fn creates_succeed_within_a_calls_per_second_budget() {
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.budget(15);
    let recorder = Recorder::start();
    // The function's own call policy, unquickened: against a steady budget, retries must
    // outlast the others' calls, which quickened backoffs do not reliably do.
    let policy = persona_role::aws::CallPolicy::default();
    let handler = handler_with(iam_client_with(proxy.endpoint(), None, &policy), settings());
    let mut tasks = Vec::new();
    let mut creates = Vec::new();
    for i in 0..6 {
        let mut properties = big_properties(&format!("budget-{i}"), "");
        properties
            .as_object_mut()
            .unwrap()
            .remove("ManagedPolicyArns");
        let create = create_event(&format!("Budget{i}"), properties, "budget", &recorder);
        creates.push(create.clone());
        let handler = handler.clone();
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            send(&handler, &create, &recorder).await
        }));
    }
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(status(&response), "SUCCESS", "{response}");
    }
    assert!(proxy.injected_of("Throttle") > 0, "{:?}", proxy.injected());
    proxy.heal();
    for create in &creates {
        let name = plan_of(create).role.role_name;
        let delete = delete_after(create, &name, "budget", &recorder);
        assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
        assert_gone(&name).await;
    }
}

/// A Create whose `operation` (its `nth` call) took effect but whose answer was lost converges,
/// and so does the Delete whose `delete_operation` answer is lost.
async fn lost_answer(operation: &str, delete_operation: &str, tag: &str) {
    let proxy = FaultProxy::start(moto_endpoint());
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    let create = big_create(
        &format!("Lost{tag}"),
        &format!("lost-{tag}"),
        tag,
        &recorder,
    )
    .await;
    let name = plan_of(&create).role.role_name;
    proxy.on(operation, 1, Fault::LoseAnswer);
    let response = send(&handler, &create, &recorder).await;
    assert_eq!(status(&response), "SUCCESS", "{operation}: {response}");
    assert_eq!(proxy.injected_of("LoseAnswer"), 1, "{operation} was called");
    assert_converged(&create).await;

    proxy.on(delete_operation, 1, Fault::LoseAnswer);
    let delete = delete_after(&create, &name, tag, &recorder);
    let response = send(&handler, &delete, &recorder).await;
    assert_eq!(
        status(&response),
        "SUCCESS",
        "{delete_operation}: {response}"
    );
    assert_eq!(
        proxy.injected_of("LoseAnswer"),
        2,
        "{delete_operation} was called"
    );
    assert_gone(&name).await;
}

#[tokio::test]
async fn a_lost_create_role_answer_converges() {
    lost_answer("CreateRole", "DeleteRole", "createrole").await;
}

#[tokio::test]
async fn a_lost_create_policy_answer_converges() {
    lost_answer("CreatePolicy", "DeletePolicy", "createpolicy").await;
}

#[tokio::test]
async fn lost_put_and_attach_answers_converge() {
    lost_answer("PutRolePolicy", "DetachRolePolicy", "put").await;
    lost_answer("AttachRolePolicy", "DeleteRolePolicy", "attach").await;
}

#[tokio::test]
async fn a_lost_create_policy_version_answer_stays_within_five_versions() {
    let proxy = FaultProxy::start(moto_endpoint());
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    let create = big_create("LostVersion", "lost-version", "lostversion", &recorder).await;
    let name = plan_of(&create).role.role_name;
    assert_eq!(status(&send(&handler, &create, &recorder).await), "SUCCESS");
    // Three updates, each making a new version of the first policy, each answer lost once.
    let mut previous = create.clone();
    for round in 0..3 {
        let mut properties = create["ResourceProperties"].clone();
        properties["S3Buckets"] = json!([format!("ml-round-{round}-data")]);
        let update = update_after(&previous, &name, properties, "lostversion", &recorder);
        proxy.on("CreatePolicyVersion", 1, Fault::LoseAnswer);
        let response = send(&handler, &update, &recorder).await;
        assert_eq!(status(&response), "SUCCESS", "round {round}: {response}");
        assert_converged(&update).await;
        previous = update;
    }
    let arn = &plan_of(&previous).managed_policies[0].arn;
    let versions = checker()
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .unwrap();
    assert!(versions.versions().len() <= 5);
    let delete = delete_after(&previous, &name, "lostversion", &recorder);
    assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
    assert_gone(&name).await;
}

#[tokio::test]
async fn a_hung_call_is_abandoned_and_retried() {
    let proxy = FaultProxy::start(moto_endpoint());
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    proxy.on("CreateRole", 1, Fault::Hang(Duration::from_secs(30)));
    proxy.on("GetPolicy", 1, Fault::Hang(Duration::from_secs(30)));
    let create = big_create("Hung", "hung", "hung", &recorder).await;
    let name = plan_of(&create).role.role_name;
    let start = std::time::Instant::now();
    let response = send(&handler, &create, &recorder).await;
    assert_eq!(status(&response), "SUCCESS", "{response}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(proxy.injected_of("Hang"), 2);
    let delete = delete_after(&create, &name, "hung", &recorder);
    assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
    assert_gone(&name).await;
}

#[tokio::test]
async fn writes_to_a_role_iam_does_not_show_yet_are_retried() {
    let proxy = FaultProxy::start(moto_endpoint());
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    proxy.on("PutRolePolicy", 1, Fault::NoSuchEntity);
    proxy.on("AttachRolePolicy", 1, Fault::NoSuchEntity);
    let create = big_create("NotYet", "not-yet", "notyet", &recorder).await;
    let name = plan_of(&create).role.role_name;
    let response = send(&handler, &create, &recorder).await;
    assert_eq!(status(&response), "SUCCESS", "{response}");
    assert_eq!(proxy.injected_of("NoSuchEntity"), 2);
    assert_converged(&create).await;
    let delete = delete_after(&create, &name, "notyet", &recorder);
    assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
    assert_gone(&name).await;
}

/// How many mutating IAM calls an event makes when nothing fails.
async fn mutating_calls(event: &Value, recorder: &Recorder) -> usize {
    let calls = CallLog::default();
    let handler = handler(Some(&calls));
    assert_eq!(status(&send(&handler, event, recorder).await), "SUCCESS");
    calls.mutating().len()
}

#[tokio::test]
async fn a_create_failing_at_any_mutating_call_leaves_nothing_once_rolled_back() {
    let recorder = Recorder::start();
    let create = big_create("EveryCreate", "every-create", "everycreate", &recorder).await;
    let name = plan_of(&create).role.role_name;
    let total = mutating_calls(&create, &recorder).await;
    let delete = delete_after(&create, &name, "everycreate", &recorder);
    assert_eq!(
        status(&send(&handler(None), &delete, &recorder).await),
        "SUCCESS"
    );
    assert!(total >= 6, "{total}");
    for n in 1..=total {
        // The n-th call fails; with it, the first call of the undo (n + 1) fails too when it
        // is odd, so that undoing fails and the rollback Delete must clean up.
        let failing = if n % 2 == 1 { vec![n, n + 1] } else { vec![n] };
        let calls = CallLog::failing_at_each(&failing);
        let response = send(&handler(Some(&calls)), &create, &recorder).await;
        assert_eq!(status(&response), "FAILED", "call {n}: {response}");
        let id = response["PhysicalResourceId"].as_str().unwrap().to_owned();
        // CloudFormation's rollback Delete carries the answered id and the properties.
        let rollback = delete_after(&create, &id, "everycreate", &recorder);
        let response = send(&handler(None), &rollback, &recorder).await;
        assert_eq!(
            status(&response),
            "SUCCESS",
            "rollback after call {n}: {response}"
        );
        assert_gone(&name).await;
    }
}

#[tokio::test]
async fn a_delete_failing_at_any_mutating_call_finishes_when_retried() {
    let recorder = Recorder::start();
    let create = big_create("EveryDelete", "every-delete", "everydelete", &recorder).await;
    let name = plan_of(&create).role.role_name;
    assert_eq!(
        status(&send(&handler(None), &create, &recorder).await),
        "SUCCESS"
    );
    let delete = delete_after(&create, &name, "everydelete", &recorder);
    let total = mutating_calls(&delete, &recorder).await;
    assert!(total >= 6, "{total}");
    for n in 1..=total {
        assert_eq!(
            status(&send(&handler(None), &create, &recorder).await),
            "SUCCESS"
        );
        let calls = CallLog::failing_at(n);
        let response = send(&handler(Some(&calls)), &delete, &recorder).await;
        assert_eq!(status(&response), "FAILED", "call {n}: {response}");
        // Whatever was left, a retried Delete removes all of it, gaps in -1, -2, … included.
        let response = send(&handler(None), &delete, &recorder).await;
        assert_eq!(
            status(&response),
            "SUCCESS",
            "retry after call {n}: {response}"
        );
        assert_gone(&name).await;
    }
}

#[tokio::test]
async fn an_update_failing_at_any_mutating_call_rolls_back_to_the_old_declaration() {
    let recorder = Recorder::start();
    let create = big_create("EveryUpdate", "every-update", "everyupdate", &recorder).await;
    let name = plan_of(&create).role.role_name;
    assert_eq!(
        status(&send(&handler(None), &create, &recorder).await),
        "SUCCESS"
    );
    let mut properties = create["ResourceProperties"].clone();
    properties["AddActivities"] = json!(["manage-endpoints", "use-mlflow"]);
    properties["S3Buckets"] = json!(["ml-updated-data"]);
    properties["Tags"] = json!([{"Key": "team", "Value": "ml-research"}]);
    properties["Description"] = json!("updated");
    let update = update_after(&create, &name, properties, "everyupdate", &recorder);
    let rollback = update_after(
        &update,
        &name,
        create["ResourceProperties"].clone(),
        "everyupdate",
        &recorder,
    );
    let total = mutating_calls(&update, &recorder).await;
    assert_eq!(
        status(&send(&handler(None), &rollback, &recorder).await),
        "SUCCESS"
    );
    assert!(total >= 5, "{total}");
    for n in 1..=total {
        let calls = CallLog::failing_at(n);
        let response = send(&handler(Some(&calls)), &update, &recorder).await;
        assert_eq!(status(&response), "FAILED", "call {n}: {response}");
        assert_eq!(response["PhysicalResourceId"], name.as_str());
        let response = send(&handler(None), &rollback, &recorder).await;
        assert_eq!(
            status(&response),
            "SUCCESS",
            "rollback after call {n}: {response}"
        );
        assert_converged(&rollback).await;
    }
    let delete = delete_after(&rollback, &name, "everyupdate", &recorder);
    assert_eq!(
        status(&send(&handler(None), &delete, &recorder).await),
        "SUCCESS"
    );
    assert_gone(&name).await;
}

#[tokio::test]
async fn a_replacement_failing_at_any_mutating_call_leaves_the_old_role_and_no_new_one() {
    let recorder = Recorder::start();
    let create = big_create("EveryReplace", "every-replace", "everyreplace", &recorder).await;
    let name = plan_of(&create).role.role_name;
    assert_eq!(
        status(&send(&handler(None), &create, &recorder).await),
        "SUCCESS"
    );
    let mut properties = create["ResourceProperties"].clone();
    properties["RoleNameSuffix"] = json!("every-replace-new");
    let update = update_after(&create, &name, properties, "everyreplace", &recorder);
    let new_name = plan_of(&update).role.role_name;
    let total = mutating_calls(&update, &recorder).await;
    let cleanup = delete_after(&update, &new_name, "everyreplace", &recorder);
    assert_eq!(
        status(&send(&handler(None), &cleanup, &recorder).await),
        "SUCCESS"
    );
    for n in 1..=total {
        let calls = CallLog::failing_at(n);
        let response = send(&handler(Some(&calls)), &update, &recorder).await;
        assert_eq!(status(&response), "FAILED", "call {n}: {response}");
        assert_eq!(response["PhysicalResourceId"], name.as_str());
        assert_gone(&new_name).await;
        assert_converged(&create).await;
    }
    let delete = delete_after(&create, &name, "everyreplace", &recorder);
    assert_eq!(
        status(&send(&handler(None), &delete, &recorder).await),
        "SUCCESS"
    );
    assert_gone(&name).await;
}

#[tokio::test]
async fn a_delete_with_an_id_cloudformation_made_up_removes_the_role_its_create_made() {
    let recorder = Recorder::start();
    let handler = handler(None);
    let create = big_create("NeverAnswered", "never-answered", "madeup", &recorder).await;
    let name = plan_of(&create).role.role_name;
    // The Create made the role, but CloudFormation never got the answer (say the function ran
    // out of memory while answering): it rolls back with an id of its own making.
    assert_eq!(status(&send(&handler, &create, &recorder).await), "SUCCESS");
    let made_up = "ml-personas-NeverAnswered-1A2B3C4D5E6F7";
    let calls = CallLog::default();
    let delete = delete_after(&create, made_up, "madeup", &recorder);
    let response = send(&support::handler(Some(&calls)), &delete, &recorder).await;
    assert_eq!(status(&response), "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], made_up);
    assert_gone(&name).await;
    // The made-up id itself was never asked for: outside sagemaker-* the function may not read.
    assert!(!calls.calls().is_empty());

    // An id that names nothing and properties whose role is not this resource's: nothing done.
    let foreign = create_event(
        "SomeoneElse",
        big_properties("never-answered", ""),
        "madeup",
        &recorder,
    );
    assert_eq!(status(&send(&handler, &create, &recorder).await), "SUCCESS");
    let delete = delete_after(&foreign, made_up, "madeup", &recorder);
    assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
    assert!(role_exists(&name).await, "another resource's role stays");
    let delete = delete_after(&create, &name, "madeup", &recorder);
    assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
    assert_gone(&name).await;
}

#[tokio::test]
async fn own_policies_past_a_gap_are_found_and_deleted() {
    let recorder = Recorder::start();
    let handler = handler(None);
    let create = big_create("Gap", "gap", "gap", &recorder).await;
    let plan = plan_of(&create);
    let name = plan.role.role_name.clone();
    assert!(plan.managed_policies.len() >= 2, "needs -1 and -2");
    assert_eq!(status(&send(&handler, &create, &recorder).await), "SUCCESS");
    // `-1` is removed by hand: `-2` and later sit past a gap.
    let first = &plan.managed_policies[0].arn;
    let iam = checker();
    iam.detach_role_policy()
        .role_name(&name)
        .policy_arn(first)
        .send()
        .await
        .unwrap();
    iam.delete_policy().policy_arn(first).send().await.unwrap();
    let delete = delete_after(&create, &name, "gap", &recorder);
    assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
    assert_gone(&name).await;
}

#[tokio::test]
async fn a_replacement_that_times_out_after_creating_names_the_new_role() {
    let proxy = FaultProxy::start(moto_endpoint());
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    let create = on_stack(
        &own_stack("replacetimeout"),
        sample_event("compute", "create", "replacetimeout", &recorder),
    );
    let old = plan_of(&create).role.role_name;
    assert_eq!(status(&send(&handler, &create, &recorder).await), "SUCCESS");
    let mut properties = create["ResourceProperties"].clone();
    properties["RoleNameSuffix"] = json!("compute-replaced-late");
    let update = update_after(&create, &old, properties, "replacetimeout", &recorder);
    let new = plan_of(&update).role.role_name;
    // IAM stops answering once the new role exists.
    for nth in 1..=10 {
        proxy.on("PutRolePolicy", nth, Fault::Hang(Duration::from_secs(30)));
    }
    let response = invoke_with_deadline(&handler, &update, &recorder, Duration::from_secs(5)).await;
    assert_eq!(status(&response), "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.starts_with("timed out"), "{reason}");
    assert!(
        reason.contains(&format!("role `{new}` may have been left behind")),
        "{reason}"
    );
    assert_eq!(response["PhysicalResourceId"], old.as_str());
    proxy.heal();
    for (event, name) in [(&update, &new), (&create, &old)] {
        let delete = delete_after(event, name, "replacetimeout", &recorder);
        assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
        assert_gone(name).await;
    }
}

/// Lambda delivers an event at least once: two copies of one Create running at the same moment,
/// one through a throttled IAM, both converge on the one role and answer SUCCESS with it.
#[tokio::test]
async fn two_copies_of_one_create_at_once_both_converge_on_one_role() {
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.throttle(0.3);
    let recorder = Recorder::start();
    let throttled = handler_through(&proxy, None);
    let direct = handler(None);
    let create = big_create("Twice", "twice", "twice", &recorder).await;
    let name = plan_of(&create).role.role_name;
    let (first, second) = tokio::join!(
        throttled.handle(create.clone(), None),
        direct.handle(create.clone(), None)
    );
    let (first, second) = (first.unwrap().response, second.unwrap().response);
    for response in [&first, &second] {
        assert_eq!(response.status.as_str(), "SUCCESS", "{response:?}");
        assert_eq!(response.physical_resource_id, name);
    }
    assert_eq!(first.data, second.data);
    let request_id = create["RequestId"].as_str().unwrap();
    assert_eq!(
        recorder.for_request(request_id).len(),
        2,
        "one answer per copy"
    );
    assert_converged(&create).await;
    let delete = delete_after(&create, &name, "twice", &recorder);
    assert_eq!(
        status(&invoke(&direct, &delete, &recorder).await),
        "SUCCESS"
    );
    assert_gone(&name).await;
}

#[tokio::test]
async fn once_iam_throttles_an_event_its_later_waves_run_a_few_calls_at_a_time() {
    use persona_role::aws::meter::THROTTLED_CALLS_IN_FLIGHT;
    let recorder = Recorder::start();
    for throttled in [false, true] {
        let proxy = FaultProxy::start(moto_endpoint());
        // Long enough that the calls of one wave overlap at the proxy.
        proxy.latency(Duration::from_millis(100));
        if throttled {
            proxy.on("CreateRole", 1, Fault::Throttle);
        }
        let handler = handler_through(&proxy, None);
        let suffix = format!("paced-{throttled}");
        let create = create_event("Paced", samples::heaviest(&suffix, 12), "paced", &recorder);
        let planned = plan_of(&create).managed_policies.len();
        assert!(planned > THROTTLED_CALLS_IN_FLIGHT, "{planned} policies");
        let response = send(&handler, &create, &recorder).await;
        assert_eq!(status(&response), "SUCCESS", "{response}");
        let peak = proxy.peak_in_flight("CreatePolicy");
        if throttled {
            assert_eq!(proxy.injected_of("Throttle"), 1);
            assert!(
                peak <= THROTTLED_CALLS_IN_FLIGHT,
                "{peak} CreatePolicy calls at once after a throttle"
            );
        } else {
            // The control: unthrottled, the wave runs its calls together.
            assert!(peak > THROTTLED_CALLS_IN_FLIGHT, "only {peak} at once");
        }
        let name = response["PhysicalResourceId"].as_str().unwrap().to_owned();
        let delete = delete_after(&create, &name, "paced", &recorder);
        assert_eq!(status(&send(&handler, &delete, &recorder).await), "SUCCESS");
        assert_gone(&name).await;
    }
}
