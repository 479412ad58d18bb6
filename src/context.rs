//! Where a role is planned: the stack's partition, account and region, and the names that make a
//! role the stack's own. Known from the event's StackId, or given to the CLI.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::arn::{Arn, is_account_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    pub fn name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    /// DNS suffix of service endpoints, as `kms:ViaService` sees them.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
        }
    }

    /// The partition a region belongs to.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Partition {
    type Err = ContextError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "aws" => Ok(Partition::Aws),
            "aws-cn" => Ok(Partition::AwsCn),
            "aws-us-gov" => Ok(Partition::AwsUsGov),
            other => Err(ContextError::Partition(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContextError {
    #[error("unknown partition `{0}`; expected aws, aws-cn or aws-us-gov")]
    Partition(String),
    #[error("`{0}` is not a 12-digit AWS account id")]
    Account(String),
    #[error("`{0}` is not an AWS region name like us-east-1")]
    Region(String),
    #[error(
        "`{0}` is not a CloudFormation stack ARN (arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/ID)"
    )]
    StackId(String),
    #[error("region `{region}` is not in partition `{partition}`")]
    RegionPartition {
        region: String,
        partition: Partition,
    },
}

/// The stack a role belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackContext {
    pub partition: Partition,
    pub account: String,
    pub region: String,
    /// The full stack ARN; absent when the CLI plans without a stack.
    pub stack_id: Option<String>,
    pub stack_name: String,
    pub logical_id: String,
}

impl StackContext {
    /// Context from a CloudFormation StackId ARN.
    pub fn from_stack_id(stack_id: &str, logical_id: &str) -> Result<Self, ContextError> {
        let bad = || ContextError::StackId(stack_id.to_owned());
        let Some(Arn {
            partition,
            service: "cloudformation",
            region,
            account,
            resource,
        }) = Arn::parse(stack_id)
        else {
            return Err(bad());
        };
        let mut resource_parts = resource.split('/');
        let (Some("stack"), Some(stack_name)) = (resource_parts.next(), resource_parts.next())
        else {
            return Err(bad());
        };
        if stack_name.is_empty() {
            return Err(bad());
        }
        let partition: Partition = partition.parse().map_err(|_| bad())?;
        let mut context = StackContext::new(partition, account, region, stack_name, logical_id)?;
        context.stack_id = Some(stack_id.to_owned());
        Ok(context)
    }

    /// Context without a stack ARN (the offline CLI).
    pub fn new(
        partition: Partition,
        account: &str,
        region: &str,
        stack_name: &str,
        logical_id: &str,
    ) -> Result<Self, ContextError> {
        if !is_account_id(account) {
            return Err(ContextError::Account(account.to_owned()));
        }
        if !is_region_name(region) {
            return Err(ContextError::Region(region.to_owned()));
        }
        if Partition::of_region(region) != partition {
            return Err(ContextError::RegionPartition {
                region: region.to_owned(),
                partition,
            });
        }
        Ok(StackContext {
            partition,
            account: account.to_owned(),
            region: region.to_owned(),
            stack_id: None,
            stack_name: stack_name.to_owned(),
            logical_id: logical_id.to_owned(),
        })
    }
}

/// The account planned when none is known: no flag, no StackId, no ARN in the properties that
/// names one. Twelve zeros, which no AWS account has, so nobody mistakes it for theirs.
pub const PLACEHOLDER_ACCOUNT: &str = "000000000000";

/// Where the account of an offline plan came from; the CLI says so wherever it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSource {
    /// `--account`, or the event's StackId.
    Given,
    /// An ARN of the properties that must name the stack's account (`PassRoles[0]`, ...).
    Named { property: String },
    /// [`PLACEHOLDER_ACCOUNT`].
    Placeholder,
}

impl AccountSource {
    /// A note for the reader, when the account was not given.
    pub fn note(&self, account: &str) -> Option<String> {
        match self {
            AccountSource::Given => None,
            AccountSource::Named { property } => Some(format!(
                "no account given: planned for account {account}, which {property} names; give --account to choose another"
            )),
            AccountSource::Placeholder => Some(format!(
                "no account given: ARNs name the placeholder account {account}; give --account for real ARNs"
            )),
        }
    }
}

/// The account named by the first ARN of the properties that has to be in the stack's account:
/// a role to pass (`PassRoles`, also per activity), then the permissions boundary, then a
/// customer-managed policy to attach. Returns the account and the property that names it.
pub fn account_named_by(properties: &serde_json::Value) -> Option<(String, String)> {
    use serde_json::Value;
    fn values(value: Option<&Value>) -> Vec<String> {
        match value {
            Some(Value::String(s)) => s.split(',').map(|v| v.trim().to_owned()).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|v| v.trim().to_owned())
                .collect(),
            _ => Vec::new(),
        }
    }
    let account_of = |arn: &str, kind: &str| -> Option<String> {
        match Arn::parse(arn) {
            Some(
                a @ Arn {
                    service: "iam",
                    region: "",
                    ..
                },
            ) if a.has_account_id() && a.resource.starts_with(kind) => Some(a.account.to_owned()),
            _ => None,
        }
    };
    let mut candidates: Vec<(String, Vec<String>, &str)> = vec![(
        "PassRoles".to_owned(),
        values(properties.get("PassRoles")),
        "role/",
    )];
    if let Some(Value::Object(activities)) = properties.get("ActivityParameters") {
        for (activity, parameters) in activities {
            candidates.push((
                format!("ActivityParameters.{activity}.PassRoles"),
                values(parameters.get("PassRoles")),
                "role/",
            ));
        }
    }
    candidates.push((
        "PermissionsBoundary".to_owned(),
        values(properties.get("PermissionsBoundary")),
        "policy/",
    ));
    candidates.push((
        "ManagedPolicyArns".to_owned(),
        values(properties.get("ManagedPolicyArns")),
        "policy/",
    ));
    candidates.into_iter().find_map(|(property, arns, kind)| {
        arns.iter().enumerate().find_map(|(i, arn)| {
            let at = if property == "PermissionsBoundary" {
                property.clone()
            } else {
                format!("{property}[{i}]")
            };
            account_of(arn, kind).map(|account| (account, at))
        })
    })
}

/// `us-east-1`, `cn-north-1`, `us-gov-west-1`, `ap-southeast-5`: lower-case words and a number.
pub fn is_region_name(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stack_id_gives_partition_account_region_and_name() {
        let context = StackContext::from_stack_id(
            "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/ml-roles/0f2a-11ee",
            "DataScientist",
        )
        .unwrap();
        assert_eq!(context.partition, Partition::AwsCn);
        assert_eq!(context.account, "123456789012");
        assert_eq!(context.region, "cn-north-1");
        assert_eq!(context.stack_name, "ml-roles");
        assert_eq!(context.logical_id, "DataScientist");
    }

    #[test]
    fn malformed_stack_ids_are_rejected() {
        for bad in [
            "",
            "arn:aws:s3:::bucket",
            "arn:aws:cloudformation:us-east-1:12345:stack/x/y",
            "arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/y",
            "arn:aws:cloudformation:cn-north-1:123456789012:stack/x/y",
        ] {
            assert!(StackContext::from_stack_id(bad, "R").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_account_comes_from_roles_to_pass_then_boundary_then_policies() {
        use serde_json::json;
        let named = |value| account_named_by(&value);
        assert_eq!(
            named(
                json!({"PassRoles": "arn:aws:iam::111122223333:role/a, arn:aws:iam::444455556666:role/b"})
            ),
            Some(("111122223333".to_owned(), "PassRoles[0]".to_owned()))
        );
        assert_eq!(
            named(json!({
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSageMakerReadOnly", "arn:aws-cn:iam::444455556666:policy/p"],
                "ActivityParameters": {"Manage Models": {"PassRoles": ["arn:aws:iam::111122223333:role/m"]}}
            })),
            Some((
                "111122223333".to_owned(),
                "ActivityParameters.Manage Models.PassRoles[0]".to_owned()
            ))
        );
        assert_eq!(
            named(
                json!({"ManagedPolicyArns": ["arn:aws:iam::aws:policy/A", "arn:aws-cn:iam::444455556666:policy/p"]})
            ),
            Some(("444455556666".to_owned(), "ManagedPolicyArns[1]".to_owned()))
        );
        assert_eq!(
            named(json!({"Persona": "MLOps", "PassRoles": ["not-an-arn"]})),
            None
        );
        assert!(is_account_id(PLACEHOLDER_ACCOUNT));
    }

    #[test]
    fn region_names_follow_aws_shape() {
        assert!(is_region_name("us-east-1"));
        assert!(is_region_name("us-gov-west-1"));
        assert!(!is_region_name("us-east"));
        assert!(!is_region_name("US-EAST-1"));
        assert!(!is_region_name("*"));
    }
}
