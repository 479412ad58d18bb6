//! The properties of `Custom::SageMakerPersonaRole`, one entry each: the parser walks this table,
//! the JSON Schema, the reference page and the README's property table are generated from it.
//! Adding a property is an entry here (and in `PROPERTIES`), its field in `Properties` read by
//! the parser, and its use in the planner; an activity parameter is a `Param` and an entry here.
//! The tests fail when the parser does not judge a property the schema does, or when a generated
//! file is stale.

use super::rules::{
    AccountPart, Arn, Charset, Forbidden, Integer, RegionPart, Rule, Shape, TagRule, Text, Unicode,
};
use super::{
    MAX_DESCRIPTION, MAX_MANAGED_POLICY_QUOTA, MAX_ROLE_NAME, MAX_TAGS, OWNERSHIP_TAGS,
    RESERVED_TAG_PREFIX, ROLE_NAME_PREFIX,
};
use crate::catalog::Param;

/// How a property's value is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value. CloudFormation sends it as a string; numbers may be JSON numbers too.
    Scalar,
    /// A list: an array of strings, or one comma-separated string (Service Catalog parameters).
    List,
    /// A list an activity takes, which `ActivityParameters` may also give per activity.
    Parameter(Param),
    /// `[{Key, Value}]`.
    Tags,
    /// An object keyed by activity name, of parameters.
    Map,
    /// Added by CloudFormation; accepted and ignored.
    CloudFormation,
}

impl Kind {
    pub fn is_list(self) -> bool {
        matches!(self, Kind::List | Kind::Parameter(_))
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::List | Kind::Parameter(_) => "list",
            Kind::Tags => "list of {Key, Value}",
            Kind::Map => "map",
            Kind::CloudFormation => "CloudFormation's",
        }
    }
}

/// One property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// The rule of the value, or of each item of a list.
    pub rule: Rule,
    /// The value when absent or empty.
    pub default: Option<&'static str>,
    /// One line: what the property does.
    pub meaning: &'static str,
    /// A valid value, as JSON (a test parses every example).
    pub example: &'static str,
}

const fn property(name: &'static str, kind: Kind, rule: Rule, meaning: &'static str) -> Property {
    Property {
        name,
        kind,
        required: false,
        rule,
        default: None,
        meaning,
        example: "",
    }
}

impl Property {
    const fn example(mut self, example: &'static str) -> Self {
        self.example = example;
        self
    }

    const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

const fn parameter(param: Param, rule: Rule, meaning: &'static str) -> Property {
    property(param.name(), Kind::Parameter(param), rule, meaning)
}

// Character sets.

pub const ROLE_NAME_CHARS: Charset = Charset::of("A-Za-z0-9+=,.@_-");
const PATH_CHARS: Charset = Charset::of("A-Za-z0-9.,+@=_-");
const NAME_CHARS: Charset = Charset::of("A-Za-z0-9._-");
const HEX: Charset = Charset::of("0-9a-f");
const TAG_CHARS: Charset = Charset {
    spec: "_.:/=+@-",
    unicode: &[Unicode::Alphabetic, Unicode::Numeric, Unicode::WhiteSpace],
    words: Some("letters, digits, spaces and _ . : / = + - @"),
};

// Text rules.

const fn text(
    noun: &'static str,
    plural: &'static str,
    chars: Charset,
    min: usize,
    max: usize,
) -> Text {
    Text {
        noun,
        plural,
        prefix: "",
        chars,
        shape: Shape::Word,
        min,
        max,
        edges: None,
        wildcard: None,
        forbidden: &[],
        authority: "IAM",
        within: None,
    }
}

const fn id(noun: &'static str, plural: &'static str, prefix: &'static str) -> Text {
    Text {
        prefix,
        ..text(noun, plural, HEX, 8, 17)
    }
}

static ROLE_NAME_SUFFIX_RULE: Text = Text {
    within: Some((ROLE_NAME_PREFIX, "a role name")),
    ..text(
        "a role name suffix",
        "role name suffixes",
        ROLE_NAME_CHARS,
        1,
        MAX_ROLE_NAME,
    )
};

static DESCRIPTION_RULE: Text = text(
    "a role description",
    "role descriptions",
    Charset {
        spec: "\t\n\r -~\u{A1}-\u{FF}",
        unicode: &[],
        words: Some("printable Latin-1 characters, tabs and line breaks"),
    },
    0,
    MAX_DESCRIPTION,
);

static PATH_RULE: Text = Text {
    shape: Shape::Path,
    forbidden: &[Forbidden::Substring {
        text: ROLE_NAME_PREFIX,
        reason: "the function's own permissions name roles `role/sagemaker-*`, where `*` also spans `/`, so such a path would widen them and its template refuses it; use e.g. `/ml/`",
    }],
    ..text("an IAM path", "IAM paths", PATH_CHARS, 1, 512)
};

static BUCKET_RULE: Text = Text {
    edges: Some(Charset::of("a-z0-9*")),
    wildcard: Some('*'),
    forbidden: &[
        Forbidden::Substring {
            text: "..",
            reason: "S3 refuses two adjacent periods",
        },
        Forbidden::IpAddress,
    ],
    authority: "S3",
    ..text(
        "an S3 bucket name",
        "S3 bucket names",
        Charset::of("a-z0-9.*-"),
        3,
        63,
    )
};

static ACCOUNT_ID_RULE: Text = Text {
    authority: "AWS",
    ..text(
        "an AWS account id",
        "AWS account ids",
        Charset::of("0-9"),
        12,
        12,
    )
};

static ATHENA_WORKGROUP_RULE: Text = Text {
    authority: "Athena",
    ..text(
        "an Athena workgroup name",
        "Athena workgroup names",
        NAME_CHARS,
        1,
        128,
    )
};

static GLUE_DATABASE_RULE: Text = Text {
    authority: "Glue",
    ..text(
        "a Glue database name",
        "Glue database names",
        NAME_CHARS,
        1,
        255,
    )
};

static SUBNET_RULE: Text = id("a subnet id", "subnet ids", "subnet-");
static SECURITY_GROUP_RULE: Text = id("a security group id", "security group ids", "sg-");

static KENDRA_INDEX_RULE: Text = Text {
    authority: "Kendra",
    ..text(
        "a Kendra index id",
        "Kendra index ids",
        Charset::of("A-Za-z0-9-"),
        36,
        36,
    )
};

static TAG_RULE: TagRule = TagRule {
    key: Text {
        forbidden: &[
            // IAM compares role tag keys ignoring case: `Persona-Role:Stack-Id` would overwrite
            // the ownership tag.
            Forbidden::Prefix {
                text: "aws:",
                ignore_case: true,
                reason: "which AWS reserves (in any case: IAM compares tag keys ignoring case)",
            },
            Forbidden::Prefix {
                text: RESERVED_TAG_PREFIX,
                ignore_case: true,
                reason: "which this resource reserves for its ownership tags (in any case: IAM compares tag keys ignoring case)",
            },
        ],
        ..text("a tag key", "tag keys", TAG_CHARS, 1, 128)
    },
    value: text("a tag value", "tag values", TAG_CHARS, 0, 256),
    max: MAX_TAGS - OWNERSHIP_TAGS,
};

// ARN rules.

const fn arn(
    noun: &'static str,
    plural: &'static str,
    service: &'static str,
    resource: &'static str,
    name: Text,
) -> Arn {
    Arn {
        noun,
        plural,
        service,
        region: RegionPart::Known,
        account: AccountPart::Any,
        resource,
        name,
        instead: &[],
    }
}

const fn path_and_name(noun: &'static str, max: usize) -> Text {
    Text {
        shape: Shape::PathAndName,
        ..text(noun, "", ROLE_NAME_CHARS, 1, max)
    }
}

static ROLE_ARN: Arn = Arn {
    region: RegionPart::None,
    account: AccountPart::Stack("iam:PassRole only passes roles of the stack's account"),
    ..arn(
        "an IAM role ARN",
        "IAM role ARNs",
        "iam",
        "role/",
        Text {
            forbidden: &[Forbidden::Chars {
                chars: "*?",
                reason: "wildcards are refused, since passing every role they match is an escalation; name each role",
            }],
            ..path_and_name("a role name", MAX_ROLE_NAME)
        },
    )
};

static POLICY_ARN: Arn = Arn {
    region: RegionPart::None,
    account: AccountPart::AnyOrAws,
    ..arn(
        "an IAM policy ARN",
        "IAM policy ARNs",
        "iam",
        "policy/",
        path_and_name("a policy name", 128),
    )
};

static ECR_REPOSITORY_ARN: Arn = Arn {
    region: RegionPart::KnownOrWildcard,
    ..arn(
        "an ECR repository ARN",
        "ECR repository ARNs",
        "ecr",
        "repository/",
        text(
            "a repository name",
            "",
            Charset::of("A-Za-z0-9._/*-"),
            1,
            256,
        ),
    )
};

static KMS_KEY_ARN: Arn = Arn {
    instead: &[(
        "alias/",
        "is an alias ARN; IAM authorizes KMS use by key, so give the key's ARN",
    )],
    ..arn(
        "a KMS key ARN",
        "KMS key ARNs",
        "kms",
        "key/",
        text("a key id", "", Charset::of("A-Za-z0-9-"), 1, 128),
    )
};

static MLFLOW_TRACKING_SERVER_ARN: Arn = arn(
    "an MLflow tracking server ARN",
    "MLflow tracking server ARNs",
    "sagemaker",
    "mlflow-tracking-server/",
    text(
        "a tracking server name",
        "",
        Charset::of("A-Za-z0-9*-"),
        1,
        256,
    ),
);

// Numbers.

static MAX_SESSION_RULE: Integer = Integer {
    noun: "a whole number of seconds",
    min: 3600,
    max: 43200,
};

static MANAGED_POLICY_QUOTA_RULE: Integer = Integer {
    noun: "a number of managed policies per role",
    min: 1,
    max: MAX_MANAGED_POLICY_QUOTA as u64,
};

// The properties.

pub static PERSONA: Property = property(
    "Persona",
    Kind::Scalar,
    Rule::Persona,
    "the persona, whose defaults are the role's activities",
)
.required()
.example(r#""DataScientist""#);

pub static ACTIVITIES: Property = property(
    "Activities",
    Kind::List,
    Rule::Activity,
    "the exact activity list, replacing the persona's defaults",
)
.example(r#"["Manage ML Jobs", "S3 Bucket Access"]"#);

pub static ADD_ACTIVITIES: Property = property(
    "AddActivities",
    Kind::List,
    Rule::Activity,
    "activities added to the persona's defaults",
)
.example(r#"["Query Athena Workgroups"]"#);

pub static REMOVE_ACTIVITIES: Property = property(
    "RemoveActivities",
    Kind::List,
    Rule::Activity,
    "defaults of the persona to leave out",
)
.example(r#"["Manage Experiments"]"#);

pub static ROLE_NAME_SUFFIX: Property = property(
    "RoleNameSuffix",
    Kind::Scalar,
    Rule::Text(&ROLE_NAME_SUFFIX_RULE),
    "the role is named `sagemaker-<suffix>`; absent: `sagemaker-<stack>-<logical id>-<hash>`",
)
.example(r#""data-scientist""#);

pub static DESCRIPTION: Property = property(
    "Description",
    Kind::Scalar,
    Rule::Text(&DESCRIPTION_RULE),
    "the role's description",
)
.example(r#""Data scientists of the fraud team""#);

pub static PATH: Property = property(
    "Path",
    Kind::Scalar,
    Rule::Text(&PATH_RULE),
    "the role's path",
)
.default("/")
.example(r#""/ml/""#);

pub static MAX_SESSION_DURATION: Property = property(
    "MaxSessionDuration",
    Kind::Scalar,
    Rule::Integer(&MAX_SESSION_RULE),
    "the role's maximum session duration, in seconds",
)
.default("3600")
.example(r#""7200""#);

pub static PERMISSIONS_BOUNDARY: Property = property(
    "PermissionsBoundary",
    Kind::Scalar,
    Rule::Arn(&POLICY_ARN),
    "the role's permissions boundary",
)
.example(r#""arn:aws:iam::123456789012:policy/ml-boundary""#);

pub static MANAGED_POLICY_ARNS: Property = property(
    "ManagedPolicyArns",
    Kind::List,
    Rule::Arn(&POLICY_ARN),
    "further managed policies to attach",
)
.example(r#"["arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"]"#);

pub static TAGS: Property = property(
    "Tags",
    Kind::Tags,
    Rule::Tag(&TAG_RULE),
    "the role's tags, besides the ownership tags the resource adds; only keys the function's AllowedTagKeys names (by default none: tags are principal tags, which policies may trust)",
)
.example(r#"[{"Key": "team", "Value": "fraud"}]"#);

pub static REGIONS: Property = property(
    "Regions",
    Kind::List,
    Rule::Region,
    "narrows every regional ARN and the trust policy to these regions (absent: all)",
)
.example(r#"["us-east-1", "eu-west-1"]"#);

pub static MAX_MANAGED_POLICIES: Property = property(
    "MaxManagedPolicies",
    Kind::Scalar,
    Rule::Integer(&MANAGED_POLICY_QUOTA_RULE),
    "the account's quota of managed policies per role",
)
.default("10")
.example(r#""20""#);

pub static PASS_ROLES: Property = parameter(
    Param::PassRoles,
    Rule::Arn(&ROLE_ARN),
    "roles the role may pass to SageMaker",
)
.example(r#"["arn:aws:iam::123456789012:role/sagemaker-compute"]"#);

pub static S3_BUCKETS: Property = parameter(
    Param::S3Buckets,
    Rule::Text(&BUCKET_RULE),
    "buckets of the data the activities read and write, each within the function's AllowedS3Buckets (by default any but a pattern starting with `*`, which reaches every bucket)",
)
.example(r#"["ml-team-data", "ml-team-*"]"#);

pub static S3_BUCKET_ACCOUNTS: Property = parameter(
    Param::S3BucketAccounts,
    Rule::Text(&ACCOUNT_ID_RULE),
    "accounts besides the stack's whose buckets the S3 activities may reach: bucket ARNs name no account, so every S3 statement is limited by `aws:ResourceAccount` (absent: the stack's account only)",
)
.example(r#"["111122223333"]"#);

pub static ECR_REPOSITORIES: Property = parameter(
    Param::EcrRepositories,
    Rule::Arn(&ECR_REPOSITORY_ARN),
    "repositories jobs may pull images from",
)
.example(r#"["arn:aws:ecr:us-east-1:123456789012:repository/ml/training"]"#);

pub static ATHENA_WORKGROUPS: Property = parameter(
    Param::AthenaWorkgroups,
    Rule::Text(&ATHENA_WORKGROUP_RULE),
    "workgroups the role may query in",
)
.example(r#"["analytics"]"#);

pub static GLUE_DATABASES: Property = parameter(
    Param::GlueDatabases,
    Rule::Text(&GLUE_DATABASE_RULE),
    "databases whose tables the role manages",
)
.example(r#"["feature_store"]"#);

pub static VPC_SUBNETS: Property = parameter(
    Param::VpcSubnets,
    Rule::Text(&SUBNET_RULE),
    "VPC customization: the subnets jobs must run in",
)
.example(r#"["subnet-0a1b2c3d4e5f60718"]"#);

pub static VPC_SECURITY_GROUPS: Property = parameter(
    Param::VpcSecurityGroups,
    Rule::Text(&SECURITY_GROUP_RULE),
    "VPC customization: the security groups jobs must use",
)
.example(r#"["sg-0a1b2c3d4e5f60718"]"#);

pub static DATA_KMS_KEYS: Property = parameter(
    Param::DataKmsKeys,
    Rule::Arn(&KMS_KEY_ARN),
    "KMS customization: the keys of output data",
)
.example(r#"["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]"#);

pub static VOLUME_KMS_KEYS: Property = parameter(
    Param::VolumeKmsKeys,
    Rule::Arn(&KMS_KEY_ARN),
    "KMS customization: the keys of storage volumes",
)
.example(r#"["arn:aws:kms:us-east-1:123456789012:key/9876fedc-12ab-34cd-56ef-1234567890ab"]"#);

pub static KENDRA_INDEXES: Property = parameter(
    Param::KendraIndexes,
    Rule::Text(&KENDRA_INDEX_RULE),
    "indexes Canvas may search",
)
.example(r#"["0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"]"#);

pub static MLFLOW_TRACKING_SERVERS: Property = parameter(
    Param::MlflowTrackingServers,
    Rule::Arn(&MLFLOW_TRACKING_SERVER_ARN),
    "tracking servers the role may use (absent: all of the account's)",
)
.example(r#"["arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team"]"#);

pub static ACTIVITY_PARAMETERS: Property = property(
    "ActivityParameters",
    Kind::Map,
    Rule::Activity,
    "per-activity parameters, replacing the top-level ones for that activity",
)
.example(
    r#"{"Manage Models": {"PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-models"]}}"#,
);

pub static SERVICE_TOKEN: Property = property(
    "ServiceToken",
    Kind::CloudFormation,
    Rule::Any(
        "the function's ARN, as its stack exports it (`!ImportValue <stack>-ServiceToken`); the function answers only resources whose ServiceToken CloudFormation recorded as its own",
    ),
    "the function CloudFormation invokes for the resource",
)
.example(r#""arn:aws:lambda:us-east-1:123456789012:function:persona-role""#);

pub static SERVICE_TIMEOUT: Property = property(
    "ServiceTimeout",
    Kind::CloudFormation,
    Rule::Any(
        "a whole number of seconds from 1 to 3600, which CloudFormation checks; the function reads it for its deadlines: it answers before the time runs out, and leaves alone an event sent longer ago",
    ),
    "seconds CloudFormation waits for the answer before it fails the stack operation; declare it (the examples give 900) so that a function that cannot answer fails the stack in minutes, not an hour",
)
.default("3600")
.example(r#""900""#);

pub static ADOPT_EXISTING_ROLE: Property = property(
    "AdoptExistingRole",
    Kind::Scalar,
    Rule::Boolean,
    "on Create, take over a role of the planned name that no stack owns (as Role Manager's console made it: `SageMaker-<suffix>`), converging it in place instead of failing",
)
.default("false")
.example(r#""true""#);

pub static DELETE_CONSOLE_POLICIES: Property = property(
    "DeleteConsolePolicies",
    Kind::Scalar,
    Rule::Boolean,
    "with `AdoptExistingRole`, delete the console's per-activity policies the adoption detaches, each only if no other role, user or group has it attached",
)
.default("false")
.example(r#""true""#);

pub static RETAIN_ON_DELETE: Property = property(
    "RetainOnDelete",
    Kind::Scalar,
    Rule::Boolean,
    "on Delete, leave the role and its policies in IAM as they are",
)
.default("false")
.example(r#""true""#);

/// Every property, in the order of the documentation and of error messages.
pub static PROPERTIES: &[&Property] = &[
    &PERSONA,
    &ACTIVITIES,
    &ADD_ACTIVITIES,
    &REMOVE_ACTIVITIES,
    &ROLE_NAME_SUFFIX,
    &DESCRIPTION,
    &PATH,
    &MAX_SESSION_DURATION,
    &PERMISSIONS_BOUNDARY,
    &MANAGED_POLICY_ARNS,
    &TAGS,
    &REGIONS,
    &MAX_MANAGED_POLICIES,
    &ADOPT_EXISTING_ROLE,
    &DELETE_CONSOLE_POLICIES,
    &RETAIN_ON_DELETE,
    &PASS_ROLES,
    &S3_BUCKETS,
    &S3_BUCKET_ACCOUNTS,
    &ECR_REPOSITORIES,
    &ATHENA_WORKGROUPS,
    &GLUE_DATABASES,
    &VPC_SUBNETS,
    &VPC_SECURITY_GROUPS,
    &DATA_KMS_KEYS,
    &VOLUME_KMS_KEYS,
    &KENDRA_INDEXES,
    &MLFLOW_TRACKING_SERVERS,
    &ACTIVITY_PARAMETERS,
    &SERVICE_TOKEN,
    &SERVICE_TIMEOUT,
];

/// Parameters that go together: both or neither.
pub const PAIRS: [(Param, Param); 2] = [
    (Param::VpcSubnets, Param::VpcSecurityGroups),
    (Param::DataKmsKeys, Param::VolumeKmsKeys),
];

/// The property of an activity parameter.
pub fn parameter_property(param: Param) -> &'static Property {
    match param {
        Param::PassRoles => &PASS_ROLES,
        Param::S3Buckets => &S3_BUCKETS,
        Param::S3BucketAccounts => &S3_BUCKET_ACCOUNTS,
        Param::EcrRepositories => &ECR_REPOSITORIES,
        Param::AthenaWorkgroups => &ATHENA_WORKGROUPS,
        Param::GlueDatabases => &GLUE_DATABASES,
        Param::VpcSubnets => &VPC_SUBNETS,
        Param::VpcSecurityGroups => &VPC_SECURITY_GROUPS,
        Param::DataKmsKeys => &DATA_KMS_KEYS,
        Param::VolumeKmsKeys => &VOLUME_KMS_KEYS,
        Param::KendraIndexes => &KENDRA_INDEXES,
        Param::MlflowTrackingServers => &MLFLOW_TRACKING_SERVERS,
    }
}

/// What a parameter's values look like, for errors and the documentation.
pub fn expected(param: Param) -> String {
    parameter_property(param).rule.expected()
}

/// A property by name.
pub fn find(name: &str) -> Option<&'static Property> {
    PROPERTIES.iter().copied().find(|p| p.name == name)
}
