//! The IAM side: the actual state of a role as plain data; the changes that take it to a plan,
//! tear it down or undo a half-done creation (pure, in [`diff`]); the executor that makes a
//! batch of named reads and applies changes as given over any [`Iam`], deciding nothing (in
//! [`state`]); the thin adapter over aws-sdk-iam that implements [`Iam`] (in [`client`]),
//! calling only the operations of the registry ([`crate::aws::operations`]); a read-only
//! inventory of an account's roles (in [`inventory`]); and, for tests only, one IAM account in
//! memory that implements [`Iam`] as IAM answers (in `memory`).
//!
//! [`Plan`]: crate::plan::Plan

pub mod client;
pub mod diff;
pub mod inventory;
#[cfg(any(test, feature = "memory-iam"))]
pub mod memory;
pub mod state;
pub mod waves;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use percent_encoding::percent_decode_str;
use serde_json::Value;
use thiserror::Error;

use crate::aws::Op;
use crate::ownership::policy_not_ours;
use crate::plan::{PlanTag, RolePlan};

pub use client::SdkIam;
pub use diff::diff;

/// Highest number a role's own managed policy can have (`<role>-<n>`): IAM's highest quota of
/// managed policies per role.
pub const MAX_OWN_POLICIES: usize = crate::properties::MAX_MANAGED_POLICY_QUOTA;
/// IAM's error code for an entity that does not exist (or is not visible yet).
pub const NO_SUCH_ENTITY: &str = "NoSuchEntity";
/// IAM's error code for a create whose name is taken.
pub const ALREADY_EXISTS: &str = "EntityAlreadyExists";
/// IAM keeps at most this many versions of a managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

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
    /// A role of the sample account with no tags, no boundary and an empty trust: the tests'
    /// starting point, each setting what it is about.
    #[cfg(test)]
    pub fn sample(name: &str, path: &str) -> RoleState {
        RoleState {
            name: name.to_owned(),
            path: path.to_owned(),
            arn: format!("arn:aws:iam::123456789012:role{path}{name}"),
            role_id: "AROA".to_owned(),
            description: None,
            max_session_duration: None,
            trust: serde_json::json!({}),
            permissions_boundary: None,
            tags: BTreeMap::new(),
        }
    }

    /// `arn:PARTITION:iam::ACCOUNT:policy/PATH/ROLE-`: the ARN prefix of the role's own managed
    /// policies, which share its path.
    pub fn own_policy_prefix(&self) -> Option<String> {
        let arn = crate::arn::Arn::parse(&self.arn)?;
        if arn.service != "iam" || arn.resource_type() != "role" {
            return None;
        }
        Some(format!(
            "arn:{}:iam::{}:policy{}{}-",
            arn.partition, arn.account, self.path, self.name
        ))
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
    RemoveRoleFromInstanceProfile {
        profile: String,
    },
    DeleteRole,
}

impl Change {
    /// The IAM operation that makes the change (for [`Change::DeletePolicy`], the last one).
    pub fn operation(&self) -> Op {
        match self {
            Change::UpdateRole { .. } => Op::UpdateRole,
            Change::UpdateAssumeRolePolicy { .. } => Op::UpdateAssumeRolePolicy,
            Change::PutRolePermissionsBoundary { .. } => Op::PutRolePermissionsBoundary,
            Change::TagRole { .. } => Op::TagRole,
            Change::UntagRole { .. } => Op::UntagRole,
            Change::CreatePolicy { .. } => Op::CreatePolicy,
            Change::DeletePolicyVersion { .. } => Op::DeletePolicyVersion,
            Change::CreatePolicyVersion { .. } => Op::CreatePolicyVersion,
            Change::TagPolicy { .. } => Op::TagPolicy,
            Change::UntagPolicy { .. } => Op::UntagPolicy,
            Change::DetachRolePolicy { .. } => Op::DetachRolePolicy,
            Change::DeleteRolePolicy { .. } => Op::DeleteRolePolicy,
            Change::PutRolePolicy { .. } => Op::PutRolePolicy,
            Change::AttachRolePolicy { .. } => Op::AttachRolePolicy,
            Change::DeletePolicy { .. } => Op::DeletePolicy,
            Change::RemoveRoleFromInstanceProfile { .. } => Op::RemoveRoleFromInstanceProfile,
            Change::DeleteRole => Op::DeleteRole,
        }
    }

    /// Whether the change removes something, so that finding it already gone is success.
    pub fn removes(&self) -> bool {
        matches!(
            self,
            Change::DetachRolePolicy { .. }
                | Change::DeleteRolePolicy { .. }
                | Change::DeletePolicyVersion { .. }
                | Change::DeletePolicy { .. }
                | Change::RemoveRoleFromInstanceProfile { .. }
                | Change::DeleteRole
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IamError {
    #[error("IAM {operation} on `{target}` failed: {message}")]
    Call {
        operation: Op,
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
        operation: Op,
        target: String,
        what: &'static str,
    },
    #[error("{}", policy_not_ours(arn))]
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

/// Why CreateRole made no role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRoleError {
    /// A role of that name exists (whoever owns it).
    AlreadyExists,
    Failed(IamError),
}

/// The IAM calls the lifecycle needs: reads of one role or policy, CreateRole, and one [`Change`]
/// at a time. Decisions (which policies are the role's own, what to change, in which order) are
/// the lifecycle machine's and [`diff`]'s; [`state`] only carries them out over this trait, so
/// an implementation only calls IAM.
pub trait Iam: Send + Sync {
    /// The role and its tags; `None` when there is no such role.
    fn get_role(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<RoleState>, IamError>> + Send;
    /// The role's inline policies by name, with their documents.
    fn inline_policies(
        &self,
        role: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, Value>, IamError>> + Send;
    /// One inline policy's document; `None` when the role has no policy of that name (or no
    /// such role).
    fn inline_policy(
        &self,
        role: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Value>, IamError>> + Send;
    /// The names of the role's inline policies, without their documents (a teardown deletes
    /// them unread).
    fn inline_policy_names(
        &self,
        role: &str,
    ) -> impl Future<Output = Result<Vec<String>, IamError>> + Send;
    fn attached_policy_arns(
        &self,
        role: &str,
    ) -> impl Future<Output = Result<BTreeSet<String>, IamError>> + Send;
    /// Names of the instance profiles the role is in.
    fn instance_profiles(
        &self,
        role: &str,
    ) -> impl Future<Output = Result<Vec<String>, IamError>> + Send;
    /// A customer-managed policy with its tags, versions and default document; `None` when absent.
    fn get_policy(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<PolicyState>, IamError>> + Send;
    /// A customer-managed policy's tags and versions, read together, without its document
    /// (`document` is null: a teardown deletes it unread); `None` when absent.
    fn policy_summary(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<PolicyState>, IamError>> + Send;
    /// ARNs of the account's customer-managed policies under `path` (a paginated listing).
    fn local_policy_arns(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<String>, IamError>> + Send;
    /// Users, groups and roles other than `role` that a policy is attached to, as
    /// "role `name`" and the like; empty when the policy is gone.
    fn other_attachments(
        &self,
        arn: &str,
        role: &str,
    ) -> impl Future<Output = Result<Vec<String>, IamError>> + Send;
    /// Every role of the account (ListRoles, page after page): name, path and ARN, without tags
    /// (ListRoles shows none).
    fn all_roles(
        &self,
    ) -> impl Future<Output = Result<Vec<inventory::RoleSummary>, IamError>> + Send;
    /// Creates the role as planned (trust, description, path, max session, boundary, tags).
    fn create_role(
        &self,
        plan: &RolePlan,
    ) -> impl Future<Output = Result<RoleState, CreateRoleError>> + Send;
    /// Makes one change to `role`. Removing what is already gone is success.
    fn apply(
        &self,
        role: &str,
        change: &Change,
    ) -> impl Future<Output = Result<(), IamError>> + Send;
}

/// Why a policy document IAM returned does not read.
#[derive(Debug, Error)]
pub enum DocumentError {
    #[error("not UTF-8 after percent-decoding: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Parses a policy document as IAM returns it: percent-encoded JSON (moto sometimes returns it
/// plain; an encoded document never parses as JSON, so plain JSON is tried first).
pub fn decode_document(raw: &str) -> Result<Value, DocumentError> {
    if let Ok(value) = serde_json::from_str(raw) {
        return Ok(value);
    }
    let decoded = percent_decode_str(raw).decode_utf8()?;
    Ok(serde_json::from_str(&decoded)?)
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
        assert!(matches!(
            decode_document("%7Bnope"),
            Err(DocumentError::Json(_))
        ));
        assert!(matches!(
            decode_document("%7B%FF%7D"),
            Err(DocumentError::Utf8(_))
        ));
    }

    #[test]
    fn own_policy_prefix_shares_the_role_path() {
        // In another partition: the prefix keeps the role's.
        let role = RoleState {
            arn: "arn:aws-cn:iam::123456789012:role/ml/sagemaker-x".to_owned(),
            ..RoleState::sample("sagemaker-x", "/ml/")
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
