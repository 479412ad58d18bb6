//! The thin adapter over aws-sdk-iam: [`SdkIam`] implements [`Iam`] with one SDK call (or one
//! paginated listing) per read and one per change. Every call names its [`Op`] from the registry;
//! every mutating call is logged as one line (`iam_action`, `role`, `target`) inside the
//! caller's span, which names the request.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use serde_json::Value;

use crate::plan::{PlanTag, RolePlan};

use super::diff::created_role;
use super::waves::concurrently;
use super::{
    ALREADY_EXISTS, Change, CreateRoleError, Iam, IamError, NO_SUCH_ENTITY, PolicyState, RoleState,
    decode_document,
};
use crate::aws::Op;
use crate::aws::meter::{CallMeter, MeterInterceptor, Service};

/// Every item of a paginated listing, as one future of `Result<Vec<_>, SdkError>`.
macro_rules! all_items {
    ($request:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
    };
}

impl crate::aws::CallPolicy {
    /// An IAM client configuration with this policy on top of `base` (its endpoint, region and
    /// credentials: the SDK's standard settings, `AWS_ENDPOINT_URL_IAM` included), its calls
    /// counted into the event's [`CallMeter`](crate::aws::meter::CallMeter).
    pub fn configure(&self, base: aws_sdk_iam::config::Builder) -> aws_sdk_iam::config::Builder {
        use aws_sdk_iam::config::retry::{RetryConfig, RetryPartition, TokenBucket};
        use aws_sdk_iam::config::timeout::TimeoutConfig;
        base.retry_config(
            RetryConfig::standard()
                .with_max_attempts(self.max_attempts)
                .with_initial_backoff(self.initial_backoff)
                .with_max_backoff(self.max_backoff),
        )
        .retry_partition(
            RetryPartition::custom("persona-role-iam")
                .token_bucket(TokenBucket::unlimited())
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(self.attempt_timeout)
                .connect_timeout(self.connect_timeout)
                .build(),
        )
        .interceptor(MeterInterceptor(Service::Iam))
    }
}

/// aws-sdk-iam, as this crate uses it.
#[derive(Debug, Clone)]
pub struct SdkIam {
    client: aws_sdk_iam::Client,
}

impl SdkIam {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        SdkIam { client }
    }

    /// Every role of the account (name, path, ARN), page by page; `progress` hears the running
    /// count after each page. For `persona-role discover`.
    pub async fn list_roles(
        &self,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<(String, String, String)>, IamError> {
        let mut pages = self.client.list_roles().into_paginator().send();
        let mut roles = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_error(Op::ListRoles, "*", e))?;
            roles.extend(page.roles().iter().map(|r| {
                (
                    r.role_name().to_owned(),
                    r.path().to_owned(),
                    r.arn().to_owned(),
                )
            }));
            progress(roles.len());
        }
        Ok(roles)
    }

    async fn policy_versions(&self, arn: &str) -> Result<Vec<String>, IamError> {
        let versions = read(
            Op::ListPolicyVersions,
            arn,
            all_items!(self.client.list_policy_versions().policy_arn(arn)),
        )
        .await?;
        Ok(versions
            .iter()
            .filter_map(|v| v.version_id())
            .map(str::to_owned)
            .collect())
    }

    async fn apply_change(&self, role: &str, change: &Change) -> Result<(), IamError> {
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
            Change::DetachRolePolicy { arn } => {
                let request = c.detach_role_policy().role_name(role).policy_arn(arn);
                mutate(role, op, arn, request.send()).await.map(drop)
            }
            Change::DeleteRolePolicy { name } => {
                let request = c.delete_role_policy().role_name(role).policy_name(name);
                mutate(role, op, name, request.send()).await.map(drop)
            }
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
                // A policy's old versions are independent of one another: deleted together.
                let targets: Vec<String> = old_versions
                    .iter()
                    .map(|version_id| format!("{arn} {version_id}"))
                    .collect();
                let deleted = concurrently(old_versions.iter().zip(&targets).map(
                    |(version_id, target)| {
                        let request = c
                            .delete_policy_version()
                            .policy_arn(arn)
                            .version_id(version_id);
                        mutate(role, Op::DeletePolicyVersion, target, request.send())
                    },
                ))
                .await;
                for result in deleted {
                    gone_is_done(result)?;
                }
                let request = c.delete_policy().policy_arn(arn);
                mutate(role, op, arn, request.send()).await.map(drop)
            }
            Change::RemoveRoleFromInstanceProfile { profile } => {
                let request = c
                    .remove_role_from_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(role);
                mutate(role, op, profile, request.send()).await.map(drop)
            }
            Change::DeleteRole => {
                let request = c.delete_role().role_name(role);
                mutate(role, op, role, request.send()).await.map(drop)
            }
        }
    }
}

impl Iam for SdkIam {
    async fn all_roles(&self) -> Result<Vec<super::inventory::RoleSummary>, IamError> {
        let mut pages = self.client.list_roles().into_paginator().send();
        let mut roles = Vec::new();
        loop {
            // Each page takes a slot of the event's calls, as every other read does.
            let page = {
                let _slot = CallMeter::admit().await;
                pages.next().await
            };
            let Some(page) = page else { break };
            let page = page.map_err(|e| call_error(Op::ListRoles, "*", e))?;
            roles.extend(page.roles().iter().map(|r| super::inventory::RoleSummary {
                name: r.role_name().to_owned(),
                path: r.path().to_owned(),
                arn: r.arn().to_owned(),
            }));
        }
        Ok(roles)
    }

    async fn get_role(&self, name: &str) -> Result<Option<RoleState>, IamError> {
        let output = match read(
            Op::GetRole,
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
            operation: Op::GetRole,
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

    async fn inline_policy_names(&self, role: &str) -> Result<Vec<String>, IamError> {
        read(
            Op::ListRolePolicies,
            role,
            all_items!(self.client.list_role_policies().role_name(role)),
        )
        .await
    }

    async fn inline_policies(&self, role: &str) -> Result<BTreeMap<String, Value>, IamError> {
        let names = self.inline_policy_names(role).await?;
        let documents = concurrently(names.iter().map(|name| self.inline_policy(role, name))).await;
        let mut policies = BTreeMap::new();
        for (name, document) in names.into_iter().zip(documents) {
            // Gone between the listing and the read: as if never listed.
            if let Some(document) = document? {
                policies.insert(name, document);
            }
        }
        Ok(policies)
    }

    async fn inline_policy(&self, role: &str, name: &str) -> Result<Option<Value>, IamError> {
        let output = match read(
            Op::GetRolePolicy,
            name,
            self.client
                .get_role_policy()
                .role_name(role)
                .policy_name(name)
                .send(),
        )
        .await
        {
            Ok(output) => output,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(document(name, output.policy_document())?))
    }

    async fn attached_policy_arns(&self, role: &str) -> Result<BTreeSet<String>, IamError> {
        let attached = read(
            Op::ListAttachedRolePolicies,
            role,
            all_items!(self.client.list_attached_role_policies().role_name(role)),
        )
        .await?;
        Ok(attached
            .iter()
            .filter_map(|p| p.policy_arn())
            .map(str::to_owned)
            .collect())
    }

    async fn instance_profiles(&self, role: &str) -> Result<Vec<String>, IamError> {
        let profiles = read(
            Op::ListInstanceProfilesForRole,
            role,
            all_items!(
                self.client
                    .list_instance_profiles_for_role()
                    .role_name(role)
            ),
        )
        .await?;
        Ok(profiles
            .iter()
            .map(|p| p.instance_profile_name().to_owned())
            .collect())
    }

    async fn get_policy(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        let output = match read(
            Op::GetPolicy,
            arn,
            self.client.get_policy().policy_arn(arn).send(),
        )
        .await
        {
            Ok(output) => output,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (default_version_id, tags) = policy_head(arn, &output)?;
        // The version list and the default version's document are independent: read together.
        let (versions, version) = futures_util::future::join(
            self.policy_versions(arn),
            read(
                Op::GetPolicyVersion,
                arn,
                self.client
                    .get_policy_version()
                    .policy_arn(arn)
                    .version_id(&default_version_id)
                    .send(),
            ),
        )
        .await;
        let (versions, version) = (versions?, version?);
        let raw = version
            .policy_version()
            .and_then(|v| v.document())
            .ok_or_else(|| IamError::Incomplete {
                operation: Op::GetPolicyVersion,
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

    async fn policy_summary(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        let (output, versions) = futures_util::future::join(
            read(
                Op::GetPolicy,
                arn,
                self.client.get_policy().policy_arn(arn).send(),
            ),
            self.policy_versions(arn),
        )
        .await;
        let output = match output {
            Ok(output) => output,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (default_version_id, tags) = policy_head(arn, &output)?;
        Ok(Some(PolicyState {
            arn: arn.to_owned(),
            default_version_id,
            document: Value::Null,
            versions: versions?,
            tags,
        }))
    }

    async fn local_policy_arns(&self, path: &str) -> Result<Vec<String>, IamError> {
        let policies = read(
            Op::ListPolicies,
            path,
            all_items!(
                self.client
                    .list_policies()
                    .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                    .path_prefix(path)
                    .max_items(1000)
            ),
        )
        .await?;
        Ok(policies
            .iter()
            .filter_map(|p| p.arn())
            .map(str::to_owned)
            .collect())
    }

    async fn other_attachments(&self, arn: &str, role: &str) -> Result<Vec<String>, IamError> {
        // Pages, not items: each page holds three lists (roles, users, groups).
        let pages = match read(
            Op::ListEntitiesForPolicy,
            arn,
            self.client
                .list_entities_for_policy()
                .policy_arn(arn)
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .await
        {
            Ok(pages) => pages,
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
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

    async fn create_role(&self, plan: &RolePlan) -> Result<RoleState, CreateRoleError> {
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
        let output = match mutate(name, Op::CreateRole, name, request.send()).await {
            Ok(output) => output,
            Err(e) if e.code() == Some(ALREADY_EXISTS) => {
                return Err(CreateRoleError::AlreadyExists);
            }
            Err(e) => return Err(CreateRoleError::Failed(e)),
        };
        let role = output.role().ok_or_else(|| {
            CreateRoleError::Failed(IamError::Incomplete {
                operation: Op::CreateRole,
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

    async fn apply(&self, role: &str, change: &Change) -> Result<(), IamError> {
        let result = self.apply_change(role, change).await;
        if change.removes() {
            gone_is_done(result)
        } else {
            result
        }
    }
}

// -------------------------------------------------------------------- helpers

/// Awaits a read call, mapping its error.
async fn read<T, E, R>(
    operation: Op,
    target: &str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, IamError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let _slot = CallMeter::admit().await;
    call.await.map_err(|e| call_error(operation, target, e))
}

/// Awaits a mutating call and logs it: one line per IAM change.
async fn mutate<T, E, R>(
    role: &str,
    operation: Op,
    target: &str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, IamError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let _slot = CallMeter::admit().await;
    match call.await {
        Ok(output) => {
            tracing::info!(iam_action = operation.name(), role, target, "IAM change");
            Ok(output)
        }
        Err(e) => {
            let error = call_error(operation, target, e);
            if error.code() != Some(NO_SUCH_ENTITY) && error.code() != Some(ALREADY_EXISTS) {
                tracing::warn!(iam_action = operation.name(), role, target, error = %error, "IAM change failed");
            }
            Err(error)
        }
    }
}

fn call_error<E, R>(operation: Op, target: &str, error: SdkError<E, R>) -> IamError
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
pub(super) const VISIBILITY_RETRIES: [Duration; 4] = [
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

/// A GetPolicy answer's default version id and tags (GetPolicy carries the tags: no
/// ListPolicyTags call is needed).
fn policy_head(
    arn: &str,
    output: &aws_sdk_iam::operation::get_policy::GetPolicyOutput,
) -> Result<(String, BTreeMap<String, String>), IamError> {
    let policy = output.policy();
    let default_version_id = policy
        .and_then(|p| p.default_version_id())
        .ok_or_else(|| IamError::Incomplete {
            operation: Op::GetPolicy,
            target: arn.to_owned(),
            what: "a default version",
        })?
        .to_owned();
    Ok((
        default_version_id,
        tag_pairs(policy.map(|p| p.tags()).unwrap_or_default()),
    ))
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
    decode_document(raw).map_err(|error| IamError::Document {
        target: target.to_owned(),
        message: error.to_string(),
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
            operation: Op::TagRole,
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
