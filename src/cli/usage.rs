//! `persona-role usage DECLARATION --cloudtrail PATH…`: what the declared role did according to
//! CloudTrail, per activity; what IAM refused it and which declaration change would allow that;
//! and, with `--propose FILE`, the declaration tightened and widened accordingly, with the diff
//! against the current one. Exit code 0: nothing to propose, 1: proposals, 2: could not run.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::diff::render as render_diff;
use super::input::{StackArgs, declare, read_document};
use super::{CliError, Exit, Terminal, write_json};
use crate::compare::{Comparison, compare};
use crate::plan;
use crate::time;
use crate::usage::records::{self, Progress};
use crate::usage::report::{self, Collector, Declared, Report, Scope};
use crate::usage::suggest::Change;
use crate::usage::{attribution, propose};

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

/// A proposed change in the JSON output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProposedChange<'a> {
    change: &'static str,
    property: &'static str,
    value: &'a str,
    evidence: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a Report,
    proposals: Vec<ProposedChange<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proposed_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<&'a Comparison>,
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
    let context = &declaration.context;
    let current = plan::plan_properties(&declaration.properties, context)?;
    let properties = report::parse_properties(&declaration.properties, context)
        .ok_or_else(|| CliError::Usage("the declaration's properties do not parse".to_owned()))?;
    let scope = Scope {
        role_arn: args
            .role_arn
            .clone()
            .unwrap_or_else(|| current.role.arn.clone()),
        account: context.account.clone(),
        partition: context.partition.name().to_owned(),
        region: context.region.clone(),
        since,
        until,
    };

    let (files, mut problems) = records::files(&args.cloudtrail);
    if files.is_empty() {
        for problem in &problems {
            writeln!(err, "error: {problem}")?;
        }
        return Err(CliError::Usage(
            "no CloudTrail files to read (.json or .gz files, or directories of them)".to_owned(),
        ));
    }
    let statements = attribution::plan_statements(&current);
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
    let (sinks, _bytes) = records::read_files(
        &files,
        threads,
        || Collector::new(&scope, &statements),
        progress,
    );
    if terminal.progress {
        writeln!(err)?;
    }
    let mut usage = report::Usage::default();
    for sink in sinks {
        usage.merge(sink.usage);
    }
    usage.problems.append(&mut problems);
    let declared = Declared {
        properties_value: &declaration.properties,
        properties: &properties,
        plan: &current,
        context,
    };
    let (report, changes) = report::build(&scope, &declared, &usage, files.len());
    for problem in &report.problems {
        writeln!(err, "warning: {problem}")?;
    }

    let mut diff: Option<(String, Comparison)> = None;
    if let (Some(path), false) = (&args.propose, changes.is_empty()) {
        let proposed = propose::proposed(&declaration.properties, &changes);
        let proposed_plan = plan::plan_properties(&proposed, context).map_err(|e| {
            let _ = writeln!(err, "the proposed declaration does not plan:");
            CliError::Plan(e)
        })?;
        let heading = format!(
            "Proposed by `persona-role usage` for {}\nfrom {} of the role in {} file(s), {} to {}.\nReview, then deploy it; `persona-role diff {} {}` shows what changes.",
            scope.role_arn,
            report.role_records,
            report.files,
            report.window.first_call.as_deref().unwrap_or("-"),
            report.window.last_call.as_deref().unwrap_or("-"),
            declaration.label,
            path.display()
        );
        let text = propose::yaml(&proposed, &changes, &heading)
            .map_err(|e| CliError::Write(std::io::Error::other(e.to_string())))?;
        std::fs::write(path, text).map_err(|source| CliError::Read {
            path: path.display().to_string(),
            source,
        })?;
        diff = Some((
            path.display().to_string(),
            compare(&current, &proposed_plan),
        ));
    }

    if args.json {
        let proposals = changes
            .iter()
            .map(|(change, evidence)| ProposedChange {
                change: if matches!(change, Change::RemoveActivity(_)) {
                    "Remove"
                } else {
                    "Add"
                },
                property: change.property(),
                value: change.value(),
                evidence,
            })
            .collect();
        write_json(
            out,
            &Output {
                report: &report,
                proposals,
                proposed_file: diff.as_ref().map(|(f, _)| f.clone()),
                diff: diff.as_ref().map(|(_, c)| c),
            },
        )?;
    } else {
        report::render(out, &report)?;
        if !changes.is_empty() {
            writeln!(out)?;
            writeln!(out, "proposals")?;
            for (change, evidence) in &changes {
                let sign = if matches!(change, Change::RemoveActivity(_)) {
                    '-'
                } else {
                    '+'
                };
                writeln!(out, "  {sign} {}: {}", change.property(), change.value())?;
                writeln!(out, "      {evidence}")?;
            }
        }
        if let Some((file, comparison)) = &diff {
            writeln!(out)?;
            render_diff(out, &declaration.label, file, comparison, terminal.colour)?;
        }
    }
    if report.records == 0 && !report.problems.is_empty() {
        return Ok(Exit::CannotRun);
    }
    Ok(if changes.is_empty() {
        Exit::Ok
    } else {
        Exit::Changes
    })
}
