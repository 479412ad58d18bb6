//! The Role Manager catalog as data: personas, ML activities and the policy statements each
//! activity grants. Nothing here knows about AWS clients; rendering to JSON lives in `plan`.

mod canvas;
mod compute;
pub mod console;
mod data;
mod experiments;
mod jobs;
mod mlflow;
mod models;
mod names;
mod pipelines;
mod studio;

pub use names::{nearest, normalize};

use std::fmt;

/// One row per parameter: the enum, [`Param::ALL`] and the property name users write all come
/// from these rows; the property table (`properties::table`) holds the rest.
macro_rules! params {
    ($($param:ident,)*) => {
        /// A parameter an activity takes. Each is given once at the top level of the properties
        /// and may be overridden per activity through `ActivityParameters`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Param {
            $($param,)*
        }

        impl Param {
            pub const ALL: [Param; [$(stringify!($param)),*].len()] = [$(Param::$param),*];

            /// The property name users write.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Param::$param => stringify!($param),)*
                }
            }
        }
    };
}

params! {
    PassRoles,
    S3Buckets,
    S3BucketAccounts,
    EcrRepositories,
    AthenaWorkgroups,
    GlueDatabases,
    VpcSubnets,
    VpcSecurityGroups,
    DataKmsKeys,
    VolumeKmsKeys,
    KendraIndexes,
    MlflowTrackingServers,
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether an activity needs a parameter or merely narrows or extends with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamUse {
    pub param: Param,
    pub need: Need,
}

pub const fn required(param: Param) -> ParamUse {
    ParamUse {
        param,
        need: Need::Required,
    }
}

pub const fn optional(param: Param) -> ParamUse {
    ParamUse {
        param,
        need: Need::Optional,
    }
}

/// When a statement is part of the activity's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// VPC customization given (VpcSubnets and VpcSecurityGroups).
    Vpc,
    /// VPC customization not given.
    NoVpc,
    /// KMS customization given (DataKmsKeys and VolumeKmsKeys).
    Kms,
    /// KMS customization not given.
    NoKms,
    /// The parameter has at least one value.
    Given(Param),
    /// The parameter has no value.
    NotGiven(Param),
}

/// How an ARN is scoped to the stack's partition, account and regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `arn:P:SERVICE:REGION:ACCOUNT:PATH`, once per region of `Regions` (or `*`).
    Regional,
    /// `arn:P:SERVICE::ACCOUNT:PATH` (IAM).
    Account,
    /// `arn:P:SERVICE:::PATH` (S3 buckets and objects).
    Global,
}

/// A statement's resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `*`: for actions that take no resource (List*, Search, GetAuthorizationToken).
    Any,
    /// An ARN built from the stack's context; `{}` in `path` is replaced by each value of `each`.
    Arn {
        service: &'static str,
        scope: Scope,
        path: &'static str,
        each: Option<Param>,
    },
    /// The parameter's values, which are ARNs already (PassRoles, ECR repositories, KMS keys).
    Given(Param),
}

/// SageMaker resources in the stack's account; `path` is `TYPE/NAME-PATTERN`.
pub const fn sagemaker(path: &'static str) -> Resource {
    Resource::Arn {
        service: "sagemaker",
        scope: Scope::Regional,
        path,
        each: None,
    }
}

/// A resource of another service in the stack's account and regions.
pub const fn regional(service: &'static str, path: &'static str) -> Resource {
    Resource::Arn {
        service,
        scope: Scope::Regional,
        path,
        each: None,
    }
}

/// One regional ARN per value of `param`.
pub const fn regional_each(service: &'static str, path: &'static str, param: Param) -> Resource {
    Resource::Arn {
        service,
        scope: Scope::Regional,
        path,
        each: Some(param),
    }
}

/// One S3 ARN per bucket: `{}` is the bucket name.
pub const fn s3_each(path: &'static str) -> Resource {
    Resource::Arn {
        service: "s3",
        scope: Scope::Global,
        path,
        each: Some(Param::S3Buckets),
    }
}

/// A fixed S3 ARN pattern.
pub const fn s3(path: &'static str) -> Resource {
    Resource::Arn {
        service: "s3",
        scope: Scope::Global,
        path,
        each: None,
    }
}

/// A condition on a statement. Values that depend on the stack or on parameters are rendered by
/// the planner; `Static` carries fixed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `StringEquals iam:PassedToService` the service principal.
    PassedToService(&'static str),
    /// `ForAllValues:StringEquals sagemaker:VpcSubnets` the subnets, and `Null` false so that a
    /// request without subnets does not pass vacuously.
    VpcSubnets,
    /// As `VpcSubnets`, for `sagemaker:VpcSecurityGroupIds`.
    VpcSecurityGroups,
    /// `ArnEquals sagemaker:VolumeKmsKeyArn` the volume keys (KMS customization only).
    VolumeKmsKeyArn,
    /// `ArnEquals sagemaker:OutputKmsKeyArn` the data keys (KMS customization only).
    OutputKmsKeyArn,
    /// SageMaker refuses a volume key on instance types with local NVMe storage, which it encrypts
    /// itself: no `sagemaker:VolumeKmsKeyArn` in the request, and every instance type of the
    /// request one of `LOCAL_STORAGE_INSTANCE_TYPES` (KMS customization only).
    LocalStorageInstances,
    /// `ArnLike sagemaker:OwnerUserProfileArn` the caller's own Studio user profile, named by the
    /// policy variables `${sagemaker:DomainId}` and `${sagemaker:UserProfileName}` that Studio
    /// sets on the sessions of its apps.
    OwnedByCaller,
    /// `StringLike kms:ViaService SERVICE.REGION.DNS-SUFFIX` for each region (or `*`), with the
    /// partition's DNS suffix.
    ViaService(&'static str),
    /// `StringEquals aws:ResourceAccount` the stack's account: for buckets the account owns by
    /// name (its `sagemaker-*` default buckets).
    ResourceAccount,
    /// `StringEquals aws:ResourceAccount` the stack's account and the accounts of
    /// `S3BucketAccounts`: S3 ARNs name no account, so a bucket name or pattern alone also
    /// matches a bucket of another account whose bucket policy admits the role.
    BucketAccounts,
    /// A fixed condition: operator, key, values.
    Static {
        operator: &'static str,
        key: &'static str,
        values: &'static [&'static str],
    },
}

impl Condition {
    /// The condition keys the rendered condition tests.
    pub fn keys(&self) -> Vec<&'static str> {
        match *self {
            Condition::PassedToService(_) => vec!["iam:PassedToService"],
            Condition::VpcSubnets => vec!["sagemaker:VpcSubnets"],
            Condition::VpcSecurityGroups => vec!["sagemaker:VpcSecurityGroupIds"],
            Condition::VolumeKmsKeyArn => vec!["sagemaker:VolumeKmsKeyArn"],
            Condition::OutputKmsKeyArn => vec!["sagemaker:OutputKmsKeyArn"],
            Condition::LocalStorageInstances => {
                vec!["sagemaker:VolumeKmsKeyArn", "sagemaker:InstanceTypes"]
            }
            Condition::OwnedByCaller => vec!["sagemaker:OwnerUserProfileArn"],
            Condition::ViaService(_) => vec!["kms:ViaService"],
            Condition::ResourceAccount | Condition::BucketAccounts => {
                vec!["aws:ResourceAccount"]
            }
            Condition::Static { key, .. } => vec![key],
        }
    }
}

/// `sagemaker:TaggingAction` limited to the Create actions whose requests carry tags: SageMaker
/// authorizes the tags of `CreateX` as `sagemaker:AddTags` with `TaggingAction` `CreateX`, so
/// tags can be set on what the activity creates and never added to existing resources.
pub const fn tag_on_create(create_actions: &'static [&'static str]) -> Condition {
    Condition::Static {
        operator: "StringEquals",
        key: "sagemaker:TaggingAction",
        values: create_actions,
    }
}

/// ML instance types with local NVMe instance storage, on which SageMaker refuses a volume KMS key,
/// so the KMS variants let them run without one. EC2 names families with instance store volumes
/// with a `d` (`ml.m5d`, `ml.c6id`, `ml.p4d`; `dn`: `ml.g4dn`, `ml.p3dn`); the GPU and Trainium
/// families below have NVMe storage without the letter (SageMaker's "Instance store volumes").
pub const LOCAL_STORAGE_INSTANCE_TYPES: &[&str] = &[
    "ml.*d.*",
    "ml.*dn.*",
    "ml.g5.*",
    "ml.g6.*",
    "ml.g6e.*",
    "ml.gr6.*",
    "ml.p4de.*",
    "ml.p5*",
    "ml.trn*",
];

/// One statement of an activity's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    /// Appended to the activity's `sid`; alphanumeric.
    pub sid: &'static str,
    pub when: When,
    pub actions: &'static [&'static str],
    pub resources: &'static [Resource],
    pub conditions: &'static [Condition],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// In today's Role Manager console.
    Current,
    /// Dropped from the global console but still documented (China regions, 2023 docs).
    Legacy,
}

/// An ML activity of the Role Manager console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// Stable kebab-case id; finds the activity like `name` and `aliases` do.
    pub id: &'static str,
    /// The console's name.
    pub name: &'static str,
    /// Other names the console used for it.
    pub aliases: &'static [&'static str],
    /// Prefix of every statement id; PascalCase.
    pub sid: &'static str,
    pub summary: &'static str,
    pub status: Status,
    pub params: &'static [ParamUse],
    pub vpc: bool,
    pub kms: bool,
    pub statements: &'static [Statement],
    /// AWS managed policies attached by name (after `arn:PARTITION:iam::aws:policy/`), for the
    /// Canvas activities whose policies AWS maintains and which exceed a customer policy's size.
    pub aws_managed_policies: &'static [&'static str],
    /// Where the actions come from.
    pub source: &'static str,
}

impl Activity {
    /// Distinct actions of all its statements, sorted.
    pub fn actions(&self) -> Vec<&'static str> {
        let mut actions: Vec<&'static str> = self
            .statements
            .iter()
            .flat_map(|s| s.actions.iter().copied())
            .collect();
        actions.sort_unstable();
        actions.dedup();
        actions
    }

    pub fn uses(&self, param: Param) -> Option<Need> {
        self.params
            .iter()
            .find(|p| p.param == param)
            .map(|p| p.need)
    }

    /// Whether the activity takes a parameter. VPC and KMS parameters come in pairs that an
    /// activity with the customization accepts whole, even where its statements use only one of
    /// the pair.
    pub fn accepts(&self, param: Param) -> bool {
        self.uses(param).is_some()
            || match param {
                Param::VpcSubnets | Param::VpcSecurityGroups => self.vpc,
                Param::DataKmsKeys | Param::VolumeKmsKeys => self.kms,
                _ => false,
            }
    }
}

/// An AWS managed policy an activity attaches, as AWS publishes it: what it can grant. The
/// shipped permissions boundary (`crate::boundary`) must allow all of it, or the policy would be
/// cut short on every role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsManagedPolicy {
    /// After `arn:PARTITION:iam::aws:policy/`, as in `Activity::aws_managed_policies`.
    pub name: &'static str,
    /// The default version the actions were read from.
    pub version: &'static str,
    /// Every action of its Allow statements, as written, sorted.
    pub actions: &'static [&'static str],
    /// The services its `iam:PassRole` statements pass roles to (`iam:PassedToService`).
    pub passes_roles_to: &'static [&'static str],
    pub source: &'static str,
}

/// The AWS managed policies the activities attach.
pub static AWS_MANAGED_POLICIES: &[&AwsManagedPolicy] = &[
    &canvas::CANVAS_FULL_ACCESS,
    &canvas::CANVAS_DATA_PREP_FULL_ACCESS,
    &canvas::CANVAS_AI_SERVICES_ACCESS,
    &canvas::CANVAS_DIRECT_DEPLOY_ACCESS,
];

pub fn aws_managed_policy(name: &str) -> Option<&'static AwsManagedPolicy> {
    AWS_MANAGED_POLICIES
        .iter()
        .copied()
        .find(|p| p.name == name)
}

/// Every activity, in the order the console lists them (which is also the order of statements in
/// a plan).
pub static ACTIVITIES: &[&Activity] = &[
    &compute::ACCESS_REQUIRED_AWS_SERVICES,
    &studio::RUN_STUDIO_APPS,
    &jobs::MANAGE_ML_JOBS,
    &models::MANAGE_MODELS,
    &models::MANAGE_ENDPOINTS,
    &pipelines::MANAGE_PIPELINES,
    &experiments::MANAGE_EXPERIMENTS,
    &experiments::SEARCH_VISUALIZE_EXPERIMENTS,
    &models::MANAGE_MODEL_MONITORING,
    &data::S3_FULL_ACCESS,
    &data::S3_BUCKET_ACCESS,
    &data::QUERY_ATHENA_WORKGROUPS,
    &data::MANAGE_GLUE_TABLES,
    &canvas::CANVAS_CORE_ACCESS,
    &canvas::CANVAS_DATA_PREP,
    &canvas::CANVAS_AI_SERVICES,
    &canvas::CANVAS_MLOPS,
    &canvas::CANVAS_KENDRA_ACCESS,
    &mlflow::USE_MLFLOW,
    &mlflow::MANAGE_MLFLOW,
    &mlflow::MLFLOW_AWS_SERVICES,
    &studio::RUN_STUDIO_EMR_SERVERLESS,
];

/// Index of an activity in `ACTIVITIES`; plans order statements by it.
pub type ActivityIndex = usize;

pub fn activity(index: ActivityIndex) -> &'static Activity {
    ACTIVITIES[index]
}

/// Finds an activity by id, name or alias, ignoring case, spaces, `-` and `_`.
pub fn find_activity(name: &str) -> Option<ActivityIndex> {
    let key = normalize(name);
    ACTIVITIES.iter().position(|a| {
        normalize(a.id) == key
            || normalize(a.name) == key
            || a.aliases.iter().any(|alias| normalize(alias) == key)
    })
}

/// The closest activity name, for "did you mean".
pub fn suggest_activity(name: &str) -> Option<&'static str> {
    let candidates = ACTIVITIES
        .iter()
        .flat_map(|a| std::iter::once(a.name).chain(a.aliases.iter().copied()));
    nearest(name, candidates)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persona {
    /// The value of the `Persona` property.
    pub id: &'static str,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    /// Preselected activities (the Role Manager persona reference this product follows).
    pub defaults: &'static [&'static str],
    /// What the 2024+ console preselects, for the reference page; each exists in the catalog.
    pub console_defaults: &'static [&'static str],
}

pub static PERSONAS: &[Persona] = &[
    Persona {
        id: "DataScientist",
        name: "Data Scientist",
        aliases: &[],
        summary: "General machine learning development and experimentation in SageMaker.",
        defaults: &[
            "run-studio-apps",
            "manage-ml-jobs",
            "manage-models",
            "manage-experiments",
            "search-visualize-experiments",
            "s3-bucket-access",
        ],
        console_defaults: &[
            "run-studio-apps",
            "manage-ml-jobs",
            "manage-models",
            "manage-glue-tables",
            "canvas-ai-services",
            "canvas-mlops",
            "canvas-kendra-access",
            "use-mlflow",
            "mlflow-aws-services-access",
            "run-studio-emr-serverless",
        ],
    },
    Persona {
        id: "MLOps",
        name: "MLOps",
        aliases: &["ML Ops"],
        summary: "Operations: models, endpoints and pipelines, with experiment visibility.",
        defaults: &[
            "run-studio-apps",
            "manage-models",
            "manage-endpoints",
            "manage-pipelines",
            "search-visualize-experiments",
        ],
        console_defaults: &[
            "run-studio-apps",
            "manage-models",
            "manage-pipelines",
            "search-visualize-experiments",
            "s3-full-access",
        ],
    },
    Persona {
        id: "SageMakerCompute",
        name: "SageMaker Compute",
        aliases: &["SageMaker AI Compute", "Compute"],
        summary: "Execution role that SageMaker jobs and endpoints assume.",
        defaults: &["access-required-aws-services"],
        console_defaults: &["access-required-aws-services"],
    },
    Persona {
        id: "Custom",
        name: "Custom",
        aliases: &["Custom Role Settings"],
        summary: "No preselected activities: list them in Activities or AddActivities.",
        defaults: &[],
        console_defaults: &[],
    },
];

pub fn find_persona(name: &str) -> Option<&'static Persona> {
    let key = normalize(name);
    PERSONAS.iter().find(|p| {
        normalize(p.id) == key
            || normalize(p.name) == key
            || p.aliases.iter().any(|a| normalize(a) == key)
    })
}

pub fn suggest_persona(name: &str) -> Option<&'static str> {
    nearest(name, PERSONAS.iter().map(|p| p.id))
}

#[cfg(test)]
mod tests;
