//! `persona-role usage DECLARATION --cloudtrail PATH…`: what the declared role did according to
//! CloudTrail, per activity; what IAM refused it and which declaration change would allow that;
//! and, with `--propose FILE`, the declaration tightened and widened accordingly, with the diff
//! against the current one. Exit code 0: nothing to propose, 1: proposals, 2: could not run.

mod render;

use std::io::Write;
use std::path::PathBuf;

use super::diff::render as render_diff;
use super::input::{StackArgs, declare, read_document};
use super::{CliError, Exit, Terminal, write_json};
use crate::time;
use crate::usage::records::Progress;
use crate::usage::{self, Input, Trail, UsageError};

#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// The declaration: a properties file or a CloudFormation event, JSON or YAML.
    #[arg(value_name = "DECLARATION")]
    pub declaration: PathBuf,
    /// CloudTrail log files (`.json.gz` as delivered to S3, or `.json`), directories of them
    /// (read recursively), or the JSON `aws cloudtrail lookup-events` prints. Repeatable.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub cloudtrail: Vec<PathBuf>,
    /// Count calls from this instant (RFC 3339, or a date: its midnight UTC).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Count calls before this instant (RFC 3339, or a date).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the proposed declaration (YAML, with the evidence as comments) to FILE, and print
    /// the diff between the current and the proposed declaration.
    #[arg(long, value_name = "FILE")]
    pub propose: Option<PathBuf>,
    /// The role whose calls count, when it is not the one the declaration plans (a role the
    /// Role Manager console made, before its adoption).
    #[arg(long, value_name = "ROLE_ARN")]
    pub role_arn: Option<String>,
    /// Files read at once (default: the machine's cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub stack: StackArgs,
}

fn bound(flag: &str, text: Option<&str>) -> Result<Option<time::Seconds>, CliError> {
    text.map(|t| {
        time::parse(t).ok_or_else(|| {
            CliError::Usage(format!(
                "{flag} {t:?}: expected an RFC 3339 time (2026-11-30T14:00:00Z) or a date (2026-11-30)"
            ))
        })
    })
    .transpose()
}

pub fn run(
    args: UsageArgs,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminal: Terminal,
) -> Result<Exit, CliError> {
    let since = bound("--since", args.since.as_deref())?;
    let until = bound("--until", args.until.as_deref())?;
    let document = read_document(Some(&args.declaration), stdin)?;
    let declaration = declare(document, &args.stack, None)?;
    if let Some(note) = declaration.account.note(&declaration.context.account) {
        writeln!(err, "note: {note}")?;
    }
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut line = |p: Progress| {
        let _ = write!(
            err,
            "\r{} of {} files, {} MB",
            p.files_done,
            p.files,
            p.bytes / 1_000_000
        );
        let _ = err.flush();
    };
    let progress: Option<&mut dyn FnMut(Progress)> = if terminal.progress {
        Some(&mut line)
    } else {
        None
    };
    let outcome = usage::run(Input {
        properties: &declaration.properties,
        context: &declaration.context,
        role_arn: args.role_arn.as_deref(),
        since,
        until,
        trail: Trail::Paths(&args.cloudtrail),
        threads,
        propose: args.propose.is_some(),
        progress,
    });
    if terminal.progress {
        writeln!(err)?;
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(UsageError::Plan(e)) => return Err(CliError::Plan(e)),
        Err(e @ UsageError::Properties) => return Err(CliError::Usage(e.to_string())),
        Err(UsageError::NoFiles(problems)) => {
            for problem in &problems {
                writeln!(err, "error: {problem}")?;
            }
            return Err(CliError::Usage(UsageError::NoFiles(problems).to_string()));
        }
        Err(UsageError::Proposal { error, problems }) => {
            for problem in &problems {
                writeln!(err, "warning: {problem}")?;
            }
            writeln!(err, "the proposed declaration does not plan:")?;
            return Err(CliError::Plan(error));
        }
    };
    for problem in &outcome.report.problems {
        writeln!(err, "warning: {problem}")?;
    }

    let mut written: Option<String> = None;
    if let (Some(path), Some(proposal)) = (&args.propose, &outcome.proposal) {
        let file = path.display().to_string();
        let heading = render::heading(&outcome.report, &declaration.label, &file);
        let text = render::yaml(&proposal.properties, &outcome.changes, &heading)
            .map_err(|e| CliError::Write(std::io::Error::other(e.to_string())))?;
        std::fs::write(path, text).map_err(|source| CliError::Read {
            path: file.clone(),
            source,
        })?;
        written = Some(file);
    }

    if args.json {
        write_json(out, &render::json(&outcome, written.as_deref()))?;
    } else {
        render::report(out, &outcome.report)?;
        render::proposals(out, &outcome.changes)?;
        if let (Some(file), Some(proposal)) = (&written, &outcome.proposal) {
            writeln!(out)?;
            render_diff(
                out,
                &declaration.label,
                file,
                &proposal.comparison,
                terminal.colour,
            )?;
        }
    }
    if outcome.unreadable() {
        return Ok(Exit::CannotRun);
    }
    Ok(if outcome.changes.is_empty() {
        Exit::Ok
    } else {
        Exit::Changes
    })
}
