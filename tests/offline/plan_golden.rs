//! Golden plans: every persona and every activity, with and without VPC and KMS. A changed plan
//! fails until the golden file is reviewed and rewritten with `UPDATE_GOLDEN=1 cargo test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::PathBuf;

use common::{golden_mismatch, root, samples};

use persona_role::catalog::{self, Need, Param};
use persona_role::plan;
use serde_json::{Map, Value, json};

/// Compares a plan with its golden file, or rewrites it when UPDATE_GOLDEN is set.
fn check(name: &str, actual: &Value) -> Option<String> {
    let text = format!("{}\n", serde_json::to_string_pretty(actual).unwrap());
    golden_mismatch(
        &format!("tests/golden/{name}.json"),
        &text,
        "review the plan, then rewrite with UPDATE_GOLDEN=1",
    )
}

fn assert_all(mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "{} golden mismatches (review, then UPDATE_GOLDEN=1):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Properties selecting one activity with its parameters: the required ones only, or every one
/// it declares; VPC and KMS as asked.
fn activity_properties(activity: &catalog::Activity, all: bool, vpc: bool, kms: bool) -> Value {
    let mut map = Map::new();
    map.insert("Persona".to_owned(), json!("Custom"));
    map.insert("Activities".to_owned(), json!([activity.name]));
    for used in activity.params {
        if all || used.need == Need::Required {
            map.insert(
                used.param.name().to_owned(),
                json!(samples::values(used.param, 2, "aws")),
            );
        }
    }
    let pairs = [
        (vpc, [Param::VpcSubnets, Param::VpcSecurityGroups]),
        (kms, [Param::DataKmsKeys, Param::VolumeKmsKeys]),
    ];
    for (wanted, pair) in pairs {
        for param in pair {
            if wanted {
                map.insert(
                    param.name().to_owned(),
                    json!(samples::values(param, 2, "aws")),
                );
            } else {
                map.remove(param.name());
            }
        }
    }
    Value::Object(map)
}

#[test]
fn every_activity_matches_its_golden_plan() {
    let context = samples::context();
    let mut mismatches = Vec::new();
    for activity in catalog::ACTIVITIES {
        let mut variants = vec![
            ("", false, false, false),
            ("-all-parameters", true, false, false),
        ];
        if activity.vpc {
            variants.push(("-vpc", true, true, false));
        }
        if activity.kms {
            variants.push(("-kms", true, false, true));
        }
        if activity.vpc && activity.kms {
            variants.push(("-vpc-kms", true, true, true));
        }
        for (suffix, all, vpc, kms) in variants {
            let properties = activity_properties(activity, all, vpc, kms);
            let plan = plan::plan_properties(&properties, &context)
                .unwrap_or_else(|e| panic!("{}{suffix}: {e}", activity.id));
            let name = format!("activities/{}{suffix}", activity.id);
            mismatches.extend(check(&name, &serde_json::to_value(&plan).unwrap()));
        }
    }
    assert_all(mismatches);
}

/// Drops the parameters no default activity declares, so the plan carries no warnings.
fn keep_used_parameters(properties: &mut Value, defaults: &[&str]) {
    let activities: Vec<&catalog::Activity> = if defaults.is_empty() {
        vec![catalog::activity(
            catalog::find_activity("s3-bucket-access").unwrap(),
        )]
    } else {
        defaults
            .iter()
            .map(|id| catalog::activity(catalog::find_activity(id).unwrap()))
            .collect()
    };
    let map = properties.as_object_mut().unwrap();
    for param in Param::ALL {
        let used = activities.iter().any(|a| {
            a.uses(param).is_some()
                || (a.vpc && matches!(param, Param::VpcSubnets | Param::VpcSecurityGroups))
                || (a.kms && matches!(param, Param::DataKmsKeys | Param::VolumeKmsKeys))
        });
        if !used {
            map.remove(param.name());
        }
    }
}

#[test]
fn every_persona_matches_its_golden_plan() {
    let context = samples::context();
    let mut mismatches = Vec::new();
    for persona in catalog::PERSONAS {
        for (suffix, vpc, kms) in [("", false, false), ("-vpc-kms", true, true)] {
            let mut properties = samples::properties(persona.id, None, 2, vpc, kms, "aws");
            if persona.defaults.is_empty() {
                properties["Activities"] = json!(["S3 Bucket Access"]);
            }
            keep_used_parameters(&mut properties, persona.defaults);
            let plan = plan::plan_properties(&properties, &context)
                .unwrap_or_else(|e| panic!("{}{suffix}: {e}", persona.id));
            let name = format!("personas/{}{suffix}", persona.id);
            mismatches.extend(check(&name, &serde_json::to_value(&plan).unwrap()));
        }
    }
    assert_all(mismatches);
}

#[test]
fn sample_events_match_their_golden_plans() {
    let events = root().join("events");
    let mut mismatches = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&events)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-create.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "one Create event per persona");
    for path in names {
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let context = persona_role::context::StackContext::from_stack_id(
            event["StackId"].as_str().unwrap(),
            event["LogicalResourceId"].as_str().unwrap(),
        )
        .unwrap();
        let plan = plan::plan_properties(&event["ResourceProperties"], &context).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        mismatches.extend(check(
            &format!("events/{stem}"),
            &serde_json::to_value(&plan).unwrap(),
        ));
    }
    assert_all(mismatches);
}
