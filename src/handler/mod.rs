//! The interpreter of the custom resource's lifecycle, which decides nothing itself: one generic
//! driver of the event's machine ([`request::Machine`], which admits the event, checks it with
//! CloudFormation and runs the lifecycle). It reads the event, starts the machine, carries out
//! each effect it asks for — CloudFormation's reads over [`Stacks`], pauses on the clock, the
//! plan on a blocking thread, IAM's reads and writes in [`effects`] — and sends the one answer
//! the machine gives, then writes the event's metric line.
//!
//! The effects run in a spawned task, which the handler waits for until the machine's
//! [`request::Deadlines::work`]; a panic (a `JoinError`) or the deadline stops it, and the machine's
//! [`Reached::stopped`] gives the FAILED answer. So every event gets exactly one answer: on
//! success, bad input, an IAM error, a panic inside the work, or a deadline about to pass.
//!
//! Once the answer is sent (or cannot be), the event's facts become its one metric line
//! ([`metrics`]): the answer's status and failure class, carried by the work's typed failures,
//! and the calls its [`CallMeter`] counted.

mod drift_report;
mod effects;
mod reconcile;
mod sink;

pub use effects::read_actual;
pub use sink::MetricSink;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use thiserror::Error;
use tracing::Instrument;

use crate::admission::Unanswered;
use crate::aws::meter::{CallMeter, Service};
use crate::cfn;
use crate::cfn::answer::Response;
use crate::cfn::event::{Request, RequestType};
use crate::cfn::send::{AnswerRetry, PutError};
use crate::cfn::stack_check::{self, Stacks};
use crate::cfn::stacks::SdkStacks;
use crate::guardrails::Guardrails;
use crate::iam::{Iam, SdkIam};
use crate::metrics::{self, Answer, EventFacts, FailureClass};
use crate::request::{self, Admitted, Arrival, Next, Observation, Reached, Rules, Stop};

/// Environment variable that lets the ResponseURL be http on 127.0.0.1/localhost (local tests).
pub const ALLOW_LOOPBACK_ENV: &str = "RESPONSE_URL_ALLOW_LOOPBACK";
/// The function's name, as Lambda sets it: the metrics' `FunctionName` dimension.
pub const FUNCTION_NAME_ENV: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The function's application log level, as Lambda sets it from its logging configuration.
pub const LOG_LEVEL_ENV: &str = "AWS_LAMBDA_LOG_LEVEL";
/// The `FunctionName` of metrics when the function runs outside Lambda.
pub const LOCAL_FUNCTION_NAME: &str = "persona-role-local";
/// Seconds to wait, after IAM serves a role this event made or re-trusted, before answering
/// SUCCESS (`RoleReadyWaitSeconds`); unset: no wait, not even the read back.
pub const READY_WAIT_ENV: &str = "PERSONA_ROLE_READY_WAIT_SECONDS";
/// The variables the handler's settings are read from besides the guardrails'; the template
/// sets these too.
pub const SETTINGS_ENVIRONMENT: &[&str] = &[
    READY_WAIT_ENV,
    crate::reconcile::RUN_ENV,
    crate::drift_report::SCHEDULE_ENV,
];

/// How the handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Accept http ResponseURLs on 127.0.0.1/localhost. Never set in a deployed function.
    pub allow_loopback: bool,
    pub answer_retry: AnswerRetry,
    /// At most this much time is kept back before the deadline to answer; less when the
    /// invocation is short (a tenth of the time left, at least a second, at most half).
    pub max_answer_reserve: Duration,
    /// The operator's limits on every role (required boundary, allowed managed policies).
    pub guardrails: Guardrails,
    /// The metrics' `FunctionName` dimension.
    pub function_name: String,
    /// The `level` of metric lines ([`metrics::line_level`]).
    pub metric_level: &'static str,
    /// Where metric lines go: stdout in the function.
    pub metric_sink: MetricSink,
    /// Before answering SUCCESS for a role this event made or re-trusted: read it back until
    /// IAM serves it, then wait this long ([`READY_WAIT_ENV`]); none: answer at once.
    pub ready_wait: Option<Duration>,
    /// The reconcile run this deployment allows ([`crate::reconcile::RUN_ENV`]); none: no run.
    pub reconcile_run: Option<String>,
    /// The drift report's schedule this deployment sets ([`crate::drift_report::SCHEDULE_ENV`]);
    /// none: no report is accepted.
    pub drift_report_schedule: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allow_loopback: false,
            answer_retry: AnswerRetry::default(),
            max_answer_reserve: Duration::from_secs(5),
            guardrails: Guardrails::default(),
            function_name: LOCAL_FUNCTION_NAME.to_owned(),
            metric_level: metrics::line_level(None),
            metric_sink: MetricSink::Stdout,
            ready_wait: None,
            reconcile_run: None,
            drift_report_schedule: None,
        }
    }
}

impl Settings {
    /// Defaults, with [`ALLOW_LOOPBACK_ENV`], the guardrails and the function's name read from
    /// the environment.
    pub fn from_env() -> Self {
        let allow_loopback = std::env::var(ALLOW_LOOPBACK_ENV)
            .is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let function_name = std::env::var(FUNCTION_NAME_ENV)
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| LOCAL_FUNCTION_NAME.to_owned());
        Settings {
            allow_loopback,
            ready_wait: ready_wait(std::env::var(READY_WAIT_ENV).ok().as_deref()),
            reconcile_run: std::env::var(crate::reconcile::RUN_ENV)
                .ok()
                .filter(|run| !run.trim().is_empty()),
            drift_report_schedule: std::env::var(crate::drift_report::SCHEDULE_ENV)
                .ok()
                .filter(|schedule| !schedule.trim().is_empty()),
            guardrails: Guardrails::from_env(),
            function_name,
            metric_level: metrics::line_level(std::env::var(LOG_LEVEL_ENV).ok().as_deref()),
            ..Settings::default()
        }
    }
}

/// What an invocation asks for, told by its payload's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// The operator's reconcile run (`{"PersonaRoleReconcile": …}`), or why its event does not
    /// read.
    Reconcile(Result<crate::reconcile::RunRequest, String>),
    /// The scheduled drift report (`{"PersonaRoleDriftReport": {}}`), or why its event does not
    /// read.
    DriftReport(Result<(), String>),
    /// Anything else is taken for CloudFormation's: even a malformed event is answered FAILED.
    CloudFormation,
}

/// Routes a raw invocation payload: the run's and the report's events by their one key, all else
/// to [`Handler::handle_raw`].
pub fn route(raw: &[u8]) -> Invocation {
    if let Some(run) = crate::reconcile::read(raw) {
        return Invocation::Reconcile(run);
    }
    if let Some(report) = crate::drift_report::read(raw) {
        return Invocation::DriftReport(report);
    }
    Invocation::CloudFormation
}

/// The readiness wait a variable's value gives: whole seconds (at most an hour); unset, empty or
/// unreadable: none (the answer waits for nothing, as before).
pub fn ready_wait(value: Option<&str>) -> Option<Duration> {
    let seconds: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

/// Why an event could not be answered.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error("stale event, not acted on: {0}")]
    Stale(String),
    #[error("no answer can be sent: {0}")]
    NoResponseUrl(String),
    #[error("the {status} answer to RequestId `{request_id}` was not delivered: {source}")]
    Delivery {
        status: &'static str,
        /// Why it was FAILED; none for SUCCESS.
        failure: Option<FailureClass>,
        request_id: String,
        source: PutError,
    },
}

impl From<Unanswered> for HandlerError {
    fn from(why: Unanswered) -> Self {
        match why {
            Unanswered::Stale(why) => HandlerError::Stale(why),
            Unanswered::NoResponseUrl(why) => HandlerError::NoResponseUrl(why),
        }
    }
}

/// An answer that reached the ResponseURL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub response: Response,
    /// Why it was FAILED; none for SUCCESS.
    pub failure: Option<FailureClass>,
    pub attempts: u32,
}

/// The Lambda function: IAM and CloudFormation (the SDK adapters in production), an HTTP
/// client for the answer, and settings.
#[derive(Debug, Clone)]
pub struct Handler<I = SdkIam, S = SdkStacks> {
    iam: I,
    stacks: S,
    http: reqwest::Client,
    settings: Settings,
}

impl Handler<SdkIam, SdkStacks> {
    pub fn new(
        iam: aws_sdk_iam::Client,
        cloudformation: aws_sdk_cloudformation::Client,
        http: reqwest::Client,
        settings: Settings,
    ) -> Self {
        Handler::with_clients(
            SdkIam::new(iam),
            SdkStacks::new(cloudformation),
            http,
            settings,
        )
    }
}

impl<I: Iam + Clone + 'static, S: Stacks + Clone + 'static> Handler<I, S> {
    pub fn with_clients(iam: I, stacks: S, http: reqwest::Client, settings: Settings) -> Self {
        Handler {
            iam,
            stacks,
            http,
            settings,
        }
    }

    /// Handles one raw event and answers it. `deadline` is the Lambda deadline; the answer is
    /// sent before it. Errs only when no answer could be delivered.
    pub async fn handle(
        &self,
        event: Value,
        deadline: Option<Instant>,
    ) -> Result<Delivered, HandlerError> {
        self.handle_invoked(event, deadline, None).await
    }

    /// [`Handler::handle_invoked`] for the raw bytes of an invocation: an event too large or too
    /// deeply nested to read is answered FAILED from what its envelope names.
    pub async fn handle_raw(
        &self,
        raw: &[u8],
        deadline: Option<Instant>,
        function_arn: Option<&str>,
    ) -> Result<Delivered, HandlerError> {
        match cfn::event::read_event(raw) {
            Ok(event) => self.handle_invoked(event, deadline, function_arn).await,
            Err(error) => self.refuse_malformed(error, Instant::now(), deadline).await,
        }
    }

    /// Writes the event's one metric line once its answer was sent, or could not be.
    fn record(
        &self,
        request_type: Option<RequestType>,
        request_id: Option<String>,
        start: Instant,
        meter: &CallMeter,
        result: &Result<Delivered, HandlerError>,
    ) {
        let time_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let answer = match result {
            Ok(delivered) => Answer::Sent {
                failure: delivered.failure,
                delivered: true,
                time_ms,
            },
            Err(HandlerError::Delivery { failure, .. }) => Answer::Sent {
                failure: *failure,
                delivered: false,
                time_ms,
            },
            Err(HandlerError::Stale(_) | HandlerError::NoResponseUrl(_)) => Answer::Unanswered,
        };
        let facts = EventFacts {
            request_type,
            request_id,
            answer,
            iam: meter.counts(Service::Iam),
            cloudformation: meter.counts(Service::CloudFormation),
        };
        let now_ms = crate::time::now_millis();
        self.settings.metric_sink.write(metrics::line(
            &self.settings.function_name,
            self.settings.metric_level,
            &facts,
            now_ms,
        ));
    }

    /// [`Handler::handle`] for an invocation of the function `function_arn`: an event of a stack
    /// in another account or region is refused without any IAM call.
    ///
    /// Every event is checked with CloudFormation first ([`stack_check`]): one its stack is not
    /// waiting for, with other properties than CloudFormation recorded, or of a custom resource
    /// another function serves, is answered FAILED without any IAM call.
    pub async fn handle_invoked(
        &self,
        event: Value,
        deadline: Option<Instant>,
        function_arn: Option<&str>,
    ) -> Result<Delivered, HandlerError> {
        let start = Instant::now();
        match cfn::event::parse_event(&event) {
            Ok(request) => {
                // ERROR: enabled at every log level, so that every line names its request.
                let span = tracing::error_span!(
                    "custom_resource",
                    RequestId = %request.request_id,
                    LogicalResourceId = %request.logical_resource_id,
                    RequestType = request.request_type.as_str(),
                );
                let (request_type, request_id) = (request.request_type, request.request_id.clone());
                let meter = CallMeter::default();
                let result = meter
                    .scope(self.handle_request(request, start, deadline, function_arn, &meter))
                    .instrument(span)
                    .await;
                self.record(Some(request_type), Some(request_id), start, &meter, &result);
                result
            }
            Err(error) => self.refuse_malformed(error, start, deadline).await,
        }
    }

    async fn refuse_malformed(
        &self,
        error: Box<cfn::event::EventError>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Result<Delivered, HandlerError> {
        let span = tracing::error_span!(
            "custom_resource",
            RequestId = error.request_id.as_deref().unwrap_or(""),
            LogicalResourceId = error.logical_resource_id.as_deref().unwrap_or(""),
        );
        let request_id = error.request_id.clone();
        let result = self
            .answer_malformed(error, start, deadline)
            .instrument(span)
            .await;
        self.record(None, request_id, start, &CallMeter::default(), &result);
        result
    }

    /// Drives the event's machine ([`request::Machine`]): admitted, its effects carried out in a
    /// spawned task until its answer, under the deadline and the panic guard; then the answer.
    async fn handle_request(
        &self,
        request: Request,
        start: Instant,
        deadline: Option<Instant>,
        function_arn: Option<&str>,
        meter: &CallMeter,
    ) -> Result<Delivered, HandlerError> {
        let arrival = arrival(start, deadline, function_arn);
        let rules = self.rules();
        let (url, guard, machine, next) = match request::Machine::start(request, &arrival, &rules) {
            Admitted::Unanswered(why) => return Err(why.into()),
            Admitted::Answerable {
                url,
                guard,
                machine,
                next,
            } => (url, guard, machine, next),
        };
        let first = match next {
            Next::Answer(answer) => {
                return self.deliver(&url, answer, guard.deadlines.answer).await;
            }
            Next::Effect(first) => first,
        };
        let reached = Arc::new(Mutex::new(machine.reached()));
        // A spawned task leaves the event's meter scope: it enters its own.
        let mut task = tokio::spawn(
            meter
                .scope(drive(
                    self.iam.clone(),
                    self.stacks.clone(),
                    (machine, first),
                    guard.deadlines.ready_until,
                    Arc::clone(&reached),
                ))
                .instrument(tracing::Span::current()),
        );
        let reached = || {
            reached
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        };
        let answer = tokio::select! {
            joined = &mut task => match joined {
                Ok(answer) => answer,
                Err(error) => {
                    let stop = if error.is_panic() {
                        Stop::Panicked(panic_message(error.into_panic()))
                    } else {
                        Stop::Cancelled
                    };
                    guard.stopped(&reached(), stop)
                }
            },
            () = tokio::time::sleep_until(guard.deadlines.work.into()) => {
                task.abort();
                guard.stopped(&reached(), Stop::Deadline)
            }
        };
        self.deliver(&url, answer, guard.deadlines.answer).await
    }

    /// Answers FAILED to an event that is no valid request ([`request::malformed`]).
    async fn answer_malformed(
        &self,
        error: Box<cfn::event::EventError>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Result<Delivered, HandlerError> {
        tracing::error!(error = %error, "malformed event");
        let arrival = arrival(start, deadline, None);
        let (url, answer, by) = request::malformed(&error, &arrival, &self.rules())?;
        self.deliver(&url, answer, by).await
    }

    /// The settings the machine decides with.
    fn rules(&self) -> Rules<'_> {
        Rules {
            allow_loopback: self.settings.allow_loopback,
            max_answer_reserve: self.settings.max_answer_reserve,
            guardrails: &self.settings.guardrails,
            ready_wait: self.settings.ready_wait,
        }
    }

    /// PUTs the answer.
    async fn deliver(
        &self,
        url: &reqwest::Url,
        answer: request::Answer,
        deadline: Instant,
    ) -> Result<Delivered, HandlerError> {
        let request::Answer { response, failure } = answer;
        let (body, trimmed) = response.body();
        if trimmed.reason || !trimmed.dropped_data.is_empty() {
            tracing::warn!(
                reason_trimmed = trimmed.reason,
                dropped_data = %trimmed.dropped_data.join(","),
                "response trimmed to 4096 bytes"
            );
        }
        tracing::info!(
            status = response.status.as_str(),
            physical_resource_id = %response.physical_resource_id,
            reason = response.reason.as_deref().unwrap_or(""),
            "answering"
        );
        match cfn::send::put_response(
            &self.http,
            url,
            body,
            &self.settings.answer_retry,
            Some(deadline),
        )
        .await
        {
            Ok(attempts) => Ok(Delivered {
                response,
                failure,
                attempts,
            }),
            Err(source) => {
                tracing::error!(error = %source, "the answer was not delivered");
                Err(HandlerError::Delivery {
                    status: response.status.as_str(),
                    failure,
                    request_id: response.request_id.clone(),
                    source,
                })
            }
        }
    }
}

/// Converts the Lambda context's deadline (epoch milliseconds) to an [`Instant`]. A value too
/// small to be an epoch time (before 2001) is read as milliseconds from now: `cargo lambda watch`
/// sends its 10-minute timeout (600000) that way.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    const EPOCH_2001_MS: u64 = 978_307_200_000;
    if deadline_ms < EPOCH_2001_MS {
        return Instant::now().checked_add(Duration::from_millis(deadline_ms));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    let left = u128::from(deadline_ms).saturating_sub(now_ms);
    let left = Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
    Instant::now().checked_add(left)
}

/// The event's arrival, the clocks read now.
fn arrival(
    started: Instant,
    lambda_deadline: Option<Instant>,
    function_arn: Option<&str>,
) -> Arrival<'_> {
    Arrival {
        started,
        now: Instant::now(),
        clock: SystemTime::now(),
        lambda_deadline,
        function_arn,
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "no message".to_owned()
    }
}

/// Carries out the machine's effects one after the other until its answer: the stack check's
/// reads over [`Stacks`], its pauses on the clock, the plan on a blocking thread (so that the
/// deadline guard can still answer while a large plan is computed), and the lifecycle's effects
/// ([`effects::carry_out`]; `ready_until` ends a role's readiness wait). `reached` tells the
/// handler how far the work got, should it be stopped.
async fn drive<I: Iam, S: Stacks>(
    iam: I,
    stacks: S,
    (mut machine, mut effect): (request::Machine, request::Effect),
    ready_until: Instant,
    reached: Arc<Mutex<Reached>>,
) -> request::Answer {
    loop {
        let observation = match effect {
            request::Effect::Stack(read) => {
                // Boxed: the SDK's futures nest deeply.
                let reading = stack_check::read(&stacks, machine.request(), read);
                Observation::Stack(Box::pin(reading).await)
            }
            request::Effect::Pause(pause) => {
                tokio::time::sleep(pause).await;
                Observation::Paused
            }
            request::Effect::Plan(planning) => {
                match tokio::task::spawn_blocking(move || planning.plan()).await {
                    Ok(planned) => Observation::Planned(planned),
                    Err(error) => Observation::PlanningStopped(error.to_string()),
                }
            }
            request::Effect::Lifecycle(effect) => {
                let stack_id = &machine.request().stack_id;
                Observation::Lifecycle(
                    effects::carry_out(&iam, &stacks, stack_id, effect, ready_until).await,
                )
            }
        };
        let next = machine.on(observation);
        *reached.lock().unwrap_or_else(PoisonError::into_inner) = machine.reached();
        match next {
            Next::Answer(answer) => return answer,
            Next::Effect(next) => effect = next,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn epoch_deadlines_convert() {
        let now_ms = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        let deadline = deadline_from_epoch_ms(now_ms + 3000).unwrap();
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(left > Duration::from_millis(2500) && left <= Duration::from_millis(3000));
        let past = deadline_from_epoch_ms(now_ms - 10_000).unwrap();
        assert!(past <= Instant::now());
        // cargo lambda watch's relative deadline.
        let relative = deadline_from_epoch_ms(600_000).unwrap();
        let left = relative.saturating_duration_since(Instant::now());
        assert!(left > Duration::from_secs(590) && left <= Duration::from_secs(600));
    }

    /// (the invocation's payload, where it goes: the run, the report, or CloudFormation's
    /// handling, which answers even a malformed event)
    #[test]
    fn invocations_are_routed_by_their_shape() {
        let rows: Vec<(&str, &str)> = vec![
            (r#"{"PersonaRoleReconcile": {"Run": "v1"}}"#, "Reconcile ok"),
            (
                r#"{"PersonaRoleReconcile": {"Run": ""}}"#,
                "Reconcile refused",
            ),
            (r#"{"PersonaRoleDriftReport": {}}"#, "DriftReport ok"),
            (
                r#"{"PersonaRoleDriftReport": {"Run": "v1"}}"#,
                "DriftReport refused",
            ),
            (
                r#"{"PersonaRoleDriftReport": {}, "PersonaRoleReconcile": {"Run": "v1"}}"#,
                "Reconcile ok",
            ),
            (
                r#"{"RequestType": "Create", "ResponseURL": "https://x", "ResourceProperties": {}}"#,
                "CloudFormation",
            ),
            (
                r#"{"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}"#,
                "CloudFormation",
            ),
            ("not json", "CloudFormation"),
        ];
        for (payload, expected) in rows {
            let got = match route(payload.as_bytes()) {
                Invocation::Reconcile(Ok(_)) => "Reconcile ok",
                Invocation::Reconcile(Err(_)) => "Reconcile refused",
                Invocation::DriftReport(Ok(())) => "DriftReport ok",
                Invocation::DriftReport(Err(_)) => "DriftReport refused",
                Invocation::CloudFormation => "CloudFormation",
            };
            assert_eq!(got, expected, "{payload}");
        }
    }
}
