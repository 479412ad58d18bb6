//! Plan → native CloudFormation: `AWS::IAM::Role` and `AWS::IAM::ManagedPolicy` resources equal
//! to what the custom resource creates, so a stack can leave it without losing anything (retain
//! the custom resource, remove it, then import these resources). [`portable`] turns the ARNs that
//! name the stack's partition, account and region into `Fn::Sub` of the pseudo parameters, so one
//! exported template deploys in any account.

use serde_json::{Map, Value, json};

use crate::arn::Arn;

use crate::context::StackContext;
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

/// The template with every ARN that names the context's partition, account or region, and every
/// service endpoint (`kms:ViaService`), as `Fn::Sub` of `${AWS::Partition}`, `${AWS::AccountId}`,
/// `${AWS::Region}` and `${AWS::URLSuffix}`, and the account in `aws:ResourceAccount`
/// conditions as `${AWS::AccountId}`. Tags are left as they are: their values name the stack that
/// made the role, not a resource to reach.
pub fn portable(template: &Value, context: &StackContext) -> Value {
    match template {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = if key == "Tags" {
                        value.clone()
                    } else if key == "aws:ResourceAccount" {
                        portable_account(value, context)
                    } else {
                        portable(value, context)
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| portable(v, context)).collect()),
        Value::String(text) => match portable_string(text, context) {
            Some(sub) => json!({ "Fn::Sub": sub }),
            None => template.clone(),
        },
        other => other.clone(),
    }
}

/// An `aws:ResourceAccount` condition's values: the stack's account as `${AWS::AccountId}`, other
/// accounts (`S3BucketAccounts`) as they are.
fn portable_account(value: &Value, context: &StackContext) -> Value {
    match value {
        Value::String(account) if *account == context.account => {
            json!({ "Fn::Sub": "${AWS::AccountId}" })
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| portable_account(v, context)).collect())
        }
        other => other.clone(),
    }
}

/// The `Fn::Sub` form of an ARN or service endpoint that names the context, if it does.
fn portable_string(text: &str, context: &StackContext) -> Option<String> {
    if let Some(sub) = portable_arn(text, context) {
        return Some(sub);
    }
    portable_endpoint(text, context)
}

/// `arn:aws:s3:::b/*` → `arn:${AWS::Partition}:s3:::b/*`. Literal `${` (IAM policy variables
/// such as `${aws:username}`) is escaped as `${!`, which `Fn::Sub` writes back as `${`.
fn portable_arn(text: &str, context: &StackContext) -> Option<String> {
    let Arn {
        partition,
        service,
        region,
        account,
        resource,
    } = Arn::parse(text)?;
    let mut changed = false;
    let mut swap = |value: &str, known: &str, pseudo: &str| -> String {
        if value == known {
            changed = true;
            pseudo.to_owned()
        } else {
            escape(value)
        }
    };
    let partition = swap(partition, context.partition.name(), "${AWS::Partition}");
    let region = swap(region, &context.region, "${AWS::Region}");
    let account = swap(account, &context.account, "${AWS::AccountId}");
    changed.then(|| {
        format!(
            "arn:{partition}:{service}:{region}:{account}:{}",
            escape(resource)
        )
    })
}

/// `s3.us-east-1.amazonaws.com` → `s3.${AWS::Region}.${AWS::URLSuffix}`;
/// `sagemaker.*.amazonaws.com` → `sagemaker.*.${AWS::URLSuffix}`.
fn portable_endpoint(text: &str, context: &StackContext) -> Option<String> {
    let suffix = context.partition.dns_suffix();
    let rest = text.strip_suffix(suffix)?.strip_suffix('.')?;
    let (service, region) = rest.split_once('.')?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !plain(service) || !(region == "*" || plain(region)) {
        return None;
    }
    let region = if region == context.region {
        "${AWS::Region}"
    } else {
        region
    };
    Some(format!("{service}.{region}.${{AWS::URLSuffix}}"))
}

fn escape(text: &str) -> String {
    text.replace("${", "${!")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::context::Partition;

    fn context() -> StackContext {
        StackContext::new(Partition::Aws, "123456789012", "eu-west-1", "s", "R").unwrap()
    }

    #[test]
    fn arns_of_the_stack_become_pseudo_parameters() {
        let c = context();
        assert_eq!(
            portable_string(
                "arn:aws:sagemaker:eu-west-1:123456789012:training-job/*",
                &c
            )
            .unwrap(),
            "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:training-job/*"
        );
        assert_eq!(
            portable_string("arn:aws:s3:::data/*", &c).unwrap(),
            "arn:${AWS::Partition}:s3:::data/*"
        );
        assert_eq!(
            portable_string(
                "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess",
                &c
            )
            .unwrap(),
            "arn:${AWS::Partition}:iam::aws:policy/AmazonSageMakerCanvasFullAccess"
        );
        assert_eq!(
            portable_string("arn:aws:kms:us-east-1:444455556666:key/k", &c).unwrap(),
            "arn:${AWS::Partition}:kms:us-east-1:444455556666:key/k",
            "another account and region stay as written"
        );
    }

    #[test]
    fn policy_variables_are_escaped_and_other_strings_left_alone() {
        let c = context();
        assert_eq!(
            portable_string(
                "arn:aws:sagemaker:*:123456789012:user-profile/${sagemaker:DomainId}/*",
                &c
            )
            .unwrap(),
            "arn:${AWS::Partition}:sagemaker:*:${AWS::AccountId}:user-profile/${!sagemaker:DomainId}/*"
        );
        assert_eq!(portable_string("sagemaker:CreateTrainingJob", &c), None);
        assert_eq!(portable_string("*", &c), None);
        assert_eq!(portable_string("subnet-0a1b2c3d", &c), None);
        assert_eq!(portable_string("arn:aws-cn:s3:::x", &c), None);
    }

    #[test]
    fn service_endpoints_take_the_region_and_url_suffix() {
        let c = context();
        assert_eq!(
            portable_string("s3.eu-west-1.amazonaws.com", &c).unwrap(),
            "s3.${AWS::Region}.${AWS::URLSuffix}"
        );
        assert_eq!(
            portable_string("sagemaker.*.amazonaws.com", &c).unwrap(),
            "sagemaker.*.${AWS::URLSuffix}"
        );
        assert_eq!(portable_string("sagemaker.amazonaws.com", &c), None);
    }

    #[test]
    fn tags_keep_their_values() {
        let template =
            json!({"Tags": [{"Key": "k", "Value": "arn:aws:s3:::x"}], "R": "arn:aws:s3:::x"});
        let out = portable(&template, &context());
        assert_eq!(out["Tags"][0]["Value"], "arn:aws:s3:::x");
        assert_eq!(out["R"], json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::x"}));
    }
}
