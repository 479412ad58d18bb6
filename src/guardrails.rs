//! The deputy's guardrails: limits the function's operator sets (template parameters, passed as
//! environment) on every role users declare. The execution role's IAM conditions and the
//! permissions boundary every role carries enforce the same limits; checking them here gives
//! users a clear FAILED reason instead of AccessDenied.

use serde_json::Value;

use crate::arn::Arn;
use crate::catalog::{self, Param};
use crate::context::Partition;
use crate::properties::{Properties, PropertyError, PropertyErrors, ROLE_NAME_PREFIX, table};

mod scope;
pub use scope::covers;

pub const REQUIRED_BOUNDARY_ENV: &str = "PERSONA_ROLE_REQUIRED_BOUNDARY";
pub const ALLOWED_MANAGED_POLICIES_ENV: &str = "PERSONA_ROLE_ALLOWED_MANAGED_POLICIES";
pub const ALLOWED_PASS_ROLES_ENV: &str = "PERSONA_ROLE_ALLOWED_PASS_ROLES";
pub const ALLOW_ADOPTION_ENV: &str = "PERSONA_ROLE_ALLOW_ADOPTION";
pub const ADOPTION_SCOPE_ENV: &str = "PERSONA_ROLE_ADOPTION_SCOPE";
pub const ADOPTING_STACKS_ENV: &str = "PERSONA_ROLE_ADOPTING_STACKS";
pub const ALLOWED_S3_BUCKETS_ENV: &str = "PERSONA_ROLE_ALLOWED_S3_BUCKETS";
pub const ALLOWED_ACTIVITIES_ENV: &str = "PERSONA_ROLE_ALLOWED_ACTIVITIES";
pub const ALLOWED_TAG_KEYS_ENV: &str = "PERSONA_ROLE_ALLOWED_TAG_KEYS";
pub const MAX_ROLES_PER_STACK_ENV: &str = "PERSONA_ROLE_MAX_ROLES_PER_STACK";
pub const MAX_OWN_POLICIES_PER_STACK_ENV: &str = "PERSONA_ROLE_MAX_OWN_POLICIES_PER_STACK";
/// Every variable the guardrails are read from; the template must set exactly these.
pub const ENVIRONMENT: &[&str] = &[
    REQUIRED_BOUNDARY_ENV,
    ALLOWED_MANAGED_POLICIES_ENV,
    ALLOWED_PASS_ROLES_ENV,
    ALLOW_ADOPTION_ENV,
    ADOPTION_SCOPE_ENV,
    ADOPTING_STACKS_ENV,
    ALLOWED_S3_BUCKETS_ENV,
    ALLOWED_ACTIVITIES_ENV,
    ALLOWED_TAG_KEYS_ENV,
    MAX_ROLES_PER_STACK_ENV,
    MAX_OWN_POLICIES_PER_STACK_ENV,
];
/// The function's stack parameter each guardrail variable is set from, as `template.yaml`'s
/// Environment sets it (a list parameter joined by commas, as DescribeStacks shows it too).
/// [`REQUIRED_BOUNDARY_ENV`] is [`BOUNDARY_PARAMETER`], else the stack's own
/// [`SHIPPED_BOUNDARY`].
pub const PARAMETERS: [(&str, &str); 10] = [
    (ALLOWED_MANAGED_POLICIES_ENV, "AllowedManagedPolicyArns"),
    (ALLOWED_PASS_ROLES_ENV, "AllowedPassRoles"),
    (ALLOW_ADOPTION_ENV, "AllowAdoption"),
    (ADOPTION_SCOPE_ENV, "AdoptionScope"),
    (ADOPTING_STACKS_ENV, "AdoptingStacks"),
    (ALLOWED_S3_BUCKETS_ENV, "AllowedS3Buckets"),
    (ALLOWED_ACTIVITIES_ENV, "AllowedActivities"),
    (ALLOWED_TAG_KEYS_ENV, "AllowedTagKeys"),
    (MAX_ROLES_PER_STACK_ENV, "MaxRolesPerStack"),
    (MAX_OWN_POLICIES_PER_STACK_ENV, "MaxOwnPoliciesPerStack"),
];
/// The parameter naming the operator's own boundary.
pub const BOUNDARY_PARAMETER: &str = "RequiredPermissionsBoundary";
/// The logical id of the boundary the function's stack ships (its physical id is its ARN).
pub const SHIPPED_BOUNDARY: &str = "PersonaRoleBoundary";
/// The `AdoptionScope` that widens adoption beyond Role Manager's roles.
pub const ADOPT_ANY_UNOWNED_ROLE: &str = "AnyUnownedRole";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guardrails {
    /// Every role gets this permissions boundary; a different one is refused. Deployed, it is
    /// the operator's RequiredPermissionsBoundary or else the boundary the stack ships.
    pub required_boundary: Option<String>,
    /// Read from an environment that names no boundary: the function was deployed some other
    /// way than `template.yaml`. Roles are then refused rather than made without a ceiling.
    pub boundary_missing: bool,
    /// ARN patterns (`*` matches any run of characters) that `ManagedPolicyArns` may name;
    /// `None` allows any.
    pub allowed_managed_policies: Option<Vec<String>>,
    /// ARN patterns that `PassRoles` (top-level and per activity) may name; `None` allows any.
    pub allowed_pass_roles: Option<Vec<String>>,
    /// `AdoptExistingRole` may not take over a role no stack owns (the function's stack was
    /// deployed with `AllowAdoption=false`, so its IAM permissions would refuse the tagging).
    pub adoption_forbidden: bool,
    /// Adoption may take over any unowned role, not only those shaped as Role Manager's console
    /// made them (`AdoptionScope=AnyUnownedRole`). Off unless the operator widens it.
    pub adopt_any_unowned_role: bool,
    /// The stacks whose resources may adopt (`AdoptingStacks`: name patterns, `*` matches any
    /// run of characters); empty, none. `None` (not deployed by the template) lets any stack's.
    pub adopting_stacks: Option<Vec<String>>,
    /// Bucket name patterns (`*` matches any run of characters) that every bucket a role
    /// reaches must fall within, each within one pattern. Empty: any bucket, but no pattern
    /// that reaches every bucket (one starting with `*`). `None` allows any.
    pub allowed_s3_buckets: Option<Vec<String>>,
    /// Activities (ids, names or aliases, as `Activities` takes them) a role may have; `None`
    /// allows all.
    pub allowed_activities: Option<Vec<String>>,
    /// Tag key patterns a declaration may set on roles, matched case-sensitively as IAM's
    /// `aws:TagKeys` is; empty allows none, `None` any.
    pub allowed_tag_keys: Option<Vec<String>>,
    /// How many roles one stack may have through this function (`MaxRolesPerStack`): a Create
    /// beyond it is refused, so that no one stack uses up the account's roles.
    pub max_roles_per_stack: PerStack,
    /// How many managed policies of their own one stack's roles may have together
    /// (`MaxOwnPoliciesPerStack`): a plan that would go beyond it is refused, so that no one
    /// stack uses up the account's customer managed policies.
    pub max_own_policies_per_stack: PerStack,
}

/// A limit on what one stack may have, as the function's environment sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PerStack {
    /// Unset or empty (the offline CLI, a function deployed some other way): no limit.
    #[default]
    Unlimited,
    AtMost(usize),
    /// Set to something that is no whole number: what it limits is refused, naming the value,
    /// rather than left without a limit.
    Unreadable(String),
}

impl PerStack {
    /// From an environment variable's value.
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => PerStack::Unlimited,
            Some(text) => text
                .parse()
                .map_or_else(|_| PerStack::Unreadable(text.to_owned()), PerStack::AtMost),
        }
    }
}

impl Guardrails {
    /// From the environment variables' values; empty values mean unset.
    pub fn from_values(required_boundary: Option<&str>, allowed: Option<&str>) -> Self {
        let required_boundary = required_boundary
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Guardrails {
            required_boundary,
            allowed_managed_policies: allowed.map(patterns),
            ..Guardrails::default()
        }
    }

    /// With the roles `PassRoles` may name: unset allows any, empty none.
    pub fn with_pass_roles(mut self, allowed: Option<&str>) -> Self {
        self.allowed_pass_roles = allowed.map(patterns);
        self
    }

    /// With the adoption switch's value: unset or empty leaves adoption to IAM, anything but
    /// `true` forbids it.
    pub fn with_adoption(mut self, allow_adoption: Option<&str>) -> Self {
        let value = allow_adoption.map(str::trim).unwrap_or_default();
        self.adoption_forbidden = !value.is_empty() && value != "true";
        self
    }

    /// With the adoption scope's value: only [`ADOPT_ANY_UNOWNED_ROLE`] widens it.
    pub fn with_adoption_scope(mut self, scope: Option<&str>) -> Self {
        self.adopt_any_unowned_role = scope.map(str::trim) == Some(ADOPT_ANY_UNOWNED_ROLE);
        self
    }

    /// With the stacks that may adopt: unset lets any, empty none.
    pub fn with_adopting_stacks(mut self, stacks: Option<&str>) -> Self {
        self.adopting_stacks = stacks.map(patterns);
        self
    }

    /// With the bucket patterns every bucket must fall within: unset allows any, empty any but
    /// those reaching every bucket.
    pub fn with_s3_buckets(mut self, allowed: Option<&str>) -> Self {
        self.allowed_s3_buckets = allowed.map(patterns);
        self
    }

    /// With the activities roles may have: unset or empty allows all.
    pub fn with_activities(mut self, allowed: Option<&str>) -> Self {
        self.allowed_activities = allowed.map(patterns).filter(|names| !names.is_empty());
        self
    }

    /// With the tag keys declarations may set: unset allows any, empty none.
    pub fn with_tag_keys(mut self, allowed: Option<&str>) -> Self {
        self.allowed_tag_keys = allowed.map(patterns);
        self
    }

    /// With the per-stack limits on roles and on their own managed policies: unset or empty,
    /// none.
    pub fn with_stack_limits(mut self, roles: Option<&str>, own_policies: Option<&str>) -> Self {
        self.max_roles_per_stack = PerStack::parse(roles);
        self.max_own_policies_per_stack = PerStack::parse(own_policies);
        self
    }

    /// The function's guardrails as deployed. Without a boundary in the environment, every
    /// Create and Update is refused (`boundary_missing`): a role without a ceiling is never
    /// the default.
    pub fn from_env() -> Self {
        Guardrails::from_variables(|name| std::env::var(name).ok())
    }

    /// The guardrails of an environment whose variables `variable` gives: the same reading as
    /// [`Guardrails::from_env`], for an environment evaluated from `template.yaml`.
    pub fn from_variables(variable: impl Fn(&str) -> Option<String>) -> Self {
        let mut guardrails = Guardrails::from_values(
            variable(REQUIRED_BOUNDARY_ENV).as_deref(),
            variable(ALLOWED_MANAGED_POLICIES_ENV).as_deref(),
        )
        .with_pass_roles(variable(ALLOWED_PASS_ROLES_ENV).as_deref())
        .with_adoption(variable(ALLOW_ADOPTION_ENV).as_deref())
        .with_adoption_scope(variable(ADOPTION_SCOPE_ENV).as_deref())
        .with_adopting_stacks(variable(ADOPTING_STACKS_ENV).as_deref())
        .with_s3_buckets(variable(ALLOWED_S3_BUCKETS_ENV).as_deref())
        .with_activities(variable(ALLOWED_ACTIVITIES_ENV).as_deref())
        .with_tag_keys(variable(ALLOWED_TAG_KEYS_ENV).as_deref())
        .with_stack_limits(
            variable(MAX_ROLES_PER_STACK_ENV).as_deref(),
            variable(MAX_OWN_POLICIES_PER_STACK_ENV).as_deref(),
        );
        guardrails.boundary_missing = guardrails.required_boundary.is_none();
        guardrails
    }

    /// The function's guardrails as its stack deploys them, from the stack's parameters as
    /// DescribeStacks shows them and the ARN of the boundary it ships: what `persona-role
    /// drift` plans with, outside the function.
    pub fn from_stack_parameters(
        parameters: &std::collections::BTreeMap<String, String>,
        shipped_boundary: Option<&str>,
    ) -> Self {
        Guardrails::from_variables(|name| {
            if name == REQUIRED_BOUNDARY_ENV {
                return parameters
                    .get(BOUNDARY_PARAMETER)
                    .map(|value| value.trim())
                    .filter(|value| !value.is_empty())
                    .or(shipped_boundary)
                    .map(str::to_owned);
            }
            let (_, parameter) = PARAMETERS.iter().find(|(variable, _)| *variable == name)?;
            parameters.get(*parameter).cloned()
        })
    }

    /// Applies the required boundary and checks every managed policy the role would attach —
    /// the user's and those activities bring — every role it may pass, and the operator's
    /// limits on its buckets, activities and tag keys; all violations at once. `raw` (the
    /// properties as given) places each refused value at its index.
    pub fn apply(
        &self,
        properties: &mut Properties,
        raw: &Value,
        partition: Partition,
    ) -> Result<(), PropertyErrors> {
        let mut errors = Vec::new();
        if self.boundary_missing {
            errors.push(PropertyError {
                property: REQUIRED_BOUNDARY_ENV.to_owned(),
                message: "the function's environment names no permissions boundary, and it makes no role without one".to_owned(),
                help: Some("deploy the function with template.yaml, which sets it to RequiredPermissionsBoundary or to the stack's own PersonaRoleBoundary".to_owned()),
            });
        }
        if let Some(required) = &self.required_boundary {
            match &properties.permissions_boundary {
                None => properties.permissions_boundary = Some(required.clone()),
                Some(given) if given == required => {}
                Some(given) => errors.push(PropertyError {
                    property: "PermissionsBoundary".to_owned(),
                    message: format!(
                        "`{given}` is not the permissions boundary this function requires"
                    ),
                    help: Some(format!(
                        "omit PermissionsBoundary, or give `{required}` (the function's RequiredPermissionsBoundary)"
                    )),
                }),
            }
        }
        if let Some(allowed) = &self.allowed_managed_policies {
            let is_allowed = |arn: &str| allowed.iter().any(|pattern| glob_match(pattern, arn));
            let help = || {
                Some(if allowed.is_empty() {
                    "this function allows no managed policies besides each role's own".to_owned()
                } else {
                    format!("allowed: {}", allowed.join(", "))
                })
            };
            for arn in &properties.managed_policy_arns {
                if !is_allowed(arn) && self.never_attached(arn).is_none() {
                    errors.push(PropertyError {
                        property: at(
                            table::MANAGED_POLICY_ARNS.name,
                            raw.get(table::MANAGED_POLICY_ARNS.name),
                            arn,
                        ),
                        message: format!(
                            "`{arn}` is not on this function's AllowedManagedPolicyArns"
                        ),
                        help: help(),
                    });
                }
            }
            for &index in &properties.activities {
                let activity = catalog::activity(index);
                for name in activity.aws_managed_policies {
                    let arn = format!("arn:{partition}:iam::aws:policy/{name}");
                    if !is_allowed(&arn) {
                        errors.push(PropertyError {
                            property: "Activities".to_owned(),
                            message: format!(
                                "activity `{}` attaches `{arn}`, which is not on this function's AllowedManagedPolicyArns",
                                activity.name
                            ),
                            help: help(),
                        });
                    }
                }
            }
        }
        if self.allowed_pass_roles.is_some() {
            errors.extend(
                passed_roles(properties, raw)
                    .into_iter()
                    .filter(|passed| hides_sagemaker_in_path(&passed.arn))
                    .map(|passed| PropertyError {
                        message: format!(
                            "`{}` has `sagemaker-` in its path, where IAM's ARN patterns cannot tell it from a role name; such a role is never passed",
                            passed.arn
                        ),
                        property: passed.property,
                        help: Some("pass a role whose path does not contain `sagemaker-`".to_owned()),
                    }),
            );
        }
        for arn in &properties.managed_policy_arns {
            if let Some(why) = self.never_attached(arn) {
                errors.push(PropertyError {
                    property: at(
                        table::MANAGED_POLICY_ARNS.name,
                        raw.get(table::MANAGED_POLICY_ARNS.name),
                        arn,
                    ),
                    message: format!("`{arn}` {why}"),
                    help: Some(
                        "attach a policy named otherwise, or declare what it grants on this resource"
                            .to_owned(),
                    ),
                });
            }
        }
        errors.extend(self.refused_scope(properties, raw));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PropertyErrors(errors))
        }
    }

    /// Why a `ManagedPolicyArns` value is never attached, whatever AllowedManagedPolicyArns
    /// says: the permissions boundary (a ceiling, not a grant), or a policy named as persona
    /// roles' own (`<path>sagemaker-<role>-<n>` of this account, in any case, as IAM compares
    /// names). A role's own policies come from its plan, never from this list, so such a value
    /// is another resource's: IAM cannot refuse that attachment itself (an attach request shows
    /// the policy's ARN, not its owner), so the function does.
    fn never_attached(&self, arn: &str) -> Option<&'static str> {
        if self
            .required_boundary
            .as_deref()
            .is_some_and(|boundary| boundary.eq_ignore_ascii_case(arn))
        {
            return Some(
                "is the permissions boundary every role carries: a ceiling, never attached",
            );
        }
        let parsed = Arn::parse(arn).filter(|a| a.resource_type() == "policy")?;
        let account = parsed.account;
        let name = parsed.resource_id()?.rsplit('/').next()?;
        let own_shape = name
            .get(..ROLE_NAME_PREFIX.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(ROLE_NAME_PREFIX));
        (account != "aws" && own_shape).then_some(
            "is named as a persona role's own policy (sagemaker-…), which only the role it was made for attaches",
        )
    }

    /// The roles the declaration passes, other than the role itself, each read before the plan
    /// is applied: one the operator's `AllowedPassRoles` does not list must be shown to be this
    /// stack's own (its ownership tag), and none may be another stack's, listed or not. None
    /// when the function allows passing any role (the offline CLI).
    pub fn passed_roles_to_check(
        &self,
        properties: &Properties,
        raw: &Value,
        own_arn: &str,
    ) -> Vec<PassedRole> {
        let Some(allowed) = &self.allowed_pass_roles else {
            return Vec::new();
        };
        let mut to_check: Vec<PassedRole> = Vec::new();
        for mut passed in passed_roles(properties, raw) {
            let known = to_check.iter().any(|p| p.arn == passed.arn);
            if known || passed.arn == own_arn || hides_sagemaker_in_path(&passed.arn) {
                continue;
            }
            passed.listed = allowed
                .iter()
                .any(|pattern| glob_match(pattern, &passed.arn));
            to_check.push(passed);
        }
        to_check
    }
}

/// A role a declaration passes, and the property (with its index) that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedRole {
    /// `PassRoles[1]`, `ActivityParameters.Manage Pipelines.PassRoles[0]`.
    pub property: String,
    pub arn: String,
    /// The operator's `AllowedPassRoles` lists it: it need not be this stack's, only no other's.
    pub listed: bool,
}

/// Every role the properties pass, top-level and per activity, each with the property that
/// names it as the user wrote it.
pub fn passed_roles(properties: &Properties, raw: &Value) -> Vec<PassedRole> {
    given_values(properties, raw, Param::PassRoles)
        .into_iter()
        .map(|(property, arn)| PassedRole {
            property,
            arn: arn.to_owned(),
            listed: false,
        })
        .collect()
}

/// Every value of `param` the properties give, top-level then per activity, each in the order
/// the user wrote them and with the property that names it as written (`S3Buckets[1]`,
/// `ActivityParameters.<activity as written>.S3Buckets[0]`).
fn given_values<'a>(
    properties: &'a Properties,
    raw: &Value,
    param: Param,
) -> Vec<(String, &'a str)> {
    let name = param.name();
    let mut given: Vec<(String, &str)> =
        scope::in_given_order(raw.get(name), properties.parameters.get(param))
            .into_iter()
            .map(|value| (at(name, raw.get(name), value), value.as_str()))
            .collect();
    let written = raw
        .get(table::ACTIVITY_PARAMETERS.name)
        .and_then(Value::as_object);
    for (index, parameters) in &properties.activity_parameters {
        // The key the user wrote for this activity, which names it in the reason.
        let key = written.and_then(|map| {
            map.iter()
                .find(|(key, _)| catalog::find_activity(key) == Some(*index))
        });
        let activity = key.map_or(catalog::activity(*index).name, |(key, _)| key.as_str());
        let prefix = format!("{}.{activity}.{name}", table::ACTIVITY_PARAMETERS.name);
        let list = key.and_then(|(_, params)| params.get(name));
        for value in scope::in_given_order(list, parameters.get(param)) {
            given.push((at(&prefix, list, value), value.as_str()));
        }
    }
    given
}

/// Whether a role ARN's path (not its name) contains `sagemaker-` in any case: in IAM's ARN
/// patterns `*` also matches `/`, so `role/sagemaker-*` would match `role/sagemaker-ops/Admin`.
pub fn hides_sagemaker_in_path(arn: &str) -> bool {
    let Some(id) = Arn::parse(arn)
        .filter(|arn| arn.resource_type() == "role")
        .and_then(|arn| arn.resource_id())
    else {
        return false;
    };
    let path = id.rsplit_once('/').map_or("", |(path, _)| path);
    path.to_ascii_lowercase().contains("sagemaker-")
}

/// Whether `AdoptingStacks` (`None`: unset, any) names the stack of `stack_id`: its name, as
/// its ARN gives it, matches a pattern. IAM holds the same on the ownership tag
/// (`DenyAdoptionByStacksNotNamed`).
pub fn names_adopting_stack(adopting_stacks: Option<&[String]>, stack_id: &str) -> bool {
    let Some(patterns) = adopting_stacks else {
        return true;
    };
    stack_name(stack_id).is_some_and(|name| patterns.iter().any(|p| glob_match(p, name)))
}

/// The stack's name in its ARN (`arn:…:stack/<name>/<id>`); stack names hold no `/` or `:`.
pub fn stack_name(stack_id: &str) -> Option<&str> {
    let arn = Arn::parse(stack_id).filter(|arn| arn.resource_type() == "stack")?;
    arn.resource_id()?
        .split('/')
        .next()
        .filter(|name| !name.is_empty())
}

/// A comma-separated list of patterns; blanks dropped.
fn patterns(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `PROPERTY[i]`, where `i` is the value's place in the list as given (a list, or a
/// comma-separated string, as the parser reads them); the property alone if it is not found.
fn at(property: &str, list: Option<&Value>, value: &str) -> String {
    let index = match list {
        Some(Value::Array(items)) => items
            .iter()
            .position(|item| item.as_str().map(str::trim) == Some(value)),
        Some(Value::String(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .position(|item| item == value),
        _ => None,
    };
    match index {
        Some(i) => format!("{property}[{i}]"),
        None => property.to_owned(),
    }
}

/// `*` matches any run of characters (as in IAM ARN patterns); everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_iam_arn_patterns() {
        assert!(glob_match(
            "arn:aws:iam::aws:policy/AmazonSageMaker*",
            "arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"
        ));
        assert!(!glob_match(
            "arn:aws:iam::aws:policy/AmazonSageMaker*",
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXcYYb"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("ab*b", "abb"));
    }

    #[test]
    fn empty_values_mean_unset() {
        let g = Guardrails::from_values(Some(""), None);
        assert_eq!(g, Guardrails::default());
        let g = Guardrails::from_values(None, Some(""));
        assert_eq!(g.allowed_managed_policies, Some(Vec::new()));
        assert!(
            !Guardrails::default()
                .with_adoption(Some(""))
                .adoption_forbidden
        );
    }

    #[test]
    fn neither_the_boundary_nor_a_persona_roles_own_policy_is_ever_attached() {
        let boundary = "arn:aws:iam::123456789012:policy/ml-boundary";
        // An operator's allow-list wide enough to admit every customer-managed policy.
        let guardrails =
            Guardrails::from_values(Some(boundary), Some("arn:aws:iam::123456789012:policy/*"));
        for (arn, why) in [
            (boundary, Some("permissions boundary")),
            (
                "arn:aws:iam::123456789012:policy/ML-Boundary",
                Some("permissions boundary"),
            ),
            (
                "arn:aws:iam::123456789012:policy/sagemaker-team-a-ds-1",
                Some("own policy"),
            ),
            (
                "arn:aws:iam::123456789012:policy/service-role/SageMaker-ds-2",
                Some("own policy"),
            ),
            ("arn:aws:iam::123456789012:policy/team-extra", None),
            ("arn:aws:iam::aws:policy/sagemaker-like-aws-managed", None),
            (
                "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess",
                None,
            ),
        ] {
            let got = guardrails.never_attached(arn);
            match why {
                Some(word) => assert!(got.is_some_and(|g| g.contains(word)), "{arn}: {got:?}"),
                None => assert_eq!(got, None, "{arn}"),
            }
        }
    }

    #[test]
    fn only_the_stacks_adopting_stacks_names_may_adopt() {
        let stack = |name: &str| {
            format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/3f6a2c10-8b1e")
        };
        let names = |list: &str, name: &str| {
            let guardrails = Guardrails::default().with_adopting_stacks(Some(list));
            names_adopting_stack(guardrails.adopting_stacks.as_deref(), &stack(name))
        };
        assert!(names("ml-roles", "ml-roles"));
        assert!(names("other, ml-roles", "ml-roles"));
        assert!(names("migration-*", "migration-team-a"));
        assert!(names("*", "anything"));
        assert!(!names("ml-roles", "ml-roles-2"), "a name, not a prefix");
        assert!(
            !names("ml-roles", "ML-Roles"),
            "as IAM's StringLike: with case"
        );
        assert!(!names("migration-*", "team-a"));
        assert!(!names("", "ml-roles"), "deployed with none named: none");
        // Unset (not deployed by the template): any stack.
        assert!(names_adopting_stack(None, &stack("ml-roles")));
        assert!(!names_adopting_stack(
            Some(&["*".to_owned()]),
            "not-a-stack-arn"
        ));
    }

    #[test]
    fn per_stack_limits_read_whole_numbers_and_refuse_anything_else() {
        for (value, limit) in [
            (None, PerStack::Unlimited),
            (Some(""), PerStack::Unlimited),
            (Some(" 100 "), PerStack::AtMost(100)),
            (Some("0"), PerStack::AtMost(0)),
            (Some("-1"), PerStack::Unreadable("-1".to_owned())),
            (Some("1e3"), PerStack::Unreadable("1e3".to_owned())),
            (Some("lots"), PerStack::Unreadable("lots".to_owned())),
        ] {
            assert_eq!(PerStack::parse(value), limit, "{value:?}");
        }
        let guardrails = Guardrails::from_variables(|name| match name {
            MAX_ROLES_PER_STACK_ENV => Some("100".to_owned()),
            MAX_OWN_POLICIES_PER_STACK_ENV => Some("150".to_owned()),
            _ => None,
        });
        assert_eq!(guardrails.max_roles_per_stack, PerStack::AtMost(100));
        assert_eq!(guardrails.max_own_policies_per_stack, PerStack::AtMost(150));
        assert_eq!(
            Guardrails::from_variables(|_| None).max_roles_per_stack,
            PerStack::Unlimited
        );
    }

    #[test]
    fn adoption_is_forbidden_unless_the_switch_says_true() {
        let with = |value| {
            Guardrails::default()
                .with_adoption(value)
                .adoption_forbidden
        };
        assert!(with(Some("false")));
        assert!(with(Some("no")));
        assert!(!with(Some("true")));
        assert!(!with(Some(" true ")));
        assert!(!with(None));
    }
}
