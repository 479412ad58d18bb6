//! The reconcile run, decided without AWS: the invocation that starts it and whether this
//! deployment allows it ([`read`], [`admit`]); how its waves are paced and when it stops
//! ([`pause_after`], [`may_start_wave`]); where a run that stopped continues
//! ([`continue_after`]); and its report and metric line. `handler::reconcile` carries it out.
//!
//! The run is started by a direct invocation of the function with an event of its own shape,
//! `{"PersonaRoleReconcile": {"Run": "<name>", "After": "<role>"}}`, which the function accepts
//! only when its own deployment names that run: the function stack's parameter `ReconcileRun`,
//! passed to it as [`RUN_ENV`]. It is no way around the stack check that every CloudFormation
//! event passes: the event carries no declaration, no role and no stack. The roles are found
//! by their ownership tags, and each is converged only to the properties its own stack recorded
//! with this function's `ServiceToken` (the latest event of the resource with the role's id, as
//! the stack check holds a Delete to), while the stack is at rest and holds the role; so a
//! forged or repeated run can do no more than the operator's: bring each role to what its stack
//! declared, which is what the role holds already once a run has passed. Who may set
//! `ReconcileRun` may deploy the function's stack, and so change its code: no one gains a power
//! through it.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::aws::meter::CallCounts;
use crate::drift::Skip;
use crate::metrics::{self, FailureClass};

/// The environment variable naming the run this deployment allows (the stack's `ReconcileRun`);
/// unset or empty: none.
pub const RUN_ENV: &str = "PERSONA_ROLE_RECONCILE_RUN";
/// The key of the run's event.
pub const EVENT_KEY: &str = "PersonaRoleReconcile";
/// A run's name: what `ReconcileRun` allows (`template.yaml` checks the same pattern).
pub const MAX_RUN_NAME: usize = 64;
/// The run's event is small; anything larger is no run's event.
const MAX_EVENT_BYTES: usize = 4096;

/// The invocation that starts or continues a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub run: String,
    /// Continue after this role (names in byte order): a run that stopped says where.
    pub after: Option<String>,
}

/// The run's event, if `raw` is one: `None` for anything else (a CloudFormation event), an error
/// for a run event that does not read.
pub fn read(raw: &[u8]) -> Option<Result<RunRequest, String>> {
    if raw.len() > MAX_EVENT_BYTES {
        return None;
    }
    let value: Value = serde_json::from_slice(raw).ok()?;
    let body = value.as_object()?.get(EVENT_KEY)?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::trim);
    Some(match (text("Run"), body.get("After")) {
        (Some(run), after) if !run.is_empty() => match after {
            None | Some(Value::Null) => Ok(RunRequest {
                run: run.to_owned(),
                after: None,
            }),
            Some(Value::String(after)) => Ok(RunRequest {
                run: run.to_owned(),
                after: Some(after.clone()).filter(|a| !a.is_empty()),
            }),
            Some(_) => Err(format!("{EVENT_KEY}.After must be a role name")),
        },
        _ => Err(format!(
            "{EVENT_KEY}.Run must name the run the function's stack allows (its ReconcileRun parameter)"
        )),
    })
}

/// Whether the deployment allows the run: its `ReconcileRun` (`configured`) names it.
pub fn admit(request: &RunRequest, configured: Option<&str>) -> Result<(), String> {
    match configured.map(str::trim).filter(|c| !c.is_empty()) {
        None => Err(
            "no reconcile run is allowed: deploy the function's stack with ReconcileRun set to the run's name, then invoke it with that name; nothing was changed"
                .to_owned(),
        ),
        Some(allowed) if allowed == request.run => Ok(()),
        Some(allowed) => Err(format!(
            "the function's stack allows the run `{allowed}`, not `{}`; nothing was changed",
            request.run
        )),
    }
}

/// Roles converged at once: one wave.
pub const WAVE_ROLES: usize = 10;
/// The run's share of IAM's mutating calls per second. IAM's rate is one per account, not
/// published; the function is held to 15 per second (docs/deploy.md, Sizing): the run takes a
/// third, leaving the rest to the stack operations that go on meanwhile.
pub const WRITES_PER_SECOND: f64 = 5.0;
/// After a wave IAM throttled, the next waits at least this long.
pub const THROTTLED_PAUSE: Duration = Duration::from_secs(5);
/// No wave starts with less time left than this, nor than twice the slowest wave so far.
pub const MIN_WAVE_RESERVE: Duration = Duration::from_secs(15);

/// The pause after a wave that made `writes` mutating calls in `took`, throttled or not: as long
/// as keeps the run at [`WRITES_PER_SECOND`], at least [`THROTTLED_PAUSE`] after a throttle.
pub fn pause_after(writes: usize, took: Duration, throttled: bool) -> Duration {
    // Writes per wave are few (tens): exact in f64.
    let count = u32::try_from(writes).unwrap_or(u32::MAX);
    let paced = Duration::from_secs_f64(f64::from(count) / WRITES_PER_SECOND).saturating_sub(took);
    match throttled {
        true => paced.max(THROTTLED_PAUSE),
        false => paced,
    }
}

/// Whether a wave may start with `left` before the run must stop, the slowest wave so far
/// having taken `slowest`.
pub fn may_start_wave(left: Duration, slowest: Duration) -> bool {
    left >= MIN_WAVE_RESERVE.max(slowest * 2)
}

/// What became of one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Outcome", rename_all_fields = "PascalCase")]
pub enum Outcome {
    /// Brought to this release's plan with `changes` mutating calls.
    Converged { changes: usize },
    /// Already this release's plan: no mutating call.
    Unchanged,
    /// Not touched, for the reason said.
    Skipped { skip: Skip },
    /// Its convergence failed: the role may be part-way; a later run takes it again.
    Failed { class: FailureClass, reason: String },
    /// The run stopped before it: the next run continues there.
    NotReached,
}

impl Outcome {
    /// Whether the run is done with the role (a later run need not take it before those
    /// after it).
    pub fn finished(&self) -> bool {
        !matches!(self, Outcome::NotReached)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Converged { .. } => "Converged",
            Outcome::Unchanged => "Unchanged",
            Outcome::Skipped { .. } => "Skipped",
            Outcome::Failed { .. } => "Failed",
            Outcome::NotReached => "NotReached",
        }
    }
}

/// One owned role's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleOutcome {
    pub role_name: String,
    pub stack_id: String,
    pub logical_id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Where the next run continues: after the last role such that every role up to it is
/// finished; none when every role is (or when the first is not, and the run began at the start,
/// `after` none).
pub fn continue_after(order: &[(String, bool)], after: Option<&str>) -> Option<Option<String>> {
    if order.iter().all(|(_, finished)| *finished) {
        return None;
    }
    let done = order
        .iter()
        .take_while(|(_, finished)| *finished)
        .last()
        .map(|(name, _)| name.clone());
    Some(done.or_else(|| after.map(str::to_owned)))
}

/// The run's answer to its invocation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub run: String,
    /// `Refused` (nothing was done), `Complete`, or `Stopped` (continue with `Continue`).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Roles whose names the run read (`sagemaker-…`, `SageMaker-…`), and the owned ones.
    pub roles_read: usize,
    pub owned: usize,
    pub converged: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
    pub not_reached: usize,
    /// The event that continues a stopped run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#continue: Option<Value>,
    pub outcomes: Vec<RoleOutcome>,
}

impl Report {
    /// The answer to a run that was not started.
    pub fn refused(run: &str, reason: String) -> Report {
        Report {
            run: run.to_owned(),
            status: "Refused",
            reason: Some(reason),
            roles_read: 0,
            owned: 0,
            converged: 0,
            unchanged: 0,
            skipped: 0,
            failed: 0,
            not_reached: 0,
            r#continue: None,
            outcomes: Vec::new(),
        }
    }

    /// The report of a run over `outcomes` (owned roles, in name order) of `roles_read`
    /// candidates; `resume` where the next run continues, if it must.
    pub fn of(
        request: &RunRequest,
        roles_read: usize,
        outcomes: Vec<RoleOutcome>,
        resume: Option<Option<String>>,
    ) -> Report {
        let count = |name: &str| outcomes.iter().filter(|o| o.outcome.name() == name).count();
        let r#continue =
            resume.map(|after| json!({EVENT_KEY: {"Run": request.run, "After": after}}));
        Report {
            run: request.run.clone(),
            status: match r#continue {
                Some(_) => "Stopped",
                None => "Complete",
            },
            reason: r#continue.as_ref().map(|_| {
                "the run stopped before the function's deadline: invoke it again with Continue"
                    .to_owned()
            }),
            roles_read,
            owned: outcomes.len(),
            converged: count("Converged"),
            unchanged: count("Unchanged"),
            skipped: count("Skipped"),
            failed: count("Failed"),
            not_reached: count("NotReached"),
            r#continue,
            outcomes,
        }
    }
}

/// The run's request type on its metric line: its calls count with the events', apart.
pub const RECONCILE_REQUEST_TYPE: &str = "Reconcile";
pub const RECONCILE_ROLES: &str = "ReconcileRoles";
pub const RECONCILE_CONVERGED: &str = "ReconcileConverged";
pub const RECONCILE_UNCHANGED: &str = "ReconcileUnchanged";
pub const RECONCILE_SKIPPED: &str = "ReconcileSkipped";
pub const RECONCILE_FAILED: &str = "ReconcileFailed";
pub const RECONCILE_NOT_REACHED: &str = "ReconcileNotReached";
pub const RECONCILE_TIME: &str = "ReconcileTime";

/// The run's one metric line (embedded metric format, as each event's): the owned roles by
/// outcome, its time and its calls, under the request type `Reconcile`.
pub fn metric_document(
    function: &str,
    level: &str,
    report: &Report,
    time_ms: u64,
    iam: CallCounts,
    cloudformation: CallCounts,
    timestamp_ms: u64,
) -> Value {
    let as_count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let values = [
        (RECONCILE_ROLES, "Count", as_count(report.owned)),
        (RECONCILE_CONVERGED, "Count", as_count(report.converged)),
        (RECONCILE_UNCHANGED, "Count", as_count(report.unchanged)),
        (RECONCILE_SKIPPED, "Count", as_count(report.skipped)),
        (RECONCILE_FAILED, "Count", as_count(report.failed)),
        (RECONCILE_NOT_REACHED, "Count", as_count(report.not_reached)),
        (RECONCILE_TIME, "Milliseconds", time_ms),
    ];
    let run: String = report.run.chars().take(MAX_RUN_NAME).collect();
    let mut properties = Map::new();
    properties.insert("Run".to_owned(), json!(run));
    properties.insert("Status".to_owned(), json!(report.status));
    metrics::run_document(
        function,
        level,
        RECONCILE_REQUEST_TYPE,
        &values,
        iam,
        cloudformation,
        properties,
        timestamp_ms,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// (the invocation's payload, what it reads as: not a run, a run, or a refusal)
    #[test]
    fn the_run_event_is_told_from_cloudformations() {
        let run = |after: Option<&str>| {
            Some(Ok(RunRequest {
                run: "v0.3.0".to_owned(),
                after: after.map(str::to_owned),
            }))
        };
        let rows: Vec<(String, Option<Result<RunRequest, String>>)> = vec![
            (
                r#"{"PersonaRoleReconcile": {"Run": "v0.3.0"}}"#.to_owned(),
                run(None),
            ),
            (
                r#"{"PersonaRoleReconcile": {"Run": " v0.3.0 ", "After": "sagemaker-x"}}"#
                    .to_owned(),
                run(Some("sagemaker-x")),
            ),
            (
                r#"{"PersonaRoleReconcile": {"Run": "v0.3.0", "After": null}}"#.to_owned(),
                run(None),
            ),
            (
                r#"{"PersonaRoleReconcile": {"Run": "v0.3.0", "After": ""}}"#.to_owned(),
                run(None),
            ),
            (
                r#"{"RequestType": "Create", "ResourceProperties": {}}"#.to_owned(),
                None,
            ),
            ("not json".to_owned(), None),
            ("[1, 2]".to_owned(), None),
            (
                format!(
                    r#"{{"PersonaRoleReconcile": {{"Run": "{}"}}}}"#,
                    "x".repeat(5000)
                ),
                None,
            ),
        ];
        for (payload, expected) in rows {
            assert_eq!(read(payload.as_bytes()), expected, "{payload}");
        }
        for refused in [
            r#"{"PersonaRoleReconcile": {}}"#,
            r#"{"PersonaRoleReconcile": {"Run": ""}}"#,
            r#"{"PersonaRoleReconcile": {"Run": 3}}"#,
            r#"{"PersonaRoleReconcile": {"Run": "v1", "After": 3}}"#,
        ] {
            assert!(
                matches!(read(refused.as_bytes()), Some(Err(_))),
                "{refused}"
            );
        }
    }

    /// (the run named, the stack's ReconcileRun, admitted)
    #[test]
    fn only_the_run_the_deployment_names_is_admitted() {
        for (run, configured, admitted) in [
            ("v0.3.0", Some("v0.3.0"), true),
            ("v0.3.0", Some(" v0.3.0 "), true),
            ("v0.3.0", None, false),
            ("v0.3.0", Some(""), false),
            ("v0.2.0", Some("v0.3.0"), false),
            ("V0.3.0", Some("v0.3.0"), false),
        ] {
            let request = RunRequest {
                run: run.to_owned(),
                after: None,
            };
            assert_eq!(
                admit(&request, configured).is_ok(),
                admitted,
                "{run} {configured:?}"
            );
        }
    }

    /// (writes, the wave's time, throttled, the pause)
    #[test]
    fn waves_are_paced_to_the_runs_share_of_iams_rate() {
        let ms = Duration::from_millis;
        for (writes, took, throttled, pause) in [
            (0, ms(300), false, ms(0)),
            (10, ms(500), false, ms(1500)),
            (10, ms(2500), false, ms(0)),
            (0, ms(300), true, THROTTLED_PAUSE),
            (50, ms(1000), true, ms(9000)),
        ] {
            assert_eq!(
                pause_after(writes, took, throttled),
                pause,
                "{writes} {took:?} {throttled}"
            );
        }
        assert!(may_start_wave(
            Duration::from_secs(60),
            Duration::from_secs(5)
        ));
        assert!(!may_start_wave(
            Duration::from_secs(14),
            Duration::from_secs(1)
        ));
        assert!(!may_start_wave(
            Duration::from_secs(30),
            Duration::from_secs(20)
        ));
    }

    /// (roles in order with whether finished, the run's start, where the next continues)
    #[test]
    fn a_stopped_run_continues_after_its_last_finished_prefix() {
        let order = |pairs: &[(&str, bool)]| -> Vec<(String, bool)> {
            pairs.iter().map(|(n, f)| ((*n).to_owned(), *f)).collect()
        };
        let some = |name: &str| Some(Some(name.to_owned()));
        for (roles, after, expected) in [
            (order(&[("a", true), ("b", true)]), None, None),
            (
                order(&[("a", true), ("b", false), ("c", true)]),
                None,
                some("a"),
            ),
            (order(&[("a", false), ("b", false)]), None, Some(None)),
            (order(&[("a", false)]), Some("0"), some("0")),
            (order(&[]), Some("0"), None),
        ] {
            assert_eq!(
                continue_after(&roles, after),
                expected,
                "{roles:?} {after:?}"
            );
        }
    }

    #[test]
    fn the_report_counts_each_outcome_and_says_how_to_continue() {
        let outcome = |name: &str, outcome| RoleOutcome {
            role_name: name.to_owned(),
            stack_id: "s".to_owned(),
            logical_id: "L".to_owned(),
            outcome,
        };
        let request = RunRequest {
            run: "v1".to_owned(),
            after: None,
        };
        let report = Report::of(
            &request,
            7,
            vec![
                outcome("a", Outcome::Converged { changes: 2 }),
                outcome("b", Outcome::Unchanged),
                outcome(
                    "c",
                    Outcome::Skipped {
                        skip: Skip::StackGone,
                    },
                ),
                outcome(
                    "d",
                    Outcome::Failed {
                        class: FailureClass::Iam,
                        reason: "x".to_owned(),
                    },
                ),
                outcome("e", Outcome::NotReached),
            ],
            Some(Some("d".to_owned())),
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["Status"], "Stopped");
        assert_eq!(
            (
                json["Owned"].as_u64(),
                json["Converged"].as_u64(),
                json["Unchanged"].as_u64()
            ),
            (Some(5), Some(1), Some(1))
        );
        assert_eq!(
            (
                json["Skipped"].as_u64(),
                json["Failed"].as_u64(),
                json["NotReached"].as_u64()
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(
            json["Continue"],
            json!({"PersonaRoleReconcile": {"Run": "v1", "After": "d"}})
        );
        assert_eq!(
            json["Outcomes"][0],
            json!({"RoleName": "a", "StackId": "s", "LogicalId": "L", "Outcome": "Converged", "Changes": 2})
        );
        assert_eq!(json["Outcomes"][2]["Skip"]["Kind"], "StackGone");
        assert_eq!(json["Outcomes"][3]["Class"], "Iam");
        let line = metric_document(
            "f",
            "INFO",
            &report,
            1234,
            CallCounts::default(),
            CallCounts::default(),
            1,
        );
        assert_eq!(line[RECONCILE_CONVERGED], 1);
        assert_eq!(line[RECONCILE_NOT_REACHED], 1);
        assert_eq!(line[metrics::REQUEST_TYPE], RECONCILE_REQUEST_TYPE);
    }
}
