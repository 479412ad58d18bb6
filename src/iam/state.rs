//! Reading a role's actual state and applying changes, over any [`Iam`]. Which policies are the
//! role's own is decided here, once, for Create's preflight, Update's convergence and Delete's
//! teardown alike.

use std::collections::{BTreeMap, BTreeSet};

use crate::ownership::{Claim, Owner};

use super::diff::{self, teardown, undo};
use super::{ALREADY_EXISTS, Actual, Change, Iam, IamError, PolicyState, RoleState};

/// What a Delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// No such role: already gone.
    NotFound,
    /// The role exists but its ownership tags name another owner: left untouched.
    NotOwned,
}

/// Everything of the role a plan decides. Fails with [`IamError::ForeignPolicy`] when one of the
/// planned managed policies exists without this resource's ownership tags.
pub async fn read_actual<I: Iam>(
    iam: &I,
    role: RoleState,
    planned_policy_arns: &[String],
    owner: &Owner,
) -> Result<Actual, IamError> {
    let inline_policies = iam.inline_policies(&role.name).await?;
    let attached_policy_arns = iam.attached_policy_arns(&role.name).await?;
    let own_policies = own_policies(
        iam,
        &role,
        planned_policy_arns,
        &attached_policy_arns,
        owner,
    )
    .await?;
    Ok(Actual {
        role,
        inline_policies,
        attached_policy_arns,
        own_policies,
    })
}

/// The planned managed policies that exist already and are this resource's own (a Create that
/// was delivered twice, a rollback to an earlier declaration); any that another owner holds
/// fails with [`IamError::ForeignPolicy`] before anything is changed.
pub async fn planned_policies<I: Iam>(
    iam: &I,
    planned: &[String],
    owner: &Owner,
) -> Result<BTreeMap<String, PolicyState>, IamError> {
    let mut found = BTreeMap::new();
    for arn in planned {
        if let Some(state) = iam.get_policy(arn).await? {
            if owner.claim(&state.tags) != Claim::Ours {
                return Err(IamError::ForeignPolicy { arn: arn.clone() });
            }
            found.insert(arn.clone(), state);
        }
    }
    Ok(found)
}

/// The role's own managed policies (`<path><role>-<n>` with this resource's ownership tags):
/// the planned ones, and every other of that form the account lists under the role's path or
/// the role has attached. Listing rather than probing `-1`, `-2`, … finds them past any gap a
/// partial delete left.
pub async fn own_policies<I: Iam>(
    iam: &I,
    role: &RoleState,
    planned: &[String],
    attached: &BTreeSet<String>,
    owner: &Owner,
) -> Result<BTreeMap<String, PolicyState>, IamError> {
    let mut found = planned_policies(iam, planned, owner).await?;
    let Some(prefix) = role.own_policy_prefix() else {
        return Ok(found);
    };
    // Names are unique ignoring case: an adopted `SageMaker-x` owns `sagemaker-x-1`.
    let numbered = |arn: &str| {
        arn.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
            && arn[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
            && arn.len() > prefix.len()
    };
    let listed = iam.local_policy_arns(&role.path).await?;
    let candidates: BTreeSet<&String> = listed
        .iter()
        .chain(attached.iter())
        .filter(|arn| numbered(arn) && !planned.contains(arn))
        .collect();
    for arn in candidates {
        if let Some(state) = iam.get_policy(arn).await?
            && owner.owns(&state.tags)
        {
            found.insert(arn.clone(), state);
        }
    }
    Ok(found)
}

/// Applies changes in order; each one that succeeds is appended to `done`. A CreatePolicy that
/// finds its policy already there (its earlier attempt's answer was lost, or a redelivered event
/// made it) converges on it when it is this resource's own.
pub async fn apply<I: Iam>(
    iam: &I,
    role: &str,
    changes: &[Change],
    owner: &Owner,
    done: &mut Vec<Change>,
) -> Result<(), IamError> {
    for change in changes {
        match iam.apply(role, change).await {
            Ok(()) => {}
            Err(e) if e.code() == Some(ALREADY_EXISTS) => {
                let Change::CreatePolicy { arn, document, .. } = change else {
                    return Err(e);
                };
                adopt_created_policy(iam, role, arn, document, owner).await?;
            }
            Err(e) => return Err(e),
        }
        done.push(change.clone());
    }
    Ok(())
}

/// A policy that CreatePolicy found existing: this resource's own one is brought to `document`;
/// anyone else's is refused.
async fn adopt_created_policy<I: Iam>(
    iam: &I,
    role: &str,
    arn: &str,
    document: &serde_json::Value,
    owner: &Owner,
) -> Result<(), IamError> {
    let state = match iam.get_policy(arn).await? {
        Some(state) if owner.owns(&state.tags) => state,
        _ => {
            return Err(IamError::ForeignPolicy {
                arn: arn.to_owned(),
            });
        }
    };
    let plan_changes = diff::policy_document_changes(&state, document);
    for change in &plan_changes {
        iam.apply(role, change).await?;
    }
    Ok(())
}

/// Deletes whichever of the planned managed policies exist and are this resource's own: the
/// sweep after an undo, for a CreatePolicy that took effect although its answer never came.
pub async fn sweep_planned<I: Iam>(
    iam: &I,
    role: &str,
    planned: &[String],
    owner: &Owner,
) -> Result<(), IamError> {
    let mut changes = Vec::new();
    for arn in planned {
        if let Some(state) = iam.get_policy(arn).await?
            && owner.owns(&state.tags)
        {
            changes.push(Change::DeletePolicy {
                arn: arn.clone(),
                old_versions: state.old_versions(),
            });
        }
    }
    ensure_deletable(iam, role, &changes).await?;
    apply(iam, role, &changes, owner, &mut Vec::new()).await
}

/// IAM refuses to delete a policy that is still attached (moto does not): before any change,
/// make sure no policy `changes` delete is attached to a principal this resource does not manage.
pub async fn ensure_deletable<I: Iam>(
    iam: &I,
    role: &str,
    changes: &[Change],
) -> Result<(), IamError> {
    for change in changes {
        if let Change::DeletePolicy { arn, .. } = change {
            let others = iam.other_attachments(arn, role).await?;
            if !others.is_empty() {
                return Err(IamError::PolicyInUse {
                    arn: arn.clone(),
                    entities: others.join(", "),
                });
            }
        }
    }
    Ok(())
}

/// Brings an existing own role to its plan, changing only what differs. Returns the role as read.
pub async fn converge<I: Iam>(
    iam: &I,
    plan: &crate::plan::Plan,
    role: RoleState,
    owner: &Owner,
) -> Result<RoleState, IamError> {
    let planned: Vec<String> = plan
        .managed_policies
        .iter()
        .map(|p| p.arn.clone())
        .collect();
    let actual = read_actual(iam, role, &planned, owner).await?;
    let changes = diff::diff(plan, &actual);
    if changes.is_empty() {
        tracing::info!(role = %actual.role.name, "role already as declared: no change");
    }
    ensure_deletable(iam, &actual.role.name, &changes).await?;
    apply(iam, &actual.role.name, &changes, owner, &mut Vec::new()).await?;
    Ok(actual.role)
}

/// Deletes a role this resource owns with all it has. Changes nothing when the role is absent or
/// not owned, or when one of its own policies is in use elsewhere.
pub async fn delete_role<I: Iam>(iam: &I, name: &str, owner: &Owner) -> Result<Deletion, IamError> {
    let Some(role) = iam.get_role(name).await? else {
        return Ok(Deletion::NotFound);
    };
    if !owner.owns(&role.tags) {
        return Ok(Deletion::NotOwned);
    }
    let actual = read_actual(iam, role, &[], owner).await?;
    let profiles = iam.instance_profiles(name).await?;
    let changes = teardown(&actual, &profiles);
    ensure_deletable(iam, name, &changes).await?;
    apply(iam, name, &changes, owner, &mut Vec::new()).await?;
    Ok(Deletion::Deleted)
}

/// Undoes a creation that failed half-way, from the changes it made, then deletes the role.
pub async fn undo_create<I: Iam>(
    iam: &I,
    role: &str,
    done: &[Change],
    owner: &Owner,
) -> Result<(), IamError> {
    apply(iam, role, &undo(done), owner, &mut Vec::new()).await
}
