//! How the function's AWS calls are retried and timed out, the same for IAM's client and
//! CloudFormation's.

use std::time::Duration;

/// How AWS calls are retried and timed out. IAM's mutating calls share one rate per account, so
/// a Service Catalog or StackSets roll-out of many roles at once meets sustained throttling:
/// every call is retried many times with exponential backoff and full jitter, and one hung
/// attempt cannot eat the event's deadline. The handler's own deadline bounds the whole; there
/// is no retry quota to run dry under throttling.
///
/// Not the SDK's adaptive mode: its client-side rate limiter cuts the rate by 30 % at each
/// throttle and, when throttles keep coming (as they do for a function that is one of many
/// callers of the account's rate), sinks to its floor of half a call per second. Measured with
/// 30 % of calls throttled: a Delete of a sample role took about 90 s in adaptive mode, a few
/// seconds in standard mode. A Lambda instance serves one event of a few dozen calls at a time,
/// so a per-instance limiter has little to learn from; the jittered backoff already spreads
/// the retries of all instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPolicy {
    pub max_attempts: u32,
    /// Backoff before retry n is a random time up to `initial_backoff * 2^n`, at most
    /// `max_backoff` (the SDK's exponential backoff with full jitter).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub attempt_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(3),
        }
    }
}
