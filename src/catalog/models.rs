//! Manage Models, Manage Endpoints and Manage Model Monitoring: models and the model registry,
//! endpoint deployments, and Model Monitor schedules.

use super::jobs::READ_JOB_LOGS;
use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, optional, regional, required,
    sagemaker, tag_on_create,
};

const PASS_ROLE: Statement = Statement {
    sid: "PassRole",
    when: When::Always,
    actions: &["iam:PassRole"],
    resources: &[Resource::Given(Param::PassRoles)],
    conditions: &[Condition::PassedToService("sagemaker.amazonaws.com")],
};

const VOLUME_KEY_GRANTS: Statement = Statement {
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
};

pub static MANAGE_MODELS: Activity = Activity {
    id: "manage-models",
    name: "Manage Models",
    aliases: &[],
    sid: "ManageModels",
    summary: "Create and delete models and manage model packages and groups in the Model Registry.",
    status: Status::Current,
    params: &[
        required(Param::PassRoles),
        optional(Param::VpcSubnets),
        optional(Param::VpcSecurityGroups),
    ],
    vpc: true,
    kms: false,
    statements: &[
        Statement {
            sid: "CreateModels",
            when: When::Always,
            actions: &["sagemaker:CreateModel"],
            resources: &[sagemaker("model/*")],
            conditions: &[Condition::VpcSubnets, Condition::VpcSecurityGroups],
        },
        Statement {
            sid: "OperateModels",
            when: When::Always,
            actions: &["sagemaker:DeleteModel", "sagemaker:DescribeModel"],
            resources: &[sagemaker("model/*")],
            conditions: &[],
        },
        // ListModelPackages takes model packages, not `*`.
        Statement {
            sid: "ModelRegistry",
            when: When::Always,
            actions: &[
                "sagemaker:BatchDescribeModelPackage",
                "sagemaker:CreateModelPackage",
                "sagemaker:CreateModelPackageGroup",
                "sagemaker:DeleteModelPackage",
                "sagemaker:DeleteModelPackageGroup",
                "sagemaker:DescribeModelPackage",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:ListModelPackages",
                "sagemaker:UpdateModelPackage",
            ],
            resources: &[
                sagemaker("model-package/*"),
                sagemaker("model-package-group/*"),
            ],
            conditions: &[],
        },
        Statement {
            sid: "List",
            when: When::Always,
            actions: &["sagemaker:ListModelPackageGroups", "sagemaker:ListModels"],
            resources: &[Resource::Any],
            conditions: &[],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: &[
                sagemaker("model/*"),
                sagemaker("model-package/*"),
                sagemaker("model-package-group/*"),
            ],
            conditions: &[tag_on_create(&[
                "CreateModel",
                "CreateModelPackage",
                "CreateModelPackageGroup",
            ])],
        },
        PASS_ROLE,
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_ModelManagement (+_VPC), with tag-on-create; resource types and condition keys from the Service Authorization Reference for SageMaker",
};

pub static MANAGE_ENDPOINTS: Activity = Activity {
    id: "manage-endpoints",
    name: "Manage Endpoints",
    aliases: &[],
    sid: "ManageEndpoints",
    summary: "Deploy, update, invoke and delete real-time endpoints and their configurations, and read their logs.",
    status: Status::Legacy,
    params: &[optional(Param::VolumeKmsKeys)],
    vpc: false,
    kms: true,
    statements: &[
        Statement {
            sid: "CreateEndpointConfigs",
            when: When::Always,
            actions: &["sagemaker:CreateEndpointConfig"],
            resources: &[sagemaker("endpoint-config/*")],
            conditions: &[Condition::VolumeKmsKeyArn],
        },
        Statement {
            sid: "CreateEndpointConfigsLocalStorage",
            when: When::Kms,
            actions: &["sagemaker:CreateEndpointConfig"],
            resources: &[sagemaker("endpoint-config/*")],
            conditions: &[Condition::LocalStorageInstances],
        },
        Statement {
            sid: "OperateEndpoints",
            when: When::Always,
            actions: &[
                "sagemaker:CreateEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:UpdateEndpoint",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
            ],
            resources: &[sagemaker("endpoint/*"), sagemaker("endpoint-config/*")],
            conditions: &[],
        },
        // A deployment is smoke-tested with `Predictor.predict()` before it is handed over.
        Statement {
            sid: "Invoke",
            when: When::Always,
            actions: &["sagemaker:InvokeEndpoint"],
            resources: &[sagemaker("endpoint/*")],
            conditions: &[],
        },
        Statement {
            sid: "List",
            when: When::Always,
            actions: &["sagemaker:ListEndpointConfigs", "sagemaker:ListEndpoints"],
            resources: &[Resource::Any],
            conditions: &[],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: &[sagemaker("endpoint/*"), sagemaker("endpoint-config/*")],
            conditions: &[tag_on_create(&["CreateEndpoint", "CreateEndpointConfig"])],
        },
        Statement {
            sid: "ReadEndpointLogs",
            when: When::Always,
            actions: &[
                "logs:DescribeLogStreams",
                "logs:FilterLogEvents",
                "logs:GetLogEvents",
            ],
            resources: &[regional("logs", "log-group:/aws/sagemaker/Endpoints/*")],
            conditions: &[],
        },
        VOLUME_KEY_GRANTS,
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_EndpointDeployment (+_KMS), with the current sagemaker:VolumeKmsKeyArn key, instance types with local storage, InvokeEndpoint, tag-on-create and endpoint logs; resource types and condition keys from the Service Authorization Reference for SageMaker, CloudWatch Logs and KMS",
};

/// The job definitions the SageMaker Python SDK's monitors create (ModelQualityMonitor,
/// ModelBiasMonitor, ModelExplainabilityMonitor, and data quality with
/// `DefaultModelMonitor` or a definition of its own) and the schedules that run them.
const MONITORING_RESOURCES: &[Resource] = &[
    sagemaker("monitoring-schedule/*"),
    sagemaker("processing-job/*"),
    sagemaker("data-quality-job-definition/*"),
    sagemaker("model-quality-job-definition/*"),
    sagemaker("model-bias-job-definition/*"),
    sagemaker("model-explainability-job-definition/*"),
];

const MONITORING_CREATE_ACTIONS: &[&str] = &[
    "sagemaker:CreateDataQualityJobDefinition",
    "sagemaker:CreateModelBiasJobDefinition",
    "sagemaker:CreateModelExplainabilityJobDefinition",
    "sagemaker:CreateModelQualityJobDefinition",
    "sagemaker:CreateMonitoringSchedule",
    "sagemaker:CreateProcessingJob",
    "sagemaker:UpdateMonitoringSchedule",
];

pub static MANAGE_MODEL_MONITORING: Activity = Activity {
    id: "manage-model-monitoring",
    name: "Manage Model Monitoring",
    aliases: &[],
    sid: "ManageModelMonitoring",
    summary: "Create, run and stop Model Monitor schedules, their data quality, model quality, bias and explainability job definitions, and baseline processing jobs.",
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
            sid: "CreateSchedules",
            when: When::Always,
            actions: MONITORING_CREATE_ACTIONS,
            resources: MONITORING_RESOURCES,
            conditions: &[
                Condition::VpcSubnets,
                Condition::VpcSecurityGroups,
                Condition::VolumeKmsKeyArn,
                Condition::OutputKmsKeyArn,
            ],
        },
        Statement {
            sid: "CreateSchedulesLocalStorage",
            when: When::Kms,
            actions: MONITORING_CREATE_ACTIONS,
            resources: MONITORING_RESOURCES,
            conditions: &[
                Condition::VpcSubnets,
                Condition::VpcSecurityGroups,
                Condition::LocalStorageInstances,
                Condition::OutputKmsKeyArn,
            ],
        },
        // Role Manager's VPC variant (without KMS) dropped this statement, so schedules could be
        // created but not described, started or stopped; it is granted in every variant here.
        Statement {
            sid: "OperateSchedules",
            when: When::Always,
            actions: &[
                "sagemaker:DeleteDataQualityJobDefinition",
                "sagemaker:DeleteModelBiasJobDefinition",
                "sagemaker:DeleteModelExplainabilityJobDefinition",
                "sagemaker:DeleteModelQualityJobDefinition",
                "sagemaker:DeleteMonitoringSchedule",
                "sagemaker:DescribeDataQualityJobDefinition",
                "sagemaker:DescribeModelBiasJobDefinition",
                "sagemaker:DescribeModelExplainabilityJobDefinition",
                "sagemaker:DescribeModelQualityJobDefinition",
                "sagemaker:DescribeMonitoringSchedule",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StartMonitoringSchedule",
                "sagemaker:StopMonitoringSchedule",
                "sagemaker:StopProcessingJob",
            ],
            resources: MONITORING_RESOURCES,
            conditions: &[],
        },
        Statement {
            sid: "List",
            when: When::Always,
            actions: &[
                "sagemaker:ListDataQualityJobDefinitions",
                "sagemaker:ListModelBiasJobDefinitions",
                "sagemaker:ListModelExplainabilityJobDefinitions",
                "sagemaker:ListModelQualityJobDefinitions",
                "sagemaker:ListMonitoringExecutions",
                "sagemaker:ListMonitoringSchedules",
                "sagemaker:ListProcessingJobs",
            ],
            resources: &[Resource::Any],
            conditions: &[],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: MONITORING_RESOURCES,
            conditions: &[tag_on_create(&[
                "CreateDataQualityJobDefinition",
                "CreateModelBiasJobDefinition",
                "CreateModelExplainabilityJobDefinition",
                "CreateModelQualityJobDefinition",
                "CreateMonitoringSchedule",
                "CreateProcessingJob",
            ])],
        },
        PASS_ROLE,
        READ_JOB_LOGS,
        VOLUME_KEY_GRANTS,
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_ModelMonitoring (+_VPC, _KMS, _VPC_KMS), with the job definitions of the SageMaker Python SDK's monitors, the current sagemaker:VolumeKmsKeyArn and OutputKmsKeyArn keys, instance types with local storage, tag-on-create and baseline job logs; resource types and condition keys from the Service Authorization Reference for SageMaker, CloudWatch Logs and KMS",
};
