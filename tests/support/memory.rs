//! The handler on the in-memory IAM (`persona_role::iam::memory`) instead of moto, for tests of
//! decisions whose assertions need nothing of moto's wire: the same handler, the same
//! CloudFormation stand-in confirming its events, the same recorder taking its answers. Each
//! test has an account of its own; these helpers seed and inspect it as another principal would
//! (its admin view: unlogged, unfaulted, seeing every write at once), so the account's call log
//! holds only the handler's calls.

use std::collections::BTreeMap;

use persona_role::handler::read_actual;
use persona_role::handler::{Handler, Settings};
use persona_role::iam::{Change, Iam, RoleState, diff};
use persona_role::ownership::{OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG};
use persona_role::plan::{PlanTag, RolePlan};
use serde_json::{Value, json};

pub use persona_role::iam::memory::{Fault, MemoryIam};

use super::{
    ACCOUNT, SdkStacks, TestHandler, cloudformation_client_at, http, owner_of, plan_of, settings,
    stand_in,
};

/// A handler on `iam` with the tests' settings, its events confirmed by the stand-in.
pub fn handler(iam: &MemoryIam) -> TestHandler<MemoryIam> {
    handler_with(iam, settings())
}

pub fn handler_with(iam: &MemoryIam, settings: Settings) -> TestHandler<MemoryIam> {
    TestHandler {
        handler: Handler::with_clients(
            iam.clone(),
            SdkStacks::new(cloudformation_client_at(stand_in().endpoint())),
            http(),
            settings,
        ),
        strict: false,
    }
}

pub async fn role(iam: &MemoryIam, name: &str) -> Option<RoleState> {
    iam.admin().get_role(name).await.unwrap()
}

pub async fn role_exists(iam: &MemoryIam, name: &str) -> bool {
    role(iam, name).await.is_some()
}

pub async fn policy_exists(iam: &MemoryIam, arn: &str) -> bool {
    iam.admin().get_policy(arn).await.unwrap().is_some()
}

pub async fn role_tags(iam: &MemoryIam, name: &str) -> BTreeMap<String, String> {
    role(iam, name).await.expect("role exists").tags
}

/// Names of the role's inline policies, sorted.
pub async fn inline_policy_names(iam: &MemoryIam, name: &str) -> Vec<String> {
    let mut names = iam.admin().inline_policy_names(name).await.unwrap();
    names.sort();
    names
}

/// ARNs of the role's attached policies, sorted.
pub async fn attached_arns(iam: &MemoryIam, name: &str) -> Vec<String> {
    iam.admin()
        .attached_policy_arns(name)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Names of the account's customer-managed policies that start with `prefix`, sorted.
pub async fn local_policies(iam: &MemoryIam, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = iam
        .admin()
        .local_policy_arns("/")
        .await
        .unwrap()
        .iter()
        .filter_map(|arn| arn.rsplit('/').next())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// Creates a customer-managed policy at `/` for `ManagedPolicyArns`; returns its ARN.
pub async fn make_policy(iam: &MemoryIam, name: &str) -> String {
    make_policy_with(
        iam,
        name,
        json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
    )
    .await
}

pub async fn make_policy_with(iam: &MemoryIam, name: &str, document: Value) -> String {
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/{name}");
    let create = Change::CreatePolicy {
        name: name.to_owned(),
        path: "/".to_owned(),
        arn: arn.clone(),
        document,
        tags: Vec::new(),
    };
    iam.admin().apply("", &create).await.unwrap();
    arn
}

/// Creates role `name` as someone else would: at `/`, with `trust`, `tags` and no policies.
pub async fn make_role(iam: &MemoryIam, name: &str, trust: Value, tags: &[(&str, &str)]) {
    let plan = RolePlan {
        role_name: name.to_owned(),
        path: "/".to_owned(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        description: String::new(),
        assume_role_policy_document: trust,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: tags
            .iter()
            .map(|(key, value)| PlanTag {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
    };
    iam.admin().create_role(&plan).await.unwrap();
}

/// Someone else's role: an EC2 trust, their tag and an inline policy of theirs.
pub async fn make_foreign_role(iam: &MemoryIam, name: &str) {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    make_role(iam, name, trust, &[("owner", "them")]).await;
    let admin = iam.admin();
    let update = Change::UpdateRole {
        description: "someone else's role".to_owned(),
        max_session_duration: 3600,
    };
    admin.apply(name, &update).await.unwrap();
    let theirs = Change::PutRolePolicy {
        name: "theirs".to_owned(),
        document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
    };
    admin.apply(name, &theirs).await.unwrap();
}

/// Makes one change as the admin (seeding).
pub async fn change(iam: &MemoryIam, role: &str, change: Change) {
    iam.admin().apply(role, &change).await.unwrap();
}

/// The role as IAM holds it, with its inline policy names and attached policies.
pub async fn snapshot(iam: &MemoryIam, name: &str) -> (RoleState, Vec<String>, Vec<String>) {
    (
        role(iam, name).await.expect("role exists"),
        inline_policy_names(iam, name).await,
        attached_arns(iam, name).await,
    )
}

/// No role of that name, and none of its own managed policies (`<name>-<n>`), is left.
pub async fn assert_gone(iam: &MemoryIam, name: &str) {
    assert!(!role_exists(iam, name).await, "role {name} left behind");
    let prefix = format!("{name}-");
    let own: Vec<String> = local_policies(iam, &prefix)
        .await
        .into_iter()
        .filter(|p| {
            p.strip_prefix(&prefix)
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    assert_eq!(
        own,
        Vec::<String>::new(),
        "managed policies of {name} left behind"
    );
}

/// The account holds exactly what the event's properties declare.
pub async fn assert_converged(iam: &MemoryIam, event: &Value) {
    assert_role_converged(iam, &plan_of(event).role.role_name, event).await;
}

/// Role `name` is exactly what the event declares.
pub async fn assert_role_converged(iam: &MemoryIam, name: &str, event: &Value) {
    let plan = plan_of(event);
    let tags = role_tags(iam, name).await;
    assert_eq!(
        tags.get(OWNER_STACK_TAG).map(String::as_str),
        event["StackId"].as_str()
    );
    assert_eq!(
        tags.get(OWNER_LOGICAL_ID_TAG).map(String::as_str),
        event["LogicalResourceId"].as_str()
    );
    let mut inline: Vec<String> = plan
        .inline_policies
        .iter()
        .map(|p| p.policy_name.clone())
        .collect();
    inline.sort();
    assert_eq!(inline_policy_names(iam, name).await, inline);
    let mut attached = plan.all_attached_arns();
    attached.sort();
    assert_eq!(attached_arns(iam, name).await, attached);
    let admin = iam.admin();
    let role = admin.get_role(name).await.unwrap().expect("role exists");
    let actual = read_actual(
        &admin,
        std::sync::Arc::new(plan.clone()),
        role,
        &owner_of(event),
    )
    .await
    .unwrap();
    assert_eq!(
        diff(&plan, &actual),
        Vec::new(),
        "IAM differs from the plan of {name}"
    );
}

/// A handler on `iam` whose CloudFormation answers only what the test registered with the
/// stand-in.
pub fn strict_handler(iam: &MemoryIam) -> TestHandler<MemoryIam> {
    TestHandler {
        strict: true,
        ..handler(iam)
    }
}
