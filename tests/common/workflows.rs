//! The workflow tables (tests/workflows/*.yaml) and the requests they stand for: read by
//! `tests/simulated/workflows.rs`, which has the simulator decide them (its header describes the tables),
//! and by `tests/simulated/usage_attribution.rs`, which writes the allowed ones as CloudTrail records.

use std::collections::BTreeMap;
use std::path::PathBuf;

use persona_role::boundary;
use persona_role::catalog::Param;
use persona_role::plan::{self, Plan};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ACCOUNT, STACK_ID, root, samples};

pub const VARIANTS: [&str; 4] = ["plain", "vpc", "kms", "vpc-kms"];
pub const DOMAIN: &str = "d-team01";
pub const USER: &str = "alice";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub persona: String,
    /// What the role is for, in one line.
    pub about: String,
    /// Properties besides `Persona` and the VPC and KMS ones each variant adds.
    #[serde(default)]
    pub properties: Map<String, Value>,
    pub variants: Vec<String>,
    pub workflows: Vec<Workflow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub name: String,
    #[serde(default)]
    pub allow: Vec<Call>,
    #[serde(default)]
    pub deny: Vec<Call>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub action: String,
    pub resource: String,
    #[serde(default)]
    pub context: BTreeMap<String, Value>,
    #[serde(default)]
    pub studio: bool,
    #[serde(default)]
    pub tags: bool,
    #[serde(default)]
    pub vpc: bool,
    #[serde(default)]
    pub kms: Vec<String>,
    #[serde(default)]
    pub variants: Option<Vec<String>>,
    /// The account that owns the bucket of an S3 request; absent: the stack's.
    #[serde(default)]
    pub owner: Option<String>,
    /// Who owns the role an `iam:PassRole` passes: absent, the persona's own stack (the stack
    /// declares the roles its personas pass); `another-stack`; or `unowned` (no ownership tag).
    #[serde(default)]
    pub passed_role_owner: Option<PassedRoleOwner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PassedRoleOwner {
    AnotherStack,
    Unowned,
}

/// Another stack of the account, whose roles are not the persona's to pass.
pub const OTHER_STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/team-a-personas/0c8e2f34-8b1e-11ef-9c4d-0a1b2c3d4e5f";

/// The tags IAM gives every request of a persona role's session: the role's own ownership tags.
pub fn principal_tags(logical_id: &str) -> Map<String, Value> {
    let mut tags = Map::new();
    tags.insert(
        "aws:PrincipalTag/persona-role:stack-id".to_owned(),
        json!(STACK_ID),
    );
    tags.insert(
        "aws:PrincipalTag/persona-role:logical-id".to_owned(),
        json!(logical_id),
    );
    tags
}

/// One request to decide, with what the test expects and where it came from.
pub struct Case {
    pub table: String,
    pub persona: String,
    pub variant: &'static str,
    pub workflow: String,
    pub allow: bool,
    pub request: Value,
}

pub fn tables() -> Vec<(String, Table)> {
    let dir = root().join("tests/workflows");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let table: Table = serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, table)
        })
        .collect()
}

pub fn one(param: Param) -> String {
    samples::values(param, 1, "aws").remove(0)
}

pub fn variant_properties(table: &Table, variant: &str) -> Value {
    let mut map = table.properties.clone();
    map.insert("Persona".to_owned(), json!(table.persona));
    if variant.contains("vpc") {
        for param in [Param::VpcSubnets, Param::VpcSecurityGroups] {
            map.insert(param.name().to_owned(), json!([one(param)]));
        }
    }
    if variant.contains("kms") {
        for param in [Param::DataKmsKeys, Param::VolumeKmsKeys] {
            map.insert(param.name().to_owned(), json!([one(param)]));
        }
    }
    Value::Object(map)
}

pub fn policies(plan: &Plan) -> Vec<Value> {
    plan.inline_policies
        .iter()
        .map(|p| json!({"name": p.policy_name, "policy": p.policy_document}))
        .chain(
            plan.managed_policies
                .iter()
                .map(|p| json!({"name": p.policy_name, "policy": p.policy_document})),
        )
        .collect()
}

pub fn resource_arn(resource: &str) -> String {
    if resource == "*" || resource.starts_with("arn:") {
        resource.to_owned()
    } else {
        format!("arn:aws:sagemaker:us-east-1:123456789012:{resource}")
    }
}

/// The calls a listed call stands for in a variant: itself with the context its shorthands
/// add, and the AddTags authorization of a tagged SageMaker Create.
pub fn expand(call: &Call, variant: &str) -> Vec<(String, Call)> {
    if let Some(only) = &call.variants
        && !only.iter().any(|v| v == variant)
    {
        return Vec::new();
    }
    let mut call = call.clone();
    assert!(
        !call.context.contains_key("aws:ResourceAccount"),
        "{}: give the bucket's account as `owner`, which every S3 request carries",
        call.action
    );
    if call.action.starts_with("s3:") {
        let owner = call.owner.clone().unwrap_or_else(|| ACCOUNT.to_owned());
        call.context
            .insert("aws:ResourceAccount".to_owned(), json!(owner));
    } else {
        assert!(call.owner.is_none(), "{}: `owner` is for S3", call.action);
    }
    // IAM reads the passed role's ownership tag.
    if call.action == "iam:PassRole" {
        let stack = match call.passed_role_owner {
            None => Some(STACK_ID),
            Some(PassedRoleOwner::AnotherStack) => Some(OTHER_STACK),
            Some(PassedRoleOwner::Unowned) => None,
        };
        if let Some(stack) = stack {
            call.context
                .insert(boundary::PASSED_ROLE_STACK_KEY.to_owned(), json!(stack));
        }
    } else {
        assert!(
            call.passed_role_owner.is_none(),
            "{}: `passed_role_owner` is for iam:PassRole",
            call.action
        );
    }
    if call.tags {
        call.context
            .insert("aws:RequestTag/project".to_owned(), json!("churn"));
        call.context
            .insert("aws:TagKeys".to_owned(), json!(["project"]));
    }
    if call.vpc && variant.contains("vpc") {
        call.context.insert(
            "sagemaker:VpcSubnets".to_owned(),
            json!([one(Param::VpcSubnets)]),
        );
        call.context.insert(
            "sagemaker:VpcSecurityGroupIds".to_owned(),
            json!([one(Param::VpcSecurityGroups)]),
        );
    }
    if variant.contains("kms") {
        for key in &call.kms {
            let (name, param) = match key.as_str() {
                "volume" => ("sagemaker:VolumeKmsKeyArn", Param::VolumeKmsKeys),
                "output" => ("sagemaker:OutputKmsKeyArn", Param::DataKmsKeys),
                other => panic!("kms: {other}: expected volume or output"),
            };
            call.context.insert(name.to_owned(), json!(one(param)));
        }
    }
    let mut out = vec![(String::new(), call.clone())];
    if call.tags
        && let Some(create) = call.action.strip_prefix("sagemaker:")
        && create.starts_with("Create")
    {
        let mut context = BTreeMap::new();
        context.insert("sagemaker:TaggingAction".to_owned(), json!(create));
        context.insert("aws:RequestTag/project".to_owned(), json!("churn"));
        context.insert("aws:TagKeys".to_owned(), json!(["project"]));
        out.push((
            format!(" (the tags of {create})"),
            Call {
                action: "sagemaker:AddTags".to_owned(),
                context,
                tags: false,
                vpc: false,
                kms: Vec::new(),
                variants: None,
                owner: None,
                passed_role_owner: None,
                ..call
            },
        ));
    }
    out
}

pub fn cases() -> (Vec<Case>, Vec<(String, &'static str, Plan)>) {
    let context = samples::context();
    let boundary = json!({
        "name": boundary::LOGICAL_ID,
        // As deployed with the template's defaults: no AllowedPassRoles.
        "policy": boundary::policy(&[]),
    });
    let mut cases = Vec::new();
    let mut plans = Vec::new();
    for (name, table) in tables() {
        assert!(!table.about.is_empty(), "{name}: say what the role is for");
        for variant in VARIANTS {
            if !table.variants.iter().any(|v| v == variant) {
                continue;
            }
            let properties = variant_properties(&table, variant);
            let plan = plan::plan_properties(&properties, &context)
                .unwrap_or_else(|e| panic!("{name} [{variant}]: {e}"));
            let principal = plan.role.arn.clone();
            let policies = policies(&plan);
            for workflow in &table.workflows {
                let calls = workflow
                    .allow
                    .iter()
                    .map(|c| (true, c))
                    .chain(workflow.deny.iter().map(|c| (false, c)));
                for (allow, listed) in calls {
                    for (label, call) in expand(listed, variant) {
                        let mut session = Map::new();
                        if call.studio {
                            session.insert("sagemaker:DomainId".to_owned(), json!(DOMAIN));
                            session.insert("sagemaker:UserProfileName".to_owned(), json!(USER));
                        }
                        // KMS decides on the key policy too; the default one lets IAM policies
                        // of the account decide.
                        let mut resource_policy = call.action.starts_with("kms:").then(|| {
                            json!({
                                "Version": "2012-10-17",
                                "Statement": [{
                                    "Sid": "Enable IAM User Permissions",
                                    "Effect": "Allow",
                                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                    "Action": "kms:*",
                                    "Resource": "*"
                                }]
                            })
                        });
                        // Another account's bucket, whose policy admits the role.
                        let owner = call.owner.clone().unwrap_or_else(|| ACCOUNT.to_owned());
                        if owner != ACCOUNT {
                            resource_policy = Some(json!({
                                "Version": "2012-10-17",
                                "Statement": [{
                                    "Sid": "AdmitTheRole",
                                    "Effect": "Allow",
                                    "Principal": {"AWS": principal},
                                    "Action": call.action,
                                    "Resource": resource_arn(&call.resource)
                                }]
                            }));
                        }
                        let mut context = principal_tags(&table.persona);
                        context.extend(call.context.iter().map(|(k, v)| (k.clone(), v.clone())));
                        cases.push(Case {
                            table: name.clone(),
                            persona: table.persona.clone(),
                            variant,
                            workflow: format!("{}{label}", workflow.name),
                            allow,
                            request: json!({
                                "principal": principal,
                                "account": owner,
                                "policies": policies,
                                "boundary": boundary,
                                "resource_policy": resource_policy,
                                "action": call.action,
                                "resource": resource_arn(&call.resource),
                                "context": context,
                                "session": session,
                            }),
                        });
                    }
                }
            }
            plans.push((name.clone(), variant, plan));
        }
    }
    (cases, plans)
}
