//! How `usage` shows its outcome: the report as text or JSON, the proposals, and the proposed
//! declaration as YAML with the evidence as comments.

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use crate::compare::Comparison;
use crate::usage::Outcome;
use crate::usage::report::{ActivityState, CallLine, Report};
use crate::usage::suggest::Change;

/// A proposed change in the JSON output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProposedChange<'a> {
    change: &'static str,
    property: &'static str,
    value: &'a str,
    evidence: &'a str,
}

/// The JSON output: the report, the proposals and, with `--propose`, the file written and the
/// diff against it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Json<'a> {
    #[serde(flatten)]
    report: &'a Report,
    proposals: Vec<ProposedChange<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proposed_file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<&'a Comparison>,
}

fn sign(change: &Change) -> char {
    if matches!(change, Change::RemoveActivity(_)) {
        '-'
    } else {
        '+'
    }
}

/// The outcome as JSON; `proposed_file` is where the proposal was written.
pub fn json<'a>(outcome: &'a Outcome, proposed_file: Option<&'a str>) -> Json<'a> {
    let proposals = outcome
        .changes
        .iter()
        .map(|(change, evidence)| ProposedChange {
            change: if sign(change) == '-' { "Remove" } else { "Add" },
            property: change.property(),
            value: change.value(),
            evidence,
        })
        .collect();
    let written = proposed_file.zip(outcome.proposal.as_ref());
    Json {
        report: &outcome.report,
        proposals,
        proposed_file: written.map(|(file, _)| file),
        diff: written.map(|(_, p)| &p.comparison),
    }
}

/// The proposals as text, after the report; nothing when there are none.
pub fn proposals(out: &mut dyn Write, changes: &[(Change, String)]) -> std::io::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "proposals")?;
    for (change, evidence) in changes {
        writeln!(
            out,
            "  {} {}: {}",
            sign(change),
            change.property(),
            change.value()
        )?;
        writeln!(out, "      {evidence}")?;
    }
    Ok(())
}

/// The lines above the proposed declaration: whose calls proposed it, and how to review it.
pub fn heading(report: &Report, declaration: &str, proposed_file: &str) -> String {
    format!(
        "Proposed by `persona-role usage` for {}\nfrom {} of the role in {} file(s), {} to {}.\nReview, then deploy it; `persona-role diff {declaration} {proposed_file}` shows what changes.",
        report.role,
        report.role_records,
        report.files,
        report.window.first_call.as_deref().unwrap_or("-"),
        report.window.last_call.as_deref().unwrap_or("-"),
    )
}

/// The proposed properties as YAML, with a comment per change: what and why.
pub fn yaml(
    proposed: &Value,
    changes: &[(Change, String)],
    heading: &str,
) -> Result<String, serde_yaml_ng::Error> {
    let mut text = String::new();
    for line in heading.lines() {
        text.push_str(&format!("# {line}\n"));
    }
    if !changes.is_empty() {
        text.push_str("#\n# Changes, and the calls that prove them:\n");
    }
    for (change, evidence) in changes {
        let what = match change {
            Change::AddActivity(name) => format!("activity {name}"),
            Change::RemoveActivity(name) => format!("activity {name}"),
            Change::AddValue { param, value } => format!("{param}: {value}"),
        };
        text.push_str(&format!(
            "# {} {what}: {}\n",
            sign(change),
            evidence.replace('\n', " ")
        ));
    }
    text.push_str(&serde_yaml_ng::to_string(proposed)?);
    Ok(text)
}

fn resources_text(call: &CallLine) -> String {
    if call.resources.is_empty() {
        return String::new();
    }
    let mut text = format!(" on {}", call.resources.join(", "));
    if call.more_resources {
        text.push_str(", …");
    }
    text
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The report as text.
pub fn report(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "role {}", report.role)?;
    let w = &report.window;
    writeln!(
        out,
        "  window: {} to {}; calls from {} to {}",
        w.since.as_deref().unwrap_or("the first record"),
        w.until.as_deref().unwrap_or("the last record"),
        w.first_call.as_deref().unwrap_or("-"),
        w.last_call.as_deref().unwrap_or("-"),
    )?;
    writeln!(
        out,
        "  read {} in {}: {} of the role",
        plural(report.records, "record"),
        plural(report.files as u64, "file"),
        plural(report.role_records, "call")
    )?;
    writeln!(out)?;
    writeln!(out, "activities")?;
    for activity in &report.activities {
        match activity.state {
            ActivityState::Used => writeln!(
                out,
                "  {}: used, last {}",
                activity.activity,
                activity.last_used.as_deref().unwrap_or("-")
            )?,
            ActivityState::Unused => writeln!(
                out,
                "  {}: never used in the window (a candidate for RemoveActivities)",
                activity.activity
            )?,
            ActivityState::NotEvaluated => writeln!(
                out,
                "  {}: not evaluated (its AWS managed policies are not read)",
                activity.activity
            )?,
        }
        for call in &activity.calls {
            let mut by = call.statement.clone().unwrap_or_default();
            for other in &call.or_statements {
                by.push_str(" or ");
                by.push_str(other);
            }
            writeln!(
                out,
                "    {} {}× by {by}, last {}{}",
                call.action,
                call.calls,
                call.last,
                resources_text(call)
            )?;
            if !call.assumed.is_empty() {
                writeln!(
                    out,
                    "      assumed (not in CloudTrail): {}",
                    call.assumed.join(", ")
                )?;
            }
        }
        if !activity.unused_actions.is_empty() {
            writeln!(
                out,
                "    granted, never used: {}",
                activity.unused_actions.join(", ")
            )?;
        }
    }
    if !report.denied.is_empty() {
        writeln!(out)?;
        writeln!(out, "refused calls")?;
        for group in &report.denied {
            if group.covered() {
                writeln!(out, "  allowed by {}", group.allowed_by.join(" with "))?;
            } else {
                writeln!(out, "  allowed by no activity of the catalog")?;
            }
            for call in &group.calls {
                writeln!(
                    out,
                    "    {} {}× ({}), last {}{}",
                    call.action,
                    call.calls,
                    call.errors.join(", "),
                    call.last,
                    resources_text(call)
                )?;
            }
        }
    }
    if !report.allowed_elsewhere.is_empty() {
        writeln!(out)?;
        writeln!(out, "allowed by none of the declaration's statements")?;
        for call in &report.allowed_elsewhere {
            writeln!(
                out,
                "  {} {}×, last {}{}",
                call.action,
                call.calls,
                call.last,
                resources_text(call)
            )?;
        }
    }
    if !report.problems.is_empty() {
        writeln!(out)?;
        writeln!(out, "problems")?;
        for problem in &report.problems {
            writeln!(out, "  {problem}")?;
        }
    }
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Param;
    use crate::usage::suggest;
    use serde_json::json;

    #[test]
    fn evidence_is_written_as_comments_above_the_properties() {
        let current = json!({"Persona": "DataScientist", "S3Buckets": ["a"]});
        let changes = vec![
            (
                Change::AddValue {
                    param: Param::S3Buckets,
                    value: "b".to_owned(),
                },
                "AccessDenied refused 2 calls".to_owned(),
            ),
            (
                Change::RemoveActivity("Manage Experiments".to_owned()),
                "never used".to_owned(),
            ),
        ];
        let list: Vec<Change> = changes.iter().map(|(c, _)| c.clone()).collect();
        let new = suggest::apply(&current, &list);
        let text = yaml(&new, &changes, "proposed").unwrap_or_default();
        assert!(text.starts_with("# proposed\n#\n# Changes"));
        assert!(text.contains("# + S3Buckets: b: AccessDenied refused 2 calls\n"));
        assert!(text.contains("# - activity Manage Experiments: never used\n"));
        let parsed: Value = serde_yaml_ng::from_str(&text).unwrap_or_default();
        assert_eq!(parsed["S3Buckets"], json!(["a", "b"]));
        assert_eq!(parsed["RemoveActivities"], json!(["Manage Experiments"]));
    }
}
