//! `persona-role discover`: list the account's roles (paginated), read those named
//! `SageMaker-…`/`sagemaker-…` with read-only IAM calls, and declare the ones Role Manager or
//! this project made as `Custom::SageMakerPersonaRole` resources that adopt them. Progress and
//! what could not be mapped go to stderr; the template (or the properties files) is the output.

use std::io::Write;
use std::path::PathBuf;

use tokio::task::JoinSet;

use super::{CliError, Syntax, runtime, write_template};
use crate::arn::Arn;
use crate::discover::{self, Discovery, Origin, Skipped};
use crate::iam::SdkIam;
use crate::iam::inventory::{self, RoleInventory};

#[derive(Debug, Clone, clap::Args)]
pub struct DiscoverArgs {
    /// Only this role (repeatable). Without it: every role named SageMaker-… or sagemaker-….
    #[arg(long = "role", value_name = "ROLE_NAME")]
    pub roles: Vec<String>,
    /// Also declare roles a persona-role stack owns already (adoption refuses them until that
    /// stack lets them go).
    #[arg(long)]
    pub include_owned: bool,
    /// Write one YAML properties file per role into this directory instead of a template.
    #[arg(long, value_name = "DIR")]
    pub properties_dir: Option<PathBuf>,
    /// Template syntax.
    #[arg(long, value_enum, default_value_t = Syntax::Yaml)]
    pub output: Syntax,
    /// Default of the template's PersonaRoleStackName parameter: the stack that exports
    /// `<name>-ServiceToken`.
    #[arg(long, default_value = "persona-role")]
    pub service_stack: String,
    /// Roles read at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
}

/// Runs discover against IAM as the SDK's standard configuration finds it.
pub fn run(args: DiscoverArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let iam = super::iam_from_environment().await;
        discover(&iam, &args, out, err).await.map(drop)
    })
}

/// What discover found: declared roles, and roles it read but does not declare.
#[derive(Debug, Default)]
pub struct Found {
    pub declared: Vec<Discovery>,
    pub skipped: Vec<Skipped>,
}

/// Finds, reads and declares the roles; writes the template (or files) and a report.
pub async fn discover(
    iam: &SdkIam,
    args: &DiscoverArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Found, CliError> {
    let names = candidates(iam, args, err).await?;
    let inventories = read_all(iam, &names, usize::from(args.concurrency), err).await?;
    let mut found = Found::default();
    for (name, inventory) in inventories {
        let Some(inventory) = inventory else {
            found.skipped.push(Skipped {
                role_name: name,
                reason: "no such role".to_owned(),
            });
            continue;
        };
        match discover::infer(&inventory) {
            Ok(discovery) => match &discovery.origin {
                Origin::PersonaRole {
                    stack_id,
                    logical_id,
                } if !args.include_owned => found.skipped.push(Skipped {
                    role_name: discovery.role_name.clone(),
                    reason: format!(
                        "owned by {logical_id} of stack {stack_id}, which declares it already (--include-owned declares it anyway)"
                    ),
                }),
                _ => found.declared.push(discovery),
            },
            Err(skipped) => found.skipped.push(skipped),
        }
    }
    found.declared.sort_by(|a, b| a.role_name.cmp(&b.role_name));
    found.skipped.sort_by(|a, b| a.role_name.cmp(&b.role_name));
    write_output(args, &found, out, err)?;
    report(&found, err)?;
    Ok(found)
}

/// The roles to read: those asked for, else every role whose name Role Manager or this project
/// could have given it.
async fn candidates(
    iam: &SdkIam,
    args: &DiscoverArgs,
    err: &mut dyn Write,
) -> Result<Vec<String>, CliError> {
    if !args.roles.is_empty() {
        return Ok(args.roles.clone());
    }
    let mut listed = 0;
    let roles = inventory::list_roles(iam, &mut |count| {
        listed = count;
        let _ = writeln!(err, "listing roles: {count}");
    })
    .await?;
    let names: Vec<String> = roles
        .into_iter()
        .filter(|r| discover::is_candidate_name(&r.name))
        .map(|r| r.name)
        .collect();
    writeln!(
        err,
        "{listed} roles, {} named SageMaker-… or sagemaker-…",
        names.len()
    )?;
    Ok(names)
}

/// Reads the roles, `concurrency` at a time, reporting each as it is read.
async fn read_all(
    iam: &SdkIam,
    names: &[String],
    concurrency: usize,
    err: &mut dyn Write,
) -> Result<Vec<(String, Option<RoleInventory>)>, CliError> {
    let total = names.len();
    let mut pending = names.iter().cloned();
    let mut running = JoinSet::new();
    let mut done = Vec::with_capacity(total);
    loop {
        while running.len() < concurrency {
            let Some(name) = pending.next() else { break };
            let iam = iam.clone();
            running.spawn(async move {
                let result = inventory::read_role(&iam, &name).await;
                (name, result)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (name, result) =
            joined.map_err(|e| CliError::Runtime(format!("reading a role failed: {e}")))?;
        let inventory = result?;
        writeln!(err, "[{}/{total}] read {name}", done.len() + 1)?;
        done.push((name, inventory));
    }
    Ok(done)
}

fn write_output(
    args: &DiscoverArgs,
    found: &Found,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    if found.declared.is_empty() {
        writeln!(err, "no role to declare")?;
        return Ok(());
    }
    if let Some(dir) = &args.properties_dir {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        for discovery in &found.declared {
            let text = discover::properties_file(discovery)
                .map_err(|e| CliError::Write(std::io::Error::other(e.to_string())))?;
            let path = dir.join(format!("{}.yaml", discovery.role_name));
            std::fs::write(&path, text)?;
            writeln!(err, "wrote {}", path.display())?;
        }
        return Ok(());
    }
    let account = found
        .declared
        .first()
        .and_then(|d| Arn::parse(&d.arn))
        .map(|arn| arn.account)
        .unwrap_or_default();
    let template = discover::template(&found.declared, &args.service_stack, account);
    write_template(out, &template, args.output)
}

fn report(found: &Found, err: &mut dyn Write) -> Result<(), CliError> {
    for discovery in &found.declared {
        writeln!(err, "declared {}", discovery.role_name)?;
        for line in &discovery.unmapped {
            writeln!(err, "  not mapped: {line}")?;
        }
        for line in &discovery.notes {
            writeln!(err, "  note: {line}")?;
        }
    }
    for skipped in &found.skipped {
        writeln!(err, "skipped {}: {}", skipped.role_name, skipped.reason)?;
    }
    let with_gaps = found
        .declared
        .iter()
        .filter(|d| !d.unmapped.is_empty())
        .count();
    writeln!(
        err,
        "{} roles declared ({with_gaps} with something not mapped: review before deploying), {} skipped",
        found.declared.len(),
        found.skipped.len()
    )?;
    Ok(())
}
