//! The published JSON Schema: up to date with the code, accepting every input the planner
//! accepts, and rejecting malformed shapes the planner rejects too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{cli, samples};
use persona_role::catalog;
use persona_role::cli::schema_violations;
use persona_role::plan;
use serde_json::{Value, json};

#[test]
fn published_schema_is_up_to_date() {
    common::assert_golden(
        "schema/properties.schema.json",
        &persona_role::schema::properties_schema_text(),
        "run `cargo run --bin persona-role -- schema > schema/properties.schema.json`",
    );
}

#[test]
fn every_input_the_planner_accepts_passes_the_schema() {
    let context = samples::context();
    let mut inputs: Vec<Value> = Vec::new();
    for persona in catalog::PERSONAS {
        for activity in catalog::ACTIVITIES {
            let mut p = samples::properties(persona.id, None, 2, true, true, "aws");
            if !persona.defaults.contains(&activity.id) {
                p["AddActivities"] = json!([activity.name]);
            }
            inputs.push(p);
        }
    }
    let events = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    for entry in std::fs::read_dir(events).unwrap() {
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        inputs.push(event["ResourceProperties"].clone());
    }
    inputs.push(json!({
        "Persona": "data scientist",
        "PassRoles": "arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b",
        "S3Buckets": "team-*",
        "MaxSessionDuration": 7200,
        "EcrRepositories": "",
        "Tags": [{"Key": "team", "Value": ""}],
        "ActivityParameters": {"manage-models": {"PassRoles": ["arn:aws:iam::123456789012:role/c"]}},
        "ServiceTimeout": "600",
    }));
    for input in inputs {
        plan::plan_properties(&input, &context).unwrap_or_else(|e| panic!("{input}: {e}"));
        let violations = schema_violations(&input);
        assert!(violations.is_empty(), "{input}: {violations:?}");
    }
}

#[test]
fn malformed_shapes_are_rejected_by_schema_and_planner_alike() {
    let context = samples::context();
    let base = json!({"Persona": "SageMakerCompute", "S3Buckets": ["ml-data"]});
    let cases = [
        ("/", json!({"PassRolez": []})),
        ("/S3Buckets/0", json!({"S3Buckets": ["UPPER"]})),
        ("/RoleNameSuffix", json!({"RoleNameSuffix": "x".repeat(55)})),
        ("/RoleNameSuffix", json!({"RoleNameSuffix": "has space"})),
        ("/Description", json!({"Description": "d".repeat(1001)})),
        ("/MaxSessionDuration", json!({"MaxSessionDuration": 60})),
        ("/Path", json!({"Path": "no-slashes"})),
        ("/Path", json!({"Path": "/ml/sagemaker-team/"})),
        (
            "/Tags",
            json!({"Tags": (0..49).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect::<Vec<_>>()}),
        ),
        (
            "/Tags/0/Key",
            json!({"Tags": [{"Key": "aws:reserved", "Value": "v"}]}),
        ),
        (
            "/Tags/0/Key",
            json!({"Tags": [{"Key": "Persona-Role:Stack-Id", "Value": "v"}]}),
        ),
        (
            "/Tags/0/Key",
            json!({"Tags": [{"Key": "per\u{17f}ona-role:stack-id", "Value": "v"}]}),
        ),
        (
            "/S3BucketAccounts/0",
            json!({"S3BucketAccounts": ["12345678901"]}),
        ),
        (
            "/DataKmsKeys/0",
            json!({"DataKmsKeys": ["alias/data"], "VolumeKmsKeys": ["alias/volume"]}),
        ),
        (
            "/VpcSubnets/0",
            json!({"VpcSubnets": ["vpc-0123abcd"], "VpcSecurityGroups": ["sg-0123abcd"]}),
        ),
        (
            "/PermissionsBoundary",
            json!({"PermissionsBoundary": "boundary"}),
        ),
        (
            "/ActivityParameters/Access Required AWS Services",
            json!({"ActivityParameters": {"Access Required AWS Services": {"Buckets": []}}}),
        ),
    ];
    for (path, patch) in cases {
        let mut input = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        let violations = schema_violations(&input);
        assert!(
            violations
                .iter()
                .any(|v| v.starts_with(&format!("{path}:"))),
            "{path}: schema accepted {input}: {violations:?}"
        );
        assert!(
            plan::plan_properties(&input, &context).is_err(),
            "{path}: planner accepted {input}"
        );
    }
}

#[test]
fn cli_validate_reports_schema_violations_then_planner_errors() {
    let validate = |stdin: &str| {
        let output = cli(&["validate", "-", "--account", "123456789012"], stdin);
        (output.code, output.stdout, output.stderr)
    };
    let (code, _, err) = validate(r#"{"Persona": "MLOps", "PassRolez": []}"#);
    assert_eq!(code, 1);
    assert!(err.contains("error: 1 schema violation"), "{err}");
    // Shape is fine, meaning is not: the planner's reason names the property.
    let (code, _, err) = validate(r#"{"Persona": "MLOps"}"#);
    assert_eq!(code, 1);
    assert!(err.contains("PassRoles: required by activities"), "{err}");
    let (code, out, _) = validate(r#"{"Persona": "Custom", "Activities": "S3 Full Access"}"#);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("valid: role sagemaker-persona-role-PersonaRole-"),
        "{out}"
    );
}

#[test]
fn a_missed_pattern_is_reported_by_what_was_expected_not_by_the_regex() {
    let violations = schema_violations(&json!({
        "Persona": "MLOps",
        "S3Buckets": ["192.168.1.1"],
        "PassRoles": "arn:aws:iam::123456789012:role/*",
    }));
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(
        violations[0].starts_with(
            "/S3Buckets/0: \"192.168.1.1\" does not match the expected form: S3 bucket names ("
        ),
        "{violations:?}"
    );
    assert!(
        violations[1].starts_with("/PassRoles: \"arn:aws:iam::123456789012:role/*\" does not match the expected form: IAM role ARNs ("),
        "{violations:?}"
    );
    assert!(
        violations.iter().all(|v| !v.contains("(?")),
        "{violations:?}"
    );
}
