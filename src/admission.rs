//! Whether an event is still awaited and is this function's to serve, decided before any IAM
//! call: CloudFormation signed the ResponseURL when it sent the event, so a late or redelivered
//! event whose signature or ServiceTimeout has run out is no longer awaited; and a custom
//! resource is served in its stack's own account and region, so an event of any other is forged
//! or misrouted. An event whose ResponseURL is not CloudFormation's cannot be answered at all.

use std::time::{Duration, SystemTime};

use reqwest::Url;
use thiserror::Error;

use crate::arn::Arn;
use crate::cfn::event::{DEFAULT_SERVICE_TIMEOUT, Request};
use crate::cfn::response_url::{self, Signature};

/// Why an event gets no answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Unanswered {
    /// CloudFormation no longer waits for it.
    #[error("stale event, not acted on: {0}")]
    Stale(String),
    /// Its ResponseURL is not one CloudFormation's answer can go to.
    #[error("no answer can be sent: {0}")]
    NoResponseUrl(String),
}

/// An event that can be answered and is still awaited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Where its answer goes.
    pub url: Url,
    /// How long ago CloudFormation sent it ([`age`]).
    pub age: Duration,
    /// Why it is not this function's to serve ([`foreign_stack`]); none when it is.
    pub foreign: Option<String>,
}

/// Admits `request` at `now`: its ResponseURL must be CloudFormation's, of its stack's region
/// (http on loopback too with `allow_loopback`, local tests only), and its signature and
/// ServiceTimeout must not have run out. `function_arn`: the function's own ARN, when known.
pub fn admit(
    request: &Request,
    now: SystemTime,
    allow_loopback: bool,
    function_arn: Option<&str>,
) -> Result<Admission, Unanswered> {
    let url = response_url::validate_response_url(&request.response_url, allow_loopback)
        .and_then(|url| response_url::check_response_region(&url, &request.stack_id).map(|()| url))
        .map_err(|error| {
            tracing::error!(error = %error, "refusing to act on an event that cannot be answered");
            Unanswered::NoResponseUrl(error.to_string())
        })?;
    let signature = Signature::of(&url);
    if let Some(why) = stale(signature.as_ref(), now, request.service_timeout) {
        tracing::error!(reason = %why, "refusing a stale event: CloudFormation no longer waits for it");
        return Err(Unanswered::Stale(why));
    }
    let foreign = function_arn.and_then(|arn| foreign_stack(&request.stack_id, arn));
    if let Some(mismatch) = &foreign {
        tracing::error!(reason = %mismatch, "refusing an event of another account or region");
    }
    Ok(Admission {
        age: age(signature.as_ref(), now),
        url,
        foreign,
    })
}

/// How long ago CloudFormation sent the event, by its ResponseURL's signing time (zero when
/// the URL carries none, or the clock is behind it).
pub fn age(signature: Option<&Signature>, now: SystemTime) -> Duration {
    signature
        .and_then(|s| s.signed)
        .and_then(|signed| now.duration_since(signed).ok())
        .unwrap_or_default()
}

/// Why an event is no longer awaited: its signature expired, or it is older than the
/// ServiceTimeout CloudFormation waits. None when it is still awaited.
pub fn stale(
    signature: Option<&Signature>,
    now: SystemTime,
    service_timeout: Option<Duration>,
) -> Option<String> {
    if let Some(Err(expired)) = signature.map(|s| s.check(now)) {
        return Some(expired.to_string());
    }
    let waited = age(signature, now);
    let timeout = service_timeout.unwrap_or(DEFAULT_SERVICE_TIMEOUT);
    (waited >= timeout).then(|| {
        format!(
            "the event was sent {:.0} s ago and CloudFormation waits {} s (ServiceTimeout)",
            waited.as_secs_f64(),
            timeout.as_secs()
        )
    })
}

/// Why a stack's event is not for this function: the StackId names another partition, region
/// or account than the function's ARN. None when they agree, or the function's ARN is unknown.
pub fn foreign_stack(stack_id: &str, function_arn: &str) -> Option<String> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:persona-role";

    #[test]
    fn only_stacks_of_the_functions_account_and_region_are_served() {
        // (StackId, refused, words of the reason)
        for (stack_id, refused, says) in [
            (
                "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/1",
                false,
                "",
            ),
            (
                "arn:aws:cloudformation:us-east-1:210987654321:stack/ml/1",
                true,
                "account `210987654321`",
            ),
            (
                "arn:aws:cloudformation:eu-west-1:123456789012:stack/ml/1",
                true,
                "region `eu-west-1`",
            ),
            (
                "arn:aws-cn:cloudformation:us-east-1:123456789012:stack/ml/1",
                true,
                "partition `aws-cn`",
            ),
            ("not-an-arn", true, "account ``"),
        ] {
            let why = foreign_stack(stack_id, FUNCTION);
            assert_eq!(why.is_some(), refused, "{stack_id}");
            assert!(why.unwrap_or_default().contains(says), "{stack_id}");
        }
        // Outside Lambda the function's ARN is unknown: nothing to compare with.
        assert_eq!(foreign_stack("not-an-arn", "local"), None);
    }

    #[test]
    fn an_event_is_awaited_until_its_signature_or_service_timeout_runs_out() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ago = |seconds: u64| now - Duration::from_secs(seconds);
        let signed = |seconds_ago: u64, valid: u64| Signature {
            signed: Some(ago(seconds_ago)),
            expires: ago(seconds_ago) + Duration::from_secs(valid),
        };
        // (signature, ServiceTimeout, stale, words of the reason)
        for (signature, timeout, is_stale, says) in [
            (Some(signed(60, 7200)), None, false, ""),
            (Some(signed(3599, 7200)), None, false, ""),
            (Some(signed(3600, 7200)), None, true, "waits 3600 s"),
            (Some(signed(120, 7200)), Some(60), true, "sent 120 s ago"),
            (Some(signed(30, 7200)), Some(60), false, ""),
            (Some(signed(7300, 7200)), None, true, "expired"),
            // An old-style signature has no signing time: only its expiry counts.
            (
                Some(Signature {
                    signed: None,
                    expires: now + Duration::from_secs(10),
                }),
                None,
                false,
                "",
            ),
            (None, None, false, ""),
        ] {
            let why = stale(signature.as_ref(), now, timeout.map(Duration::from_secs));
            assert_eq!(
                why.is_some(),
                is_stale,
                "{signature:?} {timeout:?}: {why:?}"
            );
            assert!(why.unwrap_or_default().contains(says), "{signature:?}");
        }
        assert_eq!(age(Some(&signed(90, 7200)), now), Duration::from_secs(90));
        assert_eq!(age(None, now), Duration::ZERO);
    }
}
