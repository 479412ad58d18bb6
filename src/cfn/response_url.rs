//! Whether a ResponseURL is one CloudFormation could have sent for this stack: https to its
//! region's response bucket on S3, signed and not expired. The URL is a bearer credential for
//! one answer: only its host is ever logged ([`loggable_host`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use thiserror::Error;

use super::answer::{cut, shorten};
use crate::arn::Arn;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("the ResponseURL is not a URL")]
    Unparsable,
    #[error("the ResponseURL must use https, not `{0}`")]
    Scheme(String),
    #[error(
        "the ResponseURL `{0}` is not in one of CloudFormation's response buckets ({RESPONSE_BUCKET_PREFIX}<region> on S3)"
    )]
    NotAResponseBucket(String),
    #[error("the ResponseURL must not carry user credentials")]
    Credentials,
    #[error(
        "the ResponseURL's response bucket is region `{bucket}`'s, but the stack is in `{stack}`: CloudFormation answers through its own region's bucket"
    )]
    OtherRegion { bucket: String, stack: String },
    #[error(
        "the ResponseURL's signature expired at {expired} (signed {signed}): CloudFormation no longer waits for this answer"
    )]
    Expired { signed: String, expired: String },
}

/// CloudFormation's response buckets are named this, then the region without dashes.
pub const RESPONSE_BUCKET_PREFIX: &str = "cloudformation-custom-resource-response-";

/// Checks that a ResponseURL is one CloudFormation could have sent: https, to an object in one of
/// CloudFormation's response buckets on an S3 endpoint (`*.amazonaws.com`, `*.amazonaws.com.cn`),
/// virtual-hosted or path style. Anyone's bucket, API Gateway or load balancer is refused. With
/// `allow_loopback` (local tests only), http or https on 127.0.0.1 or localhost is accepted too.
pub fn validate_response_url(raw: &str, allow_loopback: bool) -> Result<Url, UrlError> {
    let url = Url::parse(raw).map_err(|_| UrlError::Unparsable)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost");
    if allow_loopback && loopback && matches!(url.scheme(), "http" | "https") {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(UrlError::Scheme(url.scheme().to_owned()));
    }
    let first_segment = url.path().trim_start_matches('/').split('/').next();
    let in_response_bucket = match host.split_once('.') {
        // Virtual-hosted style: the bucket is the first label.
        Some((bucket, endpoint)) if is_response_bucket(bucket) => is_s3_endpoint(endpoint),
        // Path style: the bucket is the first path segment.
        _ => is_s3_endpoint(&host) && first_segment.is_some_and(is_response_bucket),
    };
    if !in_response_bucket || url.port().is_some() {
        let shown = format!("{host}{}", cut(url.path(), 60));
        return Err(UrlError::NotAResponseBucket(shorten(&shown, 160)));
    }
    Ok(url)
}

/// Refuses a ResponseURL whose response bucket is not that of the stack's region (the region of
/// `stack_id`, without dashes, ends the bucket's name): a forged event could otherwise have the
/// answer PUT to any region's bucket. Loopback URLs (local tests) name no bucket and pass.
pub fn check_response_region(url: &Url, stack_id: &str) -> Result<(), UrlError> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let first_segment = url.path().trim_start_matches('/').split('/').next();
    let bucket = match host.split_once('.') {
        Some((bucket, _)) if is_response_bucket(bucket) => bucket,
        _ => match first_segment.filter(|s| is_response_bucket(s)) {
            Some(bucket) => bucket,
            None => return Ok(()),
        },
    };
    let bucket_region = bucket
        .strip_prefix(RESPONSE_BUCKET_PREFIX)
        .unwrap_or_default();
    let stack = Arn::parse(stack_id).map_or("", |arn| arn.region);
    if stack.replace('-', "") == bucket_region {
        return Ok(());
    }
    Err(UrlError::OtherRegion {
        bucket: bucket_region.to_owned(),
        stack: shorten(stack, 32),
    })
}

fn is_response_bucket(bucket: &str) -> bool {
    bucket
        .strip_prefix(RESPONSE_BUCKET_PREFIX)
        .is_some_and(|region| {
            !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `s3.amazonaws.com`, `s3.REGION.amazonaws.com`, `s3-REGION.amazonaws.com`,
/// `s3.dualstack.REGION.amazonaws.com`, and the same under `amazonaws.com.cn`.
fn is_s3_endpoint(host: &str) -> bool {
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let region_like = |r: &str| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match rest {
        "s3" => true,
        _ => {
            if let Some(region) = rest
                .strip_prefix("s3.dualstack.")
                .or_else(|| rest.strip_prefix("s3."))
                .or_else(|| rest.strip_prefix("s3-"))
            {
                region_like(region)
            } else {
                false
            }
        }
    }
}

/// When a pre-signed ResponseURL was signed and when its signature expires, from its query:
/// `X-Amz-Date` and `X-Amz-Expires` (SigV4) or `Expires` (SigV2, expiry only). `None` where the
/// URL says nothing of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub signed: Option<SystemTime>,
    pub expires: SystemTime,
}

impl Signature {
    pub fn of(url: &Url) -> Option<Signature> {
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.into_owned())
        };
        if let (Some(date), Some(expires)) = (param("X-Amz-Date"), param("X-Amz-Expires")) {
            let signed = parse_amz_date(&date)?;
            let seconds: u64 = expires.parse().ok()?;
            return Some(Signature {
                signed: Some(signed),
                expires: signed.checked_add(Duration::from_secs(seconds))?,
            });
        }
        let epoch: u64 = param("Expires")?.parse().ok()?;
        Some(Signature {
            signed: None,
            expires: UNIX_EPOCH.checked_add(Duration::from_secs(epoch))?,
        })
    }

    /// Refuses a signature that expired by `now`: its answer can no longer be delivered.
    pub fn check(&self, now: SystemTime) -> Result<(), UrlError> {
        if now < self.expires {
            return Ok(());
        }
        Err(UrlError::Expired {
            signed: self
                .signed
                .map(format_utc)
                .unwrap_or_else(|| "?".to_owned()),
            expired: format_utc(self.expires),
        })
    }
}

/// `20261125T120000Z` → that instant (UTC).
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = crate::time::days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// An instant as `2026-11-25T12:00:00Z`.
fn format_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::time::format(i64::try_from(secs).unwrap_or(0))
}

/// What of a URL may be logged: its host.
pub fn loggable_host(url: &Url) -> &str {
    url.host_str().unwrap_or("?")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn response_url_must_be_https_on_an_aws_host() {
        let good = [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=1",
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
            "https://cloudformation-custom-resource-response-usgovwest1.s3.us-gov-west-1.amazonaws.com/x",
            "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x",
            "https://S3.US-WEST-2.AMAZONAWS.COM/cloudformation-custom-resource-response-uswest2/x",
        ];
        for url in good {
            assert!(validate_response_url(url, false).is_ok(), "{url}");
        }
        let bad = [
            (
                "http://s3.amazonaws.com/x",
                UrlError::Scheme("http".to_owned()),
            ),
            (
                "https://amazonaws.com/x",
                UrlError::NotAResponseBucket("amazonaws.com/x".to_owned()),
            ),
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/x",
                UrlError::NotAResponseBucket(
                    "cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/x"
                        .to_owned(),
                ),
            ),
            // Anyone's bucket, API Gateway, a load balancer: all *.amazonaws.com, none allowed.
            (
                "https://my-bucket.s3.amazonaws.com/x",
                UrlError::NotAResponseBucket("my-bucket.s3.amazonaws.com/x".to_owned()),
            ),
            (
                "https://s3.amazonaws.com/my-bucket/cloudformation-custom-resource-response-useast1",
                UrlError::NotAResponseBucket(
                    "s3.amazonaws.com/my-bucket/cloudformation-custom-resource-response-useast1"
                        .to_owned(),
                ),
            ),
            (
                "https://abc123.execute-api.us-east-1.amazonaws.com/cloudformation-custom-resource-response-useast1",
                UrlError::NotAResponseBucket(
                    "abc123.execute-api.us-east-1.amazonaws.com/cloudformation-custom-resource-response-useast1"
                        .to_owned(),
                ),
            ),
            (
                "https://cloudformation-custom-resource-response-useast1.elb.amazonaws.com/x",
                UrlError::NotAResponseBucket(
                    "cloudformation-custom-resource-response-useast1.elb.amazonaws.com/x".to_owned(),
                ),
            ),
            (
                "https://user:pw@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
                UrlError::Credentials,
            ),
            (
                "http://127.0.0.1:8080/x",
                UrlError::Scheme("http".to_owned()),
            ),
            ("not a url", UrlError::Unparsable),
        ];
        for (url, error) in bad {
            assert_eq!(validate_response_url(url, false), Err(error), "{url}");
        }
    }

    #[test]
    fn response_bucket_must_be_the_stack_regions() {
        let stack =
            |region: &str| format!("arn:aws:cloudformation:{region}:123456789012:stack/s/1");
        for (url, region, ok) in [
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
                "us-east-1",
                true,
            ),
            (
                "https://s3.eu-west-1.amazonaws.com/cloudformation-custom-resource-response-euwest1/x",
                "eu-west-1",
                true,
            ),
            (
                "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
                "cn-north-1",
                true,
            ),
            (
                "https://cloudformation-custom-resource-response-uswest2.s3.amazonaws.com/x",
                "us-east-1",
                false,
            ),
            (
                "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x",
                "eu-west-1",
                false,
            ),
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
                "",
                false,
            ),
            ("http://127.0.0.1:9/r", "us-east-1", true),
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(
                check_response_region(&url, &stack(region)).is_ok(),
                ok,
                "{url} {region}"
            );
        }
    }

    #[test]
    fn loopback_is_allowed_only_when_asked() {
        assert!(validate_response_url("http://127.0.0.1:9/r?sig=1", true).is_ok());
        assert!(validate_response_url("http://localhost:9/r", true).is_ok());
        assert!(validate_response_url("http://10.0.0.1:9/r", true).is_err());
        assert!(validate_response_url("ftp://127.0.0.1/r", true).is_err());
    }

    #[test]
    fn the_signature_window_is_read_from_the_url() {
        let url = Url::parse(
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Date=20261125T120000Z&X-Amz-Expires=7200&X-Amz-Signature=1",
        )
        .unwrap();
        let signature = Signature::of(&url).unwrap();
        let signed = UNIX_EPOCH + Duration::from_secs(1_795_608_000);
        assert_eq!(format_utc(signed), "2026-11-25T12:00:00Z");
        assert_eq!(signature.signed, Some(signed));
        assert_eq!(signature.expires, signed + Duration::from_secs(7200));
        assert!(signature.check(signed + Duration::from_secs(7199)).is_ok());
        let error = signature
            .check(signed + Duration::from_secs(7200))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the ResponseURL's signature expired at 2026-11-25T14:00:00Z (signed 2026-11-25T12:00:00Z): CloudFormation no longer waits for this answer"
        );
        // SigV2: an expiry only.
        let v2 = Url::parse("https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x?Expires=1795615200&Signature=a").unwrap();
        let signature = Signature::of(&v2).unwrap();
        assert_eq!(signature.signed, None);
        assert_eq!(signature.expires, signed + Duration::from_secs(7200));
        // Nothing said, or nonsense: unknown.
        for query in ["", "?X-Amz-Date=2026&X-Amz-Expires=1", "?Expires=soon"] {
            let url = Url::parse(&format!("https://h.example/x{query}")).unwrap();
            assert_eq!(Signature::of(&url), None, "{query}");
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        for (text, iso) in [
            ("19700101T000000Z", "1970-01-01T00:00:00Z"),
            ("20000229T235959Z", "2000-02-29T23:59:59Z"),
            ("20261231T010203Z", "2026-12-31T01:02:03Z"),
        ] {
            assert_eq!(format_utc(parse_amz_date(text).unwrap()), iso);
        }
        assert_eq!(parse_amz_date("20261301T000000Z"), None);
    }
}
