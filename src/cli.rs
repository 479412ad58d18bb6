//! The `persona-role` command line: plan a role offline and list the catalog. Commands write to
//! injected writers so tests run them in process.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use thiserror::Error;

use crate::catalog::{self, Need};
use crate::context::{ContextError, Partition, StackContext};
use crate::plan::{self, PlanError};

/// Properties planned when `plan` is given no file: a Data Scientist in a sample stack.
pub const SAMPLE_EVENT: &str = include_str!("../events/data-scientist-create.json");

#[derive(Debug, Parser)]
#[command(
    name = "persona-role",
    version,
    about = "Least-privilege SageMaker persona roles (Custom::SageMakerPersonaRole), planned offline"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the IAM plan (role, trust policy, policies) for properties or a CloudFormation event.
    Plan {
        #[command(flatten)]
        input: Input,
    },
    /// Print native CloudFormation resources equal to what the custom resource creates.
    Export {
        #[command(flatten)]
        input: Input,
        /// Target format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Cloudformation)]
        format: ExportFormat,
        /// Template syntax.
        #[arg(long, value_enum, default_value_t = Syntax::Yaml)]
        output: Syntax,
        /// Logical id of the exported role.
        #[arg(long, default_value = crate::export::ROLE_LOGICAL_ID)]
        role_logical_id: String,
    },
    /// Check properties against the JSON Schema and the planner's validation; print the errors.
    Validate {
        #[command(flatten)]
        input: Input,
    },
    /// Print the JSON Schema of the properties.
    Schema,
    /// Print the reference page of personas and activities (Markdown).
    Reference,
    /// List personas and ML activities.
    Catalog {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Where the properties come from, and the stack when the input has no StackId.
#[derive(Debug, clap::Args)]
pub struct Input {
    /// JSON or YAML file of properties or of a whole event; `-` reads standard input.
    /// Without a file, the built-in Data Scientist sample.
    file: Option<PathBuf>,
    /// Account id, when the file has no StackId.
    #[arg(long)]
    account: Option<String>,
    /// Region, when the file has no StackId.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Partition (aws, aws-cn, aws-us-gov), when the file has no StackId; defaults to the
    /// region's.
    #[arg(long)]
    partition: Option<String>,
    /// Stack name used to derive a role name when RoleNameSuffix is absent.
    #[arg(long, default_value = "persona-role")]
    stack_name: String,
    /// Logical id used to derive a role name when RoleNameSuffix is absent.
    #[arg(long, default_value = "PersonaRole")]
    logical_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Cloudformation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Syntax {
    Json,
    Yaml,
}

#[derive(Debug, Error)]
pub enum CliError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` is neither JSON nor YAML: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Context(#[from] ContextError),
    #[error("no account: the file has no StackId, so give --account")]
    NoAccount,
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{} schema violations: {}", .0.len(), .0.join("; "))]
    Schema(Vec<String>),
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
}

/// Runs a parsed command; returns the process exit code.
pub fn run(
    cli: Cli,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    match execute(cli, stdin, out) {
        Ok(()) => 0,
        Err(error) => {
            // Lists get a header line and one error per line, not one long joined line.
            let list: Option<Vec<String>> = match &error {
                CliError::Plan(PlanError::Properties(errors)) => {
                    Some(errors.0.iter().map(ToString::to_string).collect())
                }
                CliError::Schema(errors) => Some(errors.clone()),
                _ => None,
            };
            match list {
                Some(items) => {
                    let what = match (matches!(error, CliError::Schema(_)), items.len()) {
                        (true, 1) => "schema violation",
                        (true, _) => "schema violations",
                        (false, 1) => "invalid property",
                        (false, _) => "invalid properties",
                    };
                    let _ = writeln!(err, "error: {} {what}", items.len());
                    for item in items {
                        let _ = writeln!(err, "  - {item}");
                    }
                }
                None => {
                    let _ = writeln!(err, "error: {error}");
                }
            }
            match error {
                CliError::Plan(_) | CliError::Schema(_) => 1,
                _ => 2,
            }
        }
    }
}

fn execute(cli: Cli, stdin: &mut dyn std::io::Read, out: &mut dyn Write) -> Result<(), CliError> {
    match cli.command {
        Command::Plan { input } => {
            let plan = plan_input(input, stdin)?;
            write_json(out, &plan)
        }
        Command::Export {
            input,
            format: ExportFormat::Cloudformation,
            output,
            role_logical_id,
        } => {
            let plan = plan_input(input, stdin)?;
            let template = crate::export::cloudformation(&plan, &role_logical_id);
            match output {
                Syntax::Json => write_json(out, &template),
                Syntax::Yaml => {
                    let text = serde_yaml_ng::to_string(&template)
                        .map_err(|e| CliError::Write(std::io::Error::other(e.to_string())))?;
                    out.write_all(text.as_bytes())?;
                    Ok(())
                }
            }
        }
        Command::Validate { input } => validate(input, stdin, out),
        Command::Schema => {
            out.write_all(crate::schema::properties_schema_text().as_bytes())?;
            Ok(())
        }
        Command::Reference => {
            out.write_all(crate::reference::markdown().as_bytes())?;
            Ok(())
        }
        Command::Catalog { json } => {
            if json {
                write_json(out, &catalog_json())?;
            } else {
                write_catalog_table(out)?;
            }
            Ok(())
        }
    }
}

/// The schema as published; the CLI validates against this file, not a copy in code.
pub const PUBLISHED_SCHEMA: &str = include_str!("../schema/properties.schema.json");

fn validate(
    input: Input,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (properties, context) = read_properties(input, stdin)?;
    let schema_errors = schema_violations(&properties);
    if !schema_errors.is_empty() {
        return Err(CliError::Schema(schema_errors));
    }
    let plan = plan::plan_properties(&properties, &context)?;
    writeln!(
        out,
        "valid: role {} with {} activities, {} inline and {} managed policies",
        plan.role.role_name,
        plan.activities.len(),
        plan.inline_policies.len(),
        plan.managed_policies.len()
    )?;
    for warning in &plan.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    Ok(())
}

/// Violations of the published schema, each as `<path>: <message>`.
pub fn schema_violations(properties: &Value) -> Vec<String> {
    static VALIDATOR: std::sync::OnceLock<Result<(Value, jsonschema::Validator), String>> =
        std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(PUBLISHED_SCHEMA)
            .map_err(|e| format!("the published schema is not JSON: {e}"))?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("the published schema is invalid: {e}"))?;
        Ok((schema, validator))
    });
    let (schema, validator) = match validator {
        Ok(validator) => validator,
        Err(e) => return vec![e.clone()],
    };
    validator
        .iter_errors(properties)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            format!("{path}: {}", crate::schema::violation_message(schema, &e))
        })
        .collect()
}

fn plan_input(input: Input, stdin: &mut dyn std::io::Read) -> Result<plan::Plan, CliError> {
    let (properties, context) = read_properties(input, stdin)?;
    Ok(plan::plan_properties(&properties, &context)?)
}

/// The properties and stack of the input: read, parsed, and split if it is an event.
fn read_properties(
    input: Input,
    stdin: &mut dyn std::io::Read,
) -> Result<(Value, StackContext), CliError> {
    let (label, text) = read_input(input.file, stdin)?;
    let document = parse_document(&label, &text)?;
    split_input(
        document,
        input.account,
        &input.region,
        input.partition,
        &input.stack_name,
        &input.logical_id,
    )
}

fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

fn read_input(
    file: Option<PathBuf>,
    stdin: &mut dyn std::io::Read,
) -> Result<(String, String), CliError> {
    match file {
        None => Ok(("built-in sample".to_owned(), SAMPLE_EVENT.to_owned())),
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|source| CliError::Read {
                    path: "-".to_owned(),
                    source,
                })?;
            Ok(("standard input".to_owned(), text))
        }
        Some(path) => {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read {
                path: label.clone(),
                source,
            })?;
            Ok((label, text))
        }
    }
}

/// JSON, else YAML (a superset for our purposes).
pub fn parse_document(label: &str, text: &str) -> Result<Value, CliError> {
    serde_json::from_str(text).or_else(|json_error| {
        serde_yaml_ng::from_str(text).map_err(|yaml_error| CliError::Parse {
            path: label.to_owned(),
            message: format!("as JSON: {json_error}; as YAML: {yaml_error}"),
        })
    })
}

/// An event carries its properties and stack; a bare properties document takes the stack from
/// the flags.
fn split_input(
    input: Value,
    account: Option<String>,
    region: &str,
    partition: Option<String>,
    stack_name: &str,
    logical_id: &str,
) -> Result<(Value, StackContext), CliError> {
    let is_event = input.get("ResourceProperties").is_some() || input.get("RequestType").is_some();
    if is_event {
        let logical = input
            .get("LogicalResourceId")
            .and_then(Value::as_str)
            .unwrap_or(logical_id);
        if let Some(stack_id) = input.get("StackId").and_then(Value::as_str) {
            let context = StackContext::from_stack_id(stack_id, logical)?;
            let properties = input
                .get("ResourceProperties")
                .cloned()
                .unwrap_or(Value::Null);
            return Ok((properties, context));
        }
    }
    let partition = match partition {
        Some(p) => p.parse()?,
        None => Partition::of_region(region),
    };
    let account = account.ok_or(CliError::NoAccount)?;
    let context = StackContext::new(partition, &account, region, stack_name, logical_id)?;
    let properties = if is_event {
        input
            .get("ResourceProperties")
            .cloned()
            .unwrap_or(Value::Null)
    } else {
        input
    };
    Ok((properties, context))
}

fn catalog_json() -> Value {
    let activities: Vec<Value> = catalog::ACTIVITIES
        .iter()
        .map(|a| {
            json!({
                "Id": a.id,
                "Name": a.name,
                "Aliases": a.aliases,
                "Summary": a.summary,
                "Status": format!("{:?}", a.status),
                "Parameters": a.params.iter().map(|p| json!({
                    "Name": p.param.name(),
                    "Required": p.need == Need::Required,
                })).collect::<Vec<_>>(),
                "Vpc": a.vpc,
                "Kms": a.kms,
                "AwsManagedPolicies": a.aws_managed_policies,
                "Actions": a.actions(),
            })
        })
        .collect();
    let personas: Vec<Value> = catalog::PERSONAS
        .iter()
        .map(|p| {
            json!({
                "Id": p.id,
                "Name": p.name,
                "Summary": p.summary,
                "Defaults": p.defaults,
                "ConsoleDefaults": p.console_defaults,
            })
        })
        .collect();
    json!({"Personas": personas, "Activities": activities})
}

fn write_catalog_table(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "PERSONAS")?;
    for persona in catalog::PERSONAS {
        let defaults: Vec<&str> = persona
            .defaults
            .iter()
            .filter_map(|id| catalog::find_activity(id).map(|i| catalog::activity(i).name))
            .collect();
        let defaults = if defaults.is_empty() {
            "(none)".to_owned()
        } else {
            defaults.join(", ")
        };
        writeln!(out, "  {:<18} {defaults}", persona.id)?;
    }
    writeln!(out)?;
    writeln!(out, "ACTIVITIES")?;
    writeln!(
        out,
        "  {:<30} {:<42} {:<4} {:<4} PARAMETERS (* required)",
        "ID", "NAME", "VPC", "KMS"
    )?;
    for activity in catalog::ACTIVITIES {
        let params: Vec<String> = activity
            .params
            .iter()
            .filter(|p| {
                !matches!(
                    p.param,
                    catalog::Param::VpcSubnets
                        | catalog::Param::VpcSecurityGroups
                        | catalog::Param::DataKmsKeys
                        | catalog::Param::VolumeKmsKeys
                )
            })
            .map(|p| match p.need {
                Need::Required => format!("{}*", p.param),
                Need::Optional => p.param.to_string(),
            })
            .collect();
        let name = match activity.status {
            catalog::Status::Current => activity.name.to_owned(),
            catalog::Status::Legacy => format!("{} (legacy)", activity.name),
        };
        writeln!(
            out,
            "  {:<30} {:<42} {:<4} {:<4} {}",
            activity.id,
            name,
            if activity.vpc { "yes" } else { "-" },
            if activity.kms { "yes" } else { "-" },
            if params.is_empty() {
                "-".to_owned()
            } else {
                params.join(", ")
            }
        )?;
    }
    Ok(())
}
