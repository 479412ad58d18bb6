//! Which changes may run at the same time. A list of changes (a diff, a teardown, an undo) is
//! in an order that is always safe; this splits it into waves, each wave's changes independent
//! of one another, so that the answer waits for IAM's dependency chain rather than for every
//! call in turn. The split is pure (the order constraints are data, tested as a table);
//! [`concurrently`] runs one wave's, or any independent reads', calls.

use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream;

use super::Change;
use crate::aws::meter::MAX_CALLS_IN_FLIGHT;

/// Runs the calls concurrently, at most [`MAX_CALLS_IN_FLIGHT`] at once, and returns every
/// result in the calls' order (none is dropped when another fails). The calls are collected
/// first so that the returned future holds no closure (which would keep it from being `Send`).
pub fn concurrently<F: Future>(
    calls: impl IntoIterator<Item = F>,
) -> impl Future<Output = Vec<F::Output>> {
    let calls: Vec<F> = calls.into_iter().collect();
    stream::iter(calls).buffered(MAX_CALLS_IN_FLIGHT).collect()
}

/// What a change touches: two changes with the same subject keep their order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject<'a> {
    /// A managed policy (create, tags, attach, detach, delete, its default version).
    Policy(&'a str),
    /// All of a managed policy's versions (a new default, the policy's deletion).
    Versions(&'a str),
    /// One old version of a managed policy (its pruning): independent of the policy's other
    /// old versions, part of all of them.
    Version(&'a str, &'a str),
    /// An inline policy of the role.
    Inline(&'a str),
    /// The role's description and session duration.
    RoleSettings,
    /// The role's trust policy.
    Trust,
    /// The role's permissions boundary.
    Boundary,
    /// The role's tags.
    RoleTags,
    /// One instance profile's membership.
    Profile(&'a str),
    /// The role itself: nothing may pass its deletion.
    Role,
}

/// What a change touches (one or two subjects). Pruning a policy's old versions touches only
/// its versions, so it runs beside the policy's detachment; its deletion waits for both.
fn subjects(change: &Change) -> [Option<Subject<'_>>; 2] {
    let one = |subject| [Some(subject), None];
    match change {
        Change::DeletePolicyVersion { arn, version_id } => one(Subject::Version(arn, version_id)),
        Change::CreatePolicyVersion { arn, .. } | Change::DeletePolicy { arn, .. } => {
            [Some(Subject::Policy(arn)), Some(Subject::Versions(arn))]
        }
        Change::CreatePolicy { arn, .. }
        | Change::TagPolicy { arn, .. }
        | Change::UntagPolicy { arn, .. }
        | Change::DetachRolePolicy { arn }
        | Change::AttachRolePolicy { arn } => one(Subject::Policy(arn)),
        Change::PutRolePolicy { name, .. } | Change::DeleteRolePolicy { name } => {
            one(Subject::Inline(name))
        }
        Change::UpdateRole { .. } => one(Subject::RoleSettings),
        Change::UpdateAssumeRolePolicy { .. } => one(Subject::Trust),
        Change::PutRolePermissionsBoundary { .. } => one(Subject::Boundary),
        Change::TagRole { .. } | Change::UntagRole { .. } => one(Subject::RoleTags),
        Change::RemoveRoleFromInstanceProfile { profile } => one(Subject::Profile(profile)),
        Change::DeleteRole => one(Subject::Role),
    }
}

/// Whether two subjects share anything: equal, or one version and all of that policy's.
fn overlaps(a: &Subject<'_>, b: &Subject<'_>) -> bool {
    match (a, b) {
        (Subject::Version(p, _), Subject::Versions(q))
        | (Subject::Versions(q), Subject::Version(p, _)) => p == q,
        _ => a == b,
    }
}

/// Whether the change can give the role a permission it did not have.
fn grants(change: &Change) -> bool {
    matches!(
        change,
        Change::PutRolePolicy { .. }
            | Change::AttachRolePolicy { .. }
            | Change::CreatePolicyVersion { .. }
    )
}

/// Whether `later` must wait for `earlier` (which comes before it in the list).
fn must_follow(earlier: &Change, later: &Change) -> bool {
    let (a, b) = (subjects(earlier), subjects(later));
    let touches = |subjects: &[Option<Subject>; 2], subject: &Subject| {
        subjects.iter().flatten().any(|s| overlaps(s, subject))
    };
    a.iter().flatten().any(|s| touches(&b, s))
        || touches(&a, &Subject::Role)
        || touches(&b, &Subject::Role)
        // The ceiling is in place before anything new is granted under it.
        || (touches(&a, &Subject::Boundary) && grants(later))
        // Quotas: room is made before it is taken (managed policies per role, the role's
        // inline policy characters).
        || (matches!(earlier, Change::DetachRolePolicy { .. })
            && matches!(later, Change::AttachRolePolicy { .. }))
        || (matches!(earlier, Change::DeleteRolePolicy { .. })
            && matches!(later, Change::PutRolePolicy { .. }))
}

/// The changes in waves: every change lands one wave after the last change it must follow, so
/// the waves in order keep every constraint of the list's order, and nothing inside a wave
/// depends on anything else in it. Within a wave, changes keep their list order.
pub fn waves(changes: &[Change]) -> Vec<Vec<&Change>> {
    let mut wave_of: Vec<usize> = Vec::with_capacity(changes.len());
    let mut waves: Vec<Vec<&Change>> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let wave = changes[..i]
            .iter()
            .zip(&wave_of)
            .filter(|(earlier, _)| must_follow(earlier, change))
            .map(|(_, wave)| wave + 1)
            .max()
            .unwrap_or(0);
        wave_of.push(wave);
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(change);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_policy(arn: &str) -> Change {
        Change::CreatePolicy {
            name: arn.to_owned(),
            path: "/".to_owned(),
            arn: arn.to_owned(),
            document: json!({}),
            tags: Vec::new(),
        }
    }
    fn attach(arn: &str) -> Change {
        Change::AttachRolePolicy {
            arn: arn.to_owned(),
        }
    }
    fn detach(arn: &str) -> Change {
        Change::DetachRolePolicy {
            arn: arn.to_owned(),
        }
    }
    fn delete_policy(arn: &str) -> Change {
        Change::DeletePolicy {
            arn: arn.to_owned(),
            old_versions: Vec::new(),
        }
    }
    fn put(name: &str) -> Change {
        Change::PutRolePolicy {
            name: name.to_owned(),
            document: json!({}),
        }
    }
    fn delete_inline(name: &str) -> Change {
        Change::DeleteRolePolicy {
            name: name.to_owned(),
        }
    }
    fn version(arn: &str) -> Change {
        Change::CreatePolicyVersion {
            arn: arn.to_owned(),
            document: json!({}),
        }
    }
    fn prune(arn: &str, version_id: &str) -> Change {
        Change::DeletePolicyVersion {
            arn: arn.to_owned(),
            version_id: version_id.to_owned(),
        }
    }
    fn boundary() -> Change {
        Change::PutRolePermissionsBoundary {
            arn: "b".to_owned(),
        }
    }
    fn tag() -> Change {
        Change::TagRole { tags: Vec::new() }
    }
    fn untag() -> Change {
        Change::UntagRole { keys: Vec::new() }
    }
    fn trust() -> Change {
        Change::UpdateAssumeRolePolicy {
            document: json!({}),
        }
    }
    fn profile(name: &str) -> Change {
        Change::RemoveRoleFromInstanceProfile {
            profile: name.to_owned(),
        }
    }

    /// Each wave as the list indexes of its changes.
    fn layout(changes: &[Change]) -> Vec<Vec<usize>> {
        waves(changes)
            .iter()
            .map(|wave| {
                wave.iter()
                    .filter_map(|c| changes.iter().position(|x| std::ptr::eq(x, *c)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn changes_wait_only_for_what_they_depend_on() {
        type Row = (&'static str, Vec<Change>, Vec<Vec<usize>>);
        let rows: Vec<Row> = vec![
            ("nothing to do", vec![], vec![]),
            (
                "a Create's policies: made together, then attached together",
                vec![
                    create_policy("p1"),
                    create_policy("p2"),
                    put("inline"),
                    attach("p1"),
                    attach("p2"),
                    attach("aws-managed"),
                ],
                vec![vec![0, 1, 2, 5], vec![3, 4]],
            ),
            (
                "a teardown: out of everything at once, own policies deleted after their detach, the role last",
                vec![
                    profile("ip"),
                    detach("p1"),
                    detach("aws-managed"),
                    delete_inline("inline"),
                    delete_policy("p1"),
                    Change::DeleteRole,
                ],
                vec![vec![0, 1, 2, 3], vec![4], vec![5]],
            ),
            (
                "an undo: reverse of what was done, then the role",
                vec![
                    detach("p2"),
                    detach("p1"),
                    delete_inline("inline"),
                    delete_policy("p2"),
                    delete_policy("p1"),
                    Change::DeleteRole,
                ],
                vec![vec![0, 1, 2], vec![3, 4], vec![5]],
            ),
            (
                "the boundary is set before anything new is granted, not before removals",
                vec![
                    boundary(),
                    trust(),
                    version("p1"),
                    detach("old"),
                    put("inline"),
                    attach("new"),
                ],
                vec![vec![0, 1, 3], vec![2, 4, 5]],
            ),
            (
                "room before taking it: detach before any attach, inline delete before any put",
                vec![
                    detach("old"),
                    delete_inline("persona-role-2"),
                    put("persona-role"),
                    attach("new"),
                ],
                vec![vec![0, 1], vec![2, 3]],
            ),
            (
                "a policy's old versions pruned together, then the new default",
                vec![
                    prune("p1", "v1"),
                    prune("p1", "v2"),
                    version("p1"),
                    prune("p2", "v1"),
                    version("p2"),
                ],
                vec![vec![0, 1, 3], vec![2, 4]],
            ),
            (
                "a policy's old versions pruned beside its detachment, the policy deleted after both",
                vec![
                    detach("p1"),
                    prune("p1", "v1"),
                    prune("p1", "v2"),
                    delete_policy("p1"),
                ],
                vec![vec![0, 1, 2], vec![3]],
            ),
            (
                "tag and untag of the role keep their order",
                vec![tag(), untag(), trust()],
                vec![vec![0, 2], vec![1]],
            ),
        ];
        for (name, changes, expected) in rows {
            assert_eq!(layout(&changes), expected, "{name}");
        }
    }

    #[test]
    fn every_order_constraint_of_the_list_holds_across_waves() {
        let changes = vec![
            boundary(),
            tag(),
            untag(),
            create_policy("p1"),
            prune("p2", "v1"),
            version("p2"),
            detach("old"),
            delete_inline("old-inline"),
            put("inline"),
            attach("p1"),
            delete_policy("old"),
            profile("ip"),
            Change::DeleteRole,
        ];
        let waves = waves(&changes);
        let wave_of = |c: &Change| {
            waves
                .iter()
                .position(|w| w.iter().any(|x| std::ptr::eq(*x, c)))
        };
        assert_eq!(waves.iter().map(Vec::len).sum::<usize>(), changes.len());
        for (i, earlier) in changes.iter().enumerate() {
            for later in &changes[i + 1..] {
                if must_follow(earlier, later) {
                    assert!(
                        wave_of(earlier) < wave_of(later),
                        "{earlier:?} must come before {later:?}"
                    );
                }
            }
        }
    }
}
