//! Run Studio Applications and Run Studio EMR Serverless Applications: what the execution role of
//! a Studio domain or user profile needs to run apps and spaces, and EMR Serverless from Studio.

use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, optional, regional, required,
    sagemaker, tag_on_create,
};

/// The caller's Studio domain and user profile, as the policy variables Studio sets on the
/// sessions of its apps. Statements naming them match only requests made from Studio.
const OWN_USER_PROFILE: &str = "user-profile/${sagemaker:DomainId}/${sagemaker:UserProfileName}";

pub static RUN_STUDIO_APPS: Activity = Activity {
    id: "run-studio-apps",
    name: "Run Studio Applications",
    aliases: &["Run Studio Classic Applications"],
    sid: "RunStudioApps",
    summary: "Open Studio as its own user profile; create, run and delete its own spaces and their apps, and apps in the domain's shared spaces.",
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
            sid: "PresignedDomainUrl",
            when: When::Always,
            actions: &["sagemaker:CreatePresignedDomainUrl"],
            resources: &[sagemaker(OWN_USER_PROFILE)],
            conditions: &[],
        },
        // Apps of the user profile itself (Studio Classic, Canvas): no space, so no owner.
        Statement {
            sid: "UserProfileApps",
            when: When::Always,
            actions: &["sagemaker:CreateApp", "sagemaker:DeleteApp"],
            resources: &[sagemaker(
                "app/${sagemaker:DomainId}/${sagemaker:UserProfileName}/*",
            )],
            conditions: &[Condition::Static {
                operator: "Null",
                key: "sagemaker:OwnerUserProfileArn",
                values: &["true"],
            }],
        },
        // Its own spaces, private or shared, and the apps in them. (Apps in shared spaces are
        // open to every member anyway.)
        Statement {
            sid: "OwnSpaces",
            when: When::Always,
            actions: &[
                "sagemaker:CreateApp",
                "sagemaker:CreateSpace",
                "sagemaker:DeleteApp",
                "sagemaker:DeleteSpace",
                "sagemaker:UpdateSpace",
            ],
            resources: &[
                sagemaker("app/${sagemaker:DomainId}/*"),
                sagemaker("space/${sagemaker:DomainId}/*"),
            ],
            conditions: &[
                Condition::OwnedByCaller,
                Condition::Static {
                    operator: "StringEquals",
                    key: "sagemaker:SpaceSharingType",
                    values: &["Private", "Shared"],
                },
            ],
        },
        // Shared spaces are the domain's common workspaces: any member may run apps in them.
        Statement {
            sid: "SharedSpaceApps",
            when: When::Always,
            actions: &["sagemaker:CreateApp", "sagemaker:DeleteApp"],
            resources: &[sagemaker("app/${sagemaker:DomainId}/*")],
            conditions: &[Condition::Static {
                operator: "StringEquals",
                key: "sagemaker:SpaceSharingType",
                values: &["Shared"],
            }],
        },
        Statement {
            sid: "TagOnCreate",
            when: When::Always,
            actions: &["sagemaker:AddTags"],
            resources: &[
                sagemaker("app/${sagemaker:DomainId}/*"),
                sagemaker("space/${sagemaker:DomainId}/*"),
            ],
            conditions: &[tag_on_create(&["CreateApp", "CreateSpace"])],
        },
        Statement {
            sid: "Describe",
            when: When::Always,
            actions: &[
                "sagemaker:DescribeApp",
                "sagemaker:DescribeAppImageConfig",
                "sagemaker:DescribeDomain",
                "sagemaker:DescribeSpace",
                "sagemaker:DescribeUserProfile",
            ],
            resources: &[
                sagemaker("app/*"),
                sagemaker("app-image-config/*"),
                sagemaker("domain/*"),
                sagemaker("space/*"),
                sagemaker("user-profile/*"),
            ],
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
    source: "The console's 2024 SM_StudioAppPermissions (Spaces-aware: presigned URL for its own user profile, spaces and apps scoped to their owner by sagemaker:OwnerUserProfileArn and sagemaker:SpaceSharingType, no app image config writes), with tags limited to CreateApp and CreateSpace; KMS statements from SM_StudioAppPermissions_KMS; resource types and condition keys from the Service Authorization Reference for SageMaker and KMS",
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
