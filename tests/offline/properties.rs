//! Property validation: one test per class of bad input, each asserting the property named and
//! what was expected, plus the string-typed forms CloudFormation really sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use persona_role::catalog::{self, Param};
use persona_role::context::StackContext;
use persona_role::properties::{self, Properties, PropertyError};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/sagemaker-compute";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn context() -> StackContext {
    StackContext::from_stack_id(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/6b1e1a70-0000-11ef-0000-0a1b2c3d4e5f",
        "Role",
    )
    .unwrap()
}

fn parse(value: Value) -> Result<Properties, Vec<PropertyError>> {
    properties::parse(&value, &context()).map_err(|e| e.0)
}

fn errors(value: Value) -> Vec<PropertyError> {
    match parse(value) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(errors) => errors,
    }
}

/// The single error of a property, asserting there is exactly one there.
fn error_at(errors: &[PropertyError], property: &str) -> PropertyError {
    let at: Vec<&PropertyError> = errors.iter().filter(|e| e.property == property).collect();
    assert_eq!(at.len(), 1, "errors at {property}: {errors:#?}");
    at[0].clone()
}

fn data_scientist() -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:persona-role",
        "Persona": "DataScientist",
        "PassRoles": [ROLE],
        "S3Buckets": ["ml-data"],
    })
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

#[test]
fn data_scientist_defaults_are_the_persona_reference_selection() {
    let p = parse(data_scientist()).unwrap();
    let names: Vec<&str> = p
        .activities
        .iter()
        .map(|&i| catalog::activity(i).id)
        .collect();
    assert_eq!(
        names,
        [
            "run-studio-apps",
            "manage-ml-jobs",
            "manage-models",
            "manage-experiments",
            "search-visualize-experiments",
            "s3-bucket-access"
        ]
    );
    assert_eq!(p.max_session_duration, 3600);
    assert_eq!(p.path, "/");
}

#[test]
fn unknown_persona_names_the_property_and_suggests_the_nearest() {
    let e = error_at(
        &errors(with(data_scientist(), "Persona", json!("DataScientst"))),
        "Persona",
    );
    assert!(e.message.contains("unknown persona `DataScientst`"), "{e}");
    assert!(e.help.unwrap().contains("did you mean `DataScientist`?"));
}

#[test]
fn missing_persona_is_required() {
    let mut value = data_scientist();
    value.as_object_mut().unwrap().remove("Persona");
    let e = error_at(&errors(value), "Persona");
    assert_eq!(e.message, "required");
    assert!(
        e.help
            .unwrap()
            .contains("DataScientist, MLOps, SageMakerCompute, Custom")
    );
}

#[test]
fn persona_and_activity_names_match_ignoring_case_spaces_dashes_and_underscores() {
    for (persona, activity) in [
        ("data scientist", "Manage ML Jobs"),
        ("data-scientist", "manage-ml-jobs"),
        ("DATA_SCIENTIST", "ManageMlJobs"),
    ] {
        let value = json!({"Persona": persona, "Activities": [activity], "PassRoles": [ROLE]});
        let p = parse(value).unwrap();
        assert_eq!(p.persona.id, "DataScientist");
        assert_eq!(catalog::activity(p.activities[0]).id, "manage-ml-jobs");
    }
}

#[test]
fn unknown_activity_suggests_the_nearest_name() {
    let value = json!({"Persona": "Custom", "Activities": ["Manage ML Job"], "PassRoles": [ROLE]});
    let e = error_at(&errors(value), "Activities[0]");
    assert!(e.message.contains("unknown activity `Manage ML Job`"));
    assert_eq!(e.help.unwrap(), "did you mean `Manage ML Jobs`?");
}

#[test]
fn duplicate_activities_are_rejected() {
    let value = json!({"Persona": "Custom", "Activities": ["Manage ML Jobs", "manage-ml-jobs"], "PassRoles": [ROLE]});
    let e = error_at(&errors(value), "Activities[1]");
    assert!(e.message.contains("duplicate activity `Manage ML Jobs`"));

    let added = with(
        data_scientist(),
        "AddActivities",
        json!(["S3 Bucket Access"]),
    );
    let e = error_at(&errors(added), "AddActivities[0]");
    assert!(
        e.message
            .contains("already a default of persona DataScientist"),
        "{e}"
    );
}

#[test]
fn add_and_remove_adjust_the_persona_defaults() {
    let value = with(
        with(
            data_scientist(),
            "AddActivities",
            json!("Query Athena Workgroups"),
        ),
        "RemoveActivities",
        json!(["Manage Experiments", "Run Studio Classic Applications"]),
    );
    let value = with(value, "AthenaWorkgroups", json!(["primary"]));
    let p = parse(value).unwrap();
    let ids: Vec<&str> = p
        .activities
        .iter()
        .map(|&i| catalog::activity(i).id)
        .collect();
    assert_eq!(
        ids,
        [
            "manage-ml-jobs",
            "manage-models",
            "search-visualize-experiments",
            "s3-bucket-access",
            "query-athena-workgroups"
        ]
    );
}

#[test]
fn removing_an_activity_that_is_no_default_fails() {
    let value = with(
        data_scientist(),
        "RemoveActivities",
        json!(["Manage Pipelines"]),
    );
    let e = error_at(&errors(value), "RemoveActivities[0]");
    assert!(e.message.contains("not a default of persona DataScientist"));
}

#[test]
fn activities_with_add_activities_is_ambiguous() {
    let value = with(
        with(data_scientist(), "Activities", json!(["S3 Bucket Access"])),
        "AddActivities",
        json!(["Manage Pipelines"]),
    );
    error_at(&errors(value), "Activities");
}

#[test]
fn custom_persona_without_activities_fails() {
    let e = error_at(&errors(json!({"Persona": "Custom"})), "Persona");
    assert!(e.message.contains("no activities selected"));
}

#[test]
fn missing_required_parameter_names_it_and_the_activity() {
    let mut value = data_scientist();
    value.as_object_mut().unwrap().remove("PassRoles");
    let e = error_at(&errors(value), "PassRoles");
    assert_eq!(
        e.message,
        "required by activities `Manage ML Jobs`, `Manage Models`"
    );
    assert!(e.help.unwrap().contains("IAM role ARNs"));
}

#[test]
fn empty_list_counts_as_missing() {
    let value = with(data_scientist(), "S3Buckets", json!([]));
    let e = error_at(&errors(value), "S3Buckets");
    assert_eq!(e.message, "required by activity `S3 Bucket Access`");
}

#[test]
fn malformed_role_arns_are_rejected_with_the_expected_form() {
    let value = with(
        data_scientist(),
        "PassRoles",
        json!([
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws-cn:iam::123456789012:role/x"
        ]),
    );
    let errors = errors(value);
    let first = error_at(&errors, "PassRoles[0]");
    assert!(first.message.contains("is not an IAM role ARN"));
    assert!(
        first
            .help
            .unwrap()
            .contains("arn:PARTITION:iam::ACCOUNT:role/NAME")
    );
    error_at(&errors, "PassRoles[1]");
}

#[test]
fn pass_roles_of_another_account_are_rejected() {
    let value = with(
        data_scientist(),
        "PassRoles",
        json!(["arn:aws:iam::999999999999:role/x"]),
    );
    let e = error_at(&errors(value), "PassRoles[0]");
    assert!(e.message.contains("account 999999999999"), "{e}");
}

#[test]
fn malformed_bucket_names_are_rejected() {
    let value = with(
        data_scientist(),
        "S3Buckets",
        json!(["Upper", "ab", "ok-bucket", "double..dot", "-edge", "team-*"]),
    );
    let errors = errors(value);
    for at in [
        "S3Buckets[0]",
        "S3Buckets[1]",
        "S3Buckets[3]",
        "S3Buckets[4]",
    ] {
        let e = error_at(&errors, at);
        assert!(e.message.contains("is not an S3 bucket name"));
    }
    assert!(
        errors
            .iter()
            .all(|e| e.property != "S3Buckets[2]" && e.property != "S3Buckets[5]")
    );
}

#[test]
fn kms_aliases_and_key_ids_are_rejected() {
    let value = json!({
        "Persona": "Custom", "Activities": ["Manage ML Jobs"], "PassRoles": [ROLE],
        "DataKmsKeys": ["arn:aws:kms:us-east-1:123456789012:alias/data"],
        "VolumeKmsKeys": ["1234abcd-12ab-34cd-56ef-1234567890ab"],
    });
    let errors = errors(value);
    assert!(
        error_at(&errors, "DataKmsKeys[0]")
            .message
            .contains("alias ARN")
    );
    assert!(
        error_at(&errors, "VolumeKmsKeys[0]")
            .message
            .contains("not a KMS key ARN")
    );
}

#[test]
fn vpc_given_half_is_rejected() {
    let value = json!({
        "Persona": "Custom", "Activities": ["Manage ML Jobs"], "PassRoles": [ROLE],
        "VpcSubnets": ["subnet-0123abcd"],
    });
    let e = error_at(&errors(value), "VpcSecurityGroups");
    assert!(
        e.message
            .contains("VpcSubnets and VpcSecurityGroups go together")
    );
}

#[test]
fn kms_given_half_is_rejected() {
    let value = json!({
        "Persona": "Custom", "Activities": ["Manage ML Jobs"], "PassRoles": [ROLE],
        "VolumeKmsKeys": [KEY],
    });
    let e = error_at(&errors(value), "DataKmsKeys");
    assert!(
        e.message
            .contains("DataKmsKeys and VolumeKmsKeys go together")
    );
}

#[test]
fn role_name_over_64_characters_is_rejected() {
    let value = with(data_scientist(), "RoleNameSuffix", json!("x".repeat(55)));
    let e = error_at(&errors(value), "RoleNameSuffix");
    assert!(
        e.message
            .contains("is 65 characters; a role name is at most 64"),
        "{e}"
    );
    let fits = with(data_scientist(), "RoleNameSuffix", json!("x".repeat(54)));
    assert!(parse(fits).is_ok());
}

#[test]
fn role_name_with_characters_iam_refuses_is_rejected() {
    let value = with(data_scientist(), "RoleNameSuffix", json!("data scientist"));
    let e = error_at(&errors(value), "RoleNameSuffix");
    assert!(e.message.contains("contains ` `"), "{e}");
}

#[test]
fn description_over_1000_characters_is_rejected() {
    let value = with(data_scientist(), "Description", json!("d".repeat(1001)));
    let e = error_at(&errors(value), "Description");
    assert!(
        e.message
            .contains("1001 characters; IAM allows at most 1000")
    );
}

#[test]
fn more_than_50_tags_with_ownership_tags_is_rejected() {
    let tags: Vec<Value> = (0..49)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let e = error_at(&errors(with(data_scientist(), "Tags", json!(tags))), "Tags");
    assert!(e.message.contains("49 tags given; IAM allows 50"), "{e}");
    let tags: Vec<Value> = (0..48)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    assert!(parse(with(data_scientist(), "Tags", json!(tags))).is_ok());
}

#[test]
fn reserved_and_duplicate_tag_keys_are_rejected() {
    let tags = json!([
        {"Key": "aws:cloudformation:x", "Value": "v"},
        {"Key": "persona-role:stack-id", "Value": "v"},
        {"Key": "team", "Value": "a"},
        {"Key": "Team", "Value": "b"},
    ]);
    let errors = errors(with(data_scientist(), "Tags", tags));
    assert!(error_at(&errors, "Tags[0].Key").message.contains("`aws:`"));
    assert!(
        error_at(&errors, "Tags[1].Key")
            .message
            .contains("`persona-role:`")
    );
    assert!(
        error_at(&errors, "Tags[3].Key")
            .message
            .contains("duplicate tag key")
    );
}

#[test]
fn s3_bucket_accounts_are_twelve_digit_account_ids() {
    let ok = with(
        data_scientist(),
        "S3BucketAccounts",
        json!("111122223333, 444455556666"),
    );
    let p = parse(ok).unwrap();
    assert_eq!(
        p.parameters.get(Param::S3BucketAccounts),
        ["111122223333", "444455556666"]
    );
    for (value, why) in [
        ("11112222333", "is 11 characters"),
        ("1111-2222-3333", "contains `-`"),
        ("*", "contains `*`"),
    ] {
        let e = error_at(
            &errors(with(data_scientist(), "S3BucketAccounts", json!([value]))),
            "S3BucketAccounts[0]",
        );
        assert!(
            e.message.contains("is not an AWS account id"),
            "{value}: {e}"
        );
        assert!(e.message.contains(why), "{value}: {e}");
    }
}

/// IAM compares role tag keys ignoring case: `Persona-Role:Stack-Id` would overwrite the
/// ownership tag, `AWS:x` is AWS's.
#[test]
fn reserved_tag_key_prefixes_are_refused_in_any_case() {
    let refused = [
        ("persona-role:stack-id", "`persona-role:`"),
        ("Persona-Role:Stack-Id", "`persona-role:`"),
        ("PERSONA-ROLE:LOGICAL-ID", "`persona-role:`"),
        ("persona-Role:adopted", "`persona-role:`"),
        ("Persona-role:anything", "`persona-role:`"),
        // `ſ` (long s) is `S` in upper case: IAM may well compare it as `s`.
        ("per\u{17f}ona-role:stack-id", "`persona-role:`"),
        ("aws:cloudformation:stack-id", "`aws:`"),
        ("AWS:x", "`aws:`"),
        ("Aws:x", "`aws:`"),
        ("aw\u{17f}:x", "`aws:`"),
    ];
    for (key, prefix) in refused {
        let tags = json!([{"Key": key, "Value": "v"}]);
        let e = error_at(&errors(with(data_scientist(), "Tags", tags)), "Tags[0].Key");
        assert!(e.message.contains(prefix), "{key}: {e}");
        assert!(e.message.contains("in any case"), "{key}: {e}");
    }
    for key in [
        "persona-roles",
        "persona_role:x",
        "team:persona-role:x",
        "awsx",
        "aws-team",
    ] {
        let tags = json!([{"Key": key, "Value": "v"}]);
        assert!(
            parse(with(data_scientist(), "Tags", tags)).is_ok(),
            "{key} is refused"
        );
    }
}

#[test]
fn max_session_duration_arrives_as_a_string_and_is_range_checked() {
    let p = parse(with(data_scientist(), "MaxSessionDuration", json!("43200"))).unwrap();
    assert_eq!(p.max_session_duration, 43200);
    for bad in ["3599", "43201", "1h", ""] {
        let value = with(data_scientist(), "MaxSessionDuration", json!(bad));
        if bad.is_empty() {
            assert_eq!(parse(value).unwrap().max_session_duration, 3600);
        } else {
            error_at(&errors(value), "MaxSessionDuration");
        }
    }
}

#[test]
fn comma_separated_strings_and_empty_strings_are_lists() {
    let value = with(data_scientist(), "S3Buckets", json!("b-one, b-two,,b-one"));
    let p = parse(value).unwrap();
    assert_eq!(p.parameters.get(Param::S3Buckets), ["b-one", "b-two"]);
    let value = with(data_scientist(), "EcrRepositories", json!(""));
    assert!(
        parse(value)
            .unwrap()
            .parameters
            .get(Param::EcrRepositories)
            .is_empty()
    );
}

#[test]
fn unknown_property_suggests_the_nearest() {
    let value = with(data_scientist(), "PassRole", json!([ROLE]));
    let e = error_at(&errors(value), "PassRole");
    assert_eq!(e.help.unwrap(), "did you mean `PassRoles`?");
}

#[test]
fn cloudformation_own_properties_are_accepted() {
    let value = with(data_scientist(), "ServiceTimeout", json!("300"));
    assert!(parse(value).is_ok());
}

#[test]
fn activity_parameters_override_per_activity() {
    let other = "arn:aws:iam::123456789012:role/sagemaker-models";
    let value = with(
        data_scientist(),
        "ActivityParameters",
        json!({"Manage Models": {"PassRoles": [other]}}),
    );
    let p = parse(value).unwrap();
    let models = catalog::find_activity("manage-models").unwrap();
    let jobs = catalog::find_activity("manage-ml-jobs").unwrap();
    assert_eq!(p.param(models, Param::PassRoles), [other]);
    assert_eq!(p.param(jobs, Param::PassRoles), [ROLE]);
}

#[test]
fn activity_parameters_reject_unselected_activities_and_foreign_parameters() {
    let value = with(
        data_scientist(),
        "ActivityParameters",
        json!({
            "Manage Pipelines": {"PassRoles": [ROLE]},
            "Manage Experiments": {"S3Buckets": ["b-one"]},
            "Manage Models": {"PassRolez": [ROLE]},
        }),
    );
    let errors = errors(value);
    assert!(
        error_at(&errors, "ActivityParameters.Manage Pipelines")
            .message
            .contains("not selected")
    );
    assert!(
        error_at(&errors, "ActivityParameters.Manage Experiments.S3Buckets")
            .message
            .contains("takes no S3Buckets")
    );
    assert_eq!(
        error_at(&errors, "ActivityParameters.Manage Models.PassRolez")
            .help
            .unwrap(),
        "did you mean `PassRoles`?"
    );
}

#[test]
fn override_emptying_a_required_parameter_names_the_override() {
    let value = with(
        data_scientist(),
        "ActivityParameters",
        json!({"Manage Models": {"PassRoles": []}}),
    );
    let e = error_at(&errors(value), "ActivityParameters.Manage Models.PassRoles");
    assert_eq!(e.message, "required by activity `Manage Models`");
}

#[test]
fn unused_parameter_is_a_warning_not_an_error() {
    let value = with(data_scientist(), "AthenaWorkgroups", json!(["primary"]));
    let p = parse(value).unwrap();
    assert_eq!(
        p.warnings,
        ["AthenaWorkgroups is given but no selected activity uses it"]
    );
}

#[test]
fn deleting_console_policies_without_adoption_is_a_warning() {
    let value = with(data_scientist(), "DeleteConsolePolicies", json!("true"));
    let p = parse(value.clone()).unwrap();
    assert!(p.delete_console_policies);
    assert_eq!(
        p.warnings,
        ["DeleteConsolePolicies has no effect without AdoptExistingRole"]
    );
    let p = parse(with(value, "AdoptExistingRole", json!("true"))).unwrap();
    assert!(p.adopt_existing_role && p.warnings.is_empty());
}

#[test]
fn regions_must_belong_to_the_stack_partition() {
    let value = with(
        data_scientist(),
        "Regions",
        json!(["eu-west-1", "cn-north-1", "mars"]),
    );
    let errors = errors(value);
    assert!(
        error_at(&errors, "Regions[1]")
            .message
            .contains("not in the stack's partition `aws`")
    );
    assert!(
        error_at(&errors, "Regions[2]")
            .message
            .contains("not a region name")
    );
}

#[test]
fn policy_arns_must_be_iam_policies_of_the_partition() {
    let value = with(
        with(
            data_scientist(),
            "ManagedPolicyArns",
            json!([
                "arn:aws:iam::aws:policy/AmazonSageMakerReadOnly",
                "arn:aws:s3:::x"
            ]),
        ),
        "PermissionsBoundary",
        json!("arn:aws-cn:iam::123456789012:policy/boundary"),
    );
    let errors = errors(value);
    error_at(&errors, "ManagedPolicyArns[1]");
    error_at(&errors, "PermissionsBoundary");
    assert!(errors.iter().all(|e| e.property != "ManagedPolicyArns[0]"));
}

#[test]
fn path_must_be_an_iam_path() {
    for good in ["/", "/service-role/", "/ml/team-a/"] {
        assert_eq!(
            parse(with(data_scientist(), "Path", json!(good)))
                .unwrap()
                .path,
            good
        );
    }
    for bad in [
        "service-role",
        "/a",
        "//",
        "/a b/",
        "/sagemaker-team/",
        "/ml/team-sagemaker-x/",
    ] {
        error_at(&errors(with(data_scientist(), "Path", json!(bad))), "Path");
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let value = json!({
        "Persona": "DataScientist",
        "RoleNameSuffix": "has space",
        "MaxSessionDuration": "10",
        "S3Buckets": ["BAD"],
        "VpcSubnets": ["subnet-0123abcd"],
        "Tagz": [],
    });
    let errors = errors(value);
    let properties: Vec<&str> = errors.iter().map(|e| e.property.as_str()).collect();
    for expected in [
        "Tagz",
        "RoleNameSuffix",
        "MaxSessionDuration",
        "S3Buckets[0]",
        "VpcSecurityGroups",
        "PassRoles",
    ] {
        assert!(
            properties.contains(&expected),
            "{expected} missing from {properties:?}"
        );
    }
    let text = properties::PropertyErrors(errors).to_string();
    assert!(text.contains("invalid properties: "), "{text}");
}

#[test]
fn properties_must_be_an_object() {
    let e = error_at(&errors(json!(["Persona"])), "ResourceProperties");
    assert_eq!(e.message, "expected an object of properties");
}

#[test]
fn bucket_names_formatted_as_ip_addresses_are_refused() {
    let value = with(
        data_scientist(),
        "S3Buckets",
        json!(["192.168.1.1", "192-168-1-1", "10.0.0.1.data", "192.168.*.1"]),
    );
    let errors = errors(value);
    let e = error_at(&errors, "S3Buckets[0]");
    assert!(e.message.contains("formatted as an IP address"), "{e}");
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

fn aws_cn() -> StackContext {
    StackContext::from_stack_id(
        "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/ml/6b1e1a70-0000-11ef-0000-0a1b2c3d4e5f",
        "Role",
    )
    .unwrap()
}

#[test]
fn regions_must_be_regions_the_sdk_knows_in_the_stack_partition() {
    let value = with(
        data_scientist(),
        "Regions",
        json!(["mars-north-1", "us-east-8", "aws-global", "us-west-2"]),
    );
    let errors = errors(value);
    let mars = error_at(&errors, "Regions[0]");
    assert_eq!(
        mars.message,
        "`mars-north-1` is not a region of partition `aws` known to this release"
    );
    let typo = error_at(&errors, "Regions[1]");
    assert_eq!(typo.help.as_deref(), Some("did you mean `us-east-1`?"));
    error_at(&errors, "Regions[2]");
    assert!(errors.iter().all(|e| e.property != "Regions[3]"));

    let china = json!({"Persona": "Custom", "Activities": ["S3 Full Access"], "Regions": ["cn-north-1", "cn-northwest-1"]});
    let p = properties::parse(&china, &aws_cn()).unwrap();
    assert_eq!(p.regions, ["cn-north-1", "cn-northwest-1"]);
}

#[test]
fn pass_roles_with_wildcards_are_refused_as_an_escalation() {
    let value = with(
        data_scientist(),
        "PassRoles",
        json!([
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:iam::123456789012:role/team-*",
            "arn:aws:iam::123456789012:role/ml/a?b",
            ROLE
        ]),
    );
    let errors = errors(value);
    for at in ["PassRoles[0]", "PassRoles[1]", "PassRoles[2]"] {
        let e = error_at(&errors, at);
        assert!(e.message.contains("wildcards are refused"), "{e}");
    }
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn pass_roles_of_another_partition_say_the_partition_differs() {
    let value = with(
        data_scientist(),
        "PassRoles",
        json!(["arn:aws-cn:iam::123456789012:role/sagemaker-compute"]),
    );
    let e = error_at(&errors(value), "PassRoles[0]");
    assert_eq!(
        e.message,
        "`arn:aws-cn:iam::123456789012:role/sagemaker-compute` is in partition `aws-cn`, but the stack is in partition `aws`"
    );
}

#[test]
fn arn_regions_must_be_regions_of_the_stack_partition() {
    let value = json!({
        "Persona": "SageMakerCompute", "S3Buckets": ["ml-data"],
        "EcrRepositories": [
            "arn:aws:ecr:cn-north-1:123456789012:repository/a",
            "arn:aws:ecr:mars-north-1:123456789012:repository/b",
            "arn:aws:ecr:*:123456789012:repository/c",
        ],
    });
    let errors = errors(value);
    assert!(
        error_at(&errors, "EcrRepositories[0]")
            .message
            .contains("region `cn-north-1` is not in the stack's partition `aws`")
    );
    error_at(&errors, "EcrRepositories[1]");
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn text_values_must_be_strings_and_null_counts_as_absent() {
    let value = json!({
        "Persona": "Custom", "Activities": ["S3 Full Access"],
        "RoleNameSuffix": 2024, "Description": true, "S3Buckets": [7],
        "MaxSessionDuration": 7200, "Path": null, "PassRoles": null,
    });
    let errors = errors(value);
    for at in ["RoleNameSuffix", "Description", "S3Buckets[0]"] {
        assert_eq!(error_at(&errors, at).message, "expected a string");
    }
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let value = json!({"Persona": "Custom", "Activities": ["S3 Full Access"], "MaxSessionDuration": 7200.0, "Path": null});
    let p = parse(value).unwrap();
    assert_eq!((p.max_session_duration, p.path.as_str()), (7200, "/"));
}

#[test]
fn tag_fields_other_than_key_and_value_are_refused() {
    let tags = json!([{"Key": "team", "value": "a"}]);
    let e = error_at(
        &errors(with(data_scientist(), "Tags", tags)),
        "Tags[0].value",
    );
    assert_eq!(e.help.as_deref(), Some("did you mean `Value`?"));
}

/// The table itself: what it shows users holds.
mod table {
    use super::*;
    use persona_role::properties::rules::{Forbidden, Rule, Text};
    use persona_role::properties::table::{self, Kind};

    /// Every text rule, and whether it judges list items.
    fn texts() -> Vec<(&'static Text, bool)> {
        table::PROPERTIES
            .iter()
            .flat_map(|p| {
                let texts = match p.rule {
                    Rule::Text(text) => vec![text],
                    Rule::Arn(arn) => vec![&arn.name],
                    Rule::Tag(tag) => vec![&tag.key, &tag.value],
                    _ => vec![],
                };
                texts.into_iter().map(move |t| (t, p.kind.is_list()))
            })
            .collect()
    }

    #[test]
    fn every_example_is_accepted_where_it_stands() {
        for property in table::PROPERTIES {
            let example: Value = serde_json::from_str(property.example)
                .unwrap_or_else(|e| panic!("{}: {e}", property.name));
            let mut value = json!({
                "Persona": "Custom",
                "Activities": ["Manage ML Jobs", "Manage Models", "S3 Bucket Access"],
                "PassRoles": [ROLE], "S3Buckets": ["ml-data"],
            });
            if property.kind == Kind::Map || property.name.ends_with("Activities") {
                value = data_scientist();
            }
            value[property.name] = example;
            let errors = properties::parse(&value, &context())
                .err()
                .map(|e| e.0)
                .unwrap_or_default();
            assert!(
                errors
                    .iter()
                    .all(|e| !e.property.starts_with(property.name)),
                "{}: {errors:#?}",
                property.name
            );
        }
    }

    #[test]
    fn every_default_follows_its_rule() {
        for property in table::PROPERTIES {
            if let Some(default) = property.default {
                property.rule.check(default, &context()).unwrap();
            }
        }
    }

    #[test]
    fn rule_data_is_consistent() {
        for (text, in_list) in texts() {
            if let Some(w) = text.wildcard {
                assert!(
                    text.chars.contains(w),
                    "{}: wildcard outside its set",
                    text.noun
                );
            }
            if let Some(edges) = text.edges {
                for (lo, hi) in edges.ranges() {
                    assert!(
                        text.chars.contains(lo) && text.chars.contains(hi),
                        "{}",
                        text.noun
                    );
                }
            }
            for forbidden in text.forbidden {
                match forbidden {
                    // Refused by the set already; the data only adds the reason.
                    Forbidden::Chars { chars, .. } => {
                        assert!(
                            !chars.chars().any(|c| text.chars.contains(c)),
                            "{}",
                            text.noun
                        )
                    }
                    // The schema's lookahead scans the set's characters for it.
                    Forbidden::Substring { text: t, .. } => {
                        assert!(t.chars().all(|c| text.chars.contains(c)), "{}", text.noun)
                    }
                    Forbidden::Prefix { .. } | Forbidden::IpAddress => {}
                }
            }
            // Comma-separated lists leave `,` out of items, so it must stand alone in a set.
            for (lo, hi) in text.chars.ranges().into_iter().filter(|_| in_list) {
                assert!(lo == hi || !(lo..=hi).contains(&','), "{}", text.noun);
            }
        }
    }
}

mod guardrails {
    use super::*;
    use persona_role::guardrails::Guardrails;
    use persona_role::plan;

    const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/ml-boundary";

    fn guardrails() -> Guardrails {
        Guardrails::from_values(
            Some(BOUNDARY),
            Some("arn:aws:iam::aws:policy/AmazonSageMaker*"),
        )
    }

    #[test]
    fn required_boundary_is_applied_when_absent() {
        let plan = plan::plan_guarded(&data_scientist(), &context(), &guardrails()).unwrap();
        assert_eq!(plan.role.permissions_boundary.as_deref(), Some(BOUNDARY));
    }

    #[test]
    fn a_different_boundary_is_refused_naming_the_required_one() {
        let value = with(
            data_scientist(),
            "PermissionsBoundary",
            json!("arn:aws:iam::123456789012:policy/other"),
        );
        let error = plan::plan_guarded(&value, &context(), &guardrails()).unwrap_err();
        let reason = error.to_string();
        assert!(reason.starts_with("PermissionsBoundary: `arn:aws:iam::123456789012:policy/other` is not the permissions boundary this function requires"), "{reason}");
        assert!(reason.contains(BOUNDARY));
    }

    #[test]
    fn managed_policies_outside_the_allow_list_are_refused() {
        let value = with(
            data_scientist(),
            "ManagedPolicyArns",
            json!([
                "arn:aws:iam::aws:policy/AdministratorAccess",
                "arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"
            ]),
        );
        let error = plan::plan_guarded(&value, &context(), &guardrails()).unwrap_err();
        let reason = error.to_string();
        assert!(reason.starts_with("ManagedPolicyArns[0]: `arn:aws:iam::aws:policy/AdministratorAccess` is not on this function's AllowedManagedPolicyArns"), "{reason}");
        assert!(!reason.contains("ManagedPolicyArns[1]"), "{reason}");
    }

    #[test]
    fn activities_attaching_policies_outside_the_allow_list_are_refused_by_name() {
        let narrow = Guardrails::from_values(
            None,
            Some("arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"),
        );
        let value = json!({"Persona": "Custom", "Activities": ["SageMaker Canvas Core Access"]});
        let reason = plan::plan_guarded(&value, &context(), &narrow)
            .unwrap_err()
            .to_string();
        assert!(
            reason.starts_with("Activities: activity `SageMaker Canvas Core Access` attaches `arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess`"),
            "{reason}"
        );
        // The template's default allow-list is the Canvas activities' policies, and no more.
        let default = Guardrails::from_values(
            None,
            Some(
                "arn:*:iam::aws:policy/AmazonSageMakerCanvasFullAccess,arn:*:iam::aws:policy/AmazonSageMakerCanvasDataPrepFullAccess,arn:*:iam::aws:policy/AmazonSageMakerCanvasAIServicesAccess,arn:*:iam::aws:policy/service-role/AmazonSageMakerCanvasDirectDeployAccess",
            ),
        );
        assert!(plan::plan_guarded(&value, &context(), &default).is_ok());
        let full = with(
            data_scientist(),
            "ManagedPolicyArns",
            json!(["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]),
        );
        let reason = plan::plan_guarded(&full, &context(), &default)
            .unwrap_err()
            .to_string();
        assert!(
            reason.starts_with("ManagedPolicyArns[0]: `arn:aws:iam::aws:policy/AmazonSageMakerFullAccess` is not on this function's AllowedManagedPolicyArns"),
            "{reason}"
        );
    }

    #[test]
    fn an_empty_allow_list_allows_no_managed_policies_besides_the_roles_own() {
        let g = Guardrails::from_values(None, Some(""));
        let value = with(
            data_scientist(),
            "ManagedPolicyArns",
            json!(["arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"]),
        );
        let reason = plan::plan_guarded(&value, &context(), &g)
            .unwrap_err()
            .to_string();
        assert!(
            reason.contains("this function allows no managed policies besides each role's own"),
            "{reason}"
        );
        assert!(plan::plan_guarded(&data_scientist(), &context(), &g).is_ok());
    }

    fn passing(allowed: &str) -> Guardrails {
        Guardrails::from_values(Some(BOUNDARY), None).with_pass_roles(Some(allowed))
    }

    /// The roles a plan must show to be this stack's own before it is applied, by property:
    /// those the operator does not list (a listed one is read too, but only to refuse another
    /// stack's).
    fn to_prove(plan: &plan::Plan) -> Vec<(String, String)> {
        plan.passed_roles_to_check
            .iter()
            .filter(|p| !p.listed)
            .map(|p| (p.property.clone(), p.arn.clone()))
            .collect()
    }

    #[test]
    fn roles_to_pass_outside_the_allowed_must_be_this_stacks_at_their_index() {
        let own = "arn:aws:iam::123456789012:role/*/sagemaker-*,arn:aws:iam::123456789012:role/sagemaker-*";
        let console = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000";
        let value = with(
            data_scientist(),
            "PassRoles",
            json!(format!(
                "arn:aws:iam::123456789012:role/sagemaker-compute, {console}"
            )),
        );
        let plan = plan::plan_guarded(&value, &context(), &passing(own)).unwrap();
        assert_eq!(
            to_prove(&plan),
            [("PassRoles[1]".to_owned(), console.to_owned())],
            "a listed role need not be this stack's; an unlisted one must be, at its index"
        );
        // None listed (the template's default): every role passed is proven, but the role itself.
        let plan = plan::plan_guarded(&value, &context(), &passing("")).unwrap();
        assert_eq!(to_prove(&plan).len(), 2);
        let itself = with(
            data_scientist(),
            "PassRoles",
            json!([plan.role.arn.clone()]),
        );
        let plan = plan::plan_guarded(&itself, &context(), &passing("")).unwrap();
        assert!(to_prove(&plan).is_empty(), "{:?}", to_prove(&plan));
        // Unset (offline) allows any: nothing to prove.
        let g = Guardrails::from_values(Some(BOUNDARY), None);
        assert!(to_prove(&plan::plan_guarded(&value, &context(), &g).unwrap()).is_empty());
    }

    #[test]
    fn roles_an_activity_passes_outside_the_allowed_are_proven_under_its_name() {
        let value = json!({
            "Persona": "MLOps",
            "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
            "ActivityParameters": {"manage-pipelines": {"PassRoles": [
                "arn:aws:iam::123456789012:role/sagemaker-pipeline",
                "arn:aws:iam::123456789012:role/team-admin"
            ]}},
        });
        let plan = plan::plan_guarded(
            &value,
            &context(),
            &passing("arn:aws:iam::123456789012:role/sagemaker-*"),
        )
        .unwrap();
        assert_eq!(
            to_prove(&plan),
            [(
                "ActivityParameters.manage-pipelines.PassRoles[1]".to_owned(),
                "arn:aws:iam::123456789012:role/team-admin".to_owned()
            )]
        );
    }

    #[test]
    fn a_role_whose_path_hides_sagemaker_is_refused_even_when_listed() {
        let value = with(
            data_scientist(),
            "PassRoles",
            json!([
                "arn:aws:iam::123456789012:role/sagemaker-compute",
                "arn:aws:iam::123456789012:role/SageMaker-Ops/PlatformAdmin"
            ]),
        );
        let reason = plan::plan_guarded(
            &value,
            &context(),
            &passing("arn:aws:iam::123456789012:role/*"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            reason.starts_with("PassRoles[1]: `arn:aws:iam::123456789012:role/SageMaker-Ops/PlatformAdmin` has `sagemaker-` in its path"),
            "{reason}"
        );
    }

    #[test]
    fn without_a_boundary_to_give_a_deployed_function_plans_no_role() {
        let g = Guardrails {
            boundary_missing: true,
            ..Guardrails::default()
        };
        let reason = plan::plan_guarded(&data_scientist(), &context(), &g)
            .unwrap_err()
            .to_string();
        assert!(
            reason.starts_with("PERSONA_ROLE_REQUIRED_BOUNDARY: the function's environment names no permissions boundary"),
            "{reason}"
        );
    }
}

#[test]
fn lists_longer_than_any_role_could_hold_are_refused_before_their_items_are_judged() {
    let huge: Vec<String> = (0..50_000).map(|i| format!("not a bucket {i}!")).collect();
    let found = errors(with(data_scientist(), "S3Buckets", json!(huge)));
    let error = error_at(&found, "S3Buckets");
    assert_eq!(
        error.message,
        format!(
            "50000 values; no role can hold more than {}",
            properties::MAX_LIST_ITEMS
        )
    );
    // Not one item was judged: no `S3Buckets[i]` error among 50,000 invalid names.
    assert_eq!(found.len(), 1, "{found:#?}");

    let text = "a,".repeat(properties::MAX_LIST_TEXT / 2 + 1);
    let found = errors(with(data_scientist(), "S3Buckets", json!(text)));
    assert!(
        error_at(&found, "S3Buckets").message.ends_with(&format!(
            "characters; no role can hold more than {}",
            properties::MAX_LIST_TEXT
        )),
        "{found:#?}"
    );

    let long = json!({"Query Athena Workgroups": {"AthenaWorkgroups": vec!["wg"; properties::MAX_LIST_ITEMS + 1]}});
    let value = with(
        with(
            data_scientist(),
            "AddActivities",
            json!(["Query Athena Workgroups"]),
        ),
        "ActivityParameters",
        long,
    );
    let found = errors(with(value, "AthenaWorkgroups", json!(["wg"])));
    assert!(
        error_at(
            &found,
            "ActivityParameters.Query Athena Workgroups.AthenaWorkgroups"
        )
        .message
        .starts_with(&format!("{} values", properties::MAX_LIST_ITEMS + 1)),
        "{found:#?}"
    );
}

#[test]
fn values_that_together_exceed_every_roles_policies_are_refused_before_planning() {
    // Each list is within its own bound; together they hold more than IAM's largest role.
    let buckets: Vec<String> = (0..4_000)
        .map(|i| format!("ml-data-bucket-{i:05}"))
        .collect();
    let groups: Vec<String> = (0..4_000)
        .map(|i| format!("analytics-workgroup-{i:05}"))
        .collect();
    let value = with(
        with(
            with(data_scientist(), "S3Buckets", json!(buckets)),
            "AddActivities",
            json!(["Query Athena Workgroups"]),
        ),
        "AthenaWorkgroups",
        json!(groups),
    );
    let found = errors(value);
    let error = error_at(&found, "ResourceProperties");
    assert!(
        error.message.starts_with("the parameters' values take ")
            && error.message.ends_with(&format!(
                "no role's policies hold more than {}",
                properties::MAX_POLICY_CHARS
            )),
        "{error:?}"
    );
    assert_eq!(properties::MAX_POLICY_CHARS, 133_120);
}
