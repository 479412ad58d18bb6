//! The changes that take a role from its actual state to its plan ([`diff`]), that delete it with
//! everything it owns ([`teardown`]), and that undo a creation which failed half-way ([`undo`]).
//! Pure: no AWS, so every case is unit-tested here. An empty list means the plan already holds.
//!
//! Order matters: the role itself first; then managed policy documents (so that what is attached
//! next is already current); detaches and inline deletions before attaches and puts, so that the
//! role never needs more than its quotas of managed policies and inline characters; stale own
//! policies last, once nothing of the role uses them.

use std::collections::{BTreeMap, BTreeSet};

use crate::ownership::{fold_key, is_reserved_tag_key};
use crate::plan::{Plan, PlanTag, RolePlan};

use super::{Actual, Change, MAX_POLICY_VERSIONS, PolicyState, RoleState, tag_map};

/// The changes that make `actual` what `plan` declares.
pub fn diff(plan: &Plan, actual: &Actual) -> Vec<Change> {
    let mut changes = role_changes(&plan.role, &actual.role);

    for policy in &plan.managed_policies {
        match actual.own_policies.get(&policy.arn) {
            None => changes.push(Change::CreatePolicy {
                name: policy.policy_name.clone(),
                path: policy.path.clone(),
                arn: policy.arn.clone(),
                document: policy.policy_document.clone(),
                tags: plan.role.tags.clone(),
            }),
            Some(state) => {
                changes.extend(policy_document_changes(state, &policy.policy_document));
                let (tag, untag) = tag_changes(&plan.role.tags, &state.tags);
                if !tag.is_empty() {
                    changes.push(Change::TagPolicy {
                        arn: policy.arn.clone(),
                        tags: tag,
                    });
                }
                if !untag.is_empty() {
                    changes.push(Change::UntagPolicy {
                        arn: policy.arn.clone(),
                        keys: untag,
                    });
                }
            }
        }
    }

    let desired_arns = plan.all_attached_arns();
    let desired_set: BTreeSet<&String> = desired_arns.iter().collect();
    for arn in &actual.attached_policy_arns {
        if !desired_set.contains(arn) {
            changes.push(Change::DetachRolePolicy { arn: arn.clone() });
        }
    }
    let desired_inline: BTreeMap<&String, _> = plan
        .inline_policies
        .iter()
        .map(|p| (&p.policy_name, &p.policy_document))
        .collect();
    for name in actual.inline_policies.keys() {
        if !desired_inline.contains_key(name) {
            changes.push(Change::DeleteRolePolicy { name: name.clone() });
        }
    }
    for policy in &plan.inline_policies {
        if actual.inline_policies.get(&policy.policy_name) != Some(&policy.policy_document) {
            changes.push(Change::PutRolePolicy {
                name: policy.policy_name.clone(),
                document: policy.policy_document.clone(),
            });
        }
    }
    for arn in desired_arns.iter() {
        if !actual.attached_policy_arns.contains(arn) {
            changes.push(Change::AttachRolePolicy { arn: arn.clone() });
        }
    }

    let planned: BTreeSet<&String> = plan.managed_policies.iter().map(|p| &p.arn).collect();
    for (arn, state) in &actual.own_policies {
        if !planned.contains(arn) {
            changes.push(Change::DeletePolicy {
                arn: arn.clone(),
                old_versions: state.old_versions(),
            });
        }
    }
    changes
}

fn role_changes(plan: &RolePlan, actual: &RoleState) -> Vec<Change> {
    let mut changes = Vec::new();
    if actual.description.as_deref().unwrap_or("") != plan.description
        || actual.max_session_duration != Some(plan.max_session_duration)
    {
        changes.push(Change::UpdateRole {
            description: plan.description.clone(),
            max_session_duration: plan.max_session_duration,
        });
    }
    if actual.trust != plan.assume_role_policy_document {
        changes.push(Change::UpdateAssumeRolePolicy {
            document: plan.assume_role_policy_document.clone(),
        });
    }
    // A boundary is set, never removed: a plan without one (planned without the function's
    // guardrails) leaves the role's as it is, and IAM denies the function removing it anyway.
    if let Some(want) = &plan.permissions_boundary
        && actual.permissions_boundary.as_ref() != Some(want)
    {
        changes.push(Change::PutRolePermissionsBoundary { arn: want.clone() });
    }
    let (tag, untag) = tag_changes(&plan.tags, &actual.tags);
    if !tag.is_empty() {
        changes.push(Change::TagRole { tags: tag });
    }
    if !untag.is_empty() {
        changes.push(Change::UntagRole { keys: untag });
    }
    changes
}

/// Tags to set (missing or with another value) and keys to remove (not declared), keys compared
/// as IAM compares role tag keys: ignoring case. Reserved keys (the ownership tags, `aws:`), in
/// any case, are neither set nor removed: a Create or an adoption writes the ownership tags, and
/// a role or policy reaches the diff only once they name this resource.
fn tag_changes(
    desired: &[PlanTag],
    actual: &BTreeMap<String, String>,
) -> (Vec<PlanTag>, Vec<String>) {
    let actual_folded: BTreeMap<String, &String> =
        actual.iter().map(|(k, v)| (fold_key(k), v)).collect();
    let tag: Vec<PlanTag> = desired
        .iter()
        .filter(|t| {
            !is_reserved_tag_key(&t.key) && actual_folded.get(&fold_key(&t.key)) != Some(&&t.value)
        })
        .cloned()
        .collect();
    let desired: BTreeSet<String> = desired.iter().map(|t| fold_key(&t.key)).collect();
    let untag: Vec<String> = actual
        .keys()
        .filter(|k| !is_reserved_tag_key(k) && !desired.contains(&fold_key(k)))
        .cloned()
        .collect();
    (tag, untag)
}

/// A new default version when the document differs, after pruning the oldest versions so that
/// the new one fits within IAM's five with room for one more: a CreatePolicyVersion whose answer
/// was lost is retried by the SDK and may make a version twice.
pub fn policy_document_changes(state: &PolicyState, document: &serde_json::Value) -> Vec<Change> {
    if state.document == *document {
        return Vec::new();
    }
    let mut changes = Vec::new();
    let mut count = state.versions.len();
    for version_id in state.old_versions() {
        if count + 2 <= MAX_POLICY_VERSIONS {
            break;
        }
        changes.push(Change::DeletePolicyVersion {
            arn: state.arn.clone(),
            version_id,
        });
        count -= 1;
    }
    changes.push(Change::CreatePolicyVersion {
        arn: state.arn.clone(),
        document: document.clone(),
    });
    changes
}

/// The changes that delete an own role with all it has: out of its instance profiles, managed
/// policies detached, inline policies deleted, its own managed policies' old versions deleted
/// (beside the detachments: a version is not an attachment), the policies deleted (highest
/// number first), then the role. Whether the own policies are used elsewhere is checked before,
/// by the caller.
pub fn teardown(actual: &Actual, instance_profiles: &[String]) -> Vec<Change> {
    let mut changes: Vec<Change> = instance_profiles
        .iter()
        .map(|profile| Change::RemoveRoleFromInstanceProfile {
            profile: profile.clone(),
        })
        .collect();
    changes.extend(
        actual
            .attached_policy_arns
            .iter()
            .map(|arn| Change::DetachRolePolicy { arn: arn.clone() }),
    );
    changes.extend(
        actual
            .inline_policies
            .keys()
            .map(|name| Change::DeleteRolePolicy { name: name.clone() }),
    );
    let mut own: Vec<&PolicyState> = actual.own_policies.values().collect();
    own.sort_by_key(|p| std::cmp::Reverse(policy_number(&p.arn)));
    changes.extend(own.iter().flat_map(|p| {
        p.old_versions()
            .into_iter()
            .map(|version_id| Change::DeletePolicyVersion {
                arn: p.arn.clone(),
                version_id,
            })
    }));
    changes.extend(own.into_iter().map(|p| Change::DeletePolicy {
        arn: p.arn.clone(),
        old_versions: Vec::new(),
    }));
    changes.push(Change::DeleteRole);
    changes
}

/// The changes that undo `done` (what a failed creation made, in order) and then delete the role.
/// Worked out from what was done rather than read back, because IAM may not show it yet.
pub fn undo(done: &[Change]) -> Vec<Change> {
    let mut changes: Vec<Change> = done
        .iter()
        .rev()
        .filter_map(|change| match change {
            Change::AttachRolePolicy { arn } => Some(Change::DetachRolePolicy { arn: arn.clone() }),
            Change::PutRolePolicy { name, .. } => {
                Some(Change::DeleteRolePolicy { name: name.clone() })
            }
            // A policy this run created has only its first version.
            Change::CreatePolicy { arn, .. } => Some(Change::DeletePolicy {
                arn: arn.clone(),
                old_versions: Vec::new(),
            }),
            _ => None,
        })
        .collect();
    changes.push(Change::DeleteRole);
    changes
}

/// `…-12` → 12, for ordering a role's own policies; anything else sorts first.
fn policy_number(arn: &str) -> u64 {
    arn.rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// The state of a role just created from its plan, before any policy: what CreateRole set.
pub fn created_role(plan: &RolePlan, arn: String, role_id: String) -> RoleState {
    RoleState {
        name: plan.role_name.clone(),
        path: plan.path.clone(),
        arn,
        role_id,
        description: Some(plan.description.clone()),
        max_session_duration: Some(plan.max_session_duration),
        trust: plan.assume_role_policy_document.clone(),
        permissions_boundary: plan.permissions_boundary.clone(),
        tags: tag_map(&plan.tags),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::context::StackContext;
    use crate::ownership::OWNER_STACK_TAG;
    use crate::plan::plan_properties;
    use serde_json::{Value, json};

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f";

    fn plan(properties: Value) -> Plan {
        let context = StackContext::from_stack_id(STACK, "Role").unwrap();
        plan_properties(&properties, &context).unwrap()
    }

    /// A Data Scientist with enough extra activities, buckets, VPC and KMS to need an inline
    /// policy, customer-managed policies and attached AWS managed policies.
    fn data_scientist() -> Plan {
        let plan = plan(json!({
            "Persona": "DataScientist",
            "RoleNameSuffix": "ds",
            "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
            "S3Buckets": (1..=8).map(|i| format!("ml-team-data-{i:04}")).collect::<Vec<_>>(),
            "AddActivities": ["canvas-core-access", "manage-endpoints", "manage-pipelines",
                "manage-model-monitoring", "use-mlflow", "manage-mlflow"],
            "VpcSubnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "VpcSecurityGroups": ["sg-0123456789abcdef0"],
            "DataKmsKeys": ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"],
            "VolumeKmsKeys": ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555556"],
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "MaxManagedPolicies": "20",
            "Tags": [{"Key": "team", "Value": "ml"}],
        }));
        assert!(!plan.inline_policies.is_empty());
        assert!(!plan.managed_policies.is_empty());
        assert!(!plan.attached_policy_arns.is_empty());
        plan
    }

    /// The actual state in which `plan` already holds.
    fn converged(plan: &Plan) -> Actual {
        let role = created_role(&plan.role, plan.role.arn.clone(), "AROAEXAMPLE".to_owned());
        Actual {
            role,
            inline_policies: plan
                .inline_policies
                .iter()
                .map(|p| (p.policy_name.clone(), p.policy_document.clone()))
                .collect(),
            attached_policy_arns: plan.all_attached_arns().into_iter().collect(),
            own_policies: plan
                .managed_policies
                .iter()
                .map(|p| {
                    (
                        p.arn.clone(),
                        PolicyState {
                            arn: p.arn.clone(),
                            default_version_id: "v1".to_owned(),
                            document: p.policy_document.clone(),
                            versions: vec!["v1".to_owned()],
                            tags: tag_map(&plan.role.tags),
                        },
                    )
                })
                .collect(),
        }
    }

    fn operations(changes: &[Change]) -> Vec<&'static str> {
        changes.iter().map(|c| c.operation().name()).collect()
    }

    #[test]
    fn a_converged_role_needs_no_change() {
        let plan = data_scientist();
        assert_eq!(diff(&plan, &converged(&plan)), Vec::new());
    }

    #[test]
    fn documents_compare_as_json_not_text() {
        let plan = data_scientist();
        let mut actual = converged(&plan);
        // Same document with keys in another order, as IAM may return it.
        let name = &plan.inline_policies[0].policy_name;
        let reordered: Value = {
            let Value::Object(map) = plan.inline_policies[0].policy_document.clone() else {
                panic!("document is an object");
            };
            Value::Object(map.into_iter().rev().collect())
        };
        actual.inline_policies.insert(name.clone(), reordered);
        assert_eq!(diff(&plan, &actual), Vec::new());
    }

    #[test]
    fn a_fresh_role_gets_policies_documents_first_then_attachments() {
        let plan = data_scientist();
        let mut actual = converged(&plan);
        actual.inline_policies.clear();
        actual.attached_policy_arns.clear();
        actual.own_policies.clear();
        let changes = diff(&plan, &actual);
        let ops = operations(&changes);
        let creates = plan.managed_policies.len();
        assert!(
            ops[..creates].iter().all(|op| *op == "CreatePolicy"),
            "{ops:?}"
        );
        assert_eq!(ops[creates], "PutRolePolicy", "{ops:?}");
        assert!(
            ops[creates + 1..]
                .iter()
                .all(|op| *op == "AttachRolePolicy"),
            "{ops:?}"
        );
        assert_eq!(ops.len(), creates + 1 + plan.all_attached_arns().len());
        match &changes[0] {
            Change::CreatePolicy { tags, .. } => {
                assert!(
                    tags.iter()
                        .any(|t| t.key == OWNER_STACK_TAG && t.value == STACK)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// IAM compares role tag keys ignoring case: tags read back in another case are the
    /// declared ones, and no tag change ever names a reserved key, whatever its case.
    #[test]
    fn tag_keys_compare_ignoring_case_and_reserved_keys_are_never_touched() {
        let plan = data_scientist();
        let mut actual = converged(&plan);
        let recased: BTreeMap<String, String> = actual
            .role
            .tags
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
            .collect();
        actual.role.tags = recased;
        assert_eq!(diff(&plan, &actual), Vec::new());

        actual
            .role
            .tags
            .insert("Persona-Role:Adopted".to_owned(), "true".to_owned());
        actual
            .role
            .tags
            .insert("AWS:CloudFormation:Stack-Name".to_owned(), "x".to_owned());
        actual
            .role
            .tags
            .insert("Persona-Role:Something-Else".to_owned(), "x".to_owned());
        assert_eq!(diff(&plan, &actual), Vec::new());

        // Even a plan that carried a reserved key in another case (the parser refuses it) sets
        // nothing under it.
        let mut forged = plan.clone();
        forged.role.tags.push(PlanTag {
            key: "Persona-Role:Stack-Id".to_owned(),
            value: "arn:aws:cloudformation:us-east-1:123456789012:stack/other/1".to_owned(),
        });
        for change in diff(&forged, &actual) {
            let keys: Vec<String> = match &change {
                Change::TagRole { tags } | Change::TagPolicy { tags, .. } => {
                    tags.iter().map(|t| t.key.clone()).collect()
                }
                Change::UntagRole { keys } | Change::UntagPolicy { keys, .. } => keys.clone(),
                _ => Vec::new(),
            };
            assert!(
                keys.iter().all(|k| !is_reserved_tag_key(k)),
                "{change:?} touches a reserved tag key"
            );
        }

        actual
            .role
            .tags
            .insert("TEAM".to_owned(), "other".to_owned());
        assert_eq!(
            diff(&plan, &actual),
            vec![Change::TagRole {
                tags: vec![PlanTag {
                    key: "team".to_owned(),
                    value: "ml".to_owned()
                }]
            }]
        );
    }

    #[test]
    fn hand_made_drift_is_put_back() {
        let plan = data_scientist();
        let mut actual = converged(&plan);
        actual.role.description = Some("changed by hand".to_owned());
        actual.role.trust = json!({"Version": "2012-10-17", "Statement": []});
        actual
            .role
            .tags
            .insert("team".to_owned(), "other".to_owned());
        actual.role.tags.insert("extra".to_owned(), "x".to_owned());
        actual
            .role
            .tags
            .insert("aws:cloudformation:stack-name".to_owned(), "x".to_owned());
        // The resource's own marks stay: the execution role may never remove them.
        actual
            .role
            .tags
            .insert(crate::ownership::ADOPTED_TAG.to_owned(), "true".to_owned());
        actual
            .inline_policies
            .insert("by-hand".to_owned(), json!({"Statement": []}));
        let name = plan.inline_policies[0].policy_name.clone();
        actual
            .inline_policies
            .insert(name.clone(), json!({"Statement": []}));
        actual
            .attached_policy_arns
            .insert("arn:aws:iam::aws:policy/AdministratorAccess".to_owned());
        let removed = plan.all_attached_arns()[0].clone();
        actual.attached_policy_arns.remove(&removed);

        let changes = diff(&plan, &actual);
        assert_eq!(
            changes,
            vec![
                Change::UpdateRole {
                    description: plan.role.description.clone(),
                    max_session_duration: plan.role.max_session_duration,
                },
                Change::UpdateAssumeRolePolicy {
                    document: plan.role.assume_role_policy_document.clone()
                },
                Change::TagRole {
                    tags: vec![PlanTag {
                        key: "team".to_owned(),
                        value: "ml".to_owned()
                    }]
                },
                Change::UntagRole {
                    keys: vec!["extra".to_owned()]
                },
                Change::DetachRolePolicy {
                    arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned()
                },
                Change::DeleteRolePolicy {
                    name: "by-hand".to_owned()
                },
                Change::PutRolePolicy {
                    name,
                    document: plan.inline_policies[0].policy_document.clone()
                },
                Change::AttachRolePolicy { arn: removed },
            ]
        );
    }

    #[test]
    fn max_session_and_boundary_changes() {
        let mut plan = data_scientist();
        plan.role.permissions_boundary = Some("arn:aws:iam::123456789012:policy/b".to_owned());
        let mut actual = converged(&plan);
        actual.role.max_session_duration = Some(7200);
        actual.role.permissions_boundary = None;
        assert_eq!(
            diff(&plan, &actual),
            vec![
                Change::UpdateRole {
                    description: plan.role.description.clone(),
                    max_session_duration: plan.role.max_session_duration,
                },
                Change::PutRolePermissionsBoundary {
                    arn: "arn:aws:iam::123456789012:policy/b".to_owned()
                },
            ]
        );
        let mut actual = converged(&plan);
        plan.role.permissions_boundary = None;
        actual.role.permissions_boundary = Some("arn:aws:iam::123456789012:policy/b".to_owned());
        assert_eq!(diff(&plan, &actual), vec![], "a boundary is never removed");
    }

    fn with_managed_policy() -> Plan {
        data_scientist()
    }

    #[test]
    fn a_changed_managed_policy_gets_a_new_default_version_after_pruning() {
        let plan = with_managed_policy();
        let arn = plan.managed_policies[0].arn.clone();
        let mut actual = converged(&plan);
        let state = actual.own_policies.get_mut(&arn).unwrap();
        state.document = json!({"Version": "2012-10-17", "Statement": []});

        // Room left: only a new version.
        state.versions = ["v1", "v2"].map(str::to_owned).to_vec();
        state.default_version_id = "v2".to_owned();
        assert_eq!(
            diff(&plan, &actual),
            vec![Change::CreatePolicyVersion {
                arn: arn.clone(),
                document: plan.managed_policies[0].policy_document.clone()
            }]
        );

        // Five versions: the oldest non-default ones go first, leaving room for the new one
        // and for a retried duplicate of it.
        let state = actual.own_policies.get_mut(&arn).unwrap();
        state.versions = ["v3", "v4", "v5", "v6", "v7"].map(str::to_owned).to_vec();
        state.default_version_id = "v3".to_owned();
        assert_eq!(
            operations(&diff(&plan, &actual)),
            [
                "DeletePolicyVersion",
                "DeletePolicyVersion",
                "CreatePolicyVersion"
            ]
        );
        assert_eq!(
            diff(&plan, &actual)[..2],
            [
                Change::DeletePolicyVersion {
                    arn: arn.clone(),
                    version_id: "v4".to_owned()
                },
                Change::DeletePolicyVersion {
                    arn,
                    version_id: "v5".to_owned()
                }
            ]
        );
    }

    #[test]
    fn managed_policy_tags_are_repaired() {
        let plan = with_managed_policy();
        let arn = plan.managed_policies[0].arn.clone();
        let mut actual = converged(&plan);
        let state = actual.own_policies.get_mut(&arn).unwrap();
        state.tags.insert("by-hand".to_owned(), "1".to_owned());
        assert_eq!(
            diff(&plan, &actual),
            vec![Change::UntagPolicy {
                arn,
                keys: vec!["by-hand".to_owned()]
            }]
        );
    }

    #[test]
    fn a_stale_own_policy_is_detached_then_deleted_with_its_versions() {
        let plan = with_managed_policy();
        let mut actual = converged(&plan);
        let stale = format!("{}-stale", plan.managed_policies[0].arn);
        actual.own_policies.insert(
            stale.clone(),
            PolicyState {
                arn: stale.clone(),
                default_version_id: "v2".to_owned(),
                document: json!({}),
                versions: ["v1", "v2"].map(str::to_owned).to_vec(),
                tags: BTreeMap::new(),
            },
        );
        actual.attached_policy_arns.insert(stale.clone());
        assert_eq!(
            diff(&plan, &actual),
            vec![
                Change::DetachRolePolicy { arn: stale.clone() },
                Change::DeletePolicy {
                    arn: stale,
                    old_versions: vec!["v1".to_owned()]
                },
            ]
        );
    }

    #[test]
    fn a_created_role_matches_its_plan() {
        let plan = data_scientist();
        let role = created_role(&plan.role, plan.role.arn.clone(), "AROA".to_owned());
        assert_eq!(role_changes(&plan.role, &role), Vec::new());
    }

    #[test]
    fn teardown_empties_the_role_then_deletes_it_highest_policy_first() {
        let plan = data_scientist();
        let mut actual = converged(&plan);
        let prefix = plan.managed_policies[0]
            .arn
            .trim_end_matches(char::is_numeric)
            .to_owned();
        for n in [2, 10] {
            let arn = format!("{prefix}{n}");
            actual.own_policies.insert(
                arn.clone(),
                PolicyState {
                    arn,
                    default_version_id: "v3".to_owned(),
                    document: json!({}),
                    versions: ["v1", "v3"].map(str::to_owned).to_vec(),
                    tags: BTreeMap::new(),
                },
            );
        }
        let changes = teardown(&actual, &["profile".to_owned()]);
        let ops = operations(&changes);
        assert_eq!(ops.first(), Some(&"RemoveRoleFromInstanceProfile"));
        assert_eq!(ops.last(), Some(&"DeleteRole"));
        let detaches = ops.iter().filter(|op| **op == "DetachRolePolicy").count();
        assert_eq!(detaches, actual.attached_policy_arns.len());
        let deleted: Vec<&str> = changes
            .iter()
            .filter_map(|c| match c {
                Change::DeletePolicy { arn, .. } => arn.rsplit('-').next(),
                _ => None,
            })
            .collect();
        let mut expected: Vec<u64> = actual
            .own_policies
            .keys()
            .filter_map(|arn| arn.rsplit('-').next()?.parse().ok())
            .collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let deleted: Vec<u64> = deleted.iter().filter_map(|n| n.parse().ok()).collect();
        assert_eq!(deleted, expected, "highest number first");
        // Its old versions go as changes of their own, before the policy.
        let prune = changes.iter().position(|c| {
            *c == Change::DeletePolicyVersion {
                arn: format!("{prefix}10"),
                version_id: "v1".to_owned(),
            }
        });
        let delete = changes.iter().position(|c| {
            *c == Change::DeletePolicy {
                arn: format!("{prefix}10"),
                old_versions: Vec::new(),
            }
        });
        assert!(prune.is_some() && prune < delete, "{changes:?}");
        // Nothing of the role is deleted before it is emptied.
        let first_delete = ops.iter().position(|op| *op == "DeletePolicy").unwrap();
        assert!(ops[..first_delete].iter().all(|op| *op != "DeleteRole"));
    }

    #[test]
    fn undo_reverses_what_was_done_then_deletes_the_role() {
        let done = vec![
            Change::CreatePolicy {
                name: "p-1".to_owned(),
                path: "/".to_owned(),
                arn: "arn:aws:iam::123456789012:policy/p-1".to_owned(),
                document: json!({}),
                tags: Vec::new(),
            },
            Change::PutRolePolicy {
                name: "inline".to_owned(),
                document: json!({}),
            },
            Change::AttachRolePolicy {
                arn: "arn:aws:iam::123456789012:policy/p-1".to_owned(),
            },
        ];
        assert_eq!(
            undo(&done),
            vec![
                Change::DetachRolePolicy {
                    arn: "arn:aws:iam::123456789012:policy/p-1".to_owned()
                },
                Change::DeleteRolePolicy {
                    name: "inline".to_owned()
                },
                Change::DeletePolicy {
                    arn: "arn:aws:iam::123456789012:policy/p-1".to_owned(),
                    old_versions: Vec::new()
                },
                Change::DeleteRole,
            ]
        );
        assert_eq!(undo(&[]), vec![Change::DeleteRole]);
    }
}
