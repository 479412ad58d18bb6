//! Every event is checked with CloudFormation before any IAM call. Against the in-memory IAM
//! (each test an account of its own) and the local CloudFormation stand-in, with each stack's state and events registered as CloudFormation would
//! show them: forged events (another stack's resource updated or deleted, a Create for a stack
//! that does not exist, the wrong state, the wrong physical id, a resource that is no custom
//! resource, other properties than CloudFormation is applying, another function's custom
//! resource, the current role's id in another case during a cleanup) are answered FAILED, naming
//! the field at fault, without a single IAM call and with the victim's role untouched; a forged
//! event that cannot become valid costs one read; CloudFormation throttling is retried and its
//! events paged, CloudFormation unreachable is FAILED; and every real flow of a stack (create,
//! in-place and replacing updates with their cleanup, rollbacks of failed creates and updates,
//! stack deletion) is confirmed and carried out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use crate::support;

use persona_role::cfn::stacks::SdkStacks;
use serde_json::{Value, json};
use support::memory::{self, Fault, MemoryIam};
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

/// CloudFormation about to send `event`: the state [`shows`] and the event it records first,
/// with the event's properties.
fn sends(event: &Value, stack_status: &str, resource_status: &str, id: Option<&str>) {
    let stack = event["StackId"].as_str().unwrap();
    shows(stack, stack_status, resource_status, id);
    stand_in().record(event);
}

/// CloudFormation took the answer to `event`: the resource's event with the id answered.
fn completes(event: &Value, status: &str, id: &str) {
    stand_in().put_event(
        event["StackId"].as_str().unwrap(),
        Event::custom(LOGICAL_ID, status, Some(id), &event["ResourceProperties"]),
    );
}

fn reason(answer: &Value) -> &str {
    answer["Reason"].as_str().unwrap_or_default()
}

/// Sends `event` through `handler`; asserts it answered SUCCESS and returns the answer.
async fn succeeds(handler: &TestHandler<MemoryIam>, event: &Value, recorder: &Recorder) -> Value {
    let answer = invoke(handler, event, recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    answer
}

/// A Compute role created by its stack, which now rests in CREATE_COMPLETE: its Create event and
/// the role's name.
async fn victim(iam: &MemoryIam, tag: &str, recorder: &Recorder) -> (String, Value, String) {
    let stack = new_stack(&format!("victim-{tag}"), "CREATE_IN_PROGRESS");
    let create = on(&stack, sample_event("compute", "create", tag, recorder));
    sends(&create, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let answer = succeeds(&memory::strict_handler(iam), &create, recorder).await;
    let role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    completes(&create, "CREATE_COMPLETE", &role);
    shows(&stack, "CREATE_COMPLETE", "CREATE_COMPLETE", Some(&role));
    (stack, create, role)
}

/// Sends `event` through a handler whose CloudFormation answers only what was registered;
/// asserts the FAILED answer leads with `field` and that IAM was not called at all.
async fn refused(iam: &MemoryIam, event: &Value, field: &str, recorder: &Recorder) -> String {
    iam.clear_calls();
    let answer = invoke(&memory::strict_handler(iam), event, recorder).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = reason(&answer).to_owned();
    assert!(reason.starts_with(&format!("{field}: ")), "{reason}");
    assert!(reason.contains("nothing was changed"), "{reason}");
    assert_eq!(iam.calls(), Vec::<String>::new(), "IAM was called");
    reason
}

// ------------------------------------------------------------------------------ attacks

/// An Update CloudFormation is not sending: the victim's resource rests in each state an
/// Update may find it in, and the forged event asks for more than the victim declared.
#[tokio::test]
async fn a_forged_update_of_a_resource_cloudformation_is_not_updating_changes_nothing() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    for (tag, resting) in [
        ("forgedupdate", "CREATE_COMPLETE"),
        ("notupdating", "UPDATE_COMPLETE"),
    ] {
        let (stack, create, role) = victim(&iam, tag, &recorder).await;
        shows(&stack, resting, resting, Some(&role));
        let mut properties = create["ResourceProperties"].clone();
        properties["MaxSessionDuration"] = json!("43200");
        properties["S3Buckets"] = json!(["attacker-exfiltration"]);
        let forged = update_after(&create, &role, properties, tag, &recorder);
        let reason = refused(&iam, &forged, "RequestType", &recorder).await;
        assert!(reason.contains(resting), "{tag}: {reason}");
        memory::assert_role_converged(&iam, &role, &create).await;
    }
}

#[tokio::test]
async fn a_forged_delete_of_another_stacks_role_deletes_nothing() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let (_, create, role) = victim(&iam, "forgeddelete", &recorder).await;
    let forged = delete_after(&create, &role, "forgeddelete", &recorder);
    refused(&iam, &forged, "RequestType", &recorder).await;
    assert!(memory::role_exists(&iam, &role).await);
    memory::assert_role_converged(&iam, &role, &create).await;
}

/// A Create for a custom resource CloudFormation does not hold: in a stack that does not exist,
/// of a logical id that is a native resource, of a logical id the stack does not have.
#[tokio::test]
async fn a_forged_create_of_a_resource_cloudformation_does_not_hold_creates_nothing() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
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
    let (victims_stack, victims_create, victims_role) = victim(&iam, "nological", &recorder).await;
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
        let reason = refused(&iam, &forged, field, &recorder).await;
        assert!(reason.contains(named), "{tag}: {reason}");
        assert!(
            !memory::role_exists(&iam, &plan_of(&forged).role.role_name).await,
            "{tag}"
        );
    }
    memory::assert_role_converged(&iam, &victims_role, &victims_create).await;
}

#[tokio::test]
async fn an_update_naming_another_physical_id_is_refused() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let (stack, create, role) = victim(&iam, "otherid", &recorder).await;
    let (_, _, other_role) = victim(&iam, "otheridtoo", &recorder).await;
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
    let reason = refused(&iam, &forged, "PhysicalResourceId", &recorder).await;
    assert!(
        reason.contains(&other_role) && reason.contains(&role),
        "{reason}"
    );
    assert!(memory::role_exists(&iam, &other_role).await);
}

// --------------------------------------------------- against what CloudFormation is applying

/// The victim's stack really updating its resource to `MaxSessionDuration: 7200`: the real
/// Update, registered as CloudFormation shows and records it.
fn real_update(stack_role: (&Value, &str), tag: &str, recorder: &Recorder) -> Value {
    let (create, role) = stack_role;
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("7200");
    let update = update_after(create, role, properties, tag, recorder);
    sends(
        &update,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(role),
    );
    update
}

/// Sends a forged event, asserts it is refused on `field` after a single round of reads (one
/// DescribeStackResource beside one DescribeStackEvents, no re-read), and returns the reason.
async fn refused_at_once(
    iam: &MemoryIam,
    stack: &str,
    forged: &Value,
    field: &str,
    recorder: &Recorder,
) -> String {
    let before = stand_in().calls_for(stack).len();
    let start = std::time::Instant::now();
    let reason = refused(iam, forged, field, recorder).await;
    let reads: Vec<String> = stand_in().calls_for(stack)[before..]
        .iter()
        .map(|c| c.action.clone())
        .collect();
    let mut sorted = reads.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["DescribeStackEvents", "DescribeStackResource"],
        "one read of each, no re-read: {reads:?}"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_millis(450),
        "a settled refusal waits for no re-read: {:?}",
        start.elapsed()
    );
    reason
}

/// While CloudFormation really updates a resource, a forged Update for it with other properties
/// (S3 Full Access on the forger's buckets) arrives first: nothing changes, it costs one read,
/// and the real Update then succeeds.
#[tokio::test]
async fn a_forged_update_racing_a_real_one_changes_nothing_and_the_real_one_succeeds() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let (stack, create, role) = victim(&iam, "racing", &recorder).await;
    let update = real_update((&create, &role), "racing", &recorder);

    let mut properties = update["ResourceProperties"].clone();
    properties["AddActivities"] = json!(["s3-full-access"]);
    properties["S3Buckets"] = json!(["attacker-exfiltration", "attacker-drop"]);
    let forged = update_after(&create, &role, properties, "racing", &recorder);
    let reason = refused_at_once(&iam, &stack, &forged, "ResourceProperties", &recorder).await;
    assert!(
        reason.contains("`AddActivities`") && reason.contains("`S3Buckets`"),
        "{reason}"
    );
    assert!(reason.contains("UPDATE_IN_PROGRESS"), "{reason}");
    memory::assert_role_converged(&iam, &role, &create).await;

    succeeds(&memory::strict_handler(&iam), &update, &recorder).await;
    memory::assert_role_converged(&iam, &role, &update).await;
}

/// A forged Update with another RoleNameSuffix would make a role no Delete ever removes.
#[tokio::test]
async fn a_forged_update_with_another_role_name_makes_no_role() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let (stack, create, role) = victim(&iam, "orphan", &recorder).await;
    let update = real_update((&create, &role), "orphan", &recorder);
    let mut properties = update["ResourceProperties"].clone();
    properties["RoleNameSuffix"] = json!("compute-orphan-forged");
    let forged = update_after(&create, &role, properties, "orphan", &recorder);
    let reason = refused_at_once(&iam, &stack, &forged, "ResourceProperties", &recorder).await;
    assert!(reason.contains("`RoleNameSuffix`"), "{reason}");
    assert!(!memory::role_exists(&iam, "sagemaker-compute-orphan-forged").await);
    memory::assert_role_converged(&iam, &role, &create).await;
}

/// While CloudFormation deletes a stack whose role is declared `RetainOnDelete`, a forged
/// Delete without it arrives first: the role stays, and the real Delete keeps it.
#[tokio::test]
async fn a_forged_delete_dropping_retain_on_delete_deletes_nothing() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let stack = new_stack("retained", "CREATE_IN_PROGRESS");
    let mut create = on(
        &stack,
        sample_event("compute", "create", "retained", &recorder),
    );
    create["ResourceProperties"]["RetainOnDelete"] = json!("true");
    sends(&create, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let answer = succeeds(&memory::strict_handler(&iam), &create, &recorder).await;
    let role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    completes(&create, "CREATE_COMPLETE", &role);

    let delete = delete_after(&create, &role, "retained", &recorder);
    sends(
        &delete,
        "DELETE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        Some(&role),
    );
    let mut forged = delete_after(&create, &role, "retained", &recorder);
    forged["ResourceProperties"]["RetainOnDelete"] = json!("false");
    let reason = refused_at_once(&iam, &stack, &forged, "ResourceProperties", &recorder).await;
    assert!(reason.contains("`RetainOnDelete`"), "{reason}");
    memory::assert_role_converged(&iam, &role, &create).await;

    succeeds(&memory::strict_handler(&iam), &delete, &recorder).await;
    assert!(memory::role_exists(&iam, &role).await, "retained");
    memory::assert_role_converged(&iam, &role, &create).await;
    // The test's own clean-up, as an operator would after a retained role.
    let cleanup = delete_after(&create, &role, "retained", &recorder);
    let mut released = cleanup.clone();
    released["ResourceProperties"]["RetainOnDelete"] = json!("false");
    sends(
        &released,
        "DELETE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        Some(&role),
    );
    succeeds(&memory::strict_handler(&iam), &released, &recorder).await;
    memory::assert_gone(&iam, &role).await;
}

/// During a replacement's clean-up, a Delete naming the current role in another case: IAM
/// would resolve it to the live role (moto, which compares names by case, would not).
#[tokio::test]
async fn a_cleanup_delete_naming_the_current_role_in_another_case_is_refused() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::strict_handler(&iam);
    let (stack, create, role) = victim(&iam, "casecleanup", &recorder).await;
    let mut properties = create["ResourceProperties"].clone();
    properties["RoleNameSuffix"] = json!("ml-ds-casecleanup");
    let replace = update_after(&create, &role, properties, "casecleanup", &recorder);
    sends(
        &replace,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    let answer = succeeds(&handler, &replace, &recorder).await;
    let new_role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_eq!(new_role, "sagemaker-ml-ds-casecleanup");
    completes(&replace, "UPDATE_COMPLETE", &new_role);
    shows(
        &stack,
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        Some(&new_role),
    );
    let forged = delete_after(
        &replace,
        "SageMaker-ml-ds-casecleanup",
        "casecleanup",
        &recorder,
    );
    let reason = refused(&iam, &forged, "RequestType", &recorder).await;
    assert!(
        reason.contains("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        "{reason}"
    );
    memory::assert_role_converged(&iam, &new_role, &replace).await;

    // The real clean-up still removes the old role.
    let cleanup = delete_after(&create, &role, "casecleanup", &recorder);
    succeeds(&handler, &cleanup, &recorder).await;
    memory::assert_gone(&iam, &role).await;
    memory::assert_role_converged(&iam, &new_role, &replace).await;
}

/// A custom resource another function serves, whose stack CloudFormation really is updating
/// with exactly these properties: sent to this function, it is refused. Any alias of this
/// function is this function.
#[tokio::test]
async fn an_event_of_another_functions_custom_resource_is_refused() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let own = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:persona-role");
    let other = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:team-b-provisioner");
    let stack = new_stack("servicetoken", "CREATE_IN_PROGRESS");
    let mut create = on(
        &stack,
        sample_event("compute", "create", "servicetoken", &recorder),
    );
    create["ResourceProperties"]["ServiceToken"] = json!(other);
    sends(&create, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    iam.clear_calls();
    let handler = memory::strict_handler(&iam);
    let delivered = handler
        .handle_invoked(create.clone(), None, Some(&own))
        .await
        .unwrap();
    let reason = delivered.response.reason.clone().unwrap_or_default();
    assert_eq!(delivered.response.status.as_str(), "FAILED", "{reason}");
    assert!(reason.starts_with("ServiceToken: "), "{reason}");
    assert!(reason.contains("team-b-provisioner"), "{reason}");
    assert_eq!(iam.calls(), Vec::<String>::new(), "IAM was called");
    assert!(!memory::role_exists(&iam, &plan_of(&create).role.role_name).await);

    // The same resource served by this function, invoked through an alias.
    let mut create = on(
        &stack,
        sample_event("compute", "create", "servicetoken", &recorder),
    );
    create["ResourceProperties"]["ServiceToken"] = json!(own);
    sends(&create, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    let delivered = handler
        .handle_invoked(create.clone(), None, Some(&format!("{own}:live")))
        .await
        .unwrap();
    assert_eq!(
        delivered.response.status.as_str(),
        "SUCCESS",
        "{:?}",
        delivered.response.reason
    );
    memory::assert_converged(&iam, &create).await;
    let delete = delete_after(
        &create,
        &plan_of(&create).role.role_name,
        "servicetoken",
        &recorder,
    );
    sends(
        &delete,
        "DELETE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        Some(&plan_of(&create).role.role_name),
    );
    succeeds(&handler, &delete, &recorder).await;
}

// ------------------------------------------------------------------ CloudFormation itself

#[tokio::test]
async fn cloudformation_throttling_is_retried_and_the_event_carried_out() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let stack = new_stack("cfn-throttled", "CREATE_IN_PROGRESS");
    let create = on(
        &stack,
        sample_event("compute", "create", "cfn-throttled", &recorder),
    );
    sends(&create, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    stand_in().throttle(&stack, 3);
    succeeds(&memory::strict_handler(&iam), &create, &recorder).await;
    let reads = stand_in().calls_for(&stack);
    assert_eq!(
        reads.len(),
        5,
        "three throttled reads, and the resource and its events answered: {reads:?}"
    );
    let actions: std::collections::BTreeSet<&str> =
        reads.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        actions,
        ["DescribeStackEvents", "DescribeStackResource"].into()
    );
    memory::assert_converged(&iam, &create).await;
}

#[tokio::test]
async fn cloudformation_unreachable_is_failed_without_any_iam_call() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let handler = TestHandler {
        handler: persona_role::handler::Handler::with_clients(
            iam.clone(),
            SdkStacks::new(cloudformation_client_at(&closed)),
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
    assert_eq!(iam.calls(), Vec::<String>::new(), "IAM was called");
    assert!(!memory::role_exists(&iam, &plan_of(&create).role.role_name).await);
}

/// CloudFormation whose every read panics.
#[derive(Debug, Clone)]
struct PanickingStacks;

impl persona_role::cfn::stack_check::Stacks for PanickingStacks {
    async fn stack_resource(
        &self,
        _: &str,
        _: &str,
    ) -> Result<
        persona_role::cfn::stack_check::Described<persona_role::cfn::stack_check::StackResource>,
        persona_role::cfn::stack_check::StacksError,
    > {
        panic!("injected panic in a stack read")
    }

    async fn stack_status(
        &self,
        _: &str,
    ) -> Result<
        persona_role::cfn::stack_check::Described<String>,
        persona_role::cfn::stack_check::StacksError,
    > {
        panic!("injected panic in a stack read")
    }

    async fn stack_details(
        &self,
        _: &str,
    ) -> Result<
        persona_role::cfn::stack_check::Described<persona_role::cfn::stack_check::StackDetails>,
        persona_role::cfn::stack_check::StacksError,
    > {
        panic!("injected panic in a stack read")
    }

    async fn stack_events(
        &self,
        _: &str,
        _: Option<&str>,
    ) -> Result<
        persona_role::cfn::stack_check::Described<persona_role::cfn::stack_check::EventPage>,
        persona_role::cfn::stack_check::StacksError,
    > {
        panic!("injected panic in a stack read")
    }

    async fn stack_resources(
        &self,
        _: &str,
        _: Option<&str>,
    ) -> Result<
        persona_role::cfn::stack_check::Described<persona_role::cfn::stack_check::ResourcePage>,
        persona_role::cfn::stack_check::StacksError,
    > {
        panic!("injected panic in a stack read")
    }
}

/// The stack check runs under the same panic guard as the work: a panic while reading
/// CloudFormation is answered FAILED, naming no role, without any IAM call.
#[tokio::test]
async fn a_panic_in_the_stack_check_is_answered_failed_without_any_iam_call() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = persona_role::handler::Handler::with_clients(
        iam.clone(),
        PanickingStacks,
        http(),
        settings(),
    );
    let create = sample_event("compute", "create", "checkpanic", &recorder);
    let delivered = handler
        .handle(
            create.clone(),
            Some(Instant::now() + Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(delivered.response.status.as_str(), "FAILED");
    assert_eq!(
        delivered.failure,
        Some(persona_role::metrics::FailureClass::Internal)
    );
    let reason = delivered.response.reason.unwrap_or_default();
    assert!(
        reason.starts_with("internal error: the handler panicked (injected panic in a stack read)"),
        "{reason}"
    );
    assert_eq!(
        delivered.response.physical_resource_id,
        persona_role::lifecycle::placeholder(create["RequestId"].as_str().unwrap())
    );
    assert_eq!(
        recorder
            .wait_for(&delivered.response.request_id, 1, Duration::from_secs(5))
            .len(),
        1
    );
    assert_eq!(iam.calls(), Vec::<String>::new(), "IAM was called");
}

#[tokio::test]
async fn a_state_cloudformation_shows_late_is_read_again() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let (stack, create, role) = victim(&iam, "shown-late", &recorder).await;
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
    let update = update_after(&create, &role, properties, "shown-late", &recorder);
    stand_in().record(&update);
    succeeds(&memory::strict_handler(&iam), &update, &recorder).await;
    memory::assert_converged(&iam, &update).await;
}

/// The resource's event lies on the third page of the stack's events: the check pages back to
/// it, and no further.
#[tokio::test]
async fn the_stacks_events_are_paged_back_to_the_operations_event() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let stack = new_stack("paged", "CREATE_IN_PROGRESS");
    let create = on(
        &stack,
        sample_event("compute", "create", "paged", &recorder),
    );
    sends(&create, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
    for n in 0..4 {
        stand_in().put_event(
            &stack,
            Event::custom(
                "Other",
                "CREATE_IN_PROGRESS",
                None,
                &json!({"ServiceToken": "x", "N": n.to_string()}),
            ),
        );
    }
    stand_in().page_events(&stack, 2);
    succeeds(&memory::strict_handler(&iam), &create, &recorder).await;
    let pages: Vec<Option<String>> = stand_in()
        .calls_for(&stack)
        .into_iter()
        .filter(|c| c.action == "DescribeStackEvents")
        .map(|c| c.params.get("NextToken").cloned())
        .collect();
    assert_eq!(
        pages,
        [None, Some("page-2".to_owned()), Some("page-4".to_owned())]
    );
    memory::assert_converged(&iam, &create).await;
}

// -------------------------------------------------------------------------- real flows

#[tokio::test]
async fn a_stacks_create_updates_replacement_cleanup_and_deletion_are_carried_out() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::strict_handler(&iam);
    let (stack, create, role) = victim(&iam, "stack-life", &recorder).await;
    memory::assert_converged(&iam, &create).await;

    // In place.
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("7200");
    let update = update_after(&create, &role, properties.clone(), "stack-life", &recorder);
    sends(
        &update,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    succeeds(&handler, &update, &recorder).await;
    completes(&update, "UPDATE_COMPLETE", &role);
    memory::assert_converged(&iam, &update).await;

    // Replacement: a new name, then the old role's Delete in the cleanup, which carries the old
    // role's properties while the old id's latest event with properties is the replacing
    // Update's start, and its deletion's event records none.
    properties["RoleNameSuffix"] = json!("compute-life-renamed");
    let replace = update_after(&update, &role, properties, "stack-life", &recorder);
    sends(
        &replace,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    let answer = succeeds(&handler, &replace, &recorder).await;
    let new_role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(new_role, role);
    completes(&replace, "UPDATE_IN_PROGRESS", &new_role);
    completes(&replace, "UPDATE_COMPLETE", &new_role);
    shows(
        &stack,
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        Some(&new_role),
    );
    stand_in().put_event(
        &stack,
        Event {
            properties: None,
            ..Event::custom(LOGICAL_ID, "DELETE_IN_PROGRESS", Some(&role), &json!({}))
        },
    );
    let cleanup = delete_after(&update, &role, "stack-life", &recorder);
    succeeds(&handler, &cleanup, &recorder).await;
    memory::assert_gone(&iam, &role).await;
    memory::assert_converged(&iam, &replace).await;

    // Outside the cleanup, the same Delete of the current role is refused.
    shows(
        &stack,
        "UPDATE_COMPLETE",
        "UPDATE_COMPLETE",
        Some(&new_role),
    );
    let early = delete_after(&replace, &new_role, "stack-life", &recorder);
    refused(&iam, &early, "RequestType", &recorder).await;
    memory::assert_converged(&iam, &replace).await;

    // Stack deletion.
    let delete = delete_after(&replace, &new_role, "stack-life", &recorder);
    sends(
        &delete,
        "DELETE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        Some(&new_role),
    );
    succeeds(&handler, &delete, &recorder).await;
    memory::assert_gone(&iam, &new_role).await;
}

/// A Create's rollback: after the Create failed (it undid itself and answered a placeholder id,
/// which the resource shows), or while the Create still ran (another resource failed before
/// CloudFormation took the answer: the resource shows no id, and the Delete carries one
/// CloudFormation made up).
#[tokio::test]
async fn the_rollback_delete_of_a_create_deletes_the_role_it_planned() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
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
        let create = on(&stack, sample_event("compute", "create", tag, &recorder));
        sends(&create, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None);
        if let Some(nth) = failing_at {
            iam.inject(Fault::FailWrite { nth });
        }
        let answer = invoke(&memory::strict_handler(&iam), &create, &recorder).await;
        let status = if failing_at.is_some() {
            "FAILED"
        } else {
            "SUCCESS"
        };
        assert_eq!(answer["Status"], status, "{tag}: {answer}");
        let answered = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
        let id = made_up.unwrap_or(&answered);
        let shown = made_up.is_none().then_some(id);
        let rollback = delete_after(&create, id, tag, &recorder);
        if let Some(answered) = shown {
            // The failed Create's answer, then the rollback's deletion of its id; an id made
            // up has no event: its role is found by the Create's properties.
            completes(&create, "CREATE_FAILED", answered);
            sends(&rollback, "ROLLBACK_IN_PROGRESS", resource_status, shown);
        } else {
            shows(&stack, "ROLLBACK_IN_PROGRESS", resource_status, shown);
        }
        succeeds(&memory::strict_handler(&iam), &rollback, &recorder).await;
        memory::assert_gone(&iam, &plan_of(&create).role.role_name).await;
    }
}

#[tokio::test]
async fn the_rollback_of_a_failed_update_restores_the_old_declaration() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let (_, create, role) = victim(&iam, "failedupdate", &recorder).await;
    let mut properties = create["ResourceProperties"].clone();
    properties["MaxSessionDuration"] = json!("7200");
    properties["S3Buckets"] = json!(["ml-team-other"]);
    let update = update_after(&create, &role, properties, "failedupdate", &recorder);
    sends(
        &update,
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    iam.inject(Fault::FailWrite { nth: 2 });
    let failing = memory::strict_handler(&iam);
    let answer = invoke(&failing, &update, &recorder).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");

    // The rollback: an Update back to the old properties, the resource UPDATE_IN_PROGRESS again.
    completes(&update, "UPDATE_FAILED", &role);
    let rollback = update_after(
        &update,
        &role,
        create["ResourceProperties"].clone(),
        "failedupdate",
        &recorder,
    );
    sends(
        &rollback,
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        Some(&role),
    );
    succeeds(&memory::strict_handler(&iam), &rollback, &recorder).await;
    memory::assert_role_converged(&iam, &role, &create).await;
}
