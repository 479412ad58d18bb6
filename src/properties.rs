//! Parse and validate the `Custom::SageMakerPersonaRole` properties. CloudFormation sends every
//! scalar as a string and lists may be empty or, from Service Catalog parameters, a
//! comma-separated string. Every error is collected, so a user fixes them all in one round.
//!
//! [`table`] declares the properties and [`rules`] their value rules, once: the parser, the JSON
//! Schema ([`crate::schema`]) and the documentation ([`crate::reference`]) are read from them.

mod parser;
pub mod rules;
pub mod table;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::catalog::{self, ActivityIndex, Param, Persona};
use crate::context::StackContext;
use parser::{Errors, Parser};

pub const ROLE_NAME_PREFIX: &str = "sagemaker-";
pub const MAX_ROLE_NAME: usize = 64;
pub const MAX_DESCRIPTION: usize = 1000;
pub const MAX_TAGS: usize = 50;
/// IAM's highest adjustable quota of managed policies per role.
pub const MAX_MANAGED_POLICY_QUOTA: usize = 20;
/// The most policy text any role can hold: IAM's largest inline policy and the most managed
/// policies of the largest size (whitespace excluded).
pub const MAX_POLICY_CHARS: usize = INLINE_LIMIT + MAX_MANAGED_POLICY_QUOTA * MANAGED_LIMIT;
/// Total characters of a role's inline policies (IAM's quota, whitespace excluded).
pub const INLINE_LIMIT: usize = 10_240;
/// Characters of one managed policy document.
pub const MANAGED_LIMIT: usize = 6_144;
/// The most items a list may give. Every value of a list appears verbatim in the role's
/// policies, inside an ARN or as a condition value, and costs at least 32 characters there (an
/// ARN's fixed parts; a condition's values share one statement, which must fit one policy), so
/// no role holds more than [`MAX_POLICY_CHARS`] / 32. Checked before any item is judged.
pub const MAX_LIST_ITEMS: usize = MAX_POLICY_CHARS / 32;
/// The longest list given as one comma-separated string: its values alone would exceed what any
/// role's policies hold.
pub const MAX_LIST_TEXT: usize = MAX_POLICY_CHARS;

/// `MaxSessionDuration` when absent: the table's default.
pub fn default_max_session() -> u32 {
    table::MAX_SESSION_DURATION
        .default
        .and_then(|d| d.parse().ok())
        .unwrap_or_default()
}

/// `MaxManagedPolicies` when absent: the table's default (IAM's default quota).
pub fn default_managed_policy_quota() -> usize {
    table::MAX_MANAGED_POLICIES
        .default
        .and_then(|d| d.parse().ok())
        .unwrap_or_default()
}
/// Tag keys this product writes on what it creates; users may not set them.
pub use crate::ownership::RESERVED_TAG_PREFIX;

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
    /// On Create, take over an unowned role of the planned name.
    pub adopt_existing_role: bool,
    /// On adoption, delete the console's detached policies that nothing else uses.
    pub delete_console_policies: bool,
    /// On Delete, leave the role as it is.
    pub retain_on_delete: bool,
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

/// Tags this resource adds to what it creates (stack id and logical id).
pub const OWNERSHIP_TAGS: usize = 2;

/// Whether IAM allows a character in role names.
pub fn is_role_name_char(c: char) -> bool {
    table::ROLE_NAME_CHARS.contains(c)
}
