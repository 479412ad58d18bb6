//! The scheduled drift report carried out ([`Handler::drift_report`]): every candidate role of
//! the account read once, each owned role's declaration recovered from its stack and re-planned
//! with this release, and its standing decided ([`crate::drift_report::standing`]) from its
//! hand edits ([`drift::hand_edits`]) and the changes that would converge it
//! ([`crate::iam::diff::diff`], as the reconcile run's Update would compute them). Reads only:
//! no IAM write, no CloudFormation answer.
//!
//! The reads are the reconcile run's and `persona-role drift`'s: `ListRoles`, each candidate
//! read with its own policies' documents ([`inventory::read_role_with`]), each owning stack once
//! ([`drift::read_stacks`]), and each owned role whose declaration re-plans read whole for that
//! plan, as an Update converging it would ([`super::effects::read_actual`]). Each read starts only while time is left before the function's
//! deadline; a role not read by then is reported `Unchecked`, and the report `Incomplete`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tracing::Instrument;

use super::Handler;
use crate::aws::meter::{CallMeter, Service};
use crate::cfn::stack_check::Stacks;
use crate::drift::{self, StackView};
use crate::drift_report::{self, Report, RoleStanding, Standing};
use crate::guardrails::Guardrails;
use crate::iam::Iam;
use crate::iam::diff::diff;
use crate::iam::inventory::{self, Documents, RoleInventory};
use crate::ownership::Owner;
use crate::plan::Plan;

/// Time kept back before the Lambda deadline to decide, answer and write the metric line.
const ANSWER_RESERVE: Duration = Duration::from_secs(5);
/// Without a Lambda deadline (tests, a local run), the report stops after this long.
const NO_DEADLINE: Duration = Duration::from_secs(900);
/// Roles read at once (`persona-role drift`'s default `--concurrency`).
const ROLES_AT_ONCE: usize = 8;
/// Stacks read at once.
const STACKS_AT_ONCE: usize = 8;

impl<I: Iam + Clone + 'static, S: Stacks + Clone + 'static> Handler<I, S> {
    /// Runs the drift report an invocation asks for (`request`, as [`drift_report::read`] read
    /// it), if the function's deployment schedules it, before `deadline`; the report is the
    /// invocation's answer, and its one metric line is written.
    pub async fn drift_report(
        &self,
        request: Result<(), String>,
        deadline: Option<Instant>,
        function_arn: Option<&str>,
    ) -> Report {
        let start = Instant::now();
        let meter = CallMeter::default();
        let admitted = request
            .and_then(|()| drift_report::admit(self.settings.drift_report_schedule.as_deref()));
        let report = match admitted {
            Err(reason) => {
                tracing::error!(reason = %reason, "refusing a drift report");
                Report::refused(reason)
            }
            Ok(()) => {
                let span = tracing::error_span!("drift_report");
                let stop = deadline
                    .and_then(|d| d.checked_sub(ANSWER_RESERVE))
                    .unwrap_or(start + NO_DEADLINE);
                let work = report(
                    &self.iam,
                    &self.stacks,
                    &self.settings.guardrails,
                    function_arn,
                    stop,
                );
                // Boxed: the SDK's futures nest deeply.
                meter.scope(Box::pin(work)).instrument(span).await
            }
        };
        let time_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let now_ms = crate::time::now_millis();
        let line = drift_report::metric_document(
            &self.settings.function_name,
            self.settings.metric_level,
            &report,
            time_ms,
            meter.counts(Service::Iam),
            meter.counts(Service::CloudFormation),
            now_ms,
        );
        self.settings.metric_sink.write(line.to_string());
        match report.status {
            "Complete" => tracing::info!(
                status = report.status,
                drifted = report.drifted,
                lagging = report.lagging,
                unreplannable = report.unreplannable,
                not_adopted = report.not_adopted,
                current = report.current,
                "drift report answered"
            ),
            _ => tracing::warn!(
                status = report.status,
                reason = report.reason.as_deref().unwrap_or_default(),
                drifted = report.drifted,
                lagging = report.lagging,
                unchecked = report.unchecked,
                "drift report answered, not whole"
            ),
        }
        report
    }
}

/// A candidate role as the report read it.
enum Read {
    Role(Box<RoleInventory>),
    /// Deleted since the listing.
    Gone,
    Unchecked(String),
}

/// The report: the account's candidate roles, their stacks, each role's standing.
async fn report<I: Iam, S: Stacks>(
    iam: &I,
    stacks: &S,
    guardrails: &Guardrails,
    function_arn: Option<&str>,
    stop: Instant,
) -> Report {
    let listed = match tokio::time::timeout_at(stop.into(), iam.all_roles()).await {
        Ok(Ok(listed)) => listed,
        Ok(Err(e)) => return failed(format!("listing the account's roles: {e}")),
        Err(_) => {
            return failed(
                "the function's deadline came before the account's roles were listed".to_owned(),
            );
        }
    };
    let mut names: Vec<String> = listed
        .into_iter()
        .map(|role| role.name)
        .filter(|name| drift::is_candidate_name(name))
        .collect();
    names.sort();
    let reads: Vec<Read> = futures_util::stream::iter(names.iter().map(|name| async move {
        if Instant::now() >= stop {
            return Read::Unchecked("not read before the function's deadline".to_owned());
        }
        match tokio::time::timeout_at(
            stop.into(),
            inventory::read_role_with(iam, name, Documents::Own),
        )
        .await
        {
            Ok(Ok(Some(read))) => Read::Role(Box::new(read)),
            Ok(Ok(None)) => Read::Gone,
            Ok(Err(e)) => Read::Unchecked(format!("IAM refused a read: {e}")),
            Err(_) => Read::Unchecked("not read before the function's deadline".to_owned()),
        }
    }))
    .buffered(ROLES_AT_ONCE)
    .collect()
    .await;

    let mut roles = Vec::new();
    let mut owned = Vec::new();
    for (name, read) in names.iter().zip(reads) {
        match read {
            Read::Gone => {}
            Read::Unchecked(reason) => roles.push(RoleStanding {
                role_name: name.clone(),
                stack_id: None,
                logical_id: None,
                standing: Standing::Unchecked { reason },
            }),
            Read::Role(inventory) => {
                let inventory = *inventory;
                match Owner::of(&inventory.role.tags) {
                    Some(owner) => owned.push((owner, inventory)),
                    None if drift::is_role_managers(&inventory) => roles.push(RoleStanding {
                        role_name: name.clone(),
                        stack_id: None,
                        logical_id: None,
                        standing: Standing::NotAdopted,
                    }),
                    // Neither this function's nor Role Manager's.
                    None => {}
                }
            }
        }
    }
    let views = drift::read_stacks(
        stacks,
        owned
            .iter()
            .map(|(owner, inventory)| (owner, inventory.role.name.as_str())),
        STACKS_AT_ONCE,
        Some(stop),
    )
    .await;
    let replanned: Vec<(&Owner, &RoleInventory, Replanned)> = owned
        .iter()
        .filter_map(|(owner, inventory)| {
            let replanned = match views.get(&owner.stack_id) {
                None => Replanned::Standing(Standing::Unchecked {
                    reason: "its stack was not read before the function's deadline".to_owned(),
                }),
                // `None`: another deployment's role, not this function's to report.
                Some(view) => replan(owner, inventory, view, guardrails, function_arn)?,
            };
            Some((owner, inventory, replanned))
        })
        .collect();
    let standings: Vec<Standing> = futures_util::stream::iter(replanned.iter().map(
        |(owner, inventory, replanned)| async move {
            let plan = match replanned {
                Replanned::Standing(standing) => return standing.clone(),
                Replanned::Plan(plan) => plan,
            };
            if Instant::now() >= stop {
                return Standing::Unchecked {
                    reason: "not read before the function's deadline".to_owned(),
                };
            }
            let read = super::effects::read_actual(
                iam,
                std::sync::Arc::clone(plan),
                inventory.role.clone(),
                owner,
            );
            match tokio::time::timeout_at(stop.into(), read).await {
                Ok(Ok(actual)) => {
                    drift_report::standing(drift::hand_edits(plan, inventory), &diff(plan, &actual))
                }
                Ok(Err(e)) => Standing::Unchecked {
                    reason: format!("IAM refused a read: {e}"),
                },
                Err(_) => Standing::Unchecked {
                    reason: "not read before the function's deadline".to_owned(),
                },
            }
        },
    ))
    .buffered(ROLES_AT_ONCE)
    .collect()
    .await;
    for ((owner, inventory, _), standing) in replanned.iter().zip(standings) {
        roles.push(RoleStanding {
            role_name: inventory.role.name.clone(),
            stack_id: Some(owner.stack_id.clone()),
            logical_id: Some(owner.logical_id.clone()),
            standing,
        });
    }
    roles.sort_by(|a, b| a.role_name.cmp(&b.role_name));
    for role in &roles {
        log(role);
    }
    Report::of(names.len(), roles)
}

fn failed(reason: String) -> Report {
    tracing::error!(reason = %reason, "the drift report could not read the account's roles");
    Report::failed(reason)
}

/// What an owned role's stack says of it: its standing already (its declaration does not
/// re-plan), or this release's plan of its declaration, to compare with the role read whole.
enum Replanned {
    Standing(Standing),
    Plan(std::sync::Arc<Plan>),
}

/// An owned role's declaration from its stack as read, re-planned; `None` for another
/// deployment's role.
fn replan(
    owner: &Owner,
    inventory: &RoleInventory,
    view: &StackView,
    guardrails: &Guardrails,
    function_arn: Option<&str>,
) -> Option<Replanned> {
    let role = &inventory.role;
    let declared = match drift::recover(&role.name, owner, function_arn, view) {
        Ok(declared) => declared,
        Err(skip) if skip.is_foreign() => return None,
        Err(skip) => return Some(Replanned::Standing(Standing::Unreplannable { skip })),
    };
    Some(match drift::replan(role, owner, &declared, guardrails) {
        Ok(plan) => Replanned::Plan(std::sync::Arc::new(plan)),
        Err(skip) => Replanned::Standing(Standing::Unreplannable { skip }),
    })
}

/// One line per role that is not current: drift at WARN (the alarm's count), the rest at INFO.
fn log(role: &RoleStanding) {
    let stack_id = role.stack_id.as_deref().unwrap_or_default();
    let logical_id = role.logical_id.as_deref().unwrap_or_default();
    let differs = role.standing.differs();
    match &role.standing {
        Standing::Current => {}
        Standing::Drifted { .. } | Standing::Unchecked { .. } => tracing::warn!(
            role = %role.role_name,
            stack_id,
            logical_id,
            standing = role.standing.name(),
            differs = %differs,
            "drift report"
        ),
        _ => tracing::info!(
            role = %role.role_name,
            stack_id,
            logical_id,
            standing = role.standing.name(),
            differs = %differs,
            "drift report"
        ),
    }
}
