//! Manage ML Jobs: training, processing, transform, AutoML and tuning jobs across their lifecycle.

use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, optional, regional, required,
    sagemaker, tag_on_create,
};

/// The logs of SageMaker jobs (`/aws/sagemaker/TrainingJobs`, `ProcessingJobs`,
/// `TransformJobs`, …): `Estimator.fit()`, `Processor.run()` and `Transformer.wait()` stream
/// them by default, and a notebook cell fails on AccessDenied after the job started.
pub const READ_JOB_LOGS: Statement = Statement {
    sid: "ReadJobLogs",
    when: When::Always,
    actions: &["logs:DescribeLogStreams", "logs:GetLogEvents"],
    resources: &[
        regional("logs", "log-group:/aws/sagemaker/*Jobs"),
        // The group as its ARN is often written (`…:*`), and its streams.
        regional("logs", "log-group:/aws/sagemaker/*Jobs:*"),
    ],
    conditions: &[],
};

const JOBS: &[Resource] = &[
    sagemaker("training-job/*"),
    sagemaker("processing-job/*"),
    sagemaker("transform-job/*"),
    sagemaker("automl-job/*"),
    sagemaker("hyper-parameter-tuning-job/*"),
];

pub static MANAGE_ML_JOBS: Activity = Activity {
    id: "manage-ml-jobs",
    name: "Manage ML Jobs",
    aliases: &["Manage Training Jobs"],
    sid: "ManageMlJobs",
    summary: "Create, stop and inspect training, processing, transform, AutoML and tuning jobs.",
    status: Status::Current,
    params: &[
        required(Param::PassRoles),
        optional(Param::VpcSubnets),
        optional(Param::VpcSecurityGroups),
        optional(Param::DataKmsKeys),
        optional(Param::VolumeKmsKeys),
    ],
    vpc: true,
    kms: true,
    statements: &[
        Statement {
            sid: "CreateJobs",
            when: When::Always,
            actions: &[
                "sagemaker:CreateAutoMLJob",
                "sagemaker:CreateAutoMLJobV2",
                "sagemaker:CreateHyperParameterTuningJob",
                "sagemaker:CreateProcessingJob",
                "sagemaker:CreateTrainingJob",
            ],
            resources: &[
                sagemaker("training-job/*"),
                sagemaker("processing-job/*"),
                sagemaker("automl-job/*"),
                sagemaker("hyper-parameter-tuning-job/*"),
            ],
            conditions: &[
                Condition::VpcSubnets,
                Condition::VpcSecurityGroups,
                Condition::VolumeKmsKeyArn,
                Condition::OutputKmsKeyArn,
            ],
        },
        // AutoML chooses its instances itself and takes no instance type condition.
        Statement {
            sid: "CreateJobsLocalStorage",
            when: When::Kms,
            actions: &[
                "sagemaker:CreateHyperParameterTuningJob",
                "sagemaker:CreateProcessingJob",
                "sagemaker:CreateTrainingJob",
            ],
            resources: &[
                sagemaker("training-job/*"),
                sagemaker("processing-job/*"),
                sagemaker("hyper-parameter-tuning-job/*"),
            ],
            conditions: &[
                Condition::VpcSubnets,
                Condition::VpcSecurityGroups,
                Condition::LocalStorageInstances,
                Condition::OutputKmsKeyArn,
            ],
        },
        // Transform jobs run in the model's network, so they take no VPC condition keys.
        Statement {
            sid: "CreateTransformJobs",
            when: When::Always,
            actions: &["sagemaker:CreateTransformJob"],
            resources: &[sagemaker("transform-job/*")],
            conditions: &[Condition::VolumeKmsKeyArn, Condition::OutputKmsKeyArn],
        },
        Statement {
            sid: "CreateTransformJobsLocalStorage",
            when: When::Kms,
            actions: &["sagemaker:CreateTransformJob"],
            resources: &[sagemaker("transform-job/*")],
            conditions: &[Condition::LocalStorageInstances, Condition::OutputKmsKeyArn],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: JOBS,
            conditions: &[tag_on_create(&[
                "CreateAutoMLJob",
                "CreateAutoMLJobV2",
                "CreateHyperParameterTuningJob",
                "CreateProcessingJob",
                "CreateTrainingJob",
                "CreateTransformJob",
            ])],
        },
        Statement {
            sid: "OperateJobs",
            when: When::Always,
            actions: &[
                "sagemaker:DescribeAutoMLJob",
                "sagemaker:DescribeAutoMLJobV2",
                "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:DescribeTransformJob",
                "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                "sagemaker:StopAutoMLJob",
                "sagemaker:StopHyperParameterTuningJob",
                "sagemaker:StopProcessingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:StopTransformJob",
                "sagemaker:UpdateTrainingJob",
            ],
            resources: JOBS,
            conditions: &[],
        },
        // ListCandidatesForAutoMLJob takes no resource in the Service Authorization Reference.
        Statement {
            sid: "ListJobs",
            when: When::Always,
            actions: &[
                "sagemaker:ListAutoMLJobs",
                "sagemaker:ListCandidatesForAutoMLJob",
                "sagemaker:ListHyperParameterTuningJobs",
                "sagemaker:ListProcessingJobs",
                "sagemaker:ListTrainingJobs",
                "sagemaker:ListTransformJobs",
                "sagemaker:Search",
            ],
            resources: &[Resource::Any],
            conditions: &[],
        },
        Statement {
            sid: "Metrics",
            when: When::Always,
            actions: &["sagemaker:BatchGetMetrics"],
            // Metrics are read by training job or by the trial component that records it.
            resources: &[
                sagemaker("training-job/*"),
                sagemaker("experiment-trial-component/*"),
            ],
            conditions: &[],
        },
        Statement {
            sid: "PassRole",
            when: When::Always,
            actions: &["iam:PassRole"],
            resources: &[Resource::Given(Param::PassRoles)],
            conditions: &[Condition::PassedToService("sagemaker.amazonaws.com")],
        },
        READ_JOB_LOGS,
        Statement {
            sid: "VolumeKeyGrants",
            when: When::Kms,
            actions: &["kms:CreateGrant"],
            resources: &[Resource::Given(Param::VolumeKmsKeys)],
            conditions: &[
                Condition::Static {
                    operator: "Bool",
                    key: "kms:GrantIsForAWSResource",
                    values: &["true"],
                },
                Condition::ViaService("sagemaker"),
            ],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_CommonJobManagement (+_VPC, _KMS, _VPC_KMS), with the current sagemaker:VolumeKmsKeyArn and OutputKmsKeyArn keys, instance types with local storage, tag-on-create and the job logs the SageMaker Python SDK streams; resource types and condition keys from the Service Authorization Reference for SageMaker and CloudWatch Logs",
};
