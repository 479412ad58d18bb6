//! The answer's body CloudFormation reads from the ResponseURL: its field names, and at most
//! 4,096 bytes (the Reason shortened first, then Data dropped from the last; ids never cut).

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};

/// CloudFormation refuses a response body longer than this ("Response object is too long").
pub const MAX_BODY_BYTES: usize = 4096;
/// Prefix of the PhysicalResourceId a failed Create answers with when it owns no role: role names
/// cannot contain `:`, so this never names a role and the rollback Delete of it is a no-op.
pub const PLACEHOLDER_PREFIX: &str = "persona-role:failed:";
/// Reason text kept when a Reason must be shortened to fit the body.
const MIN_REASON_BYTES: usize = 200;
const TRIMMED_MARK: &str = " [trimmed]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// `Fn::GetAtt` attributes, most important first: trimming drops from the end.
    pub data: Vec<(String, String)>,
}

/// What had to go to keep a body within [`MAX_BODY_BYTES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trimmed {
    pub reason: bool,
    pub dropped_data: Vec<String>,
}

impl Response {
    /// The JSON body, at most [`MAX_BODY_BYTES`] long: the Reason is shortened first (to at least
    /// a couple of hundred bytes), then Data attributes are dropped from the last, then the Reason
    /// goes down to nothing. The ids are never cut.
    pub fn body(&self) -> (Vec<u8>, Trimmed) {
        let mut reason = self.reason.clone();
        let mut data = self.data.clone();
        let mut trimmed = Trimmed::default();
        loop {
            let body = self.serialize(reason.as_deref(), &data);
            if body.len() <= MAX_BODY_BYTES {
                return (body, trimmed);
            }
            let excess = body.len() - MAX_BODY_BYTES;
            let floor = MIN_REASON_BYTES + TRIMMED_MARK.len();
            if let Some(text) = reason.as_mut().filter(|r| r.len() > floor) {
                let keep = text
                    .len()
                    .saturating_sub(excess + TRIMMED_MARK.len())
                    .max(MIN_REASON_BYTES);
                *text = format!("{}{TRIMMED_MARK}", cut(text, keep));
                trimmed.reason = true;
                continue;
            }
            if let Some((key, _)) = data.pop() {
                trimmed.dropped_data.push(key);
                continue;
            }
            match reason.as_mut().filter(|r| !r.is_empty()) {
                Some(text) => {
                    let keep = text.len().saturating_sub(excess);
                    *text = cut(text, keep).to_owned();
                    trimmed.reason = true;
                }
                // Only the ids are left: nothing more can go.
                None => return (body, trimmed),
            }
        }
    }

    fn serialize(&self, reason: Option<&str>, data: &[(String, String)]) -> Vec<u8> {
        let mut response = CloudFormationCustomResourceResponse::default();
        response.status = match self.status {
            Status::Success => CloudFormationCustomResourceResponseStatus::Success,
            Status::Failed => CloudFormationCustomResourceResponseStatus::Failed,
        };
        response.reason = reason.map(str::to_owned);
        response.physical_resource_id = self.physical_resource_id.clone();
        response.stack_id = self.stack_id.clone();
        response.request_id = self.request_id.clone();
        response.logical_resource_id = self.logical_resource_id.clone();
        response.no_echo = false;
        response.data = data.iter().cloned().collect();
        // Serializing strings and a string map cannot fail.
        serde_json::to_vec(&response).unwrap_or_default()
    }
}

/// The first at most `max` bytes of `text`, cut at a character boundary.
pub(super) fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        text.to_owned()
    } else {
        format!("{}…", cut(text, max))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn response(reason: Option<String>, data: Vec<(String, String)>) -> Response {
        Response {
            status: Status::Failed,
            reason,
            physical_resource_id: "sagemaker-x".to_owned(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".to_owned(),
            request_id: "r-1".to_owned(),
            logical_resource_id: "Role".to_owned(),
            data,
        }
    }

    #[test]
    fn body_has_cloudformation_field_names() {
        let mut r = response(
            Some("bad".to_owned()),
            vec![("Arn".to_owned(), "a".to_owned())],
        );
        r.status = Status::Success;
        let (body, trimmed) = r.body();
        assert_eq!(trimmed, Trimmed::default());
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["Status"], "SUCCESS");
        assert_eq!(value["Reason"], "bad");
        assert_eq!(value["PhysicalResourceId"], "sagemaker-x");
        assert_eq!(value["RequestId"], "r-1");
        assert_eq!(value["LogicalResourceId"], "Role");
        assert_eq!(value["NoEcho"], false);
        assert_eq!(value["Data"]["Arn"], "a");
    }

    #[test]
    fn long_reason_is_trimmed_first() {
        let reason = "é\"".repeat(3000);
        let data = vec![("Arn".to_owned(), "x".repeat(100))];
        let (body, trimmed) = response(Some(reason), data).body();
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        assert!(trimmed.reason);
        assert!(trimmed.dropped_data.is_empty());
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert!(value["Reason"].as_str().unwrap().ends_with(TRIMMED_MARK));
        assert_eq!(value["Data"]["Arn"].as_str().unwrap().len(), 100);
    }

    #[test]
    fn data_is_dropped_from_the_last_when_the_reason_is_short_enough() {
        let data = vec![
            ("Arn".to_owned(), "a".repeat(100)),
            ("PolicyArns".to_owned(), "p".repeat(3000)),
            ("Activities".to_owned(), "b".repeat(2000)),
        ];
        let (body, trimmed) = response(Some("r".repeat(1000)), data).body();
        assert!(body.len() <= MAX_BODY_BYTES);
        assert_eq!(trimmed.dropped_data, ["Activities"]);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert!(value["Data"].get("PolicyArns").is_some());
        assert_eq!(
            value["Reason"].as_str().unwrap().len(),
            MIN_REASON_BYTES + TRIMMED_MARK.len()
        );
    }

    #[test]
    fn ids_are_never_cut() {
        let mut r = response(Some("x".repeat(5000)), Vec::new());
        r.stack_id = "s".repeat(3800);
        let (body, trimmed) = r.body();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["StackId"].as_str().unwrap().len(), 3800);
        assert!(trimmed.reason);
        assert!(body.len() <= MAX_BODY_BYTES);
    }
}
