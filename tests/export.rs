//! `persona-role export --format cloudformation`: the native resources equal the plan — names,
//! documents, tags, attachments — in JSON and in YAML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod samples;

use clap::Parser;
use persona_role::catalog;
use persona_role::cli::{Cli, run};
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

#[test]
fn cli_export_prints_the_same_template_in_json_and_yaml() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events/data-scientist-create.json");
    let path = path.to_str().unwrap();
    let export = |syntax: &str| {
        let cli = Cli::try_parse_from([
            "persona-role",
            "export",
            path,
            "--format",
            "cloudformation",
            "--output",
            syntax,
        ])
        .unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(cli, &mut std::io::empty(), &mut out, &mut err), 0);
        String::from_utf8(out).unwrap()
    };
    let json: Value = serde_json::from_str(&export("json")).unwrap();
    let yaml: Value = serde_yaml_ng::from_str(&export("yaml")).unwrap();
    assert_eq!(json, yaml);
    assert_eq!(
        json["Resources"]["PersonaRole"]["Properties"]["RoleName"],
        "sagemaker-data-scientist"
    );
}
