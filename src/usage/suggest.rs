//! The declaration change that would allow a refused call: a parameter value of an activity the
//! role has (`S3Buckets: other-bucket`), else an activity it lacks (`AddActivities: Manage
//! Endpoints`, with the values it needs). Each candidate is planned and the call decided again on
//! the new plan, so a suggestion is never a guess about the catalog.

use serde_json::Value;

use super::Authorization;
use super::attribution::{attribute, plan_statements};
use crate::arn::Arn;
use crate::catalog::{self, Param, Status};
use crate::context::StackContext;
use crate::plan;

/// A change of the declaration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Add activities (by console name).
    AddActivity(String),
    /// Add a value to a top-level parameter.
    AddValue { param: Param, value: String },
    /// Remove an activity no call used.
    RemoveActivity(String),
}

impl Change {
    /// The property and value, as the report and the proposal show them.
    pub fn property(&self) -> &'static str {
        match self {
            Change::AddActivity(_) => "AddActivities",
            Change::AddValue { param, .. } => param.name(),
            Change::RemoveActivity(_) => "RemoveActivities",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Change::AddActivity(name) | Change::RemoveActivity(name) => name,
            Change::AddValue { value, .. } => value,
        }
    }
}

/// Values of parameters a request names: its bucket, role, repository, key, workgroup, …, and
/// the subnets, security groups and keys of its context.
pub fn values_named(request: &Authorization) -> Vec<(Param, String)> {
    let mut out = Vec::new();
    if let Some(arn) = &request.resource
        && let Some(Arn {
            service,
            resource: path,
            ..
        }) = Arn::parse(arn)
    {
        let (kind, name) = path.split_once(['/', ':']).unwrap_or((path, ""));
        let first = name.split('/').next().unwrap_or_default();
        match (service, kind) {
            ("s3", _) if !path.is_empty() && path != "*" => {
                let bucket = path.split('/').next().unwrap_or_default();
                out.push((Param::S3Buckets, bucket.to_owned()));
            }
            ("iam", "role") if request.action.eq_ignore_ascii_case("iam:PassRole") => {
                out.push((Param::PassRoles, arn.clone()));
            }
            ("ecr", "repository") => out.push((Param::EcrRepositories, arn.clone())),
            ("athena", "workgroup") => out.push((Param::AthenaWorkgroups, first.to_owned())),
            ("glue", "database" | "table") => {
                out.push((Param::GlueDatabases, first.to_owned()));
            }
            ("kendra", "index") => out.push((Param::KendraIndexes, first.to_owned())),
            ("sagemaker", "mlflow-tracking-server") => {
                out.push((Param::MlflowTrackingServers, arn.clone()));
            }
            ("kms", "key") => {
                out.push((Param::DataKmsKeys, arn.clone()));
                out.push((Param::VolumeKmsKeys, arn.clone()));
            }
            _ => {}
        }
    }
    for (key, param) in [
        ("sagemaker:VpcSubnets", Param::VpcSubnets),
        ("sagemaker:VpcSecurityGroupIds", Param::VpcSecurityGroups),
        ("sagemaker:VolumeKmsKeyArn", Param::VolumeKmsKeys),
        ("sagemaker:OutputKmsKeyArn", Param::DataKmsKeys),
    ] {
        for value in request.context.values(key).unwrap_or_default() {
            out.push((param, value.clone()));
        }
    }
    out.dedup();
    out
}

/// Whether the request is allowed by the plan of `properties`.
fn allows(properties: &Value, context: &StackContext, request: &Authorization) -> bool {
    plan::plan_properties(properties, context)
        .map(|plan| attribute(&plan_statements(&plan), request).is_some())
        .unwrap_or(false)
}

/// The changes that allow `request`, smallest first: values of parameters of the declaration's
/// activities, then an activity it lacks (one that takes a value the request names before one
/// that grants more widely, current activities before legacy ones). None: no activity of the
/// catalog allows it.
pub fn suggest(
    properties: &Value,
    context: &StackContext,
    request: &Authorization,
) -> Option<Vec<Change>> {
    let named = values_named(request);
    let fresh: Vec<(Param, String)> = named
        .iter()
        .filter(|(param, value)| !list(properties, param.name()).contains(value))
        .cloned()
        .collect();
    // One value at a time, then all of them (subnets and security groups go together).
    let mut tries: Vec<Vec<(Param, String)>> = fresh.iter().map(|v| vec![v.clone()]).collect();
    if fresh.len() > 1 {
        tries.push(fresh.clone());
    }
    for values in &tries {
        let mut candidate = properties.clone();
        for (param, value) in values {
            add_to_list(&mut candidate, param.name(), value);
        }
        if allows(&candidate, context, request) {
            return Some(
                values
                    .iter()
                    .map(|(param, value)| Change::AddValue {
                        param: *param,
                        value: value.clone(),
                    })
                    .collect(),
            );
        }
    }
    let present: Vec<String> = plan::plan_properties(properties, context)
        .map(|p| p.activities)
        .unwrap_or_default();
    let mut order: Vec<&catalog::Activity> = catalog::ACTIVITIES
        .iter()
        .copied()
        .filter(|a| !present.iter().any(|p| p == a.name))
        .collect();
    // Narrow before wide: an activity scoped by a value the request names first.
    order.sort_by_key(|a| {
        (
            a.status == Status::Legacy,
            !named.iter().any(|(param, _)| a.accepts(*param)),
        )
    });
    for activity in order {
        if !activity
            .actions()
            .iter()
            .any(|action| super::attribution::glob(action, &request.action, true))
        {
            continue;
        }
        let mut candidate = properties.clone();
        add_activity(&mut candidate, activity.name);
        if allows(&candidate, context, request) {
            return Some(vec![Change::AddActivity(activity.name.to_owned())]);
        }
        let mut changes = vec![Change::AddActivity(activity.name.to_owned())];
        for (param, value) in &fresh {
            if activity.accepts(*param) {
                add_to_list(&mut candidate, param.name(), value);
                changes.push(Change::AddValue {
                    param: *param,
                    value: value.clone(),
                });
            }
        }
        if changes.len() > 1 && allows(&candidate, context, request) {
            return Some(changes);
        }
    }
    None
}

/// A list property's values (a YAML/JSON list or a comma-separated string).
pub fn list(properties: &Value, key: &str) -> Vec<String> {
    match properties.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn set_list(properties: &mut Value, key: &str, values: Vec<String>) {
    if let Some(map) = properties.as_object_mut() {
        if values.is_empty() {
            map.remove(key);
        } else {
            map.insert(
                key.to_owned(),
                Value::Array(values.into_iter().map(Value::String).collect()),
            );
        }
    }
}

pub fn add_to_list(properties: &mut Value, key: &str, value: &str) {
    let mut values = list(properties, key);
    if !values.iter().any(|v| v == value) {
        values.push(value.to_owned());
    }
    set_list(properties, key, values);
}

fn remove_activity_from(properties: &mut Value, key: &str, name: &str) -> bool {
    let values = list(properties, key);
    let kept: Vec<String> = values
        .iter()
        .filter(|v| catalog::find_activity(v) != catalog::find_activity(name))
        .cloned()
        .collect();
    let changed = kept.len() != values.len();
    if changed {
        set_list(properties, key, kept);
    }
    changed
}

/// Adds an activity: to `Activities` when the declaration lists them exactly, else by taking it
/// out of `RemoveActivities`, else to `AddActivities`.
pub fn add_activity(properties: &mut Value, name: &str) {
    if properties.get("Activities").is_some() {
        add_to_list(properties, "Activities", name);
    } else if !remove_activity_from(properties, "RemoveActivities", name) {
        add_to_list(properties, "AddActivities", name);
    }
}

/// Removes an activity: from `Activities`, else from `AddActivities`, else by naming it in
/// `RemoveActivities` (a default of the persona).
pub fn remove_activity(properties: &mut Value, name: &str) {
    if properties.get("Activities").is_some() {
        remove_activity_from(properties, "Activities", name);
    } else if !remove_activity_from(properties, "AddActivities", name) {
        add_to_list(properties, "RemoveActivities", name);
    }
}

/// Applies changes to a declaration's properties.
pub fn apply(properties: &Value, changes: &[Change]) -> Value {
    let mut out = properties.clone();
    for change in changes {
        match change {
            Change::AddActivity(name) => add_activity(&mut out, name),
            Change::RemoveActivity(name) => remove_activity(&mut out, name),
            Change::AddValue { param, value } => add_to_list(&mut out, param.name(), value),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Context;
    use serde_json::json;

    fn context() -> StackContext {
        StackContext::new(
            crate::context::Partition::Aws,
            "123456789012",
            "us-east-1",
            "s",
            "R",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn request(action: &str, resource: &str) -> Authorization {
        Authorization {
            action: action.to_owned(),
            resource: Some(resource.to_owned()),
            context: Context::default(),
        }
    }

    fn scientist() -> Value {
        json!({
            "Persona": "DataScientist",
            "RoleNameSuffix": "ds",
            "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
            "S3Buckets": ["ml-team-data"]
        })
    }

    #[test]
    fn another_bucket_is_a_value_of_s3_buckets() {
        let got = suggest(
            &scientist(),
            &context(),
            &request("s3:GetObject", "arn:aws:s3:::other-bucket/x.csv"),
        );
        assert_eq!(
            got,
            Some(vec![Change::AddValue {
                param: Param::S3Buckets,
                value: "other-bucket".to_owned()
            }])
        );
    }

    #[test]
    fn an_endpoint_is_the_manage_endpoints_activity() {
        let got = suggest(
            &scientist(),
            &context(),
            &request(
                "sagemaker:CreateEndpoint",
                "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn",
            ),
        );
        assert_eq!(
            got,
            Some(vec![Change::AddActivity("Manage Endpoints".to_owned())])
        );
    }

    #[test]
    fn what_no_activity_grants_has_no_suggestion() {
        let got = suggest(
            &scientist(),
            &context(),
            &request("iam:CreateRole", "arn:aws:iam::123456789012:role/x"),
        );
        assert_eq!(got, None);
    }

    #[test]
    fn activities_are_added_and_removed_where_the_declaration_lists_them() {
        let mut exact = json!({"Persona": "Custom", "Activities": "Manage ML Jobs, Manage Models"});
        add_activity(&mut exact, "Manage Endpoints");
        remove_activity(&mut exact, "manage-models");
        assert_eq!(
            exact["Activities"],
            json!(["Manage ML Jobs", "Manage Endpoints"])
        );
        let mut defaults =
            json!({"Persona": "DataScientist", "RemoveActivities": ["Manage Experiments"]});
        add_activity(&mut defaults, "Manage Experiments");
        assert_eq!(defaults.get("RemoveActivities"), None);
        remove_activity(&mut defaults, "Manage Models");
        assert_eq!(defaults["RemoveActivities"], json!(["Manage Models"]));
    }
}
