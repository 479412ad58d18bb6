//! The deputy's guardrails: limits the function's operator sets (template parameters, passed as
//! environment) on every role users declare. The execution role's IAM conditions enforce the
//! same limits; checking them here gives users a clear FAILED reason instead of AccessDenied.

use crate::catalog;
use crate::context::Partition;
use crate::properties::{Properties, PropertyError, PropertyErrors};

pub const REQUIRED_BOUNDARY_ENV: &str = "PERSONA_ROLE_REQUIRED_BOUNDARY";
pub const ALLOWED_MANAGED_POLICIES_ENV: &str = "PERSONA_ROLE_ALLOWED_MANAGED_POLICIES";
pub const ALLOW_ADOPTION_ENV: &str = "PERSONA_ROLE_ALLOW_ADOPTION";
pub const ADOPTION_SCOPE_ENV: &str = "PERSONA_ROLE_ADOPTION_SCOPE";
/// Every variable the guardrails are read from; the template must set exactly these.
pub const ENVIRONMENT: &[&str] = &[
    REQUIRED_BOUNDARY_ENV,
    ALLOWED_MANAGED_POLICIES_ENV,
    ALLOW_ADOPTION_ENV,
    ADOPTION_SCOPE_ENV,
];
/// The `AdoptionScope` that widens adoption beyond Role Manager's roles.
pub const ADOPT_ANY_UNOWNED_ROLE: &str = "AnyUnownedRole";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guardrails {
    /// Every role gets this permissions boundary; a different one is refused.
    pub required_boundary: Option<String>,
    /// ARN patterns (`*` matches any run of characters) that `ManagedPolicyArns` may name;
    /// `None` allows any.
    pub allowed_managed_policies: Option<Vec<String>>,
    /// `AdoptExistingRole` may not take over a role no stack owns (the function's stack was
    /// deployed with `AllowAdoption=false`, so its IAM permissions would refuse the tagging).
    pub adoption_forbidden: bool,
    /// Adoption may take over any unowned role, not only those shaped as Role Manager's console
    /// made them (`AdoptionScope=AnyUnownedRole`). Off unless the operator widens it.
    pub adopt_any_unowned_role: bool,
}

impl Guardrails {
    /// From the environment variables' values; empty values mean unset.
    pub fn from_values(required_boundary: Option<&str>, allowed: Option<&str>) -> Self {
        let required_boundary = required_boundary
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let allowed_managed_policies = allowed.map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        Guardrails {
            required_boundary,
            allowed_managed_policies,
            adoption_forbidden: false,
            adopt_any_unowned_role: false,
        }
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

    pub fn from_env() -> Self {
        Guardrails::from_values(
            std::env::var(REQUIRED_BOUNDARY_ENV).ok().as_deref(),
            std::env::var(ALLOWED_MANAGED_POLICIES_ENV).ok().as_deref(),
        )
        .with_adoption(std::env::var(ALLOW_ADOPTION_ENV).ok().as_deref())
        .with_adoption_scope(std::env::var(ADOPTION_SCOPE_ENV).ok().as_deref())
    }

    /// Applies the required boundary and checks every managed policy the role would attach —
    /// the user's and those activities bring; all violations at once.
    pub fn apply(
        &self,
        properties: &mut Properties,
        partition: Partition,
    ) -> Result<(), PropertyErrors> {
        let mut errors = Vec::new();
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
            for (i, arn) in properties.managed_policy_arns.iter().enumerate() {
                if !is_allowed(arn) {
                    errors.push(PropertyError {
                        property: format!("ManagedPolicyArns[{i}]"),
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
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PropertyErrors(errors))
        }
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
