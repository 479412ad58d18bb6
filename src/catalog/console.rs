//! The customer-managed policies the Role Manager console attached, one per activity: how their
//! names begin and which actions they grant. Names are `<template>[_VPC][_KMS]_<epoch-ms>` (the
//! console) or `<template>[_VPC][_KMS]_V<version>_<epoch-ms>` (the CDK construct), under
//! `/service-role/`.
//!
//! Actions are what Role Manager's templates grant in any variant (cdklabs
//! cdk-aws-sagemaker-role-manager), plus what the console's later revisions added as seen in real
//! accounts (role-manager-research, E1 and E3). A statement granting anything else was edited by
//! hand: discover lists it rather than guess.

use crate::arn::Arn;

/// One of the console's per-activity policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsolePolicy {
    /// The start of the policy's name.
    pub template: &'static str,
    /// Id of the catalog activity it grants.
    pub activity: &'static str,
    pub actions: &'static [&'static str],
}

/// A console policy name, understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleName {
    pub policy: &'static ConsolePolicy,
    /// The `_VPC` variant: job-creating statements carry subnet and security group conditions.
    pub vpc: bool,
    /// The `_KMS` variant.
    pub kms: bool,
}

/// The console policy a name belongs to, if any.
pub fn find(policy_name: &str) -> Option<ConsoleName> {
    let mut parts: Vec<&str> = policy_name.split('_').collect();
    // Creation time in epoch milliseconds, then the CDK's template version.
    if parts
        .last()
        .is_some_and(|p| p.len() >= 10 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        parts.pop();
    }
    if parts.last().is_some_and(|p| {
        p.strip_prefix('V')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }) {
        parts.pop();
    }
    let kms = parts.last() == Some(&"KMS");
    if kms {
        parts.pop();
    }
    let vpc = parts.last() == Some(&"VPC");
    if vpc {
        parts.pop();
    }
    let template = parts.join("_");
    POLICIES
        .iter()
        .find(|p| p.template == template)
        .map(|policy| ConsoleName { policy, vpc, kms })
}

/// The path the console created its policies under.
pub const POLICY_PATH: &str = "/service-role/";

/// The console policy a managed policy ARN names: a customer-managed policy under
/// [`POLICY_PATH`] whose name is a console policy's.
pub fn find_arn(arn: &str) -> Option<ConsoleName> {
    let arn = Arn::parse(arn)?;
    if arn.service != "iam" || !arn.region.is_empty() || !arn.has_account_id() {
        return None;
    }
    let name = arn
        .resource
        .strip_prefix("policy")?
        .strip_prefix(POLICY_PATH)?;
    if name.contains('/') {
        return None;
    }
    find(name)
}

/// Every console policy this project knows; Kendra Access and EMR Serverless have no public
/// console policy, and Canvas activities attach AWS managed policies.
pub static POLICIES: &[ConsolePolicy] = &[
    ConsolePolicy {
        template: "SM_ComputeExecutionRole",
        activity: "access-required-aws-services",
        actions: &[
            "cloudwatch:PutMetricData",
            "ec2:CreateNetworkInterface",
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface",
            "ec2:DeleteNetworkInterfacePermission",
            "ec2:DescribeDhcpOptions",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetAuthorizationToken",
            "ecr:GetDownloadUrlForLayer",
            "ecr:ListImages",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
            "sagemaker:BatchPutMetrics",
        ],
    },
    ConsolePolicy {
        template: "SM_StudioAppPermissions",
        activity: "run-studio-apps",
        actions: &[
            "iam:PassRole",
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:GenerateDataKey",
            "sagemaker:AddTags",
            "sagemaker:CreateApp",
            "sagemaker:CreateAppImageConfig",
            "sagemaker:CreatePresignedDomainUrl",
            "sagemaker:CreateSpace",
            "sagemaker:DeleteApp",
            "sagemaker:DeleteAppImageConfig",
            "sagemaker:DeleteSpace",
            "sagemaker:DescribeApp",
            "sagemaker:DescribeAppImageConfig",
            "sagemaker:DescribeDomain",
            "sagemaker:DescribeSpace",
            "sagemaker:DescribeUserProfile",
            "sagemaker:ListAppImageConfigs",
            "sagemaker:ListApps",
            "sagemaker:ListDomains",
            "sagemaker:ListSpaces",
            "sagemaker:ListTags",
            "sagemaker:ListUserProfiles",
            "sagemaker:UpdateAppImageConfig",
            "sagemaker:UpdateSpace",
        ],
    },
    ConsolePolicy {
        template: "SM_CommonJobManagement",
        activity: "manage-ml-jobs",
        actions: &[
            "iam:PassRole",
            "kms:CreateGrant",
            "sagemaker:BatchGetMetrics",
            "sagemaker:CreateAutoMLJob",
            "sagemaker:CreateHyperParameterTuningJob",
            "sagemaker:CreateProcessingJob",
            "sagemaker:CreateTrainingJob",
            "sagemaker:CreateTransformJob",
            "sagemaker:DescribeAutoMLJob",
            "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:DescribeProcessingJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:DescribeTransformJob",
            "sagemaker:ListAutoMLJobs",
            "sagemaker:ListCandidatesForAutoMLJob",
            "sagemaker:ListHyperParameterTuningJobs",
            "sagemaker:ListProcessingJobs",
            "sagemaker:ListTrainingJobs",
            "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
            "sagemaker:ListTransformJobs",
            "sagemaker:Search",
            "sagemaker:StopAutoMLJob",
            "sagemaker:StopHyperParameterTuningJob",
            "sagemaker:StopProcessingJob",
            "sagemaker:StopTrainingJob",
            "sagemaker:StopTransformJob",
            "sagemaker:UpdateTrainingJob",
        ],
    },
    ConsolePolicy {
        template: "SM_ModelManagement",
        activity: "manage-models",
        actions: &[
            "iam:PassRole",
            "sagemaker:BatchDescribeModelPackage",
            "sagemaker:CreateModel",
            "sagemaker:CreateModelPackage",
            "sagemaker:CreateModelPackageGroup",
            "sagemaker:DeleteModel",
            "sagemaker:DeleteModelPackage",
            "sagemaker:DeleteModelPackageGroup",
            "sagemaker:DescribeModel",
            "sagemaker:DescribeModelPackage",
            "sagemaker:DescribeModelPackageGroup",
            "sagemaker:ListModelPackageGroups",
            "sagemaker:ListModelPackages",
            "sagemaker:ListModels",
            "sagemaker:UpdateModelPackage",
        ],
    },
    ConsolePolicy {
        template: "SM_EndpointDeployment",
        activity: "manage-endpoints",
        actions: &[
            "kms:CreateGrant",
            "sagemaker:CreateEndpoint",
            "sagemaker:CreateEndpointConfig",
            "sagemaker:DeleteEndpoint",
            "sagemaker:DeleteEndpointConfig",
            "sagemaker:DescribeEndpoint",
            "sagemaker:DescribeEndpointConfig",
            "sagemaker:ListEndpointConfigs",
            "sagemaker:ListEndpoints",
            "sagemaker:UpdateEndpoint",
            "sagemaker:UpdateEndpointWeightsAndCapacities",
        ],
    },
    ConsolePolicy {
        template: "SM_PipelineManagement",
        activity: "manage-pipelines",
        actions: &[
            "iam:PassRole",
            "sagemaker:CreatePipeline",
            "sagemaker:DeletePipeline",
            "sagemaker:DescribePipeline",
            "sagemaker:DescribePipelineDefinitionForExecution",
            "sagemaker:DescribePipelineExecution",
            "sagemaker:ListPipelineExecutionSteps",
            "sagemaker:ListPipelineExecutions",
            "sagemaker:ListPipelineParametersForExecution",
            "sagemaker:ListPipelines",
            "sagemaker:RetryPipelineExecution",
            "sagemaker:SendPipelineExecutionStepFailure",
            "sagemaker:SendPipelineExecutionStepSuccess",
            "sagemaker:StartPipelineExecution",
            "sagemaker:StopPipelineExecution",
            "sagemaker:UpdatePipelineExecution",
        ],
    },
    ConsolePolicy {
        template: "SM_ExperimentsManagement",
        activity: "manage-experiments",
        actions: &[
            "sagemaker:AddAssociation",
            "sagemaker:AssociateTrialComponent",
            "sagemaker:CreateAction",
            "sagemaker:CreateArtifact",
            "sagemaker:CreateContext",
            "sagemaker:CreateExperiment",
            "sagemaker:CreateTrial",
            "sagemaker:CreateTrialComponent",
            "sagemaker:DeleteAction",
            "sagemaker:DeleteArtifact",
            "sagemaker:DeleteAssociation",
            "sagemaker:DeleteContext",
            "sagemaker:DeleteExperiment",
            "sagemaker:DeleteTrial",
            "sagemaker:DeleteTrialComponent",
            "sagemaker:DisassociateTrialComponent",
            "sagemaker:UpdateAction",
            "sagemaker:UpdateArtifact",
            "sagemaker:UpdateContext",
            "sagemaker:UpdateExperiment",
            "sagemaker:UpdateTrial",
            "sagemaker:UpdateTrialComponent",
        ],
    },
    ConsolePolicy {
        template: "SM_ExperimentsVisualization",
        activity: "search-visualize-experiments",
        actions: &[
            "sagemaker:DescribeAction",
            "sagemaker:DescribeArtifact",
            "sagemaker:DescribeContext",
            "sagemaker:DescribeExperiment",
            "sagemaker:DescribeLineageGroup",
            "sagemaker:DescribeTrial",
            "sagemaker:DescribeTrialComponent",
            "sagemaker:GetLineageGroupPolicy",
            "sagemaker:GetSearchSuggestions",
            "sagemaker:ListActions",
            "sagemaker:ListArtifacts",
            "sagemaker:ListAssociations",
            "sagemaker:ListContexts",
            "sagemaker:ListExperiments",
            "sagemaker:ListLineageGroups",
            "sagemaker:ListTrialComponents",
            "sagemaker:ListTrials",
            "sagemaker:QueryLineage",
            "sagemaker:Search",
        ],
    },
    ConsolePolicy {
        template: "SM_ModelMonitoring",
        activity: "manage-model-monitoring",
        actions: &[
            "iam:PassRole",
            "kms:CreateGrant",
            "sagemaker:CreateMonitoringSchedule",
            "sagemaker:CreateProcessingJob",
            "sagemaker:DeleteMonitoringSchedule",
            "sagemaker:DescribeMonitoringSchedule",
            "sagemaker:DescribeProcessingJob",
            "sagemaker:ListMonitoringSchedules",
            "sagemaker:ListProcessingJobs",
            "sagemaker:StartMonitoringSchedule",
            "sagemaker:StopMonitoringSchedule",
            "sagemaker:StopProcessingJob",
            "sagemaker:UpdateMonitoringSchedule",
        ],
    },
    ConsolePolicy {
        template: "SageMakerS3AllResourcesPolicyTemplate",
        activity: "s3-full-access",
        actions: &[
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
        ],
    },
    ConsolePolicy {
        template: "SageMakerS3BucketPolicyTemplate",
        activity: "s3-bucket-access",
        actions: &[
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
        ],
    },
    ConsolePolicy {
        template: "SM_AthenaQueryAccess",
        activity: "query-athena-workgroups",
        actions: &[
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:ListDataCatalogs",
            "athena:ListDatabases",
            "athena:ListTableMetadata",
            "athena:StartQueryExecution",
            "athena:StopQueryExecution",
        ],
    },
    ConsolePolicy {
        template: "SM_GlueTableManagement",
        activity: "manage-glue-tables",
        actions: &[
            "glue:GetTable",
            "glue:SearchTables",
            "glue:UpdateTable",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "s3:GetBucketAcl",
            "s3:GetObject",
            "s3:PutBucketAcl",
            "s3:PutObject",
        ],
    },
    ConsolePolicy {
        template: "SM_MLflowServerAccess",
        activity: "use-mlflow",
        actions: &[
            "sagemaker-mlflow:*",
            "sagemaker:CreatePresignedMlflowTrackingServerUrl",
            "sagemaker:DescribeMlflowTrackingServer",
            "sagemaker:ListMlflowTrackingServers",
            "sagemaker:ListTags",
        ],
    },
    ConsolePolicy {
        template: "SM_MLflowManagement",
        activity: "manage-mlflow",
        actions: &[
            "iam:PassRole",
            "sagemaker:AddTags",
            "sagemaker:CreateMlflowTrackingServer",
            "sagemaker:CreatePresignedMlflowTrackingServerUrl",
            "sagemaker:DeleteMlflowTrackingServer",
            "sagemaker:DescribeMlflowTrackingServer",
            "sagemaker:ListMlflowTrackingServers",
            "sagemaker:StartMlflowTrackingServer",
            "sagemaker:StopMlflowTrackingServer",
            "sagemaker:UpdateMlflowTrackingServer",
        ],
    },
    ConsolePolicy {
        template: "SM_MLflowTrackingExecutionRole",
        activity: "mlflow-aws-services-access",
        actions: &[
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
            "s3:GetBucketCors",
            "s3:GetBucketLocation",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutBucketCors",
            "s3:PutObject",
            "sagemaker:AddTags",
            "sagemaker:CreateModelPackage",
            "sagemaker:CreateModelPackageGroup",
            "sagemaker:ListTags",
            "sagemaker:UpdateModelPackage",
            "sagemaker:UpdateModelPackageGroup",
        ],
    },
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn console_and_cdk_names_resolve_to_their_template_and_variant() {
        let jobs = find("SM_CommonJobManagement_VPC_KMS_1733462327347").unwrap();
        assert_eq!(jobs.policy.activity, "manage-ml-jobs");
        assert!(jobs.vpc && jobs.kms);
        let s3 = find("SageMakerS3BucketPolicyTemplate_1724875893688").unwrap();
        assert_eq!(s3.policy.activity, "s3-bucket-access");
        assert!(!s3.vpc && !s3.kms);
        let cdk = find("SM_ComputeExecutionRole_KMS_V1_1681344000000").unwrap();
        assert_eq!(cdk.policy.activity, "access-required-aws-services");
        assert!(cdk.kms && !cdk.vpc);
        assert_eq!(
            find("SM_StudioAppPermissions").unwrap().policy.activity,
            "run-studio-apps"
        );
    }

    #[test]
    fn console_policy_arns_are_customer_managed_under_service_role() {
        let arn =
            "arn:aws:iam::123456789012:policy/service-role/SM_CommonJobManagement_1733462327347";
        assert_eq!(find_arn(arn).unwrap().policy.activity, "manage-ml-jobs");
        for other in [
            // Elsewhere than the console's path, AWS managed, or not an IAM policy.
            "arn:aws:iam::123456789012:policy/SM_CommonJobManagement_1733462327347",
            "arn:aws:iam::123456789012:policy/service-role/team/SM_CommonJobManagement_1733462327347",
            "arn:aws:iam::aws:policy/service-role/SM_CommonJobManagement_1733462327347",
            "arn:aws:iam::123456789012:role/service-role/SM_CommonJobManagement_1733462327347",
            "arn:aws:iam::123456789012:policy/service-role/AmazonSageMakerFullAccess",
        ] {
            assert!(find_arn(other).is_none(), "{other}");
        }
    }

    #[test]
    fn other_names_are_not_console_policies() {
        for name in [
            "SM_Unknown_1733462327347",
            "sagemaker-data-scientist-1",
            "AmazonSageMakerFullAccess",
            "SM_CommonJobManagementExtra_1733462327347",
        ] {
            assert!(find(name).is_none(), "{name}");
        }
    }

    #[test]
    fn every_console_policy_names_a_catalog_activity() {
        for policy in POLICIES {
            assert!(
                crate::catalog::find_activity(policy.activity).is_some(),
                "{}",
                policy.template
            );
        }
    }
}
