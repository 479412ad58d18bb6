//! Manage Experiments and Search and Visualize Experiments: experiments, trials, trial components
//! and lineage entities.

use super::{Activity, Resource, Statement, Status, When, sagemaker, tag_on_create};

const EXPERIMENT_ENTITIES: &[Resource] = &[
    sagemaker("action/*"),
    sagemaker("artifact/*"),
    sagemaker("context/*"),
    sagemaker("experiment/*"),
    sagemaker("experiment-trial/*"),
    sagemaker("experiment-trial-component/*"),
];

pub static MANAGE_EXPERIMENTS: Activity = Activity {
    id: "manage-experiments",
    name: "Manage Experiments",
    aliases: &[],
    sid: "ManageExperiments",
    summary: "Create, update and delete experiments, trials, trial components and lineage entities, and log run metrics.",
    status: Status::Legacy,
    params: &[],
    vpc: false,
    kms: false,
    statements: &[
        Statement {
            sid: "Experiments",
            when: When::Always,
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
                "sagemaker:UpdateAction",
                "sagemaker:UpdateArtifact",
                "sagemaker:UpdateContext",
                "sagemaker:UpdateExperiment",
                "sagemaker:UpdateTrial",
                "sagemaker:UpdateTrialComponent",
            ],
            resources: EXPERIMENT_ENTITIES,
            conditions: &[],
        },
        // A trial component made by a processing job is named by the job too, so disassociating it
        // also needs the processing job.
        Statement {
            sid: "DisassociateTrialComponents",
            when: When::Always,
            actions: &["sagemaker:DisassociateTrialComponent"],
            resources: &[
                sagemaker("experiment-trial/*"),
                sagemaker("experiment-trial-component/*"),
                sagemaker("processing-job/*"),
            ],
            conditions: &[],
        },
        // `Run.log_metric()` writes metrics to the run's trial component.
        Statement {
            sid: "PutMetrics",
            when: When::Always,
            actions: &["sagemaker:BatchPutMetrics"],
            resources: &[sagemaker("experiment-trial-component/*")],
            conditions: &[],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: EXPERIMENT_ENTITIES,
            conditions: &[tag_on_create(&[
                "CreateAction",
                "CreateArtifact",
                "CreateContext",
                "CreateExperiment",
                "CreateTrial",
                "CreateTrialComponent",
            ])],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_ExperimentsManagement, with the metrics of SageMaker Experiments runs and tag-on-create; resource types and condition keys from the Service Authorization Reference for SageMaker",
};

pub static SEARCH_VISUALIZE_EXPERIMENTS: Activity = Activity {
    id: "search-visualize-experiments",
    name: "Search and Visualize Experiments",
    aliases: &[],
    sid: "SearchVisualizeExperiments",
    summary: "Audit, search, query lineage and visualize experiments (read only).",
    status: Status::Current,
    params: &[],
    vpc: false,
    kms: false,
    statements: &[
        Statement {
            sid: "Describe",
            when: When::Always,
            actions: &[
                "sagemaker:DescribeAction",
                "sagemaker:DescribeArtifact",
                "sagemaker:DescribeContext",
                "sagemaker:DescribeExperiment",
                "sagemaker:DescribeTrial",
                "sagemaker:DescribeTrialComponent",
            ],
            resources: EXPERIMENT_ENTITIES,
            conditions: &[],
        },
        // Lineage groups take no resource in the Service Authorization Reference.
        Statement {
            sid: "SearchAndList",
            when: When::Always,
            actions: &[
                "sagemaker:DescribeLineageGroup",
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
            resources: &[Resource::Any],
            conditions: &[],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_ExperimentsVisualization; resource types from the Service Authorization Reference for SageMaker",
};
