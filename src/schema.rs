//! The JSON Schema of the resource's properties (schema/properties.schema.json), generated from
//! the same definitions the validator uses. It checks shape — names, types, ARN forms, lengths;
//! the planner's validation adds what a schema cannot say (activity names, pairs, quotas).

use serde_json::{Map, Value, json};

use crate::catalog::{self, Param};
use crate::properties::{
    MAX_DESCRIPTION, MAX_MANAGED_POLICY_QUOTA, MAX_ROLE_NAME, MAX_TAGS, OWNERSHIP_TAGS,
    ROLE_NAME_PREFIX,
};

pub const SCHEMA_ID: &str = "https://persona-role.invalid/schema/properties.schema.json";

const PARTITION: &str = "aws(-cn|-us-gov)?";
const REGION: &str = "[a-z]{2}(-[a-z]+)+-[0-9]+";
const ACCOUNT: &str = "[0-9]{12}";

/// A list: an array of strings, or a comma-separated string (Service Catalog parameters).
fn list_of(item: Value) -> Value {
    // `items` applies to arrays only, so errors point at the offending element.
    json!({"type": ["array", "string"], "items": item})
}

fn pattern(regex: &str) -> Value {
    json!({"type": "string", "pattern": regex})
}

fn param_item(param: Param) -> Value {
    match param {
        Param::PassRoles => pattern(&format!(
            r"^arn:{PARTITION}:iam::{ACCOUNT}:role/[A-Za-z0-9+=,.@_*/-]+$"
        )),
        Param::S3Buckets => json!({
            "type": "string", "minLength": 1, "maxLength": 63,
            "pattern": r"^[a-z0-9*][a-z0-9.*-]*[a-z0-9*]$|^\*$"
        }),
        Param::EcrRepositories => pattern(&format!(
            r"^arn:{PARTITION}:ecr:({REGION}|\*):{ACCOUNT}:repository/[A-Za-z0-9._/*-]+$"
        )),
        Param::AthenaWorkgroups => json!({
            "type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9._-]+$"
        }),
        Param::GlueDatabases => json!({
            "type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[A-Za-z0-9._-]+$"
        }),
        Param::VpcSubnets => pattern(r"^subnet-[0-9a-f]{8,17}$"),
        Param::VpcSecurityGroups => pattern(r"^sg-[0-9a-f]{8,17}$"),
        Param::DataKmsKeys | Param::VolumeKmsKeys => pattern(&format!(
            r"^arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/[A-Za-z0-9-]+$"
        )),
        Param::KendraIndexes => pattern(r"^[A-Za-z0-9-]{36}$"),
        Param::MlflowTrackingServers => pattern(&format!(
            r"^arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/[A-Za-z0-9*-]+$"
        )),
    }
}

fn param_property(param: Param) -> Value {
    let mut schema = list_of(param_item(param));
    if let Some(map) = schema.as_object_mut() {
        map.insert(
            "description".to_owned(),
            json!(format!(
                "{}; a list or a comma-separated string",
                param.expected()
            )),
        );
    }
    schema
}

fn activity_names() -> Vec<&'static str> {
    catalog::ACTIVITIES.iter().map(|a| a.name).collect()
}

/// The schema, as a JSON value.
pub fn properties_schema() -> Value {
    let policy_arn = format!(r"^arn:{PARTITION}:iam::(aws|{ACCOUNT}):policy/[A-Za-z0-9+=,.@_/-]+$");
    let activity = json!({
        "type": "string",
        "description": "an activity name; case, spaces, - and _ are ignored",
        "examples": activity_names(),
    });
    let mut properties = Map::new();
    properties.insert(
        "Persona".to_owned(),
        json!({
            "type": "string",
            "description": "DataScientist, MLOps, SageMakerCompute or Custom; case, spaces, - and _ are ignored",
            "examples": catalog::PERSONAS.iter().map(|p| p.id).collect::<Vec<_>>(),
        }),
    );
    properties.insert(
        "RoleNameSuffix".to_owned(),
        json!({
            "type": "string",
            "maxLength": MAX_ROLE_NAME - ROLE_NAME_PREFIX.len(),
            "pattern": r"^[A-Za-z0-9+=,.@_-]*$",
            "description": "the role is named sagemaker-<suffix>",
        }),
    );
    properties.insert(
        "Description".to_owned(),
        json!({"type": "string", "maxLength": MAX_DESCRIPTION}),
    );
    properties.insert(
        "Path".to_owned(),
        json!({
            "type": "string",
            "maxLength": 512,
            "pattern": r"^/([A-Za-z0-9.,+@=_-]+/)*$",
            "not": {"pattern": ROLE_NAME_PREFIX},
        }),
    );
    properties.insert(
        "MaxSessionDuration".to_owned(),
        json!({
            "oneOf": [
                {"type": "integer", "minimum": 3600, "maximum": 43200},
                {"type": "string", "pattern": r"^([0-9]+)?$"}
            ],
            "description": "seconds, 3600 to 43200",
        }),
    );
    properties.insert("PermissionsBoundary".to_owned(), pattern(&policy_arn));
    properties.insert(
        "ManagedPolicyArns".to_owned(),
        list_of(pattern(&policy_arn)),
    );
    properties.insert(
        "Tags".to_owned(),
        json!({
            "type": "array",
            "maxItems": MAX_TAGS - OWNERSHIP_TAGS,
            "items": {
                "type": "object",
                "required": ["Key"],
                "additionalProperties": false,
                "properties": {
                    "Key": {"type": "string", "minLength": 1, "maxLength": 128,
                            "not": {"pattern": "^(aws:|persona-role:)"}},
                    "Value": {"type": "string", "maxLength": 256}
                }
            }
        }),
    );
    for name in ["Activities", "AddActivities", "RemoveActivities"] {
        properties.insert(name.to_owned(), list_of(activity.clone()));
    }
    properties.insert(
        "Regions".to_owned(),
        list_of(pattern(&format!("^{REGION}$"))),
    );
    properties.insert(
        "MaxManagedPolicies".to_owned(),
        json!({
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_MANAGED_POLICY_QUOTA},
                {"type": "string", "pattern": r"^([0-9]+)?$"}
            ]
        }),
    );
    let mut params = Map::new();
    for param in Param::ALL {
        properties.insert(param.name().to_owned(), param_property(param));
        params.insert(param.name().to_owned(), param_property(param));
    }
    properties.insert(
        "ActivityParameters".to_owned(),
        json!({
            "type": "object",
            "description": "per-activity parameter overrides, keyed by activity name",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": false,
                "properties": Value::Object(params),
            }
        }),
    );
    properties.insert("ServiceToken".to_owned(), json!({"type": "string"}));
    properties.insert(
        "ServiceTimeout".to_owned(),
        json!({"type": ["string", "integer"]}),
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Custom::SageMakerPersonaRole properties",
        "type": "object",
        "required": ["Persona"],
        "additionalProperties": false,
        "properties": Value::Object(properties),
    })
}

/// The schema as committed in schema/properties.schema.json.
pub fn properties_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&properties_schema()).unwrap_or_default();
    text.push('\n');
    text
}
