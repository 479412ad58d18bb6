//! `persona-role discover` against moto seeded with roles exactly as the Role Manager console
//! made them: it finds them (across ListRoles pages), declares each with its persona,
//! activities and parameters, lists what it cannot map, writes a cfn-lint clean template, makes
//! only read calls, and each declaration, once the role is converged in place, shows no change
//! in `diff --live`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::console as migration;
use crate::support;

use migration::{ACCOUNT, REGION, Seeded, binary, compute_role_arn};
use persona_role::yaml::long_form;
use serde_json::{Value, json};

/// Runs discover for the given roles and returns the template (long form) and stderr.
fn discover(roles: &[&str], extra: &[&str]) -> (Value, String) {
    let mut args = vec!["discover"];
    for role in roles {
        args.extend(["--role", role]);
    }
    args.extend(extra);
    let output = binary(&args);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", output.stdout));
    (long_form(&yaml), output.stderr)
}

/// The resource declaring `role_name`.
fn resource<'a>(template: &'a Value, role_name: &str) -> &'a Value {
    template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| {
            r["Metadata"]["PersonaRoleDiscover"]["Role"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(&format!("/{role_name}")))
        })
        .unwrap_or_else(|| panic!("{role_name} not declared in {template:#}"))
}

/// The properties the parser plans: without ServiceToken (an intrinsic here) and without
/// AdoptExistingRole, which the parser does not know yet.
fn planned_properties(resource: &Value) -> Value {
    let mut properties = resource["Properties"].as_object().unwrap().clone();
    properties.remove("ServiceToken");
    assert_eq!(
        properties.get("AdoptExistingRole"),
        Some(&json!("true")),
        "every declaration adopts"
    );
    Value::Object(properties)
}

struct Console {
    data_scientist: Seeded,
    mlops: Seeded,
    compute: Seeded,
    domain: Seeded,
}

/// The walkthrough's three roles, and a domain execution role of the 2024 console with the
/// MLflow policies, passing itself (role-manager-research E1).
async fn seed_console(tag: &str) -> Console {
    let domain_name = format!("ExecutionRole-{}", migration::unique_suffix(tag));
    let domain_arn = format!("arn:aws:iam::{ACCOUNT}:role/service-role/SageMaker-{domain_name}");
    let studio_spaces = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "SMStudioSpaces", "Effect": "Allow",
         "Action": ["sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace", "sagemaker:DescribeSpace",
            "sagemaker:CreateApp", "sagemaker:DeleteApp", "sagemaker:DescribeApp"],
         "Resource": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:*/*")},
        {"Sid": "SMStudioPresignedUrl", "Effect": "Allow", "Action": "sagemaker:CreatePresignedDomainUrl",
         "Resource": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:user-profile/${{sagemaker:DomainId}}/${{sagemaker:UserProfileName}}")},
        {"Sid": "SMStudioList", "Effect": "Allow", "Action": ["sagemaker:ListApps", "sagemaker:ListSpaces"], "Resource": "*"}]});
    Console {
        data_scientist: migration::seed_console_data_scientist(&migration::unique_suffix(
            &format!("{tag}-DataScientist"),
        ))
        .await,
        mlops: migration::seed_console_mlops(&migration::unique_suffix(&format!("{tag}-MLOps")))
            .await,
        compute: migration::seed_console_compute(&migration::unique_suffix(&format!(
            "{tag}-Compute"
        )))
        .await,
        domain: migration::seed_console_role(
            &domain_name,
            &[
                ("SM_StudioAppPermissions", studio_spaces),
                (
                    "SM_CommonJobManagement",
                    migration::job_management(std::slice::from_ref(&domain_arn)),
                ),
                ("SM_MLflowServerAccess", migration::mlflow_server_access()),
                ("SM_MLflowManagement", migration::mlflow_management()),
                (
                    "SM_MLflowTrackingExecutionRole",
                    migration::mlflow_tracking_execution(),
                ),
            ],
        )
        .await,
    }
}

#[test]
fn console_roles_are_found_declared_lint_clean_and_converge_to_no_change() {
    let rt = migration::runtime();
    let console = rt.block_on(seed_console("found"));
    let names = [
        console.data_scientist.role_name.as_str(),
        console.mlops.role_name.as_str(),
        console.compute.role_name.as_str(),
        console.domain.role_name.as_str(),
    ];
    let output = binary(&[
        "discover", "--role", names[0], "--role", names[1], "--role", names[2], "--role", names[3],
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    support::assert_cfn_lint_clean(&output.stdout, "discovered.yaml");
    let template = long_form(&serde_yaml_ng::from_str(&output.stdout).unwrap());
    assert!(
        output.stderr.ends_with(
            "4 roles declared (0 with something not mapped: review before deploying), 0 skipped\n"
        ),
        "{}",
        output.stderr
    );

    let pass = json!([compute_role_arn()]);
    let ds = resource(&template, names[0]);
    assert_eq!(ds["Type"], "Custom::SageMakerPersonaRole");
    assert_eq!(ds["DeletionPolicy"], "Retain");
    assert_eq!(
        ds["Metadata"]["PersonaRoleDiscover"]["MadeBy"],
        "SageMaker Role Manager"
    );
    assert_eq!(
        planned_properties(ds),
        json!({
            "AdoptExistingRole": "true",
            "Persona": "DataScientist",
            "RoleNameSuffix": names[0].trim_start_matches("SageMaker-"),
            "Path": "/service-role/",
            "Regions": [REGION],
            "PassRoles": pass,
            "S3Buckets": ["ml-team-data", "ml-team-scratch"],
        })
    );
    assert_eq!(
        planned_properties(resource(&template, names[1])),
        json!({
            "AdoptExistingRole": "true",
            "Persona": "MLOps",
            "RoleNameSuffix": names[1].trim_start_matches("SageMaker-"),
            "Path": "/service-role/",
            "Regions": [REGION],
            "PassRoles": pass,
        })
    );
    assert_eq!(
        planned_properties(resource(&template, names[2])),
        json!({
            "AdoptExistingRole": "true",
            "Persona": "SageMakerCompute",
            "RoleNameSuffix": names[2].trim_start_matches("SageMaker-"),
            "Path": "/service-role/",
            "Regions": [REGION],
            "S3Buckets": ["ml-team-data"],
            "EcrRepositories": [format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/training")],
        })
    );
    let domain = resource(&template, names[3]);
    assert_eq!(
        planned_properties(domain),
        json!({
            "AdoptExistingRole": "true",
            "Persona": "Custom",
            "RoleNameSuffix": names[3].trim_start_matches("SageMaker-"),
            "Path": "/service-role/",
            "Activities": ["Run Studio Applications", "Manage ML Jobs", "Use MLflow",
                "Manage MLflow Tracking Servers", "Access required to AWS Services for MLflow"],
            "Regions": [REGION],
            "PassRoles": [format!("arn:aws:iam::{ACCOUNT}:role/service-role/{}", names[3])],
            "ActivityParameters": {"Run Studio Applications": {"PassRoles": []}},
        })
    );
    assert!(
        domain["Metadata"]["PersonaRoleDiscover"]["Notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with(
                "Manage MLflow Tracking Servers: Role Manager's policy had no PassRoles"
            )),
        "{domain:#}"
    );

    // Each declaration plans, and a role converged to it in place keeps its RoleId and shows
    // no change in `diff --live`.
    let dir = std::env::temp_dir().join(format!("persona-role-found-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (seeded, name) in [
        (&console.data_scientist, names[0]),
        (&console.mlops, names[1]),
        (&console.compute, names[2]),
        (&console.domain, names[3]),
    ] {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            serde_yaml_ng::to_string(&planned_properties(resource(&template, name))).unwrap(),
        )
        .unwrap();
        let before = binary(&["diff", "--live", name, file.to_str().unwrap()]);
        assert_eq!(
            before.code, 1,
            "{name}: adoption changes the role: {}",
            before.stderr
        );
        let role_id = rt.block_on(migration::converge_in_place(name, &file, "Adopted"));
        assert_eq!(role_id, seeded.role_id, "{name} keeps its RoleId");
        let after = binary(&["diff", "--live", name, file.to_str().unwrap()]);
        assert_eq!(after.code, 0, "{name}: {}{}", after.stdout, after.stderr);
    }
}

#[test]
fn every_role_is_listed_across_pages_with_progress_on_stderr() {
    let rt = migration::runtime();
    let tag = migration::unique_suffix("paged");
    rt.block_on(async {
        let iam = support::checker();
        // More than one ListRoles page (100 roles) of roles nothing here made.
        for i in 0..105 {
            iam.create_role()
                .role_name(format!("app-{tag}-{i}"))
                .assume_role_policy_document(migration::console_trust().to_string())
                .send()
                .await
                .unwrap();
        }
    });
    let seeded = rt.block_on(migration::seed_console_compute(&format!("{tag}-Compute")));
    let output = binary(&["discover"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let lines: Vec<&str> = output.stderr.lines().collect();
    let pages: Vec<usize> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("listing roles: "))
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(pages.len() >= 2, "one progress line per page: {lines:?}");
    assert!(*pages.last().unwrap() >= 106, "{pages:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[1/") && l.contains("] read ")),
        "{lines:?}"
    );
    let template = long_form(&serde_yaml_ng::from_str(&output.stdout).unwrap());
    resource(&template, &seeded.role_name);
    assert!(
        !output.stdout.contains(&format!("app-{tag}-")),
        "roles not named SageMaker-… are not read"
    );
}

#[test]
fn a_hand_edited_console_role_lists_what_cannot_be_mapped_and_keeps_unknown_policies() {
    let rt = migration::runtime();
    let name = migration::unique_suffix("Edited");
    let mut jobs = migration::job_management(&[compute_role_arn()]);
    jobs["Statement"].as_array_mut().unwrap().push(
        json!({"Sid": "ByHand", "Effect": "Allow", "Action": ["sagemaker:CreateEndpoint", "sagemaker:DescribeTrainingJob"], "Resource": "*"}),
    );
    let seeded = rt.block_on(migration::seed_console_role(
        &name,
        &[
            ("SM_CommonJobManagement", jobs),
            (
                "SM_ComputeExecutionRole",
                migration::compute_execution(
                    &["ml-team-data", "studio-bucket/sharing"],
                    &[&format!(
                        "arn:aws:ecr:{REGION}:{ACCOUNT}:repository/training"
                    )],
                ),
            ),
        ],
    ));
    let extra = rt.block_on(async {
        let iam = support::checker();
        let policy = iam
            .create_policy()
            .policy_name(format!("team-extra-{name}"))
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        let arn = policy.policy().unwrap().arn().unwrap().to_owned();
        iam.attach_role_policy()
            .role_name(&seeded.role_name)
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name(&seeded.role_name)
            .policy_name("by-hand")
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        arn
    });
    let (template, stderr) = discover(&[&seeded.role_name], &[]);
    let declared = resource(&template, &seeded.role_name);
    let not_mapped: Vec<&str> = declared["Metadata"]["PersonaRoleDiscover"]["NotMapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let jobs_policy = seeded.policy_arns[0].rsplit('/').next().unwrap();
    let compute_policy = seeded.policy_arns[1].rsplit('/').next().unwrap();
    for expected in [
        format!("managed policy `{jobs_policy}` statement `ByHand`: sagemaker:CreateEndpoint not in Role Manager's `SM_CommonJobManagement` policy (edited by hand?); not declared"),
        format!("managed policy `{compute_policy}` statement #1: resource `arn:aws:s3:::studio-bucket/sharing` maps to no parameter of `Access Required AWS Services`; not declared"),
        format!("managed policy `team-extra-{name}` is not a policy of an activity: kept attached through ManagedPolicyArns ({extra})"),
        "inline policy `by-hand` (1 statements): not a policy this project or Role Manager makes; not declared".to_owned(),
    ] {
        assert!(not_mapped.contains(&expected.as_str()), "{expected}\nnot in {not_mapped:#?}");
        assert!(stderr.contains(&format!("  not mapped: {expected}")), "{stderr}");
    }
    assert_eq!(declared["Properties"]["ManagedPolicyArns"], json!([extra]));
    assert_eq!(declared["Properties"]["S3Buckets"], json!(["ml-team-data"]));
    assert!(stderr.contains("(1 with something not mapped: review before deploying)"));
}

#[test]
fn roles_a_stack_owns_are_skipped_unless_asked_and_then_declared_as_they_are() {
    let rt = migration::runtime();
    let name = migration::unique("owned");
    let properties = json!({
        "Persona": "DataScientist",
        "RoleNameSuffix": name.trim_start_matches("sagemaker-"),
        "PassRoles": [format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-compute")],
        "S3Buckets": ["ml-team-data"],
        "AddActivities": ["Query Athena Workgroups"],
        "AthenaWorkgroups": ["analytics"],
        "Tags": [{"Key": "team", "Value": "fraud"}],
        "MaxSessionDuration": "7200",
    });
    rt.block_on(migration::create_with_handler(&properties, "FraudScience"));

    let output = binary(&["discover", "--role", &name]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(
        output.stdout.is_empty(),
        "nothing to declare: {}",
        output.stdout
    );
    assert!(
        output.stderr.contains(&format!(
            "skipped {name}: owned by FraudScience of stack {}, which declares it already (--include-owned declares it anyway)",
            migration::STACK_ID
        )),
        "{}",
        output.stderr
    );

    let (template, _) = discover(&[&name], &["--include-owned"]);
    let declared = &template["Resources"]["FraudScience"];
    assert!(
        declared["Metadata"]["PersonaRoleDiscover"]
            .get("NotMapped")
            .is_none(),
        "{declared:#}"
    );
    assert_eq!(
        planned_properties(declared),
        json!({
            "AdoptExistingRole": "true",
            "Persona": "DataScientist",
            "RoleNameSuffix": name.trim_start_matches("sagemaker-"),
            "MaxSessionDuration": "7200",
            "AddActivities": ["Query Athena Workgroups"],
            "PassRoles": [format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-compute")],
            "S3Buckets": ["ml-team-data"],
            "AthenaWorkgroups": ["analytics"],
            "Tags": [{"Key": "team", "Value": "fraud"}],
        })
    );
}

#[test]
fn properties_files_carry_what_was_not_mapped_as_comments() {
    let rt = migration::runtime();
    let seeded = rt.block_on(migration::seed_console_role(
        &migration::unique_suffix("Files"),
        &[(
            "SageMakerS3BucketPolicyTemplate",
            migration::s3_buckets(&["ml-team-data", "studio-bucket/sharing"]),
        )],
    ));
    let dir = std::env::temp_dir().join(format!("persona-role-files-{}", std::process::id()));
    let output = binary(&[
        "discover",
        "--role",
        &seeded.role_name,
        "--properties-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stdout.is_empty());
    let file = dir.join(format!("{}.yaml", seeded.role_name));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with(&format!(
            "# arn:aws:iam::{ACCOUNT}:role/service-role/{} (SageMaker Role Manager)\n# not mapped: ",
            seeded.role_name
        )),
        "{text}"
    );
    let properties: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(properties["AdoptExistingRole"], "true");
    assert_eq!(properties["Activities"], json!(["S3 Bucket Access"]));
    let plan = binary(&["plan", file.to_str().unwrap(), "--account", ACCOUNT]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
}

#[test]
fn discover_makes_only_read_calls() {
    let rt = migration::runtime();
    let console = rt.block_on(seed_console("read-only"));
    let calls = support::CallLog::default();
    let iam = persona_role::iam::SdkIam::new(support::iam_client(Some(&calls)));
    let args = {
        use clap::Parser;
        let cli =
            persona_role::cli::Cli::try_parse_from(["persona-role", "discover", "--include-owned"])
                .unwrap();
        match cli.command {
            persona_role::cli::Command::Discover(args) => args,
            _ => unreachable!(),
        }
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let found = rt
        .block_on(persona_role::cli::discover::discover(
            &iam, &args, &mut out, &mut err,
        ))
        .unwrap();
    assert!(
        found
            .declared
            .iter()
            .any(|d| d.role_name == console.domain.role_name)
    );
    assert!(
        calls.calls().iter().any(|c| c == "ListRoles"),
        "{:?}",
        calls.calls()
    );
    assert_eq!(calls.mutating(), Vec::<String>::new(), "discover wrote");
}

#[test]
fn iam_unreachable_exits_2_with_the_reason() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .arg("discover")
        .env("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: IAM ListRoles on `*` failed"),
        "{stderr}"
    );
}

/// `template.yaml` deployed with its defaults, but for a migration: adoption on, for the stack
/// that declares the discovered roles (the samples' `ml-personas`).
const MIGRATION: [(&str, &str); 2] = [("AllowAdoption", "true"), ("AdoptingStacks", "ml-personas")];

/// Another team's stack of the account and region.
const OTHER_STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/other-team/0c1d2e3f-8b1e-11ef-9c4d-0a1b2c3d4e5f";

/// A resource's properties as CloudFormation sends them: `!GetAtt X.Arn` resolved from the
/// answers so far, the imported ServiceToken, every scalar a string.
fn resolved(properties: &Value, arns: &std::collections::BTreeMap<String, String>) -> Value {
    match properties {
        Value::Object(map) if map.contains_key("Fn::GetAtt") => {
            let logical_id = map["Fn::GetAtt"][0].as_str().unwrap();
            json!(arns[logical_id])
        }
        Value::Object(map) if map.contains_key("Fn::ImportValue") => {
            json!("arn:aws:lambda:us-east-1:123456789012:function:persona-role")
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolved(v, arns)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolved(v, arns)).collect()),
        other => other.clone(),
    }
}

/// Whether a resource's properties name another resource (`Fn::GetAtt`) not yet answered.
fn waits_for(properties: &Value, answered: &std::collections::BTreeMap<String, String>) -> bool {
    match properties {
        Value::Object(map) => match map.get("Fn::GetAtt") {
            Some(target) => !answered.contains_key(target[0].as_str().unwrap()),
            None => map.values().any(|v| waits_for(v, answered)),
        },
        Value::Array(items) => items.iter().any(|v| waits_for(v, answered)),
        _ => false,
    }
}

/// The migration a Role Manager customer makes, with the function as `template.yaml` deploys it
/// (adoption on for this stack, every other parameter its default): the console's Compute role
/// and a Data Scientist that passes it are discovered, declared in one stack (the Data
/// Scientist passing `!GetAtt` of the Compute role's resource) and adopted, in the order
/// CloudFormation follows; the Data Scientist may then pass its Compute role, in the function
/// and in IAM (the boundary, decided by the simulator); another team's stack can neither adopt
/// them, pass them, nor attach their policies.
#[test]
fn a_console_data_scientist_and_its_compute_role_move_into_one_stack_as_deployed() {
    let rt = migration::runtime();
    let compute = rt.block_on(migration::seed_console_compute(&migration::unique_suffix(
        "move-Compute",
    )));
    let compute_arn = format!(
        "arn:aws:iam::{ACCOUNT}:role/service-role/{}",
        compute.role_name
    );
    let scientist = rt.block_on(migration::seed_console_data_scientist_passing(
        &migration::unique_suffix("move-DataScientist"),
        &compute_arn,
    ));
    let output = binary(&[
        "discover",
        "--role",
        &scientist.role_name,
        "--role",
        &compute.role_name,
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let template = long_form(&serde_yaml_ng::from_str(&output.stdout).unwrap());
    let compute_id =
        resource(&template, &compute.role_name)["Metadata"]["PersonaRoleDiscover"].clone();
    let resources = template["Resources"].as_object().unwrap();
    let compute_logical = resources
        .iter()
        .find(|(_, r)| r["Metadata"]["PersonaRoleDiscover"] == compute_id)
        .map(|(id, _)| id.clone())
        .unwrap();
    assert_eq!(
        resource(&template, &scientist.role_name)["Properties"]["PassRoles"],
        json!([{"Fn::GetAtt": [compute_logical, "Arn"]}]),
        "the Data Scientist passes the Compute role the stack declares by reference"
    );

    rt.block_on(async {
        let recorder = support::Recorder::start();
        let handler = support::handler_with(
            support::iam_client(None),
            support::deployed_settings(&MIGRATION),
        );
        // CloudFormation's order: a resource after those its properties name.
        let mut arns = std::collections::BTreeMap::new();
        let mut events = std::collections::BTreeMap::new();
        while arns.len() < resources.len() {
            let (logical_id, declared) = resources
                .iter()
                .find(|(id, r)| !arns.contains_key(*id) && !waits_for(&r["Properties"], &arns))
                .expect("no resource is ready: a cycle");
            let properties = resolved(&declared["Properties"], &arns);
            let event = support::create_event(logical_id, properties, "move", &recorder);
            let answer = support::invoke(&handler, &event, &recorder).await;
            assert_eq!(answer["Status"], "SUCCESS", "{logical_id}: {answer}");
            arns.insert(
                logical_id.clone(),
                answer["Data"]["Arn"].as_str().unwrap().to_owned(),
            );
            events.insert(logical_id.clone(), event);
        }
        assert_eq!(arns[&compute_logical], compute_arn, "adopted in place");
        for (logical_id, event) in &events {
            let name = arns[logical_id].rsplit('/').next().unwrap();
            support::assert_role_converged(name, event).await;
        }

        // The Data Scientist may pass its Compute role: its own policy names it, and the
        // boundary, with the tags IAM holds for both roles, allows it.
        let scientist_tags = support::role_tags(&scientist.role_name).await;
        let compute_tags = support::role_tags(&compute.role_name).await;
        assert_eq!(compute_tags["persona-role:stack-id"], support::STACK_ID);
        let scientist_event = events
            .iter()
            .find(|(id, _)| **id != compute_logical)
            .map(|(_, e)| e)
            .unwrap();
        let plan = support::plan_of(scientist_event);
        let policies: Vec<Value> = plan
            .inline_policies
            .iter()
            .map(|p| json!({"name": p.policy_name, "policy": p.policy_document}))
            .chain(
                plan.managed_policies
                    .iter()
                    .map(|p| json!({"name": p.policy_name, "policy": p.policy_document})),
            )
            .collect();
        let pass = |principal_tags: &std::collections::BTreeMap<String, String>, policies: &Value| {
            let mut context = serde_json::Map::new();
            for (key, value) in principal_tags {
                context.insert(format!("aws:PrincipalTag/{key}"), json!(value));
            }
            context.insert(
                persona_role::boundary::PASSED_ROLE_STACK_KEY.to_owned(),
                json!(compute_tags["persona-role:stack-id"]),
            );
            context.insert("iam:PassedToService".to_owned(), json!("sagemaker.amazonaws.com"));
            json!({
                "principal": format!("arn:aws:iam::{ACCOUNT}:role/service-role/{}", scientist.role_name),
                "account": ACCOUNT,
                "policies": policies,
                "boundary": {"name": persona_role::boundary::LOGICAL_ID, "policy": persona_role::boundary::policy(&[])},
                "action": "iam:PassRole",
                "resource": compute_arn,
                "context": context,
            })
        };
        let mut other_team = scientist_tags.clone();
        other_team.insert("persona-role:stack-id".to_owned(), OTHER_STACK_ID.to_owned());
        let anything = json!([{"name": "faulty", "policy": {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]);
        let requests = [
            pass(&scientist_tags, &json!(policies)),
            pass(&other_team, &anything),
        ];
        let decisions = support::simulator::decide(&requests.iter().collect::<Vec<_>>());
        assert_eq!(
            decisions[0]["decision"], "Allowed",
            "the Data Scientist passes its Compute role: {}",
            decisions[0]
        );
        assert_eq!(
            decisions[1]["decision"], "ExplicitlyDenied",
            "another stack's role, even with a policy that allows everything, does not: {}",
            decisions[1]
        );

        // Another team's stack: it cannot adopt them, pass them, nor attach their policies.
        let other = |logical_id: &str, properties: Value| {
            let mut event = support::create_event(logical_id, properties, "other", &recorder);
            event["StackId"] = json!(OTHER_STACK_ID);
            event
        };
        let suffix = scientist.role_name.trim_start_matches("SageMaker-");
        let attempts = [
            (
                "adopt the Data Scientist",
                other(
                    "TakeOver",
                    json!({"Persona": "Custom", "Activities": ["Manage Experiments"],
                        "RoleNameSuffix": suffix, "Path": "/service-role/",
                        "AdoptExistingRole": "true"}),
                ),
                "not managed by this resource",
            ),
            (
                "pass the Compute role",
                other(
                    "Borrower",
                    json!({"Persona": "Custom", "Activities": ["Manage ML Jobs"],
                        "RoleNameSuffix": "other-team-ds", "PassRoles": [compute_arn]}),
                ),
                "belongs to stack",
            ),
            (
                "attach a policy named as the Data Scientist's own",
                other(
                    "Attacher",
                    json!({"Persona": "Custom", "Activities": ["Manage Experiments"],
                        "RoleNameSuffix": "other-team-attacher",
                        "ManagedPolicyArns": [format!("arn:aws:iam::{ACCOUNT}:policy/service-role/{}-1", scientist.role_name)]}),
                ),
                "persona role's own policy",
            ),
        ];
        for (what, event, says) in attempts {
            let answer = support::invoke(&handler, &event, &recorder).await;
            assert_eq!(answer["Status"], "FAILED", "{what}: {answer}");
            assert!(
                answer["Reason"].as_str().unwrap().contains(says),
                "{what}: {answer}"
            );
        }
        assert_eq!(support::role_tags(&scientist.role_name).await, scientist_tags);
        assert!(!support::role_exists("sagemaker-other-team-ds").await);
        assert!(!support::role_exists("sagemaker-other-team-attacher").await);
    });
}
