//! Adoption in the Lambda: a Create with `AdoptExistingRole` takes over a role no stack owns
//! (as Role Manager's console made it: `SageMaker-<name>` under `/service-role/`, one managed
//! policy per activity), converging it in place with the same RoleId, detaching and reporting
//! the console's policies; it never takes a role without the property or one another stack
//! owns, nor when the function's stack forbids adoption or does not name the resource's stack
//! in `AdoptingStacks`; `RetainOnDelete` leaves the role on Delete. Deployed with the template's
//! guardrails, no resource attaches another resource's own policy. On the in-memory IAM, each test
//! an account of its own: names found in any case, as IAM finds them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use persona_role::guardrails::Guardrails;
use persona_role::handler::Settings;
use persona_role::iam::{Change, Iam};
use persona_role::ownership::{ADOPTED_TAG, OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG};
use persona_role::plan::RolePlan;
use serde_json::{Value, json};
use support::memory::{self, Fault, MemoryIam};
use support::*;

/// A role under `/service-role/` that SageMaker may assume, as the console made it; returns its
/// RoleId.
async fn seed_role(iam: &MemoryIam, name: &str) -> String {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let plan = RolePlan {
        role_name: name.to_owned(),
        path: "/service-role/".to_owned(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role/service-role/{name}"),
        description: String::new(),
        assume_role_policy_document: trust,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    iam.admin().create_role(&plan).await.unwrap().role_id
}

fn bucket_document(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": action, "Resource": "arn:aws:s3:::ml-team-data"}]})
}

/// A managed policy under `/service-role/`, attached to `role`; returns its ARN.
async fn seed_policy(iam: &MemoryIam, role: &str, policy: &str) -> String {
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/service-role/{policy}");
    let create = Change::CreatePolicy {
        name: policy.to_owned(),
        path: "/service-role/".to_owned(),
        arn: arn.clone(),
        document: bucket_document("s3:ListBucket"),
        tags: Vec::new(),
    };
    memory::change(iam, role, create).await;
    let attach = Change::AttachRolePolicy { arn: arn.clone() };
    memory::change(iam, role, attach).await;
    arn
}

/// A role as the console made it, with two per-activity policies; returns its RoleId and the
/// policies' ARNs.
async fn seed_console_role(iam: &MemoryIam, name: &str) -> (String, Vec<String>) {
    let id = seed_role(iam, name).await;
    let mut arns = Vec::new();
    for activity in ["ComputeExecutionRole", "S3BucketAccess"] {
        arns.push(seed_policy(iam, name, &format!("SM_{activity}_{name}")).await);
    }
    (id, arns)
}

/// The guardrails `template.yaml` deploys with its parameters' defaults, but for a migration:
/// `AllowAdoption=true` and `AdoptingStacks` as given.
fn deployed_for_migration(adopting_stacks: &str) -> Guardrails {
    deployed::Deployment::new(&[
        ("AllowAdoption", "true"),
        ("AdoptingStacks", adopting_stacks),
    ])
    .guardrails()
}

/// A handler on `iam` with `guardrails`.
fn deployed_handler(iam: &MemoryIam, guardrails: Guardrails) -> TestHandler<MemoryIam> {
    memory::handler_with(
        iam,
        Settings {
            guardrails,
            ..settings()
        },
    )
}

/// The StackId of another stack of the account and region.
const OTHER_STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/other-team/0c1d2e3f-8b1e-11ef-9c4d-0a1b2c3d4e5f";

fn adopting(suffix: &str, adopt: bool) -> Value {
    json!({
        "Persona": "SageMakerCompute",
        "RoleNameSuffix": suffix,
        "Path": "/service-role/",
        "S3Buckets": ["ml-team-data"],
        "AdoptExistingRole": if adopt { "true" } else { "false" },
    })
}

#[tokio::test]
async fn a_console_role_is_adopted_in_place_and_its_policies_detached_not_deleted() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let name = "SageMaker-AdoptMe";
    let (role_id, console_policies) = seed_console_role(&iam, name).await;

    // Without the property: refused, nothing changed.
    let create = create_event("Compute", adopting("AdoptMe", false), "adopt", &recorder);
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.contains("set AdoptExistingRole: true"), "{reason}");
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert!(memory::role_tags(&iam, name).await.is_empty());

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
        assert!(
            memory::policy_exists(&iam, arn).await,
            "{arn} stays in the account"
        );
    }
    let tags = memory::role_tags(&iam, name).await;
    assert_eq!(
        tags.get(OWNER_STACK_TAG).map(String::as_str),
        Some(STACK_ID)
    );
    assert_eq!(
        tags.get(OWNER_LOGICAL_ID_TAG).map(String::as_str),
        Some("Compute")
    );
    memory::assert_role_converged(&iam, name, &create).await;

    // An Update keeps the console's spelling of the name: no replacement, no change.
    iam.clear_calls();
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
    assert_eq!(iam.mutating(), Vec::<String>::new(), "already as declared");

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
    assert!(memory::role_exists(&iam, name).await, "retained");

    // Without it, the adopted role goes with its own policies; the console's stay.
    let delete = delete_after(&create, name, "adopt", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, name).await;
    for arn in &console_policies {
        assert!(
            memory::policy_exists(&iam, arn).await,
            "{arn} stays in the account"
        );
    }
}

#[tokio::test]
async fn a_role_another_stack_owns_is_never_adopted() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let other = create_event("Other", adopting("Owned", false), "owned", &recorder);
    let response = invoke(&handler, &other, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let name = response["PhysicalResourceId"].as_str().unwrap().to_owned();

    iam.clear_calls();
    let adopting_handler = memory::handler(&iam);
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
    assert_eq!(iam.mutating(), Vec::<String>::new());
    memory::assert_role_converged(&iam, &name, &other).await;
    let delete = delete_after(&other, &name, "owned", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn a_function_deployed_without_allow_adoption_refuses_to_adopt_but_still_creates() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let forbidding = memory::handler_with(
        &iam,
        Settings {
            guardrails: Guardrails::default().with_adoption(Some("false")),
            ..settings()
        },
    );
    let name = "SageMaker-NotAdoptable";
    seed_console_role(&iam, name).await;

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
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert!(
        memory::role_tags(&iam, name).await.is_empty(),
        "left unchanged"
    );

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
    memory::assert_role_converged(&iam, &made, &fresh).await;
    let delete = delete_after(&fresh, &made, "forbid", &recorder);
    assert_eq!(
        invoke(&forbidding, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &made).await;
}

/// The role's RoleId, as IAM holds it now.
async fn role_id(iam: &MemoryIam, name: &str) -> String {
    memory::role(iam, name).await.unwrap().role_id
}

#[tokio::test]
async fn an_adoption_that_fails_part_way_never_lets_the_rollback_delete_the_role() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    // A hand-made role spelt as planned, so that the Delete's lookup by the planned name finds
    // it even in an emulator that compares names with case.
    let name = "sagemaker-Halfway";
    let (id, _) = seed_console_role(&iam, name).await;

    // TagRole goes through; the next change fails.
    iam.inject(Fault::FailWrite { nth: 2 });
    let failing = memory::handler(&iam);
    let create = create_event("Compute", adopting("Halfway", true), "halfway", &recorder);
    let response = invoke(&failing, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let placeholder = response["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert!(
        placeholder.starts_with("persona-role:failed:"),
        "the answer never names an adopted role it did not finish: {response}"
    );
    let reason = response["Reason"].as_str().unwrap();
    assert!(
        reason.contains("adopting role `sagemaker-Halfway` stopped part-way"),
        "{reason}"
    );
    let tags = memory::role_tags(&iam, name).await;
    assert_eq!(
        tags.get(OWNER_STACK_TAG).map(String::as_str),
        Some(STACK_ID)
    );
    assert_eq!(tags.get(ADOPTED_TAG).map(String::as_str), Some("true"));

    // CloudFormation's rollback Delete carries the placeholder, or an id it made up when the
    // answer was lost: either way the properties plan the role's name, and the role stays.
    for physical_id in [placeholder.as_str(), "ml-roles-Compute-1X2Y3Z4W5V6U"] {
        let rollback = delete_after(&create, physical_id, "halfway", &recorder);
        let answer = invoke(&memory::handler(&iam), &rollback, &recorder).await;
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        assert_eq!(
            role_id(&iam, name).await,
            id,
            "the role that existed before stays"
        );
    }

    // Deploying again converges it in place.
    let retry = create_event("Compute", adopting("Halfway", true), "halfway", &recorder);
    let response = invoke(&memory::handler(&iam), &retry, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], name);
    assert_eq!(role_id(&iam, name).await, id);
    memory::assert_role_converged(&iam, name, &retry).await;

    // An update keeps the adoption mark (the execution role could not remove it anyway).
    let update = update_after(
        &retry,
        name,
        retry["ResourceProperties"].clone(),
        "halfway",
        &recorder,
    );
    assert_eq!(
        invoke(&memory::handler(&iam), &update, &recorder).await["Status"],
        "SUCCESS"
    );
    assert!(
        memory::role_tags(&iam, name)
            .await
            .contains_key(ADOPTED_TAG)
    );

    // Once an answer named it, removing the resource removes the role.
    let delete = delete_after(&retry, name, "halfway", &recorder);
    assert_eq!(
        invoke(&memory::handler(&iam), &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, name).await;
}

#[tokio::test]
async fn delete_console_policies_deletes_only_console_policies_nothing_else_uses() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let name = "SageMaker-Tidy";
    seed_role(&iam, name).await;
    seed_role(&iam, "team-notebook-Tidy").await;
    let mut arns = Vec::new();
    // Console policies (one edited once, so it has two versions), and one made by hand.
    for policy in [
        "SM_ComputeExecutionRole_1733462399001",
        "SageMakerS3BucketPolicyTemplate_1733462399001",
        "TeamExtras_Tidy",
    ] {
        arns.push(seed_policy(&iam, name, policy).await);
    }
    let version = Change::CreatePolicyVersion {
        arn: arns[0].clone(),
        document: bucket_document("s3:GetObject"),
    };
    memory::change(&iam, name, version).await;
    // Another user's role still uses the bucket policy.
    let attach = Change::AttachRolePolicy {
        arn: arns[1].clone(),
    };
    memory::change(&iam, "team-notebook-Tidy", attach).await;

    let mut properties = adopting("Tidy", true);
    properties["DeleteConsolePolicies"] = json!("true");
    let create = create_event("Compute", properties, "tidy", &recorder);
    let response = invoke(&memory::handler(&iam), &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let listed = |key: &str| -> Vec<String> {
        response["Data"][key]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(listed("DetachedPolicies"), arns);
    assert_eq!(listed("DeletedPolicies"), [arns[0].clone()]);
    assert!(
        !memory::policy_exists(&iam, &arns[0]).await,
        "unused console policy deleted"
    );
    assert!(
        memory::policy_exists(&iam, &arns[1]).await,
        "console policy used elsewhere kept"
    );
    assert!(
        memory::policy_exists(&iam, &arns[2]).await,
        "a policy not the console's is never deleted"
    );
    memory::assert_role_converged(&iam, name, &create).await;

    let delete = delete_after(&create, name, "tidy", &recorder);
    assert_eq!(
        invoke(&memory::handler(&iam), &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, name).await;
}

#[tokio::test]
async fn only_roles_shaped_as_role_managers_are_adopted_unless_the_operator_widens_it() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    // A hand-made role that happens to match the planned name: not the console's.
    let name = "sagemaker-prod-admin";
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    memory::make_role(&iam, name, trust, &[]).await;
    let admin = seed_policy(&iam, name, "prod-admin-access").await;
    let mut properties = adopting("prod-admin", true);
    properties["Path"] = json!("/");

    let create = create_event("Admin", properties.clone(), "shape", &recorder);
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("AdoptExistingRole: role `sagemaker-prod-admin` at path `/` is not shaped as SageMaker Role Manager's console makes roles"),
        "{reason}"
    );
    assert!(reason.contains("AdoptionScope=AnyUnownedRole"), "{reason}");
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert!(
        memory::role_tags(&iam, name).await.is_empty(),
        "left unchanged"
    );
    assert!(
        !response["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(name),
        "the answer never names a role it did not take: {response}"
    );

    // The operator widens adoption: the same declaration takes the role over.
    let widened = memory::handler_with(
        &iam,
        Settings {
            guardrails: Guardrails::default().with_adoption_scope(Some("AnyUnownedRole")),
            ..settings()
        },
    );
    let create = create_event("Admin", properties, "shape", &recorder);
    let response = invoke(&widened, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["Data"]["DetachedPolicies"], admin.as_str());
    assert_eq!(
        memory::role_tags(&iam, name)
            .await
            .get(ADOPTED_TAG)
            .map(String::as_str),
        Some("true")
    );
}

#[tokio::test]
async fn only_a_stack_adopting_stacks_names_adopts_a_console_role() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let name = "SageMaker-NamedStacksOnly";
    let (role_id, _) = seed_console_role(&iam, name).await;

    // Deployed for the migration of another stack: this one (`ml-personas`) may not adopt.
    let elsewhere = deployed_handler(&iam, deployed_for_migration("ml-roles"));
    let create = create_event(
        "Compute",
        adopting("NamedStacksOnly", true),
        "named",
        &recorder,
    );
    let response = invoke(&elsewhere, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "AdoptExistingRole: role SageMaker-NamedStacksOnly is no stack's, and stack \
             `ml-personas` is not on this function's AdoptingStacks (allowed: ml-roles)"
        ),
        "{reason}"
    );
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert!(
        memory::role_tags(&iam, name).await.is_empty(),
        "left unchanged"
    );

    // Another stack, first to ask, is refused too when the function names only this one.
    let named = deployed_handler(&iam, deployed_for_migration("ml-roles,ml-*"));
    let mut thief = create_event(
        "Thief",
        adopting("NamedStacksOnly", true),
        "named",
        &recorder,
    );
    thief["StackId"] = json!(OTHER_STACK_ID);
    let response = invoke(&named, &thief, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.contains("stack `other-team`"), "{reason}");
    assert!(reason.contains("AdoptingStacks"), "{reason}");
    assert_eq!(iam.mutating(), Vec::<String>::new());
    assert!(
        memory::role_tags(&iam, name).await.is_empty(),
        "left unchanged"
    );

    // The stack it names adopts it, in place.
    let create = create_event(
        "Compute",
        adopting("NamedStacksOnly", true),
        "named",
        &recorder,
    );
    let response = invoke(&named, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], name);
    assert_eq!(response["Data"]["RoleId"], role_id.as_str());
    let tags = memory::role_tags(&iam, name).await;
    assert_eq!(
        tags.get(OWNER_STACK_TAG).map(String::as_str),
        Some(STACK_ID)
    );
    assert_eq!(tags.get(ADOPTED_TAG).map(String::as_str), Some("true"));
    memory::assert_role_converged(&iam, name, &create).await;

    let delete = delete_after(&create, name, "named", &recorder);
    assert_eq!(
        invoke(&named, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, name).await;
}

#[tokio::test]
async fn no_resource_attaches_another_stacks_own_policy_or_the_boundary() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    // Another team's role, large enough to have customer-managed policies of its own.
    let attached = memory::make_policy(&iam, "persona-role-test-ownpol-extra").await;
    let mut theirs = create_event(
        "Theirs",
        big_properties("ownpol-theirs", &attached),
        "ownpol",
        &recorder,
    );
    theirs["StackId"] = json!(OTHER_STACK_ID);
    let response = invoke(&memory::handler(&iam), &theirs, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let their_name = response["PhysicalResourceId"].as_str().unwrap().to_owned();
    let their_policy = plan_of(&theirs).managed_policies[0].arn.clone();
    assert!(
        memory::policy_exists(&iam, &their_policy).await,
        "{their_policy}"
    );

    // Under the template's defaults, and under an operator's list wide enough to admit every
    // customer-managed policy of the account: refused, naming the property, nothing made.
    let wide = deployed_for_migration("ml-personas");
    let wide = Guardrails {
        allowed_managed_policies: Some(vec!["arn:aws:iam::123456789012:policy/*".to_owned()]),
        ..wide
    };
    for (setting, guardrails) in [
        (
            "the template's defaults",
            deployed_for_migration("ml-personas"),
        ),
        (
            "AllowedManagedPolicyArns=arn:aws:iam::123456789012:policy/*",
            wide,
        ),
    ] {
        for (arn, why) in [
            (their_policy.as_str(), "persona role's own policy"),
            (deployed::SHIPPED_BOUNDARY, "permissions boundary"),
        ] {
            iam.clear_calls();
            let guarded = deployed_handler(&iam, guardrails.clone());
            let properties = json!({
                "Persona": "SageMakerCompute",
                "RoleNameSuffix": "ownpol-mine",
                "S3Buckets": ["ml-team-data"],
                "ManagedPolicyArns": [arn],
            });
            let create = create_event("Mine", properties, "ownpol", &recorder);
            let response = invoke(&guarded, &create, &recorder).await;
            assert_eq!(response["Status"], "FAILED", "{setting}: {response}");
            let reason = response["Reason"].as_str().unwrap();
            assert!(
                reason.starts_with(&format!("ManagedPolicyArns[0]: `{arn}`")),
                "{setting}: {reason}"
            );
            assert!(reason.contains(why), "{setting}: {reason}");
            assert_eq!(iam.mutating(), Vec::<String>::new(), "{setting}");
            assert!(
                !memory::role_exists(&iam, "sagemaker-ownpol-mine").await,
                "{setting}"
            );
        }
    }

    let delete = delete_after(&theirs, &their_name, "ownpol", &recorder);
    assert_eq!(
        invoke(&memory::handler(&iam), &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &their_name).await;
}
