//! The thin adapter over aws-sdk-iam: read a role's state, apply [`Change`]s, delete a role with
//! everything it owns, undo a half-done creation. Every mutating call is logged as one line
//! (`iam_action`, `role`, `target`) inside the caller's span, which names the request.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use serde_json::Value;

use crate::plan::{PlanTag, RolePlan};

use super::diff::created_role;
use super::{
    Actual, Change, IamError, MAX_OWN_POLICIES, Owner, PolicyState, RoleState, decode_document,
};

const NO_SUCH_ENTITY: &str = "NoSuchEntity";
const ALREADY_EXISTS: &str = "EntityAlreadyExists";

/// What a Delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// No such role: already gone.
    NotFound,
    /// The role exists but its ownership tags name another stack or logical id: left untouched.
    NotOwned,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRoleError {
    /// A role of that name exists (whoever owns it).
    AlreadyExists,
    Failed(IamError),
}

/// aws-sdk-iam, as this crate uses it.
#[derive(Debug, Clone)]
pub struct Iam {
    client: aws_sdk_iam::Client,
}

impl Iam {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Iam { client }
    }

    pub fn client(&self) -> &aws_sdk_iam::Client {
        &self.client
    }

    // ---------------------------------------------------------------- reads

    /// The role and its tags; `None` when there is no such role.
    pub async fn get_role(&self, name: &str) -> Result<Option<RoleState>, IamError> {
        let output = match read(
            "GetRole",
            name,
            self.client.get_role().role_name(name).send(),
        )
        .await
        {
            Ok(output) => output,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(None),
            Err(e) => return Err(e),
        };
        let role = output.role().ok_or_else(|| IamError::Incomplete {
            operation: "GetRole",
            target: name.to_owned(),
            what: "a role",
        })?;
        let trust = match role.assume_role_policy_document() {
            Some(raw) => document(name, raw)?,
            None => Value::Null,
        };
        // GetRole carries the role's tags (at most 50): no ListRoleTags call is needed.
        let tags = tag_pairs(role.tags());
        Ok(Some(RoleState {
            name: role.role_name().to_owned(),
            path: role.path().to_owned(),
            arn: role.arn().to_owned(),
            role_id: role.role_id().to_owned(),
            description: role.description().map(str::to_owned),
            max_session_duration: role
                .max_session_duration()
                .and_then(|s| u32::try_from(s).ok()),
            trust,
            permissions_boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_owned),
            tags,
        }))
    }

    /// Everything of the role a plan decides. Fails with [`IamError::ForeignPolicy`] when one of
    /// the planned managed policies exists without this resource's ownership tags.
    pub async fn read_actual(
        &self,
        role: RoleState,
        planned_policy_arns: &[String],
        owner: &Owner,
    ) -> Result<Actual, IamError> {
        let name = role.name.clone();
        let mut inline_policies = BTreeMap::new();
        for policy_name in self.inline_policy_names(&name).await? {
            let output = read(
                "GetRolePolicy",
                &policy_name,
                self.client
                    .get_role_policy()
                    .role_name(&name)
                    .policy_name(&policy_name)
                    .send(),
            )
            .await?;
            let value = document(&policy_name, output.policy_document())?;
            inline_policies.insert(policy_name, value);
        }
        let attached_policy_arns = self.attached_policy_arns(&name).await?;
        let own_policies = self
            .own_policies(&role, planned_policy_arns, &attached_policy_arns, owner)
            .await?;
        Ok(Actual {
            role,
            inline_policies,
            attached_policy_arns,
            own_policies,
        })
    }

    async fn inline_policy_names(&self, role: &str) -> Result<Vec<String>, IamError> {
        read(
            "ListRolePolicies",
            role,
            self.client
                .list_role_policies()
                .role_name(role)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .await
    }

    async fn attached_policy_arns(&self, role: &str) -> Result<BTreeSet<String>, IamError> {
        let attached = read(
            "ListAttachedRolePolicies",
            role,
            self.client
                .list_attached_role_policies()
                .role_name(role)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .await?;
        Ok(attached
            .iter()
            .filter_map(|p| p.policy_arn())
            .map(str::to_owned)
            .collect())
    }

    /// The role's own managed policies (`<path><role>-<n>` with this resource's ownership tags):
    /// the planned ones, attached ones of that name, and those numbered after the planned ones,
    /// probed until the first gap.
    pub async fn own_policies(
        &self,
        role: &RoleState,
        planned: &[String],
        attached: &BTreeSet<String>,
        owner: &Owner,
    ) -> Result<BTreeMap<String, PolicyState>, IamError> {
        let mut found = BTreeMap::new();
        let Some(prefix) = role.own_policy_prefix() else {
            return Ok(found);
        };
        let numbered = |arn: &str| {
            arn.strip_prefix(prefix.as_str())
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let mut candidates: BTreeSet<String> = planned.iter().cloned().collect();
        candidates.extend(attached.iter().filter(|a| numbered(a)).cloned());
        for arn in &candidates {
            match self.read_policy(arn).await? {
                Some(state) if owner.owns(&state.tags) => {
                    found.insert(arn.clone(), state);
                }
                Some(_) if planned.contains(arn) => {
                    return Err(IamError::ForeignPolicy { arn: arn.clone() });
                }
                _ => {}
            }
        }
        for n in planned.len() + 1..=MAX_OWN_POLICIES {
            let arn = format!("{prefix}{n}");
            if candidates.contains(&arn) {
                continue;
            }
            match self.read_policy(&arn).await? {
                Some(state) if owner.owns(&state.tags) => {
                    found.insert(arn, state);
                }
                Some(_) => {}
                None => break,
            }
        }
        Ok(found)
    }

    /// A customer-managed policy: its tags, versions and default document; `None` when absent.
    pub async fn read_policy(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        let output = match read(
            "GetPolicy",
            arn,
            self.client.get_policy().policy_arn(arn).send(),
        )
        .await
        {
            Ok(output) => output,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(None),
            Err(e) => return Err(e),
        };
        let default_version_id = output
            .policy()
            .and_then(|p| p.default_version_id())
            .ok_or_else(|| IamError::Incomplete {
                operation: "GetPolicy",
                target: arn.to_owned(),
                what: "a default version",
            })?
            .to_owned();
        // GetPolicy carries the policy's tags: no ListPolicyTags call is needed.
        let tags = tag_pairs(output.policy().map(|p| p.tags()).unwrap_or_default());
        let versions = self.policy_versions(arn).await?;
        let version = read(
            "GetPolicyVersion",
            arn,
            self.client
                .get_policy_version()
                .policy_arn(arn)
                .version_id(&default_version_id)
                .send(),
        )
        .await?;
        let raw = version
            .policy_version()
            .and_then(|v| v.document())
            .ok_or_else(|| IamError::Incomplete {
                operation: "GetPolicyVersion",
                target: arn.to_owned(),
                what: "a document",
            })?;
        Ok(Some(PolicyState {
            arn: arn.to_owned(),
            document: document(arn, raw)?,
            default_version_id,
            versions,
            tags,
        }))
    }

    async fn policy_versions(&self, arn: &str) -> Result<Vec<String>, IamError> {
        let versions = read(
            "ListPolicyVersions",
            arn,
            self.client
                .list_policy_versions()
                .policy_arn(arn)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .await?;
        Ok(versions
            .iter()
            .filter_map(|v| v.version_id())
            .map(str::to_owned)
            .collect())
    }

    /// Users, groups and roles other than `role` that a policy is attached to.
    async fn other_entities(&self, arn: &str, role: &str) -> Result<Vec<String>, IamError> {
        let pages = read(
            "ListEntitiesForPolicy",
            arn,
            self.client
                .list_entities_for_policy()
                .policy_arn(arn)
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .await?;
        let mut others = Vec::new();
        for page in &pages {
            others.extend(
                page.policy_roles()
                    .iter()
                    .filter_map(|r| r.role_name())
                    .filter(|name| *name != role)
                    .map(|name| format!("role `{name}`")),
            );
            others.extend(
                page.policy_users()
                    .iter()
                    .filter_map(|u| u.user_name())
                    .map(|name| format!("user `{name}`")),
            );
            others.extend(
                page.policy_groups()
                    .iter()
                    .filter_map(|g| g.group_name())
                    .map(|name| format!("group `{name}`")),
            );
        }
        Ok(others)
    }

    // ---------------------------------------------------------------- writes

    /// Creates the role as planned (trust, description, path, max session, boundary, tags).
    pub async fn create_role(&self, plan: &RolePlan) -> Result<RoleState, CreateRoleError> {
        let name = plan.role_name.as_str();
        let mut request = self
            .client
            .create_role()
            .role_name(name)
            .path(&plan.path)
            .assume_role_policy_document(plan.assume_role_policy_document.to_string())
            .description(&plan.description)
            .max_session_duration(i32::try_from(plan.max_session_duration).unwrap_or(i32::MAX))
            .set_permissions_boundary(plan.permissions_boundary.clone());
        for tag in &plan.tags {
            request = request.tags(sdk_tag(tag).map_err(CreateRoleError::Failed)?);
        }
        let output = match mutate(name, "CreateRole", name, request.send()).await {
            Ok(output) => output,
            Err(e) if e.code() == Some(ALREADY_EXISTS) => {
                return Err(CreateRoleError::AlreadyExists);
            }
            Err(e) => return Err(CreateRoleError::Failed(e)),
        };
        let role = output.role().ok_or_else(|| {
            CreateRoleError::Failed(IamError::Incomplete {
                operation: "CreateRole",
                target: name.to_owned(),
                what: "a role",
            })
        })?;
        Ok(created_role(
            plan,
            role.arn().to_owned(),
            role.role_id().to_owned(),
        ))
    }

    /// Applies changes in order; each one that succeeds is appended to `done`.
    pub async fn apply(
        &self,
        role: &str,
        changes: &[Change],
        done: &mut Vec<Change>,
    ) -> Result<(), IamError> {
        for change in changes {
            self.apply_one(role, change).await?;
            done.push(change.clone());
        }
        Ok(())
    }

    async fn apply_one(&self, role: &str, change: &Change) -> Result<(), IamError> {
        let c = &self.client;
        let op = change.operation();
        match change {
            Change::UpdateRole {
                description,
                max_session_duration,
            } => {
                let request = c
                    .update_role()
                    .role_name(role)
                    .description(description)
                    .max_session_duration(i32::try_from(*max_session_duration).unwrap_or(i32::MAX));
                mutate(role, op, role, request.send()).await.map(drop)
            }
            Change::UpdateAssumeRolePolicy { document } => {
                let request = c
                    .update_assume_role_policy()
                    .role_name(role)
                    .policy_document(document.to_string());
                mutate(role, op, role, request.send()).await.map(drop)
            }
            Change::PutRolePermissionsBoundary { arn } => {
                let request = c
                    .put_role_permissions_boundary()
                    .role_name(role)
                    .permissions_boundary(arn);
                mutate(role, op, arn, request.send()).await.map(drop)
            }
            Change::DeleteRolePermissionsBoundary => {
                let request = c.delete_role_permissions_boundary().role_name(role);
                mutate(role, op, role, request.send()).await.map(drop)
            }
            Change::TagRole { tags } => {
                let request = c.tag_role().role_name(role).set_tags(Some(sdk_tags(tags)?));
                mutate(role, op, &tag_keys(tags), request.send())
                    .await
                    .map(drop)
            }
            Change::UntagRole { keys } => {
                let request = c
                    .untag_role()
                    .role_name(role)
                    .set_tag_keys(Some(keys.clone()));
                mutate(role, op, &keys.join(","), request.send())
                    .await
                    .map(drop)
            }
            Change::CreatePolicy {
                name,
                path,
                arn,
                document,
                tags,
            } => {
                let request = c
                    .create_policy()
                    .policy_name(name)
                    .path(path)
                    .policy_document(document.to_string())
                    .description(format!("Managed by persona-role for role {role}"))
                    .set_tags(Some(sdk_tags(tags)?));
                mutate(role, op, arn, request.send()).await.map(drop)
            }
            Change::DeletePolicyVersion { arn, version_id } => {
                let request = c
                    .delete_policy_version()
                    .policy_arn(arn)
                    .version_id(version_id);
                mutate(role, op, &format!("{arn} {version_id}"), request.send())
                    .await
                    .map(drop)
            }
            Change::CreatePolicyVersion { arn, document } => {
                let request = c
                    .create_policy_version()
                    .policy_arn(arn)
                    .policy_document(document.to_string())
                    .set_as_default(true);
                mutate(role, op, arn, request.send()).await.map(drop)
            }
            Change::TagPolicy { arn, tags } => {
                let request = c
                    .tag_policy()
                    .policy_arn(arn)
                    .set_tags(Some(sdk_tags(tags)?));
                mutate(role, op, arn, request.send()).await.map(drop)
            }
            Change::UntagPolicy { arn, keys } => {
                let request = c
                    .untag_policy()
                    .policy_arn(arn)
                    .set_tag_keys(Some(keys.clone()));
                mutate(role, op, arn, request.send()).await.map(drop)
            }
            Change::DetachRolePolicy { arn } => self.detach(role, arn).await,
            Change::DeleteRolePolicy { name } => self.delete_inline(role, name).await,
            Change::PutRolePolicy { name, document } => {
                let document = document.to_string();
                until_visible(|| {
                    let request = c
                        .put_role_policy()
                        .role_name(role)
                        .policy_name(name)
                        .policy_document(document.clone());
                    mutate(role, op, name, request.send())
                })
                .await
                .map(drop)
            }
            Change::AttachRolePolicy { arn } => until_visible(|| {
                let request = c.attach_role_policy().role_name(role).policy_arn(arn);
                mutate(role, op, arn, request.send())
            })
            .await
            .map(drop),
            Change::DeletePolicy { arn, old_versions } => {
                self.ensure_unused_elsewhere(arn, role).await?;
                self.delete_policy(role, arn, old_versions).await
            }
        }
    }

    async fn detach(&self, role: &str, arn: &str) -> Result<(), IamError> {
        let request = self
            .client
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn);
        gone_is_done(mutate(role, "DetachRolePolicy", arn, request.send()).await)
    }

    async fn delete_inline(&self, role: &str, name: &str) -> Result<(), IamError> {
        let request = self
            .client
            .delete_role_policy()
            .role_name(role)
            .policy_name(name);
        gone_is_done(mutate(role, "DeleteRolePolicy", name, request.send()).await)
    }

    /// Deletes the given old versions, then the policy. Absent versions or policy are fine.
    async fn delete_policy(
        &self,
        role: &str,
        arn: &str,
        old_versions: &[String],
    ) -> Result<(), IamError> {
        for version_id in old_versions {
            let request = self
                .client
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(version_id);
            let target = format!("{arn} {version_id}");
            gone_is_done(mutate(role, "DeletePolicyVersion", &target, request.send()).await)?;
        }
        let request = self.client.delete_policy().policy_arn(arn);
        gone_is_done(mutate(role, "DeletePolicy", arn, request.send()).await)
    }

    /// IAM refuses to delete a policy that is still attached (moto does not): check first, and
    /// never detach it from principals this resource does not manage.
    async fn ensure_unused_elsewhere(&self, arn: &str, role: &str) -> Result<(), IamError> {
        let others = match self.other_entities(arn, role).await {
            Ok(others) => others,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(()),
            Err(e) => return Err(e),
        };
        if others.is_empty() {
            Ok(())
        } else {
            Err(IamError::PolicyInUse {
                arn: arn.to_owned(),
                entities: others.join(", "),
            })
        }
    }

    /// Deletes a role this resource owns with all it has: removes it from instance profiles,
    /// detaches managed policies, deletes inline policies and its own managed policies (all
    /// versions), then the role. Changes nothing when the role is absent or not owned, or when one
    /// of its own policies is in use elsewhere.
    pub async fn delete_role(&self, name: &str, owner: &Owner) -> Result<Deletion, IamError> {
        let Some(role) = self.get_role(name).await? else {
            return Ok(Deletion::NotFound);
        };
        if !owner.owns(&role.tags) {
            return Ok(Deletion::NotOwned);
        }
        let inline = self.inline_policy_names(name).await?;
        let attached = self.attached_policy_arns(name).await?;
        let own = self.own_policies(&role, &[], &attached, owner).await?;
        for arn in own.keys() {
            self.ensure_unused_elsewhere(arn, name).await?;
        }
        let profiles = read(
            "ListInstanceProfilesForRole",
            name,
            self.client
                .list_instance_profiles_for_role()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .await?;
        for profile in &profiles {
            let profile_name = profile.instance_profile_name();
            let request = self
                .client
                .remove_role_from_instance_profile()
                .instance_profile_name(profile_name)
                .role_name(name);
            gone_is_done(
                mutate(
                    name,
                    "RemoveRoleFromInstanceProfile",
                    profile_name,
                    request.send(),
                )
                .await,
            )?;
        }
        for arn in &attached {
            self.detach(name, arn).await?;
        }
        for policy_name in &inline {
            self.delete_inline(name, policy_name).await?;
        }
        for (arn, state) in &own {
            self.delete_policy(name, arn, &state.old_versions()).await?;
        }
        self.delete_role_only(name).await?;
        Ok(Deletion::Deleted)
    }

    async fn delete_role_only(&self, name: &str) -> Result<(), IamError> {
        let request = self.client.delete_role().role_name(name);
        gone_is_done(mutate(name, "DeleteRole", name, request.send()).await)
    }

    /// Undoes a creation that failed half-way, from the changes it made (no reads of what was
    /// just written, which IAM may not show yet), then deletes the role.
    pub async fn undo_create(&self, role: &str, done: &[Change]) -> Result<(), IamError> {
        for change in done.iter().rev() {
            match change {
                Change::AttachRolePolicy { arn } => self.detach(role, arn).await?,
                Change::PutRolePolicy { name, .. } => self.delete_inline(role, name).await?,
                Change::CreatePolicy { arn, .. } => {
                    let versions = match self.policy_versions(arn).await {
                        Ok(versions) => versions,
                        Err(e) if e.code() == Some(NO_SUCH_ENTITY) => continue,
                        Err(e) => return Err(e),
                    };
                    // A policy just created has only v1, its default; anything newer is ours too.
                    let old: Vec<String> = versions.into_iter().filter(|v| v != "v1").collect();
                    self.delete_policy(role, arn, &old).await?;
                }
                _ => {}
            }
        }
        self.delete_role_only(role).await
    }
}

// -------------------------------------------------------------------- helpers

/// Awaits a read call, mapping its error.
async fn read<T, E, R>(
    operation: &'static str,
    target: &str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, IamError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    call.await.map_err(|e| call_error(operation, target, e))
}

/// Awaits a mutating call and logs it: one line per IAM change.
async fn mutate<T, E, R>(
    role: &str,
    operation: &'static str,
    target: &str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, IamError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match call.await {
        Ok(output) => {
            tracing::info!(iam_action = operation, role, target, "IAM change");
            Ok(output)
        }
        Err(e) => {
            let error = call_error(operation, target, e);
            if error.code() != Some(NO_SUCH_ENTITY) && error.code() != Some(ALREADY_EXISTS) {
                tracing::warn!(iam_action = operation, role, target, error = %error, "IAM change failed");
            }
            Err(error)
        }
    }
}

fn call_error<E, R>(operation: &'static str, target: &str, error: SdkError<E, R>) -> IamError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let message = match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(&error).to_string(),
    };
    IamError::Call {
        operation,
        target: target.to_owned(),
        code,
        message,
    }
}

/// Pauses before each retry of a write that names a role or policy created moments ago: IAM is
/// eventually consistent, so the first calls may not see it yet (NoSuchEntity).
const VISIBILITY_RETRIES: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Runs a write, retrying NoSuchEntity on [`VISIBILITY_RETRIES`]; other outcomes return at once.
async fn until_visible<T, F, Fut>(mut call: F) -> Result<T, IamError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, IamError>>,
{
    let mut pauses = VISIBILITY_RETRIES.iter();
    loop {
        match call().await {
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => match pauses.next() {
                Some(pause) => tokio::time::sleep(*pause).await,
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// Deleting what is already gone is success.
fn gone_is_done(result: Result<impl Sized, IamError>) -> Result<(), IamError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(NO_SUCH_ENTITY) => Ok(()),
        Err(e) => Err(e),
    }
}

fn document(target: &str, raw: &str) -> Result<Value, IamError> {
    decode_document(raw).map_err(|message| IamError::Document {
        target: target.to_owned(),
        message,
    })
}

fn tag_pairs(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn sdk_tag(tag: &PlanTag) -> Result<Tag, IamError> {
    Tag::builder()
        .key(&tag.key)
        .value(&tag.value)
        .build()
        .map_err(|e| IamError::Incomplete {
            operation: "Tag",
            target: format!("{}: {e}", tag.key),
            what: "a key and value",
        })
}

fn sdk_tags(tags: &[PlanTag]) -> Result<Vec<Tag>, IamError> {
    tags.iter().map(sdk_tag).collect()
}

fn tag_keys(tags: &[PlanTag]) -> String {
    tags.iter()
        .map(|t| t.key.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
