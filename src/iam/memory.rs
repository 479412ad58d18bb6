//! One IAM account in memory, implementing [`Iam`] as [`SdkIam`](super::SdkIam) answers over
//! real IAM: the same SDK operations logged for each method (one per page of a listing), the
//! same error codes and targets, removals of what is gone counted as done, and PutRolePolicy and
//! AttachRolePolicy retried on NoSuchEntity as the adapter retries them (without its pauses).
//!
//! It follows IAM where moto does not: names of roles and managed policies are unique ignoring
//! case and found in any case; a role's tag keys are one key ignoring case (a new spelling
//! replaces the tag); DeletePolicy refuses a policy still attached (DeleteConflict); the quotas
//! that bound a plan answer LimitExceeded (versions, attachments, tags, policy sizes). It does
//! not check that a permissions boundary exists, nor trust policies' meaning.
//!
//! Faults are injected per call ([`Fault`]): a throttle that outlasted the SDK's retries, a
//! change whose answer is lost after it took effect, a write failing before it is sent, a panic;
//! and eventual consistency ([`MemoryIam::invisible_for`]): a role or policy just created is not
//! found by the next reads that name it.
//!
//! [`MemoryIam::admin`] is another principal of the same account, for tests to seed and inspect
//! it: its calls are not logged, meet no fault and see everything at once.
//!
//! Test-only: compiled for the crate's unit tests and with the `memory-iam` feature, which only
//! the tests, benches and examples turn on; never in the Lambda or the CLI.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use crate::plan::{PlanTag, RolePlan};

use super::diff::created_role;
use super::inventory::RoleSummary;
use super::{
    ALREADY_EXISTS, Change, CreateRoleError, Iam, IamError, MAX_POLICY_VERSIONS, NO_SUCH_ENTITY,
    PolicyState, RoleState,
};
use crate::aws::Op;

/// IAM's error code for a delete of something still in use, or of a default version.
pub const DELETE_CONFLICT: &str = "DeleteConflict";
/// IAM's error code for a quota reached.
pub const LIMIT_EXCEEDED: &str = "LimitExceeded";
/// IAM's error code for a call refused for the account's rate.
pub const THROTTLING: &str = "Throttling";

/// Tags a role may carry.
pub const MAX_ROLE_TAGS: usize = 50;
/// Characters (whitespace not counted) of a role's inline policies together.
pub const MAX_INLINE_POLICY_SIZE: usize = 10_240;
/// Characters (whitespace not counted) of one managed policy document.
pub const MAX_MANAGED_POLICY_SIZE: usize = 6_144;
/// Managed policies attached to a role: IAM's quota once raised to its highest (the default is
/// 10); [`MemoryIam::with_attachment_quota`] sets another.
pub const DEFAULT_ATTACHMENT_QUOTA: usize = 20;
/// Items of a listing's page: IAM's default MaxItems, and the 1,000 the adapter asks
/// ListPolicies for.
pub const PAGE_SIZE: usize = 100;
pub const POLICIES_PAGE_SIZE: usize = 1_000;

/// A fault of one call, counted from when it is injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The `nth` call of `op` answers Throttling without effect: a throttle that outlasted the
    /// SDK's retries.
    Throttle { op: Op, nth: usize },
    /// The `nth` call of `op` takes effect, and its answer is lost: an error without code, as a
    /// reset connection or an attempt's timeout leaves it.
    LoseAnswer { op: Op, nth: usize },
    /// The `nth` write fails before it is sent: an error without code, no effect (a request
    /// that never left).
    FailWrite { nth: usize },
    /// The `nth` write panics before it is sent.
    PanicWrite { nth: usize },
}

/// The in-memory account; clones share it.
#[derive(Debug, Clone)]
pub struct MemoryIam {
    account: Arc<Mutex<Account>>,
    admin: bool,
}

impl Default for MemoryIam {
    fn default() -> Self {
        MemoryIam::new()
    }
}

#[derive(Debug)]
struct Account {
    partition: String,
    account_id: String,
    attachment_quota: usize,
    /// By name in lower case.
    roles: BTreeMap<String, Role>,
    /// By ARN in lower case.
    policies: BTreeMap<String, Policy>,
    /// Instance profiles by name in lower case.
    profiles: BTreeMap<String, Profile>,
    /// Users and groups a policy is attached to, by the policy's ARN in lower case.
    principals: BTreeMap<String, Vec<String>>,
    next_id: u64,
    calls: Vec<Op>,
    /// Calls of each operation, and writes, ever made: where injected faults count from.
    counts: BTreeMap<Op, usize>,
    writes: usize,
    faults: Vec<Armed>,
    /// Reads that miss a role, and a policy, just created.
    invisible_roles: usize,
    invisible_policies: usize,
    /// Entities not yet visible, with the reads that will still miss them.
    unseen: BTreeMap<String, usize>,
}

#[derive(Debug, Clone)]
struct Armed {
    fault: Fault,
    /// The count (of the operation, or of writes) at which it fires.
    at: usize,
}

#[derive(Debug, Clone)]
struct Role {
    state: RoleState,
    inline: BTreeMap<String, Value>,
    /// In attachment order.
    attached: Vec<String>,
}

#[derive(Debug, Clone)]
struct Policy {
    name: String,
    path: String,
    arn: String,
    versions: Vec<(String, Value)>,
    default_version: String,
    next_version: u64,
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Profile {
    name: String,
    roles: Vec<String>,
}

/// What a fault makes of a call about to be made.
enum Fate {
    Proceed,
    LoseAnswer,
}

/// An answer of IAM: its error code and message.
type Refusal = (&'static str, String);

impl MemoryIam {
    /// An empty account `123456789012` of partition `aws` (moto's).
    pub fn new() -> Self {
        MemoryIam::in_account("aws", "123456789012")
    }

    pub fn in_account(partition: &str, account_id: &str) -> Self {
        MemoryIam {
            account: Arc::new(Mutex::new(Account {
                partition: partition.to_owned(),
                account_id: account_id.to_owned(),
                attachment_quota: DEFAULT_ATTACHMENT_QUOTA,
                roles: BTreeMap::new(),
                policies: BTreeMap::new(),
                profiles: BTreeMap::new(),
                principals: BTreeMap::new(),
                next_id: 1,
                calls: Vec::new(),
                counts: BTreeMap::new(),
                writes: 0,
                faults: Vec::new(),
                invisible_roles: 0,
                invisible_policies: 0,
                unseen: BTreeMap::new(),
            })),
            admin: false,
        }
    }

    /// The same account with another quota of managed policies per role.
    pub fn with_attachment_quota(self, quota: usize) -> Self {
        self.lock().attachment_quota = quota;
        self
    }

    /// Another principal of the same account: unlogged, unfaulted, seeing every write at once.
    pub fn admin(&self) -> MemoryIam {
        MemoryIam {
            account: Arc::clone(&self.account),
            admin: true,
        }
    }

    /// Injects a fault, counted from now.
    pub fn inject(&self, fault: Fault) {
        let mut account = self.lock();
        let at = match &fault {
            Fault::Throttle { op, nth } | Fault::LoseAnswer { op, nth } => {
                account.counts.get(op).copied().unwrap_or(0) + nth
            }
            Fault::FailWrite { nth } | Fault::PanicWrite { nth } => account.writes + nth,
        };
        account.faults.push(Armed { fault, at });
    }

    /// From now on, each role or policy created is missed by the next `reads` calls naming it
    /// (IAM's eventual consistency).
    pub fn invisible_for(&self, reads: usize) {
        let mut account = self.lock();
        account.invisible_roles = reads;
        account.invisible_policies = reads;
    }

    /// As [`MemoryIam::invisible_for`], for roles only: policies are seen at once.
    pub fn roles_invisible_for(&self, reads: usize) {
        let mut account = self.lock();
        account.invisible_roles = reads;
        account.invisible_policies = 0;
    }

    /// The SDK operations called, in order, by name.
    pub fn calls(&self) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .map(|op| op.name().to_owned())
            .collect()
    }

    /// The writes among them.
    pub fn mutating(&self) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .filter(|op| op.is_write())
            .map(|op| op.name().to_owned())
            .collect()
    }

    /// Forgets the calls logged so far (faults keep counting).
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Puts `role` into instance profile `profile`, creating the profile if needed.
    pub fn add_role_to_instance_profile(&self, profile: &str, role: &str) -> Result<(), IamError> {
        let mut account = self.lock();
        let key = role.to_lowercase();
        let Some(role) = account.roles.get(&key).map(|r| r.state.name.clone()) else {
            return Err(refusal(
                Op::ListInstanceProfilesForRole,
                role,
                no_such_role(role),
            ));
        };
        account
            .profiles
            .entry(profile.to_lowercase())
            .or_insert_with(|| Profile {
                name: profile.to_owned(),
                roles: Vec::new(),
            })
            .roles
            .push(role);
        Ok(())
    }

    /// The roles in instance profile `profile`; none when there is no such profile.
    pub fn instance_profile_roles(&self, profile: &str) -> Option<Vec<String>> {
        self.lock()
            .profiles
            .get(&profile.to_lowercase())
            .map(|p| p.roles.clone())
    }

    /// Attaches policy `arn` to user `user`, outside of any role.
    pub fn attach_user_policy(&self, user: &str, arn: &str) -> Result<(), IamError> {
        self.attach_elsewhere(arn, format!("user `{user}`"))
    }

    /// Attaches policy `arn` to group `group`, outside of any role.
    pub fn attach_group_policy(&self, group: &str, arn: &str) -> Result<(), IamError> {
        self.attach_elsewhere(arn, format!("group `{group}`"))
    }

    /// Detaches policy `arn` from user `user`.
    pub fn detach_user_policy(&self, user: &str, arn: &str) {
        let principal = format!("user `{user}`");
        if let Some(principals) = self.lock().principals.get_mut(&arn.to_lowercase()) {
            principals.retain(|p| *p != principal);
        }
    }

    /// An AWS managed policy (`arn:PARTITION:iam::aws:policy/...`) the account can attach.
    pub fn add_aws_managed_policy(&self, arn: &str, document: Value) {
        let name = arn.rsplit('/').next().unwrap_or(arn).to_owned();
        self.lock().policies.insert(
            arn.to_lowercase(),
            Policy {
                name,
                path: "/".to_owned(),
                arn: arn.to_owned(),
                versions: vec![("v1".to_owned(), document)],
                default_version: "v1".to_owned(),
                next_version: 2,
                tags: BTreeMap::new(),
            },
        );
    }

    fn attach_elsewhere(&self, arn: &str, principal: String) -> Result<(), IamError> {
        let mut account = self.lock();
        let key = arn.to_lowercase();
        if !account.policies.contains_key(&key) {
            return Err(refusal(Op::ListEntitiesForPolicy, arn, no_such_policy(arn)));
        }
        account.principals.entry(key).or_default().push(principal);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Account> {
        self.account.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs a call of `op` and decides its fate by the faults injected.
    fn call(&self, op: Op, target: &str) -> Result<Fate, IamError> {
        if self.admin {
            return Ok(Fate::Proceed);
        }
        let mut account = self.lock();
        account.calls.push(op);
        let count = {
            let count = account.counts.entry(op).or_insert(0);
            *count += 1;
            *count
        };
        let writes = if op.is_write() {
            account.writes += 1;
            account.writes
        } else {
            0
        };
        let fired = account.faults.iter().position(|armed| match armed.fault {
            Fault::Throttle { op: o, .. } | Fault::LoseAnswer { op: o, .. } => {
                o == op && armed.at == count
            }
            Fault::FailWrite { .. } | Fault::PanicWrite { .. } => {
                op.is_write() && armed.at == writes
            }
        });
        let Some(fired) = fired else {
            return Ok(Fate::Proceed);
        };
        let armed = account.faults.remove(fired);
        drop(account);
        match armed.fault {
            Fault::Throttle { .. } => Err(refusal(
                op,
                target,
                (THROTTLING, "Rate exceeded".to_owned()),
            )),
            Fault::LoseAnswer { .. } => Ok(Fate::LoseAnswer),
            Fault::FailWrite { .. } => Err(unanswered(
                op,
                target,
                format!("injected failure in {}", op.name()),
            )),
            Fault::PanicWrite { .. } => panic_in(op),
        }
    }

    /// Makes a call: logs it, meets its fault, runs `effect` on the account (unless the fault
    /// refused it), and loses its answer if the fault says so.
    fn run<T>(
        &self,
        op: Op,
        target: &str,
        effect: impl FnOnce(&mut Account, bool) -> Result<T, Refusal>,
    ) -> Result<T, IamError> {
        let fate = self.call(op, target)?;
        let result = effect(&mut self.lock(), self.admin);
        match (fate, result) {
            (Fate::LoseAnswer, _) => Err(unanswered(
                op,
                target,
                "the connection was reset before the answer arrived".to_owned(),
            )),
            (Fate::Proceed, result) => result.map_err(|r| refusal(op, target, r)),
        }
    }

    fn apply_change(&self, role: &str, change: &Change) -> Result<(), IamError> {
        let op = change.operation();
        match change {
            Change::UpdateRole {
                description,
                max_session_duration,
            } => self.run(op, role, |a, admin| {
                let r = a.role_mut(role, admin)?;
                r.state.description = Some(description.clone());
                r.state.max_session_duration = Some(*max_session_duration);
                Ok(())
            }),
            Change::UpdateAssumeRolePolicy { document } => self.run(op, role, |a, admin| {
                a.role_mut(role, admin)?.state.trust = document.clone();
                Ok(())
            }),
            Change::PutRolePermissionsBoundary { arn } => self.run(op, arn, |a, admin| {
                a.role_mut(role, admin)?.state.permissions_boundary = Some(arn.clone());
                Ok(())
            }),
            Change::TagRole { tags } => {
                let keys: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
                self.run(op, &keys.join(","), |a, admin| {
                    let r = a.role_mut(role, admin)?;
                    let mut merged = r.state.tags.clone();
                    for tag in tags {
                        merged.retain(|k, _| !k.eq_ignore_ascii_case(&tag.key));
                        merged.insert(tag.key.clone(), tag.value.clone());
                    }
                    if merged.len() > MAX_ROLE_TAGS {
                        return Err((
                            LIMIT_EXCEEDED,
                            format!("Cannot exceed quota for TagsPerRole: {MAX_ROLE_TAGS}"),
                        ));
                    }
                    r.state.tags = merged;
                    Ok(())
                })
            }
            Change::UntagRole { keys } => self.run(op, &keys.join(","), |a, admin| {
                let r = a.role_mut(role, admin)?;
                r.state
                    .tags
                    .retain(|k, _| !keys.iter().any(|key| key.eq_ignore_ascii_case(k)));
                Ok(())
            }),
            Change::CreatePolicy {
                name,
                path,
                arn,
                document,
                tags,
            } => self.run(op, arn, |a, _| {
                a.create_policy(name, path, document, tags).map(drop)
            }),
            Change::DeletePolicyVersion { arn, version_id } => {
                self.run(op, &format!("{arn} {version_id}"), |a, admin| {
                    a.delete_policy_version(arn, version_id, admin)
                })
            }
            Change::CreatePolicyVersion { arn, document } => self.run(op, arn, |a, admin| {
                check_size(document, MAX_MANAGED_POLICY_SIZE, "PolicySize")?;
                let p = a.policy_mut(arn, admin)?;
                if p.versions.len() >= MAX_POLICY_VERSIONS {
                    return Err((
                        LIMIT_EXCEEDED,
                        format!(
                            "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                        ),
                    ));
                }
                let id = format!("v{}", p.next_version);
                p.next_version += 1;
                p.versions.push((id.clone(), document.clone()));
                p.default_version = id;
                Ok(())
            }),
            Change::TagPolicy { arn, tags } => self.run(op, arn, |a, admin| {
                let p = a.policy_mut(arn, admin)?;
                for tag in tags {
                    p.tags.insert(tag.key.clone(), tag.value.clone());
                }
                Ok(())
            }),
            Change::UntagPolicy { arn, keys } => self.run(op, arn, |a, admin| {
                let p = a.policy_mut(arn, admin)?;
                p.tags.retain(|k, _| !keys.contains(k));
                Ok(())
            }),
            Change::DetachRolePolicy { arn } => self.run(op, arn, |a, admin| {
                let r = a.role_mut(role, admin)?;
                let before = r.attached.len();
                r.attached.retain(|x| !x.eq_ignore_ascii_case(arn));
                if r.attached.len() == before {
                    return Err(no_such_policy(arn));
                }
                Ok(())
            }),
            Change::DeleteRolePolicy { name } => self.run(op, name, |a, admin| {
                let r = a.role_mut(role, admin)?;
                match r.inline.remove(name) {
                    Some(_) => Ok(()),
                    None => Err((
                        NO_SUCH_ENTITY,
                        format!("The role policy with name {name} cannot be found."),
                    )),
                }
            }),
            Change::PutRolePolicy { name, document } => self.until_visible(|| {
                self.run(op, name, |a, admin| {
                    let r = a.role_mut(role, admin)?;
                    let mut inline = r.inline.clone();
                    inline.insert(name.clone(), document.clone());
                    let size: usize = inline.values().map(policy_size).sum();
                    if size > MAX_INLINE_POLICY_SIZE {
                        return Err((
                            LIMIT_EXCEEDED,
                            format!(
                                "Maximum policy size of {MAX_INLINE_POLICY_SIZE} bytes exceeded for role {}",
                                r.state.name
                            ),
                        ));
                    }
                    r.inline = inline;
                    Ok(())
                })
            }),
            Change::AttachRolePolicy { arn } => {
                self.until_visible(|| self.run(op, arn, |a, admin| a.attach(role, arn, admin)))
            }
            Change::DeletePolicy { arn, old_versions } => {
                for version_id in old_versions {
                    let deleted =
                        self.run(Op::DeletePolicyVersion, &format!("{arn} {version_id}"), {
                            |a, admin| a.delete_policy_version(arn, version_id, admin)
                        });
                    gone_is_done(deleted)?;
                }
                self.run(op, arn, |a, admin| a.delete_policy(arn, admin))
            }
            Change::RemoveRoleFromInstanceProfile { profile } => {
                self.run(op, profile, |a, admin| {
                    let name = a.role_mut(role, admin)?.state.name.clone();
                    let Some(p) = a.profiles.get_mut(&profile.to_lowercase()) else {
                        return Err((
                            NO_SUCH_ENTITY,
                            format!("Instance Profile {profile} cannot be found."),
                        ));
                    };
                    let before = p.roles.len();
                    p.roles.retain(|r| *r != name);
                    if p.roles.len() == before {
                        return Err(no_such_role(role));
                    }
                    Ok(())
                })
            }
            Change::DeleteRole => self.run(op, role, |a, admin| a.delete_role(role, admin)),
        }
    }

    /// As the adapter writes what names a role or policy created moments ago: NoSuchEntity is
    /// tried again, as many times as the adapter pauses.
    fn until_visible(&self, call: impl Fn() -> Result<(), IamError>) -> Result<(), IamError> {
        let mut retries = super::client::VISIBILITY_RETRIES.len();
        loop {
            match call() {
                Err(e) if e.code() == Some(NO_SUCH_ENTITY) && retries > 0 => retries -= 1,
                other => return other,
            }
        }
    }

    /// A listing of `items`, one logged call of `op` per page; a fault on a page fails it.
    fn paged<T>(&self, op: Op, target: &str, items: Vec<T>) -> Result<Vec<T>, IamError> {
        let size = match op {
            Op::ListPolicies => POLICIES_PAGE_SIZE,
            _ => PAGE_SIZE,
        };
        let pages = items.len().div_ceil(size).max(1);
        for _ in 1..pages {
            self.run(op, target, |_, _| Ok(()))?;
        }
        Ok(items)
    }
}

impl Account {
    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!(
            "arn:{}:iam::{}:{kind}{path}{name}",
            self.partition, self.account_id
        )
    }

    /// Whether a read by a caller (not the admin) misses `key`, just written; counts the miss.
    fn missed(&mut self, key: &str, admin: bool) -> bool {
        if admin {
            return false;
        }
        match self.unseen.get_mut(key) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    fn written(&mut self, key: String, reads: usize) {
        if reads > 0 {
            self.unseen.insert(key, reads);
        }
    }

    fn role_key(name: &str) -> String {
        format!("role:{}", name.to_lowercase())
    }

    fn policy_key(arn: &str) -> String {
        format!("policy:{}", arn.to_lowercase())
    }

    fn role(&mut self, name: &str, admin: bool) -> Result<&Role, Refusal> {
        self.role_mut(name, admin).map(|r| &*r)
    }

    fn role_mut(&mut self, name: &str, admin: bool) -> Result<&mut Role, Refusal> {
        if self.missed(&Account::role_key(name), admin) {
            return Err(no_such_role(name));
        }
        self.roles
            .get_mut(&name.to_lowercase())
            .ok_or_else(|| no_such_role(name))
    }

    fn policy(&mut self, arn: &str, admin: bool) -> Result<&Policy, Refusal> {
        self.policy_mut(arn, admin).map(|p| &*p)
    }

    fn policy_mut(&mut self, arn: &str, admin: bool) -> Result<&mut Policy, Refusal> {
        if self.missed(&Account::policy_key(arn), admin) {
            return Err(no_such_policy(arn));
        }
        self.policies
            .get_mut(&arn.to_lowercase())
            .ok_or_else(|| no_such_policy(arn))
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:017X}", self.next_id)
    }

    fn create_role(&mut self, plan: &RolePlan) -> Result<RoleState, Refusal> {
        let key = plan.role_name.to_lowercase();
        if self.roles.contains_key(&key) {
            return Err((
                ALREADY_EXISTS,
                format!("Role with name {} already exists.", plan.role_name),
            ));
        }
        let mut tags = BTreeMap::new();
        for tag in &plan.tags {
            tags.retain(|k: &String, _| !k.eq_ignore_ascii_case(&tag.key));
            tags.insert(tag.key.clone(), tag.value.clone());
        }
        if tags.len() > MAX_ROLE_TAGS {
            return Err((
                LIMIT_EXCEEDED,
                format!("Cannot exceed quota for TagsPerRole: {MAX_ROLE_TAGS}"),
            ));
        }
        let arn = self.arn("role", &plan.path, &plan.role_name);
        let role_id = self.next_id("AROA");
        let mut state = created_role(plan, arn, role_id);
        state.tags = tags;
        self.roles.insert(
            key,
            Role {
                state: state.clone(),
                inline: BTreeMap::new(),
                attached: Vec::new(),
            },
        );
        self.written(Account::role_key(&plan.role_name), self.invisible_roles);
        Ok(state)
    }

    fn create_policy(
        &mut self,
        name: &str,
        path: &str,
        document: &Value,
        tags: &[PlanTag],
    ) -> Result<String, Refusal> {
        let arn = self.arn("policy", path, name);
        // Names are unique in the account ignoring case, whatever the path.
        let taken = self
            .policies
            .values()
            .any(|p| p.name.eq_ignore_ascii_case(name) && !is_aws_managed(&p.arn));
        if taken {
            return Err((
                ALREADY_EXISTS,
                format!("A policy called {name} already exists. Duplicate names are not allowed."),
            ));
        }
        check_size(document, MAX_MANAGED_POLICY_SIZE, "PolicySize")?;
        self.policies.insert(
            arn.to_lowercase(),
            Policy {
                name: name.to_owned(),
                path: path.to_owned(),
                arn: arn.clone(),
                versions: vec![("v1".to_owned(), document.clone())],
                default_version: "v1".to_owned(),
                next_version: 2,
                tags: tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
            },
        );
        self.written(Account::policy_key(&arn), self.invisible_policies);
        Ok(arn)
    }

    fn delete_policy_version(
        &mut self,
        arn: &str,
        version_id: &str,
        admin: bool,
    ) -> Result<(), Refusal> {
        let p = self.policy_mut(arn, admin)?;
        if p.default_version == version_id {
            return Err((
                DELETE_CONFLICT,
                "Cannot delete the default version of a policy.".to_owned(),
            ));
        }
        let before = p.versions.len();
        p.versions.retain(|(id, _)| id != version_id);
        if p.versions.len() == before {
            return Err((
                NO_SUCH_ENTITY,
                format!("Policy {arn} version {version_id} does not exist or is not attachable."),
            ));
        }
        Ok(())
    }

    fn attachments(&self, arn: &str) -> Vec<String> {
        let mut entities: Vec<String> = self
            .roles
            .values()
            .filter(|r| r.attached.iter().any(|a| a.eq_ignore_ascii_case(arn)))
            .map(|r| r.state.name.clone())
            .collect();
        entities.extend(
            self.principals
                .get(&arn.to_lowercase())
                .cloned()
                .unwrap_or_default(),
        );
        entities
    }

    fn delete_policy(&mut self, arn: &str, admin: bool) -> Result<(), Refusal> {
        let p = self.policy(arn, admin)?;
        if p.versions.len() > 1 {
            return Err((
                DELETE_CONFLICT,
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".to_owned(),
            ));
        }
        if !self.attachments(arn).is_empty() {
            return Err((
                DELETE_CONFLICT,
                "Cannot delete a policy attached to entities.".to_owned(),
            ));
        }
        self.policies.remove(&arn.to_lowercase());
        Ok(())
    }

    fn attach(&mut self, role: &str, arn: &str, admin: bool) -> Result<(), Refusal> {
        self.role(role, admin)?;
        let stored = self.policy(arn, admin)?.arn.clone();
        let quota = self.attachment_quota;
        // Found above: looked up again without counting a second read.
        let r = self
            .roles
            .get_mut(&role.to_lowercase())
            .ok_or_else(|| no_such_role(role))?;
        if r.attached.iter().any(|a| a.eq_ignore_ascii_case(arn)) {
            return Ok(());
        }
        if r.attached.len() >= quota {
            return Err((
                LIMIT_EXCEEDED,
                format!("Cannot exceed quota for PoliciesPerRole: {quota}"),
            ));
        }
        r.attached.push(stored);
        Ok(())
    }

    fn delete_role(&mut self, name: &str, admin: bool) -> Result<(), Refusal> {
        let r = self.role(name, admin)?;
        let stored = r.state.name.clone();
        if !r.inline.is_empty() {
            return Err((
                DELETE_CONFLICT,
                "Cannot delete entity, must delete policies first.".to_owned(),
            ));
        }
        if !r.attached.is_empty() {
            return Err((
                DELETE_CONFLICT,
                "Cannot delete entity, must detach all policies first.".to_owned(),
            ));
        }
        if self.profiles.values().any(|p| p.roles.contains(&stored)) {
            return Err((
                DELETE_CONFLICT,
                "Cannot delete entity, must remove roles from instance profile first.".to_owned(),
            ));
        }
        self.roles.remove(&name.to_lowercase());
        Ok(())
    }
}

impl Iam for MemoryIam {
    async fn get_role(&self, name: &str) -> Result<Option<RoleState>, IamError> {
        let read = self.run(Op::GetRole, name, |a, admin| {
            a.role(name, admin).map(|r| r.state.clone())
        });
        found(read)
    }

    async fn inline_policies(&self, role: &str) -> Result<BTreeMap<String, Value>, IamError> {
        let names = self.inline_policy_names(role).await?;
        let mut policies = BTreeMap::new();
        for name in names {
            if let Some(document) = self.inline_policy(role, &name).await? {
                policies.insert(name, document);
            }
        }
        Ok(policies)
    }

    async fn inline_policy(&self, role: &str, name: &str) -> Result<Option<Value>, IamError> {
        let read = self.run(Op::GetRolePolicy, name, |a, admin| {
            a.role(role, admin)?.inline.get(name).cloned().ok_or((
                NO_SUCH_ENTITY,
                format!("The role policy with name {name} cannot be found."),
            ))
        });
        found(read)
    }

    async fn inline_policy_names(&self, role: &str) -> Result<Vec<String>, IamError> {
        let names = self.run(Op::ListRolePolicies, role, |a, admin| {
            Ok(a.role(role, admin)?.inline.keys().cloned().collect())
        })?;
        self.paged(Op::ListRolePolicies, role, names)
    }

    async fn attached_policy_arns(&self, role: &str) -> Result<BTreeSet<String>, IamError> {
        let arns: Vec<String> = self.run(Op::ListAttachedRolePolicies, role, |a, admin| {
            Ok(a.role(role, admin)?.attached.clone())
        })?;
        Ok(self
            .paged(Op::ListAttachedRolePolicies, role, arns)?
            .into_iter()
            .collect())
    }

    async fn instance_profiles(&self, role: &str) -> Result<Vec<String>, IamError> {
        let profiles = self.run(Op::ListInstanceProfilesForRole, role, |a, admin| {
            let name = a.role(role, admin)?.state.name.clone();
            Ok(a.profiles
                .values()
                .filter(|p| p.roles.contains(&name))
                .map(|p| p.name.clone())
                .collect())
        })?;
        self.paged(Op::ListInstanceProfilesForRole, role, profiles)
    }

    async fn get_policy(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        let head = self.run(Op::GetPolicy, arn, |a, admin| a.policy(arn, admin).cloned());
        let Some(policy) = found(head)? else {
            return Ok(None);
        };
        let versions = self.policy_versions(arn)?;
        let document = self.run(Op::GetPolicyVersion, arn, |a, admin| {
            let p = a.policy(arn, admin)?;
            p.versions
                .iter()
                .find(|(id, _)| *id == policy.default_version)
                .map(|(_, document)| document.clone())
                .ok_or_else(|| no_such_policy(arn))
        })?;
        Ok(Some(PolicyState {
            arn: policy.arn,
            default_version_id: policy.default_version,
            document,
            versions,
            tags: policy.tags,
        }))
    }

    async fn policy_summary(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        let head = self.run(Op::GetPolicy, arn, |a, admin| a.policy(arn, admin).cloned());
        let versions = self.policy_versions(arn);
        let Some(policy) = found(head)? else {
            return Ok(None);
        };
        Ok(Some(PolicyState {
            arn: policy.arn,
            default_version_id: policy.default_version,
            document: Value::Null,
            versions: versions?,
            tags: policy.tags,
        }))
    }

    async fn local_policy_arns(&self, path: &str) -> Result<Vec<String>, IamError> {
        let arns = self.run(Op::ListPolicies, path, |a, _| {
            Ok(a.policies
                .values()
                .filter(|p| !is_aws_managed(&p.arn) && p.path.starts_with(path))
                .map(|p| p.arn.clone())
                .collect())
        })?;
        self.paged(Op::ListPolicies, path, arns)
    }

    async fn other_attachments(&self, arn: &str, role: &str) -> Result<Vec<String>, IamError> {
        let listed = self.run(Op::ListEntitiesForPolicy, arn, |a, admin| {
            a.policy(arn, admin)?;
            let roles: Vec<String> = a
                .roles
                .values()
                .filter(|r| r.attached.iter().any(|x| x.eq_ignore_ascii_case(arn)))
                .map(|r| r.state.name.clone())
                .collect();
            Ok((
                roles,
                a.principals
                    .get(&arn.to_lowercase())
                    .cloned()
                    .unwrap_or_default(),
            ))
        });
        let (roles, principals) = match listed {
            Ok(listed) => listed,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut others: Vec<String> = roles
            .into_iter()
            .filter(|name| name != role)
            .map(|name| format!("role `{name}`"))
            .collect();
        // Users before groups, as the adapter lists them.
        let (users, groups): (Vec<String>, Vec<String>) =
            principals.into_iter().partition(|p| p.starts_with("user "));
        others.extend(users);
        others.extend(groups);
        Ok(others)
    }

    async fn all_roles(&self) -> Result<Vec<RoleSummary>, IamError> {
        let roles = self.run(Op::ListRoles, "*", |a, _| {
            Ok(a.roles
                .values()
                .map(|r| RoleSummary {
                    name: r.state.name.clone(),
                    path: r.state.path.clone(),
                    arn: r.state.arn.clone(),
                })
                .collect())
        })?;
        self.paged(Op::ListRoles, "*", roles)
    }

    async fn create_role(&self, plan: &RolePlan) -> Result<RoleState, CreateRoleError> {
        let name = plan.role_name.as_str();
        match self.run(Op::CreateRole, name, |a, _| a.create_role(plan)) {
            Ok(role) => Ok(role),
            Err(e) if e.code() == Some(ALREADY_EXISTS) => Err(CreateRoleError::AlreadyExists),
            Err(e) => Err(CreateRoleError::Failed(e)),
        }
    }

    async fn apply(&self, role: &str, change: &Change) -> Result<(), IamError> {
        let result = self.apply_change(role, change);
        if change.removes() {
            gone_is_done(result)
        } else {
            result
        }
    }
}

impl MemoryIam {
    fn policy_versions(&self, arn: &str) -> Result<Vec<String>, IamError> {
        let versions = self.run(Op::ListPolicyVersions, arn, |a, admin| {
            Ok(a.policy(arn, admin)?
                .versions
                .iter()
                .map(|(id, _)| id.clone())
                .collect())
        })?;
        self.paged(Op::ListPolicyVersions, arn, versions)
    }
}

// -------------------------------------------------------------------- helpers

fn is_aws_managed(arn: &str) -> bool {
    arn.split(':').nth(4) == Some("aws")
}

fn no_such_role(name: &str) -> Refusal {
    (
        NO_SUCH_ENTITY,
        format!("The role with name {name} cannot be found."),
    )
}

fn no_such_policy(arn: &str) -> Refusal {
    (
        NO_SUCH_ENTITY,
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

/// IAM counts a document's characters without its whitespace.
fn policy_size(document: &Value) -> usize {
    document
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

fn check_size(document: &Value, limit: usize, quota: &str) -> Result<(), Refusal> {
    if policy_size(document) > limit {
        return Err((
            LIMIT_EXCEEDED,
            format!("Cannot exceed quota for {quota}: {limit}"),
        ));
    }
    Ok(())
}

/// An error IAM answered, shaped as the adapter shapes it.
fn refusal(operation: Op, target: &str, (code, message): Refusal) -> IamError {
    IamError::Call {
        operation,
        target: target.to_owned(),
        code: Some(code.to_owned()),
        message: format!("{code}: {message}"),
    }
}

/// A call that got no answer: it may or may not have taken effect.
fn unanswered(operation: Op, target: &str, message: String) -> IamError {
    IamError::Call {
        operation,
        target: target.to_owned(),
        code: None,
        message,
    }
}

/// NoSuchEntity as absence.
fn found<T>(read: Result<T, IamError>) -> Result<Option<T>, IamError> {
    match read {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code() == Some(NO_SUCH_ENTITY) => Ok(None),
        Err(e) => Err(e),
    }
}

fn gone_is_done(result: Result<(), IamError>) -> Result<(), IamError> {
    match result {
        Err(e) if e.code() == Some(NO_SUCH_ENTITY) => Ok(()),
        other => other,
    }
}

/// The injected panic of [`Fault::PanicWrite`].
#[allow(clippy::panic)]
fn panic_in(op: Op) -> ! {
    panic!("injected panic in {}", op.name())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(name: &str) -> RolePlan {
        RolePlan {
            role_name: name.to_owned(),
            path: "/".to_owned(),
            arn: format!("arn:aws:iam::123456789012:role/{name}"),
            description: "d".to_owned(),
            assume_role_policy_document: json!({}),
            max_session_duration: 3600,
            permissions_boundary: None,
            tags: Vec::new(),
        }
    }

    fn document() -> Value {
        json!({"Version": "2012-10-17", "Statement": []})
    }

    fn create_policy(name: &str) -> Change {
        Change::CreatePolicy {
            name: name.to_owned(),
            path: "/".to_owned(),
            arn: format!("arn:aws:iam::123456789012:policy/{name}"),
            document: document(),
            tags: Vec::new(),
        }
    }

    fn put(name: &str) -> Change {
        Change::PutRolePolicy {
            name: name.to_owned(),
            document: document(),
        }
    }

    #[tokio::test]
    async fn each_method_logs_the_sdk_calls_the_adapter_makes() {
        let iam = MemoryIam::new();
        iam.create_role(&plan("r")).await.unwrap();
        iam.apply("r", &create_policy("p")).await.unwrap();
        iam.apply("r", &put("a")).await.unwrap();
        iam.clear_calls();
        let arn = "arn:aws:iam::123456789012:policy/p";
        iam.get_policy(arn).await.unwrap().unwrap();
        iam.policy_summary(arn).await.unwrap().unwrap();
        iam.inline_policies("r").await.unwrap();
        let delete = Change::DeletePolicy {
            arn: arn.to_owned(),
            old_versions: vec!["v9".to_owned()],
        };
        iam.apply("r", &delete).await.unwrap();
        assert_eq!(
            iam.calls(),
            [
                "GetPolicy",
                "ListPolicyVersions",
                "GetPolicyVersion",
                "GetPolicy",
                "ListPolicyVersions",
                "ListRolePolicies",
                "GetRolePolicy",
                "DeletePolicyVersion",
                "DeletePolicy",
            ]
        );
        assert_eq!(iam.mutating(), ["DeletePolicyVersion", "DeletePolicy"]);
        assert!(iam.admin().get_role("r").await.unwrap().is_some());
        assert_eq!(iam.calls().len(), 9, "the admin's calls are not logged");
    }

    #[tokio::test]
    async fn the_nth_call_of_an_operation_is_throttled_without_effect() {
        let iam = MemoryIam::new();
        iam.create_role(&plan("r")).await.unwrap();
        iam.inject(Fault::Throttle {
            op: Op::PutRolePolicy,
            nth: 2,
        });
        iam.apply("r", &put("a")).await.unwrap();
        let throttled = iam.apply("r", &put("b")).await.unwrap_err();
        assert_eq!(throttled.code(), Some(THROTTLING));
        assert!(throttled.is_definite());
        iam.apply("r", &put("c")).await.unwrap();
        assert_eq!(iam.inline_policy_names("r").await.unwrap(), ["a", "c"]);
    }

    #[tokio::test]
    async fn a_lost_answer_leaves_the_call_done_and_its_retry_finds_it_done() {
        let iam = MemoryIam::new();
        iam.inject(Fault::LoseAnswer {
            op: Op::CreateRole,
            nth: 1,
        });
        let lost = iam.create_role(&plan("r")).await.unwrap_err();
        let CreateRoleError::Failed(lost) = lost else {
            panic!("an error without answer, not AlreadyExists");
        };
        assert_eq!(lost.code(), None);
        assert!(!lost.is_definite());
        assert!(matches!(
            iam.create_role(&plan("r")).await,
            Err(CreateRoleError::AlreadyExists)
        ));
    }

    #[tokio::test]
    async fn a_write_fails_or_panics_at_its_count_from_injection() {
        let iam = MemoryIam::new();
        iam.create_role(&plan("r")).await.unwrap();
        iam.inject(Fault::FailWrite { nth: 2 });
        iam.apply("r", &put("a")).await.unwrap();
        let failed = iam.apply("r", &put("b")).await.unwrap_err();
        assert_eq!(failed.code(), None);
        assert!(
            failed
                .to_string()
                .contains("injected failure in PutRolePolicy")
        );
        assert_eq!(iam.inline_policy_names("r").await.unwrap(), ["a"]);
        iam.inject(Fault::PanicWrite { nth: 1 });
        let panicked = tokio::spawn({
            let iam = iam.clone();
            async move { iam.apply("r", &put("c")).await }
        })
        .await;
        assert!(panicked.unwrap_err().is_panic());
        assert_eq!(iam.inline_policy_names("r").await.unwrap(), ["a"]);
    }

    #[tokio::test]
    async fn what_was_just_created_is_missed_by_the_next_reads_naming_it() {
        let iam = MemoryIam::new();
        iam.invisible_for(2);
        iam.create_role(&plan("r")).await.unwrap();
        assert!(iam.admin().get_role("r").await.unwrap().is_some());
        assert_eq!(iam.get_role("r").await.unwrap(), None);
        assert_eq!(iam.get_role("R").await.unwrap(), None);
        assert!(iam.get_role("r").await.unwrap().is_some());

        // Writes naming a role not yet shown are tried again, as the adapter tries them.
        iam.create_role(&plan("s")).await.unwrap();
        iam.clear_calls();
        iam.apply("s", &put("a")).await.unwrap();
        assert_eq!(
            iam.calls(),
            ["PutRolePolicy", "PutRolePolicy", "PutRolePolicy"]
        );
        // Past the adapter's retries: NoSuchEntity.
        iam.invisible_for(9);
        iam.apply("s", &create_policy("p")).await.unwrap();
        let attach = Change::AttachRolePolicy {
            arn: "arn:aws:iam::123456789012:policy/p".to_owned(),
        };
        let missing = iam.apply("s", &attach).await.unwrap_err();
        assert_eq!(missing.code(), Some(NO_SUCH_ENTITY));
    }

    #[tokio::test]
    async fn a_listing_is_one_call_per_page() {
        let iam = MemoryIam::new();
        for i in 0..=PAGE_SIZE {
            iam.create_role(&plan(&format!("r{i}"))).await.unwrap();
        }
        iam.clear_calls();
        assert_eq!(iam.all_roles().await.unwrap().len(), PAGE_SIZE + 1);
        assert_eq!(iam.calls(), ["ListRoles", "ListRoles"]);
    }

    #[tokio::test]
    async fn quotas_answer_limit_exceeded() {
        let iam = MemoryIam::new().with_attachment_quota(1);
        iam.create_role(&plan("r")).await.unwrap();
        for name in ["p", "q"] {
            iam.apply("r", &create_policy(name)).await.unwrap();
        }
        let attach = |name: &str| Change::AttachRolePolicy {
            arn: format!("arn:aws:iam::123456789012:policy/{name}"),
        };
        iam.apply("r", &attach("p")).await.unwrap();
        let refused = iam.apply("r", &attach("q")).await.unwrap_err();
        assert_eq!(refused.code(), Some(LIMIT_EXCEEDED));

        let tags: Vec<PlanTag> = (0..=MAX_ROLE_TAGS)
            .map(|i| PlanTag {
                key: format!("k{i}"),
                value: String::new(),
            })
            .collect();
        let refused = iam.apply("r", &Change::TagRole { tags }).await.unwrap_err();
        assert_eq!(refused.code(), Some(LIMIT_EXCEEDED));

        let big = json!({"Statement": [{"Action": "x".repeat(MAX_INLINE_POLICY_SIZE)}]});
        let put = Change::PutRolePolicy {
            name: "big".to_owned(),
            document: big,
        };
        let refused = iam.apply("r", &put).await.unwrap_err();
        assert_eq!(refused.code(), Some(LIMIT_EXCEEDED));
    }
}
