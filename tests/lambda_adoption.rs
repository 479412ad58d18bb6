//! Adoption in the Lambda: a Create with `AdoptExistingRole` takes over a role no stack owns
//! (as Role Manager's console made it: `SageMaker-<name>` under `/service-role/`, one managed
//! policy per activity), converging it in place with the same RoleId, detaching and reporting
//! the console's policies; it never takes a role without the property or one another stack
//! owns, nor when the function's stack forbids adoption; `RetainOnDelete` leaves the role on
//! Delete.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use persona_role::guardrails::Guardrails;
use persona_role::handler::{Handler, Settings};
use persona_role::iam::state::read_actual;
use persona_role::iam::{Iam, SdkIam, diff};
use persona_role::ownership::{OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG};
use serde_json::{Value, json};
use support::*;

/// A role as the console made it, with two per-activity policies; returns its RoleId and the
/// policies' ARNs.
async fn seed_console_role(name: &str) -> (String, Vec<String>) {
    let iam = checker();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name(name)
        .path("/service-role/")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let mut arns = Vec::new();
    for activity in ["ComputeExecutionRole", "S3BucketAccess"] {
        let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::ml-team-data"}]});
        let policy = iam
            .create_policy()
            .policy_name(format!("SM_{activity}_{name}"))
            .path("/service-role/")
            .policy_document(document.to_string())
            .send()
            .await
            .unwrap();
        let arn = policy.policy().unwrap().arn().unwrap().to_owned();
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
        arns.push(arn);
    }
    (role.role().unwrap().role_id().to_owned(), arns)
}

fn adopting(suffix: &str, adopt: bool) -> Value {
    json!({
        "Persona": "SageMakerCompute",
        "RoleNameSuffix": suffix,
        "Path": "/service-role/",
        "S3Buckets": ["ml-team-data"],
        "AdoptExistingRole": if adopt { "true" } else { "false" },
    })
}

/// The role as IAM holds it is exactly what the event declares.
async fn assert_holds(name: &str, event: &Value) {
    let plan = plan_of(event);
    let iam = SdkIam::new(checker());
    let role = iam.get_role(name).await.unwrap().expect("role exists");
    let planned: Vec<String> = plan
        .managed_policies
        .iter()
        .map(|p| p.arn.clone())
        .collect();
    let actual = read_actual(&iam, role, &planned, &owner_of(event))
        .await
        .unwrap();
    assert_eq!(
        diff(&plan, &actual),
        Vec::new(),
        "{name} differs from its plan"
    );
}

#[tokio::test]
async fn a_console_role_is_adopted_in_place_and_its_policies_detached_not_deleted() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let handler = handler(Some(&calls));
    let name = "SageMaker-AdoptMe";
    let (role_id, console_policies) = seed_console_role(name).await;

    // Without the property: refused, nothing changed.
    let create = create_event("Compute", adopting("AdoptMe", false), "adopt", &recorder);
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.contains("set AdoptExistingRole: true"), "{reason}");
    assert_eq!(calls.mutating(), Vec::<String>::new());
    assert!(role_tags(name).await.is_empty());

    // With it: the same role, converged, its console policies detached and reported.
    let create = create_event("Compute", adopting("AdoptMe", true), "adopt", &recorder);
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], name);
    assert_eq!(response["Data"]["RoleName"], name);
    assert_eq!(response["Data"]["RoleId"], role_id.as_str());
    let detached: Vec<&str> = response["Data"]["DetachedPolicies"]
        .as_str()
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(detached, console_policies);
    for arn in &console_policies {
        assert!(policy_exists(arn).await, "{arn} stays in the account");
    }
    let tags = role_tags(name).await;
    assert_eq!(
        tags.get(OWNER_STACK_TAG).map(String::as_str),
        Some(STACK_ID)
    );
    assert_eq!(
        tags.get(OWNER_LOGICAL_ID_TAG).map(String::as_str),
        Some("Compute")
    );
    assert_holds(name, &create).await;

    // An Update keeps the console's spelling of the name: no replacement, no change.
    calls.clear();
    let update = update_after(
        &create,
        name,
        create["ResourceProperties"].clone(),
        "adopt",
        &recorder,
    );
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], name);
    assert_eq!(
        calls.mutating(),
        Vec::<String>::new(),
        "already as declared"
    );

    // RetainOnDelete: the Delete leaves the role.
    let mut retained = create["ResourceProperties"].clone();
    retained["RetainOnDelete"] = json!("true");
    let delete = delete_after(
        &update_after(&update, name, retained, "adopt", &recorder),
        name,
        "adopt",
        &recorder,
    );
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert!(role_exists(name).await, "retained");

    // Without it, the adopted role goes with its own policies; the console's stay.
    let delete = delete_after(&create, name, "adopt", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(name).await;
    for arn in &console_policies {
        assert!(policy_exists(arn).await, "{arn} stays in the account");
    }
}

#[tokio::test]
async fn a_role_another_stack_owns_is_never_adopted() {
    let recorder = Recorder::start();
    let handler = handler(None);
    let other = create_event("Other", adopting("Owned", false), "owned", &recorder);
    let response = invoke(&handler, &other, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let name = response["PhysicalResourceId"].as_str().unwrap().to_owned();

    let calls = CallLog::default();
    let adopting_handler = support::handler(Some(&calls));
    let create = create_event("Thief", adopting("Owned", true), "owned", &recorder);
    let response = invoke(&adopting_handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        response["Reason"]
            .as_str()
            .unwrap()
            .contains("not managed by this resource"),
        "{response}"
    );
    assert_eq!(calls.mutating(), Vec::<String>::new());
    assert_holds(&name, &other).await;
    let delete = delete_after(&other, &name, "owned", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&name).await;
}

#[tokio::test]
async fn a_function_deployed_without_allow_adoption_refuses_to_adopt_but_still_creates() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let forbidding = Handler::new(
        iam_client(Some(&calls)),
        http(),
        Settings {
            guardrails: Guardrails::default().with_adoption(Some("false")),
            ..settings()
        },
    );
    let name = "SageMaker-NotAdoptable";
    seed_console_role(name).await;

    let create = create_event(
        "Compute",
        adopting("NotAdoptable", true),
        "forbid",
        &recorder,
    );
    let response = invoke(&forbidding, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("AdoptExistingRole: role SageMaker-NotAdoptable is no stack's"),
        "{reason}"
    );
    assert!(reason.contains("AllowAdoption=true"), "{reason}");
    assert_eq!(calls.mutating(), Vec::<String>::new());
    assert!(role_tags(name).await.is_empty(), "left unchanged");

    // Where there is nothing to adopt, the property does not stand in the way.
    let fresh = create_event(
        "Fresh",
        adopting("NothingToAdopt", true),
        "forbid",
        &recorder,
    );
    let response = invoke(&forbidding, &fresh, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let made = response["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_eq!(made, "sagemaker-NothingToAdopt");
    assert_holds(&made, &fresh).await;
    let delete = delete_after(&fresh, &made, "forbid", &recorder);
    assert_eq!(
        invoke(&forbidding, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&made).await;
}
