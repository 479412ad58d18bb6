//! The `persona-role` command line: plan, validate and export a role offline, compare two
//! declarations (or a declaration and the role in IAM), discover roles to migrate, and list the
//! catalog, and tighten a declaration by what CloudTrail says its role did. Commands write to
//! injected writers so tests run them in process. What each exit code means is [`Exit`].

mod catalog;
pub mod diff;
pub mod discover;
pub mod drift;
mod input;
mod offline;
pub mod usage;

use std::io::Write;

use clap::{Parser, Subcommand};
use thiserror::Error;

use crate::context::ContextError;
use crate::iam::IamError;
use crate::plan::PlanError;

pub use input::SAMPLE_EVENT;
pub use input::{Input, StackArgs, parse_document};
pub use offline::{PUBLISHED_SCHEMA, schema_violations};

/// How a command ends: the process exit code and what it means, declared here once. The README's
/// exit-code table is generated from [`Exit::ALL`] (a test fails while it is stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command succeeded; `diff`: no change; `usage`: nothing to propose.
    Ok,
    /// Invalid properties or schema violations.
    Invalid,
    /// `diff`: the declarations differ; `usage`: changes proposed.
    Changes,
    /// The command could not run.
    CannotRun,
}

impl Exit {
    /// Every exit, in the order the README lists them.
    pub const ALL: [Exit; 4] = [Exit::Ok, Exit::Invalid, Exit::Changes, Exit::CannotRun];

    /// The process exit code. `Invalid` and `Changes` share 1: no command can end with both,
    /// since `diff` and `usage` report invalid properties as [`Exit::CannotRun`].
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Invalid | Exit::Changes => 1,
            Exit::CannotRun => 2,
        }
    }

    /// What the code tells the caller, as the README's table says it.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => {
                "success; `diff`: no change; `drift`: every owned role current; `usage`: nothing to propose"
            }
            Exit::Invalid => {
                "invalid properties (all of them listed on stderr) or schema violations"
            }
            Exit::Changes => {
                "`diff`: the declarations differ (like `git diff --exit-code`, so it can gate a pull request); `drift`: a role this release or a hand edit changes, one not re-planned, or one of Role Manager's not adopted; `usage`: changes proposed"
            }
            Exit::CannotRun => {
                "the command could not run: unknown arguments, unreadable input, IAM unreachable or refusing; for `diff`, `drift` and `usage` every error, invalid properties included, so that 1 always means changes"
            }
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// The first line of the README's exit-code table.
pub const README_EXITS_BEGIN: &str = "<!-- exit codes: generated from `cli::Exit` in src/cli/mod.rs; `UPDATE_GOLDEN=1 cargo test --test offline -- cli::` rewrites it -->";
/// The last line of the README's exit-code table.
pub const README_EXITS_END: &str = "<!-- end of exit codes -->";

/// The README's exit-code table, markers included.
pub fn readme_exits() -> String {
    let mut table = format!("{README_EXITS_BEGIN}\n\n| code | meaning |\n|---|---|\n");
    for exit in Exit::ALL {
        table.push_str(&format!("| {} | {} |\n", exit.code(), exit.meaning()));
    }
    table.push('\n');
    table.push_str(README_EXITS_END);
    table
}

#[derive(Debug, Parser)]
#[command(
    name = "persona-role",
    version,
    about = "Least-privilege SageMaker persona roles (Custom::SageMakerPersonaRole): plan and export offline, compare declarations, discover roles to migrate, tighten a declaration by what CloudTrail says its role did"
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
    /// Print native CloudFormation resources equal to what the custom resource creates, with
    /// ARNs as `!Sub` of the pseudo parameters so the template deploys in any account.
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
    /// Show what changes between two declarations of a role (property files or events), or
    /// between a role as IAM holds it now and a declaration (`--live`). Exit code 0: no change,
    /// 1: changes, 2: could not compare.
    Diff(diff::DiffArgs),
    /// Every role the function owns, with its stack, the declaration recovered from the stack's
    /// events, and what a re-plan with this release would change, hand edits named; roles that
    /// cannot be re-planned and Role Manager's roles not adopted, listed. Read-only. Exit code
    /// 0: every owned role current, 1: something listed, 2: could not run.
    Drift(drift::DriftArgs),
    /// Find the roles SageMaker Role Manager or this project made (read-only IAM calls with the
    /// standard AWS credential chain) and declare them as Custom::SageMakerPersonaRole resources
    /// that adopt them.
    Discover(discover::DiscoverArgs),
    /// Read CloudTrail's records of the declared role: the calls each activity's statements
    /// allowed and when last used, activities never used, refused calls with the declaration
    /// change that would allow them; `--propose FILE` writes the declaration so changed and
    /// prints its diff. Exit code 0: nothing to propose, 1: proposals, 2: could not run.
    Usage(usage::UsageArgs),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Cloudformation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Syntax {
    Json,
    Yaml,
}

/// What the process's standard output is; the binary knows, in-process callers say so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terminal {
    /// Standard output is a terminal that may show colour (and `NO_COLOR` is not set).
    pub colour: bool,
    /// Standard error is a terminal: long runs may show a progress line there.
    pub progress: bool,
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
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{} schema violations: {}", .0.len(), .0.join("; "))]
    Schema(Vec<String>),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Iam(#[from] IamError),
    #[error("no role named `{0}` in IAM")]
    NoSuchRole(String),
    #[error("{0}")]
    Stacks(#[from] crate::cfn::stack_check::StacksError),
    #[error("cannot start the AWS client: {0}")]
    Runtime(String),
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
}

impl CliError {
    /// How a command ends on this error, unless it reports changes by its exit code
    /// ([`Command::reports_changes`]).
    fn exit(&self) -> Exit {
        match self {
            CliError::Plan(_) | CliError::Schema(_) => Exit::Invalid,
            _ => Exit::CannotRun,
        }
    }
}

impl Command {
    /// Whether the command's exit code says "changes" ([`Exit::Changes`]), so that every
    /// failure, invalid properties included, must be [`Exit::CannotRun`].
    fn reports_changes(&self) -> bool {
        matches!(
            self,
            Command::Diff(_) | Command::Drift(_) | Command::Usage(_)
        )
    }
}

/// Runs a parsed command without colour.
pub fn run(
    cli: Cli,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    run_with(cli, stdin, out, err, Terminal::default())
}

/// Runs a parsed command writing for `terminal`.
pub fn run_with(
    cli: Cli,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminal: Terminal,
) -> Exit {
    let reports_changes = cli.command.reports_changes();
    match execute(cli, stdin, out, err, terminal) {
        Ok(exit) => exit,
        Err(error) => {
            report(&error, err);
            if reports_changes {
                Exit::CannotRun
            } else {
                error.exit()
            }
        }
    }
}

/// Errors go to stderr; lists get a header line and one error per line.
fn report(error: &CliError, err: &mut dyn Write) {
    let list: Option<Vec<String>> = match error {
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
}

fn execute(
    cli: Cli,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminal: Terminal,
) -> Result<Exit, CliError> {
    match cli.command {
        Command::Plan { input } => offline::plan(input, stdin, out, err).map(|()| Exit::Ok),
        Command::Export {
            input,
            format: ExportFormat::Cloudformation,
            output,
            role_logical_id,
        } => offline::export(input, output, &role_logical_id, stdin, out).map(|()| Exit::Ok),
        Command::Validate { input } => offline::validate(input, stdin, out).map(|()| Exit::Ok),
        Command::Diff(args) => diff::run(args, stdin, out, err, terminal),
        Command::Discover(args) => discover::run(args, out, err).map(|()| Exit::Ok),
        Command::Drift(args) => drift::run(args, out, err, terminal),
        Command::Usage(args) => usage::run(args, stdin, out, err, terminal),
        Command::Schema => {
            out.write_all(crate::schema::properties_schema_text().as_bytes())?;
            Ok(Exit::Ok)
        }
        Command::Reference => {
            out.write_all(crate::reference::markdown().as_bytes())?;
            Ok(Exit::Ok)
        }
        Command::Catalog { json } => {
            if json {
                write_json(out, &catalog::catalog_json())?;
            } else {
                catalog::write_table(out)?;
            }
            Ok(Exit::Ok)
        }
    }
}

fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

fn write_template(
    out: &mut dyn Write,
    template: &serde_json::Value,
    syntax: Syntax,
) -> Result<(), CliError> {
    match syntax {
        Syntax::Json => write_json(out, template),
        Syntax::Yaml => {
            let text = crate::yaml::template(template)
                .map_err(|e| CliError::Write(std::io::Error::other(e.to_string())))?;
            out.write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

/// A current-thread runtime for the commands that call IAM.
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(e.to_string()))
}

/// IAM through the SDK's standard configuration: credential chain, `AWS_REGION`/profile region,
/// `AWS_ENDPOINT_URL_IAM`, retry settings. IAM is global; without a configured region the
/// client signs for us-east-1, as IAM's global endpoint expects.
async fn iam_from_environment() -> crate::iam::SdkIam {
    let region = aws_config::meta::region::RegionProviderChain::default_provider()
        .or_else(aws_config::Region::new("us-east-1"));
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(region)
        .load()
        .await;
    crate::iam::SdkIam::new(aws_sdk_iam::Client::new(&config))
}
