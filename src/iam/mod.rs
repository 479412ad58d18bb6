//! The IAM side: the actual state of a role as plain data, the difference between a [`Plan`] and
//! that state (pure, in [`diff`]), a thin adapter over aws-sdk-iam that reads, applies and
//! deletes (in [`client`]), and a read-only inventory of an account's roles (in [`inventory`]).
//!
//! [`Plan`]: crate::plan::Plan

pub mod client;
pub mod diff;
pub mod inventory;

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::percent_decode_str;
use serde_json::Value;
use thiserror::Error;

use crate::plan::{OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG, PlanTag};

pub use client::{CreateRoleError, Deletion, Iam};
pub use diff::diff;

/// Highest number a role's own managed policy can have (`<role>-<n>`): IAM's highest quota of
/// managed policies per role.
pub const MAX_OWN_POLICIES: usize = crate::properties::MAX_MANAGED_POLICY_QUOTA;
/// IAM keeps at most this many versions of a managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// The stack and logical id whose ownership tags a role or policy must carry to be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub stack_id: String,
    pub logical_id: String,
}

impl Owner {
    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(OWNER_STACK_TAG) == Some(&self.stack_id)
            && tags.get(OWNER_LOGICAL_ID_TAG) == Some(&self.logical_id)
    }
}

/// A role as IAM has it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleState {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub role_id: String,
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
    pub trust: Value,
    pub permissions_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl RoleState {
    /// `arn:PARTITION:iam::ACCOUNT:policy/PATH/ROLE-`: the ARN prefix of the role's own managed
    /// policies, which share its path.
    pub fn own_policy_prefix(&self) -> Option<String> {
        let (account_part, _) = self.arn.split_once(":role/")?;
        Some(format!("{account_part}:policy{}{}-", self.path, self.name))
    }
}

/// A customer-managed policy as IAM has it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyState {
    pub arn: String,
    pub default_version_id: String,
    /// The default version's document.
    pub document: Value,
    /// All version ids, the default one included.
    pub versions: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl PolicyState {
    /// Non-default versions, oldest first.
    pub fn old_versions(&self) -> Vec<String> {
        let mut old: Vec<String> = self
            .versions
            .iter()
            .filter(|v| **v != self.default_version_id)
            .cloned()
            .collect();
        old.sort_by_key(|v| version_number(v));
        old
    }
}

/// `v12` → 12; anything else sorts first.
fn version_number(version_id: &str) -> u64 {
    version_id
        .strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Everything about a role that a plan decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Actual {
    pub role: RoleState,
    pub inline_policies: BTreeMap<String, Value>,
    pub attached_policy_arns: BTreeSet<String>,
    /// This resource's own customer-managed policies (ownership tags checked), planned or stale.
    pub own_policies: BTreeMap<String, PolicyState>,
}

/// One IAM change. A change is one mutating call, except [`Change::DeletePolicy`], which deletes
/// the policy's old versions first.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Both values are always sent: IAM's UpdateRole leaves an omitted one unchanged, but moto
    /// resets it, and sending the declared value is right either way.
    UpdateRole {
        description: String,
        max_session_duration: u32,
    },
    UpdateAssumeRolePolicy {
        document: Value,
    },
    PutRolePermissionsBoundary {
        arn: String,
    },
    DeleteRolePermissionsBoundary,
    TagRole {
        tags: Vec<PlanTag>,
    },
    UntagRole {
        keys: Vec<String>,
    },
    CreatePolicy {
        name: String,
        path: String,
        arn: String,
        document: Value,
        tags: Vec<PlanTag>,
    },
    DeletePolicyVersion {
        arn: String,
        version_id: String,
    },
    /// A new default version.
    CreatePolicyVersion {
        arn: String,
        document: Value,
    },
    TagPolicy {
        arn: String,
        tags: Vec<PlanTag>,
    },
    UntagPolicy {
        arn: String,
        keys: Vec<String>,
    },
    DetachRolePolicy {
        arn: String,
    },
    DeleteRolePolicy {
        name: String,
    },
    PutRolePolicy {
        name: String,
        document: Value,
    },
    AttachRolePolicy {
        arn: String,
    },
    /// A stale own policy: its old versions, then itself.
    DeletePolicy {
        arn: String,
        old_versions: Vec<String>,
    },
}

impl Change {
    /// The IAM operation, as logged.
    pub fn operation(&self) -> &'static str {
        match self {
            Change::UpdateRole { .. } => "UpdateRole",
            Change::UpdateAssumeRolePolicy { .. } => "UpdateAssumeRolePolicy",
            Change::PutRolePermissionsBoundary { .. } => "PutRolePermissionsBoundary",
            Change::DeleteRolePermissionsBoundary => "DeleteRolePermissionsBoundary",
            Change::TagRole { .. } => "TagRole",
            Change::UntagRole { .. } => "UntagRole",
            Change::CreatePolicy { .. } => "CreatePolicy",
            Change::DeletePolicyVersion { .. } => "DeletePolicyVersion",
            Change::CreatePolicyVersion { .. } => "CreatePolicyVersion",
            Change::TagPolicy { .. } => "TagPolicy",
            Change::UntagPolicy { .. } => "UntagPolicy",
            Change::DetachRolePolicy { .. } => "DetachRolePolicy",
            Change::DeleteRolePolicy { .. } => "DeleteRolePolicy",
            Change::PutRolePolicy { .. } => "PutRolePolicy",
            Change::AttachRolePolicy { .. } => "AttachRolePolicy",
            Change::DeletePolicy { .. } => "DeletePolicy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IamError {
    #[error("IAM {operation} on `{target}` failed: {message}")]
    Call {
        operation: &'static str,
        target: String,
        /// IAM's error code when IAM answered (`NoSuchEntity`, `AccessDenied`, ...); none for
        /// network errors and timeouts, after which the call may or may not have taken effect.
        code: Option<String>,
        message: String,
    },
    #[error("IAM returned a policy document for `{target}` that is not JSON: {message}")]
    Document { target: String, message: String },
    #[error("IAM {operation} on `{target}` answered without {what}")]
    Incomplete {
        operation: &'static str,
        target: String,
        what: &'static str,
    },
    #[error(
        "managed policy `{arn}` already exists and is not managed by this resource (its ownership tags name another stack or logical id); delete or rename it, or choose another RoleNameSuffix"
    )]
    ForeignPolicy { arn: String },
    #[error(
        "managed policy `{arn}` is still attached to {entities}, which this resource does not manage; detach it there, then retry"
    )]
    PolicyInUse { arn: String, entities: String },
}

impl IamError {
    pub fn code(&self) -> Option<&str> {
        match self {
            IamError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// IAM answered: the call certainly had no effect.
    pub fn is_definite(&self) -> bool {
        !matches!(self, IamError::Call { code: None, .. })
    }
}

/// Parses a policy document as IAM returns it: percent-encoded JSON (moto sometimes returns it
/// plain; an encoded document never parses as JSON, so plain JSON is tried first).
pub fn decode_document(raw: &str) -> Result<Value, String> {
    if let Ok(value) = serde_json::from_str(raw) {
        return Ok(value);
    }
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|e| format!("not UTF-8 after percent-decoding: {e}"))?;
    serde_json::from_str(&decoded).map_err(|e| e.to_string())
}

/// Tags as a map, for comparisons.
pub fn tag_map(tags: &[PlanTag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_decode_from_percent_encoding_or_plain_json() {
        let value = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a b%"}]});
        let plain = value.to_string();
        let encoded: String =
            percent_encoding::utf8_percent_encode(&plain, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(decode_document(&plain).unwrap(), value);
        assert_eq!(decode_document(&encoded).unwrap(), value);
        assert!(decode_document("%7Bnope").is_err());
    }

    #[test]
    fn ownership_needs_both_tags() {
        let owner = Owner {
            stack_id: "s".to_owned(),
            logical_id: "L".to_owned(),
        };
        let mut tags = BTreeMap::new();
        tags.insert(OWNER_STACK_TAG.to_owned(), "s".to_owned());
        assert!(!owner.owns(&tags));
        tags.insert(OWNER_LOGICAL_ID_TAG.to_owned(), "Other".to_owned());
        assert!(!owner.owns(&tags));
        tags.insert(OWNER_LOGICAL_ID_TAG.to_owned(), "L".to_owned());
        assert!(owner.owns(&tags));
    }

    #[test]
    fn own_policy_prefix_shares_the_role_path() {
        let role = RoleState {
            name: "sagemaker-x".to_owned(),
            path: "/ml/".to_owned(),
            arn: "arn:aws-cn:iam::123456789012:role/ml/sagemaker-x".to_owned(),
            role_id: "AROA".to_owned(),
            description: None,
            max_session_duration: None,
            trust: json!({}),
            permissions_boundary: None,
            tags: BTreeMap::new(),
        };
        assert_eq!(
            role.own_policy_prefix().unwrap(),
            "arn:aws-cn:iam::123456789012:policy/ml/sagemaker-x-"
        );
    }

    #[test]
    fn old_versions_sort_by_number() {
        let policy = PolicyState {
            arn: "a".to_owned(),
            default_version_id: "v3".to_owned(),
            document: json!({}),
            versions: ["v10", "v3", "v2", "v9"].map(str::to_owned).to_vec(),
            tags: BTreeMap::new(),
        };
        assert_eq!(policy.old_versions(), ["v2", "v9", "v10"]);
    }
}
