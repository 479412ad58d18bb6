//! Run Studio Applications and Run Studio EMR Serverless Applications: what the execution role of
//! a Studio domain or user profile needs to run apps and spaces, and EMR Serverless from Studio.

use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, optional, regional, required,
    sagemaker,
};

/// Tags may only be added while creating a resource (`sagemaker:TaggingAction` is set by Create*
/// calls), not to existing resources.
const TAG_ON_CREATE: Condition = Condition::Static {
    operator: "Null",
    key: "sagemaker:TaggingAction",
    values: &["false"],
};

pub static RUN_STUDIO_APPS: Activity = Activity {
    id: "run-studio-apps",
    name: "Run Studio Applications",
    aliases: &["Run Studio Classic Applications"],
    sid: "RunStudioApps",
    summary: "Create, run and delete Studio apps, spaces and app image configurations in a domain.",
    status: Status::Current,
    params: &[
        optional(Param::PassRoles),
        optional(Param::DataKmsKeys),
        optional(Param::VolumeKmsKeys),
    ],
    vpc: false,
    kms: true,
    statements: &[
        Statement {
            sid: "Apps",
            when: When::Always,
            actions: &[
                "sagemaker:CreateApp",
                "sagemaker:DeleteApp",
                "sagemaker:DescribeApp",
            ],
            resources: &[sagemaker("app/*")],
            conditions: &[],
        },
        Statement {
            sid: "AppImageConfigs",
            when: When::Always,
            actions: &[
                "sagemaker:CreateAppImageConfig",
                "sagemaker:DeleteAppImageConfig",
                "sagemaker:DescribeAppImageConfig",
                "sagemaker:UpdateAppImageConfig",
            ],
            resources: &[sagemaker("app-image-config/*")],
            conditions: &[],
        },
        Statement {
            sid: "Spaces",
            when: When::Always,
            actions: &[
                "sagemaker:CreateSpace",
                "sagemaker:DeleteSpace",
                "sagemaker:DescribeSpace",
                "sagemaker:UpdateSpace",
            ],
            resources: &[sagemaker("space/*")],
            conditions: &[],
        },
        Statement {
            sid: "DescribeDomain",
            when: When::Always,
            actions: &["sagemaker:DescribeDomain", "sagemaker:DescribeUserProfile"],
            resources: &[sagemaker("domain/*"), sagemaker("user-profile/*")],
            conditions: &[],
        },
        Statement {
            sid: "List",
            when: When::Always,
            actions: &[
                "sagemaker:ListAppImageConfigs",
                "sagemaker:ListApps",
                "sagemaker:ListDomains",
                "sagemaker:ListSpaces",
                "sagemaker:ListUserProfiles",
            ],
            resources: &[Resource::Any],
            conditions: &[],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: &[
                sagemaker("app/*"),
                sagemaker("app-image-config/*"),
                sagemaker("space/*"),
            ],
            conditions: &[TAG_ON_CREATE],
        },
        // Role Manager's KMS variant dropped this statement; it is kept whatever the KMS setting.
        Statement {
            sid: "PassRole",
            when: When::Given(Param::PassRoles),
            actions: &["iam:PassRole"],
            resources: &[Resource::Given(Param::PassRoles)],
            conditions: &[Condition::PassedToService("sagemaker.amazonaws.com")],
        },
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
        Statement {
            sid: "VolumeKeys",
            when: When::Kms,
            actions: &["kms:DescribeKey"],
            resources: &[Resource::Given(Param::VolumeKmsKeys)],
            conditions: &[Condition::ViaService("sagemaker")],
        },
        Statement {
            sid: "DataKeys",
            when: When::Kms,
            actions: &["kms:Decrypt", "kms:GenerateDataKey"],
            resources: &[Resource::Given(Param::DataKmsKeys)],
            conditions: &[Condition::ViaService("s3")],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager templates SM_StudioAppPermissions (v1, v2) and SM_StudioAppPermissions_KMS; spaces and tag-on-create from the console's 2024 SM_StudioAppPermissions; resource types and condition keys from the Service Authorization Reference for SageMaker and KMS",
};

pub static RUN_STUDIO_EMR_SERVERLESS: Activity = Activity {
    id: "run-studio-emr-serverless",
    name: "Run Studio EMR Serverless Applications",
    aliases: &[],
    sid: "RunStudioEmrServerless",
    summary: "Create, run and manage EMR Serverless applications and job runs from Studio, passing the given runtime roles.",
    status: Status::Current,
    params: &[required(Param::PassRoles)],
    vpc: false,
    kms: false,
    statements: &[
        Statement {
            sid: "CreateAndList",
            when: When::Always,
            actions: &[
                "emr-serverless:CreateApplication",
                "emr-serverless:ListApplications",
            ],
            resources: &[Resource::Any],
            conditions: &[],
        },
        Statement {
            sid: "Applications",
            when: When::Always,
            actions: &[
                "emr-serverless:AccessLivyEndpoints",
                "emr-serverless:DeleteApplication",
                "emr-serverless:GetApplication",
                "emr-serverless:ListJobRuns",
                "emr-serverless:StartApplication",
                "emr-serverless:StartJobRun",
                "emr-serverless:StopApplication",
                "emr-serverless:TagResource",
                "emr-serverless:UpdateApplication",
            ],
            resources: &[regional("emr-serverless", "/applications/*")],
            conditions: &[],
        },
        Statement {
            sid: "JobRuns",
            when: When::Always,
            actions: &[
                "emr-serverless:CancelJobRun",
                "emr-serverless:GetDashboardForJobRun",
                "emr-serverless:GetJobRun",
                "emr-serverless:ListJobRunAttempts",
            ],
            resources: &[regional("emr-serverless", "/applications/*/jobruns/*")],
            conditions: &[],
        },
        Statement {
            sid: "PassRole",
            when: When::Always,
            actions: &["iam:PassRole"],
            resources: &[Resource::Given(Param::PassRoles)],
            conditions: &[Condition::PassedToService("emr-serverless.amazonaws.com")],
        },
    ],
    aws_managed_policies: &[],
    source: "No Role Manager template is public; actions from the SageMaker developer guide page \"Permissions for EMR Serverless from Studio\" (studio-emr-serverless-permissions) and the EMR Serverless actions, resource types and condition keys of the Service Authorization Reference",
};
