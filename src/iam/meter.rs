//! Counting, per event, the SDK calls the function makes and the retries and throttles inside
//! them: an interceptor that [`CallPolicy::configure`](super::CallPolicy::configure) and
//! `cloudformation::configure` install on their clients, and the [`CallMeter`] of the event.
//!
//! The retries happen inside the SDK (the call policy's standard mode), out of the adapters'
//! sight; the interceptor sees each attempt. One client serves every event of an instance
//! (one connection pool, one credentials cache), and events may run at once on it, so the
//! interceptor counts into the meter of the event whose task made the call: the handler runs
//! each event's work inside [`CallMeter::scope`]. Outside any scope (the CLI) nothing is
//! counted.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

use crate::metrics::CallCounts;

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

/// One event's counts, shared with the tasks that work for it.
#[derive(Debug, Clone, Default)]
pub struct CallMeter {
    iam: Arc<Counters>,
    cloudformation: Arc<Counters>,
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
