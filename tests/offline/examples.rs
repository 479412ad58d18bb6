//! What users deploy and run, as written: the example stacks (`examples/`), the Service Catalog
//! product and portfolio (`catalog/`), the sample events (`events/`) and the README's copies of
//! them. A template's custom resources are resolved as CloudFormation sends their properties
//! (every scalar a string; a Service Catalog list parameter joined by commas) and planned by the
//! function's parser within the guardrails `template.yaml` deploys with; its parameters are held
//! to their `AllowedValues`, `AllowedPattern` and `Rules`, as CloudFormation and Service Catalog
//! check them before a launch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeMap;

use common::deployed::{self, Deployment};
use persona_role::catalog;
use persona_role::context::StackContext;
use persona_role::plan::{self, Plan};
use serde_json::{Value, json};

const ACCOUNT: &str = common::ACCOUNT;
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:persona-role";

/// A value as CloudFormation sends it to a custom resource: every scalar a string.
fn sent(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.to_string()),
        Value::Bool(b) => json!(b.to_string()),
        Value::Array(items) => Value::Array(items.into_iter().map(sent).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, sent(v))).collect()),
        other => other,
    }
}

fn context(stack: &str, logical_id: &str) -> StackContext {
    StackContext::from_stack_id(
        &format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack}/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f"),
        logical_id,
    )
    .unwrap()
}

/// The resource's properties as sent, planned within the template's default guardrails.
fn plan_resource(deployment: &Deployment, stack: &str, logical_id: &str) -> (Value, Plan) {
    let properties = sent(deployment.properties(logical_id).unwrap());
    let planned = plan::plan_guarded(
        &properties,
        &context(stack, logical_id),
        &Deployment::defaults().guardrails(),
    )
    .unwrap_or_else(|e| panic!("{logical_id}: {e}\n{properties:#}"));
    (properties, planned)
}

/// The persona role resources of a template, in its order.
fn persona_resources(deployment: &Deployment) -> Vec<String> {
    deployment.template()["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("Custom::SageMakerPersonaRole"))
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect()
}

/// Why the parameters' values break their `AllowedValues` or `AllowedPattern` (each member of a
/// list), as CloudFormation checks them; empty when they do not.
fn parameter_problems(deployment: &Deployment) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, declaration) in deployment.template()["Parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let values: Vec<Value> = match deployment.parameter(name) {
            Value::Array(items) => items.clone(),
            one => vec![one.clone()],
        };
        for value in values {
            if let Some(allowed) = declaration["AllowedValues"].as_sequence() {
                let allowed: Vec<&str> = allowed.iter().filter_map(|v| v.as_str()).collect();
                if !allowed.contains(&value.as_str().unwrap()) {
                    problems.push(format!("{name}: {value} is not one of {allowed:?}"));
                }
            }
            if let Some(pattern) = declaration["AllowedPattern"].as_str() {
                // CloudFormation matches the whole value; every pattern here is anchored.
                assert!(pattern.starts_with('^') && pattern.ends_with('$'), "{name}");
                if !jsonschema::is_valid(&json!({"pattern": pattern}), &value) {
                    problems.push(format!("{name}: {value} does not match {pattern}"));
                }
            }
        }
    }
    problems
}

// examples/persona-roles.yaml

/// The example stack, its persona roles planned in order (each `!GetAtt X.Arn` the ARN planned
/// for X), as the stack `ml-team-personas`.
fn persona_roles(overrides: &[(&str, &str)]) -> (Deployment, BTreeMap<String, (Value, Plan)>) {
    let mut deployment = Deployment::of("examples/persona-roles.yaml", overrides)
        .knowing("persona-role-ServiceToken", json!(FUNCTION))
        .knowing("AWS::StackName", json!("ml-team-personas"));
    let mut plans = BTreeMap::new();
    for id in persona_resources(&deployment) {
        let (properties, planned) = plan_resource(&deployment, "ml-team-personas", &id);
        deployment = deployment.knowing(&format!("{id}.Arn"), json!(planned.role.arn));
        plans.insert(id, (properties, planned));
    }
    (deployment, plans)
}

const TEAM: &[(&str, &str)] = &[("TeamName", "ml-team"), ("DataBuckets", "ml-team-data")];

fn with_network_and_keys() -> Vec<(&'static str, &'static str)> {
    let mut overrides = TEAM.to_vec();
    overrides.extend([
        ("VpcSubnets", "subnet-0a1b2c3d4e5f60718"),
        ("VpcSecurityGroups", "sg-0a1b2c3d4e5f60718"),
        (
            "DataKmsKeys",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        (
            "VolumeKmsKeys",
            "arn:aws:kms:us-east-1:123456789012:key/9876fedc-12ab-34cd-56ef-1234567890ab",
        ),
    ]);
    overrides
}

#[test]
fn persona_roles_example_plans_every_role_with_nothing_an_activity_does_not_take() {
    for overrides in [TEAM.to_vec(), with_network_and_keys()] {
        let (_, plans) = persona_roles(&overrides);
        assert_eq!(
            plans.keys().collect::<Vec<_>>(),
            ["Compute", "DataScientist", "MLOps", "PipelineExecution"]
        );
        for (id, (_, planned)) in &plans {
            assert!(
                planned.warnings.is_empty(),
                "{id} {overrides:?}: {:?}",
                planned.warnings
            );
        }
    }
}

/// A workflow table's properties, with its role names as the example stack names them.
fn workflow_properties(table: &str) -> Value {
    let path = common::root().join(format!("tests/workflows/{table}.yaml"));
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("role/sagemaker-compute", "role/sagemaker-ml-team-compute")
        .replace(
            "role/sagemaker-pipeline-execution",
            "role/sagemaker-ml-team-pipeline-execution",
        );
    let document: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut properties = serde_json::to_value(&document["properties"]).unwrap();
    properties["Persona"] = serde_json::to_value(&document["persona"]).unwrap();
    properties
}

/// Lists as lists (a comma-separated string split), without empty values or the properties
/// that only name the role or talk to CloudFormation.
fn normalized(properties: &Value) -> Value {
    fn list(value: &Value) -> Option<Value> {
        match value {
            Value::String(text) if text.is_empty() => None,
            Value::String(text) if text.contains(',') => {
                Some(json!(text.split(',').map(str::trim).collect::<Vec<_>>()))
            }
            Value::Object(map) => Some(Value::Object(
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), list(v)?)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
    let mut map = list(properties).unwrap();
    let map = map.as_object_mut().unwrap();
    for name in ["RoleNameSuffix", "ServiceToken", "ServiceTimeout"] {
        map.remove(name);
    }
    // One bucket is a list of one.
    if let Some(Value::String(bucket)) = map.get("S3Buckets").cloned() {
        map.insert("S3Buckets".to_owned(), json!([bucket]));
    }
    Value::Object(map.clone())
}

#[test]
fn pipeline_and_mlops_roles_are_the_recipe_the_workflow_tables_prove() {
    let (_, plans) = persona_roles(TEAM);
    for (id, table) in [
        ("PipelineExecution", "pipeline-execution-role"),
        ("MLOps", "mlops"),
    ] {
        assert_eq!(
            normalized(&plans[id].0),
            normalized(&workflow_properties(table)),
            "examples/persona-roles.yaml's {id} is not tests/workflows/{table}.yaml's role"
        );
    }
    // Nobody passes Compute to pipelines: MLOps's pipelines get only the pipeline role.
    let mlops = &plans["MLOps"].1;
    let pipeline_role = &plans["PipelineExecution"].1.role.arn;
    let statements: Vec<&Value> = mlops
        .inline_policies
        .iter()
        .flat_map(|p| p.policy_document["Statement"].as_array().unwrap())
        .collect();
    let pipelines_pass = statements
        .iter()
        .find(|s| {
            s["Sid"].as_str().unwrap().starts_with("ManagePipelines")
                && s["Action"] == "iam:PassRole"
        })
        .unwrap_or_else(|| panic!("no PassRole statement of Manage Pipelines: {statements:#?}"));
    assert_eq!(pipelines_pass["Resource"], json!(pipeline_role));
}

#[test]
fn persona_roles_outputs_say_who_uses_each_role() {
    let (deployment, _) = persona_roles(TEAM);
    let outputs = deployment.template()["Outputs"].as_mapping().unwrap();
    let said = |name: &str| {
        outputs
            .get(name)
            .and_then(|o| o["Description"].as_str())
            .unwrap_or_else(|| panic!("output {name} has no description"))
            .to_owned()
    };
    // Only SageMaker may assume them (their trust policy): nobody takes them up.
    for (name, output) in outputs {
        let description = output["Description"].as_str().unwrap_or_default();
        assert!(!description.contains("assume"), "{name:?}: {description}");
    }
    assert!(said("ComputeRoleArn").contains("run as"));
    assert!(said("PipelineExecutionRoleArn").contains("pipelines run"));
    assert!(said("DataScientistRoleArn").contains("Studio user profiles"));
    assert!(said("MLOpsRoleArn").contains("Studio user profiles"));
}

// examples/studio-domain.yaml

#[test]
fn studio_domain_runs_profiles_as_the_studio_personas_of_the_example() {
    let (roles, plans) = persona_roles(TEAM);
    let mut domain = Deployment::of(
        "examples/studio-domain.yaml",
        &[
            ("VpcId", "vpc-0a1b2c3d"),
            ("SubnetIds", "subnet-0a1b2c3d4e5f60718"),
        ],
    )
    .knowing("Domain.DomainId", json!("d-team01"));
    // Every export the domain imports is one the example stack makes.
    for output in roles.template()["Outputs"].as_mapping().unwrap().values() {
        if output["Export"].is_mapping() {
            let name = roles.resolve(&output["Export"]["Name"]).unwrap();
            let value = roles.resolve(&output["Value"]).unwrap();
            domain = domain.knowing(name.as_str().unwrap(), value);
        }
    }
    let arn_of = |id: &str| json!(plans[id].1.role.arn);
    let activities = |arn: &Value| {
        let (_, (_, planned)) = plans
            .iter()
            .find(|(_, (_, p))| json!(p.role.arn) == *arn)
            .unwrap_or_else(|| panic!("{arn} is no role of the example"));
        planned.activities.clone()
    };
    let profile =
        |id: &str| domain.properties(id).unwrap()["UserSettings"]["ExecutionRole"].clone();
    assert_eq!(profile("DataScientistProfile"), arn_of("DataScientist"));
    assert_eq!(profile("MLOpsProfile"), arn_of("MLOps"));
    let settings = domain.properties("Domain").unwrap();
    for role in [
        &settings["DefaultUserSettings"]["ExecutionRole"],
        &settings["DefaultSpaceSettings"]["ExecutionRole"],
        &profile("DataScientistProfile"),
        &profile("MLOpsProfile"),
    ] {
        assert!(
            activities(role)
                .iter()
                .any(|a| a == "Run Studio Applications"),
            "{role} cannot run Studio"
        );
    }
    assert!(
        parameter_problems(&domain).is_empty(),
        "{:?}",
        parameter_problems(&domain)
    );
}

#[test]
fn example_and_catalog_templates_pass_cfn_lint() {
    for file in [
        "examples/persona-roles.yaml",
        "examples/studio-domain.yaml",
        "catalog/product.yaml",
        "catalog/portfolio.yaml",
    ] {
        let text = std::fs::read_to_string(common::root().join(file)).unwrap();
        common::assert_cfn_lint_clean(&text, &file.replace('/', "-"));
    }
}

/// The `--parameter-overrides` of examples/README.md's deploy commands name parameters of the
/// templates they deploy.
#[test]
fn examples_readme_deploys_with_the_templates_parameters() {
    let readme = std::fs::read_to_string(common::root().join("examples/README.md")).unwrap();
    let commands: Vec<String> = readme
        .split("aws cloudformation deploy")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().replace("\\\n", " "))
        .collect();
    assert!(commands.len() >= 2, "a deploy command per example stack");
    for command in commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let file = words[words.iter().position(|w| *w == "--template-file").unwrap() + 1];
        let overrides: Vec<(&str, &str)> = words
            .iter()
            .skip_while(|w| **w != "--parameter-overrides")
            .skip(1)
            .take_while(|w| !w.starts_with("--"))
            .map(|w| w.split_once('=').unwrap())
            .collect();
        // Panics on a parameter the template does not declare, or a required one not given.
        let deployment = Deployment::of(file, &overrides);
        assert!(
            parameter_problems(&deployment).is_empty(),
            "{file}: {:?}",
            parameter_problems(&deployment)
        );
    }
}

// The README's copies

const EXAMPLE_BEGIN: &str = "<!-- example: generated from examples/persona-roles.yaml; `UPDATE_GOLDEN=1 cargo test --test offline -- examples::` rewrites it -->";
const EXAMPLE_END: &str = "<!-- end of example -->";

/// The lines of a resource in a template's text, with the comment lines just above it.
fn resource_text(text: &str, logical_id: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == format!("  {logical_id}:"))
        .unwrap_or_else(|| panic!("no resource {logical_id}"));
    let mut first = start;
    while first > 0 && lines[first - 1].starts_with("  #") {
        first -= 1;
    }
    let mut end = start + 1;
    while end < lines.len() && (lines[end].is_empty() || lines[end].starts_with("    ")) {
        end += 1;
    }
    while lines[end - 1].is_empty() {
        end -= 1;
    }
    lines[first..end].join("\n")
}

#[test]
fn readme_copy_of_the_example_is_the_files() {
    let text = std::fs::read_to_string(common::root().join("examples/persona-roles.yaml")).unwrap();
    let blocks: Vec<String> = ["PipelineExecution", "MLOps"]
        .iter()
        .map(|id| resource_text(&text, id))
        .collect();
    let generated = format!(
        "{EXAMPLE_BEGIN}\n\n```yaml\n{}\n```\n\n{EXAMPLE_END}",
        blocks.join("\n\n")
    );
    common::assert_readme_section(
        EXAMPLE_BEGIN,
        EXAMPLE_END,
        &generated,
        "run `UPDATE_GOLDEN=1 cargo test --test offline -- examples::`",
    );
}

const WORKED_BEGIN: &str = "<!-- worked example: generated from the plan of role.yaml above; `UPDATE_GOLDEN=1 cargo test --test offline -- examples::` rewrites it -->";
const WORKED_END: &str = "<!-- end of worked example -->";

/// The README's worked example: what its `role.yaml` plans to, said as the plan has it.
#[test]
fn readme_worked_example_says_what_the_plan_holds() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let yaml = readme
        .split("`role.yaml` holds the properties a stack would declare:\n\n```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README's role.yaml");
    let properties: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let planned = plan::plan_properties(
        &properties,
        &StackContext::from_stack_id(common::STACK_ID, "DataScientist").unwrap(),
    )
    .unwrap();
    let statements = |document: &Value| document["Statement"].as_array().unwrap().len();
    let mut policies: Vec<String> = planned
        .inline_policies
        .iter()
        .map(|p| {
            format!(
                "the inline policy `{}` ({} statements)",
                p.policy_name,
                statements(&p.policy_document)
            )
        })
        .collect();
    policies.extend(planned.managed_policies.iter().map(|p| {
        format!(
            "the managed policy `{}` ({} statements), which the role carries because the inline policy is full",
            p.policy_name,
            statements(&p.policy_document)
        )
    }));
    let generated = format!(
        "{WORKED_BEGIN}\n\nThe role `{}` gets {} policies: {}. `Quotas` reports the characters each uses against IAM's limits ({} of the inline policy's {}).\n\n{WORKED_END}",
        planned.role.role_name,
        policies.len(),
        policies.join(" and "),
        planned.quotas.inline_characters,
        planned.quotas.inline_limit,
    );
    common::assert_readme_section(
        WORKED_BEGIN,
        WORKED_END,
        &generated,
        "run `UPDATE_GOLDEN=1 cargo test --test offline -- examples::`",
    );
    // The statements the prose names are the plan's.
    let sids: Vec<&str> = planned
        .inline_policies
        .iter()
        .map(|p| &p.policy_document)
        .chain(planned.managed_policies.iter().map(|p| &p.policy_document))
        .flat_map(|d| d["Statement"].as_array().unwrap())
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    let prose = readme.split(WORKED_BEGIN).next().unwrap();
    let prose = prose.rsplit("```").next().unwrap();
    for quoted in prose.split('`').skip(1).step_by(2) {
        if quoted.chars().next().is_some_and(char::is_uppercase)
            && quoted.chars().all(char::is_alphanumeric)
            && !["Quotas", "Null"].contains(&quoted)
        {
            assert!(
                sids.contains(&quoted),
                "the README names statement {quoted}, which the plan does not have: {sids:?}"
            );
        }
    }
}

// catalog/product.yaml and catalog/portfolio.yaml

const COMPUTE: &str = "arn:aws:iam::123456789012:role/sagemaker-compute";
const PIPELINE_ROLE: &str = "arn:aws:iam::123456789012:role/sagemaker-pipeline-execution";
const PRODUCT: &str = "catalog/product.yaml";

/// A launch of the product: the parameters an end user gives, and the activities the role
/// must get.
struct Variant {
    name: &'static str,
    parameters: &'static [(&'static str, &'static str)],
    activities: &'static [&'static str],
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "data-scientist",
        parameters: &[
            ("Persona", "DataScientist"),
            ("RoleNameSuffix", "data-scientist"),
            ("PassRoles", COMPUTE),
            ("S3Buckets", "ml-team-data"),
        ],
        activities: &[
            "Run Studio Applications",
            "Manage ML Jobs",
            "Manage Models",
            "Manage Experiments",
            "Search and Visualize Experiments",
            "S3 Bucket Access",
        ],
    },
    Variant {
        name: "data-scientist-shaped",
        parameters: &[
            ("Persona", "DataScientist"),
            ("AddActivities", "Query Athena Workgroups,Use MLflow"),
            ("RemoveActivities", "Manage Experiments"),
            ("PassRoles", COMPUTE),
            ("S3Buckets", "ml-team-data,ml-team-results"),
            ("AthenaWorkgroups", "analytics"),
            (
                "MlflowTrackingServers",
                "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team",
            ),
        ],
        activities: &[
            "Run Studio Applications",
            "Manage ML Jobs",
            "Manage Models",
            "Search and Visualize Experiments",
            "S3 Bucket Access",
            "Query Athena Workgroups",
            "Use MLflow",
        ],
    },
    Variant {
        name: "mlops-with-pipeline-role",
        parameters: &[
            ("Persona", "MLOps"),
            ("PassRoles", COMPUTE),
            ("PipelineRoles", PIPELINE_ROLE),
        ],
        activities: &[
            "Run Studio Applications",
            "Manage Models",
            "Manage Endpoints",
            "Manage Pipelines",
            "Search and Visualize Experiments",
        ],
    },
    Variant {
        name: "compute-in-a-network-with-keys",
        parameters: &[
            ("Persona", "SageMakerCompute"),
            ("RoleNameSuffix", "compute"),
            ("S3Buckets", "ml-team-data"),
            (
                "EcrRepositories",
                "arn:aws:ecr:us-east-1:123456789012:repository/ml-training",
            ),
            (
                "VpcSubnets",
                "subnet-0a1b2c3d4e5f60718,subnet-0a1b2c3d4e5f60719",
            ),
            ("VpcSecurityGroups", "sg-0a1b2c3d4e5f60718"),
            (
                "DataKmsKeys",
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
            (
                "VolumeKmsKeys",
                "arn:aws:kms:us-east-1:123456789012:key/9876fedc-12ab-34cd-56ef-1234567890ab",
            ),
        ],
        activities: &["Access Required AWS Services"],
    },
    Variant {
        name: "custom-pipeline-execution",
        parameters: &[
            ("Persona", "Custom"),
            ("RoleNameSuffix", "pipeline-execution"),
            (
                "AddActivities",
                "Manage ML Jobs,Manage Models,S3 Bucket Access",
            ),
            ("PassRoles", COMPUTE),
            ("S3Buckets", "ml-team-data"),
        ],
        activities: &["Manage ML Jobs", "Manage Models", "S3 Bucket Access"],
    },
    Variant {
        name: "custom-glue-and-canvas",
        parameters: &[
            ("Persona", "Custom"),
            (
                "AddActivities",
                "Manage AWS Glue Tables,SageMaker Canvas Core Access,SageMaker Canvas Kendra Access",
            ),
            ("GlueDatabases", "sales"),
            ("S3Buckets", "ml-team-data"),
            ("KendraIndexes", "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"),
        ],
        activities: &[
            "Manage AWS Glue Tables",
            "SageMaker Canvas Core Access",
            "SageMaker Canvas Kendra Access",
        ],
    },
];

fn launch(parameters: &[(&str, &str)]) -> Deployment {
    Deployment::of(PRODUCT, parameters)
}

/// The product's template with the variant's values as its parameters' defaults, so that
/// cfn-lint judges them against the parameters' constraints as it judges the template.
fn variant_template(variant: &Variant) -> String {
    let text = std::fs::read_to_string(common::root().join(PRODUCT)).unwrap();
    let mut template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    for (name, value) in variant.parameters {
        template["Parameters"][*name]["Default"] = serde_yaml_ng::Value::from(*value);
    }
    serde_yaml_ng::to_string(&template).unwrap()
}

#[test]
fn every_product_variant_launches_and_plans_its_activities() {
    for variant in VARIANTS {
        let name = variant.name;
        let deployment = launch(variant.parameters);
        assert_eq!(
            parameter_problems(&deployment),
            Vec::<String>::new(),
            "{name}"
        );
        assert_eq!(deployment.failed_rules(), Vec::<String>::new(), "{name}");
        let (properties, planned) =
            plan_resource(&deployment, "SC-123456789012-pp-abc", "PersonaRole");
        // As Service Catalog sends them: every scalar a string, every list one string.
        for (property, value) in properties.as_object().unwrap() {
            match property.as_str() {
                "ActivityParameters" => assert!(value.is_object(), "{name}"),
                _ => assert!(value.is_string(), "{name}: {property} is {value}"),
            }
        }
        assert_eq!(planned.activities, variant.activities, "{name}");
        assert!(
            planned.warnings.is_empty(),
            "{name}: {:?}",
            planned.warnings
        );
        common::assert_cfn_lint_clean(&variant_template(variant), &format!("product-{name}.yaml"));
    }
}

#[test]
fn mlops_product_passes_only_its_pipeline_roles_to_pipelines() {
    let variant = VARIANTS
        .iter()
        .find(|v| v.name == "mlops-with-pipeline-role")
        .unwrap();
    let (_, planned) = plan_resource(&launch(variant.parameters), "SC-1", "PersonaRole");
    let pass = planned
        .inline_policies
        .iter()
        .flat_map(|p| p.policy_document["Statement"].as_array().unwrap())
        .find(|s| {
            s["Sid"].as_str().unwrap().starts_with("ManagePipelines")
                && s["Action"] == "iam:PassRole"
        })
        .unwrap();
    assert_eq!(pass["Resource"], json!(PIPELINE_ROLE));
}

#[test]
fn product_refuses_before_launch_what_cannot_launch() {
    let refused: &[(&[(&str, &str)], &str)] = &[
        (&[("Persona", "Custom")], "CustomNeedsActivities"),
        (
            &[("Persona", "DataScientist"), ("S3Buckets", "ml-team-data")],
            "JobsNeedRolesToPass",
        ),
        (
            &[
                ("Persona", "SageMakerCompute"),
                ("S3Buckets", "d"),
                ("VpcSubnets", "subnet-0a1b2c3d4e5f60718"),
            ],
            "VpcNeedsSubnetsAndSecurityGroups",
        ),
        (
            &[
                ("Persona", "DataScientist"),
                ("PassRoles", COMPUTE),
                ("S3Buckets", "d"),
                ("PipelineRoles", PIPELINE_ROLE),
            ],
            "PipelineRolesAreForPipelines",
        ),
        (
            &[("Persona", "Custom"), ("AddActivities", "Manage Jobs")],
            "AddActivities",
        ),
        (
            &[
                ("Persona", "DataScientist"),
                ("RemoveActivities", "Manage Everything"),
            ],
            "RemoveActivities",
        ),
        (&[("Persona", "Admin")], "Persona"),
    ];
    for (parameters, why) in refused {
        let deployment = launch(parameters);
        let mut reasons = parameter_problems(&deployment);
        reasons.extend(deployment.failed_rules());
        assert!(
            reasons.iter().any(|r| r.starts_with(why)),
            "{parameters:?} should be refused by {why}: {reasons:?}"
        );
    }
    // Removing a default lifts the persona's rule: the function judges what remains.
    let lifted = launch(&[
        ("Persona", "DataScientist"),
        (
            "RemoveActivities",
            "Manage ML Jobs,Manage Models,Run Studio Applications",
        ),
        ("S3Buckets", "ml-team-data"),
    ]);
    assert_eq!(lifted.failed_rules(), Vec::<String>::new());
    plan_resource(&lifted, "SC-1", "PersonaRole");
}

/// The activity patterns of the product and portfolio, as the catalog's names make them;
/// `UPDATE_GOLDEN=1` rewrites them.
#[test]
fn catalog_activity_patterns_list_the_catalogs_activities() {
    let names: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.name).collect();
    let expected = format!("^({})?$", names.join("|"));
    for (file, parameter) in [
        (PRODUCT, "AddActivities"),
        (PRODUCT, "RemoveActivities"),
        ("catalog/portfolio.yaml", "OfferedActivities"),
    ] {
        let template = deployed::read_template(file);
        let pattern = template["Parameters"][parameter]["AllowedPattern"]
            .as_str()
            .unwrap();
        if pattern == expected {
            continue;
        }
        let path = common::root().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let stale = format!("AllowedPattern: '{pattern}'");
        assert!(
            std::env::var_os("UPDATE_GOLDEN").is_some() && text.contains(&stale),
            "{file} {parameter}'s AllowedPattern is not the catalog's activities: run `UPDATE_GOLDEN=1 cargo test --test offline -- examples::`"
        );
        let fresh = format!("AllowedPattern: '{expected}'");
        std::fs::write(&path, text.replace(&stale, &fresh)).unwrap();
    }
}

fn portfolio(overrides: &[(&str, &str)]) -> Deployment {
    let mut parameters = vec![
        (
            "ProductTemplateUrl",
            "https://catalog-bucket.s3.us-east-1.amazonaws.com/persona-role/product.yaml",
        ),
        ("PrincipalArn", "arn:aws:iam::123456789012:role/ml-team-*"),
        ("PrincipalType", "IAM_PATTERN"),
    ];
    parameters.extend_from_slice(overrides);
    Deployment::of("catalog/portfolio.yaml", &parameters)
        .knowing("persona-role-ServiceToken", json!(FUNCTION))
        .knowing("Portfolio", json!("port-abc123"))
        .knowing("Product", json!("prod-abc123"))
        .knowing(
            "LaunchRole.Arn",
            json!("arn:aws:iam::123456789012:role/launch"),
        )
}

/// The portfolio's template constraint, as Service Catalog reads it.
fn offered_choices(portfolio: &Deployment) -> serde_yaml_ng::Value {
    let rules = portfolio.properties("OfferedChoices").unwrap()["Rules"].clone();
    let rules: Value = serde_json::from_str(rules.as_str().unwrap()).unwrap();
    serde_yaml_ng::to_value(&rules).unwrap()
}

#[test]
fn portfolio_offers_only_the_operators_personas_and_activities() {
    let variant = |name: &str| launch(VARIANTS.iter().find(|v| v.name == name).unwrap().parameters);
    let narrow = offered_choices(&portfolio(&[
        ("OfferedPersonas", "DataScientist,SageMakerCompute"),
        ("OfferedActivities", "Query Athena Workgroups"),
    ]));
    assert_eq!(
        variant("data-scientist").failed_rules_of(&narrow),
        Vec::<String>::new()
    );
    let refused = variant("mlops-with-pipeline-role").failed_rules_of(&narrow);
    assert!(
        refused.iter().any(|r| r.starts_with("OfferedPersonas")),
        "{refused:?}"
    );
    let refused = variant("data-scientist-shaped").failed_rules_of(&narrow);
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("OfferedActivities") && r.contains("Query Athena Workgroups")),
        "{refused:?}"
    );
    // The defaults offer everything.
    let everything = offered_choices(&portfolio(&[]));
    for variant in VARIANTS {
        assert_eq!(
            launch(variant.parameters).failed_rules_of(&everything),
            Vec::<String>::new(),
            "{}",
            variant.name
        );
    }
}

#[test]
fn product_reads_the_function_the_portfolio_records_and_shows_no_plumbing() {
    let product = deployed::read_template(PRODUCT);
    let parameters: Vec<&str> = product["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        !parameters.contains(&"PersonaRoleStackName"),
        "{parameters:?}"
    );
    let token = product["Resources"]["PersonaRole"]["Properties"]["ServiceToken"]
        .as_str()
        .unwrap();
    let name = token
        .strip_prefix("{{resolve:ssm:")
        .and_then(|t| t.strip_suffix("}}"))
        .unwrap_or_else(|| panic!("ServiceToken {token} is not an SSM parameter's"));
    let portfolio = portfolio(&[]);
    let recorded = portfolio.properties("ServiceTokenParameter").unwrap();
    assert_eq!(recorded["Name"], json!(name));
    assert_eq!(recorded["Value"], json!(FUNCTION));
    // The launch role, which CloudFormation resolves it as, may read it and nothing else of SSM.
    let launch_role = portfolio.properties("LaunchRole").unwrap();
    let statements = launch_role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    let reads: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Action"].to_string().contains("ssm:"))
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["Action"], "ssm:GetParameters");
    assert!(
        reads[0]["Resource"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":parameter{name}"))
    );
    // Every parameter an end user sees is one the function reads, or feeds one.
    for parameter in parameters {
        let fed = parameter == "PipelineRoles"
            || persona_role::properties::table::PROPERTIES
                .iter()
                .any(|p| p.name == parameter);
        assert!(fed, "{parameter} is no property of the function");
    }
}

// Every file under examples/ and events/ is exercised.

/// The files under examples/ and what exercises each; events/ are exercised by .ci/run.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "README.md",
        "examples_readme_deploys_with_the_templates_parameters",
    ),
    (
        "local-answer.rs",
        ".ci/run (scripts/local-answer) and its unit tests under cargo test",
    ),
    (
        "persona-roles.yaml",
        "persona_roles_example_plans_every_role_with_nothing_an_activity_does_not_take",
    ),
    (
        "studio-domain.yaml",
        "studio_domain_runs_profiles_as_the_studio_personas_of_the_example",
    ),
];

fn file_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The event files each `scripts/local-answer` run of .ci/run answers (as a command, or as the
/// command of a timed `step`), in order, with the names its globs match as bash sorts them.
fn ci_runs() -> Vec<Vec<String>> {
    let script = std::fs::read_to_string(common::root().join(".ci/run")).unwrap();
    let events = file_names("events");
    script
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.trim_start())
        .map(|l| l.strip_prefix("step ").unwrap_or(l))
        .filter(|l| l.starts_with("scripts/local-answer"))
        .map(|line| {
            let mut words = line.split_whitespace().skip(1);
            let mut files = Vec::new();
            while let Some(word) = words.next() {
                match word {
                    "--parameter" | "--console-role" => {
                        words.next();
                    }
                    "--expect-failed" => {}
                    glob => {
                        let glob = glob.strip_prefix("events/").expect("events/ files");
                        let (head, tail) = glob.split_once('*').unwrap_or((glob, ""));
                        let exact = !glob.contains('*');
                        files.extend(
                            events
                                .iter()
                                .filter(|n| match exact {
                                    true => *n == glob,
                                    false => n.starts_with(head) && n.ends_with(tail),
                                })
                                .cloned(),
                        );
                    }
                }
            }
            files
        })
        .collect()
}

#[test]
fn every_example_and_event_file_is_exercised() {
    let examples = file_names("examples");
    let listed: Vec<String> = EXAMPLES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(
        examples, listed,
        "examples/: list each file with what exercises it in EXAMPLES"
    );
    let answered: Vec<String> = ci_runs().concat();
    for event in file_names("events") {
        assert!(
            answered.contains(&event),
            "events/{event} is answered by no scripts/local-answer run of .ci/run"
        );
    }
}

/// In each run of .ci/run, a role is created before it is updated, deleted or passed.
#[test]
fn ci_answers_events_in_an_order_that_can_succeed() {
    for run in ci_runs() {
        let mut made: Vec<String> = Vec::new();
        for file in &run {
            let path = common::root().join("events").join(file);
            let event: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let properties = &event["ResourceProperties"];
            let role = plan::plan_properties(
                properties,
                &StackContext::from_stack_id(
                    event["StackId"].as_str().unwrap(),
                    event["LogicalResourceId"].as_str().unwrap(),
                )
                .unwrap(),
            )
            .unwrap()
            .role
            .role_name
            .to_lowercase();
            let passed: Vec<String> = std::iter::once(&properties["PassRoles"])
                .chain(
                    properties["ActivityParameters"]
                        .as_object()
                        .into_iter()
                        .flat_map(|m| m.values().map(|p| &p["PassRoles"])),
                )
                .filter_map(Value::as_array)
                .flatten()
                .map(|arn| {
                    arn.as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_lowercase()
                })
                .collect();
            match event["RequestType"].as_str().unwrap() {
                "Create" => {
                    for name in &passed {
                        assert!(
                            made.contains(name),
                            "{file} passes {name} before any event of {run:?} creates it"
                        );
                    }
                    made.push(role);
                }
                "Update" => {
                    assert!(
                        made.contains(&role),
                        "{file} updates {role} before its Create"
                    );
                    for name in &passed {
                        assert!(made.contains(name), "{file} passes {name}, not made");
                    }
                }
                _ => {
                    assert!(
                        made.contains(&role),
                        "{file} deletes {role} that no event made"
                    );
                    made.retain(|r| *r != role);
                }
            }
        }
    }
}

/// docs/data-scientist.md names the example stack's outputs and the function's properties as
/// they are, and its code passes the Compute role, never `get_execution_role()`.
#[test]
fn users_guide_names_what_exists() {
    let guide = std::fs::read_to_string(common::root().join("docs/data-scientist.md")).unwrap();
    let (roles, _) = persona_roles(TEAM);
    let outputs = roles.template()["Outputs"].as_mapping().unwrap();
    for quoted in guide.split('`').skip(1).step_by(2) {
        let name = quoted.trim_start_matches('<').trim_end_matches('>');
        if name.ends_with("RoleArn") {
            assert!(outputs.contains_key(name), "the guide names output {name}");
        }
    }
    for property in ["AddActivities", "S3BucketAccounts", "Activities"] {
        assert!(guide.contains(&format!("`{property}`")), "{property}");
        assert!(
            persona_role::properties::table::PROPERTIES
                .iter()
                .any(|p| p.name == property)
        );
    }
    let code: Vec<&str> = guide.split("```python").skip(1).collect();
    assert!(!code.is_empty());
    for block in code {
        let block = block.split("```").next().unwrap();
        assert!(!block.contains("role=get_execution_role()"), "{block}");
    }
}
