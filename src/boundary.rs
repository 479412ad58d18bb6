//! The permissions boundary `template.yaml` ships (`PersonaRoleBoundary`): the ceiling IAM
//! holds every persona role to unless the operator names their own (`RequiredPermissionsBoundary`),
//! so that a faulty function or a forged event that puts an administrator policy on a role still
//! gets a role that can do only what the catalog's activities could.
//!
//! Generated from the catalog, and pure:
//! - Allow every action any activity's statements name, and every action of the AWS managed
//!   policies activities attach (`catalog::AWS_MANAGED_POLICIES`), on any resource; exact where
//!   they fit a managed policy, else `service:Verb*`, else `service:*`, coarsening the services
//!   with the most entries first;
//! - Allow `iam:PassRole` only of the function's `AllowedPassRoles` and only to the services the
//!   catalog passes roles to;
//! - Deny every IAM action that changes anything, `sts:AssumeRole*`, `organizations:*` and
//!   `account:*`, whatever else allows them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::catalog::{self, Condition};
use crate::guardrails::glob_match;
use crate::plan::{MANAGED_LIMIT, iam_size};

/// The logical id of the boundary in `template.yaml`.
pub const LOGICAL_ID: &str = "PersonaRoleBoundary";

/// The template condition that is true when `AllowedPassRoles` is left empty.
pub const DEFAULT_PASS_ROLES_CONDITION: &str = "PassRolesDefault";

/// The roles persona roles may pass when the operator lists none: the roles this function makes
/// (`sagemaker-*`, at the root or under a path) in the stack's partition and account. Not the
/// console's `AmazonSageMaker-ExecutionRole-*` (often with AmazonSageMakerFullAccess) nor any
/// other team's role; IAM never lets a role pass a role of another account.
pub const DEFAULT_PASS_ROLE_NAMES: [&str; 2] = ["sagemaker-*", "*/sagemaker-*"];

/// Characters kept free below IAM's 6,144 for the operator's own `AllowedPassRoles` patterns
/// (about 15 ARNs), which the deployed document carries in place of the default two.
pub const PASS_ROLES_RESERVE: usize = 1_024;

/// Every IAM action that changes anything, by verb (IAM's Write, Permissions management and
/// Tagging actions, except `iam:PassRole`, which the boundary allows only within its limits).
pub const IAM_WRITE_PATTERNS: &[&str] = &[
    "iam:Accept*",
    "iam:Add*",
    "iam:Associate*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Deactivate*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Disable*",
    "iam:Enable*",
    "iam:Put*",
    "iam:Reject*",
    "iam:Remove*",
    "iam:Reset*",
    "iam:Resync*",
    "iam:Send*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
];

/// Other identities and the account itself: never through a persona role.
pub const OTHER_IDENTITY_PATTERNS: &[&str] = &["sts:AssumeRole*", "organizations:*", "account:*"];

/// Whether the boundary denies an action outright.
pub fn denies(action: &str) -> bool {
    IAM_WRITE_PATTERNS
        .iter()
        .chain(OTHER_IDENTITY_PATTERNS)
        .any(|pattern| glob_match(pattern, action))
}

/// Every action the catalog can grant: its statements' and its AWS managed policies', by service,
/// except `iam:PassRole` (its own statement) and what the boundary denies (an AWS managed
/// policy's `iam:CreateServiceLinkedRole`).
pub fn catalog_actions() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let statements = catalog::ACTIVITIES
        .iter()
        .flat_map(|a| a.statements.iter())
        .flat_map(|s| s.actions.iter().copied());
    let managed = catalog::AWS_MANAGED_POLICIES
        .iter()
        .flat_map(|p| p.actions.iter().copied());
    let mut by_service: BTreeMap<&'static str, BTreeSet<&'static str>> = BTreeMap::new();
    for action in statements.chain(managed) {
        if action == "iam:PassRole" || denies(action) {
            continue;
        }
        if let Some((service, name)) = action.split_once(':') {
            by_service.entry(service).or_default().insert(name);
        }
    }
    by_service
}

/// The services the catalog passes roles to (`iam:PassedToService`), sorted.
pub fn pass_role_services() -> Vec<&'static str> {
    let statements = catalog::ACTIVITIES
        .iter()
        .flat_map(|a| a.statements.iter())
        .filter(|s| s.actions.contains(&"iam:PassRole"))
        .flat_map(|s| s.conditions.iter())
        .filter_map(|c| match c {
            Condition::PassedToService(service) => Some(*service),
            _ => None,
        });
    let managed = catalog::AWS_MANAGED_POLICIES
        .iter()
        .flat_map(|p| p.passes_roles_to.iter().copied());
    let services: BTreeSet<&'static str> = statements.chain(managed).collect();
    services.into_iter().collect()
}

/// The default pass-role patterns for a partition and account.
pub fn default_pass_roles(partition: &str, account: &str) -> Vec<String> {
    DEFAULT_PASS_ROLE_NAMES
        .iter()
        .map(|name| format!("arn:{partition}:iam::{account}:role/{name}"))
        .collect()
}

/// How finely a service's actions are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Exact,
    /// `Verb*` for every verb (the leading capitalised word) that two or more actions share.
    Verbs,
    All,
}

/// The leading word of an action name: `Describe` of `DescribeEndpoint`.
fn verb(name: &str) -> &str {
    let end = name
        .char_indices()
        .skip(1)
        .find(|(_, c)| !c.is_ascii_lowercase())
        .map_or(name.len(), |(i, _)| i);
    &name[..end]
}

fn entries(service: &str, names: &BTreeSet<&str>, level: Level) -> Vec<String> {
    match level {
        Level::Exact => names.iter().map(|n| format!("{service}:{n}")).collect(),
        Level::Verbs => {
            let mut by_verb: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for name in names {
                by_verb.entry(verb(name)).or_default().push(name);
            }
            let mut out: Vec<String> = by_verb
                .into_iter()
                .flat_map(|(verb, names)| {
                    if names.len() > 1 {
                        vec![format!("{service}:{verb}*")]
                    } else {
                        names.iter().map(|n| format!("{service}:{n}")).collect()
                    }
                })
                .collect();
            out.sort();
            out
        }
        Level::All => vec![format!("{service}:*")],
    }
}

/// The allowed actions as the boundary lists them, coarsened until the document with the
/// default pass-role patterns fits IAM's limit less [`PASS_ROLES_RESERVE`].
pub fn allowed_actions() -> Vec<String> {
    let actions = catalog_actions();
    let mut levels: BTreeMap<&str, Level> = actions.keys().map(|s| (*s, Level::Exact)).collect();
    let render = |levels: &BTreeMap<&str, Level>| -> Vec<String> {
        actions
            .iter()
            .flat_map(|(service, names)| entries(service, names, levels[service]))
            .collect()
    };
    // The longest partition name, so that the limit holds in every partition.
    let sized = |allowed: &[String]| {
        iam_size(&document(
            allowed,
            &json!(default_pass_roles("aws-us-gov", "123456789012")),
        ))
    };
    loop {
        let allowed = render(&levels);
        if sized(&allowed) <= MANAGED_LIMIT - PASS_ROLES_RESERVE {
            return allowed;
        }
        // Verbs for the service whose list that shortens most, until none would; then `*` for
        // the service with the most entries left. Ties by name.
        let saving = |service: &str, names: &BTreeSet<&str>| {
            let length = |level| -> usize {
                entries(service, names, level)
                    .iter()
                    .map(|e| e.len() + 3)
                    .sum()
            };
            length(Level::Exact).saturating_sub(length(Level::Verbs))
        };
        let to_verbs = actions
            .iter()
            .filter(|(service, names)| {
                levels[*service] == Level::Exact && saving(service, names) > 0
            })
            .max_by_key(|(service, names)| (saving(service, names), std::cmp::Reverse(**service)))
            .map(|(service, _)| (*service, Level::Verbs));
        let to_all = || {
            actions
                .iter()
                .filter(|(service, _)| levels[*service] != Level::All)
                .max_by_key(|(service, names)| {
                    (
                        entries(service, names, levels[*service]).len(),
                        std::cmp::Reverse(**service),
                    )
                })
                .map(|(service, _)| (*service, Level::All))
        };
        let Some((service, level)) = to_verbs.or_else(to_all) else {
            return allowed;
        };
        levels.insert(service, level);
    }
}

/// The boundary's document with these allowed actions and pass-role resources (a list of ARN
/// patterns, or the template's expression for them).
fn document(allowed: &[String], pass_roles: &Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CatalogActions",
                "Effect": "Allow",
                "Action": allowed,
                "Resource": "*"
            },
            {
                "Sid": "PassAllowedRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": pass_roles,
                "Condition": {"StringEquals": {"iam:PassedToService": pass_role_services()}}
            },
            {
                "Sid": "DenyIamWrites",
                "Effect": "Deny",
                "Action": IAM_WRITE_PATTERNS,
                "Resource": "*"
            },
            {
                "Sid": "DenyOtherIdentities",
                "Effect": "Deny",
                "Action": OTHER_IDENTITY_PATTERNS,
                "Resource": "*"
            }
        ]
    })
}

/// The boundary as deployed with these pass-role patterns (for the simulator and size checks).
pub fn policy(pass_roles: &[String]) -> Value {
    document(&allowed_actions(), &json!(pass_roles))
}

/// The `AWS::IAM::ManagedPolicy` resource of `template.yaml`, in CloudFormation's long form.
pub fn template_resource() -> Value {
    let defaults: Vec<Value> = DEFAULT_PASS_ROLE_NAMES
        .iter()
        .map(|name| json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}")}))
        .collect();
    let pass_roles = json!({
        "Fn::If": [DEFAULT_PASS_ROLES_CONDITION, defaults, {"Ref": "AllowedPassRoles"}]
    });
    // checkov reads every managed policy as a grant; a boundary grants nothing by itself.
    let skip = |id: &str| json!({"id": id, "comment": "A permissions boundary grants nothing: it caps what each persona role's own policies (which name the resources) may allow, and denies IAM writes, sts:AssumeRole, organizations and account."});
    json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Metadata": {"checkov": {"skip": [
            skip("CKV_AWS_107"), skip("CKV_AWS_108"), skip("CKV_AWS_109"), skip("CKV_AWS_111")
        ]}},
        "Properties": {
            "Description": "persona-role: the permissions boundary of persona roles (generated from the catalog)",
            "PolicyDocument": document(&allowed_actions(), &pass_roles)
        }
    })
}

/// First and last line of the generated section in `template.yaml`.
pub const TEMPLATE_BEGIN: &str =
    "  # generated from src/boundary.rs; `UPDATE_GOLDEN=1 cargo test --test boundary` rewrites it";
pub const TEMPLATE_END: &str = "  # end of the generated permissions boundary";

#[cfg(feature = "cli")]
/// The section of `template.yaml` between (and including) the markers; written as YAML, so
/// only with the CLI's dependencies.
pub fn template_section() -> Result<String, serde_yaml_ng::Error> {
    let yaml = crate::yaml::template(&json!({ LOGICAL_ID: template_resource() }))?;
    let mut section = format!("{TEMPLATE_BEGIN}\n");
    for line in yaml.lines() {
        section.push_str("  ");
        section.push_str(line);
        section.push('\n');
    }
    section.push_str(TEMPLATE_END);
    Ok(section)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_the_leading_word() {
        assert_eq!(verb("DescribeEndpointConfig"), "Describe");
        assert_eq!(verb("BatchGetImage"), "Batch");
        assert_eq!(verb("Query"), "Query");
    }

    #[test]
    fn the_boundary_fits_a_managed_policy_with_room_for_the_operators_pass_roles() {
        let size = iam_size(&policy(&default_pass_roles("aws-us-gov", "123456789012")));
        assert!(
            size <= MANAGED_LIMIT - PASS_ROLES_RESERVE,
            "{size} characters"
        );
    }

    #[test]
    fn every_catalog_action_is_allowed_and_none_denied() {
        let allowed = allowed_actions();
        for (service, names) in catalog_actions() {
            for name in names {
                let action = format!("{service}:{name}");
                assert!(
                    allowed.iter().any(|p| glob_match(p, &action)),
                    "{action} is not allowed"
                );
                assert!(!denies(&action), "{action} is denied");
            }
        }
    }

    #[test]
    fn pass_role_goes_only_to_the_catalogs_services() {
        assert_eq!(
            pass_role_services(),
            [
                "bedrock.amazonaws.com",
                "emr-serverless.amazonaws.com",
                "events.amazonaws.com",
                "forecast.amazonaws.com",
                "sagemaker.amazonaws.com"
            ]
        );
        assert!(
            !allowed_actions()
                .iter()
                .any(|p| p.starts_with("iam:") && glob_match(p, "iam:PassRole")),
            "iam:PassRole only in its own statement"
        );
    }

    #[test]
    fn iam_writes_and_other_identities_are_denied() {
        for action in [
            "iam:CreateRole",
            "iam:AttachRolePolicy",
            "iam:PutRolePolicy",
            "iam:CreateAccessKey",
            "iam:UpdateAssumeRolePolicy",
            "iam:CreateServiceLinkedRole",
            "sts:AssumeRole",
            "sts:AssumeRoleWithWebIdentity",
            "organizations:LeaveOrganization",
            "account:PutAlternateContact",
        ] {
            assert!(denies(action), "{action}");
        }
        for action in ["iam:PassRole", "iam:GetRole", "sts:GetCallerIdentity"] {
            assert!(!denies(action), "{action}");
        }
    }
}
