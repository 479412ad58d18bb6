//! A read-only inventory of roles: which roles the account has (paginated), and for one role its
//! tags, trust, inline policies and attached managed policies with their documents. Only List*
//! and Get* calls; the role as plain data for `discover` and `diff --live`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Iam, IamError, RoleState, SdkIam};
use crate::arn::Arn;
use crate::ownership::{ADOPTED_TAG, OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG, fold_key};
use crate::plan::{
    INLINE_LIMIT, InlinePolicy, MANAGED_LIMIT, ManagedPolicy, Plan, PlanTag, QuotaUsage, RolePlan,
    iam_size,
};

/// A role as `ListRoles` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSummary {
    pub name: String,
    pub path: String,
    pub arn: String,
}

/// A role and everything attached to it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleInventory {
    pub role: RoleState,
    pub inline_policies: BTreeMap<String, Value>,
    /// Attached managed policies, by ARN.
    pub attached: Vec<AttachedPolicy>,
}

/// A managed policy attached to the role.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachedPolicy {
    pub arn: String,
    pub name: String,
    pub path: String,
    /// The default version's document of a customer-managed policy; `None` for AWS managed
    /// policies, which are known by name.
    pub document: Option<Value>,
    pub tags: BTreeMap<String, String>,
}

impl AttachedPolicy {
    /// `arn:PARTITION:iam::aws:policy/...`.
    pub fn is_aws_managed(&self) -> bool {
        Arn::parse(&self.arn).is_some_and(|arn| arn.account == "aws")
    }
}

/// `arn:aws:iam::123456789012:policy/service-role/SM_X_1` → (`SM_X_1`, `/service-role/`).
pub fn policy_name_and_path(arn: &str) -> (String, String) {
    let resource = Arn::parse(arn).map_or(arn, |arn| arn.resource);
    let full = resource.strip_prefix("policy").unwrap_or(resource);
    match full.rfind('/') {
        Some(i) => (full[i + 1..].to_owned(), full[..=i].to_owned()),
        None => (full.to_owned(), "/".to_owned()),
    }
}

/// Every role of the account, page by page; `progress` hears the running count after each page.
pub async fn list_roles(
    iam: &SdkIam,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<RoleSummary>, IamError> {
    let roles = iam
        .list_roles(progress)
        .await?
        .into_iter()
        .map(|(name, path, arn)| RoleSummary { name, path, arn })
        .collect();
    Ok(roles)
}

/// The role with its policies and their documents; `None` when there is no such role.
pub async fn read_role<I: Iam>(iam: &I, name: &str) -> Result<Option<RoleInventory>, IamError> {
    read_role_with(iam, name, Documents::All).await
}

/// Which attached customer-managed policies' documents and tags [`read_role_with`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Documents {
    /// Every one's (the CLI compares them).
    All,
    /// The role's own only (`<role>-<n>`): others are named, unread. The function's execution
    /// role may read only its own policies, and its drift report needs no other's document.
    Own,
}

/// The role with its policies, and the documents `documents` says; `None` when there is no
/// such role.
pub async fn read_role_with<I: Iam>(
    iam: &I,
    name: &str,
    documents: Documents,
) -> Result<Option<RoleInventory>, IamError> {
    let Some(role) = iam.get_role(name).await? else {
        return Ok(None);
    };
    let (inline_policies, attached_policy_arns) = futures_util::future::join(
        iam.inline_policies(&role.name),
        iam.attached_policy_arns(&role.name),
    )
    .await;
    let (inline_policies, attached_policy_arns) = (inline_policies?, attached_policy_arns?);
    // Customer managed policies' documents and tags, read together.
    let role_name = role.name.as_str();
    let read = super::waves::concurrently(attached_policy_arns.iter().map(|arn| async move {
        let (name, path) = policy_name_and_path(arn);
        let mut policy = AttachedPolicy {
            arn: arn.clone(),
            name,
            path,
            document: None,
            tags: BTreeMap::new(),
        };
        let read = match documents {
            Documents::All => !policy.is_aws_managed(),
            Documents::Own => crate::plan::naming::is_own_policy(role_name, &policy.name),
        };
        if read {
            // A policy detached and deleted between the two reads is simply not there.
            let Some(state) = iam.get_policy(arn).await? else {
                return Ok(None);
            };
            policy.document = Some(state.document);
            policy.tags = state.tags;
        }
        Ok(Some(policy))
    }))
    .await;
    let mut attached = Vec::new();
    for policy in read {
        attached.extend(policy?);
    }
    Ok(Some(RoleInventory {
        role,
        inline_policies,
        attached,
    }))
}

impl RoleInventory {
    /// The role as a plan, for comparing with a declaration: its inline policies; every attached
    /// policy whose document is known (customer-managed) as a managed policy; AWS managed ones
    /// by ARN. IAM does not know the activities or the quota of managed policies: the caller
    /// gives them.
    pub fn as_plan(&self, activities: Vec<String>, max_managed_policies: usize) -> Plan {
        let role = &self.role;
        // The adoption mark records the role's history, not anything a declaration says. IAM
        // compares role tag keys ignoring case: the ownership tags are the planner's spelling.
        let mut tags: Vec<PlanTag> = role
            .tags
            .iter()
            .filter(|(key, _)| fold_key(key) != ADOPTED_TAG)
            .map(|(key, value)| PlanTag {
                key: [OWNER_STACK_TAG, OWNER_LOGICAL_ID_TAG]
                    .into_iter()
                    .find(|own| fold_key(key) == *own)
                    .map_or_else(|| key.clone(), str::to_owned),
                value: value.clone(),
            })
            .collect();
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        let inline_policies: Vec<InlinePolicy> = self
            .inline_policies
            .iter()
            .map(|(name, document)| InlinePolicy {
                policy_name: name.clone(),
                size: iam_size(document),
                policy_document: document.clone(),
            })
            .collect();
        let managed_policies: Vec<ManagedPolicy> = self
            .attached
            .iter()
            .filter_map(|p| {
                p.document.as_ref().map(|document| ManagedPolicy {
                    policy_name: p.name.clone(),
                    path: p.path.clone(),
                    arn: p.arn.clone(),
                    size: iam_size(document),
                    policy_document: document.clone(),
                })
            })
            .collect();
        let mut attached_policy_arns: Vec<String> = self
            .attached
            .iter()
            .filter(|p| p.document.is_none())
            .map(|p| p.arn.clone())
            .collect();
        attached_policy_arns.sort();
        let quotas = QuotaUsage {
            inline_characters: inline_policies.iter().map(|p| p.size).sum(),
            inline_limit: INLINE_LIMIT,
            largest_managed_policy: managed_policies.iter().map(|p| p.size).max().unwrap_or(0),
            managed_policy_limit: MANAGED_LIMIT,
            attached_managed_policies: self.attached.len(),
            max_managed_policies,
            trust_policy_characters: iam_size(&role.trust),
        };
        Plan {
            role: RolePlan {
                role_name: role.name.clone(),
                path: role.path.clone(),
                arn: role.arn.clone(),
                description: role.description.clone().unwrap_or_default(),
                assume_role_policy_document: role.trust.clone(),
                max_session_duration: role
                    .max_session_duration
                    .unwrap_or(crate::properties::default_max_session()),
                permissions_boundary: role.permissions_boundary.clone(),
                tags,
            },
            activities,
            inline_policies,
            managed_policies,
            attached_policy_arns,
            quotas,
            warnings: Vec::new(),
            // Lifecycle choices, not part of what IAM holds.
            adopt_existing_role: false,
            delete_console_policies: false,
            retain_on_delete: false,
            passed_roles_to_check: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_split_into_name_and_path() {
        assert_eq!(
            policy_name_and_path(
                "arn:aws:iam::123456789012:policy/service-role/SM_CommonJobManagement_1733462327347"
            ),
            (
                "SM_CommonJobManagement_1733462327347".to_owned(),
                "/service-role/".to_owned()
            )
        );
        assert_eq!(
            policy_name_and_path("arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess"),
            ("AmazonSageMakerCanvasFullAccess".to_owned(), "/".to_owned())
        );
    }
}
