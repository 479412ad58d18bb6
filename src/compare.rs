//! Plan → plan comparison: what changes when a role declared one way is declared another way (or
//! as IAM holds it now). Pure, so `persona-role diff` is exact and testable offline.
//!
//! Statements are matched by `Sid` across all of a role's documents (inline and managed), so a
//! statement that moves between policies when packing changes shows as moved, not as removed and
//! added. Statements without a `Sid` (Role Manager's) are matched by policy and position (`<policy> #2`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::ownership::fold_key;
use crate::plan::naming::is_own_policy;
use crate::plan::{Plan, PlanTag, TRUST_LIMIT};
use crate::policy::{self, Statement};

/// Everything that differs between two plans of a role. Empty when nothing does.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Comparison {
    /// The role as the new plan names it.
    pub role_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed: Option<Change<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Change<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Change<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<Change<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<Change<Option<String>>>,
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub activities: Sets<String>,
    #[serde(skip_serializing_if = "TagChanges::is_empty")]
    pub tags: TagChanges,
    /// Statements of the trust policy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<StatementChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyChange>,
    /// Statements of the permission policies whose documents are known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statements: Vec<StatementChange>,
    /// Actions allowed by some statement on one side and by none on the other: what the role
    /// gains and loses overall, wherever the statements live.
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub allowed_actions: Sets<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<QuotaChange>,
}

impl Comparison {
    /// One line per change, for notes and logs (`persona-role diff` prints more).
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(c) = &self.renamed {
            lines.push(format!("role name {} → {}", c.old, c.new));
        }
        if let Some(c) = &self.path {
            lines.push(format!("path {} → {}", c.old, c.new));
        }
        if let Some(c) = &self.description {
            lines.push(format!("description {:?} → {:?}", c.old, c.new));
        }
        if let Some(c) = &self.max_session_duration {
            lines.push(format!("max session duration {} → {}", c.old, c.new));
        }
        if let Some(c) = &self.permissions_boundary {
            let show = |b: &Option<String>| b.clone().unwrap_or_else(|| "none".to_owned());
            lines.push(format!(
                "permissions boundary {} → {}",
                show(&c.old),
                show(&c.new)
            ));
        }
        if !self.activities.is_empty() {
            lines.push(format!(
                "activities {}",
                sets_text(&self.activities, |a| a.clone())
            ));
        }
        if !self.tags.is_empty() {
            let mut parts: Vec<String> = Vec::new();
            parts.extend(
                self.tags
                    .added
                    .iter()
                    .map(|t| format!("+{}={}", t.key, t.value)),
            );
            parts.extend(self.tags.removed.iter().map(|t| format!("-{}", t.key)));
            parts.extend(
                self.tags
                    .changed
                    .iter()
                    .map(|t| format!("{}: {} → {}", t.key, t.old, t.new)),
            );
            lines.push(format!("tags {}", parts.join(", ")));
        }
        for change in &self.trust {
            lines.push(format!("trust policy {}", change.summary()));
        }
        for change in &self.policies {
            let size = match (change.old_size, change.new_size) {
                (Some(a), Some(b)) => format!(" ({a} → {b} characters)"),
                (None, Some(b)) => format!(" ({b} characters)"),
                (Some(a), None) => format!(" ({a} characters)"),
                (None, None) => String::new(),
            };
            lines.push(format!(
                "{:?} {:?} policy {}{size}",
                change.change, change.kind, change.policy
            ));
        }
        for change in &self.statements {
            lines.push(format!("statement {}", change.summary()));
        }
        if !self.allowed_actions.is_empty() {
            lines.push(format!(
                "allowed actions {}",
                sets_text(&self.allowed_actions, |a| a.clone())
            ));
        }
        for quota in &self.quotas {
            lines.push(format!(
                "{:?} {} → {} of {}",
                quota.quota, quota.old, quota.new, quota.limit
            ));
        }
        lines
    }

    pub fn is_empty(&self) -> bool {
        self.renamed.is_none()
            && self.path.is_none()
            && self.description.is_none()
            && self.max_session_duration.is_none()
            && self.permissions_boundary.is_none()
            && self.activities.is_empty()
            && self.tags.is_empty()
            && self.trust.is_empty()
            && self.policies.is_empty()
            && self.statements.is_empty()
            && self.allowed_actions.is_empty()
            && self.quotas.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

/// What one side has and the other lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sets<T> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<T>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<T>,
}

impl<T> Default for Sets<T> {
    fn default() -> Self {
        Sets {
            added: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl<T: Ord + Clone> Sets<T> {
    fn between(old: &BTreeSet<T>, new: &BTreeSet<T>) -> Self {
        Sets {
            added: new.difference(old).cloned().collect(),
            removed: old.difference(new).cloned().collect(),
        }
    }
}

impl<T> Sets<T> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagChanges {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<PlanTag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<PlanTag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<TagValueChange>,
}

impl TagChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagValueChange {
    pub key: String,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum PolicyKind {
    /// An inline policy of the role.
    Inline,
    /// A customer-managed policy whose document is known.
    Managed,
    /// An attached policy known by ARN only (AWS managed, or given in ManagedPolicyArns).
    Attached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum PolicyChangeKind {
    /// A new policy of the role (inline, or its own managed policy, created and attached).
    Created,
    /// The document changes and so does its size.
    Resized,
    /// The document changes, its size does not.
    Changed,
    /// An existing managed policy is attached.
    Attached,
    /// A managed policy the role does not own is detached; the policy itself stays.
    Detached,
    /// A policy of the role is removed: inline, or its own managed policy (detached and deleted).
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyChange {
    pub change: PolicyChangeKind,
    pub kind: PolicyKind,
    /// Inline policy name, or managed policy ARN.
    pub policy: String,
    /// Characters as IAM counts them (without whitespace), where the document is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_size: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StatementChangeKind {
    Added,
    Removed,
    Changed,
    /// Same statement, another policy.
    Moved,
    /// Same statement, another Sid (`renamed_from`), perhaps another policy.
    Renamed,
}

/// One statement that differs. For an added statement every part is under `Added`, for a
/// removed one under `Removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatementChange {
    /// The statement's Sid, or `<policy> #<position from 1>` when it has none.
    pub statement: String,
    pub change: StatementChangeKind,
    /// The policy holding it on the new side (the old side for a removed statement).
    pub policy: String,
    /// The policy it held on the old side, when it moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    /// Its Sid (or position) on the old side, when only that changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Change<String>>,
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub actions: Sets<String>,
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub not_actions: Sets<String>,
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub resources: Sets<String>,
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub not_resources: Sets<String>,
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub principals: Sets<String>,
    #[serde(skip_serializing_if = "Sets::is_empty")]
    pub conditions: Sets<ConditionEntry>,
}

impl StatementChange {
    /// `Sid (policy): changed, +actions a; -resources r`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(from) = &self.renamed_from {
            parts.push(format!("was {from}"));
        }
        if let Some(from) = &self.moved_from {
            parts.push(format!("moved from {from}"));
        }
        if let Some(effect) = &self.effect {
            parts.push(format!("effect {} → {}", effect.old, effect.new));
        }
        for (what, sets) in [
            ("actions", &self.actions),
            ("not-actions", &self.not_actions),
            ("resources", &self.resources),
            ("not-resources", &self.not_resources),
            ("principals", &self.principals),
        ] {
            if !sets.is_empty() {
                parts.push(format!("{what} {}", sets_text(sets, |v| v.clone())));
            }
        }
        if !self.conditions.is_empty() {
            parts.push(format!(
                "conditions {}",
                sets_text(&self.conditions, ConditionEntry::to_string)
            ));
        }
        format!(
            "{} ({}): {:?}; {}",
            self.statement,
            self.policy,
            self.change,
            parts.join("; ")
        )
    }
}

impl std::fmt::Display for ConditionEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.operator, self.key, self.value)
    }
}

/// `+a, +b, -c`.
fn sets_text<T>(sets: &Sets<T>, show: impl Fn(&T) -> String) -> String {
    sets.added
        .iter()
        .map(|v| format!("+{}", show(v)))
        .chain(sets.removed.iter().map(|v| format!("-{}", show(v))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One value of one condition key under one operator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConditionEntry {
    pub operator: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Quota {
    /// All inline policies together, of 10,240 characters.
    InlineCharacters,
    /// The largest customer-managed policy, of 6,144 characters.
    LargestManagedPolicy,
    /// Managed policies attached, of the account's quota per role.
    AttachedManagedPolicies,
    /// The trust policy, of 2,048 characters.
    TrustPolicyCharacters,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QuotaChange {
    pub quota: Quota,
    pub old: usize,
    pub new: usize,
    pub limit: usize,
}

/// What changes from `old` to `new`.
pub fn compare(old: &Plan, new: &Plan) -> Comparison {
    let (old_role, new_role) = (&old.role, &new.role);
    let differs = |a: &str, b: &str| (a != b).then(|| change(a.to_owned(), b.to_owned()));
    let old_docs = documents(old, new);
    let new_docs = documents(new, old);
    Comparison {
        role_name: new_role.role_name.clone(),
        // IAM role names are unique ignoring case: `SageMaker-x` and `sagemaker-x` are one role.
        renamed: (!old_role.role_name.eq_ignore_ascii_case(&new_role.role_name))
            .then(|| change(old_role.role_name.clone(), new_role.role_name.clone())),
        path: differs(&old_role.path, &new_role.path),
        description: differs(&old_role.description, &new_role.description),
        max_session_duration: (old_role.max_session_duration != new_role.max_session_duration)
            .then(|| change(old_role.max_session_duration, new_role.max_session_duration)),
        // A declaration without a boundary gets the function's, and a boundary is never
        // removed: only a boundary the new side names can change it.
        permissions_boundary: (new_role.permissions_boundary.is_some()
            && old_role.permissions_boundary != new_role.permissions_boundary)
            .then(|| {
                change(
                    old_role.permissions_boundary.clone(),
                    new_role.permissions_boundary.clone(),
                )
            }),
        activities: Sets::between(
            &old.activities.iter().cloned().collect(),
            &new.activities.iter().cloned().collect(),
        ),
        tags: tag_changes(&old_role.tags, &new_role.tags),
        trust: statement_changes(
            &[("trust policy", &old_role.assume_role_policy_document)],
            &[("trust policy", &new_role.assume_role_policy_document)],
        ),
        policies: policy_changes(old, new, &old_docs, &new_docs),
        statements: statement_changes(&labelled(&old_docs), &labelled(&new_docs)),
        allowed_actions: Sets::between(&allowed_actions(&old_docs), &allowed_actions(&new_docs)),
        quotas: quota_changes(old, new),
    }
}

fn change<T>(old: T, new: T) -> Change<T> {
    Change { old, new }
}

/// Tag keys compare as IAM compares a role's: ignoring case (as the Update's diff does).
fn tag_changes(old: &[PlanTag], new: &[PlanTag]) -> TagChanges {
    let by_key = |tags: &[PlanTag]| -> BTreeMap<String, (String, String)> {
        tags.iter()
            .map(|t| (fold_key(&t.key), (t.key.clone(), t.value.clone())))
            .collect()
    };
    let (old, new) = (by_key(old), by_key(new));
    let tag = |key: &str, value: &str| PlanTag {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    let mut changes = TagChanges::default();
    for (folded, (key, value)) in &new {
        match old.get(folded) {
            None => changes.added.push(tag(key, value)),
            Some((_, before)) if before != value => changes.changed.push(TagValueChange {
                key: key.clone(),
                old: before.clone(),
                new: value.clone(),
            }),
            Some(_) => {}
        }
    }
    for (folded, (key, value)) in &old {
        if !new.contains_key(folded) {
            changes.removed.push(tag(key, value));
        }
    }
    changes
}

/// A policy document of one side, with how the role holds it.
#[derive(Debug)]
struct Document<'a> {
    kind: PolicyKind,
    /// Inline name or managed ARN.
    id: &'a str,
    /// Inline or managed policy name, for statement locations.
    name: &'a str,
    document: &'a Value,
}

/// The side's documents: inline policies, then managed ones. A managed policy attached on both
/// sides whose document only one side knows (it is not this resource's to change) counts on
/// both, so its statements do not show as added or removed.
fn documents<'a>(side: &'a Plan, other: &'a Plan) -> Vec<Document<'a>> {
    let attached = all_attached(side);
    let mut out: Vec<Document<'a>> = side
        .inline_policies
        .iter()
        .map(|p| Document {
            kind: PolicyKind::Inline,
            id: &p.policy_name,
            name: &p.policy_name,
            document: &p.policy_document,
        })
        .collect();
    out.extend(side.managed_policies.iter().map(|p| Document {
        kind: PolicyKind::Managed,
        id: &p.arn,
        name: &p.policy_name,
        document: &p.policy_document,
    }));
    for borrowed in &other.managed_policies {
        let known_here = side.managed_policies.iter().any(|p| p.arn == borrowed.arn);
        if attached.contains(borrowed.arn.as_str()) && !known_here {
            out.push(Document {
                kind: PolicyKind::Managed,
                id: &borrowed.arn,
                name: &borrowed.policy_name,
                document: &borrowed.policy_document,
            });
        }
    }
    out
}

fn all_attached(plan: &Plan) -> BTreeSet<&str> {
    plan.managed_policies
        .iter()
        .map(|p| p.arn.as_str())
        .chain(plan.attached_policy_arns.iter().map(String::as_str))
        .collect()
}

fn labelled<'a>(documents: &'a [Document<'a>]) -> Vec<(&'a str, &'a Value)> {
    documents.iter().map(|d| (d.name, d.document)).collect()
}

fn policy_changes(
    old: &Plan,
    new: &Plan,
    old_docs: &[Document<'_>],
    new_docs: &[Document<'_>],
) -> Vec<PolicyChange> {
    let mut changes = Vec::new();
    let by_id = |docs: &[Document<'_>], kind: PolicyKind| -> BTreeMap<String, (String, Value)> {
        docs.iter()
            .filter(|d| d.kind == kind)
            .map(|d| (d.id.to_owned(), (d.name.to_owned(), d.document.clone())))
            .collect()
    };
    for kind in [PolicyKind::Inline, PolicyKind::Managed] {
        let before = by_id(old_docs, kind);
        let after = by_id(new_docs, kind);
        for (id, (_, document)) in &after {
            let new_size = Some(crate::plan::iam_size(document));
            match before.get(id) {
                None => changes.push(PolicyChange {
                    change: PolicyChangeKind::Created,
                    kind,
                    policy: id.clone(),
                    old_size: None,
                    new_size,
                }),
                Some((_, previous)) if previous != document => {
                    let old_size = Some(crate::plan::iam_size(previous));
                    changes.push(PolicyChange {
                        change: if old_size == new_size {
                            PolicyChangeKind::Changed
                        } else {
                            PolicyChangeKind::Resized
                        },
                        kind,
                        policy: id.clone(),
                        old_size,
                        new_size,
                    });
                }
                Some(_) => {}
            }
        }
        for (id, (name, document)) in &before {
            if after.contains_key(id) {
                continue;
            }
            let own = kind == PolicyKind::Inline || is_own_policy(&old.role.role_name, name);
            changes.push(PolicyChange {
                change: if own {
                    PolicyChangeKind::Deleted
                } else {
                    PolicyChangeKind::Detached
                },
                kind,
                policy: id.clone(),
                old_size: Some(crate::plan::iam_size(document)),
                new_size: None,
            });
        }
    }
    // Policies known by ARN only: attached or detached.
    let known: BTreeSet<&str> = old_docs
        .iter()
        .chain(new_docs)
        .filter(|d| d.kind == PolicyKind::Managed)
        .map(|d| d.id)
        .collect();
    let before: BTreeSet<&str> = all_attached(old)
        .into_iter()
        .filter(|a| !known.contains(a))
        .collect();
    let after: BTreeSet<&str> = all_attached(new)
        .into_iter()
        .filter(|a| !known.contains(a))
        .collect();
    for (set, other, kind) in [
        (&after, &before, PolicyChangeKind::Attached),
        (&before, &after, PolicyChangeKind::Detached),
    ] {
        for arn in set.difference(other) {
            changes.push(PolicyChange {
                change: kind,
                kind: PolicyKind::Attached,
                policy: (*arn).to_owned(),
                old_size: None,
                new_size: None,
            });
        }
    }
    changes.sort_by(|a, b| (a.kind, &a.policy).cmp(&(b.kind, &b.policy)));
    changes
}

/// A statement flattened into comparable sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Flat {
    effect: String,
    actions: BTreeSet<String>,
    not_actions: BTreeSet<String>,
    resources: BTreeSet<String>,
    not_resources: BTreeSet<String>,
    principals: BTreeSet<String>,
    conditions: BTreeSet<ConditionEntry>,
}

/// `{"Service": "sagemaker.amazonaws.com"}` → `Service:sagemaker.amazonaws.com`; `"*"` → `*`.
fn principals(value: Option<&Value>) -> BTreeSet<String> {
    policy::principals(value).into_iter().collect()
}

fn conditions(statement: Statement<'_>) -> BTreeSet<ConditionEntry> {
    statement
        .conditions()
        .into_iter()
        .flat_map(|(operator, key, values)| {
            values.into_iter().map(move |value| ConditionEntry {
                operator: operator.to_owned(),
                key: key.to_owned(),
                value,
            })
        })
        .collect()
}

fn flatten(statement: Statement<'_>) -> Flat {
    let set = |values: Vec<String>| values.into_iter().collect::<BTreeSet<_>>();
    Flat {
        effect: statement.effect().to_owned(),
        actions: set(statement.actions()),
        not_actions: set(statement.not_actions()),
        resources: set(statement.resources()),
        not_resources: set(statement.not_resources()),
        principals: principals(statement.principal())
            .into_iter()
            .chain(
                principals(statement.not_principal())
                    .into_iter()
                    .map(|p| format!("not {p}")),
            )
            .collect(),
        conditions: conditions(statement),
    }
}

/// Statements keyed by Sid (or policy and position), each with its policy, in document order.
fn keyed<'a>(documents: &[(&'a str, &'a Value)]) -> Vec<(String, &'a str, Flat)> {
    let mut out: Vec<(String, &'a str, Flat)> = Vec::new();
    let mut seen = BTreeSet::new();
    for (policy, document) in documents {
        for (i, statement) in policy::statements(document).into_iter().enumerate() {
            let base = match statement.sid() {
                "" => format!("{policy} #{}", i + 1),
                sid => sid.to_owned(),
            };
            let mut key = base.clone();
            let mut n = 2;
            while seen.contains(&key) {
                key = format!("{base} ({n})");
                n += 1;
            }
            seen.insert(key.clone());
            out.push((key, *policy, flatten(statement)));
        }
    }
    out
}

/// Changed statements in the new side's order, then removed ones in the old side's order.
fn statement_changes(old: &[(&str, &Value)], new: &[(&str, &Value)]) -> Vec<StatementChange> {
    let before = keyed(old);
    let after = keyed(new);
    let find = |list: &[(String, &str, Flat)], key: &str| -> Option<(usize, usize)> {
        list.iter().position(|(k, _, _)| k == key).map(|i| (i, 0))
    };
    let mut changes = Vec::new();
    let empty = Flat::default();
    // A statement found on one side only whose content equals one found on the other side
    // only changed its Sid (Role Manager's `AssumeRole` trust statement against the plan's).
    let mut renamed: Vec<(&str, &str)> = Vec::new();
    for (new_key, _, flat) in &after {
        if find(&before, new_key).is_some() {
            continue;
        }
        let twin = before.iter().find(|(old_key, _, old_flat)| {
            find(&after, old_key).is_none()
                && old_flat == flat
                && !renamed.iter().any(|(o, _)| o == old_key)
        });
        if let Some((old_key, _, _)) = twin {
            renamed.push((old_key, new_key));
        }
    }
    let order = after.iter().map(|(k, _, _)| k).chain(
        before
            .iter()
            .map(|(k, _, _)| k)
            .filter(|k| find(&after, k).is_none() && !renamed.iter().any(|(o, _)| o == k)),
    );
    for key in order {
        if let Some((old_key, _)) = renamed.iter().find(|(_, n)| n == key) {
            let was = before
                .iter()
                .find(|(k, _, _)| k == old_key)
                .map_or("", |(_, p, _)| p);
            let policy = after
                .iter()
                .find(|(k, _, _)| k == key)
                .map_or("", |(_, p, _)| p);
            changes.push(StatementChange {
                statement: key.clone(),
                change: StatementChangeKind::Renamed,
                policy: policy.to_owned(),
                moved_from: (was != policy).then(|| was.to_owned()),
                renamed_from: Some((*old_key).to_owned()),
                effect: None,
                actions: Sets::default(),
                not_actions: Sets::default(),
                resources: Sets::default(),
                not_resources: Sets::default(),
                principals: Sets::default(),
                conditions: Sets::default(),
            });
            continue;
        }
        let old_entry = find(&before, key).map(|(i, _)| &before[i]);
        let new_entry = find(&after, key).map(|(i, _)| &after[i]);
        let (kind, policy, moved_from, a, b) = match (old_entry, new_entry) {
            (None, Some((_, policy, flat))) => {
                (StatementChangeKind::Added, *policy, None, &empty, flat)
            }
            (Some((_, policy, flat)), None) => {
                (StatementChangeKind::Removed, *policy, None, flat, &empty)
            }
            (Some((_, was, a)), Some((_, policy, b))) => {
                if a == b && was == policy {
                    continue;
                }
                let kind = if a == b {
                    StatementChangeKind::Moved
                } else {
                    StatementChangeKind::Changed
                };
                let moved_from = (was != policy).then(|| (*was).to_owned());
                (kind, *policy, moved_from, a, b)
            }
            (None, None) => continue,
        };
        changes.push(StatementChange {
            statement: key.clone(),
            change: kind,
            policy: policy.to_owned(),
            moved_from,
            renamed_from: None,
            effect: (a.effect != b.effect).then(|| change(a.effect.clone(), b.effect.clone())),
            actions: Sets::between(&a.actions, &b.actions),
            not_actions: Sets::between(&a.not_actions, &b.not_actions),
            resources: Sets::between(&a.resources, &b.resources),
            not_resources: Sets::between(&a.not_resources, &b.not_resources),
            principals: Sets::between(&a.principals, &b.principals),
            conditions: Sets::between(&a.conditions, &b.conditions),
        });
    }
    changes
}

fn allowed_actions(documents: &[Document<'_>]) -> BTreeSet<String> {
    documents
        .iter()
        .flat_map(|d| policy::statements(d.document))
        .filter(|s| s.is_allow())
        .flat_map(|s| s.actions())
        .collect()
}

fn quota_changes(old: &Plan, new: &Plan) -> Vec<QuotaChange> {
    let (a, b) = (&old.quotas, &new.quotas);
    [
        (
            Quota::InlineCharacters,
            a.inline_characters,
            b.inline_characters,
            b.inline_limit,
        ),
        (
            Quota::LargestManagedPolicy,
            a.largest_managed_policy,
            b.largest_managed_policy,
            b.managed_policy_limit,
        ),
        (
            Quota::AttachedManagedPolicies,
            a.attached_managed_policies,
            b.attached_managed_policies,
            b.max_managed_policies,
        ),
        (
            Quota::TrustPolicyCharacters,
            a.trust_policy_characters,
            b.trust_policy_characters,
            TRUST_LIMIT,
        ),
    ]
    .into_iter()
    .filter(|(_, old, new, _)| old != new)
    .map(|(quota, old, new, limit)| QuotaChange {
        quota,
        old,
        new,
        limit,
    })
    .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::context::StackContext;
    use crate::plan::plan_properties;
    use serde_json::json;

    fn context() -> StackContext {
        StackContext::from_stack_id(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10",
            "Role",
        )
        .unwrap()
    }

    fn plan(properties: Value) -> Plan {
        plan_properties(&properties, &context()).unwrap()
    }

    fn compute() -> Value {
        json!({"Persona": "SageMakerCompute", "RoleNameSuffix": "compute", "S3Buckets": ["data"]})
    }

    #[test]
    fn a_plan_equals_itself() {
        let a = plan(compute());
        assert!(compare(&a, &a).is_empty());
    }

    #[test]
    fn role_names_compare_ignoring_case_as_iam_does() {
        let a = plan(compute());
        let mut b = a.clone();
        b.role.role_name = "SageMaker-compute".to_owned();
        assert!(compare(&a, &b).is_empty());
        b.role.role_name = "sagemaker-other".to_owned();
        assert_eq!(
            compare(&a, &b).renamed,
            Some(change(
                "sagemaker-compute".to_owned(),
                "sagemaker-other".to_owned()
            ))
        );
    }

    #[test]
    fn a_declaration_without_a_boundary_keeps_the_roles() {
        let mut live = plan(compute());
        live.role.permissions_boundary = Some("arn:aws:iam::123456789012:policy/b".to_owned());
        let declared = plan(compute());
        assert!(
            compare(&live, &declared).is_empty(),
            "the function's boundary stays"
        );
        let mut other = declared.clone();
        other.role.permissions_boundary = Some("arn:aws:iam::123456789012:policy/c".to_owned());
        assert!(compare(&live, &other).permissions_boundary.is_some());
        assert!(compare(&declared, &live).permissions_boundary.is_some());
    }

    #[test]
    fn tag_keys_compare_ignoring_case_as_iam_does() {
        let mut properties = compute();
        properties["Tags"] = json!([{"Key": "team", "Value": "ml"}]);
        let a = plan(properties.clone());
        let mut b = a.clone();
        for tag in &mut b.role.tags {
            tag.key = tag.key.to_ascii_uppercase();
        }
        assert!(
            compare(&a, &b).is_empty(),
            "{:?}",
            compare(&a, &b).summary()
        );
        properties["Tags"] = json!([{"Key": "Team", "Value": "ops"}]);
        let c = plan(properties);
        let tags = compare(&a, &c).tags;
        assert_eq!(
            tags.changed,
            vec![TagValueChange {
                key: "Team".to_owned(),
                old: "ml".to_owned(),
                new: "ops".to_owned()
            }]
        );
        assert!(tags.added.is_empty() && tags.removed.is_empty());
    }

    #[test]
    fn a_new_bucket_adds_resources_to_the_statements_that_name_buckets() {
        let a = plan(compute());
        let mut properties = compute();
        properties["S3Buckets"] = json!(["data", "more"]);
        let b = plan(properties);
        let comparison = compare(&a, &b);
        let objects = comparison
            .statements
            .iter()
            .find(|s| s.statement == "AccessRequiredAwsServicesObjects")
            .unwrap();
        assert_eq!(objects.change, StatementChangeKind::Changed);
        assert_eq!(objects.resources.added, ["arn:aws:s3:::more/*"]);
        assert!(objects.resources.removed.is_empty() && objects.actions.is_empty());
        assert_eq!(comparison.policies[0].change, PolicyChangeKind::Resized);
        assert_eq!(comparison.quotas[0].quota, Quota::InlineCharacters);
        assert!(comparison.allowed_actions.is_empty());
    }

    #[test]
    fn statements_without_sid_match_by_policy_and_position() {
        let document = json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceAccount": "1"}}}]});
        let mut changed = document.clone();
        changed["Statement"][1]["Condition"]["StringEquals"]["aws:ResourceAccount"] = json!("2");
        let changes = statement_changes(&[("p", &document)], &[("p", &changed)]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].statement, "p #2");
        assert_eq!(changes[0].conditions.added[0].value, "2");
        assert_eq!(changes[0].conditions.removed[0].value, "1");
    }

    #[test]
    fn a_statement_that_only_changes_its_sid_is_renamed_not_replaced() {
        let statement = json!({"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "sagemaker.amazonaws.com"}});
        let mut with_sid = statement.clone();
        with_sid["Sid"] = json!("AssumeRole");
        let old = json!({"Statement": [with_sid]});
        let new = json!({"Statement": [statement]});
        let changes = statement_changes(&[("trust policy", &old)], &[("trust policy", &new)]);
        assert_eq!(changes.len(), 1, "{changes:#?}");
        assert_eq!(changes[0].change, StatementChangeKind::Renamed);
        assert_eq!(changes[0].statement, "trust policy #1");
        assert_eq!(changes[0].renamed_from.as_deref(), Some("AssumeRole"));
    }
}
