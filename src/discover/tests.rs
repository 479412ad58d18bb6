#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::iam::RoleState;
use crate::iam::inventory::{AttachedPolicy, RoleInventory, policy_name_and_path};
use crate::plan::Plan;

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10-8b1e-11ef";
const ACCOUNT: &str = "123456789012";

fn context() -> StackContext {
    StackContext::from_stack_id(STACK, "DataScience").unwrap()
}

/// The role as the Lambda leaves it after a Create of `plan`: tags, trust, inline policy, its
/// own managed policies (tagged like the role) and the attached ones.
fn created(plan: &Plan, attached_documents: &BTreeMap<String, Value>) -> RoleInventory {
    let tags: BTreeMap<String, String> = plan
        .role
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let mut attached: Vec<AttachedPolicy> = plan
        .managed_policies
        .iter()
        .map(|p| AttachedPolicy {
            arn: p.arn.clone(),
            name: p.policy_name.clone(),
            path: p.path.clone(),
            document: Some(p.policy_document.clone()),
            tags: tags.clone(),
        })
        .collect();
    for arn in &plan.attached_policy_arns {
        let (name, path) = policy_name_and_path(arn);
        attached.push(AttachedPolicy {
            arn: arn.clone(),
            name,
            path,
            document: attached_documents.get(arn).cloned(),
            tags: BTreeMap::new(),
        });
    }
    RoleInventory {
        role: RoleState {
            name: plan.role.role_name.clone(),
            path: plan.role.path.clone(),
            arn: plan.role.arn.clone(),
            role_id: "AROAEXAMPLE".to_owned(),
            description: Some(plan.role.description.clone()),
            max_session_duration: Some(plan.role.max_session_duration),
            trust: plan.role.assume_role_policy_document.clone(),
            permissions_boundary: plan.role.permissions_boundary.clone(),
            tags,
        },
        inline_policies: plan
            .inline_policies
            .iter()
            .map(|p| (p.policy_name.clone(), p.policy_document.clone()))
            .collect(),
        attached,
    }
}

fn without_adoption(discovery: &Discovery) -> Value {
    let mut properties = discovery.properties.clone();
    // Adoption is a lifecycle choice; the plans compared are of the rest.
    assert_eq!(
        properties.remove(crate::properties::table::ADOPT_EXISTING_ROLE.name),
        Some(json!("true"))
    );
    Value::Object(properties)
}

/// Discovering a role this project made gives properties that plan exactly the same role.
fn assert_round_trip(properties: Value) {
    let original = plan::plan_properties(&properties, &context()).unwrap();
    let customer_policy = format!("arn:aws:iam::{ACCOUNT}:policy/team-extra");
    let documents: BTreeMap<String, Value> = [(
        customer_policy,
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
    )]
    .into_iter()
    .collect();
    let inventory = created(&original, &documents);
    let discovery = infer(&inventory).unwrap();
    assert!(
        discovery.unmapped.is_empty(),
        "{:#?}\n{:#}",
        discovery.unmapped,
        Value::Object(discovery.properties.clone())
    );
    assert_eq!(
        discovery.origin,
        Origin::PersonaRole {
            stack_id: STACK.to_owned(),
            logical_id: "DataScience".to_owned()
        }
    );
    assert_eq!(discovery.logical_id, "DataScience");
    let replanned = plan::plan_properties(&without_adoption(&discovery), &context()).unwrap();
    let comparison = compare::compare(&original, &replanned);
    assert!(
        comparison.is_empty(),
        "{:#?}\nfrom {:#}",
        comparison.summary(),
        without_adoption(&discovery)
    );
}

#[test]
fn a_persona_default_role_round_trips() {
    assert_round_trip(json!({
        "Persona": "DataScientist",
        "RoleNameSuffix": "data-scientist",
        "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
        "S3Buckets": ["ml-team-data"],
    }));
}

#[test]
fn a_role_with_every_kind_of_property_round_trips() {
    assert_round_trip(json!({
        "Persona": "DataScientist",
        "RoleNameSuffix": "everything",
        "Description": "Data science for the fraud team",
        "Path": "/ml/",
        "MaxSessionDuration": "7200",
        "PermissionsBoundary": "arn:aws:iam::123456789012:policy/ml-boundary",
        "ManagedPolicyArns": ["arn:aws:iam::123456789012:policy/team-extra"],
        "Tags": [{"Key": "team", "Value": "fraud"}],
        "RemoveActivities": ["Manage Experiments"],
        "AddActivities": ["Query Athena Workgroups", "Manage AWS Glue Tables", "Canvas Core Access",
            "Use MLflow", "Canvas Kendra Access", "Access Required AWS Services"],
        "Regions": ["eu-west-1", "us-east-1"],
        "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
        "S3Buckets": ["ml-team-data", "ml-team-scratch-*"],
        "EcrRepositories": ["arn:aws:ecr:us-east-1:123456789012:repository/training"],
        "AthenaWorkgroups": ["analytics"],
        "GlueDatabases": ["features"],
        "KendraIndexes": ["0123abcd-0123-abcd-0123-0123456789ab"],
        "MlflowTrackingServers": ["arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team"],
        "VpcSubnets": ["subnet-0a1b2c3d", "subnet-0a1b2c3e"],
        "VpcSecurityGroups": ["sg-0a1b2c3d"],
        "DataKmsKeys": ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"],
        "VolumeKmsKeys": ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555556"],
        "ActivityParameters": {
            "Manage Models": {"PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-inference"]},
            "Run Studio Applications": {"PassRoles": []}
        },
        "MaxManagedPolicies": "12",
    }));
}

#[test]
fn a_role_spread_over_managed_policies_round_trips() {
    let buckets: Vec<String> = (1..=40).map(|i| format!("ml-team-data-{i:04}")).collect();
    assert_round_trip(json!({
        "Persona": "Custom",
        "RoleNameSuffix": "big",
        "Activities": ["Access Required AWS Services", "Manage ML Jobs", "Manage Models",
            "Manage Endpoints", "Manage Pipelines", "Manage Model Monitoring", "S3 Bucket Access",
            "Manage AWS Glue Tables", "Manage MLflow Tracking Servers", "Run Studio EMR Serverless Applications"],
        "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
        "S3Buckets": buckets,
        "GlueDatabases": ["features"],
        "VpcSubnets": ["subnet-0a1b2c3d"],
        "VpcSecurityGroups": ["sg-0a1b2c3d"],
    }));
}

fn console_inventory(attached: Vec<(&str, Value)>, trust: Value) -> RoleInventory {
    RoleInventory {
        role: RoleState {
            name: "SageMaker-TheDataScientist".to_owned(),
            path: "/service-role/".to_owned(),
            arn: format!("arn:aws:iam::{ACCOUNT}:role/service-role/SageMaker-TheDataScientist"),
            role_id: "AROAEXAMPLE".to_owned(),
            description: None,
            max_session_duration: Some(3600),
            trust,
            permissions_boundary: None,
            tags: BTreeMap::new(),
        },
        inline_policies: BTreeMap::new(),
        attached: attached
            .into_iter()
            .map(|(name, document)| AttachedPolicy {
                arn: format!("arn:aws:iam::{ACCOUNT}:policy/service-role/{name}"),
                name: name.to_owned(),
                path: "/service-role/".to_owned(),
                document: Some(document),
                tags: BTreeMap::new(),
            })
            .collect(),
    }
}

fn console_trust(region: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"ArnLike": {"aws:SourceArn": format!("arn:aws:sagemaker:{region}:{ACCOUNT}:*")}}}]})
}

fn bucket_policy(resources: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Action": ["s3:ListBucket"], "Effect": "Allow",
         "Resource": resources.iter().map(|b| format!("arn:aws:s3:::{b}")).collect::<Vec<_>>()},
        {"Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Effect": "Allow",
         "Resource": resources.iter().map(|b| format!("arn:aws:s3:::{b}/*")).collect::<Vec<_>>()}]})
}

#[test]
fn a_role_reaching_other_accounts_buckets_round_trips() {
    assert_round_trip(json!({
        "Persona": "Custom",
        "RoleNameSuffix": "partners",
        "Activities": ["Access Required AWS Services", "S3 Full Access", "S3 Bucket Access",
            "Query Athena Workgroups", "Access required to AWS Services for MLflow"],
        "S3Buckets": ["ml-team-data", "partner-*"],
        "S3BucketAccounts": ["444455556666", "111122223333"],
        "AthenaWorkgroups": ["analytics"],
        "ActivityParameters": {
            "Access Required AWS Services": {"S3BucketAccounts": ["777788889999"]},
            "S3 Full Access": {"S3BucketAccounts": []}
        },
    }));
}

#[test]
fn ownership_tags_read_back_in_another_case_still_name_the_owner() {
    let original = plan::plan_properties(
        &json!({
            "Persona": "DataScientist",
            "RoleNameSuffix": "data-scientist",
            "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
            "S3Buckets": ["ml-team-data"],
            "Tags": [{"Key": "team", "Value": "fraud"}],
        }),
        &context(),
    )
    .unwrap();
    let mut inventory = created(&original, &BTreeMap::new());
    inventory.role.tags = inventory
        .role
        .tags
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
        .collect();
    let discovery = infer(&inventory).unwrap();
    assert_eq!(
        discovery.origin,
        Origin::PersonaRole {
            stack_id: STACK.to_owned(),
            logical_id: "DataScience".to_owned()
        }
    );
    assert_eq!(
        discovery.properties["Tags"],
        json!([{"Key": "TEAM", "Value": "fraud"}])
    );
}

#[test]
fn a_console_bucket_policy_gives_the_activity_its_buckets_and_the_trust_its_region() {
    let inventory = console_inventory(
        vec![(
            "SageMakerS3BucketPolicyTemplate_1724875893688",
            bucket_policy(&["ml-data", "ml-scratch"]),
        )],
        console_trust("eu-west-1"),
    );
    let discovery = infer(&inventory).unwrap();
    assert_eq!(discovery.origin, Origin::RoleManager);
    assert_eq!(discovery.logical_id, "TheDataScientist");
    assert!(discovery.unmapped.is_empty(), "{:?}", discovery.unmapped);
    let p = &discovery.properties;
    assert_eq!(p["Persona"], "Custom");
    assert_eq!(p["Activities"], json!(["S3 Bucket Access"]));
    assert_eq!(p["RoleNameSuffix"], "TheDataScientist");
    assert_eq!(p["Path"], "/service-role/");
    assert_eq!(p["Regions"], json!(["eu-west-1"]));
    assert_eq!(p["S3Buckets"], json!(["ml-data", "ml-scratch"]));
    assert_eq!(p["AdoptExistingRole"], "true");
    // Role Manager's bucket statements name no account; the declaration's do.
    assert!(
        discovery
            .notes
            .iter()
            .any(|n| n.contains("S3BucketAccounts") && n.contains(ACCOUNT)),
        "{:?}",
        discovery.notes
    );
}

#[test]
fn an_s3_prefix_is_listed_not_widened_to_its_bucket() {
    let inventory = console_inventory(
        vec![(
            "SM_ComputeExecutionRole_1733462327347",
            bucket_policy(&["ml-data", "sagemaker-studio-abc/sharing"]),
        )],
        console_trust("us-east-1"),
    );
    let discovery = infer(&inventory).unwrap();
    assert_eq!(discovery.properties["S3Buckets"], json!(["ml-data"]));
    let listed = discovery.unmapped.join("\n");
    assert!(
        listed
            .contains("resource `arn:aws:s3:::sagemaker-studio-abc/sharing` maps to no parameter"),
        "{listed}"
    );
    assert!(
        listed.contains("resource `arn:aws:s3:::sagemaker-studio-abc/sharing/*`"),
        "{listed}"
    );
}

#[test]
fn hand_edited_statements_unknown_policies_and_inline_policies_are_listed() {
    let mut edited = bucket_policy(&["ml-data"]);
    edited["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "Extra", "Effect": "Allow", "Action": ["s3:*", "s3:GetObject"], "Resource": "*"}));
    edited["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}));
    let mut inventory = console_inventory(
        vec![
            ("SageMakerS3BucketPolicyTemplate_1724875893688", edited),
            (
                "team-extra",
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
            ),
        ],
        console_trust("us-east-1"),
    );
    inventory.attached.push(AttachedPolicy {
        arn: "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess".to_owned(),
        name: "AmazonSageMakerCanvasFullAccess".to_owned(),
        path: "/".to_owned(),
        document: None,
        tags: BTreeMap::new(),
    });
    inventory.inline_policies.insert(
        "by-hand".to_owned(),
        json!({"Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}),
    );
    let discovery = infer(&inventory).unwrap();
    let listed = discovery.unmapped.join("\n");
    for expected in [
        "statement `Extra`: s3:* not in Role Manager's `SageMakerS3BucketPolicyTemplate` policy",
        "statement #4: Deny statement not in Role Manager's",
        "managed policy `team-extra` is not a policy of an activity: kept attached through ManagedPolicyArns (arn:aws:iam::123456789012:policy/service-role/team-extra)",
        "inline policy `by-hand` (1 statements): not a policy this project or Role Manager makes",
    ] {
        assert!(listed.contains(expected), "{expected}\nin\n{listed}");
    }
    assert_eq!(
        discovery.properties["ManagedPolicyArns"],
        json!(["arn:aws:iam::123456789012:policy/service-role/team-extra"])
    );
    assert_eq!(
        discovery.properties["Activities"],
        json!(["S3 Bucket Access", "SageMaker Canvas Core Access"])
    );
}

#[test]
fn roles_that_are_neither_console_nor_own_are_skipped_with_the_reason() {
    let mut inventory = console_inventory(
        vec![(
            "team-extra",
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
        )],
        console_trust("us-east-1"),
    );
    assert_eq!(
        classify(&inventory),
        Err(NotDeclarable::NoRoleManagerPolicy)
    );
    let skipped = infer(&inventory).unwrap_err();
    assert!(
        skipped.reason.contains("no Role Manager policy"),
        "{skipped:?}"
    );
    inventory.role.name = "MyRole".to_owned();
    assert_eq!(classify(&inventory), Err(NotDeclarable::Name));
    let skipped = infer(&inventory).unwrap_err();
    assert!(
        skipped.reason.contains("does not start with"),
        "{skipped:?}"
    );
}

#[test]
fn a_required_parameter_the_console_policy_lacked_is_inherited_and_noted() {
    let jobs = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob"], "Resource": "arn:aws:sagemaker:*:*:*/*"},
        {"Effect": "Allow", "Action": "iam:PassRole",
         "Resource": ["arn:aws:iam::123456789012:role/service-role/SageMaker-ExecutionRole-20241206T141794"],
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}]});
    let mlflow = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateMlflowTrackingServer", "sagemaker:ListMlflowTrackingServers"], "Resource": "*"}]});
    let studio = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateApp"], "Resource": "arn:aws:sagemaker:*:*:*/*"}]});
    let inventory = console_inventory(
        vec![
            ("SM_CommonJobManagement_1733462327347", jobs),
            ("SM_MLflowManagement_1733462327347", mlflow),
            ("SM_StudioAppPermissions_1733462327347", studio),
        ],
        console_trust("us-east-1"),
    );
    let discovery = infer(&inventory).unwrap();
    let p = &discovery.properties;
    assert_eq!(
        p["PassRoles"],
        json!([
            "arn:aws:iam::123456789012:role/service-role/SageMaker-ExecutionRole-20241206T141794"
        ])
    );
    // Studio passed no role: it gets an empty override, not the job role.
    assert_eq!(
        p["ActivityParameters"],
        json!({"Run Studio Applications": {"PassRoles": []}})
    );
    assert!(
        discovery.notes.iter().any(|n| n
            .starts_with("Manage MLflow Tracking Servers: Role Manager's policy had no PassRoles")),
        "{:?}",
        discovery.notes
    );
    assert!(discovery.unmapped.is_empty(), "{:?}", discovery.unmapped);
}

#[test]
fn vpc_and_kms_values_come_from_conditions_and_key_statements() {
    let jobs = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob"], "Resource": "arn:aws:sagemaker:*:*:*/*",
         "Condition": {
            "ForAllValues:StringEquals": {"sagemaker:VpcSubnets": ["subnet-0a1b2c3d"], "sagemaker:VpcSecurityGroupIds": ["sg-0a1b2c3d"]},
            "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            "StringEquals": {"sagemaker:VolumeKmsKey": ["arn:aws:kms:us-east-1:123456789012:key/v"],
                             "sagemaker:OutputKmsKey": ["arn:aws:kms:us-east-1:123456789012:key/d"]}}},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ["arn:aws:iam::123456789012:role/c"],
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["kms:CreateGrant"], "Resource": ["arn:aws:kms:us-east-1:123456789012:key/v"],
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}, "StringLike": {"kms:ViaService": "sagemaker.*.amazonaws.com"}}}]});
    let inventory = console_inventory(
        vec![("SM_CommonJobManagement_VPC_KMS_1733462327347", jobs)],
        console_trust("us-east-1"),
    );
    let discovery = infer(&inventory).unwrap();
    let p = &discovery.properties;
    assert_eq!(p["VpcSubnets"], json!(["subnet-0a1b2c3d"]));
    assert_eq!(p["VpcSecurityGroups"], json!(["sg-0a1b2c3d"]));
    assert_eq!(
        p["VolumeKmsKeys"],
        json!(["arn:aws:kms:us-east-1:123456789012:key/v"])
    );
    assert_eq!(
        p["DataKmsKeys"],
        json!(["arn:aws:kms:us-east-1:123456789012:key/d"])
    );
    assert!(discovery.unmapped.is_empty(), "{:?}", discovery.unmapped);
}

#[test]
fn the_persona_is_the_one_whose_defaults_the_role_covers_best() {
    let names = |ids: &[&str]| -> BTreeSet<ActivityIndex> {
        ids.iter()
            .map(|id| catalog::find_activity(id).unwrap())
            .collect()
    };
    let inventory = console_inventory(vec![], console_trust("us-east-1"));
    let (persona, adjust) = persona_and_activities(
        &inventory,
        &Origin::RoleManager,
        &names(&[
            "run-studio-apps",
            "manage-models",
            "manage-pipelines",
            "search-visualize-experiments",
            "s3-full-access",
        ]),
    );
    assert_eq!(persona.id, "MLOps");
    assert_eq!(
        adjust,
        vec![
            ("AddActivities", vec!["S3 Full Access".to_owned()]),
            ("RemoveActivities", vec!["Manage Endpoints".to_owned()]),
        ]
    );
    let (persona, adjust) = persona_and_activities(
        &inventory,
        &Origin::RoleManager,
        &names(&["access-required-aws-services"]),
    );
    assert_eq!(persona.id, "SageMakerCompute");
    assert!(adjust.is_empty());
}

#[test]
fn logical_ids_are_alphanumeric_and_start_with_a_letter() {
    assert_eq!(logical_id_of("TheDataScientist"), "TheDataScientist");
    assert_eq!(
        logical_id_of("ExecutionRole-20241206T141794"),
        "ExecutionRole20241206T141794"
    );
    assert_eq!(logical_id_of("ml-team.compute"), "MlTeamCompute");
    assert_eq!(logical_id_of("2024-team"), "Role2024Team");
}

#[test]
fn the_template_declares_unique_logical_ids_retained_and_adopting() {
    let inventory = console_inventory(
        vec![(
            "SageMakerS3BucketPolicyTemplate_1724875893688",
            bucket_policy(&["ml-data"]),
        )],
        console_trust("us-east-1"),
    );
    let one = infer(&inventory).unwrap();
    let mut two = one.clone();
    two.role_name = "SageMaker-The-DataScientist".to_owned();
    let template = template(&[one, two], "persona-role", ACCOUNT);
    let resources = template["Resources"].as_object().unwrap();
    assert_eq!(
        resources.keys().collect::<Vec<_>>(),
        ["TheDataScientist", "TheDataScientist2"]
    );
    let resource = &resources["TheDataScientist"];
    assert_eq!(resource["Type"], "Custom::SageMakerPersonaRole");
    assert_eq!(resource["DeletionPolicy"], "Retain");
    assert_eq!(resource["Properties"]["AdoptExistingRole"], "true");
    assert_eq!(
        resource["Properties"]["ServiceToken"],
        json!({"Fn::ImportValue": {"Fn::Sub": "${PersonaRoleStackName}-ServiceToken"}})
    );
}

#[test]
fn a_declared_role_that_another_passes_is_passed_by_reference() {
    let compute_arn = "arn:aws:iam::123456789012:role/service-role/SageMaker-ComputeRole";
    let mut compute = infer(&console_inventory(
        vec![(
            "SageMakerS3BucketPolicyTemplate_1724875893688",
            bucket_policy(&["ml-data"]),
        )],
        console_trust("us-east-1"),
    ))
    .unwrap();
    compute.role_name = "SageMaker-ComputeRole".to_owned();
    compute.arn = compute_arn.to_owned();
    compute.logical_id = "ComputeRole".to_owned();
    let mut scientist = compute.clone();
    scientist.role_name = "SageMaker-DataScientist".to_owned();
    scientist.arn =
        "arn:aws:iam::123456789012:role/service-role/SageMaker-DataScientist".to_owned();
    scientist.logical_id = "DataScientist".to_owned();
    let elsewhere = "arn:aws:iam::123456789012:role/sagemaker-elsewhere";
    let itself = scientist.arn.clone();
    // The console's policy may spell the ARN in another case: IAM's names ignore it.
    scientist.properties.insert(
        "PassRoles".to_owned(),
        json!([compute_arn.to_lowercase(), elsewhere, itself]),
    );
    scientist.properties.insert(
        "ActivityParameters".to_owned(),
        json!({"Manage ML Jobs": {"PassRoles": [compute_arn]}}),
    );
    let template = template(&[compute, scientist], "persona-role", ACCOUNT);
    let properties = &template["Resources"]["DataScientist"]["Properties"];
    let reference = json!({"Fn::GetAtt": ["ComputeRole", "Arn"]});
    assert_eq!(
        properties["PassRoles"],
        json!([reference, elsewhere, itself]),
        "a role passing itself keeps its ARN: a reference to itself would be circular"
    );
    assert_eq!(
        properties["ActivityParameters"]["Manage ML Jobs"]["PassRoles"],
        json!([reference])
    );
}
