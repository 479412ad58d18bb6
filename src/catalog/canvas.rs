//! SageMaker Canvas activities. Four attach the AWS managed policies the Canvas documentation maps
//! them to (they exceed a customer managed policy's 6,144 characters or change with Canvas);
//! Kendra Access is a customer policy on the given indexes.

use super::{Activity, Param, Resource, Statement, Status, When, regional_each, required};

pub static CANVAS_CORE_ACCESS: Activity = Activity {
    id: "canvas-core-access",
    name: "SageMaker Canvas Core Access",
    aliases: &["Canvas Core Access"],
    sid: "CanvasCoreAccess",
    summary: "Experiment in Canvas: basic data preparation, model building and validation.",
    status: Status::Current,
    params: &[],
    vpc: false,
    kms: false,
    statements: &[],
    aws_managed_policies: &["AmazonSageMakerCanvasFullAccess"],
    source: "AWS managed policy AmazonSageMakerCanvasFullAccess (arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess), named by the Canvas \"Getting started\" prerequisites page",
};

pub static CANVAS_DATA_PREP: Activity = Activity {
    id: "canvas-data-prep",
    name: "SageMaker Canvas Data Preparation",
    aliases: &[
        "SageMaker Canvas Data Preparation (powered by Data Wrangler)",
        "Canvas Data Preparation",
    ],
    sid: "CanvasDataPrep",
    summary: "End-to-end data preparation in Canvas: aggregate, transform and analyze data; create and schedule data preparation jobs.",
    status: Status::Current,
    params: &[],
    vpc: false,
    kms: false,
    statements: &[],
    aws_managed_policies: &["AmazonSageMakerCanvasDataPrepFullAccess"],
    source: "AWS managed policy AmazonSageMakerCanvasDataPrepFullAccess (arn:aws:iam::aws:policy/AmazonSageMakerCanvasDataPrepFullAccess), named by the Canvas \"Getting started\" prerequisites page",
};

pub static CANVAS_AI_SERVICES: Activity = Activity {
    id: "canvas-ai-services",
    name: "SageMaker Canvas AI Services",
    aliases: &["Canvas AI Services"],
    sid: "CanvasAiServices",
    summary: "Ready-to-use models, foundation models and Chat with Data in Canvas.",
    status: Status::Current,
    params: &[],
    vpc: false,
    kms: false,
    statements: &[],
    aws_managed_policies: &["AmazonSageMakerCanvasAIServicesAccess"],
    source: "AWS managed policy AmazonSageMakerCanvasAIServicesAccess (arn:aws:iam::aws:policy/AmazonSageMakerCanvasAIServicesAccess), named by the Canvas \"Getting started\" prerequisites page",
};

pub static CANVAS_MLOPS: Activity = Activity {
    id: "canvas-mlops",
    name: "SageMaker Canvas MLOps",
    aliases: &["Canvas MLOps"],
    sid: "CanvasMlops",
    summary: "Deploy Canvas models directly to endpoints and read their invocation metrics.",
    status: Status::Current,
    params: &[],
    vpc: false,
    kms: false,
    statements: &[],
    aws_managed_policies: &["service-role/AmazonSageMakerCanvasDirectDeployAccess"],
    source: "AWS managed policy AmazonSageMakerCanvasDirectDeployAccess (arn:aws:iam::aws:policy/service-role/AmazonSageMakerCanvasDirectDeployAccess, AWS Managed Policy Reference), named by the Canvas \"Getting started\" prerequisites page and the DirectDeploySettings API reference",
};

pub static CANVAS_KENDRA_ACCESS: Activity = Activity {
    id: "canvas-kendra-access",
    name: "SageMaker Canvas Kendra Access",
    aliases: &["Canvas Kendra Access"],
    sid: "CanvasKendraAccess",
    summary: "Query documents in the given Kendra indexes with foundation models in Canvas.",
    status: Status::Current,
    params: &[required(Param::KendraIndexes)],
    vpc: false,
    kms: false,
    statements: &[
        Statement {
            sid: "QueryIndexes",
            when: When::Always,
            actions: &["kendra:DescribeIndex", "kendra:Query", "kendra:Retrieve"],
            resources: &[regional_each("kendra", "index/{}", Param::KendraIndexes)],
            conditions: &[],
        },
        Statement {
            sid: "ListIndexes",
            when: When::Always,
            actions: &["kendra:ListIndices"],
            resources: &[Resource::Any],
            conditions: &[],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager's generated policy is not public; the Canvas \"Getting started\" page asks for the Kendra index ids. Actions and resource types from the Service Authorization Reference for Kendra",
};
