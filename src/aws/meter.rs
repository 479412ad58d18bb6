//! Counting, per event, the SDK calls the function makes and the retries and throttles inside
//! them: an interceptor that [`CallPolicy::configure`](super::CallPolicy::configure) and
//! `cfn::stacks::configure` install on their clients, and the [`CallMeter`] of the event.
//!
//! The retries happen inside the SDK (the call policy's standard mode), out of the adapters'
//! sight; the interceptor sees each attempt. One client serves every event of an instance
//! (one connection pool, one credentials cache), and events may run at once on it, so the
//! interceptor counts into the meter of the event whose task made the call: the handler runs
//! each event's work inside [`CallMeter::scope`]. Outside any scope (the CLI) nothing is
//! counted.
//!
//! The meter also paces the event's IAM calls ([`CallMeter::admit`]): as many at once as a wave
//! has, until IAM throttles one of them; from then on [`THROTTLED_CALLS_IN_FLIGHT`], so that the
//! rest of a wave backs off with the throttled call instead of adding to the account's rate.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use aws_sdk_iam::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_iam::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_iam::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_iam::error::BoxError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::retries::classifiers::RetryReason;
use aws_smithy_types::retry::ErrorKind;

/// At most this many calls of one event are in flight at once: as wide as a wave gets (IAM lets a
/// role have at most 20 managed policies, so a Create attaches at most 20 in one wave), and no
/// wider; throttling beyond that is the SDK's retries' to absorb.
pub const MAX_CALLS_IN_FLIGHT: usize = 20;

/// Calls one service answered for one event: each paginated page is a call; retries are the
/// attempts after a call's first; throttles are the attempts answered with a throttling error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    pub calls: u64,
    pub retries: u64,
    pub throttles: u64,
}

/// The services whose calls are counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Iam,
    CloudFormation,
}

tokio::task_local! {
    /// The meter of the event the current task works for.
    static EVENT_METER: CallMeter;
}

/// IAM calls of one event in flight at once once IAM has throttled one of them.
pub const THROTTLED_CALLS_IN_FLIGHT: usize = 4;

/// One event's counts, shared with the tasks that work for it.
#[derive(Debug, Clone, Default)]
pub struct CallMeter {
    iam: Arc<Counters>,
    cloudformation: Arc<Counters>,
    pace: Arc<Pace>,
}

/// The event's slots for IAM calls: [`MAX_CALLS_IN_FLIGHT`], cut to
/// [`THROTTLED_CALLS_IN_FLIGHT`] at the first throttle. Slots held when the cut comes are
/// forgotten as they are given back.
///
/// [`MAX_CALLS_IN_FLIGHT`]: MAX_CALLS_IN_FLIGHT
#[derive(Debug)]
struct Pace {
    slots: Arc<Semaphore>,
    /// Slots still to forget when given back.
    excess: AtomicUsize,
    slowed: AtomicBool,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            slots: Arc::new(Semaphore::new(MAX_CALLS_IN_FLIGHT)),
            excess: AtomicUsize::new(0),
            slowed: AtomicBool::new(false),
        }
    }
}

impl Pace {
    fn slow_down(&self) {
        if self.slowed.swap(true, Ordering::SeqCst) {
            return;
        }
        let cut = MAX_CALLS_IN_FLIGHT.saturating_sub(THROTTLED_CALLS_IN_FLIGHT);
        let forgotten = self.slots.forget_permits(cut);
        self.excess.fetch_add(cut - forgotten, Ordering::SeqCst);
    }
}

/// One IAM call's slot, given back (or forgotten, after a cut) when the call is done.
#[derive(Debug)]
pub struct CallSlot {
    permit: Option<OwnedSemaphorePermit>,
    pace: Arc<Pace>,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let owed = self
            .pace
            .excess
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |e| e.checked_sub(1));
        if owed.is_ok() {
            permit.forget();
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    retries: AtomicU64,
    throttles: AtomicU64,
}

impl Counters {
    fn counts(&self) -> CallCounts {
        CallCounts {
            calls: self.calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttles: self.throttles.load(Ordering::Relaxed),
        }
    }
}

impl CallMeter {
    /// Runs `work` counting its calls into this meter; a task it spawns needs its own scope.
    pub fn scope<F: Future>(&self, work: F) -> impl Future<Output = F::Output> + use<F> {
        EVENT_METER.scope(self.clone(), work)
    }

    pub fn counts(&self, service: Service) -> CallCounts {
        self.counters(service).counts()
    }

    fn counters(&self, service: Service) -> &Counters {
        match service {
            Service::Iam => &self.iam,
            Service::CloudFormation => &self.cloudformation,
        }
    }

    /// Waits for a slot for one IAM call of the current event; none outside an event (the CLI).
    pub async fn admit() -> Option<CallSlot> {
        let pace = EVENT_METER.try_with(|meter| Arc::clone(&meter.pace)).ok()?;
        let permit = Arc::clone(&pace.slots).acquire_owned().await.ok()?;
        Some(CallSlot {
            permit: Some(permit),
            pace,
        })
    }

    /// IAM throttled a call of the current event: fewer of its calls at once from now on.
    fn slow_down() {
        let _ = EVENT_METER.try_with(|meter| meter.pace.slow_down());
    }

    /// Adds one to what `pick` selects of the current event's `service` counters, if any.
    fn record(service: Service, pick: impl FnOnce(&Counters) -> &AtomicU64) {
        let _ = EVENT_METER.try_with(|meter| {
            pick(meter.counters(service)).fetch_add(1, Ordering::Relaxed);
        });
    }
}

/// The interceptor that counts a client's calls, attempts and throttled attempts.
#[derive(Debug, Clone, Copy)]
pub struct MeterInterceptor(pub Service);

impl Intercept for MeterInterceptor {
    fn name(&self) -> &'static str {
        "persona-role call meter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        CallMeter::record(self.0, |c| &c.calls);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The orchestrator numbers the attempts of a call from 1.
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            CallMeter::record(self.0, |c| &c.retries);
        }
        Ok(())
    }

    /// A throttle is what the client's own retry classifiers call one (`Throttling`,
    /// `ThrottlingException`, `RequestLimitExceeded`, …), run here in their order as the
    /// retry strategy runs them.
    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut action = RetryAction::NoActionIndicated;
        for classifier in components.retry_classifiers() {
            let next = classifier.classify_retry_v2(context.inner(), &action);
            if next == RetryAction::NoActionIndicated {
                continue;
            }
            action = next;
            if action == RetryAction::RetryForbidden {
                break;
            }
        }
        if is_throttle(&action) {
            CallMeter::record(self.0, |c| &c.throttles);
            if self.0 == Service::Iam {
                CallMeter::slow_down();
            }
        }
        Ok(())
    }
}

fn is_throttle(action: &RetryAction) -> bool {
    matches!(
        action,
        RetryAction::RetryIndicated(RetryReason::RetryableError {
            kind: ErrorKind::ThrottlingError,
            ..
        })
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_is_a_throttle() {
        assert!(is_throttle(&RetryAction::throttling_error()));
        assert!(is_throttle(
            &RetryAction::retryable_error_with_explicit_delay(
                ErrorKind::ThrottlingError,
                std::time::Duration::from_secs(1)
            )
        ));
        assert!(!is_throttle(&RetryAction::transient_error()));
        assert!(!is_throttle(&RetryAction::server_error()));
        assert!(!is_throttle(&RetryAction::NoActionIndicated));
        assert!(!is_throttle(&RetryAction::RetryForbidden));
    }

    /// The most of 30 later calls in flight at once, after the event's 20 slots were all taken
    /// and given back, with a throttle in between if `throttled`.
    async fn peak_in_flight(throttled: bool) -> usize {
        let meter = CallMeter::default();
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        meter
            .scope(async {
                let held =
                    futures_util::future::join_all((0..20).map(|_| CallMeter::admit())).await;
                if throttled {
                    CallMeter::slow_down();
                }
                let calls = futures_util::future::join_all((0..30).map(|_| async {
                    let _slot = CallMeter::admit().await;
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                }));
                let give_back = async move {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    drop(held);
                };
                futures_util::future::join(calls, give_back).await;
            })
            .await;
        peak.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_throttle_cuts_the_events_calls_in_flight() {
        assert_eq!(peak_in_flight(false).await, MAX_CALLS_IN_FLIGHT);
        let after = peak_in_flight(true).await;
        assert_eq!(
            after, THROTTLED_CALLS_IN_FLIGHT,
            "calls at once after a throttle"
        );
        // Outside an event nothing is paced.
        assert!(CallMeter::admit().await.is_none());
    }

    #[tokio::test]
    async fn counts_go_to_the_scoped_event_only() {
        let first = CallMeter::default();
        let second = CallMeter::default();
        first
            .scope(async {
                CallMeter::record(Service::Iam, |c| &c.calls);
                CallMeter::record(Service::Iam, |c| &c.retries);
                CallMeter::record(Service::Iam, |c| &c.throttles);
                CallMeter::record(Service::CloudFormation, |c| &c.calls);
            })
            .await;
        second
            .scope(async { CallMeter::record(Service::Iam, |c| &c.calls) })
            .await;
        // Outside any scope: counted nowhere.
        CallMeter::record(Service::Iam, |c| &c.calls);
        assert_eq!(
            first.counts(Service::Iam),
            CallCounts {
                calls: 1,
                retries: 1,
                throttles: 1
            }
        );
        assert_eq!(
            first.counts(Service::CloudFormation),
            CallCounts {
                calls: 1,
                retries: 0,
                throttles: 0
            }
        );
        assert_eq!(second.counts(Service::Iam).calls, 1);
    }
}
