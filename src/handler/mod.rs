//! The interpreter of the custom resource's lifecycle, which decides nothing itself: it admits
//! an event ([`admission`], then the stack check), carries out the effects the lifecycle
//! machine ([`lifecycle::Machine`]) asks for until it answers, and keeps the promise that every
//! event gets exactly one answer: on success, bad input, an IAM error, a panic inside the work,
//! or a deadline about to pass.
//!
//! The work runs in a spawned task. The handler waits for it until shortly before the earlier of
//! the Lambda deadline and the event's ServiceTimeout; a panic (a `JoinError`) or the deadline
//! becomes a FAILED answer.
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

use crate::admission;
use crate::aws::meter::{CallMeter, Service};
use crate::cfn;
use crate::cfn::answer::{Response, Status};
use crate::cfn::event::{DEFAULT_SERVICE_TIMEOUT, Request, RequestType};
use crate::cfn::response_url::Signature;
use crate::cfn::send::{AnswerRetry, PutError};
use crate::cfn::stack_check::{self, StackRoles, Stacks, Unverified};
use crate::cfn::stacks::SdkStacks;
use crate::guardrails::{Guardrails, PerStack};
use crate::iam::{Iam, SdkIam};
use crate::lifecycle::{self, Failure, Ids, Machine, Next, Outcome};
use crate::metrics::{self, Answer, EventFacts, FailureClass};
use crate::ownership::Owner;

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

    async fn handle_request(
        &self,
        request: Request,
        start: Instant,
        deadline: Option<Instant>,
        function_arn: Option<&str>,
        meter: &CallMeter,
    ) -> Result<Delivered, HandlerError> {
        let url = cfn::response_url::validate_response_url(
            &request.response_url,
            self.settings.allow_loopback,
        )
        .and_then(|url| {
            cfn::response_url::check_response_region(&url, &request.stack_id).map(|()| url)
        })
        .map_err(|e| {
            tracing::error!(error = %e, "refusing to act on an event that cannot be answered");
            HandlerError::NoResponseUrl(e.to_string())
        })?;
        let signature = Signature::of(&url);
        let now = SystemTime::now();
        let sent = start
            .checked_sub(admission::age(signature.as_ref(), now))
            .unwrap_or(start);
        let stale = admission::stale(signature.as_ref(), now, request.service_timeout);
        if let Some(why) = stale {
            tracing::error!(reason = %why, "refusing a stale event: CloudFormation no longer waits for it");
            return Err(HandlerError::Stale(why));
        }
        let times = Times::new(
            sent,
            deadline,
            request.service_timeout,
            self.settings.max_answer_reserve,
        );
        if let Some(mismatch) =
            function_arn.and_then(|arn| admission::foreign_stack(&request.stack_id, arn))
        {
            tracing::error!(reason = %mismatch, "refusing an event of another account or region");
            let outcome =
                Ids::of(&request).failed(None, Failure::new(FailureClass::StackCheck, mismatch));
            return self.answer(&url, outcome, &request, times.answer).await;
        }
        // A direct invocation can name any stack, resource, id and properties: only what
        // CloudFormation shows of the stack and recorded in its events is believed.
        let checked = tokio::time::timeout_at(
            times.work.into(),
            // Boxed: the SDK's futures nest deeply, and the handler's future holds this one.
            Box::pin(stack_check::verify(
                &self.stacks,
                &request,
                function_arn,
                &stack_check::REREADS,
                // A Create's stack is listed beside the check when its roles are limited.
                self.settings.guardrails.max_roles_per_stack != PerStack::Unlimited,
            )),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Unverified::Unavailable(stack_check::StacksError {
                operation: crate::aws::Op::DescribeStackResource,
                target: request.stack_id.clone(),
                message: format!("no answer before the {}", times.limit),
            }))
        });
        let stack = match checked {
            Ok(stack) => stack,
            Err(refused) => {
                tracing::error!(reason = %refused, "refusing an event CloudFormation does not confirm");
                let outcome = Ids::of(&request).failed(
                    None,
                    Failure::new(FailureClass::StackCheck, refused.to_string()),
                );
                return self.answer(&url, outcome, &request, times.answer).await;
            }
        };
        tracing::info!(
            host = cfn::response_url::loggable_host(&url),
            physical_resource_id = request.physical_resource_id.as_deref().unwrap_or(""),
            work_seconds = times
                .work
                .saturating_duration_since(Instant::now())
                .as_secs_f64(),
            "handling request"
        );

        let progress = Arc::new(Progress::default());
        // A spawned task leaves the event's meter scope: it enters its own.
        let mut task = tokio::spawn(
            meter
                .scope(run(
                    self.iam.clone(),
                    self.stacks.clone(),
                    request.clone(),
                    self.settings.guardrails.clone(),
                    stack,
                    Readiness {
                        wait: self.settings.ready_wait,
                        // It ends a second before the work must stop, so SUCCESS is answered.
                        until: times
                            .work
                            .checked_sub(Duration::from_secs(1))
                            .unwrap_or(times.work),
                    },
                    Arc::clone(&progress),
                ))
                .instrument(tracing::Span::current()),
        );
        let outcome = tokio::select! {
            joined = &mut task => match joined {
                Ok(outcome) => outcome,
                Err(error) => {
                    let what = if error.is_panic() {
                        format!("internal error: the handler panicked ({})", panic_message(error.into_panic()))
                    } else {
                        "internal error: the handler was cancelled".to_owned()
                    };
                    tracing::error!(error = %what, "work failed");
                    progress.failed(&request, Failure::new(FailureClass::Internal, what))
                }
            },
            () = tokio::time::sleep_until(times.work.into()) => {
                task.abort();
                let reason = format!(
                    "timed out: the {} did not finish within {:.0} seconds and was stopped before the {}; {}",
                    request.request_type.as_str(),
                    times.work.saturating_duration_since(start).as_secs_f64(),
                    times.limit,
                    "IAM may be slow or unreachable from the function; retry the stack operation",
                );
                tracing::error!(reason = %reason, "deadline reached");
                progress.failed(&request, Failure::new(FailureClass::Deadline, reason))
            }
        };
        self.answer(&url, outcome, &request, times.answer).await
    }

    async fn answer(
        &self,
        url: &reqwest::Url,
        outcome: Outcome,
        request: &Request,
        deadline: Instant,
    ) -> Result<Delivered, HandlerError> {
        let failure = outcome.failure;
        self.deliver(url, outcome.into_response(request), failure, deadline)
            .await
    }

    /// Answers FAILED to an event that is no valid request, if it names a usable ResponseURL.
    async fn answer_malformed(
        &self,
        error: Box<cfn::event::EventError>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Result<Delivered, HandlerError> {
        tracing::error!(error = %error, "malformed event");
        let Some(raw_url) = error.response_url.as_deref() else {
            return Err(HandlerError::NoResponseUrl(format!(
                "the event has no ResponseURL ({error})"
            )));
        };
        let url = cfn::response_url::validate_response_url(raw_url, self.settings.allow_loopback)
            .map_err(|e| HandlerError::NoResponseUrl(e.to_string()))?;
        let request_id = error.request_id.clone().unwrap_or_default();
        let response = Response {
            status: Status::Failed,
            reason: Some(format!("invalid request: {}", error.message)),
            physical_resource_id: error
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| lifecycle::placeholder(&request_id)),
            stack_id: error.stack_id.clone().unwrap_or_default(),
            request_id,
            logical_resource_id: error.logical_resource_id.clone().unwrap_or_default(),
            data: Vec::new(),
        };
        let times = Times::new(start, deadline, None, self.settings.max_answer_reserve);
        self.deliver(
            &url,
            response,
            Some(FailureClass::InvalidRequest),
            times.answer,
        )
        .await
    }

    /// PUTs the answer; `failure` says why it is FAILED (none for SUCCESS).
    async fn deliver(
        &self,
        url: &reqwest::Url,
        response: Response,
        failure: Option<FailureClass>,
        deadline: Instant,
    ) -> Result<Delivered, HandlerError> {
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

/// When the work must stop, and when the answer must be sent by.
#[derive(Debug, Clone, Copy)]
struct Times {
    work: Instant,
    answer: Instant,
    limit: &'static str,
}

impl Times {
    fn new(
        start: Instant,
        lambda_deadline: Option<Instant>,
        service_timeout: Option<Duration>,
        max_reserve: Duration,
    ) -> Times {
        let service = start + service_timeout.unwrap_or(DEFAULT_SERVICE_TIMEOUT);
        let (hard, limit) = match lambda_deadline {
            Some(lambda) if lambda <= service => (lambda, "Lambda deadline"),
            _ => (service, "ServiceTimeout"),
        };
        let left = hard.saturating_duration_since(Instant::now());
        let reserve = (left / 10)
            .max(Duration::from_secs(1))
            .min(max_reserve)
            .min(left / 2);
        let margin = Duration::from_millis(50).min(reserve / 4);
        Times {
            work: hard.checked_sub(reserve).unwrap_or(hard),
            answer: hard.checked_sub(margin).unwrap_or(hard),
            limit,
        }
    }
}

/// The role the work may have made, shared with the handler so that a timeout or panic can
/// still answer with the right PhysicalResourceId.
#[derive(Debug, Default)]
struct Progress {
    at_stake: Mutex<Option<String>>,
}

impl Progress {
    fn set(&self, at_stake: Option<&str>) {
        *self.at_stake.lock().unwrap_or_else(PoisonError::into_inner) = at_stake.map(str::to_owned);
    }

    fn at_stake(&self) -> Option<String> {
        self.at_stake
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// FAILED for a work that did not finish, naming what it may have made.
    fn failed(&self, request: &Request, failure: Failure) -> Outcome {
        Ids::of(request).failed(self.at_stake().as_deref(), failure)
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

/// How long a new role's answer waits for it to be usable ([`Settings::ready_wait`]), and by
/// when that wait ends whatever IAM says.
struct Readiness {
    wait: Option<Duration>,
    until: Instant,
}

/// The work: the request's intent (planned on a blocking thread, so that the deadline guard can
/// still answer while a large plan is computed), then the machine's effects carried out one
/// after the other until its answer. `stack`: the stack's roles, as the stack check listed them.
async fn run<I: Iam, S: Stacks>(
    iam: I,
    stacks: S,
    request: Request,
    guardrails: Guardrails,
    stack: Option<StackRoles>,
    ready: Readiness,
    progress: Arc<Progress>,
) -> Outcome {
    let reading = {
        let (request, guardrails) = (request.clone(), guardrails.clone());
        tokio::task::spawn_blocking(move || lifecycle::intent(&request, &guardrails))
    };
    let intent = match reading.await {
        Ok(Ok(intent)) => intent,
        Ok(Err(failure)) => return Ids::of(&request).failed(None, failure),
        Err(e) => {
            return Ids::of(&request).failed(
                None,
                Failure::new(
                    FailureClass::Internal,
                    format!("internal error: planning stopped ({e})"),
                ),
            );
        }
    };
    let owner = Owner::new(
        request.stack_id.clone(),
        request.logical_resource_id.clone(),
    );
    let (mut machine, mut next) = Machine::start(&request, intent, &guardrails, stack, ready.wait);
    loop {
        progress.set(machine.at_stake());
        match next {
            Next::Answer(outcome) => return outcome,
            Next::Effect(effect) => {
                let observation =
                    effects::carry_out(&iam, &stacks, &owner, effect, ready.until).await;
                next = machine.on(observation);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_work_stops_before_the_earlier_deadline() {
        let start = Instant::now();
        let lambda = start + Duration::from_secs(4);
        let times = Times::new(start, Some(lambda), None, Duration::from_secs(5));
        assert_eq!(times.limit, "Lambda deadline");
        assert!(times.work < times.answer && times.answer < lambda);
        assert!(lambda - times.work >= Duration::from_millis(900));

        let times = Times::new(
            start,
            Some(start + Duration::from_secs(900)),
            Some(Duration::from_secs(60)),
            Duration::from_secs(5),
        );
        assert_eq!(times.limit, "ServiceTimeout");
        assert!(times.work <= start + Duration::from_secs(55));
        assert!(times.answer < start + Duration::from_secs(60));

        // Almost no time left: half of it goes to the answer.
        let times = Times::new(
            start,
            Some(Instant::now() + Duration::from_millis(400)),
            None,
            Duration::from_secs(5),
        );
        assert!(times.work < times.answer);
    }

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
