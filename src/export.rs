//! Plan → native CloudFormation: `AWS::IAM::Role` and `AWS::IAM::ManagedPolicy` resources equal
//! to what the custom resource creates, so a stack can leave it without losing anything (retain
//! the custom resource, remove it, then import these resources).

use serde_json::{Map, Value, json};

use crate::ownership::{OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG};
use crate::plan::Plan;

/// Logical id of the exported role; managed policies are `<role logical id>Policy<n>`.
pub const ROLE_LOGICAL_ID: &str = "PersonaRole";

/// A template whose resources equal the plan's. Retain policies make the resources importable
/// (CloudFormation's resource import requires a DeletionPolicy) and keep them safe while moving.
pub fn cloudformation(plan: &Plan, role_logical_id: &str) -> Value {
    let mut resources = Map::new();
    let mut managed_refs: Vec<Value> = Vec::new();
    for (i, policy) in plan.managed_policies.iter().enumerate() {
        let logical_id = format!("{role_logical_id}Policy{}", i + 1);
        resources.insert(
            logical_id.clone(),
            json!({
                "Type": "AWS::IAM::ManagedPolicy",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "ManagedPolicyName": policy.policy_name,
                    "Path": policy.path,
                    "PolicyDocument": policy.policy_document,
                }
            }),
        );
        managed_refs.push(json!({"Ref": logical_id}));
    }
    let role = &plan.role;
    let mut properties = Map::new();
    properties.insert("RoleName".to_owned(), json!(role.role_name));
    properties.insert("Path".to_owned(), json!(role.path));
    properties.insert("Description".to_owned(), json!(role.description));
    properties.insert(
        "AssumeRolePolicyDocument".to_owned(),
        role.assume_role_policy_document.clone(),
    );
    properties.insert(
        "MaxSessionDuration".to_owned(),
        json!(role.max_session_duration),
    );
    if let Some(boundary) = &role.permissions_boundary {
        properties.insert("PermissionsBoundary".to_owned(), json!(boundary));
    }
    if !plan.inline_policies.is_empty() {
        let policies: Vec<Value> = plan
            .inline_policies
            .iter()
            .map(|p| json!({"PolicyName": p.policy_name, "PolicyDocument": p.policy_document}))
            .collect();
        properties.insert("Policies".to_owned(), Value::Array(policies));
    }
    let attached: Vec<Value> = managed_refs
        .into_iter()
        .chain(plan.attached_policy_arns.iter().map(|arn| json!(arn)))
        .collect();
    if !attached.is_empty() {
        properties.insert("ManagedPolicyArns".to_owned(), Value::Array(attached));
    }
    if !role.tags.is_empty() {
        // Plan tags serialize as CloudFormation's {Key, Value}.
        properties.insert("Tags".to_owned(), json!(role.tags));
    }
    resources.insert(
        role_logical_id.to_owned(),
        json!({
            "Type": "AWS::IAM::Role",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Value::Object(properties),
        }),
    );
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "{} as native IAM resources, exported by persona-role. The tags {OWNER_STACK_TAG} and {OWNER_LOGICAL_ID_TAG} are kept so the custom resource's ownership stays provable; remove them once the move is done.",
            role.role_name
        ),
        "Resources": Value::Object(resources),
        "Outputs": {
            "Arn": {"Value": {"Fn::GetAtt": [role_logical_id, "Arn"]}},
            "RoleName": {"Value": {"Ref": role_logical_id}},
            "RoleId": {"Value": {"Fn::GetAtt": [role_logical_id, "RoleId"]}},
        }
    })
}
