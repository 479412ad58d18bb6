//! Properties → role plan: the role, its trust policy and its policies, packed to IAM's quotas.
//! Pure: the same properties and stack give byte-identical plans, so updates can diff.

pub mod naming;
pub mod pack;
pub mod render;

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::catalog;
use crate::context::StackContext;
use crate::guardrails::{Guardrails, PassedRole};
use crate::ownership::Owner;
use crate::properties::{self, Properties, PropertyErrors, Tag};

pub use pack::{INLINE_LIMIT, MANAGED_LIMIT, QuotaError, TRUST_LIMIT, iam_size};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("{0}")]
    Properties(#[from] PropertyErrors),
    /// Valid properties that the function's guardrails refuse.
    #[error("{0}")]
    Guardrail(PropertyErrors),
    #[error("{0}")]
    Quota(#[from] QuotaError),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plan {
    pub role: RolePlan,
    /// Console names of the selected activities, in catalog order.
    pub activities: Vec<String>,
    pub inline_policies: Vec<InlinePolicy>,
    pub managed_policies: Vec<ManagedPolicy>,
    /// AWS managed policies of activities and the user's ManagedPolicyArns, sorted.
    pub attached_policy_arns: Vec<String>,
    pub quotas: QuotaUsage,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// On Create, take over an unowned role of the planned name (`AdoptExistingRole`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adopt_existing_role: bool,
    /// On adoption, delete the console's detached policies nothing else uses
    /// (`DeleteConsolePolicies`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delete_console_policies: bool,
    /// On Delete, leave the role (`RetainOnDelete`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// Roles it passes that the function's `AllowedPassRoles` does not list: each must be
    /// shown to be this stack's own before the plan is applied (none offline).
    #[serde(skip)]
    pub passed_roles_to_check: Vec<PassedRole>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RolePlan {
    pub role_name: String,
    pub path: String,
    pub arn: String,
    pub description: String,
    pub assume_role_policy_document: Value,
    pub max_session_duration: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    pub tags: Vec<PlanTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanTag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: String,
    pub policy_document: Value,
    pub size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    pub policy_name: String,
    pub path: String,
    pub arn: String,
    pub policy_document: Value,
    pub size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QuotaUsage {
    pub inline_characters: usize,
    pub inline_limit: usize,
    pub largest_managed_policy: usize,
    pub managed_policy_limit: usize,
    pub attached_managed_policies: usize,
    pub max_managed_policies: usize,
    pub trust_policy_characters: usize,
}

impl Plan {
    /// Every managed policy ARN the role ends up with: its own, then the attached ones.
    pub fn all_attached_arns(&self) -> Vec<String> {
        self.managed_policies
            .iter()
            .map(|p| p.arn.clone())
            .chain(self.attached_policy_arns.iter().cloned())
            .collect()
    }
}

/// Parses the properties and plans the role.
pub fn plan_properties(value: &Value, context: &StackContext) -> Result<Plan, PlanError> {
    let properties = properties::parse(value, context)?;
    Ok(build(&properties, context)?)
}

/// Parses the properties, applies the function's guardrails, and plans the role.
pub fn plan_guarded(
    value: &Value,
    context: &StackContext,
    guardrails: &Guardrails,
) -> Result<Plan, PlanError> {
    let mut properties = properties::parse(value, context)?;
    guardrails
        .apply(&mut properties, value, context.partition)
        .map_err(PlanError::Guardrail)?;
    let mut plan = build(&properties, context)?;
    plan.passed_roles_to_check =
        guardrails.passed_roles_to_check(&properties, value, &plan.role.arn);
    Ok(plan)
}

/// Plans the role of validated properties.
pub fn build(properties: &Properties, context: &StackContext) -> Result<Plan, QuotaError> {
    let role_name = naming::role_name(properties.role_name_suffix.as_deref(), context);
    let partition = context.partition;
    let account = &context.account;
    let path = properties.path.clone();

    let trust = render::trust_policy(properties, context);
    let trust_size = iam_size(&trust);
    if trust_size > TRUST_LIMIT {
        return Err(QuotaError::TrustTooLarge { size: trust_size });
    }

    let mut attached: Vec<String> = properties
        .activities
        .iter()
        .flat_map(|&i| catalog::activity(i).aws_managed_policies)
        .map(|name| format!("arn:{partition}:iam::aws:policy/{name}"))
        .chain(properties.managed_policy_arns.iter().cloned())
        .collect();
    attached.sort();
    attached.dedup();

    let statements = pack::split_oversized(render::statements(properties, context))?;
    let packed = pack::pack(statements, attached.len(), properties.max_managed_policies)?;

    let inline_policies: Vec<InlinePolicy> = if packed.inline.statements.is_empty() {
        Vec::new()
    } else {
        vec![InlinePolicy {
            policy_name: naming::INLINE_POLICY_NAME.to_owned(),
            size: packed.inline.size,
            policy_document: render::document(packed.inline.statements),
        }]
    };
    let managed_policies: Vec<ManagedPolicy> = packed
        .managed
        .into_iter()
        .enumerate()
        .map(|(i, policy)| {
            let name = naming::managed_policy_name(&role_name, i + 1);
            ManagedPolicy {
                arn: format!("arn:{partition}:iam::{account}:policy{path}{name}"),
                policy_name: name,
                path: path.clone(),
                size: policy.size,
                policy_document: render::document(policy.statements),
            }
        })
        .collect();

    let activity_names: Vec<String> = properties
        .activities
        .iter()
        .map(|&i| catalog::activity(i).name.to_owned())
        .collect();
    let description = properties.description.clone().unwrap_or_else(|| {
        format!(
            "SageMaker {} persona role: {}",
            properties.persona.name,
            activity_names.join(", ")
        )
    });
    let quotas = QuotaUsage {
        inline_characters: inline_policies.iter().map(|p| p.size).sum(),
        inline_limit: INLINE_LIMIT,
        largest_managed_policy: managed_policies.iter().map(|p| p.size).max().unwrap_or(0),
        managed_policy_limit: MANAGED_LIMIT,
        attached_managed_policies: managed_policies.len() + attached.len(),
        max_managed_policies: properties.max_managed_policies,
        trust_policy_characters: trust_size,
    };
    Ok(Plan {
        role: RolePlan {
            arn: format!("arn:{partition}:iam::{account}:role{path}{role_name}"),
            role_name,
            path,
            description: truncate(&description, properties::MAX_DESCRIPTION),
            assume_role_policy_document: trust,
            max_session_duration: properties.max_session_duration,
            permissions_boundary: properties.permissions_boundary.clone(),
            tags: tags(&properties.tags, context),
        },
        activities: activity_names,
        inline_policies,
        managed_policies,
        attached_policy_arns: attached,
        quotas,
        warnings: properties.warnings.clone(),
        adopt_existing_role: properties.adopt_existing_role,
        delete_console_policies: properties.delete_console_policies,
        retain_on_delete: properties.retain_on_delete,
        passed_roles_to_check: Vec::new(),
    })
}

/// The user's tags, then the ownership tags when the stack is known.
fn tags(user: &[Tag], context: &StackContext) -> Vec<PlanTag> {
    let mut tags: Vec<PlanTag> = user
        .iter()
        .map(|t| PlanTag {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect();
    if let Some(stack_id) = &context.stack_id {
        let owner = Owner::new(stack_id.clone(), context.logical_id.clone());
        tags.extend(owner.tags().map(|(key, value)| PlanTag {
            key: key.to_owned(),
            value: value.to_owned(),
        }));
    }
    tags
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
