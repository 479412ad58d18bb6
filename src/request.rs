//! One CloudFormation event from its arrival to its answer, decided without AWS or a clock of its
//! own: its admission ([`admission`]: can it be answered, is it still awaited, is it of this
//! function's account and region), the deadlines it is worked under, the stack check
//! ([`Check`]), the request's plan, then the lifecycle machine ([`lifecycle::Machine`]), as the
//! states of one [`Machine`]: [`Machine::start`] admits the event and gives the first effect,
//! [`Machine::on`] the next from what the last one observed, until [`Next::Answer`]. Also the
//! answer of work that was stopped (a panic, a cancel, the deadline: [`Reached::stopped`]) and of
//! an event that is no valid request ([`malformed`]). The handler carries the effects out.

use std::time::{Duration, Instant, SystemTime};

use reqwest::Url;

use crate::admission::{self, Unanswered};
use crate::aws::Op;
use crate::cfn::answer::{Response, Status};
use crate::cfn::event::{DEFAULT_SERVICE_TIMEOUT, EventError, Request};
use crate::cfn::response_url;
use crate::cfn::stack_check::{self, Check, Read, Reply, StackRoles, StacksError, Unverified};
use crate::guardrails::{Guardrails, PerStack};
use crate::lifecycle::{self, Failure, Ids, Intent, Outcome};
use crate::metrics::FailureClass;

/// When the work must stop, and when the answer must be sent by: before the earlier of the
/// Lambda deadline and the event's ServiceTimeout, keeping time back to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// When the handler received the event.
    pub started: Instant,
    /// The work stops then, and its answer is FAILED.
    pub work: Instant,
    /// The answer is sent by then.
    pub answer: Instant,
    /// A new role's readiness is waited for until then: a second before the work must stop, so
    /// that SUCCESS is answered.
    pub ready_until: Instant,
    /// Which limit the deadlines keep: `Lambda deadline` or `ServiceTimeout`.
    pub limit: &'static str,
}

impl Deadlines {
    /// `sent`: when CloudFormation sent the event (its ServiceTimeout runs from then); `now`: the
    /// time left is counted from then. At most `max_reserve` is kept back to answer; less when
    /// the invocation is short (a tenth of the time left, at least a second, at most half).
    pub fn new(
        started: Instant,
        sent: Instant,
        now: Instant,
        lambda_deadline: Option<Instant>,
        service_timeout: Option<Duration>,
        max_reserve: Duration,
    ) -> Deadlines {
        let service = sent + service_timeout.unwrap_or(DEFAULT_SERVICE_TIMEOUT);
        let (hard, limit) = match lambda_deadline {
            Some(lambda) if lambda <= service => (lambda, "Lambda deadline"),
            _ => (service, "ServiceTimeout"),
        };
        let left = hard.saturating_duration_since(now);
        let reserve = (left / 10)
            .max(Duration::from_secs(1))
            .min(max_reserve)
            .min(left / 2);
        let margin = Duration::from_millis(50).min(reserve / 4);
        let work = hard.checked_sub(reserve).unwrap_or(hard);
        Deadlines {
            started,
            work,
            answer: hard.checked_sub(margin).unwrap_or(hard),
            ready_until: work.checked_sub(Duration::from_secs(1)).unwrap_or(work),
            limit,
        }
    }
}

/// The event's arrival: the clocks read once, the Lambda deadline and the function's ARN.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// When the handler received the event.
    pub started: Instant,
    pub now: Instant,
    /// The wall clock, for the ResponseURL's signature.
    pub clock: SystemTime,
    pub lambda_deadline: Option<Instant>,
    /// None outside Lambda: no account or region to compare with.
    pub function_arn: Option<&'a str>,
}

/// The handler's settings the event is decided with.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Accept http ResponseURLs on 127.0.0.1/localhost (local tests only).
    pub allow_loopback: bool,
    pub max_answer_reserve: Duration,
    pub guardrails: &'a Guardrails,
    /// Before a SUCCESS for a role this event made or re-trusted: wait this long once IAM
    /// serves it.
    pub ready_wait: Option<Duration>,
}

/// An event admitted, or why it gets no answer.
// One per event: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Admitted {
    Unanswered(Unanswered),
    /// Answer at `url`, as the machine decides, starting with `next`; or, should its work be
    /// stopped, as `guard` decides.
    Answerable {
        url: Url,
        guard: Guard,
        machine: Machine,
        next: Next,
    },
}

/// The one answer: the body CloudFormation reads, and why it is FAILED (none for SUCCESS).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub response: Response,
    pub failure: Option<FailureClass>,
}

impl Answer {
    fn of(outcome: Outcome, request: &Request) -> Answer {
        Answer {
            failure: outcome.failure,
            response: outcome.into_response(request),
        }
    }
}

/// What answers an event whose work was stopped, and by when.
#[derive(Debug, Clone)]
pub struct Guard {
    request: Request,
    pub deadlines: Deadlines,
}

impl Guard {
    /// The FAILED answer of work stopped after reaching `reached` ([`Reached::stopped`]).
    pub fn stopped(&self, reached: &Reached, stop: Stop) -> Answer {
        Answer::of(
            reached.stopped(&self.request, stop, &self.deadlines),
            &self.request,
        )
    }
}

/// A request to plan with the guardrails (`lifecycle::intent`): CPU-bound, so its driver runs it
/// off the event's thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Planning {
    request: Request,
    guardrails: Guardrails,
}

impl Planning {
    pub fn plan(&self) -> Result<Intent, Failure> {
        lifecycle::intent(&self.request, &self.guardrails)
    }
}

/// What the handler is to do next.
// One per round trip: their size does not matter, boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A read of the stack check ([`Observation::Stack`]), over `stack_check::read`.
    Stack(Read),
    /// Wait this long ([`Observation::Paused`]): CloudFormation may show the event's state later.
    Pause(Duration),
    /// Plan the request ([`Observation::Planned`]).
    Plan(Box<Planning>),
    /// An effect of the lifecycle machine ([`Observation::Lifecycle`]).
    Lifecycle(lifecycle::Effect),
}

/// What an effect observed.
// One per round trip: their size does not matter, boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Observation {
    Stack(Reply),
    Paused,
    Planned(Result<Intent, Failure>),
    /// The planning did not finish (its thread panicked or was cancelled), and why.
    PlanningStopped(String),
    Lifecycle(lifecycle::Observation),
}

impl Observation {
    fn name(&self) -> &'static str {
        match self {
            Observation::Stack(_) => "a stack read",
            Observation::Paused => "a pause",
            Observation::Planned(_) | Observation::PlanningStopped(_) => "the plan",
            Observation::Lifecycle(observation) => observation.name(),
        }
    }
}

/// An effect to carry out, or the answer, after which the machine is done.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Effect(Effect),
    Answer(Answer),
}

/// One event, from its admission to its answer.
#[derive(Debug, Clone)]
pub struct Machine {
    request: Request,
    guardrails: Guardrails,
    ready_wait: Option<Duration>,
    stage: Stage,
}

#[derive(Debug, Clone)]
enum Stage {
    Checking(Box<Check>),
    /// Confirmed by CloudFormation; `stack`: its roles, when the check listed them.
    Planning {
        stack: Option<StackRoles>,
    },
    Working(Box<lifecycle::Machine>),
    Answered,
}

/// How far an event's work got: what its answer says when the work is stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Reached {
    /// Admitted, or in the stack check: nothing was changed.
    #[default]
    Checking,
    /// In the lifecycle; `at_stake`: the role it may have made.
    Working { at_stake: Option<String> },
}

/// Why the work was stopped before its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// It panicked, with the panic's message.
    Panicked(String),
    Cancelled,
    /// It reached [`Deadlines::work`].
    Deadline,
}

impl Reached {
    /// The FAILED answer of work stopped here, naming what it may have made.
    pub fn stopped(&self, request: &Request, stop: Stop, deadlines: &Deadlines) -> Outcome {
        let at_stake = match self {
            Reached::Checking => None,
            Reached::Working { at_stake } => at_stake.as_deref(),
        };
        let failure = match (stop, self) {
            (Stop::Panicked(message), _) => Failure::new(
                FailureClass::Internal,
                format!("internal error: the handler panicked ({message})"),
            ),
            (Stop::Cancelled, _) => Failure::new(
                FailureClass::Internal,
                "internal error: the handler was cancelled",
            ),
            (Stop::Deadline, Reached::Checking) => Failure::new(
                FailureClass::StackCheck,
                Unverified::Unavailable(StacksError {
                    operation: Op::DescribeStackResource,
                    target: request.stack_id.clone(),
                    message: format!("no answer before the {}", deadlines.limit),
                })
                .to_string(),
            ),
            (Stop::Deadline, Reached::Working { .. }) => Failure::new(
                FailureClass::Deadline,
                format!(
                    "timed out: the {} did not finish within {:.0} seconds and was stopped before the {}; {}",
                    request.request_type.as_str(),
                    deadlines
                        .work
                        .saturating_duration_since(deadlines.started)
                        .as_secs_f64(),
                    deadlines.limit,
                    "IAM may be slow or unreachable from the function; retry the stack operation",
                ),
            ),
        };
        match failure.class {
            FailureClass::Deadline => tracing::error!(reason = %failure.reason, "deadline reached"),
            FailureClass::StackCheck => {
                tracing::error!(reason = %failure.reason, "refusing an event CloudFormation does not confirm")
            }
            _ => tracing::error!(error = %failure.reason, "work failed"),
        }
        Ids::of(request).failed(at_stake, failure)
    }
}

impl Machine {
    /// Admits `request` ([`admission::admit`]): no answer when its ResponseURL is unusable or
    /// CloudFormation no longer waits for it; FAILED at once for a stack of another account or
    /// region; else the stack check's first read. Decided before any AWS call.
    pub fn start(request: Request, arrival: &Arrival<'_>, rules: &Rules<'_>) -> Admitted {
        let admitted = admission::admit(
            &request,
            arrival.clock,
            rules.allow_loopback,
            arrival.function_arn,
        );
        let admission = match admitted {
            Ok(admission) => admission,
            Err(why) => return Admitted::Unanswered(why),
        };
        let sent = arrival
            .started
            .checked_sub(admission.age)
            .unwrap_or(arrival.started);
        let deadlines = Deadlines::new(
            arrival.started,
            sent,
            arrival.now,
            arrival.lambda_deadline,
            request.service_timeout,
            rules.max_answer_reserve,
        );
        // A direct invocation can name any stack, resource, id and properties: only what
        // CloudFormation shows of the stack and recorded in its events is believed. A Create's
        // stack is listed beside the check when its roles are limited.
        let (check, step) = Check::start(
            &request,
            arrival.function_arn,
            &stack_check::REREADS,
            rules.guardrails.max_roles_per_stack != PerStack::Unlimited,
        );
        let mut machine = Machine {
            guardrails: rules.guardrails.clone(),
            ready_wait: rules.ready_wait,
            stage: Stage::Checking(Box::new(check)),
            request,
        };
        let next = match admission.foreign {
            Some(mismatch) => machine.fail(None, Failure::new(FailureClass::StackCheck, mismatch)),
            None => machine.checking(step),
        };
        Admitted::Answerable {
            url: admission.url,
            guard: Guard {
                request: machine.request.clone(),
                deadlines,
            },
            machine,
            next,
        }
    }

    /// The event's request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// How far the work got.
    pub fn reached(&self) -> Reached {
        match &self.stage {
            Stage::Checking(_) => Reached::Checking,
            Stage::Planning { .. } | Stage::Answered => Reached::Working { at_stake: None },
            Stage::Working(machine) => Reached::Working {
                at_stake: machine.at_stake().map(str::to_owned),
            },
        }
    }

    /// The next effect, given what the last one observed.
    pub fn on(&mut self, observation: Observation) -> Next {
        match (&mut self.stage, observation) {
            (Stage::Checking(check), Observation::Stack(reply)) => {
                let step = check.on(reply);
                self.checking(step)
            }
            (Stage::Checking(check), Observation::Paused) => {
                let step = check.paused();
                self.checking(step)
            }
            (Stage::Planning { stack }, Observation::Planned(Ok(intent))) => {
                let (machine, next) = lifecycle::Machine::start(
                    &self.request,
                    intent,
                    &self.guardrails,
                    stack.take(),
                    self.ready_wait,
                );
                self.stage = Stage::Working(Box::new(machine));
                self.working(next)
            }
            (Stage::Planning { .. }, Observation::Planned(Err(failure))) => {
                self.fail(None, failure)
            }
            (Stage::Planning { .. }, Observation::PlanningStopped(why)) => self.fail(
                None,
                Failure::new(
                    FailureClass::Internal,
                    format!("internal error: planning stopped ({why})"),
                ),
            ),
            (Stage::Working(machine), Observation::Lifecycle(observation)) => {
                let next = machine.on(observation);
                self.working(next)
            }
            (_, observation) => {
                let at_stake = match self.reached() {
                    Reached::Working { at_stake } => at_stake,
                    Reached::Checking => None,
                };
                let what = format!(
                    "internal error: {} came out of turn; nothing more was done",
                    observation.name()
                );
                self.fail(
                    at_stake.as_deref(),
                    Failure::new(FailureClass::Internal, what),
                )
            }
        }
    }

    fn checking(&mut self, step: stack_check::Step) -> Next {
        match step {
            stack_check::Step::Read(read) => Next::Effect(Effect::Stack(read)),
            stack_check::Step::Pause(pause) => Next::Effect(Effect::Pause(pause)),
            stack_check::Step::Done(Ok(stack)) => {
                tracing::info!(
                    physical_resource_id =
                        self.request.physical_resource_id.as_deref().unwrap_or(""),
                    "handling request"
                );
                self.stage = Stage::Planning { stack };
                Next::Effect(Effect::Plan(Box::new(Planning {
                    request: self.request.clone(),
                    guardrails: self.guardrails.clone(),
                })))
            }
            stack_check::Step::Done(Err(refused)) => {
                tracing::error!(reason = %refused, "refusing an event CloudFormation does not confirm");
                self.fail(
                    None,
                    Failure::new(FailureClass::StackCheck, refused.to_string()),
                )
            }
        }
    }

    fn working(&mut self, next: lifecycle::Next) -> Next {
        match next {
            lifecycle::Next::Effect(effect) => Next::Effect(Effect::Lifecycle(effect)),
            lifecycle::Next::Answer(outcome) => {
                self.stage = Stage::Answered;
                Next::Answer(Answer::of(outcome, &self.request))
            }
        }
    }

    fn fail(&mut self, at_stake: Option<&str>, failure: Failure) -> Next {
        self.stage = Stage::Answered;
        Next::Answer(Answer::of(
            Ids::of(&self.request).failed(at_stake, failure),
            &self.request,
        ))
    }
}

/// The FAILED answer to an event that is no valid request, where it goes (the ResponseURL the
/// event names, if it is usable; none otherwise) and by when (it names no ServiceTimeout: the
/// default's).
pub fn malformed(
    error: &EventError,
    arrival: &Arrival<'_>,
    rules: &Rules<'_>,
) -> Result<(Url, Answer, Instant), Unanswered> {
    let Some(raw_url) = error.response_url.as_deref() else {
        return Err(Unanswered::NoResponseUrl(format!(
            "the event has no ResponseURL ({error})"
        )));
    };
    let url = response_url::validate_response_url(raw_url, rules.allow_loopback)
        .map_err(|e| Unanswered::NoResponseUrl(e.to_string()))?;
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
    let deadlines = Deadlines::new(
        arrival.started,
        arrival.started,
        arrival.now,
        arrival.lambda_deadline,
        None,
        rules.max_answer_reserve,
    );
    Ok((
        url,
        Answer {
            response,
            failure: Some(FailureClass::InvalidRequest),
        },
        deadlines.answer,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_work_stops_before_the_earlier_deadline() {
        let start = Instant::now();
        let new = |lambda, timeout, max| {
            Deadlines::new(start, start, Instant::now(), lambda, timeout, max)
        };
        let lambda = start + Duration::from_secs(4);
        let times = new(Some(lambda), None, Duration::from_secs(5));
        assert_eq!(times.limit, "Lambda deadline");
        assert!(times.work < times.answer && times.answer < lambda);
        assert!(lambda - times.work >= Duration::from_millis(900));

        let times = new(
            Some(start + Duration::from_secs(900)),
            Some(Duration::from_secs(60)),
            Duration::from_secs(5),
        );
        assert_eq!(times.limit, "ServiceTimeout");
        assert!(times.work <= start + Duration::from_secs(55));
        assert!(times.answer < start + Duration::from_secs(60));

        // Almost no time left: half of it goes to the answer.
        let times = new(
            Some(Instant::now() + Duration::from_millis(400)),
            None,
            Duration::from_secs(5),
        );
        assert!(times.work < times.answer);
    }

    use serde_json::json;

    /// The deadline policy as rows: (seconds the Lambda invocation has left, the event's
    /// ServiceTimeout, seconds since CloudFormation sent it, the limit kept, seconds until the
    /// work stops, until the answer is due at the latest, until a readiness wait ends).
    #[test]
    fn the_deadlines_keep_time_back_to_answer_before_the_earlier_limit() {
        let now = Instant::now();
        type Row = (u64, Option<u64>, u64, &'static str, f64, f64, f64);
        let rows: [Row; 5] = [
            // Fifteen minutes of Lambda, an hour of ServiceTimeout: 5 s (the most) kept back.
            (900, None, 0, "Lambda deadline", 895.0, 900.0, 894.0),
            // A ServiceTimeout of a minute, the event sent 20 s ago: 40 s left, a tenth kept.
            (900, Some(60), 20, "ServiceTimeout", 36.0, 40.0, 35.0),
            // Four seconds: at least a second kept back.
            (4, None, 0, "Lambda deadline", 3.0, 4.0, 2.0),
            // Less than two seconds: half kept back; no time for a readiness wait.
            (1, None, 0, "Lambda deadline", 0.5, 1.0, 0.0),
            // Sent longer ago than the ServiceTimeout: nothing left.
            (900, Some(60), 61, "ServiceTimeout", 0.0, 0.0, 0.0),
        ];
        for (lambda, timeout, ago, limit, work, answer, ready) in rows {
            let sent = now.checked_sub(Duration::from_secs(ago)).unwrap();
            let deadlines = Deadlines::new(
                now,
                sent,
                now,
                Some(now + Duration::from_secs(lambda)),
                timeout.map(Duration::from_secs),
                Duration::from_secs(5),
            );
            let case = format!("{lambda} s, {timeout:?}, sent {ago} s ago");
            let from_now = |at: Instant| at.saturating_duration_since(now).as_secs_f64();
            assert_eq!(deadlines.limit, limit, "{case}");
            assert!(
                (from_now(deadlines.work) - work).abs() < 0.01,
                "{case}: {deadlines:?}"
            );
            assert!(
                from_now(deadlines.answer) <= answer,
                "{case}: {deadlines:?}"
            );
            assert!(
                answer == 0.0 || from_now(deadlines.answer) > answer - 0.06,
                "{case}: {deadlines:?}"
            );
            assert!(
                (from_now(deadlines.ready_until) - ready).abs() < 0.01,
                "{case}: {deadlines:?}"
            );
            assert!(deadlines.work <= deadlines.answer, "{case}");
        }
    }

    use crate::cfn::event::RequestType;
    use crate::cfn::stack_check::{Described, EventPage, StackEvent, StackResource};

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/11111111-2222-3333-4444-555555555555";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:persona-role";
    const BUCKET: &str =
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x";
    /// 2026-12-07T06:00:00Z, when the ResponseURLs below were signed.
    const SIGNED: u64 = 1_796_623_200;

    fn url(valid_seconds: u64) -> String {
        format!("{BUCKET}?X-Amz-Date=20261207T060000Z&X-Amz-Expires={valid_seconds}")
    }

    fn update() -> Request {
        Request {
            request_type: RequestType::Update,
            request_id: "r-1".to_owned(),
            response_url: url(7200),
            stack_id: STACK.to_owned(),
            logical_resource_id: "Role".to_owned(),
            physical_resource_id: Some("sagemaker-x".to_owned()),
            properties: json!({"RoleNameSuffix": "p"}),
            old_properties: None,
            service_timeout: None,
        }
    }

    /// The event arrives `after` seconds after it was signed, in the function `function_arn`.
    fn arrival(after: u64, function_arn: Option<&str>) -> Arrival<'_> {
        let now = Instant::now();
        Arrival {
            started: now,
            now,
            clock: SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED + after),
            lambda_deadline: Some(now + Duration::from_secs(900)),
            function_arn,
        }
    }

    /// The first step of a request in words: no answer and why, the FAILED answer's class, or
    /// the first effect.
    fn admitted(request: &Request, arrival: &Arrival<'_>, guardrails: &Guardrails) -> String {
        let rules = Rules {
            allow_loopback: false,
            max_answer_reserve: Duration::from_secs(5),
            guardrails,
            ready_wait: None,
        };
        match Machine::start(request.clone(), arrival, &rules) {
            Admitted::Unanswered(why) => format!("unanswered: {why}"),
            Admitted::Answerable { next, .. } => next_in_words(&next),
        }
    }

    fn next_in_words(next: &Next) -> String {
        match next {
            Next::Answer(answer) => format!(
                "{} {:?} {}: {}",
                answer.response.status.as_str(),
                answer.failure,
                answer.response.physical_resource_id,
                answer.response.reason.as_deref().unwrap_or("")
            ),
            Next::Effect(Effect::Stack(Read::First { list })) => format!("read (list: {list})"),
            Next::Effect(Effect::Stack(read)) => format!("{read:?}"),
            Next::Effect(Effect::Pause(pause)) => format!("pause {}ms", pause.as_millis()),
            Next::Effect(Effect::Plan(_)) => "plan".to_owned(),
            Next::Effect(Effect::Lifecycle(_)) => "lifecycle".to_owned(),
        }
    }

    /// Admission as rows: (what a case is, the request, seconds since it was signed, the
    /// function's ARN, the words its first step starts with). Nothing is read before it.
    #[test]
    fn an_event_is_admitted_only_when_awaited_answerable_and_of_this_account_and_region() {
        let timeout = |seconds| Request {
            service_timeout: Some(Duration::from_secs(seconds)),
            ..update()
        };
        let other = |response_url: &str| Request {
            response_url: response_url.to_owned(),
            ..update()
        };
        let create = Request {
            request_type: RequestType::Create,
            physical_resource_id: None,
            ..update()
        };
        let rows: Vec<(&str, Request, u64, Option<&str>, &str)> = vec![
            (
                "awaited",
                update(),
                60,
                Some(FUNCTION),
                "read (list: false)",
            ),
            ("outside Lambda", update(), 60, None, "read (list: false)"),
            (
                "stale by its signature",
                other(&url(600)),
                601,
                Some(FUNCTION),
                "unanswered: stale event, not acted on: the ResponseURL's signature expired",
            ),
            (
                "stale by the default ServiceTimeout",
                update(),
                3600,
                Some(FUNCTION),
                "unanswered: stale event, not acted on: the event was sent 3600 s ago",
            ),
            (
                "stale by its ServiceTimeout",
                timeout(60),
                120,
                Some(FUNCTION),
                "unanswered: stale event, not acted on: the event was sent 120 s ago and CloudFormation waits 60 s",
            ),
            (
                "within its ServiceTimeout",
                timeout(60),
                30,
                Some(FUNCTION),
                "read",
            ),
            (
                "a ResponseURL not CloudFormation's",
                other("https://example.com/x"),
                60,
                Some(FUNCTION),
                "unanswered: no answer can be sent: ",
            ),
            (
                "a ResponseURL of another region's bucket",
                other("https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x"),
                60,
                Some(FUNCTION),
                "unanswered: no answer can be sent: ",
            ),
            (
                "another account",
                update(),
                60,
                Some("arn:aws:lambda:us-east-1:210987654321:function:persona-role"),
                "FAILED Some(StackCheck) sagemaker-x: StackId: the stack is in account `123456789012`",
            ),
            (
                "another region",
                update(),
                60,
                Some("arn:aws:lambda:eu-west-1:123456789012:function:persona-role"),
                "FAILED Some(StackCheck) sagemaker-x: StackId: the stack is in account `123456789012`, region `us-east-1`",
            ),
            (
                "a Create of another account names no role",
                create.clone(),
                60,
                Some("arn:aws:lambda:us-east-1:210987654321:function:persona-role"),
                "FAILED Some(StackCheck) ",
            ),
        ];
        let guardrails = Guardrails::default();
        for (case, request, after, function_arn, expected) in rows {
            let got = admitted(&request, &arrival(after, function_arn), &guardrails);
            assert!(got.starts_with(expected), "{case}: {got}");
        }
        // A Create's stack is listed beside the check when its roles are limited.
        let limited = Guardrails {
            max_roles_per_stack: PerStack::AtMost(3),
            ..Guardrails::default()
        };
        let listed = admitted(&create, &arrival(60, Some(FUNCTION)), &limited);
        assert_eq!(listed, "read (list: true)");
        assert_eq!(
            admitted(&update(), &arrival(60, Some(FUNCTION)), &limited),
            "read (list: false)"
        );
    }

    fn reply(status: &str, recorded: &Request) -> Observation {
        Observation::Stack(Reply::First {
            resource: Ok(Described::Found(StackResource {
                stack_id: STACK.to_owned(),
                resource_type: "Custom::SageMakerPersonaRole".to_owned(),
                status: status.to_owned(),
                physical_id: Some("sagemaker-x".to_owned()),
            })),
            events: Ok(Described::Found(EventPage {
                events: vec![StackEvent {
                    logical_id: "Role".to_owned(),
                    physical_id: Some("sagemaker-x".to_owned()),
                    status: "UPDATE_IN_PROGRESS".to_owned(),
                    properties: Some(recorded.properties.to_string()),
                }],
                next_token: None,
            })),
            listed: None,
        })
    }

    fn unavailable() -> Observation {
        Observation::Stack(Reply::First {
            resource: Err(StacksError {
                operation: Op::DescribeStackResource,
                target: STACK.to_owned(),
                message: "Rate exceeded".to_owned(),
            }),
            events: Ok(Described::Unknown("x".to_owned())),
            listed: None,
        })
    }

    /// The stack check and the hand-over to the lifecycle as rows: (what a case is, what each
    /// effect observed in turn, every step in words, the last the answer or the lifecycle's
    /// first effect).
    #[test]
    fn the_stack_check_hands_over_to_the_plan_and_the_lifecycle_or_answers() {
        let planned = Request {
            request_type: RequestType::Delete,
            ..update()
        };
        let intent = || {
            Observation::Planned(Ok(
                lifecycle::intent(&planned, &Guardrails::default()).unwrap()
            ))
        };
        let refused = Failure::new(FailureClass::InvalidRequest, "Persona: required");
        let forged = Request {
            properties: json!({"RoleNameSuffix": "forged"}),
            ..update()
        };
        let rows: Vec<(&str, Vec<Observation>, Vec<&str>)> = vec![
            (
                "accepted, planned, handed to the lifecycle",
                vec![reply("UPDATE_IN_PROGRESS", &update()), intent()],
                vec!["read", "plan", "lifecycle"],
            ),
            (
                "re-read, then accepted",
                vec![
                    reply("UPDATE_COMPLETE", &update()),
                    Observation::Paused,
                    reply("UPDATE_IN_PROGRESS", &update()),
                    intent(),
                ],
                vec!["read", "pause 500ms", "read", "plan", "lifecycle"],
            ),
            (
                "refused: nothing is planned",
                vec![reply("UPDATE_IN_PROGRESS", &forged)],
                vec![
                    "read",
                    "FAILED Some(StackCheck) sagemaker-x: ResourceProperties: ",
                ],
            ),
            (
                "CloudFormation unavailable",
                vec![unavailable()],
                vec![
                    "read",
                    "FAILED Some(StackCheck) sagemaker-x: CloudFormation DescribeStackResource of",
                ],
            ),
            (
                "a plan refused",
                vec![
                    reply("UPDATE_IN_PROGRESS", &update()),
                    Observation::Planned(Err(refused)),
                ],
                vec![
                    "read",
                    "plan",
                    "FAILED Some(InvalidRequest) sagemaker-x: Persona: required",
                ],
            ),
            (
                "a planning stopped",
                vec![
                    reply("UPDATE_IN_PROGRESS", &update()),
                    Observation::PlanningStopped("task panicked".to_owned()),
                ],
                vec![
                    "read",
                    "plan",
                    "FAILED Some(Internal) sagemaker-x: internal error: planning stopped (task panicked)",
                ],
            ),
            (
                "an observation out of turn",
                vec![Observation::Lifecycle(lifecycle::Observation::Ready {
                    served: true,
                })],
                vec![
                    "read",
                    "FAILED Some(Internal) sagemaker-x: internal error: a role's readiness came out of turn",
                ],
            ),
        ];
        let guardrails = Guardrails::default();
        let rules = Rules {
            allow_loopback: false,
            max_answer_reserve: Duration::from_secs(5),
            guardrails: &guardrails,
            ready_wait: None,
        };
        for (case, observations, expected) in rows {
            let Admitted::Answerable {
                mut machine, next, ..
            } = Machine::start(update(), &arrival(60, None), &rules)
            else {
                panic!("{case}: not admitted");
            };
            let mut steps = vec![next_in_words(&next)];
            for observation in observations {
                steps.push(next_in_words(&machine.on(observation)));
            }
            assert_eq!(steps.len(), expected.len(), "{case}: {steps:?}");
            for (step, expected) in steps.iter().zip(&expected) {
                assert!(
                    step.starts_with(expected),
                    "{case}: {step} is not {expected}"
                );
            }
        }
    }

    /// Work stopped as rows: (how far it got, why it stopped, the FAILED answer's class, the
    /// id it names, the words of its reason).
    #[test]
    fn stopped_work_is_answered_failed_naming_what_it_may_have_made() {
        let start = Instant::now();
        let deadlines = Deadlines::new(
            start,
            start,
            start,
            Some(start + Duration::from_secs(60)),
            None,
            Duration::from_secs(5),
        );
        let create = Request {
            request_type: RequestType::Create,
            physical_resource_id: None,
            ..update()
        };
        let made = || Reached::Working {
            at_stake: Some("sagemaker-ml-made".to_owned()),
        };
        let rows = [
            (
                Reached::Checking,
                Stop::Deadline,
                FailureClass::StackCheck,
                "r-1",
                "CloudFormation DescribeStackResource of `arn:aws:cloudformation:us-east-1:123456789012:stack/ml/11111111-2222-3333-4444-555555555555` failed: no answer before the Lambda deadline; nothing was changed, retry the stack operation",
            ),
            (
                made(),
                Stop::Deadline,
                FailureClass::Deadline,
                "sagemaker-ml-made",
                "timed out: the Create did not finish within 55 seconds and was stopped before the Lambda deadline; IAM may be slow",
            ),
            (
                Reached::Working { at_stake: None },
                Stop::Deadline,
                FailureClass::Deadline,
                "r-1",
                "timed out: the Create",
            ),
            (
                made(),
                Stop::Panicked("boom".to_owned()),
                FailureClass::Internal,
                "sagemaker-ml-made",
                "internal error: the handler panicked (boom)",
            ),
            (
                Reached::Checking,
                Stop::Panicked("boom".to_owned()),
                FailureClass::Internal,
                "r-1",
                "internal error: the handler panicked (boom)",
            ),
            (
                made(),
                Stop::Cancelled,
                FailureClass::Internal,
                "sagemaker-ml-made",
                "internal error: the handler was cancelled",
            ),
        ];
        for (reached, stop, class, id, says) in rows {
            let case = format!("{reached:?} {stop:?}");
            let outcome = reached.stopped(&create, stop, &deadlines);
            assert_eq!(outcome.failure, Some(class), "{case}");
            assert!(
                outcome.physical_resource_id.contains(id),
                "{case}: {}",
                outcome.physical_resource_id
            );
            let reason = outcome.reason.unwrap_or_default();
            assert!(reason.starts_with(says), "{case}: {reason}");
        }
    }

    /// A malformed event as rows: (its ResponseURL, whether it is answered, the words of the
    /// answer's reason or why none).
    #[test]
    fn a_malformed_event_is_answered_failed_where_its_response_url_allows() {
        let error = |response_url: Option<&str>| EventError {
            message: "RequestType: missing".to_owned(),
            response_url: response_url.map(str::to_owned),
            request_id: Some("r-9".to_owned()),
            stack_id: Some(STACK.to_owned()),
            logical_resource_id: Some("Role".to_owned()),
            physical_resource_id: None,
        };
        let guardrails = Guardrails::default();
        let rules = |allow_loopback| Rules {
            allow_loopback,
            max_answer_reserve: Duration::from_secs(5),
            guardrails: &guardrails,
            ready_wait: None,
        };
        let arrival = arrival(0, None);
        let answered = malformed(&error(Some(BUCKET)), &arrival, &rules(false)).unwrap();
        assert!(
            answered.2 > arrival.now + Duration::from_secs(890),
            "{:?}",
            answered.2
        );
        assert!(answered.2 < arrival.now + Duration::from_secs(900));
        assert_eq!(answered.0.as_str(), BUCKET);
        assert_eq!(answered.1.failure, Some(FailureClass::InvalidRequest));
        let response = answered.1.response;
        assert_eq!(response.status, Status::Failed);
        assert_eq!(
            response.reason.as_deref(),
            Some("invalid request: RequestType: missing")
        );
        assert_eq!(response.physical_resource_id, lifecycle::placeholder("r-9"));
        assert_eq!(
            (
                response.stack_id.as_str(),
                response.logical_resource_id.as_str()
            ),
            (STACK, "Role")
        );
        for (response_url, says) in [
            (None, "no answer can be sent: the event has no ResponseURL"),
            (Some("https://example.com/x"), "no answer can be sent: "),
            (Some("http://127.0.0.1:9/x"), "no answer can be sent: "),
        ] {
            let why = malformed(&error(response_url), &arrival, &rules(false))
                .unwrap_err()
                .to_string();
            assert!(why.starts_with(says), "{response_url:?}: {why}");
        }
        assert!(malformed(&error(Some("http://127.0.0.1:9/x")), &arrival, &rules(true)).is_ok());
    }
}
