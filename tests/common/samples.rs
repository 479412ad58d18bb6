//! Sample property values for plan tests: `n` realistic values of every parameter.

use persona_role::catalog::Param;
use persona_role::context::StackContext;
use serde_json::{Map, Value, json};

use super::STACK_ID;

pub fn context() -> StackContext {
    StackContext::from_stack_id(STACK_ID, "PersonaRole").unwrap()
}

pub fn context_in(partition: &str, region: &str) -> StackContext {
    StackContext::from_stack_id(
        &format!("arn:{partition}:cloudformation:{region}:123456789012:stack/ml-personas/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f"),
        "PersonaRole",
    )
    .unwrap()
}

/// `n` values of a parameter, valid in `partition`.
pub fn values(param: Param, n: usize, partition: &str) -> Vec<String> {
    let region = match partition {
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        _ => "us-east-1",
    };
    (0..n)
        .map(|i| match param {
            Param::PassRoles => {
                format!("arn:{partition}:iam::123456789012:role/service-role/sagemaker-compute-{i:02}")
            }
            Param::S3Buckets => format!("ml-team-{i:02}-datasets"),
            Param::S3BucketAccounts => format!("2222333344{i:02}"),
            Param::EcrRepositories => {
                format!("arn:{partition}:ecr:{region}:123456789012:repository/ml/training-{i:02}")
            }
            Param::AthenaWorkgroups => format!("analytics-{i:02}"),
            Param::GlueDatabases => format!("feature_store_{i:02}"),
            Param::VpcSubnets => format!("subnet-0a1b2c3d4e5f607{i:02}"),
            Param::VpcSecurityGroups => format!("sg-0a1b2c3d4e5f607{i:02}"),
            Param::DataKmsKeys => {
                format!("arn:{partition}:kms:{region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890{i:02}")
            }
            Param::VolumeKmsKeys => {
                format!("arn:{partition}:kms:{region}:123456789012:key/9876fedc-12ab-34cd-56ef-1234567890{i:02}")
            }
            Param::KendraIndexes => format!("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8{i:02}"),
            Param::MlflowTrackingServers => {
                format!("arn:{partition}:sagemaker:{region}:123456789012:mlflow-tracking-server/team-{i:02}")
            }
        })
        .collect()
}

/// Properties with `n` values of every non-VPC, non-KMS parameter, plus VPC and KMS when asked.
pub fn properties(
    persona: &str,
    activities: Option<&[&str]>,
    n: usize,
    vpc: bool,
    kms: bool,
    partition: &str,
) -> Value {
    let mut map = Map::new();
    map.insert("Persona".to_owned(), json!(persona));
    if let Some(activities) = activities {
        map.insert("Activities".to_owned(), json!(activities));
    }
    for param in Param::ALL {
        let wanted = match param {
            Param::VpcSubnets | Param::VpcSecurityGroups => vpc,
            Param::DataKmsKeys | Param::VolumeKmsKeys => kms,
            _ => true,
        };
        if wanted {
            map.insert(param.name().to_owned(), json!(values(param, n, partition)));
        }
    }
    Value::Object(map)
}

/// Every activity without an AWS managed policy (the IAM stand-in holds none of AWS's), `n`
/// values of every parameter, VPC and KMS; at 20 values, the most own managed policies a role
/// can have.
pub fn heaviest(suffix: &str, n: usize) -> Value {
    let activities: Vec<&str> = persona_role::catalog::ACTIVITIES
        .iter()
        .filter(|a| a.aws_managed_policies.is_empty())
        .map(|a| a.id)
        .collect();
    let mut properties = properties("Custom", Some(&activities), n, true, true, "aws");
    properties["RoleNameSuffix"] = json!(suffix);
    properties["MaxManagedPolicies"] = json!("20");
    properties
}
