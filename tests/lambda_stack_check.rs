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

/// Sends `event` through `handler`; asserts it answered SUCCESS and returns the answer.
async fn succeeds(handler: &TestHandler, event: &Value, recorder: &Recorder) -> Value {
    let answer = invoke(handler, event, recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    answer
}

/// A Compute role created by its stack, which now rests in CREATE_COMPLETE: its Create event and
/// the role's name.
async fn victim(tag: &str, recorder: &Recorder) -> (String, Value, String) {
    let stack = new_stack(&format!("victim-{tag}"), "CREATE_IN_PROGRESS");
    let create = on(&stack, sample_event("compute", "create", tag, recorder));
    shows(&stack, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let answer = succeeds(&strict_handler(None), &create, recorder).await;
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

/// An Update CloudFormation is not sending: the victim's resource rests in each state an
/// Update may find it in, and the forged event asks for more than the victim declared.
#[tokio::test]
async fn a_forged_update_of_a_resource_cloudformation_is_not_updating_changes_nothing() {
    let recorder = Recorder::start();
    for (tag, resting) in [
        ("forgedupdate", "CREATE_COMPLETE"),
        ("notupdating", "UPDATE_COMPLETE"),
    ] {
        let (stack, create, role) = victim(tag, &recorder).await;
        shows(&stack, resting, resting, Some(&role));
        let mut properties = create["ResourceProperties"].clone();
        properties["MaxSessionDuration"] = json!("43200");
        properties["S3Buckets"] = json!(["attacker-exfiltration"]);
        let forged = update_after(&create, &role, properties, tag, &recorder);
        let reason = refused(&forged, "RequestType", &recorder).await;
        assert!(reason.contains(resting), "{tag}: {reason}");
        assert_role_converged(&role, &create).await;
    }
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

/// A Create for a custom resource CloudFormation does not hold: in a stack that does not exist,
/// of a logical id that is a native resource, of a logical id the stack does not have.
#[tokio::test]
async fn a_forged_create_of_a_resource_cloudformation_does_not_hold_creates_nothing() {
    let recorder = Recorder::start();
    let nowhere = format!(
        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/nowhere/{}",
        request_id("id")
    );
    let native = new_stack("native", "UPDATE_IN_PROGRESS");
    stand_in().put_resource(
        &native,
        LOGICAL_ID,
        Resource {
            resource_type: "AWS::IAM::Role".to_owned(),
            ..Resource::custom("CREATE_IN_PROGRESS", None)
        },
    );
    let (victims_stack, victims_create, victims_role) = victim("nological", &recorder).await;
    // The stack, the event's tag and logical id, the field refused and what its reason names.
    let rows = [
        (&nowhere, "nowhere", LOGICAL_ID, "StackId", "does not exist"),
        (
            &native,
            "native",
            LOGICAL_ID,
            "LogicalResourceId",
            "AWS::IAM::Role",
        ),
        (
            &victims_stack,
            "nologicaltoo",
            "Invented",
            "LogicalResourceId",
            "Invented",
        ),
    ];
    for (stack, tag, logical_id, field, named) in rows {
        let mut forged = on(stack, sample_event("compute", "create", tag, &recorder));
        forged["LogicalResourceId"] = json!(logical_id);
        let reason = refused(&forged, field, &recorder).await;
        assert!(reason.contains(named), "{tag}: {reason}");
        assert!(
            !role_exists(&plan_of(&forged).role.role_name).await,
            "{tag}"
        );
    }
    assert_role_converged(&victims_role, &victims_create).await;
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
    succeeds(&strict_handler(None), &create, &recorder).await;
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
    succeeds(&strict_handler(None), &update, &recorder).await;
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
    succeeds(&handler, &update, &recorder).await;
    assert_converged(&update).await;

    // Replacement: a new name, then the old role's Delete in the cleanup.
    properties["RoleNameSuffix"] = json!("compute-life-renamed");
    let replace = update_after(&update, &role, properties, "life", &recorder);
    let answer = succeeds(&handler, &replace, &recorder).await;
    let new_role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(new_role, role);
    shows(
        &stack,
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        Some(&new_role),
    );
    let cleanup = delete_after(&update, &role, "life", &recorder);
    succeeds(&handler, &cleanup, &recorder).await;
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
    succeeds(&handler, &delete, &recorder).await;
    assert_gone(&new_role).await;
}

/// A Create's rollback: after the Create failed (it undid itself and answered a placeholder id,
/// which the resource shows), or while the Create still ran (another resource failed before
/// CloudFormation took the answer: the resource shows no id, and the Delete carries one
/// CloudFormation made up).
#[tokio::test]
async fn the_rollback_delete_of_a_create_deletes_the_role_it_planned() {
    let recorder = Recorder::start();
    // The tag, the IAM write the Create fails at, the resource's state during the rollback, and
    // the id CloudFormation made up.
    let rows: [(&str, Option<usize>, &str, Option<&str>); 2] = [
        ("failedcreate", Some(2), "DELETE_IN_PROGRESS", None),
        (
            "madeup",
            None,
            "CREATE_IN_PROGRESS",
            Some("madeup-Compute-1A2B3C4D5E6F"),
        ),
    ];
    for (tag, failing_at, resource_status, made_up) in rows {
        let stack = new_stack(tag, "CREATE_IN_PROGRESS");
        shows(&stack, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
        let create = on(&stack, sample_event("compute", "create", tag, &recorder));
        let calls = failing_at.map(CallLog::failing_at);
        let answer = invoke(&strict_handler(calls.as_ref()), &create, &recorder).await;
        let status = if failing_at.is_some() {
            "FAILED"
        } else {
            "SUCCESS"
        };
        assert_eq!(answer["Status"], status, "{tag}: {answer}");
        let answered = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
        let id = made_up.unwrap_or(&answered);
        let shown = made_up.is_none().then_some(id);
        shows(&stack, "ROLLBACK_IN_PROGRESS", resource_status, shown);
        let rollback = delete_after(&create, id, tag, &recorder);
        succeeds(&strict_handler(None), &rollback, &recorder).await;
        assert_gone(&plan_of(&create).role.role_name).await;
    }
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
    succeeds(&strict_handler(None), &rollback, &recorder).await;
    assert_role_converged(&role, &create).await;
}
