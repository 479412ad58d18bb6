//! `persona-role export --format cloudformation`: the native resources equal the plan — names,
//! documents, tags, attachments — in JSON and in YAML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{cli, samples};
use persona_role::catalog;
use persona_role::export;
use persona_role::plan::{self, Plan};
use serde_json::{Value, json};

fn assert_template_equals_plan(template: &Value, plan: &Plan) {
    let resources = template["Resources"].as_object().unwrap();
    assert_eq!(resources.len(), 1 + plan.managed_policies.len());
    let role = &resources["PersonaRole"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    assert_eq!(
        role["DeletionPolicy"], "Retain",
        "importable and safe while moving"
    );
    let p = &role["Properties"];
    assert_eq!(p["RoleName"], json!(plan.role.role_name));
    assert_eq!(p["Path"], json!(plan.role.path));
    assert_eq!(p["Description"], json!(plan.role.description));
    assert_eq!(
        p["AssumeRolePolicyDocument"],
        plan.role.assume_role_policy_document
    );
    assert_eq!(
        p["MaxSessionDuration"],
        json!(plan.role.max_session_duration)
    );
    assert_eq!(p["Tags"], serde_json::to_value(&plan.role.tags).unwrap());
    let inline = p["Policies"].as_array().cloned().unwrap_or_default();
    assert_eq!(inline.len(), plan.inline_policies.len());
    for (exported, planned) in inline.iter().zip(&plan.inline_policies) {
        assert_eq!(exported["PolicyName"], json!(planned.policy_name));
        assert_eq!(exported["PolicyDocument"], planned.policy_document);
    }
    let attached = p["ManagedPolicyArns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        attached.len(),
        plan.managed_policies.len() + plan.attached_policy_arns.len()
    );
    for (i, planned) in plan.managed_policies.iter().enumerate() {
        let logical_id = format!("PersonaRolePolicy{}", i + 1);
        assert_eq!(attached[i], json!({"Ref": logical_id}));
        let policy = &resources[&logical_id];
        assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
        assert_eq!(
            policy["Properties"]["ManagedPolicyName"],
            json!(planned.policy_name)
        );
        assert_eq!(policy["Properties"]["Path"], json!(planned.path));
        assert_eq!(
            policy["Properties"]["PolicyDocument"],
            planned.policy_document
        );
    }
    for (i, arn) in plan.attached_policy_arns.iter().enumerate() {
        assert_eq!(attached[plan.managed_policies.len() + i], json!(arn));
    }
}

#[test]
fn exported_resources_equal_the_plan_for_every_sample_event() {
    let events = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    for name in ["compute", "custom", "data-scientist", "mlops"] {
        let event: Value = serde_json::from_str(
            &std::fs::read_to_string(events.join(format!("{name}-create.json"))).unwrap(),
        )
        .unwrap();
        let context = persona_role::context::StackContext::from_stack_id(
            event["StackId"].as_str().unwrap(),
            event["LogicalResourceId"].as_str().unwrap(),
        )
        .unwrap();
        let plan = plan::plan_properties(&event["ResourceProperties"], &context).unwrap();
        assert_template_equals_plan(
            &export::cloudformation(&plan, export::ROLE_LOGICAL_ID),
            &plan,
        );
    }
}

#[test]
fn exported_managed_policies_and_attachments_equal_the_plan() {
    let mut all: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.id).collect();
    all.sort();
    let mut properties = samples::properties("Custom", Some(&all), 5, true, true, "aws");
    properties["ManagedPolicyArns"] = json!(["arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"]);
    properties["PermissionsBoundary"] = json!("arn:aws:iam::123456789012:policy/ml-boundary");
    // Every activity with five values of each parameter, VPC, KMS and one more attached policy
    // needs more than the default ten managed policies.
    properties["MaxManagedPolicies"] = json!(12);
    let plan = plan::plan_properties(&properties, &samples::context()).unwrap();
    assert!(!plan.managed_policies.is_empty() && plan.attached_policy_arns.len() > 1);
    let template = export::cloudformation(&plan, export::ROLE_LOGICAL_ID);
    assert_template_equals_plan(&template, &plan);
    assert_eq!(
        template["Resources"]["PersonaRole"]["Properties"]["PermissionsBoundary"],
        "arn:aws:iam::123456789012:policy/ml-boundary"
    );
}

fn cli_export(args: &[&str]) -> String {
    let args: Vec<&str> = std::iter::once("export")
        .chain(args.iter().copied())
        .collect();
    let output = cli(&args, "");
    assert_eq!(output.code, 0, "{}", output.stderr);
    output.stdout
}

fn sample(name: &str) -> String {
    common::root().join(name).to_str().unwrap().to_owned()
}

#[test]
fn cli_export_prints_the_same_template_in_json_and_yaml() {
    let path = sample("events/data-scientist-create.json");
    let export =
        |syntax: &str| cli_export(&[&path, "--format", "cloudformation", "--output", syntax]);
    let json: Value = serde_json::from_str(&export("json")).unwrap();
    let yaml = export("yaml");
    assert!(yaml.contains(": !Sub arn:${AWS::Partition}:"), "{yaml}");
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(json, persona_role::yaml::long_form(&yaml));
    assert_eq!(
        json["Resources"]["PersonaRole"]["Properties"]["RoleName"],
        "sagemaker-data-scientist"
    );
}

/// Every string of the template, with `Fn::Sub` strings unwrapped.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn cli_export_names_the_stack_account_partition_and_region_only_through_pseudo_parameters() {
    let properties = r#"{
        "Persona": "DataScientist",
        "RoleNameSuffix": "portable",
        "PassRoles": ["arn:aws:iam::111122223333:role/service-role/compute"],
        "S3Buckets": ["data"],
        "S3BucketAccounts": ["444455556666"],
        "Regions": ["eu-west-1"],
        "VpcSubnets": ["subnet-0a1b2c3d"],
        "VpcSecurityGroups": ["sg-0a1b2c3d"],
        "DataKmsKeys": ["arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555"],
        "VolumeKmsKeys": ["arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555556"],
        "AddActivities": ["Canvas Core Access"]
    }"#;
    let dir = std::env::temp_dir().join(format!("persona-role-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("portable.json");
    std::fs::write(&file, properties).unwrap();
    // No --account: the account PassRoles names is the stack's, and it never shows.
    let text = cli_export(&[
        file.to_str().unwrap(),
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]);
    let template: Value = serde_json::from_str(&text).unwrap();
    let mut all = Vec::new();
    strings(&template["Resources"], &mut all);
    for s in &all {
        assert!(!s.contains("111122223333"), "literal account in {s}");
        assert!(!s.contains("arn:aws:"), "literal partition in {s}");
        assert!(!s.contains("eu-west-1"), "literal region in {s}");
    }
    let role = &template["Resources"]["PersonaRole"]["Properties"];
    let policy = role["Policies"][0]["PolicyDocument"].to_string();
    // S3 statements name the stack's account in their condition, other accounts as given.
    let resources = template["Resources"].to_string();
    assert!(
        resources
            .contains(r#""aws:ResourceAccount":[{"Fn::Sub":"${AWS::AccountId}"},"444455556666"]"#),
        "{resources}"
    );
    assert!(
        policy.contains(
            r#"{"Fn::Sub":"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/service-role/compute"}"#
        ),
        "{policy}"
    );
    assert!(
        policy.contains(r#"{"Fn::Sub":"s3.${AWS::Region}.${AWS::URLSuffix}"}"#),
        "{policy}"
    );
    let canvas =
        json!({"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSageMakerCanvasFullAccess"});
    assert!(
        role["ManagedPolicyArns"]
            .as_array()
            .unwrap()
            .contains(&canvas),
        "{}",
        role["ManagedPolicyArns"]
    );
    common::assert_cfn_lint_clean(&text, "export.json");
}
