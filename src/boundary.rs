//! The permissions boundary `template.yaml` ships (`PersonaRoleBoundary`): the ceiling IAM
//! holds every persona role to unless the operator names their own (`RequiredPermissionsBoundary`),
//! so that a faulty function, a forged event or a wider operator allow-list that puts an
//! administrator policy on a role still gets a role that can do only what the catalog's
//! activities could.
//!
//! Generated from the catalog, and pure:
//! - Allow every action any activity's statements name, and every action of the AWS managed
//!   policies activities attach (`catalog::AWS_MANAGED_POLICIES`), on any resource; exact where
//!   they fit a managed policy, else `service:Verb*` (never for the verbs of [`EXACT_VERBS`]),
//!   else `service:*` (only for [`WHOLE_SERVICES`]), coarsening the services whose lists shorten
//!   most first;
//! - Allow `iam:PassRole` of the roles this function manages (`sagemaker-*`, and the console's
//!   `SageMaker-*` it adopts) and of the operator's `AllowedPassRoles` when they list some, only
//!   to the services the catalog passes roles to; deny passing a role another stack owns (its
//!   ownership tag names another stack than the passing role's), listed or not, and a role
//!   whose path holds `sagemaker-` or `SageMaker-`, whatever allows them;
//! - Deny every IAM action that changes anything, `sts:AssumeRole*`, `organizations:*` and
//!   `account:*`;
//! - Deny what the allowed `Verb*` entries admit beyond the catalog where it changes sharing,
//!   identity, another user's Studio or the code that runs in it, or reads secrets ([`CEILING`]).
//!
//! How the ceiling is decided. A `Verb*` entry admits actions no activity names. Of those, the
//! boundary keeps reads and lists (the role's own policies name what it reads), and writes to
//! the ML work of [`WORK_SERVICES`] (jobs, models, endpoints, pipelines, applications: the role's
//! own policies name them). It denies, or never coarsens into a `Verb*`, everything else: every
//! Permissions management and Tagging action (policies, ACLs, public access, sharing, tags that
//! other policies read), every write outside those services (bucket configuration, network,
//! keys, logs), and, within SageMaker, what changes identity (domains, user profiles,
//! workforces, workteams), opens another user's session (presigned URLs of other user
//! profiles, remote sessions, notebook instances), puts code into someone's environment
//! (lifecycle configurations) or shares (resource policies, shared models). Where an activity
//! needs such an action on SageMaker's own resources (MLflow's CORS on `sagemaker-*` buckets,
//! Canvas' `AmazonSageMaker-*` secrets, Studio's presigned URL of its own user profile), the
//! Deny spares exactly those (`NotResource`). `tests/simulated/boundary.rs` checks the rule against every
//! action IAM lists for each `Verb*` entry; the unit tests check that no Deny takes what a
//! catalog statement, or an AWS managed policy the catalog attaches, needs.
//!
//! Passing by ownership in IAM. IAM's Service Authorization Reference lists `aws:ResourceTag/…`
//! and `iam:ResourceTag/…` for the role resource `iam:PassRole` takes, but IAM's user guide
//! (granting a user permissions to pass a role) warns: "Do not try to control who can pass a
//! role by tagging the role and then using the ResourceTag condition key in a policy with the
//! iam:PassRole action. This approach does not have reliable results." An Allow that depends on
//! the passed role's tag could then refuse a role its own stack passes: a Data Scientist's
//! training job would fail. So what is allowed is matched by name, as IAM matches PassRole
//! reliably: the roles this function manages, and the operator's patterns. The ownership tag
//! only ever denies: `DenyPassingOtherStacksRoles` applies where IAM shows the passed role's
//! `iam:ResourceTag/persona-role:stack-id` (a `Null` guard) and it differs from the passing
//! role's own (`${aws:PrincipalTag/persona-role:stack-id}`; IAM's user guide: "identity-based
//! policies used as permissions boundaries also support policy variables"), whether or not the
//! operator lists the role: the operator lists roles no stack owns. Where IAM does not show the
//! tag, passing falls back to the names: another
//! team's `sagemaker-*` role is then refused by the function (which reads the tag itself) and by
//! the passing role's own policy (which names exactly the roles declared), not by IAM.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::catalog::{self, Condition};
use crate::guardrails::glob_match;
use crate::plan::{MANAGED_LIMIT, iam_size};

/// The logical id of the boundary in `template.yaml`.
pub const LOGICAL_ID: &str = "PersonaRoleBoundary";

/// The template condition that is true when `AllowedPassRoles` is left empty: the boundary then
/// has no statement for the operator's patterns.
pub const DEFAULT_PASS_ROLES_CONDITION: &str = "PassRolesDefault";

/// The condition key IAM gives a passed role's ownership tag (`ownership::OWNER_STACK_TAG`).
pub const PASSED_ROLE_STACK_KEY: &str = "iam:ResourceTag/persona-role:stack-id";

/// The passing role's own ownership tag, as a policy variable.
pub const PASSING_ROLE_STACK: &str = "${aws:PrincipalTag/persona-role:stack-id}";

/// The names of the roles this function manages, which a persona role may pass: those it makes
/// (`sagemaker-*`, at the root or under a path) and the console's it adopts (`SageMaker-*`).
pub const MANAGED_ROLE_NAMES: [&str; 4] = [
    "sagemaker-*",
    "*/sagemaker-*",
    "SageMaker-*",
    "*/SageMaker-*",
];

/// Roles never passed, whoever owns or lists them: a path that holds `sagemaker-` hides a role
/// among the personas' (`role/sagemaker-ops/PlatformAdmin`). In an ARN pattern `*` matches `/`
/// too, so these match every role with such a path and no role without one.
pub const HIDDEN_ROLE_PATTERNS: [&str; 2] = [
    "arn:*:iam::*:role/*sagemaker-*/*",
    "arn:*:iam::*:role/*SageMaker-*/*",
];

/// Characters kept free below IAM's 6,144 for the statement that passes the operator's own
/// `AllowedPassRoles` patterns (present only when they list some): about 200 for the statement,
/// the rest for about a dozen ARNs.
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

/// Verbs the allowed list never merges into `Verb*`, because what the merge would admit changes
/// sharing, the network or what other teams rely on: `s3:Put*` holds bucket policies, ACLs,
/// public access blocks and replication; `ec2:Create*` and `ec2:Delete*` VPCs, subnets, routes,
/// gateways and peering; `logs:Create*` export tasks to S3; `cloudwatch:Put*` metric streams
/// and dashboards; `events:Put*` the event bus's permissions; `ecr:Batch*` deleting images;
/// `glue:Get*` connections with their passwords; `bedrock:Create*` and `bedrock:Invoke*`
/// agents and flows that act as their own roles.
pub const EXACT_VERBS: &[&str] = &[
    "bedrock:Create",
    "bedrock:Invoke",
    "cloudwatch:Put",
    "ec2:Create",
    "ec2:Delete",
    "ecr:Batch",
    "events:Put",
    "glue:Get",
    "logs:Create",
    "s3:Put",
];

/// Services the allowed list may name whole (`service:*`): every action of them is a read, a
/// list or the ML work of [`WORK_SERVICES`]; none is Permissions management, and of their
/// Tagging actions the catalog names `TagResource` and [`CEILING`] denies the rest.
pub const WHOLE_SERVICES: &[&str] = &["emr-serverless", "redshift-data", "sagemaker-mlflow"];

/// Services whose writes are the ML work itself: what a `Verb*` of them admits beyond the catalog
/// creates, runs, stops or deletes jobs, models, endpoints, pipelines, applications or queries,
/// which the role's own policies name. (Their writes that change identity, another user's Studio
/// or sharing are denied by [`CEILING`].)
pub const WORK_SERVICES: &[&str] = &[
    "athena",
    "bedrock",
    "comprehend",
    "emr-serverless",
    "forecast",
    "redshift-data",
    "rekognition",
    "sagemaker",
    "sagemaker-mlflow",
    "textract",
];

/// A Deny statement of the boundary's ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceiling {
    pub sid: &'static str,
    /// Action patterns.
    pub actions: &'static [&'static str],
    /// Resources it spares (`NotResource`): SageMaker's own, where an activity needs the action
    /// on them. Empty: every resource.
    pub spares: &'static [&'static str],
    /// Applies only when this `StringNotEquals` holds (key, value): the request does not carry
    /// the one value an activity sends.
    pub unless_equals: Option<(&'static str, &'static str)>,
    /// What it keeps from persona roles.
    pub why: &'static str,
}

impl Ceiling {
    /// Whether it denies its actions on every resource, whatever the request carries: such
    /// entries share the boundary's one statement of whole-action denials.
    pub fn everywhere(&self) -> bool {
        self.spares.is_empty() && self.unless_equals.is_none()
    }
}

/// What the boundary denies beyond IAM and other identities (the module's doc says how these
/// were decided). Each entry names only actions no catalog statement needs on the resources it
/// denies (`tests` below).
pub const CEILING: &[Ceiling] = &[
    Ceiling {
        sid: "DenyStudioAdministration",
        actions: &[
            "sagemaker:CreateDomain",
            "sagemaker:CreateUserProfile",
            "sagemaker:DeleteDomain",
            "sagemaker:DeleteUserProfile",
            "sagemaker:UpdateDomain",
            "sagemaker:UpdateUserProfile",
            "sagemaker:*Workforce*",
            "sagemaker:*Workteam*",
        ],
        spares: &[],
        unless_equals: None,
        why: "who may use SageMaker and as which role: Studio domains, user profiles (another user's execution role, apps and settings), labeling workforces and workteams",
    },
    Ceiling {
        sid: "DenyStudioCode",
        actions: &[
            "sagemaker:*NotebookInstance*",
            "sagemaker:*StudioLifecycleConfig*",
            "sagemaker:StartSession",
        ],
        spares: &[],
        unless_equals: None,
        why: "code that runs in someone's environment and sessions into it: notebook instances (create, update, start, presigned URL, lifecycle configurations), Studio lifecycle configurations, remote sessions into spaces",
    },
    Ceiling {
        sid: "DenyOtherUserProfiles",
        actions: &["sagemaker:CreatePresignedDomainUrl"],
        // Outside Studio the variables have no value; IAM would drop a statement whose variable
        // it cannot resolve, so each has a default no user profile can have.
        spares: &[
            "arn:*:sagemaker:*:*:user-profile/${sagemaker:DomainId, '-'}/${sagemaker:UserProfileName, '-'}",
        ],
        unless_equals: None,
        why: "signing in to Studio as another user profile (its apps, spaces and execution role): only the caller's own, as Studio names it, and from outside Studio none",
    },
    Ceiling {
        sid: "DenySageMakerSharing",
        actions: &[
            "sagemaker:Create*Policy",
            "sagemaker:Delete*Policy",
            "sagemaker:DeleteTags",
            "sagemaker:*SharedModel*",
            "emr-serverless:UntagResource",
        ],
        spares: &[],
        unless_equals: None,
        why: "resource policies of model package groups, lineage groups and other SageMaker resources, shared models, and removing the tags other policies read (SageMaker's, EMR Serverless' applications')",
    },
    Ceiling {
        sid: "DenyOtherSecrets",
        actions: &["secretsmanager:*"],
        spares: &["arn:*:secretsmanager:*:*:secret:AmazonSageMaker-*"],
        unless_equals: None,
        why: "reading, changing and sharing secrets other than the ones SageMaker's features create and read (AmazonSageMaker-*)",
    },
    Ceiling {
        sid: "DenyOtherBucketsCors",
        actions: &["s3:PutBucketCORS"],
        spares: &["arn:*:s3:::sagemaker-*"],
        unless_equals: None,
        why: "CORS rules (which web origins may call a bucket from a browser) outside the sagemaker-* buckets MLflow's artifact stores use",
    },
    Ceiling {
        sid: "DenyObjectAcls",
        actions: &["s3:PutObjectAcl"],
        spares: &[],
        unless_equals: Some(("s3:x-amz-acl", "bucket-owner-full-control")),
        why: "object ACLs that grant anyone but the bucket's owner (public-read, grants in headers or body): the only ACL an activity sets is bucket-owner-full-control",
    },
];

/// Where the AWS managed policies the catalog attaches (`catalog::AWS_MANAGED_POLICIES`, their
/// recorded default versions) grant the actions a [`CEILING`] statement names, as the policies
/// write them: the statement must spare these resources. AmazonSageMakerCanvasFullAccess also
/// lets a role read any secret tagged `SageMaker: true` (`secretsmanager:ResourceTag/SageMaker`);
/// the boundary does not: Canvas' own connections are named `AmazonSageMaker-*`.
pub const MANAGED_POLICY_GRANTS: &[(&str, &[&str])] = &[
    (
        "secretsmanager:CreateSecret",
        &["arn:aws:secretsmanager:*:*:secret:AmazonSageMaker-*"],
    ),
    (
        "secretsmanager:DescribeSecret",
        &["arn:aws:secretsmanager:*:*:secret:AmazonSageMaker-*"],
    ),
    (
        "secretsmanager:GetSecretValue",
        &["arn:aws:secretsmanager:*:*:secret:AmazonSageMaker-*"],
    ),
    (
        "secretsmanager:PutResourcePolicy",
        &["arn:aws:secretsmanager:*:*:secret:AmazonSageMaker-*"],
    ),
];

/// Whether the boundary denies an action on every resource, whatever the request carries: IAM
/// writes, other identities, and the ceiling's statements that spare nothing.
pub fn denies(action: &str) -> bool {
    IAM_WRITE_PATTERNS
        .iter()
        .chain(OTHER_IDENTITY_PATTERNS)
        .chain(
            CEILING
                .iter()
                .filter(|c| c.everywhere())
                .flat_map(|c| c.actions.iter()),
        )
        .any(|pattern| matches_action(pattern, action))
}

/// Whether an action pattern matches an action as IAM matches them: ignoring case.
pub fn matches_action(pattern: &str, action: &str) -> bool {
    glob_match(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// Every action the catalog can grant: its statements' and its AWS managed policies', by service,
/// except `iam:PassRole` (its own statements) and what the boundary denies everywhere (an AWS
/// managed policy's `iam:CreateServiceLinkedRole`).
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

/// How finely a service's actions are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Exact,
    /// `Verb*` for every verb (the leading capitalised word) that two or more actions share,
    /// except [`EXACT_VERBS`].
    Verbs,
    /// `service:*`, only for [`WHOLE_SERVICES`].
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
                    let exact = EXACT_VERBS.contains(&format!("{service}:{verb}").as_str());
                    if names.len() > 1 && !exact {
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

/// The allowed actions as the boundary lists them, coarsened until the document, with room for
/// the operator's pass-role statement, fits IAM's limit.
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
    let sized = |allowed: &[String]| iam_size(&document(allowed, None));
    let length = |service: &str, names: &BTreeSet<&str>, level| -> usize {
        entries(service, names, level)
            .iter()
            .map(|e| e.len() + 3)
            .sum()
    };
    loop {
        let allowed = render(&levels);
        if sized(&allowed) <= MANAGED_LIMIT - PASS_ROLES_RESERVE {
            return allowed;
        }
        // The next coarser level for the service whose list that shortens most; ties by name.
        let next = |service: &str, level: Level| match level {
            Level::Exact => Some(Level::Verbs),
            Level::Verbs if WHOLE_SERVICES.contains(&service) => Some(Level::All),
            _ => None,
        };
        let best = actions
            .iter()
            .filter_map(|(service, names)| {
                let now = levels[*service];
                let coarser = next(service, now)?;
                let saving =
                    length(service, names, now).checked_sub(length(service, names, coarser))?;
                (saving > 0).then_some((saving, std::cmp::Reverse(*service), coarser))
            })
            .max();
        let Some((_, std::cmp::Reverse(service), level)) = best else {
            return allowed;
        };
        levels.insert(service, level);
    }
}

/// The roles this function manages, by name. Any partition and account: IAM passes only roles
/// of the passing role's own account, so naming it would add characters, not limits.
pub fn managed_roles() -> Vec<String> {
    MANAGED_ROLE_NAMES
        .iter()
        .map(|name| format!("arn:*:iam::*:role/{name}"))
        .collect()
}

fn pass_role_statement(sid: &str, resource: &Value) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": resource,
        "Condition": {"StringEquals": {"iam:PassedToService": pass_role_services()}}
    })
}

/// The operator's pass-role statement, for these ARN patterns (or the template's expression).
fn listed_roles_statement(pass_roles: &Value) -> Value {
    pass_role_statement("PassListedRoles", pass_roles)
}

/// The Deny of passing a role whose ownership tag, where IAM shows it, names another stack than
/// the passing role's: listed or not, another stack's role is never passed.
fn other_stacks_statement() -> Value {
    json!({
        "Sid": "DenyPassingOtherStacksRoles",
        "Effect": "Deny",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {
            "Null": {PASSED_ROLE_STACK_KEY: "false"},
            "StringNotEquals": {PASSED_ROLE_STACK_KEY: PASSING_ROLE_STACK}
        }
    })
}

fn ceiling_statement(ceiling: &Ceiling) -> Value {
    let mut statement = serde_json::Map::new();
    statement.insert("Sid".to_owned(), json!(ceiling.sid));
    statement.insert("Effect".to_owned(), json!("Deny"));
    statement.insert("Action".to_owned(), json!(ceiling.actions));
    if ceiling.spares.is_empty() {
        statement.insert("Resource".to_owned(), json!("*"));
    } else {
        statement.insert("NotResource".to_owned(), json!(ceiling.spares));
    }
    if let Some((key, value)) = ceiling.unless_equals {
        statement.insert(
            "Condition".to_owned(),
            json!({"StringNotEquals": {key: value}}),
        );
    }
    Value::Object(statement)
}

/// The boundary's document with these allowed actions, the managed roles' patterns, the Deny of
/// other stacks' roles, and the operator's pass-role statement (or the template's expression
/// for it), if any.
fn document(allowed: &[String], listed: Option<Value>) -> Value {
    let mut statements = vec![
        json!({
            "Sid": "CatalogActions",
            "Effect": "Allow",
            "Action": allowed,
            "Resource": "*"
        }),
        pass_role_statement("PassManagedRoles", &json!(managed_roles())),
    ];
    statements.extend(listed);
    statements.extend([
        other_stacks_statement(),
        json!({
            "Sid": "DenyPassingHiddenRoles",
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "Resource": HIDDEN_ROLE_PATTERNS
        }),
        // Every Deny of whole actions in one statement: each statement's own braces and keys
        // count against the size.
        json!({
            "Sid": "DenyBeyondTheCatalog",
            "Effect": "Deny",
            "Action": IAM_WRITE_PATTERNS
                .iter()
                .chain(OTHER_IDENTITY_PATTERNS)
                .chain(CEILING.iter().filter(|c| c.everywhere()).flat_map(|c| c.actions.iter()))
                .collect::<Vec<_>>(),
            "Resource": "*"
        }),
    ]);
    statements.extend(
        CEILING
            .iter()
            .filter(|c| !c.everywhere())
            .map(ceiling_statement),
    );
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The boundary as deployed with the operator's `AllowedPassRoles` patterns (none: only the
/// roles this function manages, of the passing role's own stack), for the simulator and size
/// checks. It names no partition or account: IAM holds a role to its own.
pub fn policy(pass_roles: &[String]) -> Value {
    let listed = (!pass_roles.is_empty()).then(|| listed_roles_statement(&json!(pass_roles)));
    document(&allowed_actions(), listed)
}

/// The `AWS::IAM::ManagedPolicy` resource of `template.yaml`, in CloudFormation's long form.
pub fn template_resource() -> Value {
    // Present only when the operator lists roles: an empty list would be no valid Resource.
    let listed = json!({
        "Fn::If": [
            DEFAULT_PASS_ROLES_CONDITION,
            {"Ref": "AWS::NoValue"},
            listed_roles_statement(&json!({"Ref": "AllowedPassRoles"}))
        ]
    });
    // checkov reads every managed policy as a grant; a boundary grants nothing by itself.
    let skip = |id: &str| json!({"id": id, "comment": "A permissions boundary grants nothing: it caps what each persona role's own policies (which name the resources) may allow, and denies IAM writes, sts:AssumeRole, organizations, account, and what changes sharing, identity or other users' Studio."});
    json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Metadata": {"checkov": {"skip": [
            skip("CKV_AWS_107"), skip("CKV_AWS_108"), skip("CKV_AWS_109"), skip("CKV_AWS_111")
        ]}},
        "Properties": {
            "Description": "persona-role: the permissions boundary of persona roles (generated from the catalog)",
            "PolicyDocument": document(&allowed_actions(), Some(listed))
        }
    })
}

/// First and last line of the generated section in `template.yaml`.
pub const TEMPLATE_BEGIN: &str = "  # generated from src/boundary.rs; `UPDATE_GOLDEN=1 cargo test --test simulated -- boundary::` rewrites it";
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
    use crate::catalog::{Resource, Scope};
    use crate::ownership::OWNER_STACK_TAG;

    /// A catalog resource as an ARN pattern of any partition, region and account, with every
    /// value the user gives (`{}`, `Given`) as `*`.
    fn pattern(resource: &Resource) -> String {
        match resource {
            Resource::Any | Resource::Given(_) => "*".to_owned(),
            Resource::Arn {
                service,
                scope,
                path,
                ..
            } => {
                let path = path.replace("{}", "*");
                match scope {
                    Scope::Regional => format!("arn:*:{service}:*:*:{path}"),
                    Scope::Account => format!("arn:*:{service}::*:{path}"),
                    Scope::Global => format!("arn:*:{service}:::{path}"),
                }
            }
        }
    }

    /// Whether every resource a pattern matches, `spares` matches too. A pattern's `*` is taken
    /// as a character that only a `*` of `spares` matches, which errs towards "no". A policy
    /// variable's default (`${key, 'default'}`) is dropped: where the catalog's statement
    /// applies, the variable has its value.
    fn spared(spares: &[&str], pattern: &str) -> bool {
        spares
            .iter()
            .any(|s| glob_match(&without_defaults(s), pattern))
    }

    fn without_defaults(pattern: &str) -> String {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            let Some(end) = rest[start..].find('}').map(|e| start + e) else {
                break;
            };
            let variable = &rest[start..end];
            let name = variable.split_once(',').map_or(variable, |(name, _)| name);
            out.push_str(&rest[..start]);
            out.push_str(name.trim_end());
            out.push('}');
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn variable_defaults_are_dropped_for_comparison() {
        assert_eq!(
            without_defaults("a/${sagemaker:DomainId, '-'}/${sagemaker:UserProfileName}"),
            "a/${sagemaker:DomainId}/${sagemaker:UserProfileName}"
        );
    }

    fn with_any_partition(arn: &str) -> String {
        arn.replacen("arn:aws:", "arn:*:", 1)
    }

    #[test]
    fn verbs_are_the_leading_word() {
        assert_eq!(verb("DescribeEndpointConfig"), "Describe");
        assert_eq!(verb("BatchGetImage"), "Batch");
        assert_eq!(verb("Query"), "Query");
    }

    #[test]
    fn the_boundary_fits_a_managed_policy_with_room_for_the_operators_pass_roles() {
        let alone = iam_size(&policy(&[]));
        assert!(
            alone <= MANAGED_LIMIT - PASS_ROLES_RESERVE,
            "{alone} characters"
        );
        // A dozen typical patterns fit in the room left.
        let listed: Vec<String> = (0..12)
            .map(|i| format!("arn:aws-us-gov:iam::123456789012:role/service-role/team-{i:02}-*"))
            .collect();
        let size = iam_size(&policy(&listed));
        assert!(size <= MANAGED_LIMIT, "{size} characters");
    }

    #[test]
    fn the_passed_roles_ownership_key_is_the_ownership_tag() {
        assert_eq!(
            PASSED_ROLE_STACK_KEY,
            format!("iam:ResourceTag/{OWNER_STACK_TAG}")
        );
        assert_eq!(
            PASSING_ROLE_STACK,
            format!("${{aws:PrincipalTag/{OWNER_STACK_TAG}}}")
        );
    }

    #[test]
    fn every_catalog_action_is_allowed_and_none_denied_everywhere() {
        let allowed = allowed_actions();
        for (service, names) in catalog_actions() {
            for name in names {
                let action = format!("{service}:{name}");
                assert!(
                    allowed.iter().any(|p| matches_action(p, &action)),
                    "{action} is not allowed"
                );
                assert!(!denies(&action), "{action} is denied");
            }
        }
    }

    #[test]
    fn the_exact_verbs_stay_exact() {
        for entry in allowed_actions() {
            let (service, name) = entry.split_once(':').unwrap();
            if let Some(prefix) = name.strip_suffix('*') {
                assert!(
                    !EXACT_VERBS.contains(&format!("{service}:{prefix}").as_str()),
                    "{entry}"
                );
                assert!(
                    !prefix.is_empty() || WHOLE_SERVICES.contains(&service),
                    "{entry}"
                );
            }
        }
    }

    /// The ceiling takes nothing a catalog statement needs: no Deny matches an action of a
    /// statement unless it spares every resource the statement names and its condition cannot
    /// hold for what the statement allows.
    #[test]
    fn no_ceiling_statement_denies_what_a_catalog_statement_allows() {
        let mut failures = Vec::new();
        for activity in catalog::ACTIVITIES {
            for statement in activity.statements {
                for action in statement.actions {
                    for ceiling in CEILING {
                        if !ceiling.actions.iter().any(|p| matches_action(p, action)) {
                            continue;
                        }
                        let excepted = ceiling.unless_equals.is_some_and(|(key, value)| {
                            statement.conditions.iter().any(|c| {
                                matches!(c, Condition::Static { operator: "StringEquals", key: k, values }
                                    if *k == key && values.iter().all(|v| *v == value))
                            })
                        });
                        let unspared: Vec<String> = statement
                            .resources
                            .iter()
                            .map(pattern)
                            .filter(|p| !spared(ceiling.spares, p))
                            .collect();
                        if !excepted && !unspared.is_empty() {
                            failures.push(format!(
                                "{} denies {action} of {}{} on {unspared:?}",
                                ceiling.sid, activity.sid, statement.sid
                            ));
                        }
                    }
                }
            }
        }
        for policy in catalog::AWS_MANAGED_POLICIES {
            for action in policy.actions {
                for ceiling in CEILING {
                    if !ceiling.actions.iter().any(|p| matches_action(p, action)) {
                        continue;
                    }
                    let Some((_, resources)) =
                        MANAGED_POLICY_GRANTS.iter().find(|(a, _)| a == action)
                    else {
                        failures.push(format!(
                            "{} names {action} of {}: record where the policy grants it in MANAGED_POLICY_GRANTS",
                            ceiling.sid, policy.name
                        ));
                        continue;
                    };
                    for resource in *resources {
                        if !spared(ceiling.spares, &with_any_partition(resource)) {
                            failures.push(format!(
                                "{} denies {action} of {} on {resource}",
                                ceiling.sid, policy.name
                            ));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn the_managed_policy_grants_are_of_actions_the_policies_have() {
        for (action, _) in MANAGED_POLICY_GRANTS {
            assert!(
                catalog::AWS_MANAGED_POLICIES
                    .iter()
                    .any(|p| p.actions.contains(action)),
                "{action}"
            );
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
                .any(|p| matches_action(p, "iam:PassRole")),
            "iam:PassRole only in its own statements"
        );
    }

    #[test]
    fn the_operators_pass_role_statement_is_there_only_when_they_list_roles() {
        let sids = |policy: &Value| -> Vec<String> {
            policy["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Sid"].as_str().unwrap().to_owned())
                .collect()
        };
        let none = policy(&[]);
        assert!(!sids(&none).contains(&"PassListedRoles".to_owned()));
        let listed = policy(&["arn:aws:iam::123456789012:role/team-*".to_owned()]);
        assert!(sids(&listed).contains(&"PassListedRoles".to_owned()));
    }

    #[test]
    fn hidden_paths_match_roles_under_them_only() {
        let hidden = |arn: &str| HIDDEN_ROLE_PATTERNS.iter().any(|p| glob_match(p, arn));
        assert!(hidden(
            "arn:aws:iam::123456789012:role/sagemaker-ops/PlatformAdmin"
        ));
        assert!(hidden(
            "arn:aws:iam::123456789012:role/a/SageMaker-x/b/Admin"
        ));
        assert!(!hidden("arn:aws:iam::123456789012:role/sagemaker-compute"));
        assert!(!hidden(
            "arn:aws:iam::123456789012:role/team/sagemaker-compute"
        ));
        assert!(!hidden(
            "arn:aws:iam::123456789012:role/service-role/SageMaker-ComputeRole"
        ));
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
            "sagemaker:UpdateDomain",
            "sagemaker:CreatePresignedNotebookInstanceUrl",
        ] {
            assert!(denies(action), "{action}");
        }
        for action in ["iam:PassRole", "iam:GetRole", "sts:GetCallerIdentity"] {
            assert!(!denies(action), "{action}");
        }
    }
}
