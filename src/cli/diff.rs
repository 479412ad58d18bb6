//! `persona-role diff OLD NEW` and `persona-role diff --live ROLE_NAME NEW`: what an Update (or
//! an adoption) would change, per statement, policy and quota. Exit code 0: no change, 1:
//! changes (so it can gate a pull request, like `git diff --exit-code`), 2: could not compare.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::input::{Declaration, Document, StackArgs, declare, read_document, stack_context};
use super::{CliError, Exit, Terminal, runtime, write_json};
use crate::compare::{
    Comparison, PolicyChange, PolicyChangeKind, PolicyKind, Quota, Sets, StatementChange,
    StatementChangeKind, compare,
};
use crate::context::{AccountSource, Partition, StackContext, Unowned, live_role_context};
use crate::iam::inventory;
use crate::ownership::Owner;
use crate::plan::{self, Plan};

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// OLD and NEW: property files or CloudFormation events, JSON or YAML (`-` reads standard
    /// input). With --live, only NEW.
    #[arg(num_args = 1..=2, required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Compare the role of this name as IAM holds it now (read-only IAM calls, standard AWS
    /// credential chain and AWS_ENDPOINT_URL_IAM) with NEW.
    #[arg(long, value_name = "ROLE_NAME")]
    pub live: Option<String>,
    /// Print the changes as JSON.
    #[arg(long)]
    pub json: bool,
    /// Colour the text: on a terminal (auto), always or never.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

/// The JSON output: what was compared, whether anything changes, and the changes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Output<'a> {
    old: &'a str,
    new: &'a str,
    changed: bool,
    #[serde(flatten)]
    comparison: &'a Comparison,
}

pub fn run(
    args: DiffArgs,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminal: Terminal,
) -> Result<Exit, CliError> {
    let (old_label, new_label, comparison) = match &args.live {
        Some(role_name) => {
            let [new] = args.files.as_slice() else {
                return Err(CliError::Usage(
                    "diff --live ROLE_NAME takes one file: the declaration to compare the role with"
                        .to_owned(),
                ));
            };
            let document = read_document(Some(new), stdin)?;
            live(role_name, document, &args.stack, err)?
        }
        None => {
            let [old, new] = args.files.as_slice() else {
                return Err(CliError::Usage(
                    "diff takes two files, OLD and NEW (or --live ROLE_NAME NEW)".to_owned(),
                ));
            };
            let old = read_document(Some(old), stdin)?;
            let new = read_document(Some(new), stdin)?;
            files(old, new, &args.stack, err)?
        }
    };
    if args.json {
        write_json(
            out,
            &Output {
                old: &old_label,
                new: &new_label,
                changed: !comparison.is_empty(),
                comparison: &comparison,
            },
        )?;
    } else {
        let colour = match args.color {
            Colour::Always => true,
            Colour::Never => false,
            Colour::Auto => terminal.colour,
        };
        render(out, &old_label, &new_label, &comparison, colour)?;
    }
    Ok(if comparison.is_empty() {
        Exit::Ok
    } else {
        Exit::Changes
    })
}

/// Two declarations. A properties file is planned in the stack of an event on the other side,
/// so both name the same stack; two properties files share the flags' stack.
fn files(
    old: Document,
    new: Document,
    stack: &StackArgs,
    err: &mut dyn Write,
) -> Result<(String, String, Comparison), CliError> {
    let (old_own, new_own) = (old.event_context()?, new.event_context()?);
    let shared: Option<(StackContext, AccountSource)> = match (&old_own, &new_own) {
        (Some(context), None) | (None, Some(context)) => {
            Some((context.clone(), AccountSource::Given))
        }
        (None, None) => Some(stack_context(
            stack,
            &[&new.properties(), &old.properties()],
        )?),
        (Some(_), Some(_)) => None,
    };
    let fallback = shared.as_ref().map(|(c, a)| (c, a));
    let old = declare(old, stack, fallback)?;
    let new = declare(new, stack, fallback)?;
    // Files that share a stack share its note.
    let mut noted = Vec::new();
    for declaration in [&old, &new] {
        if let Some(note) = declaration.account.note(&declaration.context.account)
            && !noted.contains(&note)
        {
            writeln!(err, "note: {note}")?;
            noted.push(note);
        }
    }
    let old_plan = plan_of(&old, err)?;
    let new_plan = plan_of(&new, err)?;
    Ok((old.label, new.label, compare(&old_plan, &new_plan)))
}

fn plan_of(declaration: &Declaration, err: &mut dyn Write) -> Result<Plan, CliError> {
    plan::plan_properties(&declaration.properties, &declaration.context).map_err(|e| {
        let _ = writeln!(err, "in {}:", declaration.label);
        CliError::Plan(e)
    })
}

/// The role as IAM holds it now against a declaration. A properties file is planned in the
/// role's account and partition, and in the stack its ownership tags name, so that what the
/// owning resource would plan is what is compared.
fn live(
    role_name: &str,
    new: Document,
    stack: &StackArgs,
    err: &mut dyn Write,
) -> Result<(String, String, Comparison), CliError> {
    let runtime = runtime()?;
    let inventory = runtime.block_on(async {
        let iam = super::iam_from_environment().await;
        inventory::read_role(&iam, role_name).await
    })?;
    let Some(inventory) = inventory else {
        return Err(CliError::NoSuchRole(role_name.to_owned()));
    };
    let context = match new.event_context()? {
        Some(context) => context,
        None => role_context(&inventory.role, stack)?,
    };
    let declaration = declare(new, stack, Some((&context, &AccountSource::Given)))?;
    let planned = plan_of(&declaration, err)?;
    let actual = inventory.as_plan(
        crate::discover::activity_names(&inventory),
        planned.quotas.max_managed_policies,
    );
    let old_label = format!("{} in IAM", inventory.role.arn);
    Ok((old_label, declaration.label, compare(&actual, &planned)))
}

/// The stack a properties file is planned in against a live role: the owner's (ownership
/// tags), else the flags' stack in the role's partition and account (unless the flags give them).
fn role_context(role: &crate::iam::RoleState, stack: &StackArgs) -> Result<StackContext, CliError> {
    let partition: Option<Partition> = stack.partition.as_deref().map(str::parse).transpose()?;
    Ok(live_role_context(
        &role.arn,
        Owner::of(&role.tags).as_ref(),
        Unowned {
            partition,
            account: stack.account.as_deref(),
            region: Some(&stack.region),
            stack_name: &stack.stack_name,
            logical_id: &stack.logical_id,
        },
    )?)
}

// ------------------------------------------------------------------------------- text

struct Painter<'a> {
    out: &'a mut dyn Write,
    colour: bool,
}

impl Painter<'_> {
    fn line(&mut self, indent: usize, sign: char, text: &str) -> std::io::Result<()> {
        let code = match sign {
            '+' => "32",
            '-' => "31",
            '~' => "33",
            _ => "",
        };
        let pad = " ".repeat(indent);
        if self.colour && !code.is_empty() {
            writeln!(self.out, "{pad}\x1b[{code}m{sign} {text}\x1b[0m")
        } else {
            writeln!(self.out, "{pad}{sign} {text}")
        }
    }

    fn heading(&mut self, text: &str) -> std::io::Result<()> {
        if self.colour {
            writeln!(self.out, "\x1b[1m{text}\x1b[0m")
        } else {
            writeln!(self.out, "{text}")
        }
    }

    fn sets(&mut self, indent: usize, what: &str, sets: &Sets<String>) -> std::io::Result<()> {
        let text = |value: &String| {
            if what.is_empty() {
                value.clone()
            } else {
                format!("{what} {value}")
            }
        };
        for value in &sets.added {
            self.line(indent, '+', &text(value))?;
        }
        for value in &sets.removed {
            self.line(indent, '-', &text(value))?;
        }
        Ok(())
    }
}

/// Readable text: a section per part of the role, `+` added, `-` removed, `~` changed.
pub fn render(
    out: &mut dyn Write,
    old_label: &str,
    new_label: &str,
    comparison: &Comparison,
    colour: bool,
) -> std::io::Result<()> {
    let mut p = Painter { out, colour };
    p.heading(&format!("--- {old_label}"))?;
    p.heading(&format!("+++ {new_label}"))?;
    if comparison.is_empty() {
        writeln!(p.out, "no change to role {}", comparison.role_name)?;
        return Ok(());
    }
    let c = comparison;
    p.heading(&format!("role {}", c.role_name))?;
    if let Some(r) = &c.renamed {
        p.line(2, '~', &format!("name: {} → {} (a new role)", r.old, r.new))?;
    }
    if let Some(x) = &c.path {
        p.line(
            2,
            '~',
            &format!(
                "path: {} → {} (the role is re-created under it)",
                x.old, x.new
            ),
        )?;
    }
    if let Some(x) = &c.description {
        p.line(2, '~', &format!("description: {:?} → {:?}", x.old, x.new))?;
    }
    if let Some(x) = &c.max_session_duration {
        p.line(
            2,
            '~',
            &format!("max session duration: {} → {} seconds", x.old, x.new),
        )?;
    }
    if let Some(x) = &c.permissions_boundary {
        let show = |b: &Option<String>| b.clone().unwrap_or_else(|| "none".to_owned());
        p.line(
            2,
            '~',
            &format!("permissions boundary: {} → {}", show(&x.old), show(&x.new)),
        )?;
    }
    p.sets(2, "activity", &c.activities)?;
    for tag in &c.tags.added {
        p.line(2, '+', &format!("tag {}={}", tag.key, tag.value))?;
    }
    for tag in &c.tags.removed {
        p.line(2, '-', &format!("tag {}={}", tag.key, tag.value))?;
    }
    for tag in &c.tags.changed {
        p.line(
            2,
            '~',
            &format!("tag {}: {} → {}", tag.key, tag.old, tag.new),
        )?;
    }
    if !c.trust.is_empty() {
        p.heading("trust policy")?;
        for statement in &c.trust {
            statement_lines(&mut p, statement, false)?;
        }
    }
    if !c.policies.is_empty() {
        p.heading("policies")?;
        for policy in &c.policies {
            policy_line(&mut p, policy)?;
        }
    }
    if !c.statements.is_empty() {
        p.heading("statements")?;
        for statement in &c.statements {
            statement_lines(&mut p, statement, true)?;
        }
    }
    if !c.allowed_actions.is_empty() {
        p.heading("allowed actions (all statements)")?;
        p.sets(2, "", &c.allowed_actions)?;
    }
    if !c.quotas.is_empty() {
        p.heading("quotas")?;
        for quota in &c.quotas {
            let what = match quota.quota {
                Quota::InlineCharacters => "inline policy characters",
                Quota::LargestManagedPolicy => "largest managed policy, characters",
                Quota::AttachedManagedPolicies => "attached managed policies",
                Quota::TrustPolicyCharacters => "trust policy characters",
            };
            p.line(
                2,
                '~',
                &format!(
                    "{what}: {} → {} of {}",
                    thousands(quota.old),
                    thousands(quota.new),
                    thousands(quota.limit)
                ),
            )?;
        }
    }
    Ok(())
}

fn policy_line(p: &mut Painter<'_>, policy: &PolicyChange) -> std::io::Result<()> {
    let kind = match policy.kind {
        PolicyKind::Inline => "inline",
        PolicyKind::Managed => "managed",
        PolicyKind::Attached => "managed",
    };
    let size = |n: Option<usize>| n.map(thousands).unwrap_or_default();
    let (sign, text) = match policy.change {
        PolicyChangeKind::Created => (
            '+',
            format!(
                "{kind} {}: created, {} characters",
                policy.policy,
                size(policy.new_size)
            ),
        ),
        PolicyChangeKind::Resized => (
            '~',
            format!(
                "{kind} {}: {} → {} characters",
                policy.policy,
                size(policy.old_size),
                size(policy.new_size)
            ),
        ),
        PolicyChangeKind::Changed => (
            '~',
            format!(
                "{kind} {}: changed, {} characters",
                policy.policy,
                size(policy.new_size)
            ),
        ),
        PolicyChangeKind::Attached => ('+', format!("{kind} {}: attached", policy.policy)),
        PolicyChangeKind::Detached => (
            '-',
            match policy.old_size {
                Some(n) => format!(
                    "{kind} {}: detached ({} characters; the policy stays)",
                    policy.policy,
                    thousands(n)
                ),
                None => format!("{kind} {}: detached", policy.policy),
            },
        ),
        PolicyChangeKind::Deleted => (
            '-',
            format!(
                "{kind} {}: deleted ({} characters)",
                policy.policy,
                size(policy.old_size)
            ),
        ),
    };
    p.line(2, sign, &text)
}

/// A statement's head line and its parts; `located` names the policy that holds it.
fn statement_lines(p: &mut Painter<'_>, s: &StatementChange, located: bool) -> std::io::Result<()> {
    // Statements without a Sid are named by their policy already.
    let located = located
        && !matches!(
            s.change,
            StatementChangeKind::Moved | StatementChangeKind::Renamed
        )
        && s.moved_from.is_none()
        && !s.statement.starts_with(&format!("{} #", s.policy));
    let place = if located {
        format!("{} in {}", s.statement, s.policy)
    } else {
        s.statement.clone()
    };
    let (sign, mut head) = match s.change {
        StatementChangeKind::Added => ('+', place),
        StatementChangeKind::Removed => ('-', place),
        StatementChangeKind::Changed
        | StatementChangeKind::Moved
        | StatementChangeKind::Renamed => ('~', place),
    };
    if let Some(from) = &s.renamed_from {
        head = format!("{head} (was {from}, unchanged)");
    }
    if let Some(from) = &s.moved_from {
        head = format!("{head} (moved from {from} to {})", s.policy);
    } else if s.change == StatementChangeKind::Moved {
        head = format!("{head} (moved to {})", s.policy);
    }
    p.line(2, sign, &head)?;
    if let Some(effect) = &s.effect {
        // An added or removed statement shows its effect only when it is not the usual Allow.
        if effect.old.is_empty() || effect.new.is_empty() {
            let (sign, value) = if effect.old.is_empty() {
                ('+', &effect.new)
            } else {
                ('-', &effect.old)
            };
            if value != "Allow" {
                p.line(6, sign, &format!("effect {value}"))?;
            }
        } else {
            p.line(6, '~', &format!("effect {} → {}", effect.old, effect.new))?;
        }
    }
    p.sets(6, "action", &s.actions)?;
    p.sets(6, "not-action", &s.not_actions)?;
    p.sets(6, "resource", &s.resources)?;
    p.sets(6, "not-resource", &s.not_resources)?;
    p.sets(6, "principal", &s.principals)?;
    for condition in &s.conditions.added {
        p.line(6, '+', &format!("condition {condition}"))?;
    }
    for condition in &s.conditions.removed {
        p.line(6, '-', &format!("condition {condition}"))?;
    }
    Ok(())
}

/// 10240 → `10,240`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10240), "10,240");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
