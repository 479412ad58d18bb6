//! Manage Pipelines: SageMaker Pipelines and their executions.

use super::jobs::READ_JOB_LOGS;
use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, required, sagemaker,
    tag_on_create,
};

pub static MANAGE_PIPELINES: Activity = Activity {
    id: "manage-pipelines",
    name: "Manage Pipelines",
    aliases: &[],
    sid: "ManagePipelines",
    summary: "Create, update and run SageMaker Pipelines, passing the given pipeline execution roles, and follow their executions' steps and logs.",
    status: Status::Current,
    params: &[required(Param::PassRoles)],
    vpc: false,
    kms: false,
    statements: &[
        // UpdatePipeline is not in Role Manager's template; the SDK's pipeline.upsert() needs it.
        Statement {
            sid: "Pipelines",
            when: When::Always,
            actions: &[
                "sagemaker:CreatePipeline",
                "sagemaker:DeletePipeline",
                "sagemaker:DescribePipeline",
                "sagemaker:ListPipelineExecutions",
                "sagemaker:StartPipelineExecution",
                "sagemaker:UpdatePipeline",
            ],
            resources: &[sagemaker("pipeline/*")],
            conditions: &[],
        },
        Statement {
            sid: "Executions",
            when: When::Always,
            actions: &[
                "sagemaker:DescribePipelineDefinitionForExecution",
                "sagemaker:DescribePipelineExecution",
                "sagemaker:ListPipelineExecutionSteps",
                "sagemaker:ListPipelineParametersForExecution",
                "sagemaker:RetryPipelineExecution",
                "sagemaker:SendPipelineExecutionStepFailure",
                "sagemaker:SendPipelineExecutionStepSuccess",
                "sagemaker:StopPipelineExecution",
                "sagemaker:UpdatePipelineExecution",
            ],
            resources: &[sagemaker("pipeline/*/execution/*")],
            conditions: &[],
        },
        // A step's details in Studio and `execution.list_steps()` name the job the step ran.
        Statement {
            sid: "StepJobs",
            when: When::Always,
            actions: &[
                "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:DescribeTransformJob",
            ],
            resources: &[
                sagemaker("hyper-parameter-tuning-job/*"),
                sagemaker("processing-job/*"),
                sagemaker("training-job/*"),
                sagemaker("transform-job/*"),
            ],
            conditions: &[],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: &[sagemaker("pipeline/*")],
            conditions: &[tag_on_create(&["CreatePipeline"])],
        },
        READ_JOB_LOGS,
        Statement {
            sid: "List",
            when: When::Always,
            actions: &["sagemaker:ListPipelines"],
            resources: &[Resource::Any],
            conditions: &[],
        },
        Statement {
            sid: "PassRole",
            when: When::Always,
            actions: &["iam:PassRole"],
            resources: &[Resource::Given(Param::PassRoles)],
            conditions: &[Condition::PassedToService("sagemaker.amazonaws.com")],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_PipelineManagement, with UpdatePipeline, tag-on-create, and the step jobs and logs that Studio and the SageMaker Python SDK show; resource types and condition keys from the Service Authorization Reference for SageMaker and CloudWatch Logs",
};
