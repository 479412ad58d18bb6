//! Every persona × activity × VPC/KMS option × partition plans to valid IAM within the quotas;
//! roles that cannot fit fail saying by how much; plans are deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::samples;

use persona_role::catalog;
use persona_role::plan::{
    self, INLINE_LIMIT, MANAGED_LIMIT, Plan, PlanError, QuotaError, TRUST_LIMIT, iam_size,
};
use serde_json::{Value, json};

const PARTITIONS: [(&str, &str); 3] = [
    ("aws", "us-east-1"),
    ("aws-cn", "cn-north-1"),
    ("aws-us-gov", "us-gov-west-1"),
];

/// Asserts what IAM would check: documents are valid policies within the quotas, every action is
/// `service:Action`, every resource is `*` or an ARN of the stack's partition.
fn assert_valid(plan: &Plan, partition: &str, label: &str) {
    let role = &plan.role;
    assert!(role.role_name.len() <= 64, "{label}: role name");
    assert!(
        role.description.chars().count() <= 1000,
        "{label}: description"
    );
    assert!(role.tags.len() <= 50, "{label}: tags");
    assert!(
        iam_size(&role.assume_role_policy_document) <= TRUST_LIMIT,
        "{label}: trust"
    );
    let inline: usize = plan
        .inline_policies
        .iter()
        .map(|p| iam_size(&p.policy_document))
        .sum();
    assert!(inline <= INLINE_LIMIT, "{label}: inline {inline}");
    for policy in &plan.managed_policies {
        let size = iam_size(&policy.policy_document);
        assert_eq!(size, policy.size, "{label}: reported size");
        assert!(
            size <= MANAGED_LIMIT,
            "{label}: {} is {size}",
            policy.policy_name
        );
        assert!(policy.policy_name.len() <= 128);
        assert!(
            policy
                .arn
                .starts_with(&format!("arn:{partition}:iam::123456789012:policy/"))
        );
    }
    assert!(
        plan.managed_policies.len() + plan.attached_policy_arns.len() <= 10,
        "{label}: managed policy count"
    );
    let documents = plan
        .inline_policies
        .iter()
        .map(|p| &p.policy_document)
        .chain(plan.managed_policies.iter().map(|p| &p.policy_document));
    let mut sids = std::collections::BTreeSet::new();
    for document in documents {
        // Valid JSON that round-trips.
        let text = serde_json::to_string(document).unwrap();
        assert_eq!(&serde_json::from_str::<Value>(&text).unwrap(), document);
        assert_eq!(document["Version"], "2012-10-17");
        let statements = document["Statement"].as_array().unwrap();
        assert!(!statements.is_empty(), "{label}: empty policy");
        for statement in statements {
            let sid = statement["Sid"].as_str().unwrap();
            assert!(
                sid.chars().all(|c| c.is_ascii_alphanumeric()),
                "{label}: sid {sid}"
            );
            assert!(sids.insert(sid.to_owned()), "{label}: duplicate sid {sid}");
            assert_eq!(statement["Effect"], "Allow");
            for action in strings(&statement["Action"]) {
                let (service, name) = action
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{label}: {action}"));
                assert!(
                    !service.is_empty()
                        && service
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{label}: {action}"
                );
                assert!(
                    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                        && name.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{label}: {action}"
                );
            }
            let resources = strings(&statement["Resource"]);
            assert!(!resources.is_empty(), "{label}: {sid} has no resource");
            for resource in resources {
                assert!(
                    resource == "*" || resource.starts_with(&format!("arn:{partition}:")),
                    "{label}: {sid} resource {resource}"
                );
            }
            if let Some(conditions) = statement.get("Condition") {
                for (operator, keys) in conditions.as_object().unwrap() {
                    assert!(!operator.is_empty());
                    for (key, value) in keys.as_object().unwrap() {
                        assert!(key.contains(':'), "{label}: condition key {key}");
                        assert!(!strings(value).is_empty(), "{label}: {key} has no value");
                    }
                }
            }
        }
    }
    let text = serde_json::to_string(plan).unwrap();
    if partition != "aws" {
        assert!(!text.contains("arn:aws:"), "{label}: foreign partition ARN");
    }
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().map(|v| v.as_str().unwrap()).collect(),
        other => panic!("not a string or list: {other}"),
    }
}

#[test]
fn every_persona_activity_vpc_kms_and_partition_combination_is_valid() {
    let mut count = 0;
    for (partition, region) in PARTITIONS {
        let context = samples::context_in(partition, region);
        for persona in catalog::PERSONAS {
            for activity in catalog::ACTIVITIES {
                for (vpc, kms) in [(false, false), (true, false), (false, true), (true, true)] {
                    let mut properties =
                        samples::properties(persona.id, None, 3, vpc, kms, partition);
                    if !persona.defaults.contains(&activity.id) {
                        properties["AddActivities"] = json!([activity.name]);
                    }
                    let label = format!(
                        "{partition} {} + {} vpc={vpc} kms={kms}",
                        persona.id, activity.id
                    );
                    let plan = plan::plan_properties(&properties, &context)
                        .unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert!(
                        plan.activities.contains(&activity.name.to_owned()),
                        "{label}"
                    );
                    assert_valid(&plan, partition, &label);
                    count += 1;
                }
            }
        }
    }
    assert_eq!(
        count,
        3 * catalog::PERSONAS.len() * catalog::ACTIVITIES.len() * 4
    );
}

#[test]
fn every_persona_with_every_activity_fits_with_vpc_and_kms() {
    let all: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.id).collect();
    for (partition, region) in PARTITIONS {
        let context = samples::context_in(partition, region);
        for persona in catalog::PERSONAS {
            for (vpc, kms) in [(false, false), (true, true)] {
                for n in [1, 5] {
                    let properties =
                        samples::properties(persona.id, Some(&all), n, vpc, kms, partition);
                    let label = format!(
                        "{partition} {} all activities n={n} vpc={vpc} kms={kms}",
                        persona.id
                    );
                    let plan = plan::plan_properties(&properties, &context)
                        .unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert_eq!(plan.activities.len(), all.len());
                    assert_valid(&plan, partition, &label);
                }
            }
        }
    }
}

#[test]
fn statements_spill_from_inline_into_managed_policies_in_order() {
    let all: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.id).collect();
    let properties = samples::properties("Custom", Some(&all), 5, true, true, "aws");
    let plan = plan::plan_properties(&properties, &samples::context()).unwrap();
    assert!(
        !plan.managed_policies.is_empty(),
        "all activities exceed the inline quota"
    );
    assert!(
        plan.quotas.inline_characters > INLINE_LIMIT - 2_000,
        "inline is filled first"
    );
    let names: Vec<&str> = plan
        .managed_policies
        .iter()
        .map(|p| p.policy_name.as_str())
        .collect();
    let expected: Vec<String> = (1..=names.len())
        .map(|n| format!("{}-{n}", plan.role.role_name))
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn a_role_that_cannot_fit_fails_saying_by_how_much() {
    let all: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.id).collect();
    let mut properties = samples::properties("Custom", Some(&all), 12, true, true, "aws");
    properties["MaxManagedPolicies"] = json!("6");
    let error = plan::plan_properties(&properties, &samples::context()).unwrap_err();
    let PlanError::Quota(QuotaError::TooLarge { excess, total, .. }) = &error else {
        panic!("{error}");
    };
    assert!(*excess > 0 && excess < total);
    let reason = error.to_string();
    assert!(
        reason.contains(&format!("need {excess} characters more than fit")),
        "{reason}"
    );
}

#[test]
fn a_condition_too_large_for_any_policy_names_its_properties() {
    let all: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.id).collect();
    let properties = samples::properties("Custom", Some(&all), 40, true, true, "aws");
    let error = plan::plan_properties(&properties, &samples::context()).unwrap_err();
    let reason = error.to_string();
    assert!(
        reason.contains(
            "give fewer values of VpcSubnets, VpcSecurityGroups, VolumeKmsKeys, DataKmsKeys"
        ),
        "{reason}"
    );
}

#[test]
fn too_many_attached_policies_fail_naming_the_properties() {
    let arns: Vec<String> = (0..10)
        .map(|i| format!("arn:aws:iam::123456789012:policy/extra-{i}"))
        .collect();
    let properties = json!({
        "Persona": "Custom",
        "Activities": ["SageMaker Canvas Core Access"],
        "ManagedPolicyArns": arns,
    });
    let error = plan::plan_properties(&properties, &samples::context()).unwrap_err();
    let reason = error.to_string();
    assert!(
        reason.contains("11 attached by ManagedPolicyArns and activities, 10 allowed"),
        "{reason}"
    );
}

#[test]
fn a_single_oversized_statement_is_split_across_policies() {
    let mut properties = json!({"Persona": "Custom", "Activities": ["Manage ML Jobs"]});
    properties["PassRoles"] = json!(samples::values(
        persona_role::catalog::Param::PassRoles,
        99,
        "aws"
    ));
    let plan = plan::plan_properties(&properties, &samples::context()).unwrap();
    assert_valid(&plan, "aws", "99 pass roles");
    let text = serde_json::to_string(&plan).unwrap();
    for role in samples::values(persona_role::catalog::Param::PassRoles, 99, "aws") {
        assert!(text.contains(&role), "{role} lost in splitting");
    }
}

#[test]
fn plans_are_deterministic_and_ignore_input_order() {
    let context = samples::context();
    let a = samples::properties("DataScientist", None, 4, true, true, "aws");
    let mut b = a.clone();
    for key in ["PassRoles", "S3Buckets", "VpcSubnets"] {
        let mut list = b[key].as_array().unwrap().clone();
        list.reverse();
        b[key] = Value::Array(list);
    }
    let first = serde_json::to_string(&plan::plan_properties(&a, &context).unwrap()).unwrap();
    let again = serde_json::to_string(&plan::plan_properties(&a, &context).unwrap()).unwrap();
    let reordered = serde_json::to_string(&plan::plan_properties(&b, &context).unwrap()).unwrap();
    assert_eq!(first, again);
    assert_eq!(first, reordered);
}

#[test]
fn regions_narrow_every_regional_arn_and_the_trust_policy() {
    let mut properties = samples::properties("DataScientist", None, 1, false, false, "aws");
    properties["Regions"] = json!(["eu-west-1", "us-east-1"]);
    let plan = plan::plan_properties(&properties, &samples::context()).unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(
        !text.contains(":sagemaker:*:"),
        "no all-region SageMaker ARN remains"
    );
    assert!(text.contains("arn:aws:sagemaker:eu-west-1:123456789012:"));
    assert_eq!(
        plan.role.assume_role_policy_document["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
        json!([
            "arn:aws:sagemaker:eu-west-1:123456789012:*",
            "arn:aws:sagemaker:us-east-1:123456789012:*"
        ])
    );
}

#[test]
fn every_pass_role_statement_names_the_roles_and_the_service() {
    let all: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.id).collect();
    let properties = samples::properties("Custom", Some(&all), 2, true, true, "aws");
    let plan = plan::plan_properties(&properties, &samples::context()).unwrap();
    let mut seen = 0;
    for policy in plan
        .inline_policies
        .iter()
        .map(|p| &p.policy_document)
        .chain(plan.managed_policies.iter().map(|p| &p.policy_document))
    {
        for statement in policy["Statement"].as_array().unwrap() {
            if strings(&statement["Action"])
                .iter()
                .any(|a| a.starts_with("iam:PassRole"))
            {
                seen += 1;
                assert_eq!(
                    strings(&statement["Action"]),
                    ["iam:PassRole"],
                    "PassRole stands alone"
                );
                for resource in strings(&statement["Resource"]) {
                    assert!(
                        resource.starts_with("arn:aws:iam::123456789012:role/"),
                        "{resource}"
                    );
                }
                assert!(
                    statement["Condition"]["StringEquals"]["iam:PassedToService"].is_string(),
                    "{statement}"
                );
            }
        }
    }
    // One per service the roles are passed to: equal statements of several activities are
    // written once.
    assert!(seen >= 2, "PassRole statements found: {seen}");
}

#[test]
fn china_plans_use_the_china_dns_suffix_for_via_service() {
    let properties = samples::properties("SageMakerCompute", None, 1, true, true, "aws-cn");
    let plan =
        plan::plan_properties(&properties, &samples::context_in("aws-cn", "cn-north-1")).unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.contains(".amazonaws.com.cn"), "{text}");
}
