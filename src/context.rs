//! Where a role is planned: the stack's partition, account and region, and the names that make a
//! role the stack's own. Known from the event's StackId, or given to the CLI.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::arn::{Arn, is_account_id};
#[cfg(feature = "cli")]
use crate::ownership::Owner;

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

    /// The region a role of the partition is planned in when nothing names one.
    pub fn default_region(self) -> &'static str {
        match self {
            Partition::Aws => "us-east-1",
            Partition::AwsCn => "cn-north-1",
            Partition::AwsUsGov => "us-gov-west-1",
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
    #[error("`{0}` is not a role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)")]
    RoleArn(String),
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

/// What the caller decides of the stack a role that IAM holds is planned in when no owner names
/// it; what it leaves open comes from the role's ARN.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, Copy)]
pub struct Unowned<'a> {
    /// Replaces the partition the role's ARN names (`--partition`).
    pub partition: Option<Partition>,
    /// Replaces the account the role's ARN names (`--account`).
    pub account: Option<&'a str>,
    /// The region; without one, the partition's [`Partition::default_region`].
    pub region: Option<&'a str>,
    pub stack_name: &'a str,
    pub logical_id: &'a str,
}

/// The stack a role as IAM holds it is planned in, so that what its resource would plan is
/// what it is compared with: its owner's (the stack its ownership tags name, when that is a
/// stack ARN), else one in the role's partition and account, as far as `unowned` leaves them
/// open. The partition is never guessed from a region: an ARN naming an unknown partition is
/// an error unless the partition is given.
#[cfg(feature = "cli")]
pub fn live_role_context(
    role_arn: &str,
    owner: Option<&Owner>,
    unowned: Unowned<'_>,
) -> Result<StackContext, ContextError> {
    if let Some(owner) = owner
        && let Ok(context) = StackContext::from_stack_id(&owner.stack_id, &owner.logical_id)
    {
        return Ok(context);
    }
    let arn = Arn::parse(role_arn);
    let not_a_role = || ContextError::RoleArn(role_arn.to_owned());
    let partition = match (unowned.partition, &arn) {
        (Some(partition), _) => partition,
        (None, Some(arn)) => arn.partition.parse()?,
        (None, None) => return Err(not_a_role()),
    };
    let account = match (unowned.account, &arn) {
        (Some(account), _) => account,
        (None, Some(arn)) => arn.account,
        (None, None) => return Err(not_a_role()),
    };
    StackContext::new(
        partition,
        account,
        unowned.region.unwrap_or(partition.default_region()),
        unowned.stack_name,
        unowned.logical_id,
    )
}

/// The account planned when none is known: no flag, no StackId, no ARN in the properties that
/// names one. Twelve zeros, which no AWS account has, so nobody mistakes it for theirs.
#[cfg(feature = "cli")]
pub const PLACEHOLDER_ACCOUNT: &str = "000000000000";

/// Where the account of an offline plan came from; the CLI says so wherever it matters.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSource {
    /// `--account`, or the event's StackId.
    Given,
    /// An ARN of the properties that must name the stack's account (`PassRoles[0]`, ...).
    Named { property: String },
    /// [`PLACEHOLDER_ACCOUNT`].
    Placeholder,
}

#[cfg(feature = "cli")]
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
#[cfg(feature = "cli")]
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
    #[cfg(feature = "cli")]
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
    #[cfg(feature = "cli")]
    fn a_live_role_is_planned_in_its_owners_stack_else_its_arns_partition_and_account() {
        use ContextError as E;
        use Partition::{Aws, AwsCn, AwsUsGov};
        let owned = Owner::new(
            "arn:aws-cn:cloudformation:cn-northwest-1:111122223333:stack/ml/0f2a",
            "Scientist",
        );
        let malformed = Owner::new("not-a-stack", "Scientist");
        let none = Unowned {
            partition: None,
            account: None,
            region: None,
            stack_name: "discovered",
            logical_id: "Role",
        };
        let role = "arn:aws:iam::123456789012:role/SageMaker-a";
        // Partition, account, region, stack name, logical id.
        type Want = Result<
            (
                Partition,
                &'static str,
                &'static str,
                &'static str,
                &'static str,
            ),
            ContextError,
        >;
        let rows: [(&str, &str, Option<&Owner>, Unowned, Want); 11] = [
            (
                "the owner's stack, whatever is given",
                role,
                Some(&owned),
                Unowned {
                    partition: Some(Aws),
                    account: Some("444455556666"),
                    region: Some("us-east-1"),
                    ..none
                },
                Ok((AwsCn, "111122223333", "cn-northwest-1", "ml", "Scientist")),
            ),
            (
                "an owner naming no stack: the role's ARN",
                role,
                Some(&malformed),
                none,
                Ok((Aws, "123456789012", "us-east-1", "discovered", "Role")),
            ),
            (
                "the ARN's partition and account, the partition's default region",
                "arn:aws-cn:iam::123456789012:role/SageMaker-a",
                None,
                none,
                Ok((AwsCn, "123456789012", "cn-north-1", "discovered", "Role")),
            ),
            (
                "a region given",
                "arn:aws-us-gov:iam::123456789012:role/SageMaker-a",
                None,
                Unowned {
                    region: Some("us-gov-east-1"),
                    ..none
                },
                Ok((
                    AwsUsGov,
                    "123456789012",
                    "us-gov-east-1",
                    "discovered",
                    "Role",
                )),
            ),
            (
                "partition and account given replace the ARN's",
                role,
                None,
                Unowned {
                    partition: Some(AwsCn),
                    account: Some("444455556666"),
                    region: Some("cn-northwest-1"),
                    ..none
                },
                Ok((
                    AwsCn,
                    "444455556666",
                    "cn-northwest-1",
                    "discovered",
                    "Role",
                )),
            ),
            (
                "a region outside the ARN's partition",
                "arn:aws-cn:iam::123456789012:role/SageMaker-a",
                None,
                Unowned {
                    region: Some("us-east-1"),
                    ..none
                },
                Err(E::RegionPartition {
                    region: "us-east-1".to_owned(),
                    partition: AwsCn,
                }),
            ),
            (
                "an unknown partition is not guessed from the region",
                "arn:aws-iso:iam::123456789012:role/SageMaker-a",
                None,
                Unowned {
                    region: Some("us-east-1"),
                    ..none
                },
                Err(E::Partition("aws-iso".to_owned())),
            ),
            (
                "an unknown partition, the partition given",
                "arn:aws-iso:iam::123456789012:role/SageMaker-a",
                None,
                Unowned {
                    partition: Some(Aws),
                    ..none
                },
                Ok((Aws, "123456789012", "us-east-1", "discovered", "Role")),
            ),
            (
                "no ARN and nothing given",
                "SageMaker-a",
                None,
                none,
                Err(E::RoleArn("SageMaker-a".to_owned())),
            ),
            (
                "no ARN, the account missing",
                "SageMaker-a",
                None,
                Unowned {
                    partition: Some(Aws),
                    ..none
                },
                Err(E::RoleArn("SageMaker-a".to_owned())),
            ),
            (
                "no ARN, partition and account given",
                "SageMaker-a",
                None,
                Unowned {
                    partition: Some(Aws),
                    account: Some("444455556666"),
                    ..none
                },
                Ok((Aws, "444455556666", "us-east-1", "discovered", "Role")),
            ),
        ];
        for (case, arn, owner, unowned, want) in rows {
            let got = live_role_context(arn, owner, unowned)
                .map(|c| (c.partition, c.account, c.region, c.stack_name, c.logical_id));
            let want = want.map(|(partition, account, region, stack, logical)| {
                (
                    partition,
                    account.to_owned(),
                    region.to_owned(),
                    stack.to_owned(),
                    logical.to_owned(),
                )
            });
            assert_eq!(got, want, "{case}");
        }
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
