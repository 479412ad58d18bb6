//! The operator's limits through the handler, as `template.yaml` deploys them: the function's
//! environment is evaluated from the template (its parameters' defaults, or the operator's
//! values), read as the Lambda reads it, and one refusal per parameter arrives as FAILED with
//! nothing made in IAM. On the in-memory IAM, each test an account of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use persona_role::guardrails::Guardrails;
use persona_role::handler::Settings;
use persona_role::iam::Change;
use serde_json::{Value, json};
use support::deployed::Deployment;
use support::memory::{self, MemoryIam};
use support::*;

/// The guardrails of the function deployed from `template.yaml` with the operator's
/// `overrides`, read from its environment as the Lambda reads it.
async fn deployed(overrides: &[(&str, &str)]) -> Guardrails {
    Deployment::new(overrides).guardrails()
}

fn guarded(iam: &MemoryIam, guardrails: Guardrails) -> TestHandler<MemoryIam> {
    memory::handler_with(
        iam,
        Settings {
            guardrails,
            ..settings()
        },
    )
}

fn reason(response: &Value) -> &str {
    response["Reason"].as_str().unwrap_or_default()
}

/// A Create answered FAILED with a reason starting with `start`, having made nothing.
async fn assert_refused(
    handler: &TestHandler<MemoryIam>,
    iam: &MemoryIam,
    create: &Value,
    recorder: &Recorder,
    start: &str,
) {
    iam.clear_calls();
    let response = invoke(handler, create, recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(reason(&response).starts_with(start), "{response}");
    assert_eq!(iam.mutating(), Vec::<String>::new(), "nothing changed");
    assert!(!memory::role_exists(iam, &plan_of(create).role.role_name).await);
}

// ------------------------------------------------------------------------------ the tests

/// AllowedS3Buckets. With the template's default, a pattern reaching every bucket is refused;
/// with the operator's list, a bucket outside it is refused on Update, the role left as it was.
#[tokio::test]
async fn buckets_outside_allowed_s3_buckets_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let by_default = guarded(&iam, deployed(&[]).await);
    let mut create = sample_event("compute", "create", "scope-every", &recorder);
    create["ResourceProperties"]["S3Buckets"] = json!(["ml-team-data", "*"]);
    assert_refused(
        &by_default,
        &iam,
        &create,
        &recorder,
        "S3Buckets[1]: `*` starts with `*`, so it reaches every bucket, which this function's AllowedS3Buckets does not allow",
    )
    .await;

    let listed = guarded(&iam, deployed(&[("AllowedS3Buckets", "ml-team-*")]).await);
    let create = sample_event("compute", "create", "scope-s3", &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&listed, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let mut properties = create["ResourceProperties"].clone();
    properties["S3Buckets"] = json!(["ml-team-data", "other-team-data"]);
    let update = update_after(&create, &name, properties, "scope-s3", &recorder);
    iam.clear_calls();
    let response = invoke(&listed, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        reason(&response).starts_with("S3Buckets[1]: `other-team-data` is not within this function's AllowedS3Buckets (allowed: ml-team-*"),
        "{response}"
    );
    assert_eq!(iam.mutating(), Vec::<String>::new());
    memory::assert_converged(&iam, &create).await;

    let delete = delete_after(&create, &name, "scope-s3", &recorder);
    assert_eq!(
        invoke(&listed, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

/// AllowedActivities: an activity outside the operator's list is refused by name, at its place.
#[tokio::test]
async fn activities_outside_allowed_activities_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = guarded(
        &iam,
        deployed(&[(
            "AllowedActivities",
            "Access Required AWS Services,S3 Bucket Access",
        )])
        .await,
    );
    let mut create = sample_event("compute", "create", "scope-activity", &recorder);
    create["ResourceProperties"]["AddActivities"] = json!(["S3 Full Access"]);
    assert_refused(
        &handler,
        &iam,
        &create,
        &recorder,
        "AddActivities[0]: activity `S3 Full Access` is not on this function's AllowedActivities (allowed: Access Required AWS Services, S3 Bucket Access)",
    )
    .await;

    // The activities the operator allows are made.
    let create = sample_event("compute", "create", "scope-activity-ok", &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let delete = delete_after(&create, &name, "scope-activity-ok", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

/// AllowedTagKeys: with the template's default no declaration sets a tag key; the operator's
/// list lets the keys it names through.
#[tokio::test]
async fn tag_keys_outside_allowed_tag_keys_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let tagged = |tag: &str| {
        let mut create = sample_event("compute", "create", tag, &recorder);
        create["ResourceProperties"]["Tags"] = json!([{"Key": "team", "Value": "ml-platform"}]);
        create
    };
    let by_default = guarded(&iam, deployed(&[]).await);
    assert_refused(
        &by_default,
        &iam,
        &tagged("scope-tag"),
        &recorder,
        "Tags[0].Key: tag key `team` is not on this function's AllowedTagKeys (this function lets no declaration set tag keys",
    )
    .await;

    let listed = guarded(&iam, deployed(&[("AllowedTagKeys", "team")]).await);
    let create = tagged("scope-tag-ok");
    let name = plan_of(&create).role.role_name;
    let response = invoke(&listed, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        memory::role_tags(&iam, &name)
            .await
            .get("team")
            .map(String::as_str),
        Some("ml-platform")
    );
    let delete = delete_after(&create, &name, "scope-tag-ok", &recorder);
    assert_eq!(
        invoke(&listed, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

// ------------------------------------------------------------------ per-stack limits

/// A stack of its own for a test, registered with the stand-in as updating.
fn fresh_stack(name: &str) -> String {
    let stack = format!(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/{:08x}-8b1e-11ef-9c4d-0a1b2c3d4e5f",
        std::process::id()
    );
    stand_in().put_stack(&stack, "UPDATE_IN_PROGRESS");
    stack
}

/// A Create of the compute sample in `stack` as resource `logical_id`.
fn create_in(stack: &str, logical_id: &str, tag: &str, recorder: &Recorder) -> Value {
    let mut create = sample_event("compute", "create", tag, recorder);
    create["StackId"] = json!(stack);
    create["LogicalResourceId"] = json!(logical_id);
    create
}

/// CloudFormation's view once a Create answered: the resource complete, with its id.
fn completed(create: &Value, id: &str) {
    stand_in().put_resource(
        create["StackId"].as_str().unwrap(),
        create["LogicalResourceId"].as_str().unwrap(),
        Resource::custom("CREATE_COMPLETE", Some(id)),
    );
}

/// MaxRolesPerStack, at the template's default (100): a stack with 100 roles gets FAILED for one
/// more Create, before any IAM call; once one of them is deleted, the same Create succeeds.
/// Deleted roles and other resource types do not count; the stack is listed page by page.
#[tokio::test]
async fn a_stack_at_its_role_limit_gets_no_more_roles_as_deployed() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = guarded(&iam, deployed(&[]).await);
    let stack = fresh_stack("limits-roles");
    for i in 0..100 {
        stand_in().put_resource(
            &stack,
            &format!("Role{i:03}"),
            Resource::custom("CREATE_COMPLETE", Some(&format!("sagemaker-limit-{i:03}"))),
        );
    }
    stand_in().put_resource(
        &stack,
        "Gone",
        Resource::custom("DELETE_COMPLETE", Some("sagemaker-limit-gone")),
    );
    stand_in().put_resource(
        &stack,
        "Data",
        Resource {
            resource_type: "AWS::S3::Bucket".to_owned(),
            ..Resource::custom("CREATE_COMPLETE", Some("ml-team-data"))
        },
    );
    stand_in().page_resources(&stack, 30);

    let create = create_in(&stack, "OneMore", "limit-roles", &recorder);
    let name = plan_of(&create).role.role_name;
    let listed = |stack: &str| {
        stand_in()
            .calls_for(stack)
            .iter()
            .filter(|c| c.action == "ListStackResources")
            .count()
    };
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        reason(&response).starts_with(
            "MaxRolesPerStack: stack `limits-roles` already has 100 Custom::SageMakerPersonaRole resources besides `OneMore`, and this function allows at most 100 per stack; nothing was made"
        ),
        "{response}"
    );
    assert_eq!(iam.calls(), Vec::<String>::new(), "not one IAM call");
    assert!(!memory::role_exists(&iam, &name).await);
    assert_eq!(
        listed(&stack),
        4,
        "103 resources, 30 a page, listed beside the check"
    );

    stand_in().put_resource(
        &stack,
        "Role000",
        Resource::custom("DELETE_COMPLETE", Some("sagemaker-limit-000")),
    );
    let mut again = create.clone();
    retarget(&mut again, "limit-roles", &recorder);
    let response = invoke(&handler, &again, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    memory::assert_converged(&iam, &again).await;

    // Updates and Deletes add no role: the stack is not listed for them.
    let before = listed(&stack);
    completed(&again, &name);
    let delete = delete_after(&again, &name, "limit-roles", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
    assert_eq!(listed(&stack), before);
}

/// Makes `count` customer managed policies named as role `role`'s own (`<role>-1…`), at `path`.
async fn own_policies_of(iam: &MemoryIam, role: &str, count: usize, path: &str) {
    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::ml-team-data"}]
    });
    for n in 1..=count {
        let name = format!("{role}-{n}");
        let create = Change::CreatePolicy {
            arn: format!("arn:aws:iam::{ACCOUNT}:policy{path}{name}"),
            name,
            path: path.to_owned(),
            document: document.clone(),
            tags: Vec::new(),
        };
        memory::change(iam, "", create).await;
    }
}

/// MaxOwnPoliciesPerStack, at the template's default (150): a stack whose roles have 141 own
/// managed policies (some in the console's capitalisation, under `/service-role/`) creates a
/// role that makes 5 (146), and the next such Create (151) is refused before any change, as is
/// an Update growing that role to 10; the count includes the roles this function made for the
/// stack and ignores other stacks'. A rollback's Update is never refused.
#[tokio::test]
async fn own_policies_past_the_stacks_limit_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = guarded(&iam, deployed(&[]).await);
    let stack = fresh_stack("limits-policies");
    let tag = format!("{}", std::process::id());
    // 28 roles with 5 each and one with 1: 141.
    for i in 0..29 {
        let role = format!("sagemaker-lp{tag}-{i:02}");
        stand_in().put_resource(
            &stack,
            &format!("Other{i:02}"),
            Resource::custom("CREATE_COMPLETE", Some(&role)),
        );
        let (spelled, path) = match i % 4 {
            0 => (
                role.replacen("sagemaker-", "SageMaker-", 1),
                "/service-role/",
            ),
            _ => (role.clone(), "/"),
        };
        own_policies_of(&iam, &spelled, if i == 28 { 1 } else { 5 }, path).await;
    }
    // Another stack's role with many own policies counts for its own stack only.
    own_policies_of(&iam, &format!("sagemaker-lp{tag}-elsewhere"), 20, "/").await;

    let many_buckets = |mut create: Value| {
        let buckets: Vec<String> = (0..400).map(|i| format!("ml-team-bucket-{i:03}")).collect();
        create["ResourceProperties"]["S3Buckets"] = json!(buckets);
        create["ResourceProperties"]["MaxManagedPolicies"] = json!("20");
        create
    };
    let first = many_buckets(create_in(&stack, "Large", "limit-policies-a", &recorder));
    let first_name = plan_of(&first).role.role_name;
    assert_eq!(plan_of(&first).managed_policies.len(), 5);
    let response = invoke(&handler, &first, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "141 + 5 = 146: {response}");
    memory::assert_converged(&iam, &first).await;
    completed(&first, &first_name);

    let second = many_buckets(create_in(&stack, "Larger", "limit-policies-b", &recorder));
    let second_plan = plan_of(&second);
    iam.clear_calls();
    let response = invoke(&handler, &second, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        reason(&response).starts_with(
            "MaxOwnPoliciesPerStack: the role would have 5 managed policies of its own (it has 0), and the other roles of stack `limits-policies` have 146: 151 in all, and this function allows at most 150 per stack; nothing was changed"
        ),
        "{response}"
    );
    assert_eq!(iam.mutating(), Vec::<String>::new(), "nothing changed");
    assert!(
        iam.calls().contains(&"ListPolicies".to_owned()),
        "{:?}",
        iam.calls()
    );
    assert!(!memory::role_exists(&iam, &second_plan.role.role_name).await);
    for policy in &second_plan.managed_policies {
        assert!(
            !memory::policy_exists(&iam, &policy.arn).await,
            "{}",
            policy.arn
        );
    }

    // An Update growing the first role to 10 (141 + 10 = 151) lists the stack itself, beside its
    // first read, and is refused; the role is left as it was.
    let mut grown = first["ResourceProperties"].clone();
    let buckets: Vec<String> = (0..800).map(|i| format!("ml-team-bucket-{i:03}")).collect();
    grown["S3Buckets"] = json!(buckets);
    let update = update_after(&first, &first_name, grown, "limit-policies-a", &recorder);
    assert_eq!(plan_of(&update).managed_policies.len(), 10);
    iam.clear_calls();
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        reason(&response).starts_with(
            "MaxOwnPoliciesPerStack: the role would have 10 managed policies of its own (it has 5), and the other roles of stack `limits-policies` have 141: 151 in all"
        ),
        "{response}"
    );
    assert_eq!(iam.mutating(), Vec::<String>::new(), "nothing changed");
    memory::assert_converged(&iam, &first).await;

    // The same Update while CloudFormation takes an update back returns the role to what it had
    // before: never refused, or the stack would be left UPDATE_ROLLBACK_FAILED.
    stand_in().put_stack(&stack, "UPDATE_ROLLBACK_IN_PROGRESS");
    let mut rollback = update.clone();
    retarget(&mut rollback, "limit-policies-a", &recorder);
    let response = invoke(&handler, &rollback, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    memory::assert_converged(&iam, &rollback).await;

    let delete = delete_after(&rollback, &first_name, "limit-policies-a", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &first_name).await;
}
