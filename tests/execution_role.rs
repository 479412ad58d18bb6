//! `template.yaml`'s execution role grants exactly the IAM operations the function calls: the
//! registry in `persona_role::iam::operations`. A new call that the role lacks would ship as an
//! AccessDenied; a grant nothing calls is privilege for nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use persona_role::iam::Op;
use serde_yaml_ng::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every statement of the execution role's policies, through `!If` branches (either may hold).
fn statements(template: &Value) -> Vec<Value> {
    let policies = template["Resources"]["ExecutionRole"]["Properties"]["Policies"]
        .as_sequence()
        .expect("ExecutionRole has Policies");
    let mut out = Vec::new();
    for policy in policies {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("a policy has statements")
        {
            collect_statements(statement, &mut out);
        }
    }
    out
}

fn collect_statements(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Mapping(map) if map.contains_key("Effect") => out.push(value.clone()),
        Value::Tagged(tagged) if tagged.tag == "If" => {
            for branch in tagged.value.as_sequence().into_iter().flatten().skip(1) {
                collect_statements(branch, out);
            }
        }
        _ => {}
    }
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(action) => vec![action.clone()],
        Value::Sequence(actions) => actions
            .iter()
            .map(|a| a.as_str().expect("actions are strings").to_owned())
            .collect(),
        other => panic!("unexpected Action {other:?}"),
    }
}

fn iam_actions(effect: &str) -> BTreeSet<String> {
    statements(&template())
        .iter()
        .filter(|s| s["Effect"].as_str() == Some(effect))
        .flat_map(actions)
        .filter(|a| a.starts_with("iam:"))
        .collect()
}

#[test]
fn the_execution_role_allows_exactly_the_operations_the_function_calls() {
    let granted = iam_actions("Allow");
    let called: BTreeSet<String> = Op::ALL.iter().map(|op| op.action()).collect();
    let missing: Vec<&String> = called.difference(&granted).collect();
    let unused: Vec<&String> = granted.difference(&called).collect();
    assert!(
        missing.is_empty(),
        "the function calls these, but template.yaml's execution role does not allow them: {missing:?}"
    );
    assert!(
        unused.is_empty(),
        "template.yaml's execution role allows these, but the function never calls them: {unused:?}"
    );
}

#[test]
fn every_write_the_function_makes_is_also_denied_under_hidden_sagemaker_paths() {
    let denied = iam_actions("Deny");
    let writes: Vec<String> = Op::ALL
        .iter()
        .filter(|op| op.is_write())
        .map(|op| op.action())
        .collect();
    for write in writes {
        assert!(
            denied.contains(&write),
            "{write} is not in DenyNamesHiddenInPaths"
        );
    }
}
