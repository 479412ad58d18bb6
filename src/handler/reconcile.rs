//! The reconcile run carried out ([`Handler::reconcile`]): every role the function owns,
//! converged to this release's plan of the declaration its stack recorded. What it decides is
//! decided elsewhere: whether the run may start and how it is paced in [`crate::reconcile`],
//! each role's declaration and plan in [`crate::drift`], each role's convergence by the
//! lifecycle machine, as an Update of the resource with the properties CloudFormation recorded
//! would be (the same effects, carried out by [`effects::carry_out`]).
//!
//! Roles are taken in name order, [`WAVE_ROLES`] at a time; the run's IAM calls share one
//! [`CallMeter`] (20 in flight, 4 once IAM throttles one), and after each wave it pauses to keep
//! its mutating calls at its share of IAM's rate ([`pause_after`]). Before each wave the
//! wave's stacks are read again: a stack that changed since its roles were read (an operation
//! began, or ended with a new declaration) is left to the next run. No wave starts that might
//! not end before the function's deadline; the report then says where to continue.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;
use tracing::Instrument;

use super::{Handler, effects};
use crate::aws::meter::{CallMeter, Service};
use crate::cfn::event::{Request, RequestType};
use crate::cfn::stack_check::{Described, Stacks};
use crate::drift::{self, Declared, Skip, StackView};
use crate::guardrails::Guardrails;
use crate::iam::inventory::RoleSummary;
use crate::iam::waves::concurrently;
use crate::iam::{Change, CreateRoleError, Iam, IamError, PolicyState, RoleState};
use crate::lifecycle::{Intent, Machine, Next};
use crate::ownership::Owner;
use crate::plan::RolePlan;
use crate::reconcile::{
    self, Outcome, Report, RoleOutcome, RunRequest, WAVE_ROLES, continue_after, may_start_wave,
    pause_after,
};

/// Time kept back before the Lambda deadline to answer the invocation and write the metric line.
const ANSWER_RESERVE: Duration = Duration::from_secs(3);
/// Without a Lambda deadline (tests, a local run), the run stops after this long.
const NO_DEADLINE: Duration = Duration::from_secs(900);
/// Stacks read at once.
const STACKS_AT_ONCE: usize = 8;

impl<I: Iam + Clone + 'static, S: Stacks + Clone + 'static> Handler<I, S> {
    /// Runs the reconcile an invocation asks for (`request`, as [`reconcile::read`] read it), if
    /// the function's deployment allows it, before `deadline`; its report is the invocation's
    /// answer, and its one metric line is written.
    pub async fn reconcile(
        &self,
        request: Result<RunRequest, String>,
        deadline: Option<Instant>,
        function_arn: Option<&str>,
    ) -> Report {
        let start = Instant::now();
        let meter = CallMeter::default();
        let named = request
            .as_ref()
            .map_or("", |request| request.run.as_str())
            .to_owned();
        let admitted = request.and_then(|request| {
            reconcile::admit(&request, self.settings.reconcile_run.as_deref()).map(|()| request)
        });
        let report = match admitted {
            Err(reason) => {
                tracing::error!(reason = %reason, "refusing a reconcile run");
                Report::refused(&named, reason)
            }
            Ok(request) => {
                let span = tracing::error_span!("reconcile", Run = %request.run);
                let stop = deadline
                    .and_then(|d| d.checked_sub(ANSWER_RESERVE))
                    .unwrap_or(start + NO_DEADLINE);
                let work = run(
                    &self.iam,
                    &self.stacks,
                    &self.settings.guardrails,
                    function_arn,
                    &request,
                    stop,
                    &meter,
                );
                // Boxed: the SDK's futures nest deeply.
                meter.scope(Box::pin(work)).instrument(span).await
            }
        };
        let time_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let now_ms = crate::time::now_millis();
        let line = reconcile::metric_document(
            &self.settings.function_name,
            self.settings.metric_level,
            &report,
            time_ms,
            meter.counts(Service::Iam),
            meter.counts(Service::CloudFormation),
            now_ms,
        );
        self.settings.metric_sink.write(line.to_string());
        tracing::info!(
            status = report.status,
            owned = report.owned,
            converged = report.converged,
            unchanged = report.unchanged,
            skipped = report.skipped,
            failed = report.failed,
            not_reached = report.not_reached,
            "reconcile run answered"
        );
        report
    }
}

/// An owned role as the run found it.
struct Found {
    role: RoleState,
    owner: Owner,
}

/// The run: the roles after `request.after`, in name order; their stacks; then the waves.
async fn run<I: Iam, S: Stacks>(
    iam: &I,
    stacks: &S,
    guardrails: &Guardrails,
    function_arn: Option<&str>,
    request: &RunRequest,
    stop: Instant,
    meter: &CallMeter,
) -> Report {
    let failed = |reason: String| {
        tracing::error!(reason = %reason, "the reconcile run could not read the account's roles");
        let mut report = Report::refused(&request.run, reason);
        report.status = "Failed";
        report
    };
    let listed = match iam.all_roles().await {
        Ok(listed) => listed,
        Err(e) => return failed(format!("{e}; nothing was changed")),
    };
    let mut names: Vec<String> = listed
        .into_iter()
        .map(|RoleSummary { name, .. }| name)
        .filter(|name| drift::is_candidate_name(name))
        .filter(|name| {
            request
                .after
                .as_deref()
                .is_none_or(|after| name.as_str() > after)
        })
        .collect();
    names.sort();
    let read = concurrently(names.iter().map(|name| iam.get_role(name))).await;
    let mut owned = Vec::new();
    for (name, result) in names.iter().zip(read) {
        match result {
            Ok(Some(role)) => {
                if let Some(owner) = Owner::of(&role.tags) {
                    owned.push(Found { role, owner });
                }
            }
            // Deleted since the listing.
            Ok(None) => {}
            Err(e) => return failed(format!("reading role `{name}`: {e}; nothing was changed")),
        }
    }
    let views = drift::read_stacks(
        stacks,
        owned
            .iter()
            .map(|found| (&found.owner, found.role.name.as_str())),
        STACKS_AT_ONCE,
        None,
    )
    .await;

    // Each owned role: skipped now, or its declaration kept for its wave.
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(owned.len());
    let mut declared: BTreeMap<usize, Declared> = BTreeMap::new();
    for (index, found) in owned.iter().enumerate() {
        let view = views.get(&found.owner.stack_id).unwrap_or(&StackView::Gone);
        match drift::recover(&found.role.name, &found.owner, function_arn, view) {
            Ok(declaration) => {
                declared.insert(index, declaration);
                outcomes.push(None);
            }
            Err(skip) => outcomes.push(Some(Outcome::Skipped { skip })),
        }
    }

    let pending: Vec<usize> = declared.keys().copied().collect();
    let mut slowest = Duration::ZERO;
    for wave in pending.chunks(WAVE_ROLES) {
        let left = stop.saturating_duration_since(Instant::now());
        if !may_start_wave(left, slowest) {
            tracing::warn!(
                left_seconds = left.as_secs_f64(),
                "stopping before the deadline: the next run continues"
            );
            break;
        }
        let began = Instant::now();
        let throttles = meter.counts(Service::Iam).throttles;
        let changed = changed_stacks(stacks, wave, &owned, &views).await;
        let writes = AtomicUsize::new(0);
        let converging = wave.iter().map(|&index| {
            let found = &owned[index];
            let declaration = &declared[&index];
            let changed = changed.get(&found.owner.stack_id).cloned();
            let writes = &writes;
            async move {
                if let Some(status) = changed {
                    return Outcome::Skipped {
                        skip: Skip::ChangedDuringRun { status },
                    };
                }
                let plan = match drift::replan(&found.role, &found.owner, declaration, guardrails) {
                    Ok(plan) => plan,
                    Err(skip) => return Outcome::Skipped { skip },
                };
                let counted = Counted {
                    inner: iam,
                    writes: AtomicUsize::new(0),
                };
                let converged = tokio::time::timeout_at(
                    stop.into(),
                    converge(
                        &counted,
                        stacks,
                        guardrails,
                        &found.owner,
                        declaration,
                        plan,
                        &request.run,
                        stop,
                    ),
                )
                .await;
                let made = counted.writes.load(Ordering::Relaxed);
                writes.fetch_add(made, Ordering::Relaxed);
                match converged {
                    Ok(outcome) => outcome,
                    // Stopped part-way: the next run takes it again.
                    Err(_) => Outcome::NotReached,
                }
            }
        });
        let results = join_all(converging).await;
        for (&index, outcome) in wave.iter().zip(results) {
            log(&owned[index], &outcome);
            outcomes[index] = Some(outcome);
        }
        let took = began.elapsed();
        slowest = slowest.max(took);
        let throttled = meter.counts(Service::Iam).throttles > throttles;
        let pause = pause_after(writes.load(Ordering::Relaxed), took, throttled);
        let until = (Instant::now() + pause).min(stop);
        tokio::time::sleep_until(until.into()).await;
    }

    let mut results = Vec::with_capacity(owned.len());
    for (found, outcome) in owned.iter().zip(outcomes) {
        let outcome = match outcome {
            Some(outcome) => outcome,
            None => Outcome::NotReached,
        };
        match &outcome {
            // Another deployment's role: not this run's to report.
            Outcome::Skipped { skip } if skip.is_foreign() => continue,
            Outcome::Skipped { .. } => log(found, &outcome),
            _ => {}
        }
        results.push(RoleOutcome {
            role_name: found.role.name.clone(),
            stack_id: found.owner.stack_id.clone(),
            logical_id: found.owner.logical_id.clone(),
            outcome,
        });
    }
    // Unowned names are finished too: the next run need not read them again.
    let finished: BTreeMap<&str, bool> = results
        .iter()
        .map(|r| (r.role_name.as_str(), r.outcome.finished()))
        .collect();
    let order: Vec<(String, bool)> = names
        .iter()
        .map(|name| {
            (
                name.clone(),
                finished.get(name.as_str()).copied().unwrap_or(true),
            )
        })
        .collect();
    let resume = continue_after(&order, request.after.as_deref());
    Report::of(request, names.len(), results, resume)
}

/// The wave's stacks read again: those no longer as the run first read them (an operation
/// began, or one ended with a new declaration), with the status they show now.
async fn changed_stacks<S: Stacks>(
    stacks: &S,
    wave: &[usize],
    owned: &[Found],
    views: &BTreeMap<String, StackView>,
) -> BTreeMap<String, String> {
    let ids: BTreeSet<&str> = wave
        .iter()
        .map(|&index| owned[index].owner.stack_id.as_str())
        .collect();
    let reads = join_all(ids.iter().map(|id| stacks.stack_details(id))).await;
    let mut changed = BTreeMap::new();
    for (id, read) in ids.into_iter().zip(reads) {
        let before = match views.get(id) {
            Some(StackView::Read(read)) => Some(&read.details),
            _ => None,
        };
        let now = match read {
            Ok(Described::Found(details)) => details,
            Ok(Described::Unknown(_)) => {
                changed.insert(id.to_owned(), "DELETE_COMPLETE".to_owned());
                continue;
            }
            Err(e) => {
                changed.insert(id.to_owned(), format!("unreadable: {e}"));
                continue;
            }
        };
        let same = before.is_some_and(|before| {
            before.status == now.status && before.last_updated == now.last_updated
        });
        if !same {
            changed.insert(id.to_owned(), now.status);
        }
    }
    changed
}

/// One role brought to `plan` as an Update of its resource with the recorded properties would
/// bring it: the lifecycle machine's effects, carried out until its outcome.
#[allow(clippy::too_many_arguments)]
async fn converge<I: Iam, S: Stacks>(
    iam: &Counted<'_, I>,
    stacks: &S,
    guardrails: &Guardrails,
    owner: &Owner,
    declared: &Declared,
    plan: crate::plan::Plan,
    run: &str,
    until: Instant,
) -> Outcome {
    let request = Request {
        request_type: RequestType::Update,
        request_id: format!("reconcile-{run}"),
        response_url: String::new(),
        stack_id: owner.stack_id.clone(),
        logical_resource_id: owner.logical_id.clone(),
        physical_resource_id: Some(declared.physical_id.clone()),
        properties: declared.properties.clone(),
        old_properties: Some(declared.properties.clone()),
        service_timeout: None,
    };
    let intent = Intent::Update {
        current: declared.physical_id.clone(),
        plan: Arc::new(plan),
    };
    // No readiness wait: nothing waits for the answer.
    let (mut machine, mut next) = Machine::start(&request, intent, guardrails, None, None);
    let answer = loop {
        match next {
            Next::Answer(outcome) => break outcome,
            Next::Effect(effect) => {
                let observation =
                    effects::carry_out(iam, stacks, &owner.stack_id, effect, until).await;
                next = machine.on(observation);
            }
        }
    };
    match (answer.failure, answer.reason) {
        (Some(class), reason) => Outcome::Failed {
            class,
            reason: reason.unwrap_or_default(),
        },
        (None, _) => match iam.writes.load(Ordering::Relaxed) {
            0 => Outcome::Unchanged,
            changes => Outcome::Converged { changes },
        },
    }
}

/// One line per owned role: what became of it.
fn log(found: &Found, outcome: &Outcome) {
    let (changes, reason) = match outcome {
        Outcome::Converged { changes } => (*changes, String::new()),
        Outcome::Skipped { skip } => (0, skip.describe()),
        Outcome::Failed { reason, .. } => (0, reason.clone()),
        Outcome::Unchanged | Outcome::NotReached => (0, String::new()),
    };
    match outcome {
        Outcome::Failed { class, .. } => tracing::warn!(
            role = %found.role.name,
            stack_id = %found.owner.stack_id,
            logical_id = %found.owner.logical_id,
            outcome = outcome.name(),
            failure_class = class.as_str(),
            reason = %reason,
            "reconciled"
        ),
        _ => tracing::info!(
            role = %found.role.name,
            stack_id = %found.owner.stack_id,
            logical_id = %found.owner.logical_id,
            outcome = outcome.name(),
            changes,
            reason = %reason,
            "reconciled"
        ),
    }
}

/// IAM, counting the mutating calls one role's convergence makes: none is `Unchanged`.
struct Counted<'a, I> {
    inner: &'a I,
    writes: AtomicUsize,
}

impl<I: Iam> Iam for Counted<'_, I> {
    async fn get_role(&self, name: &str) -> Result<Option<RoleState>, IamError> {
        self.inner.get_role(name).await
    }

    async fn inline_policies(&self, role: &str) -> Result<BTreeMap<String, Value>, IamError> {
        self.inner.inline_policies(role).await
    }

    async fn inline_policy(&self, role: &str, name: &str) -> Result<Option<Value>, IamError> {
        self.inner.inline_policy(role, name).await
    }

    async fn inline_policy_names(&self, role: &str) -> Result<Vec<String>, IamError> {
        self.inner.inline_policy_names(role).await
    }

    async fn attached_policy_arns(&self, role: &str) -> Result<BTreeSet<String>, IamError> {
        self.inner.attached_policy_arns(role).await
    }

    async fn instance_profiles(&self, role: &str) -> Result<Vec<String>, IamError> {
        self.inner.instance_profiles(role).await
    }

    async fn get_policy(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        self.inner.get_policy(arn).await
    }

    async fn policy_summary(&self, arn: &str) -> Result<Option<PolicyState>, IamError> {
        self.inner.policy_summary(arn).await
    }

    async fn local_policy_arns(&self, path: &str) -> Result<Vec<String>, IamError> {
        self.inner.local_policy_arns(path).await
    }

    async fn other_attachments(&self, arn: &str, role: &str) -> Result<Vec<String>, IamError> {
        self.inner.other_attachments(arn, role).await
    }

    async fn all_roles(&self) -> Result<Vec<RoleSummary>, IamError> {
        self.inner.all_roles().await
    }

    async fn create_role(&self, plan: &RolePlan) -> Result<RoleState, CreateRoleError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.create_role(plan).await
    }

    async fn apply(&self, role: &str, change: &Change) -> Result<(), IamError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.apply(role, change).await
    }
}
