//! The executor of the lifecycle's IAM effects over any [`Iam`], with no decisions: a batch of
//! named reads made together ([`read`]), whose replies come back as IAM gave them, and a list of
//! changes applied as given ([`apply`]), wave by wave ([`waves::waves`]). IAM's answers are only
//! mapped to what they say: `NoSuchEntity` is an absent role or policy (in the adapter), and a
//! CreatePolicy that finds its name taken is reported as taken, for the machine to decide on.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::waves::{self, concurrently};
use super::{ALREADY_EXISTS, Change, Iam, IamError, PolicyState, RoleState};
use crate::aws::Op;

/// Reads to make together, each named by what it reads. Every reply is kept apart (a failure of
/// one read is that read's answer only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reads {
    /// GetRole of each name.
    pub roles: Vec<String>,
    /// The names of each role's inline policies (ListRolePolicies).
    pub inline_names: Vec<String>,
    /// Inline policy documents, as (role, policy name) (GetRolePolicy).
    pub inline_documents: Vec<(String, String)>,
    /// The managed policies attached to each role (ListAttachedRolePolicies).
    pub attached: Vec<String>,
    /// The instance profiles each role is in (ListInstanceProfilesForRole).
    pub profiles: Vec<String>,
    /// Managed policies by ARN with tags, versions and the default version's document.
    pub policies: Vec<String>,
    /// Managed policies by ARN with tags and versions, without the document.
    pub summaries: Vec<String>,
    /// The account's customer managed policies under each path (ListPolicies, Scope=Local).
    pub under: Vec<String>,
    /// Who else has a policy attached, as (policy ARN, the role not counted)
    /// (ListEntitiesForPolicy).
    pub uses: Vec<(String, String)>,
}

impl Reads {
    pub fn is_empty(&self) -> bool {
        *self == Reads::default()
    }
}

/// What IAM answered to each read of [`Reads`], by the name it was asked with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replies {
    pub roles: BTreeMap<String, Result<Option<RoleState>, IamError>>,
    pub inline_names: BTreeMap<String, Result<Vec<String>, IamError>>,
    /// None: the role has no inline policy of that name.
    pub inline_documents: BTreeMap<(String, String), Result<Option<Value>, IamError>>,
    pub attached: BTreeMap<String, Result<BTreeSet<String>, IamError>>,
    pub profiles: BTreeMap<String, Result<Vec<String>, IamError>>,
    /// None: no such policy.
    pub policies: BTreeMap<String, Result<Option<PolicyState>, IamError>>,
    pub summaries: BTreeMap<String, Result<Option<PolicyState>, IamError>>,
    pub under: BTreeMap<String, Result<Vec<String>, IamError>>,
    /// Roles, users and groups other than the role; empty when the policy is gone.
    pub uses: BTreeMap<(String, String), Result<Vec<String>, IamError>>,
}

/// A reply that was never asked for: the caller asked one batch and reads another's reply.
fn unasked(operation: Op, target: &str) -> IamError {
    IamError::Incomplete {
        operation,
        target: target.to_owned(),
        what: "a reply to a read that was not made",
    }
}

fn reply<K: Ord, T: Clone>(
    replies: &BTreeMap<K, Result<T, IamError>>,
    key: &K,
    operation: Op,
    target: &str,
) -> Result<T, IamError> {
    replies
        .get(key)
        .cloned()
        .unwrap_or_else(|| Err(unasked(operation, target)))
}

impl Replies {
    pub fn role(&self, name: &str) -> Result<Option<RoleState>, IamError> {
        reply(&self.roles, &name.to_owned(), Op::GetRole, name)
    }
    pub fn inline_names(&self, role: &str) -> Result<Vec<String>, IamError> {
        reply(
            &self.inline_names,
            &role.to_owned(),
            Op::ListRolePolicies,
            role,
        )
    }
    pub fn inline_document(&self, role: &str, name: &str) -> Result<Option<Value>, IamError> {
        reply(
            &self.inline_documents,
            &(role.to_owned(), name.to_owned()),
            Op::GetRolePolicy,
            name,
        )
    }
    pub fn attached(&self, role: &str) -> Result<BTreeSet<String>, IamError> {
        reply(
            &self.attached,
            &role.to_owned(),
            Op::ListAttachedRolePolicies,
            role,
        )
    }
    pub fn profiles(&self, role: &str) -> Result<Vec<String>, IamError> {
        reply(
            &self.profiles,
            &role.to_owned(),
            Op::ListInstanceProfilesForRole,
            role,
        )
    }
    pub fn policy(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        reply(&self.policies, &arn.to_owned(), Op::GetPolicy, arn)
    }
    pub fn summary(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        reply(&self.summaries, &arn.to_owned(), Op::GetPolicy, arn)
    }
    pub fn under(&self, path: &str) -> Result<Vec<String>, IamError> {
        reply(&self.under, &path.to_owned(), Op::ListPolicies, path)
    }
    pub fn uses(&self, arn: &str, role: &str) -> Result<Vec<String>, IamError> {
        reply(
            &self.uses,
            &(arn.to_owned(), role.to_owned()),
            Op::ListEntitiesForPolicy,
            arn,
        )
    }
}

/// Makes every read of `reads` together (at most [`crate::aws::meter::MAX_CALLS_IN_FLIGHT`] calls at once)
/// and returns each reply.
pub async fn read<I: Iam>(iam: &I, reads: &Reads) -> Replies {
    // One join: every read of the batch is in flight at once.
    let (
        roles,
        inline_names,
        inline_documents,
        attached,
        profiles,
        policies,
        summaries,
        under,
        uses,
    ) = futures_util::join!(
        concurrently(reads.roles.iter().map(|name| iam.get_role(name))),
        concurrently(
            reads
                .inline_names
                .iter()
                .map(|r| iam.inline_policy_names(r))
        ),
        concurrently(
            reads
                .inline_documents
                .iter()
                .map(|(role, name)| iam.inline_policy(role, name))
        ),
        concurrently(reads.attached.iter().map(|r| iam.attached_policy_arns(r))),
        concurrently(reads.profiles.iter().map(|r| iam.instance_profiles(r))),
        concurrently(reads.policies.iter().map(|arn| iam.get_policy(arn))),
        concurrently(reads.summaries.iter().map(|arn| iam.policy_summary(arn))),
        concurrently(reads.under.iter().map(|path| iam.local_policy_arns(path))),
        concurrently(
            reads
                .uses
                .iter()
                .map(|(arn, role)| iam.other_attachments(arn, role))
        ),
    );
    fn keyed<K: Ord + Clone, T>(keys: &[K], replies: Vec<T>) -> BTreeMap<K, T> {
        keys.iter().cloned().zip(replies).collect()
    }
    Replies {
        roles: keyed(&reads.roles, roles),
        inline_names: keyed(&reads.inline_names, inline_names),
        inline_documents: keyed(&reads.inline_documents, inline_documents),
        attached: keyed(&reads.attached, attached),
        profiles: keyed(&reads.profiles, profiles),
        policies: keyed(&reads.policies, policies),
        summaries: keyed(&reads.summaries, summaries),
        under: keyed(&reads.under, under),
        uses: keyed(&reads.uses, uses),
    }
}

/// What applying a list of changes came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Every change that succeeded, even when another of its wave failed, in the list's order.
    pub done: Vec<Change>,
    /// The CreatePolicy changes IAM refused because a policy of that name exists.
    pub taken: Vec<Change>,
    /// The first failure (in the list's order) of the wave that stopped the application.
    pub result: Result<(), IamError>,
}

/// Applies `changes` to `role` as given, wave by wave ([`waves::waves`]): a wave's changes run
/// together, the next wave only once every one of them succeeded. A wave in which one failed or
/// found its policy taken is the last.
pub async fn apply<I: Iam>(iam: &I, role: &str, changes: &[Change]) -> Applied {
    let mut applied = Applied {
        done: Vec::new(),
        taken: Vec::new(),
        result: Ok(()),
    };
    for wave in waves::waves(changes) {
        let results = concurrently(wave.iter().map(|change| iam.apply(role, change))).await;
        for (change, result) in wave.into_iter().zip(results) {
            match result {
                Ok(()) => applied.done.push(change.clone()),
                Err(e)
                    if e.code() == Some(ALREADY_EXISTS)
                        && matches!(change, Change::CreatePolicy { .. }) =>
                {
                    applied.taken.push(change.clone());
                }
                Err(e) => {
                    if applied.result.is_ok() {
                        applied.result = Err(e);
                    }
                }
            }
        }
        if applied.result.is_err() || !applied.taken.is_empty() {
            break;
        }
    }
    applied
}
