//! Real parts for the migration tests (discover, diff --live), on top of `support` (its moto
//! server, IAM clients, ResponseURL recorder and handler): the `persona-role` binary run with
//! the SDK's standard settings pointed at moto, and roles seeded exactly as the Role Manager
//! console made them.
//!
//! The console's roles are facts written in this project's form (role-manager-research: "Role
//! name", "Role path", "Policy type", the activity table, and Role Manager's templates): named
//! `SageMaker-<name>` under `/service-role/`, trusted by SageMaker of one region and account, with
//! one customer-managed policy per activity named `<template>_<epoch-ms>` under `/service-role/`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support;

pub const REGION: &str = "us-east-1";
/// The stack that declares (and adopts) the roles in these tests.
pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml-migration/7c1e9a40-9f2b-11ef-8d3e-0a1b2c3d4e5f";

pub use crate::support::{ACCOUNT, moto_endpoint, root};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A suffix unique in this process (and across processes sharing nothing: moto is per binary).
pub fn unique_suffix(tag: &str) -> String {
    format!("{tag}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A role name `sagemaker-<tag>-<n>` unique in this test binary.
pub fn unique(tag: &str) -> String {
    format!("sagemaker-{}", unique_suffix(tag))
}

// ----------------------------------------------------------------------------- binary

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `persona-role` with the SDK's standard settings pointed at moto and nothing of the
/// machine's own AWS configuration.
pub fn binary(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .args(args)
        .current_dir(root())
        .env("AWS_ENDPOINT_URL_IAM", moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

// ------------------------------------------------------------- this project's own roles

/// Creates a role through the Lambda's handler (a Create event answered to a local
/// ResponseURL), as a stack would.
pub async fn create_with_handler(properties: &Value, logical_id: &str) {
    let response = create_event_with_handler(properties, logical_id).await;
    assert_eq!(response.status.as_str(), "SUCCESS", "{:?}", response.reason);
}

/// The Lambda handler's answer to a Create of `properties` by this module's stack.
pub async fn create_event_with_handler(
    properties: &Value,
    logical_id: &str,
) -> persona_role::cfn::answer::Response {
    let recorder = support::Recorder::start();
    let mut event = support::create_event(logical_id, properties.clone(), "migration", &recorder);
    event["StackId"] = json!(STACK_ID);
    support::handler(None)
        .handle(event, Some(Instant::now() + Duration::from_secs(60)))
        .await
        .unwrap()
        .response
}

/// Takes a role over in place through the Lambda's handler: a Create of the discovered
/// declaration (with `AdoptExistingRole`). Returns the RoleId the answer gives.
pub async fn converge_in_place(role_name: &str, declaration: &Path, logical_id: &str) -> String {
    let properties: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(declaration).unwrap()).unwrap();
    assert_eq!(
        properties["AdoptExistingRole"], "true",
        "discover declares adoption"
    );
    let response = create_event_with_handler(&properties, logical_id).await;
    assert_eq!(
        response.status.as_str(),
        "SUCCESS",
        "{role_name}: {:?}",
        response.reason
    );
    assert_eq!(
        response.physical_resource_id, role_name,
        "the role keeps its name"
    );
    response
        .data
        .iter()
        .find(|(key, _)| key == "RoleId")
        .map(|(_, id)| id.clone())
        .unwrap()
}

// ------------------------------------------------------------------- console-made roles

/// A role the console made, as seeded.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub role_name: String,
    pub role_id: String,
    /// Its per-activity policies, in attachment order.
    pub policy_arns: Vec<String>,
}

static EPOCH_MS: AtomicUsize = AtomicUsize::new(1_733_462_327_347);

/// The console's trust policy: SageMaker of the role's region and account (E1's `Sid`).
pub fn console_trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "AssumeRole",
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"ArnLike": {"aws:SourceArn": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:*")}}
    }]})
}

/// Creates `SageMaker-<name>` under `/service-role/` with one policy per `(template, document)`,
/// each named `<template>_<epoch-ms>` (one timestamp per role, as one console run gives).
pub async fn seed_console_role(name: &str, policies: &[(&str, Value)]) -> Seeded {
    let client = support::checker();
    let role_name = format!("SageMaker-{name}");
    let role = client
        .create_role()
        .role_name(&role_name)
        .path("/service-role/")
        .assume_role_policy_document(console_trust().to_string())
        .send()
        .await
        .unwrap();
    let role_id = role.role().unwrap().role_id().to_owned();
    let stamp = EPOCH_MS.fetch_add(1, Ordering::Relaxed);
    let mut policy_arns = Vec::new();
    for (template, document) in policies {
        let created = client
            .create_policy()
            .policy_name(format!("{template}_{stamp}"))
            .path("/service-role/")
            .policy_document(document.to_string())
            .send()
            .await
            .unwrap();
        let arn = created.policy().unwrap().arn().unwrap().to_owned();
        client
            .attach_role_policy()
            .role_name(&role_name)
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
        policy_arns.push(arn);
    }
    Seeded {
        role_name,
        role_id,
        policy_arns,
    }
}

pub fn compute_role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/service-role/SageMaker-ComputeRole")
}

/// The Data Scientist the console's walkthrough makes (E3: six policies): Studio, jobs, models,
/// experiments, their visualization and bucket access, passing the compute role.
pub async fn seed_console_data_scientist(name: &str) -> Seeded {
    seed_console_data_scientist_passing(name, &compute_role_arn()).await
}

/// The walkthrough's Data Scientist, passing the compute role of that ARN.
pub async fn seed_console_data_scientist_passing(name: &str, compute: &str) -> Seeded {
    let pass = [compute.to_owned()];
    seed_console_role(
        name,
        &[
            ("SM_StudioAppPermissions", studio_apps(&pass)),
            ("SM_CommonJobManagement", job_management(&pass)),
            ("SM_ModelManagement", model_management(&pass)),
            ("SM_ExperimentsManagement", experiments_management()),
            ("SM_ExperimentsVisualization", experiments_visualization()),
            (
                "SageMakerS3BucketPolicyTemplate",
                s3_buckets(&["ml-team-data", "ml-team-scratch"]),
            ),
        ],
    )
    .await
}

/// The MLOps role of the walkthrough (E3: five policies).
pub async fn seed_console_mlops(name: &str) -> Seeded {
    let pass = [compute_role_arn()];
    seed_console_role(
        name,
        &[
            ("SM_StudioAppPermissions", studio_apps(&pass)),
            ("SM_ModelManagement", model_management(&pass)),
            ("SM_EndpointDeployment", endpoint_deployment()),
            ("SM_PipelineManagement", pipeline_management(&pass)),
            ("SM_ExperimentsVisualization", experiments_visualization()),
        ],
    )
    .await
}

/// The SageMaker Compute role: Access Required AWS Services.
pub async fn seed_console_compute(name: &str) -> Seeded {
    seed_console_role(
        name,
        &[(
            "SM_ComputeExecutionRole",
            compute_execution(
                &["ml-team-data"],
                &[&format!(
                    "arn:aws:ecr:{REGION}:{ACCOUNT}:repository/training"
                )],
            ),
        )],
    )
    .await
}

const ANY_SAGEMAKER: &str = "arn:aws:sagemaker:*:*:*/*";

fn pass_role(roles: &[String]) -> Value {
    json!({"Effect": "Allow", "Action": "iam:PassRole", "Resource": roles,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}})
}

/// SM_StudioAppPermissions (v1, with the Sids and tag-on-create statement of E3).
pub fn studio_apps(pass: &[String]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "SMStudioUserProfileAppPermissionsCreateAndDelete", "Effect": "Allow",
         "Action": ["sagemaker:CreateApp", "sagemaker:CreateAppImageConfig", "sagemaker:UpdateAppImageConfig",
            "sagemaker:DeleteApp", "sagemaker:DeleteAppImageConfig", "sagemaker:DescribeApp",
            "sagemaker:DescribeAppImageConfig", "sagemaker:DescribeDomain", "sagemaker:DescribeUserProfile"],
         "Resource": ANY_SAGEMAKER},
        {"Sid": "SMStudioList", "Effect": "Allow",
         "Action": ["sagemaker:ListApps", "sagemaker:ListAppImageConfigs", "sagemaker:ListDomains", "sagemaker:ListUserProfiles"],
         "Resource": "*"},
        {"Sid": "SMStudioAppPermissionsTagOnCreate", "Effect": "Allow", "Action": "sagemaker:AddTags",
         "Resource": ANY_SAGEMAKER, "Condition": {"Null": {"sagemaker:TaggingAction": "false"}}},
        {"Sid": "SMStudioPassRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": pass,
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}
    ]})
}

/// SM_CommonJobManagement (base: no StopTransformJob, as the console made it).
pub fn job_management(pass: &[String]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob", "sagemaker:CreateTransformJob",
            "sagemaker:CreateProcessingJob", "sagemaker:CreateAutoMLJob", "sagemaker:CreateHyperParameterTuningJob",
            "sagemaker:StopTrainingJob", "sagemaker:StopProcessingJob", "sagemaker:StopAutoMLJob",
            "sagemaker:StopHyperParameterTuningJob", "sagemaker:DescribeTrainingJob", "sagemaker:DescribeTransformJob",
            "sagemaker:DescribeProcessingJob", "sagemaker:DescribeAutoMLJob", "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:UpdateTrainingJob", "sagemaker:BatchGetMetrics"],
         "Resource": ANY_SAGEMAKER},
        {"Effect": "Allow", "Action": ["sagemaker:Search", "sagemaker:ListTrainingJobs", "sagemaker:ListTransformJobs",
            "sagemaker:ListProcessingJobs", "sagemaker:ListAutoMLJobs", "sagemaker:ListCandidatesForAutoMLJob",
            "sagemaker:ListHyperParameterTuningJobs", "sagemaker:ListTrainingJobsForHyperParameterTuningJob"],
         "Resource": "*"},
        pass_role(pass)
    ]})
}

/// SM_ModelManagement.
pub fn model_management(pass: &[String]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateModel", "sagemaker:CreateModelPackage",
            "sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModel", "sagemaker:DescribeModelPackage",
            "sagemaker:DescribeModelPackageGroup", "sagemaker:BatchDescribeModelPackage", "sagemaker:UpdateModelPackage",
            "sagemaker:DeleteModel", "sagemaker:DeleteModelPackage", "sagemaker:DeleteModelPackageGroup"],
         "Resource": ANY_SAGEMAKER},
        {"Effect": "Allow", "Action": ["sagemaker:ListModels", "sagemaker:ListModelPackages", "sagemaker:ListModelPackageGroups"],
         "Resource": "*"},
        pass_role(pass)
    ]})
}

/// SM_ExperimentsManagement.
pub fn experiments_management() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:AddAssociation", "sagemaker:CreateAction", "sagemaker:CreateArtifact",
            "sagemaker:CreateContext", "sagemaker:CreateExperiment", "sagemaker:CreateTrial", "sagemaker:CreateTrialComponent",
            "sagemaker:UpdateAction", "sagemaker:UpdateArtifact", "sagemaker:UpdateContext", "sagemaker:UpdateExperiment",
            "sagemaker:UpdateTrial", "sagemaker:UpdateTrialComponent", "sagemaker:AssociateTrialComponent",
            "sagemaker:DisassociateTrialComponent", "sagemaker:DeleteAssociation", "sagemaker:DeleteAction",
            "sagemaker:DeleteArtifact", "sagemaker:DeleteContext", "sagemaker:DeleteExperiment", "sagemaker:DeleteTrial",
            "sagemaker:DeleteTrialComponent"],
         "Resource": ANY_SAGEMAKER}
    ]})
}

/// SM_ExperimentsVisualization.
pub fn experiments_visualization() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:DescribeAction", "sagemaker:DescribeArtifact", "sagemaker:DescribeContext",
            "sagemaker:DescribeExperiment", "sagemaker:DescribeTrial", "sagemaker:DescribeTrialComponent",
            "sagemaker:DescribeLineageGroup"],
         "Resource": ANY_SAGEMAKER},
        {"Effect": "Allow", "Action": ["sagemaker:ListAssociations", "sagemaker:ListActions", "sagemaker:ListArtifacts",
            "sagemaker:ListContexts", "sagemaker:ListExperiments", "sagemaker:ListTrials", "sagemaker:ListTrialComponents",
            "sagemaker:ListLineageGroups", "sagemaker:GetLineageGroupPolicy", "sagemaker:QueryLineage", "sagemaker:Search",
            "sagemaker:GetSearchSuggestions"],
         "Resource": "*"}
    ]})
}

/// SageMakerS3BucketPolicyTemplate.
pub fn s3_buckets(buckets: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Action": ["s3:ListBucket"], "Effect": "Allow",
         "Resource": buckets.iter().map(|b| format!("arn:aws:s3:::{b}")).collect::<Vec<_>>()},
        {"Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Effect": "Allow",
         "Resource": buckets.iter().map(|b| format!("arn:aws:s3:::{b}/*")).collect::<Vec<_>>()}
    ]})
}

/// SM_EndpointDeployment.
pub fn endpoint_deployment() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig",
            "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteEndpoint", "sagemaker:UpdateEndpoint",
            "sagemaker:UpdateEndpointWeightsAndCapacities", "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"],
         "Resource": ANY_SAGEMAKER},
        {"Effect": "Allow", "Action": ["sagemaker:ListEndpoints", "sagemaker:ListEndpointConfigs"], "Resource": "*"}
    ]})
}

/// SM_PipelineManagement.
pub fn pipeline_management(pass: &[String]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreatePipeline", "sagemaker:DeletePipeline", "sagemaker:DescribePipeline",
            "sagemaker:DescribePipelineDefinitionForExecution", "sagemaker:DescribePipelineExecution",
            "sagemaker:ListPipelineExecutionSteps", "sagemaker:ListPipelineExecutions",
            "sagemaker:ListPipelineParametersForExecution", "sagemaker:RetryPipelineExecution",
            "sagemaker:SendPipelineExecutionStepFailure", "sagemaker:SendPipelineExecutionStepSuccess",
            "sagemaker:StartPipelineExecution", "sagemaker:StopPipelineExecution", "sagemaker:UpdatePipelineExecution"],
         "Resource": ANY_SAGEMAKER},
        {"Effect": "Allow", "Action": ["sagemaker:ListPipelines"], "Resource": "*"},
        pass_role(pass)
    ]})
}

/// SM_ComputeExecutionRole.
pub fn compute_execution(buckets: &[&str], repositories: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": buckets.iter().map(|b| format!("arn:aws:s3:::{b}")).collect::<Vec<_>>()},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": buckets.iter().map(|b| format!("arn:aws:s3:::{b}/*")).collect::<Vec<_>>()},
        {"Effect": "Allow", "Action": ["sagemaker:BatchPutMetrics", "ecr:GetAuthorizationToken", "ecr:ListImages"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
         "Resource": repositories},
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": ["*SageMaker*", "*Sagemaker*", "*sagemaker*"]}}},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:DescribeLogStreams"],
         "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"}
    ]})
}

/// SM_MLflowServerAccess (E1).
pub fn mlflow_server_access() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:DescribeMlflowTrackingServer", "sagemaker:ListTags"],
         "Resource": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/*")},
        {"Effect": "Allow", "Action": ["sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker:ListMlflowTrackingServers"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": "sagemaker-mlflow:*",
         "Resource": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/*")}
    ]})
}

/// SM_MLflowManagement (E1): no role to pass.
pub fn mlflow_management() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:DeleteMlflowTrackingServer", "sagemaker:DescribeMlflowTrackingServer",
            "sagemaker:StartMlflowTrackingServer", "sagemaker:StopMlflowTrackingServer", "sagemaker:UpdateMlflowTrackingServer"],
         "Resource": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/*")},
        {"Effect": "Allow", "Action": "sagemaker:AddTags",
         "Resource": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/*"),
         "Condition": {"Null": {"sagemaker:TaggingAction": "false"}}},
        {"Effect": "Allow", "Action": ["sagemaker:CreateMlflowTrackingServer",
            "sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker:ListMlflowTrackingServers"],
         "Resource": "*"}
    ]})
}

/// SM_MLflowTrackingExecutionRole (E1).
pub fn mlflow_tracking_execution() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
            "s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetBucketCors", "s3:PutBucketCors"],
         "Resource": ["arn:aws:s3:::sagemaker-*", "arn:aws:s3:::sagemaker-*/*"],
         "Condition": {"StringEquals": {"aws:ResourceAccount": ACCOUNT}}},
        {"Effect": "Allow", "Action": ["sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage",
            "sagemaker:UpdateModelPackage", "sagemaker:UpdateModelPackageGroup"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": "sagemaker:AddTags",
         "Resource": [format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/*"),
                      format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/*")],
         "Condition": {"Null": {"sagemaker:TaggingAction": "false"}}},
        {"Effect": "Allow", "Action": "sagemaker:ListTags",
         "Resource": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/*")}
    ]})
}
