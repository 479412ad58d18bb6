//! The custom resource's lifecycle: Create, Update (in place or with replacement) and Delete of a
//! persona role, with ownership checks and the undoing of a failed Create; and the promise that
//! every event gets exactly one answer: on success, bad input, an IAM error, a panic inside the
//! work, or a deadline about to pass.
//!
//! The work runs in a spawned task. The handler waits for it until shortly before the earlier of
//! the Lambda deadline and the event's ServiceTimeout; a panic (a `JoinError`) or the deadline
//! becomes a FAILED answer.
//!
//! Once the answer is sent (or cannot be), the event's facts become its one metric line
//! ([`metrics`]): the answer's status and failure class, carried by the work's typed failures,
//! and the calls its [`CallMeter`] counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use thiserror::Error;
use tracing::Instrument;

use crate::arn::Arn;
use crate::catalog::console;
use crate::cfn::{
    self, AnswerRetry, DEFAULT_SERVICE_TIMEOUT, PLACEHOLDER_PREFIX, PutError, Request, RequestType,
    Response, Signature, Status,
};
use crate::cloudformation::SdkStacks;
use crate::context::StackContext;
use crate::guardrails::Guardrails;
use crate::iam::meter::{CallMeter, Service};
use crate::iam::state::{self, Deletion};
use crate::iam::{self, Change, CreateRoleError, Iam, IamError, PolicyState, RoleState, SdkIam};
use crate::lifecycle::{self, Found, Step, decide};
use crate::metrics::{self, Answer, EventFacts, FailureClass};
use crate::ownership::Owner;
use crate::plan::{self, Plan, PlanError, PlanTag};
use crate::properties::table;
use crate::stack_check::{self, Stacks, Unverified};

/// Environment variable that lets the ResponseURL be http on 127.0.0.1/localhost (local tests).
pub const ALLOW_LOOPBACK_ENV: &str = "RESPONSE_URL_ALLOW_LOOPBACK";
/// The function's name, as Lambda sets it: the metrics' `FunctionName` dimension.
pub const FUNCTION_NAME_ENV: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The function's application log level, as Lambda sets it from its logging configuration.
pub const LOG_LEVEL_ENV: &str = "AWS_LAMBDA_LOG_LEVEL";
/// The `FunctionName` of metrics when the function runs outside Lambda.
pub const LOCAL_FUNCTION_NAME: &str = "persona-role-local";

/// Where each event's metric line goes: stdout, where Lambda hands it to CloudWatch Logs, or a
/// buffer that tests read.
#[derive(Debug, Clone, Default)]
pub enum MetricSink {
    #[default]
    Stdout,
    Buffer(Arc<Mutex<Vec<String>>>),
}

impl MetricSink {
    pub fn buffer() -> MetricSink {
        MetricSink::Buffer(Arc::default())
    }

    /// The lines written so far (none for stdout).
    pub fn lines(&self) -> Vec<String> {
        match self {
            MetricSink::Stdout => Vec::new(),
            MetricSink::Buffer(lines) => {
                lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
            }
        }
    }

    fn write(&self, line: String) {
        match self {
            MetricSink::Stdout => {
                use std::io::Write;
                // One write of the whole line, so that no log line lands inside it; a closed
                // stdout loses the metrics, never the answer.
                let _ = std::io::stdout()
                    .lock()
                    .write_all(format!("{line}\n").as_bytes());
            }
            MetricSink::Buffer(lines) => lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line),
        }
    }
}

impl PartialEq for MetricSink {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MetricSink::Stdout, MetricSink::Stdout) => true,
            (MetricSink::Buffer(a), MetricSink::Buffer(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for MetricSink {}

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
            guardrails: Guardrails::from_env(),
            function_name,
            metric_level: metrics::line_level(std::env::var(LOG_LEVEL_ENV).ok().as_deref()),
            ..Settings::default()
        }
    }
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

impl<I: Iam + Clone + 'static, S: Stacks> Handler<I, S> {
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
        match cfn::read_event(raw) {
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
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
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
    /// waiting for is answered FAILED without any IAM call.
    pub async fn handle_invoked(
        &self,
        event: Value,
        deadline: Option<Instant>,
        function_arn: Option<&str>,
    ) -> Result<Delivered, HandlerError> {
        let start = Instant::now();
        match cfn::parse_event(&event) {
            Ok(request) => {
                let span = tracing::info_span!(
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
        error: Box<cfn::EventError>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Result<Delivered, HandlerError> {
        let span = tracing::info_span!(
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
        let url = cfn::validate_response_url(&request.response_url, self.settings.allow_loopback)
            .and_then(|url| cfn::check_response_region(&url, &request.stack_id).map(|()| url))
            .map_err(|e| {
                tracing::error!(error = %e, "refusing to act on an event that cannot be answered");
                HandlerError::NoResponseUrl(e.to_string())
            })?;
        // CloudFormation signed the ResponseURL when it sent the event: a late or redelivered
        // event whose signature or ServiceTimeout has run out is no longer awaited, so nothing
        // is done for it.
        let signature = Signature::of(&url);
        let sent = signature
            .and_then(|s| s.signed)
            .and_then(|signed| SystemTime::now().duration_since(signed).ok())
            .and_then(|age| start.checked_sub(age))
            .unwrap_or(start);
        let stale = match signature.map(|s| s.check(SystemTime::now())) {
            Some(Err(e)) => Some(e.to_string()),
            _ => {
                let waited = start.saturating_duration_since(sent);
                let timeout = request.service_timeout.unwrap_or(DEFAULT_SERVICE_TIMEOUT);
                (waited >= timeout).then(|| {
                    format!(
                        "the event was sent {:.0} s ago and CloudFormation waits {} s (ServiceTimeout)",
                        waited.as_secs_f64(),
                        timeout.as_secs()
                    )
                })
            }
        };
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
        if let Some(mismatch) = function_arn.and_then(|arn| foreign_stack(&request.stack_id, arn)) {
            tracing::error!(reason = %mismatch, "refusing an event of another account or region");
            let outcome = Outcome::failed(
                Progress::default().failure_id(&request),
                Failure::new(FailureClass::StackCheck, mismatch),
            );
            return self.answer(&url, outcome, &request, times.answer).await;
        }
        // A direct invocation can name any stack, resource and id: only what CloudFormation shows
        // of the stack is believed.
        let checked = tokio::time::timeout_at(
            times.work.into(),
            // Boxed: the SDK's futures nest deeply, and the handler's future holds this one.
            Box::pin(stack_check::verify(
                &self.stacks,
                &request,
                &stack_check::REREADS,
            )),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Unverified::Unavailable(stack_check::StacksError {
                operation: iam::Op::DescribeStackResource,
                target: request.stack_id.clone(),
                message: format!("no answer before the {}", times.limit),
            }))
        });
        if let Err(refused) = checked {
            tracing::error!(reason = %refused, "refusing an event CloudFormation does not confirm");
            let outcome = Outcome::failed(
                Progress::default().failure_id(&request),
                Failure::new(FailureClass::StackCheck, refused.to_string()),
            );
            return self.answer(&url, outcome, &request, times.answer).await;
        }
        tracing::info!(
            host = cfn::loggable_host(&url),
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
                    request.clone(),
                    self.settings.guardrails.clone(),
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
                    Outcome::failed(progress.failure_id(&request), Failure::new(FailureClass::Internal, what))
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
                let reason = reason + &progress.left_behind(&request).unwrap_or_default();
                tracing::error!(reason = %reason, "deadline reached");
                Outcome::failed(progress.failure_id(&request), Failure::new(FailureClass::Deadline, reason))
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
        error: Box<cfn::EventError>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Result<Delivered, HandlerError> {
        tracing::error!(error = %error, "malformed event");
        let Some(raw_url) = error.response_url.as_deref() else {
            return Err(HandlerError::NoResponseUrl(format!(
                "the event has no ResponseURL ({error})"
            )));
        };
        let url = cfn::validate_response_url(raw_url, self.settings.allow_loopback)
            .map_err(|e| HandlerError::NoResponseUrl(e.to_string()))?;
        let request_id = error.request_id.clone().unwrap_or_default();
        let response = Response {
            status: Status::Failed,
            reason: Some(format!("invalid request: {}", error.message)),
            physical_resource_id: error
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| placeholder(&request_id)),
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
        match cfn::put_response(
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

/// Why a stack's event is not for this function: the StackId names another partition, region
/// or account than the function's ARN. Custom resources are served in their stack's own region
/// and account; anything else is a forged or misrouted event.
fn foreign_stack(stack_id: &str, function_arn: &str) -> Option<String> {
    let place = |text: &str| {
        let arn = Arn::parse(text)?;
        Some((
            arn.partition.to_owned(),
            arn.region.to_owned(),
            arn.account.to_owned(),
        ))
    };
    let function = place(function_arn)?;
    match place(stack_id) {
        Some(stack) if stack == function => None,
        stack => {
            let (p, r, a) = stack.unwrap_or_default();
            Some(format!(
                "StackId: the stack is in account `{a}`, region `{r}`, partition `{p}`, but this function serves only account `{}` in `{}` (`{}`); nothing was changed",
                function.2, function.1, function.0
            ))
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

/// What the work got to, shared with the handler so that a timeout or panic can still answer
/// with the right PhysicalResourceId.
#[derive(Debug, Default)]
struct Progress {
    /// A role this Create may have created or found to be its own: its rollback Delete must
    /// clean it up, so a failed answer names it.
    role: Mutex<Option<String>>,
}

impl Progress {
    fn set_role(&self, role: Option<String>) {
        *self.role.lock().unwrap_or_else(PoisonError::into_inner) = role;
    }

    fn role(&self) -> Option<String> {
        self.role
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What a failed replacement must say: the new role it may have left, which nothing else
    /// names (the failed Update keeps the old id, and CloudFormation deletes only that).
    fn left_behind(&self, request: &Request) -> Option<String> {
        let role = self.role()?;
        (request.request_type == RequestType::Update
            && request.physical_resource_id.as_deref() != Some(role.as_str()))
        .then(|| {
            format!("; role `{role}` may have been left behind: delete it by hand if it exists")
        })
    }

    fn failure_id(&self, request: &Request) -> String {
        match request.request_type {
            RequestType::Create => self
                .role()
                .unwrap_or_else(|| placeholder(&request.request_id)),
            RequestType::Update | RequestType::Delete => request_physical_id(request),
        }
    }
}

/// Why the work failed: the class the metrics count, and the answer's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    class: FailureClass,
    reason: String,
}

impl Failure {
    fn new(class: FailureClass, reason: impl Into<String>) -> Failure {
        Failure {
            class,
            reason: reason.into(),
        }
    }

    /// The same failure, its reason rewritten.
    fn map_reason(self, rewrite: impl FnOnce(String) -> String) -> Failure {
        Failure {
            class: self.class,
            reason: rewrite(self.reason),
        }
    }
}

impl From<IamError> for Failure {
    fn from(error: IamError) -> Failure {
        let class = match error {
            IamError::ForeignPolicy { .. } | IamError::PolicyInUse { .. } => {
                FailureClass::Ownership
            }
            _ => FailureClass::Iam,
        };
        Failure::new(class, error.to_string())
    }
}

impl From<PlanError> for Failure {
    fn from(error: PlanError) -> Failure {
        let class = match error {
            PlanError::Guardrail(_) => FailureClass::Guardrail,
            PlanError::Properties(_) | PlanError::Quota(_) => FailureClass::InvalidProperties,
        };
        Failure::new(class, error.to_string())
    }
}

/// The result of the work, before it becomes a [`Response`]: SUCCESS, or FAILED of a class.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    failure: Option<FailureClass>,
    physical_resource_id: String,
    reason: Option<String>,
    data: Vec<(String, String)>,
}

impl Outcome {
    fn failed(physical_resource_id: String, failure: Failure) -> Outcome {
        Outcome {
            failure: Some(failure.class),
            physical_resource_id,
            reason: Some(failure.reason),
            data: Vec::new(),
        }
    }

    fn success(physical_resource_id: String, data: Vec<(String, String)>) -> Outcome {
        Outcome {
            failure: None,
            physical_resource_id,
            reason: None,
            data,
        }
    }

    fn into_response(self, request: &Request) -> Response {
        Response {
            status: if self.failure.is_some() {
                Status::Failed
            } else {
                Status::Success
            },
            reason: self.reason,
            physical_resource_id: self.physical_resource_id,
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data: self.data,
        }
    }
}

/// The PhysicalResourceId of a failed Create that owns no role: never a role name.
pub fn placeholder(request_id: &str) -> String {
    let id: String = request_id.chars().take(900).collect();
    format!("{PLACEHOLDER_PREFIX}{id}")
}

fn request_physical_id(request: &Request) -> String {
    request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| placeholder(&request.request_id))
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

// ------------------------------------------------------------------------ the work

async fn run<I: Iam>(
    iam: I,
    request: Request,
    guardrails: Guardrails,
    progress: Arc<Progress>,
) -> Outcome {
    let context = match StackContext::from_stack_id(&request.stack_id, &request.logical_resource_id)
    {
        Ok(context) => context,
        Err(e) => {
            return Outcome::failed(
                progress.failure_id(&request),
                Failure::new(FailureClass::InvalidRequest, format!("StackId: {e}")),
            );
        }
    };
    let owner = Owner::new(
        request.stack_id.clone(),
        request.logical_resource_id.clone(),
    );
    let work = Work {
        iam: &iam,
        request: &request,
        context: &context,
        owner: &owner,
        guardrails: &guardrails,
        progress: &progress,
        adoption: Mutex::new(Adoption::default()),
    };
    match request.request_type {
        RequestType::Create => work.create().await,
        RequestType::Update => work.update().await,
        RequestType::Delete => work.delete().await,
    }
}

struct Work<'a, I> {
    iam: &'a I,
    request: &'a Request,
    context: &'a StackContext,
    owner: &'a Owner,
    guardrails: &'a Guardrails,
    progress: &'a Progress,
    /// What an adoption did to the role's other policies, for the answer.
    adoption: Mutex<Adoption>,
}

/// The policies an adoption detached, and those of them it deleted (`DeleteConsolePolicies`).
#[derive(Debug, Default)]
struct Adoption {
    detached: Vec<String>,
    deleted: Vec<String>,
}

/// What a creation made: the role, or nothing because a role of that name exists.
enum Created {
    Role(Box<RoleState>),
    Exists,
}

impl<I: Iam> Work<'_, I> {
    async fn create(&self) -> Outcome {
        let plan = match self.plan().await {
            Ok(plan) => plan,
            Err(reason) => return Outcome::failed(self.progress.failure_id(self.request), reason),
        };
        let adopt = plan.adopt_existing_role;
        let request = lifecycle::Request::Create { adopt };
        // A role of the planned name in the console's capitalisation (`SageMaker-…`) is looked
        // for first: IAM names are unique ignoring case, but not every IAM answers so. With
        // adoption the planned spelling is looked for too; without, CreateRole finds it.
        // The planned managed policies are read beside the role: a Create that finds no role
        // (nearly every one) needs them next, and waits one round trip less.
        let planned = planned_policy_arns(&plan);
        let (existing, own_policies) = futures_util::future::join(
            self.find_existing(&plan, adopt),
            state::planned_policies(self.iam, &planned, self.owner),
        )
        .await;
        let result = match existing {
            Ok(Some(role)) => {
                let planned = Some((plan.role.role_name.as_str(), plan.role.path.as_str()));
                let name = role.name.clone();
                let step = decide(request, planned, found(self.owner, Some(&role)));
                match self.carry_out(step, &plan, Some(role)).await {
                    Ok(created) => created.into_role(&name),
                    Err(reason) => Err(reason),
                }
            }
            Ok(None) => match own_policies {
                Ok(own) => self.optimistic(request, &plan, Some(own)).await,
                Err(e) => Err(e.into()),
            },
            Err(reason) => Err(reason),
        };
        self.finish(&plan, result)
    }

    /// The role of the planned name, whatever the capitalisation of its `sagemaker-` prefix.
    async fn find_existing(&self, plan: &Plan, both: bool) -> Result<Option<RoleState>, Failure> {
        let name = plan.role.role_name.as_str();
        let console = lifecycle::console_name(name);
        let planned = both.then_some(name);
        for candidate in planned.into_iter().chain(console.as_deref()) {
            if let Some(role) = self.iam.get_role(candidate).await? {
                return Ok(Some(role));
            }
        }
        Ok(None)
    }

    async fn update(&self) -> Outcome {
        let current = request_physical_id(self.request);
        let plan = match self.plan().await {
            Ok(plan) => plan,
            Err(reason) => return Outcome::failed(current, reason),
        };
        let request = lifecycle::Request::Update { current: &current };
        let planned_name = plan.role.role_name.as_str();
        if !planned_name.eq_ignore_ascii_case(&current) {
            tracing::info!(old = %current, new = %planned_name, "role name changes: replacing the role");
            let result = self.optimistic(request, &plan, None).await;
            return self.finish(&plan, result);
        }
        // The role's own spelling of the name (an adopted `SageMaker-` role keeps it).
        let name = current.as_str();
        let role = match self.iam.get_role(name).await {
            Ok(role) => role,
            Err(e) => return Outcome::failed(current, e.into()),
        };
        let found = found(self.owner, role.as_ref());
        let step = decide(request, Some((planned_name, &plan.role.path)), found);
        let result = match self.carry_out(step, &plan, role).await {
            Ok(created) => created.into_role(name),
            Err(reason) => Err(reason),
        };
        self.finish(&plan, result)
    }

    async fn delete(&self) -> Outcome {
        let id = request_physical_id(self.request);
        let planned = self.planned_role_name();
        let targets = lifecycle::delete_targets(&id, planned.as_deref());
        if targets.is_empty() {
            tracing::info!(physical_resource_id = %id, "not a role this resource could have made: nothing to delete");
        }
        for name in &targets {
            if name != &id {
                tracing::info!(physical_resource_id = %id, role = %name, "not a role name: looking for the role the properties plan");
            }
            let role = match self.iam.get_role(name).await {
                Ok(role) => role,
                Err(e) => return Outcome::failed(id, e.into()),
            };
            let request = lifecycle::Request::Delete {
                id: name,
                named: name == &id,
            };
            match decide(request, None, found(self.owner, role.as_ref())) {
                Step::Teardown { role } if self.retain_on_delete() => {
                    tracing::info!(role = %role, "RetainOnDelete is set: the role is left as it is");
                }
                Step::Teardown { role: name } => {
                    let deleted = match role.clone() {
                        // The role as just read: no second read before tearing it down.
                        Some(read) => state::delete_role(self.iam, read, self.owner).await,
                        None => state::delete_role_named(self.iam, &name, self.owner).await,
                    };
                    match deleted {
                        Ok(Deletion::Deleted | Deletion::NotFound) => {}
                        Ok(Deletion::NotOwned) => {
                            tracing::warn!(role = %name, "role is not managed by this resource: left untouched");
                        }
                        Err(e) => return Outcome::failed(id, e.into()),
                    }
                }
                Step::Nothing { why } => tracing::info!(role = %name, "{why}"),
                step => {
                    return Outcome::failed(
                        id,
                        Failure::new(
                            FailureClass::Internal,
                            format!(
                                "internal error: step {step:?} cannot be carried out for a Delete"
                            ),
                        ),
                    );
                }
            }
        }
        Outcome::success(id, Vec::new())
    }

    /// `RetainOnDelete` of the Delete's properties (read alone: the rest may no longer plan).
    fn retain_on_delete(&self) -> bool {
        match self.request.properties.get(table::RETAIN_ON_DELETE.name) {
            Some(Value::Bool(retain)) => *retain,
            Some(Value::String(text)) => text == "true",
            _ => false,
        }
    }

    /// The role name the event's ResourceProperties plan, read from `RoleNameSuffix` alone so
    /// that it is found even when the rest of the properties no longer plan.
    fn planned_role_name(&self) -> Option<String> {
        let suffix = self
            .request
            .properties
            .get("RoleNameSuffix")
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        Some(plan::naming::role_name(suffix, self.context))
    }

    /// SUCCESS with the role's attributes, or FAILED with the id [`Progress`] gives.
    fn finish(&self, plan: &Plan, result: Result<RoleState, Failure>) -> Outcome {
        match result {
            Ok(role) => {
                let mut outcome = success(plan, &role);
                let adoption = self.adoption.lock().unwrap_or_else(PoisonError::into_inner);
                // Last: the first attributes trimming would drop to fit the answer.
                for (key, arns) in [
                    ("DetachedPolicies", &adoption.detached),
                    ("DeletedPolicies", &adoption.deleted),
                ] {
                    if !arns.is_empty() {
                        outcome.data.push((key.to_owned(), arns.join(",")));
                    }
                }
                outcome
            }
            Err(mut failure) => {
                if let Some(note) = self.progress.left_behind(self.request) {
                    failure.reason.push_str(&note);
                }
                Outcome::failed(self.progress.failure_id(self.request), failure)
            }
        }
    }

    /// Plans on a blocking thread, so that the deadline guard can still answer while a large
    /// plan is computed on the runtime's one thread.
    async fn plan(&self) -> Result<Plan, Failure> {
        let (properties, context, guardrails) = (
            self.request.properties.clone(),
            self.context.clone(),
            self.guardrails.clone(),
        );
        let plan = tokio::task::spawn_blocking(move || {
            plan::plan_guarded(&properties, &context, &guardrails)
        })
        .await
        .map_err(|e| {
            Failure::new(
                FailureClass::Internal,
                format!("internal error: planning stopped ({e})"),
            )
        })??;
        check_answer_fits(&plan, self.request)
            .map_err(|reason| Failure::new(FailureClass::InvalidProperties, reason))?;
        for warning in &plan.warnings {
            tracing::warn!(warning = %warning, "properties");
        }
        Ok(plan)
    }

    /// A Create, or an Update to a new name: the planned name is taken to be free (no read
    /// first), and only when CreateRole finds it taken is the role read and the step decided
    /// again.
    async fn optimistic(
        &self,
        request: lifecycle::Request<'_>,
        plan: &Plan,
        own_policies: Option<BTreeMap<String, PolicyState>>,
    ) -> Result<RoleState, Failure> {
        let name = plan.role.role_name.as_str();
        let planned = Some((name, plan.role.path.as_str()));
        let step = decide(request, planned, Found::Absent);
        let first = match (step, own_policies) {
            (Step::Create, Some(own)) => self.provision_from(plan, own).await?,
            (step, _) => self.carry_out(step, plan, None).await?,
        };
        if let Created::Role(role) = first {
            return Ok(*role);
        }
        let role = self.iam.get_role(name).await?;
        if role.is_none() {
            // IAM is eventually consistent: CreateRole saw the name taken, GetRole not yet.
            return Err(Failure::new(
                FailureClass::Iam,
                format!("role `{name}` exists but cannot be read yet; retry the stack operation"),
            ));
        }
        let step = decide(request, planned, found(self.owner, role.as_ref()));
        if step == Step::Converge {
            tracing::info!(role = %name, "role exists and is this resource's own: converging");
        }
        self.carry_out(step, plan, role).await?.into_role(name)
    }

    /// Carries out one step of a Create or Update. `role` is the role as read, when it was.
    async fn carry_out(
        &self,
        step: Step,
        plan: &Plan,
        role: Option<RoleState>,
    ) -> Result<Created, Failure> {
        let name = plan.role.role_name.as_str();
        match (step, role) {
            (Step::Create | Step::Replace { .. }, _) => self.provision(plan).await,
            (Step::Recreate, _) => {
                tracing::warn!(role = %name, "the role is gone: creating it again");
                self.provision(plan).await
            }
            (Step::Converge, Some(role)) => {
                self.progress.set_role(Some(name.to_owned()));
                state::converge(self.iam, plan, role, self.owner)
                    .await
                    .map(|role| Created::Role(Box::new(role)))
                    .map_err(Failure::from)
            }
            (Step::Adopt, Some(role)) if self.guardrails.adoption_forbidden => Err(Failure::new(
                FailureClass::Guardrail,
                format!(
                    "AdoptExistingRole: role {} is no stack's, and this function does not allow \
                     adoption; it was left unchanged. Deploy the function's stack with \
                     AllowAdoption=true for the migration",
                    role.name
                ),
            )),
            (Step::Adopt, Some(role))
                if !self.guardrails.adopt_any_unowned_role
                    && !lifecycle::made_by_role_manager(&role.name, &role.path) =>
            {
                Err(Failure::new(
                    FailureClass::Guardrail,
                    lifecycle::not_role_managers(&role.name, &role.path),
                ))
            }
            (Step::Adopt, Some(role)) => {
                let name = role.name.clone();
                self.adopt(plan, role).await.map_err(|failure| {
                    failure.map_reason(|reason| {
                        format!(
                            "{reason}; adopting role `{name}` stopped part-way: it keeps this \
                             resource's ownership, a retry converges it, and no Delete removes \
                             it unless an answer named it"
                        )
                    })
                })
            }
            (Step::Refuse { class, reason }, _) => Err(Failure::new(class, reason)),
            (step, _) => Err(Failure::new(
                FailureClass::Internal,
                format!(
                    "internal error: step {step:?} cannot be carried out for a Create or Update"
                ),
            )),
        }
    }

    /// Takes over a role no stack owns: tags it as this resource's and as adopted, converges it
    /// in place, and remembers which of its policies the declaration does not attach (detached
    /// by the convergence). A failure leaves the answer's id unnamed: the role existed before,
    /// and the rollback must not delete it.
    async fn adopt(&self, plan: &Plan, mut role: RoleState) -> Result<Created, Failure> {
        tracing::info!(role = %role.name, "role is no stack's and AdoptExistingRole is set: taking it over");
        let tags: Vec<PlanTag> = self
            .owner
            .adoption_tags()
            .iter()
            .map(|(key, value)| PlanTag {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect();
        self.iam
            .apply(&role.name, &Change::TagRole { tags: tags.clone() })
            .await?;
        role.tags.extend(tags.into_iter().map(|t| (t.key, t.value)));
        let planned: Vec<String> = plan.all_attached_arns();
        let detached: Vec<String> = self
            .iam
            .attached_policy_arns(&role.name)
            .await?
            .into_iter()
            .filter(|arn| !planned.contains(arn))
            .collect();
        let role = state::converge(self.iam, plan, role, self.owner).await?;
        let deleted = if plan.delete_console_policies {
            self.delete_console_policies(&role.name, &detached).await?
        } else {
            Vec::new()
        };
        *self.adoption.lock().unwrap_or_else(PoisonError::into_inner) =
            Adoption { detached, deleted };
        Ok(Created::Role(Box::new(role)))
    }

    /// Deletes those of the `detached` policies that are the console's and that no other role,
    /// user or group has attached; returns their ARNs. Any other policy is never deleted.
    async fn delete_console_policies(
        &self,
        role: &str,
        detached: &[String],
    ) -> Result<Vec<String>, Failure> {
        let mut deleted = Vec::new();
        for arn in detached {
            if console::find_arn(arn).is_none() {
                tracing::info!(policy = %arn, "not a console policy: detached, not deleted");
                continue;
            }
            let others = self.iam.other_attachments(arn, role).await?;
            if !others.is_empty() {
                tracing::warn!(policy = %arn, used_by = %others.join(", "), "console policy is still attached elsewhere: kept");
                continue;
            }
            let Some(policy) = self.iam.get_policy(arn).await? else {
                continue;
            };
            let change = Change::DeletePolicy {
                arn: arn.clone(),
                old_versions: policy.old_versions(),
            };
            self.iam.apply(role, &change).await?;
            deleted.push(arn.clone());
        }
        Ok(deleted)
    }

    /// Creates the planned role and its policies; [`Created::Exists`] when a role of that name
    /// exists. A planned managed policy held by another owner fails before any change; what a
    /// failed creation made is removed again.
    async fn provision(&self, plan: &Plan) -> Result<Created, Failure> {
        let planned = planned_policy_arns(plan);
        let own_policies = state::planned_policies(self.iam, &planned, self.owner).await?;
        self.provision_from(plan, own_policies).await
    }

    /// [`Self::provision`] with the planned policies already read.
    async fn provision_from(
        &self,
        plan: &Plan,
        own_policies: BTreeMap<String, PolicyState>,
    ) -> Result<Created, Failure> {
        let name = plan.role.role_name.clone();
        let planned = planned_policy_arns(plan);

        self.progress.set_role(Some(name.clone()));
        let role = match self.iam.create_role(&plan.role).await {
            Ok(role) => role,
            Err(CreateRoleError::AlreadyExists) => {
                self.progress.set_role(None);
                return Ok(Created::Exists);
            }
            // IAM answered: nothing was created. No answer (a timeout): the role may exist.
            Err(CreateRoleError::Failed(e)) => {
                if e.is_definite() {
                    self.progress.set_role(None);
                }
                return Err(e.into());
            }
        };

        let actual = iam::Actual {
            role: role.clone(),
            inline_policies: Default::default(),
            attached_policy_arns: Default::default(),
            own_policies,
        };
        let changes = iam::diff(plan, &actual);
        let mut done = Vec::new();
        let Err(error) = state::apply(self.iam, &name, &changes, self.owner, &mut done).await
        else {
            return Ok(Created::Role(Box::new(role)));
        };
        tracing::warn!(error = %error, "create failed half-way: removing what it made");
        let undone = match state::undo_create(self.iam, &name, &done, self.owner).await {
            // A policy whose CreatePolicy took effect without an answer is not in `done`.
            Ok(()) => state::sweep_planned(self.iam, &name, &planned, self.owner).await,
            Err(first) => {
                tracing::warn!(error = %first, "undo failed; deleting the role with all it owns");
                state::delete_role_named(self.iam, &name, self.owner)
                    .await
                    .map(drop)
            }
        };
        match undone {
            Ok(()) => {
                self.progress.set_role(None);
                Err(Failure::from(error).map_reason(|reason| {
                    format!("{reason} (everything created was removed again)")
                }))
            }
            Err(undo_error) => Err(Failure::from(error).map_reason(|reason| {
                format!("{reason}; removing what was created failed too: {undo_error}")
            })),
        }
    }
}

impl Created {
    fn into_role(self, name: &str) -> Result<RoleState, Failure> {
        match self {
            Created::Role(role) => Ok(*role),
            // IAM's state changed between two of this event's calls.
            Created::Exists => Err(Failure::new(
                FailureClass::Iam,
                format!(
                    "role `{name}` was created meanwhile by another delivery of this request; retry the stack operation"
                ),
            )),
        }
    }
}

/// What the lifecycle needs to know of a role read from IAM.
/// The ARNs of the plan's own managed policies.
fn planned_policy_arns(plan: &Plan) -> Vec<String> {
    plan.managed_policies
        .iter()
        .map(|p| p.arn.clone())
        .collect()
}

fn found<'a>(owner: &Owner, role: Option<&'a RoleState>) -> Found<'a> {
    match role {
        None => Found::Absent,
        Some(role) => Found::role(owner, &role.tags, &role.path),
    }
}

/// SUCCESS with the role's attributes for `Fn::GetAtt`.
fn success(plan: &Plan, role: &RoleState) -> Outcome {
    Outcome::success(
        role.name.clone(),
        attributes(plan, &role.name, &role.arn, &role.role_id),
    )
}

fn attributes(plan: &Plan, name: &str, arn: &str, role_id: &str) -> Vec<(String, String)> {
    vec![
        ("Arn".to_owned(), arn.to_owned()),
        ("RoleName".to_owned(), name.to_owned()),
        ("RoleId".to_owned(), role_id.to_owned()),
        ("PolicyArns".to_owned(), plan.all_attached_arns().join(",")),
        ("Activities".to_owned(), plan.activities.join(",")),
    ]
}

/// Refuses, before any change, a plan whose SUCCESS answer would not fit CloudFormation's
/// 4,096 bytes whole: a dropped attribute would fail every `Fn::GetAtt` on it. Long paths on many
/// managed policies are what makes `PolicyArns` that long.
fn check_answer_fits(plan: &Plan, request: &Request) -> Result<(), String> {
    // Role ids are 21 characters (AROA and 17 more).
    let probe = Outcome::success(
        plan.role.role_name.clone(),
        attributes(
            plan,
            &plan.role.role_name,
            &plan.role.arn,
            "AROA00000000000000000",
        ),
    )
    .into_response(request);
    let (_, trimmed) = probe.body();
    if trimmed.dropped_data.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Path: the role's attributes ({}) would not fit CloudFormation's 4,096-byte answer with {} policies under path `{}`; use a shorter Path or fewer managed policies",
        trimmed.dropped_data.join(", "),
        plan.all_attached_arns().len(),
        plan.role.path
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_never_role_names() {
        let id = placeholder("5f3c-11ee");
        assert!(id.starts_with(PLACEHOLDER_PREFIX));
        assert_eq!(lifecycle::delete_target(&id), None);
    }

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
}
