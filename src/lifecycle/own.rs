//! Which policies are a role's own, decided from IAM's replies, once for every path (a Create's
//! preflight, a convergence, a teardown, the sweep after an undo): the reads each path makes
//! ([`whole_reads`], [`teardown_reads`]), the candidates among what IAM lists ([`candidates`]),
//! the ownership tags they must carry ([`Owner`]), and the refusals — a planned policy another
//! owner holds ([`planned`]), an own policy to delete that is attached elsewhere
//! ([`refuse_in_use`]). Pure: every case is a row of `rows.rs` or a test below.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::iam::state::{Reads, Replies};
use crate::iam::{Actual, IamError, PolicyState, RoleState};
use crate::ownership::{Claim, Owner};
use crate::plan::Plan;

/// The ARNs of the plan's own managed policies.
pub fn planned_arns(plan: &Plan) -> Vec<String> {
    plan.managed_policies
        .iter()
        .map(|p| p.arn.clone())
        .collect()
}

/// What a role is read with for its plan, in one round trip: GetRole (`with_role`) beside its
/// inline policy names, its planned inline policies read by name, its attached policies, the
/// planned managed policies and the account's policies under `path` (the role's, or where the
/// plan puts it when the role is yet to be read).
pub fn whole_reads(plan: &Plan, name: &str, path: &str, with_role: bool) -> Reads {
    Reads {
        roles: with_role.then(|| name.to_owned()).into_iter().collect(),
        inline_names: vec![name.to_owned()],
        inline_documents: plan
            .inline_policies
            .iter()
            .map(|p| (name.to_owned(), p.policy_name.clone()))
            .collect(),
        attached: vec![name.to_owned()],
        policies: planned_arns(plan),
        under: vec![path.to_owned()],
        ..Reads::default()
    }
}

/// What a role's teardown is read with, in one round trip: GetRole (`with_role`) beside its
/// inline policy names, attached policies, instance profiles and the account's policies under
/// `path`.
pub fn teardown_reads(name: &str, path: &str, with_role: bool) -> Reads {
    Reads {
        roles: with_role.then(|| name.to_owned()).into_iter().collect(),
        inline_names: vec![name.to_owned()],
        attached: vec![name.to_owned()],
        profiles: vec![name.to_owned()],
        under: vec![path.to_owned()],
        ..Reads::default()
    }
}

/// The own candidates' tags and versions, read beside who else has each attached (IAM refuses to
/// delete a policy still attached; moto does not).
pub fn candidate_reads(role: &str, candidates: &[String]) -> Reads {
    Reads {
        summaries: candidates.to_vec(),
        uses: candidates
            .iter()
            .map(|arn| (arn.clone(), role.to_owned()))
            .collect(),
        ..Reads::default()
    }
}

/// The policies that may be the role's own besides the planned ones: those of the form
/// `<path><role>-<n>` the account lists under the role's path or the role has attached. Listing
/// rather than probing `-1`, `-2`, … finds them past any gap a partial delete left.
pub fn candidates(
    role: &RoleState,
    planned: &[String],
    listed: &[String],
    attached: &BTreeSet<String>,
) -> Vec<String> {
    let Some(prefix) = role.own_policy_prefix() else {
        return Vec::new();
    };
    // Names are unique ignoring case: an adopted `SageMaker-x` owns `sagemaker-x-1`.
    let numbered = |arn: &str| {
        arn.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
            && arn.len() > prefix.len()
            && arn[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
    };
    listed
        .iter()
        .chain(attached.iter())
        .filter(|arn| numbered(arn) && !planned.contains(arn))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The planned managed policies that exist already, all this resource's own (a Create that was
/// delivered twice, a rollback to an earlier declaration). One that another owner holds, or no
/// owner, is refused with [`IamError::ForeignPolicy`] before anything is changed.
pub fn planned(
    owner: &Owner,
    found: BTreeMap<String, PolicyState>,
) -> Result<BTreeMap<String, PolicyState>, IamError> {
    match found
        .iter()
        .find(|(_, state)| owner.claim(&state.tags) != Claim::Ours)
    {
        Some((arn, _)) => Err(IamError::ForeignPolicy { arn: arn.clone() }),
        None => Ok(found),
    }
}

/// The planned policies as a read of each found them ([`Replies::policy`]): those that exist.
pub fn found_planned(
    arns: &[String],
    replies: &Replies,
) -> Result<BTreeMap<String, PolicyState>, IamError> {
    let mut found = BTreeMap::new();
    for arn in arns {
        if let Some(state) = replies.policy(arn)? {
            found.insert(arn.clone(), state);
        }
    }
    Ok(found)
}

/// Those of `policies` that carry this resource's ownership tags; the rest are someone else's,
/// and never changed.
pub fn owned(
    owner: &Owner,
    policies: impl IntoIterator<Item = (String, PolicyState)>,
) -> BTreeMap<String, PolicyState> {
    policies
        .into_iter()
        .filter(|(_, state)| owner.owns(&state.tags))
        .collect()
}

/// A policy to be deleted that is attached elsewhere (`others`) is refused, naming them.
pub fn refuse_in_use(arn: &str, others: &[String]) -> Result<(), IamError> {
    if others.is_empty() {
        return Ok(());
    }
    Err(IamError::PolicyInUse {
        arn: arn.to_owned(),
        entities: others.join(", "),
    })
}

/// The candidates that are this resource's own, as read with [`candidate_reads`]; one attached
/// elsewhere is refused ([`refuse_in_use`]), before any change.
pub fn deletable(
    owner: &Owner,
    role: &str,
    candidates: &[String],
    replies: &Replies,
) -> Result<BTreeMap<String, PolicyState>, IamError> {
    let mut own = BTreeMap::new();
    for arn in candidates {
        let (summary, others) = (replies.summary(arn), replies.uses(arn, role));
        if let Some(state) = summary?
            && owner.owns(&state.tags)
        {
            refuse_in_use(arn, &others?)?;
            own.insert(arn.clone(), state);
        }
    }
    Ok(own)
}

/// The role's inline policies as [`whole_reads`] found them: the planned ones by document;
/// listed but not planned ones as null (deleted unread); planned ones not yet listed, rewritten.
pub fn inline_policies(
    plan: &Plan,
    name: &str,
    replies: &Replies,
) -> Result<BTreeMap<String, Value>, IamError> {
    let names = replies.inline_names(name)?;
    let mut inline = BTreeMap::new();
    for policy in &plan.inline_policies {
        if let Some(document) = replies.inline_document(name, &policy.policy_name)? {
            inline.insert(policy.policy_name.clone(), document);
        }
    }
    for name in names {
        inline.entry(name).or_insert(Value::Null);
    }
    Ok(inline)
}

/// The role's state for a teardown from its lists: inline policies by name only (deleted
/// unread), attached policies, and its own policies.
pub fn teardown_actual(
    role: &RoleState,
    inline: Vec<String>,
    attached: BTreeSet<String>,
    own_policies: BTreeMap<String, PolicyState>,
) -> Actual {
    Actual {
        role: role.clone(),
        inline_policies: inline.into_iter().map(|name| (name, Value::Null)).collect(),
        attached_policy_arns: attached,
        own_policies,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ownership::{OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG};
    use serde_json::json;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10";

    fn role(name: &str, path: &str) -> RoleState {
        RoleState::sample(name, path)
    }

    fn policy(arn: &str, tags: &[(&str, &str)]) -> PolicyState {
        PolicyState {
            arn: arn.to_owned(),
            default_version_id: "v1".to_owned(),
            document: json!({}),
            versions: vec!["v1".to_owned()],
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn candidates_are_numbered_policies_under_the_roles_path_in_any_case_but_planned_ones() {
        let role = role("SageMaker-x", "/ml/");
        let p = |rest: &str| format!("arn:aws:iam::123456789012:policy/ml/{rest}");
        let listed = vec![
            p("sagemaker-x-1"),
            p("sagemaker-x-2"),
            p("sagemaker-x-y-1"),
            p("sagemaker-x-"),
            p("sagemaker-xx-1"),
            "arn:aws:iam::123456789012:policy/sagemaker-x-3".to_owned(),
        ];
        let attached = BTreeSet::from([p("SageMaker-x-12"), p("sagemaker-x-2")]);
        assert_eq!(
            candidates(&role, &[p("sagemaker-x-1")], &listed, &attached),
            [p("SageMaker-x-12"), p("sagemaker-x-2")]
        );
    }

    #[test]
    fn planned_policies_must_all_be_ours_and_in_use_ones_are_refused() {
        let owner = Owner::new(STACK, "Role");
        let ours = policy(
            "a",
            &[(OWNER_STACK_TAG, STACK), (OWNER_LOGICAL_ID_TAG, "Role")],
        );
        let recased = policy(
            "b",
            &[
                ("Persona-Role:Stack-Id", STACK),
                ("PERSONA-ROLE:LOGICAL-ID", "Role"),
            ],
        );
        let untagged = policy("c", &[]);
        let found = BTreeMap::from([("a".to_owned(), ours), ("b".to_owned(), recased)]);
        assert_eq!(planned(&owner, found.clone()).unwrap(), found);
        let mut with_foreign = found;
        with_foreign.insert("c".to_owned(), untagged);
        assert_eq!(
            planned(&owner, with_foreign),
            Err(IamError::ForeignPolicy {
                arn: "c".to_owned()
            })
        );
        assert_eq!(refuse_in_use("a", &[]), Ok(()));
        assert_eq!(
            refuse_in_use("a", &["role `x`".to_owned(), "user `u`".to_owned()]),
            Err(IamError::PolicyInUse {
                arn: "a".to_owned(),
                entities: "role `x`, user `u`".to_owned()
            })
        );
    }
}
