//! Manage Pipelines: SageMaker Pipelines and their executions.

use super::{Activity, Condition, Param, Resource, Statement, Status, When, required, sagemaker};

pub static MANAGE_PIPELINES: Activity = Activity {
    id: "manage-pipelines",
    name: "Manage Pipelines",
    aliases: &[],
    sid: "ManagePipelines",
    summary: "Create, update and run SageMaker Pipelines and operate their executions.",
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
    source: "Role Manager template SM_PipelineManagement; resource types from the Service Authorization Reference for SageMaker",
};
