//! Sending the answer: the PUT to the ResponseURL, retried with backoff within the deadline.
//! Network errors are stripped of the URL (and its signature) before they are shown.

use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use thiserror::Error;

use super::response_url::loggable_host;

/// The shortest time one PUT attempt gets, even past the deadline.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

/// The HTTP client for answers: no redirects (a redirect could lead the answer, and the
/// signature in its URL, to any host) and no proxy from the environment.
pub fn answer_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
}

/// How the PUT of the answer to the ResponseURL is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRetry {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub attempt_timeout: Duration,
}

impl Default for AnswerRetry {
    fn default() -> Self {
        AnswerRetry {
            max_attempts: 6,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PutError {
    #[error("the response URL answered HTTP {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    #[error("the response could not be sent after {attempts} attempt(s): {message}")]
    Network { message: String, attempts: u32 },
    #[error("no time was left before the Lambda deadline to send the response")]
    NoTime,
}

/// PUTs a response body with an empty Content-Type (the URL is signed without one). Network errors
/// and 5xx answers are retried with exponential backoff, within the deadline. Returns the number
/// of attempts made.
pub async fn put_response(
    http: &reqwest::Client,
    url: &Url,
    body: Vec<u8>,
    policy: &AnswerRetry,
    deadline: Option<Instant>,
) -> Result<u32, PutError> {
    let host = loggable_host(url);
    let mut backoff = policy.first_backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        // The first attempt is always made, however late: the deadline is an estimate, and a
        // late answer beats none.
        let mut timeout = policy.attempt_timeout;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() && attempt > 1 {
                return Err(PutError::NoTime);
            }
            timeout = timeout.min(left.max(MIN_ATTEMPT_TIMEOUT));
        }
        let result = http
            .put(url.clone())
            .header(CONTENT_TYPE, "")
            .body(body.clone())
            .timeout(timeout)
            .send()
            .await;
        let error = match result {
            Ok(answer) if answer.status().is_success() => {
                tracing::info!(
                    host,
                    status = answer.status().as_u16(),
                    attempt,
                    "response delivered"
                );
                return Ok(attempt);
            }
            Ok(answer) if answer.status().is_server_error() => PutError::Status {
                status: answer.status().as_u16(),
                attempts: attempt,
            },
            Ok(answer) => {
                return Err(PutError::Status {
                    status: answer.status().as_u16(),
                    attempts: attempt,
                });
            }
            Err(e) => PutError::Network {
                // reqwest's errors name the URL, signature included: drop it.
                message: error_chain(&e.without_url()),
                attempts: attempt,
            },
        };
        let out_of_time = deadline.is_some_and(|d| Instant::now() + backoff >= d);
        if attempt >= policy.max_attempts || out_of_time {
            return Err(error);
        }
        tracing::warn!(host, attempt, error = %error, "response PUT failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}

/// An error and its sources on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
