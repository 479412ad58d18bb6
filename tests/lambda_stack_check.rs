//! Every event is checked with CloudFormation before any IAM call. Against moto and the local
//! CloudFormation stand-in, with each stack's state registered as CloudFormation would show it:
//! forged events (another stack's resource updated or deleted, a Create for a stack that does not
//! exist, the wrong state, the wrong physical id, a resource that is no custom resource) are
//! answered FAILED, naming the field at fault, without a single IAM call and with the victim's
//! role untouched; CloudFormation throttling is retried, CloudFormation unreachable is FAILED;
//! and every real flow of a stack (create, in-place and replacing updates with their cleanup,
//! rollbacks of failed creates and updates, stack deletion) is confirmed and carried out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::*;

const LOGICAL_ID: &str = "Compute";

/// A stack of its own for one test, registered with the stand-in in `status`.
fn new_stack(name: &str, status: &str) -> String {
    let id = format!(
        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/{}",
        request_id("id")
    );
    stand_in().put_stack(&id, status);
    id
}

/// `event`, as sent for `stack`.
fn on(stack: &str, mut event: Value) -> Value {
    event["StackId"] = json!(stack);
    event
}

fn shows(stack: &str, stack_status: &str, resource_status: &str, id: Option<&str>) {
    stand_in().put_stack(stack, stack_status);
    stand_in().put_resource(stack, LOGICAL_ID, Resource::custom(resource_status, id));
}

fn reason(answer: &Value) -> &str {
    answer["Reason"].as_str().unwrap_or_default()
}

/// A Compute role created by its stack, which now rests in CREATE_COMPLETE: its Create event and
/// the role's name.
async fn victim(tag: &str, recorder: &Recorder) -> (String, Value, String) {
    let stack = new_stack(&format!("victim-{tag}"), "CREATE_IN_PROGRESS");
    let create = on(&stack, sample_event("compute", "create", tag, recorder));
    shows(&stack, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let answer = invoke(&strict_handler(None), &create, recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    shows(&stack, "CREATE_COMPLETE", "CREATE_COMPLETE", Some(&role));
    (stack, create, role)
}

/// Sends `event` through a handler whose CloudFormation answers only what was registered;
/// asserts the FAILED answer leads with `field` and that IAM was not called at all.
async fn refused(event: &Value, field: &str, recorder: &Recorder) -> String {
    let calls = CallLog::default();
    let answer = invoke(&strict_handler(Some(&calls)), event, recorder).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = reason(&answer).to_owned();
    assert!(reason.starts_with(&format!("{field}: ")), "{reason}");
    assert!(reason.contains("nothing was changed"), "{reason}");
    assert_eq!(calls.calls(), Vec::<String>::new(), "IAM was called");
    reason
}

// ------------------------------------------------------------------------------ attacks

#[tokio::test]
async fn a_forged_update_of_another_stacks_resource_changes_nothing() {
    let recorder = Recorder::start();
    let (_, create, role) = victim("forgedupdate", &recorder).await;
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("43200");
    properties["S3Buckets"] = json!(["attacker-exfiltration"]);
    let forged = update_after(&create, &role, properties, "forgedupdate", &recorder);
    let reason = refused(&forged, "RequestType", &recorder).await;
    assert!(reason.contains("CREATE_COMPLETE"), "{reason}");
    assert_role_converged(&role, &create).await;
}

#[tokio::test]
async fn a_forged_delete_of_another_stacks_role_deletes_nothing() {
    let recorder = Recorder::start();
    let (_, create, role) = victim("forgeddelete", &recorder).await;
    let forged = delete_after(&create, &role, "forgeddelete", &recorder);
    refused(&forged, "RequestType", &recorder).await;
    assert!(role_exists(&role).await);
    assert_role_converged(&role, &create).await;
}

#[tokio::test]
async fn a_forged_create_for_a_stack_that_does_not_exist_creates_nothing() {
    let recorder = Recorder::start();
    let nowhere = format!(
        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/nowhere/{}",
        request_id("id")
    );
    let forged = on(
        &nowhere,
        sample_event("compute", "create", "nowhere", &recorder),
    );
    let reason = refused(&forged, "StackId", &recorder).await;
    assert!(reason.contains("does not exist"), "{reason}");
    assert!(!role_exists(&plan_of(&forged).role.role_name).await);
}

#[tokio::test]
async fn an_update_of_a_resource_cloudformation_is_not_updating_is_refused() {
    let recorder = Recorder::start();
    let (stack, create, role) = victim("notupdating", &recorder).await;
    shows(&stack, "UPDATE_COMPLETE", "UPDATE_COMPLETE", Some(&role));
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("43200");
    let forged = update_after(&create, &role, properties, "notupdating", &recorder);
    let reason = refused(&forged, "RequestType", &recorder).await;
    assert!(reason.contains("UPDATE_COMPLETE"), "{reason}");
    assert_role_converged(&role, &create).await;
}

#[tokio::test]
async fn an_update_naming_another_physical_id_is_refused() {
    let recorder = Recorder::start();
    let (stack, create, role) = victim("otherid", &recorder).await;
    let (_, _, other_role) = victim("otheridtoo", &recorder).await;
    // The victim's stack is really updating its resource; the event names another role.
    shows(
        &stack,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    let forged = update_after(
        &create,
        &other_role,
        create["ResourceProperties"].clone(),
        "otherid",
        &recorder,
    );
    let reason = refused(&forged, "PhysicalResourceId", &recorder).await;
    assert!(
        reason.contains(&other_role) && reason.contains(&role),
        "{reason}"
    );
    assert!(role_exists(&other_role).await);
}

#[tokio::test]
async fn an_event_for_a_resource_that_is_no_custom_resource_is_refused() {
    let recorder = Recorder::start();
    let stack = new_stack("native", "UPDATE_IN_PROGRESS");
    stand_in().put_resource(
        &stack,
        LOGICAL_ID,
        Resource {
            resource_type: "AWS::IAM::Role".to_owned(),
            ..Resource::custom("CREATE_IN_PROGRESS", None)
        },
    );
    let forged = on(
        &stack,
        sample_event("compute", "create", "native", &recorder),
    );
    let reason = refused(&forged, "LogicalResourceId", &recorder).await;
    assert!(reason.contains("AWS::IAM::Role"), "{reason}");
    assert!(!role_exists(&plan_of(&forged).role.role_name).await);
}

#[tokio::test]
async fn a_logical_id_the_stack_does_not_have_is_refused() {
    let recorder = Recorder::start();
    let (stack, create, _) = victim("nological", &recorder).await;
    let mut forged = on(
        &stack,
        sample_event("compute", "create", "nologicaltoo", &recorder),
    );
    forged["LogicalResourceId"] = json!("Invented");
    let reason = refused(&forged, "LogicalResourceId", &recorder).await;
    assert!(reason.contains("Invented"), "{reason}");
    assert!(!role_exists(&plan_of(&forged).role.role_name).await);
    assert_role_converged(&plan_of(&create).role.role_name, &create).await;
}

// ------------------------------------------------------------------ CloudFormation itself

#[tokio::test]
async fn cloudformation_throttling_is_retried_and_the_event_carried_out() {
    let recorder = Recorder::start();
    let stack = new_stack("throttled", "CREATE_IN_PROGRESS");
    shows(&stack, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    stand_in().throttle(&stack, 3);
    let create = on(
        &stack,
        sample_event("compute", "create", "throttled", &recorder),
    );
    let answer = invoke(&strict_handler(None), &create, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let reads = stand_in().calls_for(&stack);
    assert_eq!(reads.len(), 4, "three throttled reads and one answered");
    assert!(reads.iter().all(|c| c.action == "DescribeStackResource"));
    assert_converged(&create).await;
}

#[tokio::test]
async fn cloudformation_unreachable_is_failed_without_any_iam_call() {
    let recorder = Recorder::start();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let calls = CallLog::default();
    let handler = TestHandler {
        handler: persona_role::handler::Handler::new(
            iam_client(Some(&calls)),
            cloudformation_client_at(&closed),
            http(),
            settings(),
        ),
        strict: true,
    };
    let create = sample_event("compute", "create", "unreachable", &recorder);
    let answer = invoke(&handler, &create, &recorder).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = reason(&answer);
    assert!(
        reason.starts_with("CloudFormation DescribeStackResource of "),
        "{reason}"
    );
    assert!(reason.contains("nothing was changed"), "{reason}");
    assert_eq!(calls.calls(), Vec::<String>::new(), "IAM was called");
    assert!(!role_exists(&plan_of(&create).role.role_name).await);
}

#[tokio::test]
async fn a_state_cloudformation_shows_late_is_read_again() {
    let recorder = Recorder::start();
    let (stack, create, role) = victim("late", &recorder).await;
    stand_in().put_stack(&stack, "UPDATE_IN_PROGRESS");
    stand_in().put_resource_reads(
        &stack,
        LOGICAL_ID,
        vec![
            Resource::custom("CREATE_COMPLETE", Some(&role)),
            Resource::custom("UPDATE_IN_PROGRESS", Some(&role)),
        ],
    );
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("7200");
    let update = update_after(&create, &role, properties, "late", &recorder);
    let answer = invoke(&strict_handler(None), &update, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_converged(&update).await;
}

// -------------------------------------------------------------------------- real flows

#[tokio::test]
async fn a_stacks_create_updates_replacement_cleanup_and_deletion_are_carried_out() {
    let recorder = Recorder::start();
    let handler = strict_handler(None);
    let (stack, create, role) = victim("life", &recorder).await;
    assert_converged(&create).await;

    // In place.
    shows(
        &stack,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("7200");
    let update = update_after(&create, &role, properties.clone(), "life", &recorder);
    let answer = invoke(&handler, &update, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_converged(&update).await;

    // Replacement: a new name, then the old role's Delete in the cleanup.
    properties["RoleNameSuffix"] = json!("compute-life-renamed");
    let replace = update_after(&update, &role, properties, "life", &recorder);
    let answer = invoke(&handler, &replace, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let new_role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(new_role, role);
    shows(
        &stack,
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        Some(&new_role),
    );
    let cleanup = delete_after(&update, &role, "life", &recorder);
    let answer = invoke(&handler, &cleanup, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_gone(&role).await;
    assert_converged(&replace).await;

    // Outside the cleanup, the same Delete of the current role is refused.
    shows(
        &stack,
        "UPDATE_COMPLETE",
        "UPDATE_COMPLETE",
        Some(&new_role),
    );
    let early = delete_after(&replace, &new_role, "life", &recorder);
    refused(&early, "RequestType", &recorder).await;
    assert_converged(&replace).await;

    // Stack deletion.
    shows(
        &stack,
        "DELETE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        Some(&new_role),
    );
    let delete = delete_after(&replace, &new_role, "life", &recorder);
    let answer = invoke(&handler, &delete, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_gone(&new_role).await;
}

#[tokio::test]
async fn the_rollback_of_a_failed_create_deletes_what_it_names() {
    let recorder = Recorder::start();
    let stack = new_stack("failedcreate", "CREATE_IN_PROGRESS");
    shows(&stack, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let create = on(
        &stack,
        sample_event("compute", "create", "failedcreate", &recorder),
    );
    // The second IAM write fails: the Create undoes itself and answers a placeholder id.
    let failing = strict_handler(Some(&CallLog::failing_at(2)));
    let answer = invoke(&failing, &create, &recorder).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let id = answer["PhysicalResourceId"].as_str().unwrap().to_owned();

    shows(
        &stack,
        "ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        Some(&id),
    );
    let rollback = delete_after(&create, &id, "failedcreate", &recorder);
    let answer = invoke(&strict_handler(None), &rollback, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_gone(&plan_of(&create).role.role_name).await;
}

#[tokio::test]
async fn the_rollback_delete_of_a_create_still_running_carries_an_id_cloudformation_made_up() {
    let recorder = Recorder::start();
    let stack = new_stack("madeup", "CREATE_IN_PROGRESS");
    shows(&stack, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let create = on(
        &stack,
        sample_event("compute", "create", "madeup", &recorder),
    );
    let answer = invoke(&strict_handler(None), &create, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    // Another resource failed before CloudFormation took the answer: the stack rolls back, and
    // the resource, which shows no id, gets a Delete with one CloudFormation made up.
    shows(&stack, "ROLLBACK_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let rollback = delete_after(&create, "madeup-Compute-1A2B3C4D5E6F", "madeup", &recorder);
    let answer = invoke(&strict_handler(None), &rollback, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_gone(&plan_of(&create).role.role_name).await;
}

#[tokio::test]
async fn the_rollback_of_a_failed_update_restores_the_old_declaration() {
    let recorder = Recorder::start();
    let (stack, create, role) = victim("failedupdate", &recorder).await;
    shows(
        &stack,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("7200");
    properties["S3Buckets"] = json!(["ml-team-other"]);
    let update = update_after(&create, &role, properties, "failedupdate", &recorder);
    let failing = strict_handler(Some(&CallLog::failing_at(2)));
    let answer = invoke(&failing, &update, &recorder).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");

    // The rollback: an Update back to the old properties, the resource UPDATE_IN_PROGRESS again.
    shows(
        &stack,
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    let rollback = update_after(
        &update,
        &role,
        create["ResourceProperties"].clone(),
        "failedupdate",
        &recorder,
    );
    let answer = invoke(&strict_handler(None), &rollback, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_role_converged(&role, &create).await;
}
