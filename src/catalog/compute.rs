//! Access Required AWS Services: what the execution role of SageMaker jobs and endpoints needs
//! from S3, ECR, CloudWatch and, with VPC or KMS customization, EC2 and KMS.

use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, optional, regional,
    regional_each, required, s3_each, sagemaker,
};

pub static ACCESS_REQUIRED_AWS_SERVICES: Activity = Activity {
    id: "access-required-aws-services",
    name: "Access Required AWS Services",
    aliases: &[],
    sid: "AccessRequiredAwsServices",
    summary: "S3, ECR, CloudWatch and (with VPC or KMS) EC2 and KMS access for the execution role of jobs and endpoints.",
    status: Status::Current,
    params: &[
        required(Param::S3Buckets),
        optional(Param::S3BucketAccounts),
        optional(Param::EcrRepositories),
        optional(Param::VpcSubnets),
        optional(Param::VpcSecurityGroups),
        optional(Param::DataKmsKeys),
    ],
    vpc: true,
    kms: true,
    statements: &[
        Statement {
            sid: "ListBuckets",
            when: When::Always,
            actions: &["s3:ListBucket"],
            resources: &[s3_each("{}")],
            conditions: &[Condition::BucketAccounts],
        },
        Statement {
            sid: "Objects",
            when: When::Always,
            actions: &["s3:GetObject", "s3:PutObject"],
            resources: &[s3_each("{}/*")],
            conditions: &[Condition::BucketAccounts],
        },
        Statement {
            sid: "EcrToken",
            when: When::Always,
            actions: &["ecr:GetAuthorizationToken"],
            resources: &[Resource::Any],
            conditions: &[],
        },
        // Role Manager granted ecr:ListImages on `*`; it takes a repository, so it joins the pulls.
        Statement {
            sid: "EcrPull",
            when: When::Given(Param::EcrRepositories),
            actions: &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:ListImages",
            ],
            resources: &[Resource::Given(Param::EcrRepositories)],
            conditions: &[],
        },
        // Role Manager granted this on `*`; it takes training jobs and trial components.
        Statement {
            sid: "PutMetrics",
            when: When::Always,
            actions: &["sagemaker:BatchPutMetrics"],
            resources: &[
                sagemaker("training-job/*"),
                sagemaker("experiment-trial-component/*"),
            ],
            conditions: &[],
        },
        Statement {
            sid: "CloudWatchMetrics",
            when: When::Always,
            actions: &["cloudwatch:PutMetricData"],
            resources: &[Resource::Any],
            conditions: &[Condition::Static {
                operator: "StringLike",
                key: "cloudwatch:namespace",
                values: &["*SageMaker*", "*Sagemaker*", "*sagemaker*"],
            }],
        },
        Statement {
            sid: "LogGroups",
            when: When::Always,
            actions: &["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            resources: &[regional("logs", "log-group:/aws/sagemaker/*")],
            conditions: &[],
        },
        Statement {
            sid: "LogStreams",
            when: When::Always,
            actions: &["logs:CreateLogStream", "logs:PutLogEvents"],
            resources: &[regional("logs", "log-group:/aws/sagemaker/*:log-stream:*")],
            conditions: &[],
        },
        // Role Manager's VPC variant granted these on `*` and ignored the subnets and security
        // groups; CreateNetworkInterface takes both, so it is scoped to them.
        Statement {
            sid: "CreateNetworkInterfaces",
            when: When::Vpc,
            actions: &["ec2:CreateNetworkInterface"],
            resources: &[
                regional_each("ec2", "subnet/{}", Param::VpcSubnets),
                regional_each("ec2", "security-group/{}", Param::VpcSecurityGroups),
                regional("ec2", "network-interface/*"),
            ],
            conditions: &[],
        },
        Statement {
            sid: "ManageNetworkInterfaces",
            when: When::Vpc,
            actions: &[
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources: &[regional("ec2", "network-interface/*")],
            conditions: &[],
        },
        Statement {
            sid: "DescribeNetwork",
            when: When::Vpc,
            actions: &[
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            resources: &[Resource::Any],
            conditions: &[],
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
    source: "Role Manager template SM_ComputeExecutionRole (+_VPC, _KMS, _VPC_KMS); resource types and condition keys from the Service Authorization Reference for S3, ECR, EC2, CloudWatch, CloudWatch Logs, KMS and SageMaker",
};
