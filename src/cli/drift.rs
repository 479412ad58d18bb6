//! `persona-role drift`: every role of the account the function owns, with its owning stack and
//! logical id, the declaration recovered from the stack's events, and what a re-plan with this
//! release would change (the `diff` output), hand edits named as such; roles that cannot be
//! re-planned (stack gone or mid-operation, declaration refused by this release) and Role
//! Manager's roles not yet adopted, listed. Read-only. Exit code 0: nothing to change, 1:
//! something listed, 2: could not run.

use std::io::Write;

use futures_util::StreamExt;
use serde::Serialize;

use super::diff::{Colour, render};
use super::{CliError, Exit, Terminal, runtime, write_json};
use crate::aws::CallPolicy;
use crate::cfn::stack_check::{Described, Stacks};
use crate::cfn::stacks::SdkStacks;
use crate::compare::{Comparison, compare};
use crate::discover;
use crate::drift::{self, HandEdit, Skip, StackView};
use crate::guardrails::{BOUNDARY_PARAMETER, Guardrails, SHIPPED_BOUNDARY};
use crate::iam::inventory::{self, RoleInventory};
use crate::iam::{Iam, SdkIam};
use crate::ownership::Owner;

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// The function's stack (name or id): its parameters give the guardrails the function
    /// plans with, its `ServiceToken` output the function whose roles are read.
    #[arg(long, default_value = "persona-role", value_name = "STACK")]
    pub function_stack: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Colour the text: on a terminal (auto), always or never.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
    /// Roles (and stacks) read at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
}

/// Where a role stands with this release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Standing {
    /// Owned, and IAM holds exactly what this release plans of its declaration.
    Current,
    /// Owned, and a re-plan with this release would change it (a release's change, or a hand
    /// edit it puts back).
    Changes,
    /// Owned, not re-planned: why is said.
    NotReplanned,
    /// Role Manager's role without ownership tags: no stack declares it yet.
    NotAdopted,
}

/// One role of the report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleReport {
    pub role_name: String,
    pub standing: Standing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// The event that recorded the declaration (`CREATE_COMPLETE`, `UPDATE_COMPLETE`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<String>,
    /// The declaration, as CloudFormation recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declaration: Option<serde_json::Value>,
    /// Why it is not re-planned, or why it is listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Skip>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hand_edits: Vec<HandEdit>,
    /// What a re-plan would change, as `diff --live` shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Comparison>,
}

/// Counts of the report.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    pub owned: usize,
    pub current: usize,
    pub changes: usize,
    pub with_hand_edits: usize,
    pub not_replanned: usize,
    pub not_adopted: usize,
    /// Roles with ownership tags of another deployment (another region's or another function's
    /// stack): not listed.
    pub other_deployments: usize,
}

/// The whole report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub function_stack: String,
    /// The function whose roles were read (the stack's `ServiceToken` output).
    pub function: Option<String>,
    /// The boundary every role carries, as the function's stack sets it.
    pub boundary: Option<String>,
    /// Whether anything is listed besides current roles (exit code 1).
    pub changed: bool,
    pub summary: Summary,
    pub roles: Vec<RoleReport>,
}

pub fn run(
    args: DriftArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminal: Terminal,
) -> Result<Exit, CliError> {
    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let (iam, stacks) = clients_from_environment().await?;
        report(&iam, &stacks, &args, err).await
    })?;
    if args.json {
        write_json(out, &report)?;
    } else {
        let colour = match args.color {
            Colour::Always => true,
            Colour::Never => false,
            Colour::Auto => terminal.colour,
        };
        write_text(out, &report, colour)?;
    }
    Ok(if report.changed {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

/// IAM and CloudFormation through the SDK's standard configuration (credential chain, region,
/// `AWS_ENDPOINT_URL_IAM`, `AWS_ENDPOINT_URL_CLOUDFORMATION`), with the function's own retries:
/// a report over an account's roles meets throttling as the function does.
async fn clients_from_environment() -> Result<(SdkIam, SdkStacks), CliError> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    if config.region().is_none() {
        return Err(CliError::Usage(
            "drift reads the function's stacks, which are regional: set AWS_REGION (or a profile's region) to the function's region".to_owned(),
        ));
    }
    let policy = CallPolicy::default();
    let iam = aws_sdk_iam::Client::from_conf(
        policy
            .configure(aws_sdk_iam::config::Builder::from(&config))
            .build(),
    );
    let cloudformation = aws_sdk_cloudformation::Client::from_conf(
        crate::cfn::stacks::configure(
            &policy,
            aws_sdk_cloudformation::config::Builder::from(&config),
        )
        .build(),
    );
    Ok((SdkIam::new(iam), SdkStacks::new(cloudformation)))
}

/// The function as its stack deploys it: its ARN, its guardrails and its boundary.
struct Function {
    arn: Option<String>,
    guardrails: Guardrails,
    boundary: Option<String>,
}

async fn function<S: Stacks>(stacks: &S, stack: &str) -> Result<Function, CliError> {
    let details = match stacks.stack_details(stack).await? {
        Described::Found(details) => details,
        Described::Unknown(message) => {
            return Err(CliError::Usage(format!(
                "CloudFormation shows no stack `{stack}` ({message}): name the function's stack with --function-stack"
            )));
        }
    };
    let given = details
        .parameters
        .get(BOUNDARY_PARAMETER)
        .is_some_and(|b| !b.trim().is_empty());
    let shipped = match given {
        true => None,
        false => match stacks
            .stack_resource(&details.stack_id, SHIPPED_BOUNDARY)
            .await?
        {
            Described::Found(resource) => resource.physical_id,
            Described::Unknown(_) => None,
        },
    };
    let guardrails = Guardrails::from_stack_parameters(&details.parameters, shipped.as_deref());
    Ok(Function {
        arn: details.outputs.get("ServiceToken").cloned(),
        boundary: guardrails.required_boundary.clone(),
        guardrails,
    })
}

/// Reads the account's candidate roles, their owning stacks and the function's stack, and
/// decides where each role stands.
pub async fn report<I: Iam, S: Stacks>(
    iam: &I,
    stacks: &S,
    args: &DriftArgs,
    err: &mut dyn Write,
) -> Result<Report, CliError> {
    let function = function(stacks, &args.function_stack).await?;
    let concurrency = usize::from(args.concurrency);
    let listed = iam.all_roles().await?;
    let mut names: Vec<String> = listed
        .iter()
        .filter(|role| drift::is_candidate_name(&role.name))
        .map(|role| role.name.clone())
        .collect();
    names.sort();
    writeln!(
        err,
        "{} roles, {} named sagemaker-… or SageMaker-…",
        listed.len(),
        names.len()
    )?;
    let read: Vec<Result<Option<RoleInventory>, crate::iam::IamError>> =
        futures_util::stream::iter(names.iter().map(|name| inventory::read_role(iam, name)))
            .buffered(concurrency)
            .collect()
            .await;
    let mut inventories = Vec::new();
    for result in read {
        // A role deleted since the listing is simply not there.
        if let Some(inventory) = result? {
            inventories.push(inventory);
        }
    }
    // Each owning stack is read once for all its roles.
    let owners: Vec<(Owner, &str)> = inventories
        .iter()
        .filter_map(|inventory| {
            Owner::of(&inventory.role.tags).map(|owner| (owner, inventory.role.name.as_str()))
        })
        .collect();
    let views = drift::read_stacks(
        stacks,
        owners.iter().map(|(owner, name)| (owner, *name)),
        concurrency,
        None,
    )
    .await;
    let mut roles = Vec::new();
    let mut others = 0;
    for inventory in &inventories {
        let entry = match Owner::of(&inventory.role.tags) {
            Some(owner) => {
                let view = views.get(&owner.stack_id).unwrap_or(&StackView::Gone);
                let entry = owned(inventory, &owner, view, &function);
                if entry.skipped.as_ref().is_some_and(Skip::is_foreign) {
                    others += 1;
                    continue;
                }
                entry
            }
            None if drift::is_role_managers(inventory) => RoleReport {
                role_name: inventory.role.name.clone(),
                standing: Standing::NotAdopted,
                reason: Some(format!(
                    "Role Manager's role, not adopted: `persona-role discover --role {}` declares it for a stack",
                    inventory.role.name
                )),
                ..empty(inventory)
            },
            // Neither this function's nor Role Manager's.
            None => continue,
        };
        roles.push(entry);
    }
    let mut summary = Summary::default();
    for role in &roles {
        match role.standing {
            Standing::Current => summary.current += 1,
            Standing::Changes => summary.changes += 1,
            Standing::NotReplanned => summary.not_replanned += 1,
            Standing::NotAdopted => summary.not_adopted += 1,
        }
        if !role.hand_edits.is_empty() {
            summary.with_hand_edits += 1;
        }
    }
    summary.owned = summary.current + summary.changes + summary.not_replanned;
    summary.other_deployments = others;
    Ok(Report {
        function_stack: args.function_stack.clone(),
        function: function.arn,
        boundary: function.boundary,
        changed: roles.iter().any(|r| r.standing != Standing::Current),
        summary,
        roles,
    })
}

fn empty(inventory: &RoleInventory) -> RoleReport {
    RoleReport {
        role_name: inventory.role.name.clone(),
        standing: Standing::Current,
        stack_id: None,
        logical_id: None,
        recorded_by: None,
        declaration: None,
        reason: None,
        skipped: None,
        hand_edits: Vec::new(),
        changes: None,
    }
}

/// An owned role: its declaration recovered, re-planned, compared and its hand edits named.
fn owned(
    inventory: &RoleInventory,
    owner: &Owner,
    view: &StackView,
    function: &Function,
) -> RoleReport {
    let base = RoleReport {
        stack_id: Some(owner.stack_id.clone()),
        logical_id: Some(owner.logical_id.clone()),
        ..empty(inventory)
    };
    let skipped = |skip: Skip, base: RoleReport| RoleReport {
        standing: Standing::NotReplanned,
        reason: Some(skip.describe()),
        skipped: Some(skip),
        ..base
    };
    let role = &inventory.role;
    let declared = match drift::recover(&role.name, owner, function.arn.as_deref(), view) {
        Ok(declared) => declared,
        Err(skip) => return skipped(skip, base),
    };
    let base = RoleReport {
        recorded_by: Some(declared.event_status.clone()),
        declaration: Some(declared.properties.clone()),
        ..base
    };
    let plan = match drift::replan(role, owner, &declared, &function.guardrails) {
        Ok(plan) => plan,
        Err(skip) => return skipped(skip, base),
    };
    let live = inventory.as_plan(
        discover::activity_names(inventory),
        plan.quotas.max_managed_policies,
    );
    let comparison = compare(&live, &plan);
    let hand_edits = drift::hand_edits(&plan, inventory);
    let standing = match comparison.is_empty() && hand_edits.is_empty() {
        true => Standing::Current,
        false => Standing::Changes,
    };
    RoleReport {
        standing,
        hand_edits,
        changes: (!comparison.is_empty()).then_some(comparison),
        ..base
    }
}

fn write_text(out: &mut dyn Write, report: &Report, colour: bool) -> std::io::Result<()> {
    writeln!(
        out,
        "function {} (stack {}), boundary {}",
        report.function.as_deref().unwrap_or("unknown"),
        report.function_stack,
        report.boundary.as_deref().unwrap_or("none")
    )?;
    for role in &report.roles {
        let owner = match (&role.stack_id, &role.logical_id) {
            (Some(stack), Some(logical)) => format!(
                " ({} {logical})",
                crate::guardrails::stack_name(stack).unwrap_or(stack)
            ),
            _ => String::new(),
        };
        let standing = match role.standing {
            Standing::Current => "current".to_owned(),
            Standing::Changes if role.hand_edits.is_empty() => {
                "a re-plan with this release changes it".to_owned()
            }
            Standing::Changes => {
                "changed by hand; a re-plan with this release changes it".to_owned()
            }
            Standing::NotReplanned => format!(
                "not re-planned: {}",
                role.reason.as_deref().unwrap_or_default()
            ),
            Standing::NotAdopted => role.reason.clone().unwrap_or_default(),
        };
        writeln!(out, "{}{owner}: {standing}", role.role_name)?;
        if !role.hand_edits.is_empty() {
            writeln!(out, "  hand edits:")?;
            for edit in &role.hand_edits {
                writeln!(out, "    ! {}", edit.describe())?;
            }
        }
        if let Some(changes) = &role.changes {
            let mut text = Vec::new();
            render(
                &mut text,
                &format!("{} in IAM", role.role_name),
                &format!(
                    "{} as this release plans its declaration ({})",
                    role.role_name,
                    role.recorded_by.as_deref().unwrap_or_default()
                ),
                changes,
                colour,
            )?;
            for line in String::from_utf8_lossy(&text).lines() {
                writeln!(out, "  {line}")?;
            }
        }
    }
    let s = &report.summary;
    writeln!(
        out,
        "{} roles owned: {} current, {} a re-plan changes ({} with hand edits), {} not re-planned; {} of Role Manager's not adopted; {} of other deployments not listed",
        s.owned,
        s.current,
        s.changes,
        s.with_hand_edits,
        s.not_replanned,
        s.not_adopted,
        s.other_deployments
    )
}
