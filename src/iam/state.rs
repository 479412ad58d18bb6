//! Reading a role's actual state and applying changes, over any [`Iam`]. Which policies are the
//! role's own is decided here, once, for Create's preflight, Update's convergence and Delete's
//! teardown alike.

use std::collections::{BTreeMap, BTreeSet};

use crate::ownership::{Claim, Owner};

use super::diff::{self, teardown, undo};
use super::waves::concurrently;
use super::{ALREADY_EXISTS, Actual, Change, Iam, IamError, PolicyState, RoleState, waves};

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
    let (inline_policies, attached_policy_arns, listed) = futures_util::future::join3(
        iam.inline_policies(&role.name),
        iam.attached_policy_arns(&role.name),
        list_own_candidates(iam, &role, planned_policy_arns, owner),
    )
    .await;
    let (inline_policies, attached_policy_arns) = (inline_policies?, attached_policy_arns?);
    let own_policies = own_policies(
        iam,
        &role,
        planned_policy_arns,
        &attached_policy_arns,
        listed?,
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

/// A role of a known name read whole for its plan, in one round trip and a second for what the
/// first names: GetRole beside its lists, its planned inline policies read by name, the planned
/// managed policies and the account's policies under the planned path. The role's answer comes
/// apart from the rest, so that whose role it is can be decided before any other read's failure
/// (a planned policy another owner holds) matters. `Ok(None)` of the rest: no such role.
pub async fn read_whole<I: Iam>(
    iam: &I,
    plan: &crate::plan::Plan,
    name: &str,
    owner: &Owner,
) -> (
    Result<Option<RoleState>, IamError>,
    Result<Option<Actual>, IamError>,
) {
    let planned: Vec<String> = plan
        .managed_policies
        .iter()
        .map(|p| p.arn.clone())
        .collect();
    let path = plan.role.path.as_str();
    let (role, (names, guessed), attached, found, listed) = futures_util::future::join5(
        iam.get_role(name),
        futures_util::future::join(
            iam.inline_policy_names(name),
            concurrently(
                plan.inline_policies
                    .iter()
                    .map(|p| iam.inline_policy(name, &p.policy_name)),
            ),
        ),
        iam.attached_policy_arns(name),
        planned_policies(iam, &planned, owner),
        iam.local_policy_arns(path),
    )
    .await;
    let role = match role {
        Ok(Some(role)) => role,
        // The lists of a role that is not there fail (NoSuchEntity) or say nothing.
        Ok(None) => return (Ok(None), Ok(None)),
        Err(e) => return (Err(e), Ok(None)),
    };
    let rest = async {
        let names = names?;
        let mut inline_policies = BTreeMap::new();
        for (policy, document) in plan.inline_policies.iter().zip(guessed) {
            if let Some(document) = document? {
                inline_policies.insert(policy.policy_name.clone(), document);
            }
        }
        // Listed but not planned: deleted unread. Planned but not yet readable: rewritten.
        for name in names {
            inline_policies
                .entry(name)
                .or_insert(serde_json::Value::Null);
        }
        let attached = attached?;
        // Own policies live under the role's own path; a role elsewhere is listed again.
        let listed = if role.path == path {
            listed?
        } else {
            iam.local_policy_arns(&role.path).await?
        };
        let mut own = found?;
        // Own policies the plan no longer has are deleted unread: their tags and versions do,
        // read beside who else has them attached (IAM refuses to delete those).
        let candidates = own_candidates(&role, &planned, &listed, &attached);
        own.extend(deletable_own(iam, name, candidates, owner).await?);
        Ok(Actual {
            role: role.clone(),
            inline_policies,
            attached_policy_arns: attached,
            own_policies: own,
        })
    }
    .await;
    (Ok(Some(role)), rest.map(Some))
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
    let states = concurrently(planned.iter().map(|arn| iam.get_policy(arn))).await;
    for (arn, state) in planned.iter().zip(states) {
        if let Some(state) = state? {
            if owner.claim(&state.tags) != Claim::Ours {
                return Err(IamError::ForeignPolicy { arn: arn.clone() });
            }
            found.insert(arn.clone(), state);
        }
    }
    Ok(found)
}

/// The planned policies as [`planned_policies`] finds them, and the managed policies the account
/// lists under the role's path: the reads [`own_policies`] starts from, made together.
async fn list_own_candidates<I: Iam>(
    iam: &I,
    role: &RoleState,
    planned: &[String],
    owner: &Owner,
) -> Result<(BTreeMap<String, PolicyState>, Vec<String>), IamError> {
    let listing = async {
        match role.own_policy_prefix() {
            Some(_) => iam.local_policy_arns(&role.path).await,
            None => Ok(Vec::new()),
        }
    };
    let (found, listed) =
        futures_util::future::join(planned_policies(iam, planned, owner), listing).await;
    Ok((found?, listed?))
}

/// The policies that may be the role's own, besides the planned ones: those of the form
/// `<path><role>-<n>` the account lists under the role's path or the role has attached.
fn own_candidates<'a>(
    role: &RoleState,
    planned: &[String],
    listed: &'a [String],
    attached: &'a BTreeSet<String>,
) -> Vec<&'a String> {
    let Some(prefix) = role.own_policy_prefix() else {
        return Vec::new();
    };
    // Names are unique ignoring case: an adopted `SageMaker-x` owns `sagemaker-x-1`.
    let numbered = |arn: &str| {
        arn.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
            && arn[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
            && arn.len() > prefix.len()
    };
    listed
        .iter()
        .chain(attached.iter())
        .filter(|arn| numbered(arn) && !planned.contains(arn))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The role's own managed policies (`<path><role>-<n>` with this resource's ownership tags):
/// the planned ones, and every other of that form the account lists under the role's path or
/// the role has attached. Listing rather than probing `-1`, `-2`, … finds them past any gap a
/// partial delete left.
async fn own_policies<I: Iam>(
    iam: &I,
    role: &RoleState,
    planned: &[String],
    attached: &BTreeSet<String>,
    (mut found, listed): (BTreeMap<String, PolicyState>, Vec<String>),
    owner: &Owner,
) -> Result<BTreeMap<String, PolicyState>, IamError> {
    let candidates = own_candidates(role, planned, &listed, attached);
    let states = concurrently(candidates.iter().map(|arn| iam.get_policy(arn))).await;
    for (arn, state) in candidates.into_iter().zip(states) {
        if let Some(state) = state?
            && owner.owns(&state.tags)
        {
            found.insert(arn.clone(), state);
        }
    }
    Ok(found)
}

/// Which of `candidates` are this resource's own policies, to be deleted unread: each one's tags
/// and versions read beside who else has it attached. One attached elsewhere fails, before any
/// change (as [`ensure_deletable`]): IAM refuses to delete it.
async fn deletable_own<I: Iam>(
    iam: &I,
    role: &str,
    candidates: Vec<&String>,
    owner: &Owner,
) -> Result<BTreeMap<String, PolicyState>, IamError> {
    let found = concurrently(candidates.iter().map(|arn| {
        futures_util::future::join(iam.policy_summary(arn), iam.other_attachments(arn, role))
    }))
    .await;
    let mut own = BTreeMap::new();
    for (arn, (summary, others)) in candidates.into_iter().zip(found) {
        if let Some(state) = summary?
            && owner.owns(&state.tags)
        {
            refuse_in_use(arn, others?)?;
            own.insert(arn.clone(), state);
        }
    }
    Ok(own)
}

/// Applies changes wave by wave ([`waves::waves`]): a wave's changes run together, the next
/// wave only once all of them succeeded. Each change that succeeds is appended to `done`, even
/// when another of its wave failed, so an undo knows everything that was made. A CreatePolicy
/// that finds its policy already there (its earlier attempt's answer was lost, or a redelivered
/// event made it) converges on it when it is this resource's own.
pub async fn apply<I: Iam>(
    iam: &I,
    role: &str,
    changes: &[Change],
    owner: &Owner,
    done: &mut Vec<Change>,
) -> Result<(), IamError> {
    for wave in waves::waves(changes) {
        let results = concurrently(
            wave.iter()
                .map(|change| apply_one(iam, role, change, owner)),
        )
        .await;
        let mut failure = None;
        for (change, result) in wave.into_iter().zip(results) {
            match result {
                Ok(()) => done.push(change.clone()),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(())
}

async fn apply_one<I: Iam>(
    iam: &I,
    role: &str,
    change: &Change,
    owner: &Owner,
) -> Result<(), IamError> {
    match iam.apply(role, change).await {
        Err(e) if e.code() == Some(ALREADY_EXISTS) => {
            let Change::CreatePolicy { arn, document, .. } = change else {
                return Err(e);
            };
            adopt_created_policy(iam, role, arn, document, owner).await
        }
        result => result,
    }
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
    let states = concurrently(planned.iter().map(|arn| iam.get_policy(arn))).await;
    for (arn, state) in planned.iter().zip(states) {
        if let Some(state) = state?
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
    let deleted: Vec<&String> = changes
        .iter()
        .filter_map(|change| match change {
            Change::DeletePolicy { arn, .. } => Some(arn),
            _ => None,
        })
        .collect();
    let found = concurrently(deleted.iter().map(|arn| iam.other_attachments(arn, role))).await;
    for (arn, others) in deleted.into_iter().zip(found) {
        refuse_in_use(arn, others?)?;
    }
    Ok(())
}

/// A policy to be deleted that is attached elsewhere (`others`) is refused.
fn refuse_in_use(arn: &str, others: Vec<String>) -> Result<(), IamError> {
    if others.is_empty() {
        return Ok(());
    }
    Err(IamError::PolicyInUse {
        arn: arn.to_owned(),
        entities: others.join(", "),
    })
}

/// Brings an own role, read whole ([`read_whole`], which refused own policies in use
/// elsewhere), to its plan, changing only what differs. Returns the role.
pub async fn converge_from<I: Iam>(
    iam: &I,
    plan: &crate::plan::Plan,
    actual: Actual,
    owner: &Owner,
) -> Result<RoleState, IamError> {
    converge_to(iam, plan, actual, owner, false).await
}

/// Applies the changes from `actual` to `plan`; `check_in_use`: first refuse, before any
/// change, a policy to delete that is attached elsewhere (unless the read did).
async fn converge_to<I: Iam>(
    iam: &I,
    plan: &crate::plan::Plan,
    actual: Actual,
    owner: &Owner,
    check_in_use: bool,
) -> Result<RoleState, IamError> {
    let changes = diff::diff(plan, &actual);
    if changes.is_empty() {
        tracing::info!(role = %actual.role.name, "role already as declared: no change");
    }
    if check_in_use {
        ensure_deletable(iam, &actual.role.name, &changes).await?;
    }
    apply(iam, &actual.role.name, &changes, owner, &mut Vec::new()).await?;
    Ok(actual.role)
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
    converge_to(iam, plan, actual, owner, true).await
}

/// Deletes a role this resource owns with all it has, from the role as just read. Changes nothing
/// when the role is not owned, or when one of its own policies is in use elsewhere.
pub async fn delete_role<I: Iam>(
    iam: &I,
    role: RoleState,
    owner: &Owner,
) -> Result<Deletion, IamError> {
    if !owner.owns(&role.tags) {
        return Ok(Deletion::NotOwned);
    }
    let lists = role_lists(iam, &role.name, &role.path).await;
    let changes = teardown_changes(iam, &role, lists, owner).await?;
    apply(iam, &role.name, &changes, owner, &mut Vec::new()).await?;
    Ok(Deletion::Deleted)
}

/// A role's teardown read with GetRole in one round trip: the role beside its lists and the
/// account's policies under `path` (where the properties put it; listed again if the role is
/// elsewhere), then each candidate own policy's tags, versions and other attachments together.
/// The role's answer comes apart from the changes, so that whose role it is is decided first.
/// `Ok(None)` of the changes: no such role.
pub async fn read_teardown<I: Iam>(
    iam: &I,
    name: &str,
    path: &str,
    owner: &Owner,
) -> (
    Result<Option<RoleState>, IamError>,
    Result<Option<Vec<Change>>, IamError>,
) {
    let (role, lists) =
        futures_util::future::join(iam.get_role(name), role_lists(iam, name, path)).await;
    let role = match role {
        Ok(Some(role)) => role,
        Ok(None) => return (Ok(None), Ok(None)),
        Err(e) => return (Err(e), Ok(None)),
    };
    let changes = async {
        let lists = if role.path == path {
            lists
        } else {
            role_lists(iam, name, &role.path).await
        };
        teardown_changes(iam, &role, lists, owner).await
    }
    .await;
    (Ok(Some(role)), changes.map(Some))
}

/// A role's inline policy names, attached policies, the account's policies under `path`, and
/// its instance profiles, read together.
type RoleLists = (
    Result<Vec<String>, IamError>,
    Result<BTreeSet<String>, IamError>,
    Result<Vec<String>, IamError>,
    Result<Vec<String>, IamError>,
);

async fn role_lists<I: Iam>(iam: &I, name: &str, path: &str) -> RoleLists {
    futures_util::future::join4(
        iam.inline_policy_names(name),
        iam.attached_policy_arns(name),
        iam.local_policy_arns(path),
        iam.instance_profiles(name),
    )
    .await
}

/// The changes that delete a role with all it owns, from its lists: each candidate own policy's
/// tags, versions and other attachments read together (documents are deleted unread). Fails,
/// before any change, when an own policy is attached elsewhere.
async fn teardown_changes<I: Iam>(
    iam: &I,
    role: &RoleState,
    (inline, attached, listed, profiles): RoleLists,
    owner: &Owner,
) -> Result<Vec<Change>, IamError> {
    let (inline, attached, listed, profiles) = (inline?, attached?, listed?, profiles?);
    let name = role.name.as_str();
    let candidates = own_candidates(role, &[], &listed, &attached);
    let own_policies = deletable_own(iam, name, candidates, owner).await?;
    let actual = Actual {
        role: role.clone(),
        inline_policies: inline
            .into_iter()
            .map(|name| (name, serde_json::Value::Null))
            .collect(),
        attached_policy_arns: attached,
        own_policies,
    };
    Ok(teardown(&actual, &profiles))
}

/// [`delete_role`] of the role of that name, read first; an absent role is
/// [`Deletion::NotFound`].
pub async fn delete_role_named<I: Iam>(
    iam: &I,
    name: &str,
    owner: &Owner,
) -> Result<Deletion, IamError> {
    match iam.get_role(name).await? {
        Some(role) => delete_role(iam, role, owner).await,
        None => Ok(Deletion::NotFound),
    }
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
