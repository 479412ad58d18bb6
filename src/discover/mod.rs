//! Roles → declarations: infer the persona, activities and parameters of a role that the Role
//! Manager console or this project made, from its policies. Pure: the role comes in as an
//! [`RoleInventory`], the declaration goes out as properties.
//!
//! Policies are matched by what made them, never by guessing from content: a console policy by
//! its name (`SM_CommonJobManagement_<ms>`, see [`console`]) and its statements checked against
//! the actions Role Manager's templates grant; this project's own policies (the inline
//! `persona-role` and `<role>-<n>`, ownership tags checked) by the statement ids the planner
//! writes. Parameters are read from the resources and conditions of the matched statements.
//! Whatever cannot be mapped — a statement edited by hand, a policy nothing here made, an S3
//! prefix where only buckets can be declared — is listed, never dropped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::arn::Arn;
use crate::catalog::{self, ActivityIndex, Param, console};
use crate::compare;
use crate::context::{StackContext, Unowned, live_role_context};
use crate::iam::inventory::RoleInventory;
use crate::ownership::{Owner, is_reserved_tag_key};
use crate::plan::{self, naming::INLINE_POLICY_NAME};
use crate::policy::{Statement, statements};
use crate::properties::{
    ROLE_NAME_PREFIX, default_managed_policy_quota, default_max_session, table,
};

/// Who made a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The SageMaker Role Manager console (or its CDK construct): per-activity policies.
    RoleManager,
    /// A `Custom::SageMakerPersonaRole` of this project, owned by a stack.
    PersonaRole {
        stack_id: String,
        logical_id: String,
    },
}

/// A role declared from what IAM holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub role_name: String,
    pub arn: String,
    pub origin: Origin,
    /// The resource's properties, `AdoptExistingRole: "true"` included; values are strings as
    /// CloudFormation sends them.
    pub properties: Map<String, Value>,
    /// A logical id for the resource, from the role's name (or its owner's logical id).
    pub logical_id: String,
    /// What could not be mapped to properties; the declaration does not grant it.
    pub unmapped: Vec<String>,
    /// What the declaration decides that the reader should know.
    pub notes: Vec<String>,
}

/// Why a role is not declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub role_name: String,
    pub reason: String,
}

/// Whether a role's name can be one Role Manager or this project made: `SageMaker-…` or
/// `sagemaker-…` (IAM names are unique ignoring case).
pub fn is_candidate_name(name: &str) -> bool {
    name.get(..ROLE_NAME_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(ROLE_NAME_PREFIX))
        && name.len() > ROLE_NAME_PREFIX.len()
}

/// Why a role is none of ours to declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NotDeclarable {
    #[error("the name does not start with `SageMaker-`, as Role Manager's roles do")]
    Name,
    #[error(
        "no Role Manager policy (SM_…, SageMakerS3…PolicyTemplate) is attached and it has no ownership tags of this project"
    )]
    NoRoleManagerPolicy,
}

/// Who made the role, or why it is none of ours to declare.
pub fn classify(inventory: &RoleInventory) -> Result<Origin, NotDeclarable> {
    let role = &inventory.role;
    if let Some(owner) = Owner::of(&role.tags) {
        return Ok(Origin::PersonaRole {
            stack_id: owner.stack_id,
            logical_id: owner.logical_id,
        });
    }
    if !is_candidate_name(&role.name) {
        return Err(NotDeclarable::Name);
    }
    if !crate::drift::has_console_policy(inventory) {
        return Err(NotDeclarable::NoRoleManagerPolicy);
    }
    Ok(Origin::RoleManager)
}

/// Parameter values found, per activity.
type Found = BTreeMap<ActivityIndex, BTreeMap<Param, BTreeSet<String>>>;

/// Top-level parameter values, and `ActivityParameters` by activity name.
type Declared = (Vec<(Param, Vec<String>)>, Map<String, Value>);

/// What the policies say, before it becomes properties.
#[derive(Debug, Default)]
struct Reading {
    /// The role's account: an `aws:ResourceAccount` value naming it declares nothing.
    account: String,
    activities: BTreeSet<ActivityIndex>,
    found: Found,
    kept_attached: Vec<String>,
    unmapped: Vec<String>,
    notes: Vec<String>,
}

/// The declaration of a role; `Err` when it is not one to declare.
pub fn infer(inventory: &RoleInventory) -> Result<Discovery, Skipped> {
    let role = &inventory.role;
    let skipped = |reason: String| Skipped {
        role_name: role.name.clone(),
        reason,
    };
    let origin = classify(inventory).map_err(|reason| skipped(reason.to_string()))?;
    if !is_candidate_name(&role.name) {
        return Err(skipped(format!(
            "the name does not start with `{ROLE_NAME_PREFIX}`, so no RoleNameSuffix names it"
        )));
    }
    let suffix = &role.name[ROLE_NAME_PREFIX.len()..];

    let mut reading = read(inventory, &origin);
    if reading.activities.is_empty() {
        return Err(skipped(
            "none of its policies maps to an activity".to_owned() + &unmapped_tail(&reading),
        ));
    }
    if origin == Origin::RoleManager
        && reading
            .activities
            .iter()
            .any(|&i| catalog::activity(i).accepts(Param::S3BucketAccounts))
    {
        reading.notes.push(format!(
            "S3: Role Manager's policies named buckets of any account; the declaration reaches only buckets of account {} (aws:ResourceAccount): give the owners of other accounts' buckets in S3BucketAccounts",
            reading.account
        ));
    }

    let mut properties = Map::new();
    let (persona, adjust) = persona_and_activities(inventory, &origin, &reading.activities);
    properties.insert("Persona".to_owned(), json!(persona.id));
    properties.insert("RoleNameSuffix".to_owned(), json!(suffix));
    if role.path != "/" {
        properties.insert("Path".to_owned(), json!(role.path));
    }
    if let Some(description) = role.description.as_deref().filter(|d| !d.is_empty()) {
        // This project's default description is derived again from the declaration.
        if !is_default_description(description) {
            properties.insert("Description".to_owned(), json!(description));
        }
    }
    if let Some(seconds) = role
        .max_session_duration
        .filter(|s| *s != default_max_session())
    {
        properties.insert("MaxSessionDuration".to_owned(), json!(seconds.to_string()));
    }
    if let Some(boundary) = &role.permissions_boundary {
        properties.insert("PermissionsBoundary".to_owned(), json!(boundary));
    }
    for (key, names) in adjust {
        properties.insert(key.to_owned(), json!(names));
    }
    let regions = trust_regions(&role.trust);
    if !regions.is_empty() {
        reading.notes.push(format!(
            "Regions {} from the trust policy's aws:SourceArn: ARNs are scoped to them",
            regions.join(", ")
        ));
        properties.insert("Regions".to_owned(), json!(regions));
    }
    let (top, per_activity) = reading.parameters();
    for (param, values) in top {
        properties.insert(param.name().to_owned(), json!(values));
    }
    if !per_activity.is_empty() {
        properties.insert("ActivityParameters".to_owned(), Value::Object(per_activity));
    }
    if !reading.kept_attached.is_empty() {
        reading.kept_attached.sort();
        properties.insert("ManagedPolicyArns".to_owned(), json!(reading.kept_attached));
    }
    let attached_now = inventory.attached.len();
    if matches!(origin, Origin::PersonaRole { .. }) && attached_now > default_managed_policy_quota()
    {
        properties.insert(
            "MaxManagedPolicies".to_owned(),
            json!(
                attached_now
                    .min(crate::properties::MAX_MANAGED_POLICY_QUOTA)
                    .to_string()
            ),
        );
    }
    let tags: Vec<Value> = role
        .tags
        .iter()
        .filter(|(key, _)| !is_reserved_tag_key(key))
        .map(|(key, value)| json!({"Key": key, "Value": value}))
        .collect();
    if !tags.is_empty() {
        properties.insert("Tags".to_owned(), Value::Array(tags));
    }
    properties.insert(table::ADOPT_EXISTING_ROLE.name.to_owned(), json!("true"));

    let logical_id = match &origin {
        Origin::PersonaRole { logical_id, .. } if is_logical_id(logical_id) => logical_id.clone(),
        _ => logical_id_of(suffix),
    };
    let mut discovery = Discovery {
        role_name: role.name.clone(),
        arn: role.arn.clone(),
        origin,
        properties,
        logical_id,
        unmapped: reading.unmapped,
        notes: reading.notes,
    };
    verify(&mut discovery, inventory);
    Ok(discovery)
}

/// The activities, parameters and leftovers of a role's policies.
fn read(inventory: &RoleInventory, origin: &Origin) -> Reading {
    let role = &inventory.role;
    let mut reading = Reading {
        account: Arn::parse(&role.arn)
            .map_or("", |arn| arn.account)
            .to_owned(),
        ..Reading::default()
    };
    for (name, document) in &inventory.inline_policies {
        let own = matches!(origin, Origin::PersonaRole { .. }) && name == INLINE_POLICY_NAME;
        if own {
            reading.by_statement_id(&format!("inline policy `{name}`"), document);
        } else {
            reading.unmapped.push(format!(
                "inline policy `{name}` ({} statements): not a policy this project or Role Manager makes; not declared",
                statements(document).len()
            ));
        }
    }
    for policy in &inventory.attached {
        let label = format!("managed policy `{}`", policy.name);
        if policy.is_aws_managed() {
            match aws_managed_activity(&policy.arn) {
                Some(index) => {
                    reading.activities.insert(index);
                }
                None => reading.keep(&policy.arn, &label, origin),
            }
            continue;
        }
        let Some(document) = &policy.document else {
            reading.keep(&policy.arn, &label, origin);
            continue;
        };
        if let Some(name) = console::find(&policy.name) {
            match catalog::find_activity(name.policy.activity) {
                Some(index) => reading.console_policy(&label, document, index, name.policy),
                None => reading.keep(&policy.arn, &label, origin),
            }
            continue;
        }
        let own = match origin {
            Origin::PersonaRole {
                stack_id,
                logical_id,
            } => {
                crate::plan::naming::is_own_policy(&role.name, &policy.name)
                    && Owner::new(stack_id, logical_id).owns(&policy.tags)
            }
            Origin::RoleManager => false,
        };
        if own {
            reading.by_statement_id(&label, document);
        } else {
            reading.keep(&policy.arn, &label, origin);
        }
    }
    reading
}

/// The activities a role's policies grant, by console name in catalog order; none when the role
/// is not one Role Manager or this project made.
pub fn activity_names(inventory: &RoleInventory) -> Vec<String> {
    match classify(inventory) {
        Ok(origin) => read(inventory, &origin)
            .activities
            .iter()
            .map(|&i| catalog::activity(i).name.to_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn unmapped_tail(reading: &Reading) -> String {
    if reading.unmapped.is_empty() {
        String::new()
    } else {
        format!(": {}", reading.unmapped.join("; "))
    }
}

/// Plans the declaration as the Lambda would and records what does not plan; for this
/// project's roles, also what the plan would change (it should change nothing).
fn verify(discovery: &mut Discovery, inventory: &RoleInventory) {
    let Some(context) = planning_context(discovery) else {
        discovery
            .notes
            .push("the role's ARN names no known partition and account".to_owned());
        return;
    };
    let mut properties = discovery.properties.clone();
    // Adoption is the Lambda's business, not the plan's: the plan compared is of the rest.
    properties.remove(table::ADOPT_EXISTING_ROLE.name);
    let planned = match plan::plan_properties(&Value::Object(properties), &context) {
        Ok(plan) => plan,
        Err(error) => {
            discovery
                .unmapped
                .push(format!("the declaration needs review: {error}"));
            return;
        }
    };
    if let Origin::PersonaRole { .. } = discovery.origin {
        let actual = inventory.as_plan(
            planned.activities.clone(),
            planned.quotas.max_managed_policies,
        );
        let comparison = compare::compare(&actual, &planned);
        for line in comparison.summary() {
            discovery
                .unmapped
                .push(format!("the declaration would change the role: {line}"));
        }
    }
}

/// The stack the role would be planned in: the owner's, or one in the role's partition and
/// account, in the declaration's first region (else the partition's default).
fn planning_context(discovery: &Discovery) -> Option<StackContext> {
    let owner = match &discovery.origin {
        Origin::PersonaRole {
            stack_id,
            logical_id,
        } => Some(Owner::new(stack_id.as_str(), logical_id.as_str())),
        Origin::RoleManager => None,
    };
    let region = discovery
        .properties
        .get("Regions")
        .and_then(|r| r.get(0))
        .and_then(Value::as_str);
    live_role_context(
        &discovery.arn,
        owner.as_ref(),
        Unowned {
            partition: None,
            account: None,
            region,
            stack_name: "discovered",
            logical_id: &discovery.logical_id,
        },
    )
    .ok()
}

impl Reading {
    /// A policy attached to the role that maps to no activity: the declaration keeps it
    /// attached, and says so unless this project attached it (from ManagedPolicyArns).
    fn keep(&mut self, arn: &str, label: &str, origin: &Origin) {
        self.kept_attached.push(arn.to_owned());
        if *origin == Origin::RoleManager {
            self.unmapped.push(format!(
                "{label} is not a policy of an activity: kept attached through ManagedPolicyArns ({arn})"
            ));
        }
    }

    /// This project's statements: the activity from the statement id's prefix.
    fn by_statement_id(&mut self, label: &str, document: &Value) {
        for (i, statement) in statements(document).into_iter().enumerate() {
            let sid = statement.sid();
            let Some(index) = activity_of_sid(sid) else {
                self.unmapped.push(format!(
                    "{label} statement {}: not a statement of any activity; not declared",
                    statement_name(sid, i)
                ));
                continue;
            };
            self.activities.insert(index);
            let at = format!("{label} statement {}", statement_name(sid, i));
            self.extract(&at, statement, index);
        }
    }

    /// A console policy: one activity; statements granting more than Role Manager's template
    /// were edited by hand.
    fn console_policy(
        &mut self,
        label: &str,
        document: &Value,
        index: ActivityIndex,
        policy: &console::ConsolePolicy,
    ) {
        self.activities.insert(index);
        let activity = catalog::activity(index);
        let known: BTreeSet<&str> = policy
            .actions
            .iter()
            .copied()
            .chain(activity.actions())
            .collect();
        for (i, statement) in statements(document).into_iter().enumerate() {
            let sid = statement.sid();
            let at = format!("{label} statement {}", statement_name(sid, i));
            let effect = statement.effect();
            let odd: Vec<&str> = ["NotAction", "NotResource", "NotPrincipal"]
                .into_iter()
                .filter(|key| statement.json().get(*key).is_some())
                .collect();
            if !statement.is_allow() || !odd.is_empty() {
                self.unmapped.push(format!(
                    "{at}: {} statement{} not in Role Manager's `{}` policy; not declared",
                    if effect.is_empty() { "an" } else { effect },
                    if odd.is_empty() {
                        String::new()
                    } else {
                        format!(" with {}", odd.join(", "))
                    },
                    policy.template
                ));
                continue;
            }
            let extra: Vec<String> = statement
                .actions()
                .into_iter()
                .filter(|a| !known.contains(a.as_str()))
                .collect();
            if !extra.is_empty() {
                self.unmapped.push(format!(
                    "{at}: {} not in Role Manager's `{}` policy (edited by hand?); not declared",
                    extra.join(", "),
                    policy.template
                ));
            }
            self.extract(&at, statement, index);
        }
    }

    /// Parameter values from a statement's resources and conditions.
    fn extract(&mut self, at: &str, statement: Statement<'_>, index: ActivityIndex) {
        let activity = catalog::activity(index);
        let actions = statement.actions();
        let passes_role = actions.iter().any(|a| a == "iam:PassRole");
        let volume_keys = actions
            .iter()
            .any(|a| a == "kms:CreateGrant" || a == "kms:DescribeKey");
        let data_keys = actions.iter().any(|a| {
            matches!(
                a.as_str(),
                "kms:Decrypt" | "kms:GenerateDataKey" | "kms:Encrypt" | "kms:ReEncrypt*"
            )
        });
        let account = self.account.as_str();
        let found = self.found.entry(index).or_default();
        let mut add = |param: Param, value: &str| -> bool {
            if activity.accepts(param) {
                found.entry(param).or_default().insert(value.to_owned());
                true
            } else {
                false
            }
        };
        let mut unknown: Vec<String> = Vec::new();
        for resource in statement.resources() {
            if resource == "*" {
                continue;
            }
            let Some(Arn {
                service,
                resource: path,
                ..
            }) = Arn::parse(&resource)
            else {
                unknown.push(resource);
                continue;
            };
            let recognized = match (service, path.split_once('/')) {
                ("iam", Some(("role", _))) if passes_role => add(Param::PassRoles, &resource),
                ("s3", _) => match path.split_once('/') {
                    None => add(Param::S3Buckets, path) || path.contains('*'),
                    Some((bucket, "*")) => add(Param::S3Buckets, bucket) || bucket.contains('*'),
                    Some(_) => false,
                },
                ("ecr", Some(("repository", _))) => add(Param::EcrRepositories, &resource),
                ("athena", Some(("workgroup", name))) if name != "*" => {
                    add(Param::AthenaWorkgroups, name)
                }
                ("glue", Some(("database", name))) if name != "*" => {
                    add(Param::GlueDatabases, name)
                }
                ("glue", Some(("table", rest))) => match rest.split_once('/') {
                    Some((database, _)) if database != "*" => add(Param::GlueDatabases, database),
                    _ => true,
                },
                ("kms", Some(("key", _))) => {
                    let volume = volume_keys && add(Param::VolumeKmsKeys, &resource);
                    let data = data_keys && add(Param::DataKmsKeys, &resource);
                    volume || data
                }
                ("kendra", Some(("index", id))) if id != "*" => add(Param::KendraIndexes, id),
                ("sagemaker", Some(("mlflow-tracking-server", name))) if !name.contains('*') => {
                    add(Param::MlflowTrackingServers, &resource)
                }
                ("ec2", Some(("subnet", id))) if id != "*" => add(Param::VpcSubnets, id),
                ("ec2", Some(("security-group", id))) if id != "*" => {
                    add(Param::VpcSecurityGroups, id)
                }
                // Patterns every declaration grants (`training-job/*`, `log-group:/aws/sagemaker/*`,
                // Glue's `catalog`, `user-profile/${sagemaker:DomainId}/…`): nothing to declare.
                _ => path.contains('*') || path.contains("${") || path == "catalog",
            };
            if !recognized {
                unknown.push(resource);
            }
        }
        for (operator, key, values) in statement.conditions() {
            // `Null` guards carry "false", not values.
            if operator == "Null" {
                continue;
            }
            let param = match key {
                "sagemaker:VpcSubnets" => Param::VpcSubnets,
                "sagemaker:VpcSecurityGroupIds" => Param::VpcSecurityGroups,
                // Role Manager's templates use the keys IAM has since deprecated.
                "sagemaker:VolumeKmsKeyArn" | "sagemaker:VolumeKmsKey" => Param::VolumeKmsKeys,
                "sagemaker:OutputKmsKeyArn" | "sagemaker:OutputKmsKey" => Param::DataKmsKeys,
                // The role's own account is always in the condition.
                "aws:ResourceAccount" => Param::S3BucketAccounts,
                _ => continue,
            };
            for value in values {
                if param == Param::S3BucketAccounts && value == account {
                    continue;
                }
                add(param, &value);
            }
        }
        for resource in unknown {
            self.unmapped.push(format!(
                "{at}: resource `{resource}` maps to no parameter of `{}`; not declared",
                activity.name
            ));
        }
    }

    /// Top-level parameters (the values most activities share) and per-activity overrides
    /// where an activity had others. An activity that had none of an optional parameter gets an
    /// empty override, so the declaration grants it nothing it did not have.
    fn parameters(&mut self) -> Declared {
        let mut top = Vec::new();
        let mut overrides: BTreeMap<ActivityIndex, Map<String, Value>> = BTreeMap::new();
        for param in Param::ALL {
            let users: Vec<ActivityIndex> = self
                .activities
                .iter()
                .copied()
                .filter(|&i| catalog::activity(i).accepts(param))
                .collect();
            let sets: Vec<(ActivityIndex, BTreeSet<String>)> = users
                .iter()
                .map(|&i| {
                    let values = self
                        .found
                        .get(&i)
                        .and_then(|f| f.get(&param))
                        .cloned()
                        .unwrap_or_default();
                    (i, values)
                })
                .collect();
            // The most common non-empty set; ties go to the activity first in catalog order.
            let mut counts: Vec<(&BTreeSet<String>, usize)> = Vec::new();
            for (_, set) in sets.iter().filter(|(_, s)| !s.is_empty()) {
                match counts.iter_mut().find(|(s, _)| *s == set) {
                    Some(entry) => entry.1 += 1,
                    None => counts.push((set, 1)),
                }
            }
            let Some(shared) = counts
                .iter()
                .fold(
                    None,
                    |best: Option<(&BTreeSet<String>, usize)>, &(s, n)| match best {
                        Some((_, m)) if m >= n => best,
                        _ => Some((s, n)),
                    },
                )
                .map(|(s, _)| s.clone())
            else {
                continue;
            };
            top.push((param, shared.iter().cloned().collect()));
            for (index, set) in &sets {
                if *set == shared {
                    continue;
                }
                let activity = catalog::activity(*index);
                let required = activity.uses(param) == Some(catalog::Need::Required);
                if set.is_empty() && required {
                    self.notes.push(format!(
                        "{}: Role Manager's policy had no {param}; it takes the role's {param} ({})",
                        activity.name,
                        shared.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                    continue;
                }
                overrides
                    .entry(*index)
                    .or_default()
                    .insert(param.name().to_owned(), json!(set));
            }
        }
        let per_activity = overrides
            .into_iter()
            .map(|(index, params)| {
                (
                    catalog::activity(index).name.to_owned(),
                    Value::Object(params),
                )
            })
            .collect();
        (top, per_activity)
    }
}

/// The activity whose statement-id prefix starts `sid` (the longest, as prefixes nest).
fn activity_of_sid(sid: &str) -> Option<ActivityIndex> {
    catalog::ACTIVITIES
        .iter()
        .enumerate()
        .filter(|(_, a)| sid.len() > a.sid.len() && sid.starts_with(a.sid))
        .max_by_key(|(_, a)| a.sid.len())
        .map(|(i, _)| i)
}

/// The Canvas activity an AWS managed policy ARN belongs to.
fn aws_managed_activity(arn: &str) -> Option<ActivityIndex> {
    let arn = Arn::parse(arn)?;
    let name =
        (arn.service == "iam" && arn.resource_type() == "policy").then(|| arn.resource_id())??;
    catalog::ACTIVITIES
        .iter()
        .position(|a| a.aws_managed_policies.contains(&name))
}

fn statement_name(sid: &str, index: usize) -> String {
    if sid.is_empty() {
        format!("#{}", index + 1)
    } else {
        format!("`{sid}`")
    }
}

/// `SageMaker <persona> persona role: <activities>`, as the planner describes a role.
fn is_default_description(description: &str) -> bool {
    default_description_persona(description).is_some()
}

fn default_description_persona(description: &str) -> Option<&'static catalog::Persona> {
    let rest = description.strip_prefix("SageMaker ")?;
    let (name, _) = rest.split_once(" persona role: ")?;
    catalog::PERSONAS.iter().find(|p| p.name == name)
}

/// The persona and how the activities are written: `AddActivities`/`RemoveActivities` against
/// the persona's defaults, or `Activities` for Custom. This project's roles name their persona
/// in the default description; otherwise the persona whose defaults the role covers best.
fn persona_and_activities(
    inventory: &RoleInventory,
    origin: &Origin,
    activities: &BTreeSet<ActivityIndex>,
) -> (&'static catalog::Persona, Vec<(&'static str, Vec<String>)>) {
    let defaults_of = |persona: &catalog::Persona| -> BTreeSet<ActivityIndex> {
        persona
            .defaults
            .iter()
            .filter_map(|id| catalog::find_activity(id))
            .collect()
    };
    let described = match origin {
        Origin::PersonaRole { .. } => inventory
            .role
            .description
            .as_deref()
            .and_then(default_description_persona),
        Origin::RoleManager => None,
    };
    let persona = described.unwrap_or_else(|| {
        catalog::PERSONAS
            .iter()
            .filter(|p| !p.defaults.is_empty())
            .map(|p| {
                let defaults = defaults_of(p);
                let kept = defaults.intersection(activities).count();
                let dropped = defaults.difference(activities).count();
                (p, kept as isize - dropped as isize)
            })
            .filter(|(_, score)| *score > 0)
            .fold(
                None,
                |best: Option<(&catalog::Persona, isize)>, (p, s)| match best {
                    Some((_, b)) if b >= s => best,
                    _ => Some((p, s)),
                },
            )
            .map(|(p, _)| p)
            .or_else(|| catalog::find_persona("Custom"))
            .unwrap_or(&catalog::PERSONAS[0])
    });
    let names = |set: &BTreeSet<ActivityIndex>| -> Vec<String> {
        set.iter()
            .map(|&i| catalog::activity(i).name.to_owned())
            .collect()
    };
    let defaults = defaults_of(persona);
    if defaults.is_empty() {
        return (persona, vec![("Activities", names(activities))]);
    }
    let added: BTreeSet<ActivityIndex> = activities.difference(&defaults).copied().collect();
    let removed: BTreeSet<ActivityIndex> = defaults.difference(activities).copied().collect();
    let mut adjust = Vec::new();
    if !added.is_empty() {
        adjust.push(("AddActivities", names(&added)));
    }
    if !removed.is_empty() {
        adjust.push(("RemoveActivities", names(&removed)));
    }
    (persona, adjust)
}

/// Regions named by the trust policy's `aws:SourceArn` (`arn:P:sagemaker:REGION:ACCOUNT:*`),
/// when every value names one.
fn trust_regions(trust: &Value) -> Vec<String> {
    let mut regions = BTreeSet::new();
    for statement in statements(trust) {
        let arns: Vec<String> = statement
            .conditions()
            .into_iter()
            .filter(|(_, key, _)| *key == "aws:SourceArn")
            .flat_map(|(_, _, values)| values)
            .collect();
        if arns.is_empty() {
            return Vec::new();
        }
        for arn in arns {
            match Arn::parse(&arn).map(|arn| arn.region) {
                Some(region) if crate::context::is_region_name(region) => {
                    regions.insert(region.to_owned());
                }
                _ => return Vec::new(),
            }
        }
    }
    regions.into_iter().collect()
}

/// CloudFormation logical ids are alphanumeric and start with a letter.
fn is_logical_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric())
        && id.len() <= 255
}

/// `TheDataScientist` from `TheDataScientist`, `ExecutionRole20241206T141794` from
/// `ExecutionRole-20241206T141794`, `ml-team.compute` → `MlTeamCompute`.
fn logical_id_of(suffix: &str) -> String {
    let mut id = String::new();
    for word in suffix.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.push_str(chars.as_str());
        }
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id.insert_str(0, "Role");
    }
    id.truncate(255);
    id
}

/// The Metadata key under which a declared resource records where it came from.
pub const METADATA_KEY: &str = "PersonaRoleDiscover";

/// The template parameter naming the stack that exports the ServiceToken.
pub const SERVICE_STACK_PARAMETER: &str = "PersonaRoleStackName";

/// A template declaring each discovered role as a `Custom::SageMakerPersonaRole` that adopts
/// it. The resources are retained on delete and replacement: the roles existed before the
/// stack, so removing the stack leaves them in place. A role passed by another that the
/// template declares too is passed as `!GetAtt <its resource>.Arn`: CloudFormation then adopts
/// it first, and the function admits passing it as the stack's own.
pub fn template(discoveries: &[Discovery], service_stack: &str, account: &str) -> Value {
    let mut resources = Map::new();
    let mut declared: Vec<(String, String)> = Vec::new();
    let mut used: BTreeSet<String> = std::iter::once(SERVICE_STACK_PARAMETER.to_owned()).collect();
    for discovery in discoveries {
        let mut logical_id = discovery.logical_id.clone();
        let mut n = 2;
        while used.contains(&logical_id) {
            logical_id = format!("{}{n}", discovery.logical_id);
            n += 1;
        }
        used.insert(logical_id.clone());
        declared.push((discovery.arn.clone(), logical_id.clone()));
        let mut properties = Map::new();
        properties.insert(
            "ServiceToken".to_owned(),
            json!({"Fn::ImportValue": {"Fn::Sub": format!("${{{SERVICE_STACK_PARAMETER}}}-ServiceToken")}}),
        );
        properties.extend(discovery.properties.clone());
        let mut metadata = Map::new();
        metadata.insert("Role".to_owned(), json!(discovery.arn));
        metadata.insert("MadeBy".to_owned(), json!(origin_text(&discovery.origin)));
        if !discovery.unmapped.is_empty() {
            metadata.insert("NotMapped".to_owned(), json!(discovery.unmapped));
        }
        if !discovery.notes.is_empty() {
            metadata.insert("Notes".to_owned(), json!(discovery.notes));
        }
        resources.insert(
            logical_id,
            json!({
                "Type": "Custom::SageMakerPersonaRole",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Metadata": {METADATA_KEY: metadata},
                "Properties": properties,
            }),
        );
    }
    for (logical_id, resource) in resources.iter_mut() {
        // A role passing itself names its own ARN: a reference would be circular.
        let others: Vec<(String, String)> = declared
            .iter()
            .filter(|(_, id)| id != logical_id)
            .cloned()
            .collect();
        if let Some(properties) = resource.get_mut("Properties") {
            pass_declared_by_reference(properties, &others);
        }
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "SageMaker persona roles of account {account}, found by persona-role discover and declared to be adopted in place (AdoptExistingRole). Review each resource's Metadata ({METADATA_KEY}: what could not be mapped) and preview with persona-role diff --live before deploying."
        ),
        "Parameters": {
            SERVICE_STACK_PARAMETER: {
                "Type": "String",
                "Default": service_stack,
                "Description": "Name of the stack deployed from persona-role's template.yaml (exports <name>-ServiceToken)",
            }
        },
        "Resources": Value::Object(resources),
    })
}

/// Replaces each role ARN in `PassRoles` (top-level and per activity) that names a declared
/// role (IAM compares names ignoring case) with `Fn::GetAtt` of its resource's `Arn`.
fn pass_declared_by_reference(properties: &mut Value, declared: &[(String, String)]) {
    let by_reference = |list: &mut Value| {
        let Some(items) = list.as_array_mut() else {
            return;
        };
        for item in items {
            let resource = item.as_str().and_then(|arn| {
                declared
                    .iter()
                    .find(|(declared, _)| declared.eq_ignore_ascii_case(arn))
            });
            if let Some((_, logical_id)) = resource {
                *item = json!({"Fn::GetAtt": [logical_id, "Arn"]});
            }
        }
    };
    let name = Param::PassRoles.name();
    if let Some(list) = properties.get_mut(name) {
        by_reference(list);
    }
    if let Some(per_activity) = properties
        .get_mut(table::ACTIVITY_PARAMETERS.name)
        .and_then(Value::as_object_mut)
    {
        for parameters in per_activity.values_mut() {
            if let Some(list) = parameters.get_mut(name) {
                by_reference(list);
            }
        }
    }
}

fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::RoleManager => "SageMaker Role Manager".to_owned(),
        Origin::PersonaRole {
            stack_id,
            logical_id,
        } => format!("persona-role: {logical_id} of stack {stack_id}"),
    }
}

/// One YAML properties file for a role, with what could not be mapped as comments on top.
pub fn properties_file(discovery: &Discovery) -> Result<String, serde_yaml_ng::Error> {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# {} ({})",
        discovery.arn,
        origin_text(&discovery.origin)
    );
    for line in &discovery.unmapped {
        let _ = writeln!(text, "# not mapped: {line}");
    }
    for line in &discovery.notes {
        let _ = writeln!(text, "# note: {line}");
    }
    text.push_str(&serde_yaml_ng::to_string(&Value::Object(
        discovery.properties.clone(),
    ))?);
    Ok(text)
}

#[cfg(test)]
mod tests;
