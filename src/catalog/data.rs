//! Data activities: S3 (all buckets or the given ones), Athena workgroups and Glue tables.

use super::{
    Activity, Condition, Param, Resource, Statement, Status, When, optional, regional,
    regional_each, required, s3, s3_each,
};

pub static S3_FULL_ACCESS: Activity = Activity {
    id: "s3-full-access",
    name: "S3 Full Access",
    aliases: &["Amazon S3 Full Access"],
    sid: "S3FullAccess",
    summary: "List, read, write and delete objects in every S3 bucket of the account and of the accounts in S3BucketAccounts.",
    status: Status::Current,
    params: &[optional(Param::S3BucketAccounts)],
    vpc: false,
    kms: false,
    // Role Manager's template granted every bucket of every account: with a bucket policy that
    // admits the role, another account's bucket received the data.
    statements: &[
        Statement {
            sid: "Buckets",
            when: When::Always,
            actions: &["s3:ListBucket"],
            resources: &[s3("*")],
            conditions: &[Condition::BucketAccounts],
        },
        Statement {
            sid: "Objects",
            when: When::Always,
            actions: &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            resources: &[s3("*/*")],
            conditions: &[Condition::BucketAccounts],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SageMakerS3AllResourcesPolicyTemplate v2 (v1 lacks DeleteObject); resource types from the Service Authorization Reference for S3",
};

pub static S3_BUCKET_ACCESS: Activity = Activity {
    id: "s3-bucket-access",
    name: "S3 Bucket Access",
    aliases: &["Amazon S3 Bucket Access"],
    sid: "S3BucketAccess",
    summary: "List, read, write and delete objects in the given S3 buckets, in the account or in the accounts of S3BucketAccounts.",
    status: Status::Current,
    params: &[
        required(Param::S3Buckets),
        optional(Param::S3BucketAccounts),
    ],
    vpc: false,
    kms: false,
    statements: &[
        Statement {
            sid: "Buckets",
            when: When::Always,
            actions: &["s3:ListBucket"],
            resources: &[s3_each("{}")],
            conditions: &[Condition::BucketAccounts],
        },
        Statement {
            sid: "Objects",
            when: When::Always,
            actions: &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            resources: &[s3_each("{}/*")],
            conditions: &[Condition::BucketAccounts],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SageMakerS3BucketPolicyTemplate; resource types from the Service Authorization Reference for S3",
};

pub static QUERY_ATHENA_WORKGROUPS: Activity = Activity {
    id: "query-athena-workgroups",
    name: "Query Athena Workgroups",
    aliases: &[],
    sid: "QueryAthenaWorkgroups",
    summary: "Run and manage Athena queries in the given workgroups, read the Glue Data Catalog they query, and read the data and write the results in the given buckets.",
    status: Status::Current,
    params: &[
        required(Param::AthenaWorkgroups),
        required(Param::S3Buckets),
        optional(Param::S3BucketAccounts),
    ],
    vpc: false,
    kms: false,
    statements: &[
        Statement {
            sid: "Queries",
            when: When::Always,
            actions: &[
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetWorkGroup",
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
            ],
            resources: &[regional_each(
                "athena",
                "workgroup/{}",
                Param::AthenaWorkgroups,
            )],
            conditions: &[],
        },
        // Role Manager granted ListDatabases and ListTableMetadata on `*`; they take data catalogs.
        Statement {
            sid: "DataCatalogs",
            when: When::Always,
            actions: &[
                "athena:GetDataCatalog",
                "athena:GetDatabase",
                "athena:GetTableMetadata",
                "athena:ListDatabases",
                "athena:ListTableMetadata",
            ],
            resources: &[regional("athena", "datacatalog/*")],
            conditions: &[],
        },
        Statement {
            sid: "List",
            when: When::Always,
            actions: &["athena:ListDataCatalogs", "athena:ListWorkGroups"],
            resources: &[Resource::Any],
            conditions: &[],
        },
        // Role Manager granted no Glue access, so queries on Glue tables failed.
        Statement {
            sid: "GlueCatalog",
            when: When::Always,
            actions: &[
                "glue:BatchGetPartition",
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
            ],
            resources: &[
                regional("glue", "catalog"),
                regional("glue", "database/*"),
                regional("glue", "table/*/*"),
            ],
            conditions: &[],
        },
        // Athena reads the tables' data and writes the query results with the caller's
        // permissions; Role Manager granted neither, so every query failed on its results
        // location.
        Statement {
            sid: "ResultsBuckets",
            when: When::Always,
            actions: &[
                "s3:GetBucketLocation",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
            ],
            resources: &[s3_each("{}")],
            conditions: &[Condition::BucketAccounts],
        },
        Statement {
            sid: "ResultsObjects",
            when: When::Always,
            actions: &[
                "s3:AbortMultipartUpload",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            resources: &[s3_each("{}/*")],
            conditions: &[Condition::BucketAccounts],
        },
    ],
    aws_managed_policies: &[],
    source: "Role Manager template SM_AthenaQueryAccess; data and query results in S3 from the Athena user guide (access to the query results location); Glue Data Catalog reads from the Athena user guide (fine-grained access to databases and tables); resource types from the Service Authorization Reference for Athena and Glue",
};

pub static MANAGE_GLUE_TABLES: Activity = Activity {
    id: "manage-glue-tables",
    name: "Manage AWS Glue Tables",
    aliases: &["Manage Glue Tables"],
    sid: "ManageGlueTables",
    summary: "Search, read and update Glue tables of the given databases (Feature Store offline store, Data Wrangler) and their S3 data.",
    status: Status::Current,
    params: &[
        required(Param::S3Buckets),
        optional(Param::S3BucketAccounts),
        required(Param::GlueDatabases),
        optional(Param::DataKmsKeys),
    ],
    vpc: false,
    kms: true,
    statements: &[
        // Role Manager hard-coded the database sagemaker_featurestore and searched table/*/*.
        Statement {
            sid: "GlueTables",
            when: When::Always,
            actions: &["glue:GetTable", "glue:SearchTables", "glue:UpdateTable"],
            resources: &[
                regional("glue", "catalog"),
                regional_each("glue", "database/{}", Param::GlueDatabases),
                regional_each("glue", "table/{}/*", Param::GlueDatabases),
            ],
            conditions: &[],
        },
        // Role Manager granted GetBucketAcl on object ARNs, where it never matches.
        Statement {
            sid: "BucketAcl",
            when: When::Always,
            actions: &["s3:GetBucketAcl"],
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
        // Role Manager wrote s3:PutBucketAcl on object ARNs: a typo for PutObjectAcl, as in the
        // AWS managed AmazonSageMakerFeatureStoreAccess it mirrors.
        Statement {
            sid: "ObjectAcl",
            when: When::Always,
            actions: &["s3:PutObjectAcl"],
            resources: &[s3_each("{}/*")],
            conditions: &[
                Condition::Static {
                    operator: "StringEquals",
                    key: "s3:x-amz-acl",
                    values: &["bucket-owner-full-control"],
                },
                Condition::BucketAccounts,
            ],
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
    source: "Role Manager template SM_GlueTableManagement (+_KMS) and the AWS managed policy AmazonSageMakerFeatureStoreAccess; resource types and condition keys from the Service Authorization Reference for Glue, S3 and KMS",
};
