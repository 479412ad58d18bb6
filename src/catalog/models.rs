//! Manage Models, Manage Endpoints and Manage Model Monitoring: models and the model registry,
//! endpoint deployments, and Model Monitor schedules.

use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, optional, required, sagemaker,
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
        PASS_ROLE,
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_ModelManagement (+_VPC); resource types and condition keys from the Service Authorization Reference for SageMaker",
};

pub static MANAGE_ENDPOINTS: Activity = Activity {
    id: "manage-endpoints",
    name: "Manage Endpoints",
    aliases: &[],
    sid: "ManageEndpoints",
    summary: "Deploy, update and delete real-time endpoints and their configurations.",
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
            conditions: &[Condition::VolumeKmsKey],
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
        Statement {
            sid: "List",
            when: When::Always,
            actions: &["sagemaker:ListEndpointConfigs", "sagemaker:ListEndpoints"],
            resources: &[Resource::Any],
            conditions: &[],
        },
        VOLUME_KEY_GRANTS,
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_EndpointDeployment (+_KMS); resource types and condition keys from the Service Authorization Reference for SageMaker and KMS",
};

pub static MANAGE_MODEL_MONITORING: Activity = Activity {
    id: "manage-model-monitoring",
    name: "Manage Model Monitoring",
    aliases: &[],
    sid: "ManageModelMonitoring",
    summary: "Create, run and stop Model Monitor schedules and their processing jobs.",
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
            actions: &[
                "sagemaker:CreateMonitoringSchedule",
                "sagemaker:CreateProcessingJob",
                "sagemaker:UpdateMonitoringSchedule",
            ],
            resources: &[
                sagemaker("monitoring-schedule/*"),
                sagemaker("processing-job/*"),
            ],
            conditions: &[
                Condition::VpcSubnets,
                Condition::VpcSecurityGroups,
                Condition::VolumeKmsKey,
                Condition::OutputKmsKey,
            ],
        },
        // Role Manager's VPC variant (without KMS) dropped this statement, so schedules could be
        // created but not described, started or stopped; it is granted in every variant here.
        Statement {
            sid: "OperateSchedules",
            when: When::Always,
            actions: &[
                "sagemaker:DeleteMonitoringSchedule",
                "sagemaker:DescribeMonitoringSchedule",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StartMonitoringSchedule",
                "sagemaker:StopMonitoringSchedule",
                "sagemaker:StopProcessingJob",
            ],
            resources: &[
                sagemaker("monitoring-schedule/*"),
                sagemaker("processing-job/*"),
            ],
            conditions: &[],
        },
        Statement {
            sid: "List",
            when: When::Always,
            actions: &[
                "sagemaker:ListMonitoringSchedules",
                "sagemaker:ListProcessingJobs",
            ],
            resources: &[Resource::Any],
            conditions: &[],
        },
        PASS_ROLE,
        VOLUME_KEY_GRANTS,
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_ModelMonitoring (+_VPC, _KMS, _VPC_KMS); resource types and condition keys from the Service Authorization Reference for SageMaker and KMS",
};
