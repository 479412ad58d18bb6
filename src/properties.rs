//! Parse and validate the `Custom::SageMakerPersonaRole` properties. CloudFormation sends every
//! scalar as a string and lists may be empty or, from Service Catalog parameters, a
//! comma-separated string. Every error is collected, so a user fixes them all in one round.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::catalog::{self, ActivityIndex, Need, Param, Persona};
use crate::context::{Partition, StackContext, is_account_id, is_region_name};

pub const ROLE_NAME_PREFIX: &str = "sagemaker-";
pub const MAX_ROLE_NAME: usize = 64;
pub const MAX_DESCRIPTION: usize = 1000;
pub const MAX_TAGS: usize = 50;
pub const DEFAULT_MAX_SESSION: u32 = 3600;
pub const DEFAULT_MANAGED_POLICY_QUOTA: usize = 10;
/// IAM's highest adjustable quota of managed policies per role.
pub const MAX_MANAGED_POLICY_QUOTA: usize = 20;
/// Tag keys this product writes on what it creates; users may not set them.
pub const RESERVED_TAG_PREFIX: &str = "persona-role:";

/// Property names, as users write them.
pub const PROPERTY_NAMES: &[&str] = &[
    "Persona",
    "RoleNameSuffix",
    "Description",
    "Path",
    "MaxSessionDuration",
    "PermissionsBoundary",
    "ManagedPolicyArns",
    "Tags",
    "Activities",
    "AddActivities",
    "RemoveActivities",
    "ActivityParameters",
    "Regions",
    "MaxManagedPolicies",
    "PassRoles",
    "S3Buckets",
    "EcrRepositories",
    "AthenaWorkgroups",
    "GlueDatabases",
    "VpcSubnets",
    "VpcSecurityGroups",
    "DataKmsKeys",
    "VolumeKmsKeys",
    "KendraIndexes",
    "MlflowTrackingServers",
];

/// Properties CloudFormation itself adds; accepted and ignored.
const CLOUDFORMATION_PROPERTIES: &[&str] = &["ServiceToken", "ServiceTimeout"];

/// One thing wrong with the properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyError {
    /// Where: `Activities[2]`, `ActivityParameters.Manage ML Jobs.PassRoles`.
    pub property: String,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for PropertyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// All that is wrong with the properties, in property order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyErrors(pub Vec<PropertyError>);

impl fmt::Display for PropertyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        if count > 1 {
            write!(f, "{count} invalid properties: ")?;
        }
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PropertyErrors {}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Parameter values by parameter: sorted, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters(BTreeMap<Param, Vec<String>>);

impl Parameters {
    pub fn get(&self, param: Param) -> &[String] {
        self.0.get(&param).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn has(&self, param: Param) -> bool {
        !self.get(param).is_empty()
    }

    fn set(&mut self, param: Param, values: Vec<String>) {
        self.0.insert(param, values);
    }

    fn contains_key(&self, param: Param) -> bool {
        self.0.contains_key(&param)
    }
}

/// Validated properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    pub persona: &'static Persona,
    pub role_name_suffix: Option<String>,
    pub description: Option<String>,
    pub path: String,
    pub max_session_duration: u32,
    pub permissions_boundary: Option<String>,
    pub managed_policy_arns: Vec<String>,
    pub tags: Vec<Tag>,
    /// The selected activities in catalog order.
    pub activities: Vec<ActivityIndex>,
    pub parameters: Parameters,
    pub activity_parameters: BTreeMap<ActivityIndex, Parameters>,
    /// Regions policies are scoped to; empty means all regions.
    pub regions: Vec<String>,
    pub max_managed_policies: usize,
    /// Things that are valid but probably not meant (a parameter no activity uses).
    pub warnings: Vec<String>,
}

impl Properties {
    /// The values of a parameter as one activity sees them: its override, else the top level.
    pub fn param(&self, activity: ActivityIndex, param: Param) -> &[String] {
        match self.activity_parameters.get(&activity) {
            Some(own) if own.contains_key(param) => own.get(param),
            _ => self.parameters.get(param),
        }
    }

    pub fn vpc(&self, activity: ActivityIndex) -> bool {
        catalog::activity(activity).vpc
            && !(self.param(activity, Param::VpcSubnets).is_empty()
                && self.param(activity, Param::VpcSecurityGroups).is_empty())
    }

    pub fn kms(&self, activity: ActivityIndex) -> bool {
        catalog::activity(activity).kms
            && !(self.param(activity, Param::DataKmsKeys).is_empty()
                && self.param(activity, Param::VolumeKmsKeys).is_empty())
    }
}

/// Parses the properties of an event (`ResourceProperties`) in the given stack.
pub fn parse(value: &Value, context: &StackContext) -> Result<Properties, PropertyErrors> {
    let mut errors = Errors::default();
    let Some(map) = value.as_object() else {
        errors.push(
            "ResourceProperties",
            "expected an object of properties",
            None,
        );
        return Err(PropertyErrors(errors.0));
    };
    let parser = Parser {
        map,
        context,
        errors: &mut errors,
    };
    let properties = parser.parse();
    match properties {
        Some(properties) if errors.0.is_empty() => Ok(properties),
        _ => Err(PropertyErrors(errors.0)),
    }
}

#[derive(Default)]
struct Errors(Vec<PropertyError>);

impl Errors {
    fn push(
        &mut self,
        property: impl Into<String>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.0.push(PropertyError {
            property: property.into(),
            message: message.into(),
            help,
        });
    }
}

struct Parser<'a> {
    map: &'a Map<String, Value>,
    context: &'a StackContext,
    errors: &'a mut Errors,
}

impl Parser<'_> {
    fn parse(mut self) -> Option<Properties> {
        self.reject_unknown();
        let persona = self.persona();
        let role_name_suffix = self.role_name_suffix();
        let description = self.description();
        let path = self.path();
        let max_session_duration = self.max_session_duration();
        let permissions_boundary = self.optional_string("PermissionsBoundary").and_then(|arn| {
            self.check_policy_arn("PermissionsBoundary", &arn)
                .then_some(arn)
        });
        let managed_policy_arns = self.managed_policy_arns();
        let tags = self.tags();
        let regions = self.regions();
        let max_managed_policies = self.max_managed_policies();
        let parameters = self.parameters(None);
        let activities = persona.and_then(|persona| self.activities(persona));
        let activity_parameters = self.activity_parameters(activities.as_deref().unwrap_or(&[]));

        // Invalid scalars were reported; defaults let the remaining checks still run.
        let persona = persona?;
        let activities = activities?;
        let mut properties = Properties {
            persona,
            role_name_suffix,
            description,
            path: path.unwrap_or_else(|| "/".to_owned()),
            max_session_duration: max_session_duration.unwrap_or(DEFAULT_MAX_SESSION),
            permissions_boundary,
            managed_policy_arns,
            tags,
            activities,
            parameters,
            activity_parameters,
            regions,
            max_managed_policies: max_managed_policies.unwrap_or(DEFAULT_MANAGED_POLICY_QUOTA),
            warnings: Vec::new(),
        };
        self.check_activity_parameters(&mut properties);
        Some(properties)
    }

    fn reject_unknown(&mut self) {
        for key in self.map.keys() {
            if PROPERTY_NAMES.contains(&key.as_str())
                || CLOUDFORMATION_PROPERTIES.contains(&key.as_str())
            {
                continue;
            }
            let help = catalog::nearest(key, PROPERTY_NAMES.iter().copied())
                .map(|name| format!("did you mean `{name}`?"));
            self.errors.push(key.as_str(), "unknown property", help);
        }
    }

    /// A scalar as a string: CloudFormation sends strings, YAML and JSON files may hold numbers.
    fn scalar(&mut self, property: &str, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => {
                self.errors.push(property, "expected a string", None);
                None
            }
        }
    }

    fn optional_string(&mut self, property: &str) -> Option<String> {
        let value = self.map.get(property)?;
        let s = self.scalar(property, value)?;
        (!s.is_empty()).then_some(s)
    }

    /// A list: a JSON array of scalars, or a comma-separated string. Empty strings are dropped.
    fn list(&mut self, property: &str, value: &Value) -> Vec<(String, String)> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let at = format!("{property}[{i}]");
                    let s = self.scalar(&at, item)?;
                    let s = s.trim().to_owned();
                    (!s.is_empty()).then_some((at, s))
                })
                .collect(),
            Value::String(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(i, s)| (format!("{property}[{i}]"), s.to_owned()))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.errors.push(
                    property,
                    "expected a list of strings or a comma-separated string",
                    None,
                );
                Vec::new()
            }
        }
    }

    fn optional_list(&mut self, property: &str) -> Vec<(String, String)> {
        match self.map.get(property) {
            Some(value) => self.list(property, value),
            None => Vec::new(),
        }
    }

    fn persona(&mut self) -> Option<&'static Persona> {
        let Some(name) = self.optional_string("Persona") else {
            self.errors.push(
                "Persona",
                "required",
                Some(format!("expected one of {}", persona_ids())),
            );
            return None;
        };
        match catalog::find_persona(&name) {
            Some(persona) => Some(persona),
            None => {
                let help = match catalog::suggest_persona(&name) {
                    Some(s) => format!("did you mean `{s}`? expected one of {}", persona_ids()),
                    None => format!("expected one of {}", persona_ids()),
                };
                self.errors
                    .push("Persona", format!("unknown persona `{name}`"), Some(help));
                None
            }
        }
    }

    fn role_name_suffix(&mut self) -> Option<String> {
        let suffix = self.optional_string("RoleNameSuffix")?;
        let max = MAX_ROLE_NAME - ROLE_NAME_PREFIX.len();
        if suffix.chars().count() > max {
            self.errors.push(
                "RoleNameSuffix",
                format!(
                    "`{ROLE_NAME_PREFIX}{suffix}` is {} characters; a role name is at most {MAX_ROLE_NAME}",
                    ROLE_NAME_PREFIX.len() + suffix.chars().count()
                ),
                Some(format!("use a suffix of at most {max} characters")),
            );
        }
        if let Some(bad) = suffix.chars().find(|c| !is_role_name_char(*c)) {
            self.errors.push(
                "RoleNameSuffix",
                format!("`{suffix}` contains `{bad}`, which IAM refuses in role names"),
                Some("use letters, digits and + = , . @ _ -".to_owned()),
            );
        }
        Some(suffix)
    }

    fn description(&mut self) -> Option<String> {
        let description = self.optional_string("Description")?;
        let length = description.chars().count();
        if length > MAX_DESCRIPTION {
            self.errors.push(
                "Description",
                format!("is {length} characters; IAM allows at most {MAX_DESCRIPTION}"),
                None,
            );
        }
        if let Some(bad) = description.chars().find(|c| !is_description_char(*c)) {
            self.errors.push(
                "Description",
                format!("contains {bad:?}, which IAM refuses in role descriptions"),
                Some("use printable Latin-1 characters".to_owned()),
            );
        }
        Some(description)
    }

    fn path(&mut self) -> Option<String> {
        let path = self
            .optional_string("Path")
            .unwrap_or_else(|| "/".to_owned());
        // Managed policies share the role's path, so the stricter policy-path rule applies.
        let valid = path.len() <= 512
            && path.starts_with('/')
            && path.ends_with('/')
            && path[1..].split_terminator('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
            });
        // The function's own permissions are scoped by ARNs like `role/sagemaker-*`, where `*`
        // also spans `/`: a path segment holding `sagemaker-` would widen them, so its template
        // denies such paths; say so here rather than let IAM answer AccessDenied.
        let widening = path
            .split('/')
            .any(|segment| segment.contains(ROLE_NAME_PREFIX));
        if valid && widening {
            self.errors.push(
                "Path",
                format!("`{path}` has a segment containing `{ROLE_NAME_PREFIX}`"),
                Some(format!(
                    "role paths may not contain `{ROLE_NAME_PREFIX}` in a segment, which would widen the function's permissions; use e.g. `/ml/`"
                )),
            );
            None
        } else if valid {
            Some(path)
        } else {
            self.errors.push(
                "Path",
                format!("`{path}` is not an IAM path"),
                Some(
                    "expected `/` or `/segment/.../` of letters, digits and . , + @ = _ -, at most 512 characters"
                        .to_owned(),
                ),
            );
            None
        }
    }

    fn max_session_duration(&mut self) -> Option<u32> {
        let Some(value) = self.optional_string("MaxSessionDuration") else {
            return Some(DEFAULT_MAX_SESSION);
        };
        match value.parse::<u32>() {
            Ok(seconds) if (3600..=43200).contains(&seconds) => Some(seconds),
            _ => {
                self.errors.push(
                    "MaxSessionDuration",
                    format!("`{value}` is not a whole number of seconds from 3600 to 43200"),
                    None,
                );
                None
            }
        }
    }

    fn max_managed_policies(&mut self) -> Option<usize> {
        let Some(value) = self.optional_string("MaxManagedPolicies") else {
            return Some(DEFAULT_MANAGED_POLICY_QUOTA);
        };
        match value.parse::<usize>() {
            Ok(n) if (1..=MAX_MANAGED_POLICY_QUOTA).contains(&n) => Some(n),
            _ => {
                self.errors.push(
                    "MaxManagedPolicies",
                    format!(
                        "`{value}` is not a number from 1 to {MAX_MANAGED_POLICY_QUOTA} (the account's quota of managed policies per role)"
                    ),
                    None,
                );
                None
            }
        }
    }

    fn managed_policy_arns(&mut self) -> Vec<String> {
        let items = self.optional_list("ManagedPolicyArns");
        let mut arns: Vec<String> = items
            .into_iter()
            .filter(|(at, arn)| self.check_policy_arn(at, arn))
            .map(|(_, arn)| arn)
            .collect();
        arns.sort();
        arns.dedup();
        arns
    }

    fn check_policy_arn(&mut self, property: &str, arn: &str) -> bool {
        let partition = self.context.partition.name();
        let valid = arn
            .strip_prefix(&format!("arn:{partition}:iam::"))
            .and_then(|rest| rest.split_once(":policy/"))
            .is_some_and(|(owner, name)| {
                (owner == "aws" || is_account_id(owner))
                    && !name.is_empty()
                    && name.split('/').all(|segment| {
                        !segment.is_empty()
                            && segment
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
                    })
            });
        if !valid {
            self.errors.push(
                property,
                format!("`{arn}` is not an IAM policy ARN in partition `{partition}`"),
                Some(format!(
                    "expected arn:{partition}:iam::ACCOUNT:policy/NAME or arn:{partition}:iam::aws:policy/NAME"
                )),
            );
        }
        valid
    }

    fn tags(&mut self) -> Vec<Tag> {
        let Some(value) = self.map.get("Tags") else {
            return Vec::new();
        };
        let items = match value {
            Value::Array(items) => items,
            Value::Null => return Vec::new(),
            _ => {
                self.errors
                    .push("Tags", "expected a list of {Key, Value} objects", None);
                return Vec::new();
            }
        };
        let mut tags = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("Tags[{i}]");
            let (Some(key), value) = (
                item.get("Key")
                    .and_then(|k| self.scalar(&format!("{at}.Key"), k)),
                item.get("Value"),
            ) else {
                self.errors
                    .push(at, "expected an object with Key and Value", None);
                continue;
            };
            let value = match value {
                Some(v) => self.scalar(&format!("{at}.Value"), v).unwrap_or_default(),
                None => String::new(),
            };
            if key.is_empty() || key.chars().count() > 128 || !key.chars().all(is_tag_char) {
                self.errors.push(
                    format!("{at}.Key"),
                    format!("`{key}` is not a tag key"),
                    Some("expected 1-128 letters, digits, spaces and _ . : / = + - @".to_owned()),
                );
            } else if key.to_ascii_lowercase().starts_with("aws:") {
                self.errors.push(
                    format!("{at}.Key"),
                    format!("`{key}` uses the prefix `aws:`, which AWS reserves"),
                    None,
                );
            } else if key.starts_with(RESERVED_TAG_PREFIX) {
                self.errors.push(
                    format!("{at}.Key"),
                    format!("`{key}` uses the prefix `{RESERVED_TAG_PREFIX}`, which this resource reserves for its ownership tags"),
                    None,
                );
            } else if !seen.insert(key.to_lowercase()) {
                self.errors.push(
                    format!("{at}.Key"),
                    format!("duplicate tag key `{key}`"),
                    None,
                );
            }
            if value.chars().count() > 256 || !value.chars().all(is_tag_char) {
                self.errors.push(
                    format!("{at}.Value"),
                    "is not a tag value",
                    Some("expected 0-256 letters, digits, spaces and _ . : / = + - @".to_owned()),
                );
            }
            tags.push(Tag { key, value });
        }
        let room = MAX_TAGS - OWNERSHIP_TAGS;
        if tags.len() > room {
            self.errors.push(
                "Tags",
                format!(
                    "{} tags given; IAM allows {MAX_TAGS} per role and this resource adds {OWNERSHIP_TAGS} ownership tags",
                    tags.len()
                ),
                Some(format!("use at most {room} tags")),
            );
        }
        tags
    }

    fn regions(&mut self) -> Vec<String> {
        let partition = self.context.partition;
        let mut regions: Vec<String> = self
            .optional_list("Regions")
            .into_iter()
            .filter(|(at, region)| {
                if !is_region_name(region) {
                    self.errors.push(
                        at.as_str(),
                        format!("`{region}` is not a region name like us-east-1"),
                        None,
                    );
                    false
                } else if Partition::of_region(region) != partition {
                    self.errors.push(
                        at.as_str(),
                        format!("region `{region}` is not in the stack's partition `{partition}`"),
                        None,
                    );
                    false
                } else {
                    true
                }
            })
            .map(|(_, region)| region)
            .collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// Top-level parameters (scope None) or one activity's (scope Some(prefix)).
    fn parameters(&mut self, scope: Option<(&str, &Map<String, Value>)>) -> Parameters {
        let mut parameters = Parameters::default();
        for param in Param::ALL {
            let (property, value) = match scope {
                None => (param.name().to_owned(), self.map.get(param.name())),
                Some((prefix, map)) => (format!("{prefix}.{param}"), map.get(param.name())),
            };
            let Some(value) = value else { continue };
            let mut values: Vec<String> = self
                .list(&property, value)
                .into_iter()
                .filter(|(at, v)| self.check_value(param, at, v))
                .map(|(_, v)| v)
                .collect();
            values.sort();
            values.dedup();
            parameters.set(param, values);
        }
        let prefix = scope
            .map(|(prefix, _)| format!("{prefix}."))
            .unwrap_or_default();
        pair(
            self.errors,
            &parameters,
            &prefix,
            Param::VpcSubnets,
            Param::VpcSecurityGroups,
        );
        pair(
            self.errors,
            &parameters,
            &prefix,
            Param::DataKmsKeys,
            Param::VolumeKmsKeys,
        );
        parameters
    }

    fn check_value(&mut self, param: Param, at: &str, value: &str) -> bool {
        let partition = self.context.partition.name();
        let account = &self.context.account;
        let problem: Option<String> = match param {
            Param::PassRoles => match arn_parts(value, partition, "iam") {
                Some(("", owner, resource)) if resource.starts_with("role/") => {
                    if owner != account {
                        Some(format!(
                            "role is in account {owner}, but iam:PassRole only passes roles of the stack's account {account}"
                        ))
                    } else if !valid_resource_name(&resource["role/".len()..], "+=,.@_-*/") {
                        Some("is not a role ARN".to_owned())
                    } else {
                        None
                    }
                }
                _ => Some("is not an IAM role ARN".to_owned()),
            },
            Param::S3Buckets => {
                (!is_bucket_pattern(value)).then(|| "is not an S3 bucket name".to_owned())
            }
            Param::EcrRepositories => match arn_parts(value, partition, "ecr") {
                Some((region, owner, resource))
                    if is_region_or_wildcard(region)
                        && is_account_id(owner)
                        && resource
                            .strip_prefix("repository/")
                            .is_some_and(|name| valid_resource_name(name, "._-/*")) =>
                {
                    None
                }
                _ => Some("is not an ECR repository ARN".to_owned()),
            },
            Param::AthenaWorkgroups => (!(1..=128).contains(&value.len())
                || !valid_resource_name(value, "._-"))
            .then(|| "is not an Athena workgroup name".to_owned()),
            Param::GlueDatabases => (!(1..=255).contains(&value.len())
                || !valid_resource_name(value, "._-"))
            .then(|| "is not a Glue database name".to_owned()),
            Param::VpcSubnets => {
                (!is_aws_id(value, "subnet-")).then(|| "is not a subnet id".to_owned())
            }
            Param::VpcSecurityGroups => {
                (!is_aws_id(value, "sg-")).then(|| "is not a security group id".to_owned())
            }
            Param::DataKmsKeys | Param::VolumeKmsKeys => match arn_parts(value, partition, "kms") {
                Some((region, owner, resource))
                    if is_region_name(region)
                        && is_account_id(owner)
                        && resource
                            .strip_prefix("key/")
                            .is_some_and(|id| valid_resource_name(id, "-")) =>
                {
                    None
                }
                Some((_, _, resource)) if resource.starts_with("alias/") => Some(
                    "is an alias ARN; IAM authorizes KMS use by key, so give the key's ARN"
                        .to_owned(),
                ),
                _ => Some("is not a KMS key ARN".to_owned()),
            },
            Param::KendraIndexes => (value.len() != 36 || !valid_resource_name(value, "-"))
                .then(|| "is not a Kendra index id".to_owned()),
            Param::MlflowTrackingServers => match arn_parts(value, partition, "sagemaker") {
                Some((region, owner, resource))
                    if is_region_name(region)
                        && is_account_id(owner)
                        && resource
                            .strip_prefix("mlflow-tracking-server/")
                            .is_some_and(|name| valid_resource_name(name, "-*")) =>
                {
                    None
                }
                _ => Some("is not an MLflow tracking server ARN".to_owned()),
            },
        };
        match problem {
            None => true,
            Some(problem) => {
                self.errors.push(
                    at,
                    format!("`{value}` {problem}"),
                    Some(format!("expected {}", param.expected())),
                );
                false
            }
        }
    }

    fn activities(&mut self, persona: &'static Persona) -> Option<Vec<ActivityIndex>> {
        let exact = self.map.contains_key("Activities");
        let adjusting =
            self.map.contains_key("AddActivities") || self.map.contains_key("RemoveActivities");
        if exact && adjusting {
            self.errors.push(
                "Activities",
                "given together with AddActivities or RemoveActivities",
                Some(
                    "Activities replaces the persona's defaults; use it alone, or adjust the defaults with AddActivities and RemoveActivities".to_owned(),
                ),
            );
            return None;
        }
        let mut selected: Vec<ActivityIndex> = Vec::new();
        let mut ok = true;
        if exact {
            for (at, index) in self.activity_names("Activities") {
                let Some(index) = index else {
                    ok = false;
                    continue;
                };
                if selected.contains(&index) {
                    ok = false;
                    self.errors.push(
                        at,
                        format!("duplicate activity `{}`", catalog::activity(index).name),
                        None,
                    );
                } else {
                    selected.push(index);
                }
            }
        } else {
            let defaults: Vec<ActivityIndex> = persona
                .defaults
                .iter()
                .filter_map(|id| catalog::find_activity(id))
                .collect();
            selected.extend(&defaults);
            let mut added = Vec::new();
            for (at, index) in self.activity_names("AddActivities") {
                let Some(index) = index else {
                    ok = false;
                    continue;
                };
                let name = catalog::activity(index).name;
                if defaults.contains(&index) {
                    ok = false;
                    self.errors.push(
                        at,
                        format!(
                            "duplicate activity `{name}`: it is already a default of persona {}",
                            persona.id
                        ),
                        None,
                    );
                } else if added.contains(&index) {
                    ok = false;
                    self.errors
                        .push(at, format!("duplicate activity `{name}`"), None);
                } else {
                    added.push(index);
                    selected.push(index);
                }
            }
            let mut removed = Vec::new();
            for (at, index) in self.activity_names("RemoveActivities") {
                let Some(index) = index else {
                    ok = false;
                    continue;
                };
                let name = catalog::activity(index).name;
                if removed.contains(&index) {
                    ok = false;
                    self.errors
                        .push(at, format!("duplicate activity `{name}`"), None);
                } else if !defaults.contains(&index) {
                    ok = false;
                    let listed: Vec<&str> = defaults
                        .iter()
                        .map(|i| catalog::activity(*i).name)
                        .collect();
                    self.errors.push(
                        at,
                        format!("`{name}` is not a default of persona {}", persona.id),
                        Some(if listed.is_empty() {
                            format!("persona {} has no defaults", persona.id)
                        } else {
                            format!("its defaults are {}", listed.join(", "))
                        }),
                    );
                } else {
                    removed.push(index);
                }
            }
            selected.retain(|index| !removed.contains(index));
        }
        if !ok {
            return None;
        }
        if selected.is_empty() {
            self.errors.push(
                if exact { "Activities" } else { "Persona" },
                format!("no activities selected for persona {}", persona.id),
                Some("list activities in Activities or AddActivities; `persona-role catalog` lists them".to_owned()),
            );
            return None;
        }
        selected.sort_unstable();
        Some(selected)
    }

    fn activity_names(&mut self, property: &str) -> Vec<(String, Option<ActivityIndex>)> {
        self.optional_list(property)
            .into_iter()
            .map(|(at, name)| {
                let index = catalog::find_activity(&name);
                if index.is_none() {
                    let help = catalog::suggest_activity(&name)
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| Some("`persona-role catalog` lists the activities".to_owned()));
                    self.errors
                        .push(at.as_str(), format!("unknown activity `{name}`"), help);
                }
                (at, index)
            })
            .collect()
    }

    fn activity_parameters(
        &mut self,
        selected: &[ActivityIndex],
    ) -> BTreeMap<ActivityIndex, Parameters> {
        let mut result = BTreeMap::new();
        let Some(value) = self.map.get("ActivityParameters") else {
            return result;
        };
        let Some(map) = value.as_object() else {
            if !value.is_null() {
                self.errors.push(
                    "ActivityParameters",
                    "expected an object from activity name to parameters",
                    None,
                );
            }
            return result;
        };
        for (name, params) in map {
            let at = format!("ActivityParameters.{name}");
            let Some(index) = catalog::find_activity(name) else {
                let help = catalog::suggest_activity(name).map(|s| format!("did you mean `{s}`?"));
                self.errors
                    .push(at, format!("unknown activity `{name}`"), help);
                continue;
            };
            let activity = catalog::activity(index);
            if !selected.is_empty() && !selected.contains(&index) {
                self.errors.push(
                    at.as_str(),
                    format!("activity `{}` is not selected", activity.name),
                    Some(
                        "add it to Activities or AddActivities, or remove these parameters"
                            .to_owned(),
                    ),
                );
            }
            if result.contains_key(&index) {
                self.errors.push(
                    at.as_str(),
                    format!("parameters for `{}` are given twice", activity.name),
                    None,
                );
                continue;
            }
            let Some(params) = params.as_object() else {
                self.errors
                    .push(at, "expected an object of parameters", None);
                continue;
            };
            for key in params.keys() {
                match Param::ALL.iter().find(|p| p.name() == key) {
                    None => {
                        let help = catalog::nearest(key, Param::ALL.iter().map(|p| p.name()))
                            .map(|s| format!("did you mean `{s}`?"));
                        self.errors
                            .push(format!("{at}.{key}"), "unknown parameter", help);
                    }
                    Some(param) if !accepts(activity, *param) => {
                        self.errors.push(
                            format!("{at}.{key}"),
                            format!("activity `{}` takes no {param}", activity.name),
                            Some(takes(activity)),
                        );
                    }
                    Some(_) => {}
                }
            }
            let parameters = self.parameters(Some((&at, params)));
            result.insert(index, parameters);
        }
        result
    }

    /// Required parameters present, and a warning for parameters no selected activity uses.
    fn check_activity_parameters(&mut self, properties: &mut Properties) {
        // One error per property, naming every activity that needs it.
        let mut missing: BTreeMap<String, (Param, Vec<&'static str>)> = BTreeMap::new();
        for &index in &properties.activities {
            let activity = catalog::activity(index);
            for used in activity.params {
                if used.need == Need::Required && properties.param(index, used.param).is_empty() {
                    let overridden = properties
                        .activity_parameters
                        .get(&index)
                        .is_some_and(|own| own.contains_key(used.param));
                    let property = if overridden {
                        format!("ActivityParameters.{}.{}", activity.name, used.param)
                    } else {
                        used.param.name().to_owned()
                    };
                    missing
                        .entry(property)
                        .or_insert_with(|| (used.param, Vec::new()))
                        .1
                        .push(activity.name);
                }
            }
        }
        for (property, (param, activities)) in missing {
            let names: Vec<String> = activities.iter().map(|a| format!("`{a}`")).collect();
            let noun = if names.len() == 1 {
                "activity"
            } else {
                "activities"
            };
            self.errors.push(
                property,
                format!("required by {noun} {}", names.join(", ")),
                Some(format!("expected {}", param.expected())),
            );
        }
        for param in Param::ALL {
            if properties.parameters.has(param)
                && !properties.activities.iter().any(|&index| {
                    accepts(catalog::activity(index), param)
                        && !properties
                            .activity_parameters
                            .get(&index)
                            .is_some_and(|own| own.contains_key(param))
                })
            {
                properties
                    .warnings
                    .push(format!("{param} is given but no selected activity uses it"));
            }
        }
    }
}

/// Tags this resource adds to what it creates (stack id and logical id).
pub const OWNERSHIP_TAGS: usize = 2;

fn pair(errors: &mut Errors, parameters: &Parameters, prefix: &str, a: Param, b: Param) {
    for (given, missing) in [(a, b), (b, a)] {
        if parameters.has(given) && !parameters.has(missing) {
            errors.push(
                format!("{prefix}{missing}"),
                format!("required because {given} is given: {a} and {b} go together"),
                Some(format!(
                    "give both, or neither; expected {}",
                    missing.expected()
                )),
            );
        }
    }
}

/// Whether an activity takes a parameter. VPC and KMS parameters come in pairs that an activity
/// with the customization accepts whole, even where its statements use only one of the pair.
fn accepts(activity: &catalog::Activity, param: Param) -> bool {
    activity.uses(param).is_some()
        || match param {
            Param::VpcSubnets | Param::VpcSecurityGroups => activity.vpc,
            Param::DataKmsKeys | Param::VolumeKmsKeys => activity.kms,
            _ => false,
        }
}

fn persona_ids() -> String {
    catalog::PERSONAS
        .iter()
        .map(|p| p.id)
        .collect::<Vec<_>>()
        .join(", ")
}

fn takes(activity: &catalog::Activity) -> String {
    if activity.params.is_empty() {
        format!("`{}` takes no parameters", activity.name)
    } else {
        let names: Vec<&str> = activity.params.iter().map(|p| p.param.name()).collect();
        format!("`{}` takes {}", activity.name, names.join(", "))
    }
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` → (region, account, resource).
fn arn_parts<'a>(
    arn: &'a str,
    partition: &str,
    service: &str,
) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:")?;
    let rest = rest.strip_prefix(partition)?.strip_prefix(':')?;
    let rest = rest.strip_prefix(service)?.strip_prefix(':')?;
    let mut parts = rest.splitn(3, ':');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

fn valid_resource_name(name: &str, extra: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

fn is_region_or_wildcard(region: &str) -> bool {
    region == "*" || is_region_name(region)
}

fn is_aws_id(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// A bucket name, optionally with `*` wildcards (`team-*`).
fn is_bucket_pattern(value: &str) -> bool {
    let wildcard = value.contains('*');
    let len_ok = if wildcard {
        (1..=63).contains(&value.len())
    } else {
        (3..=63).contains(&value.len())
    };
    let chars_ok = value.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'*'
    });
    let edges_ok = |b: Option<u8>| {
        b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'*')
    };
    len_ok
        && chars_ok
        && edges_ok(value.bytes().next())
        && edges_ok(value.bytes().last())
        && !value.contains("..")
}

pub fn is_role_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

fn is_description_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A1}'..='\u{FF}')
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}
