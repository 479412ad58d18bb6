//! Which events the function acts on: not a stale one (its signature or ServiceTimeout run out,
//! as a late or redelivered event's are), not one of a stack in another account or region, and
//! its answer never follows a redirect. On the in-memory IAM, but for the ServiceTimeout's count
//! against an IAM that never answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use persona_role::handler::HandlerError;
use serde_json::{Value, json};
use support::memory::{self, MemoryIam};
use support::*;

/// `20261125T120000Z` for a time `ago` before now.
fn amz_date(ago: Duration) -> String {
    let secs = (SystemTime::now() - ago)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // SigV4's basic form of the crate's one UTC calendar: 20261202T132244Z.
    persona_role::time::format(i64::try_from(secs).unwrap()).replace(['-', ':'], "")
}

/// The event's ResponseURL, signed `ago` and valid for `expires`.
fn signed(event: &mut Value, ago: Duration, expires: Duration) {
    let url = event["ResponseURL"].as_str().unwrap().to_owned();
    event["ResponseURL"] = json!(format!(
        "{url}&X-Amz-Date={}&X-Amz-Expires={}",
        amz_date(ago),
        expires.as_secs()
    ));
}

#[tokio::test]
async fn an_event_whose_response_url_expired_is_not_acted_on() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let mut create = sample_event("compute", "create", "expired", &recorder);
    signed(
        &mut create,
        Duration::from_secs(7300),
        Duration::from_secs(7200),
    );
    let request_id = create["RequestId"].as_str().unwrap().to_owned();
    let error = handler.handle(create, None).await.unwrap_err();
    assert!(matches!(error, HandlerError::Stale(_)), "{error}");
    assert!(error.to_string().contains("expired"), "{error}");
    assert_eq!(iam.calls(), Vec::<String>::new(), "no IAM call");
    assert!(recorder.for_request(&request_id).is_empty(), "no answer");
}

#[tokio::test]
async fn an_event_older_than_its_service_timeout_is_not_acted_on() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let mut create = sample_event("compute", "create", "late", &recorder);
    create["ResourceProperties"]["ServiceTimeout"] = json!("60");
    signed(
        &mut create,
        Duration::from_secs(90),
        Duration::from_secs(7200),
    );
    let error = handler.handle(create, None).await.unwrap_err();
    assert!(matches!(error, HandlerError::Stale(_)), "{error}");
    assert!(error.to_string().contains("ServiceTimeout"), "{error}");
    assert_eq!(iam.calls(), Vec::<String>::new(), "no IAM call");
}

#[tokio::test]
async fn service_timeout_counts_from_when_the_event_was_sent() {
    let recorder = Recorder::start();
    let handler = stuck_handler();
    let mut delete = on_stack(
        &own_stack("sentearly"),
        sample_event("compute", "delete", "sentearly", &recorder),
    );
    // Sent 57 s ago with a 60 s ServiceTimeout: about 3 s are left, not a minute.
    delete["ResourceProperties"]["ServiceTimeout"] = json!("60");
    signed(
        &mut delete,
        Duration::from_secs(57),
        Duration::from_secs(7200),
    );
    let start = std::time::Instant::now();
    let response =
        invoke_with_deadline(&handler, &delete, &recorder, Duration::from_secs(600)).await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    assert_eq!(response["Status"], "FAILED");
    assert!(
        response["Reason"]
            .as_str()
            .unwrap()
            .contains("ServiceTimeout"),
        "{response}"
    );
}

#[tokio::test]
async fn an_event_of_a_stack_in_another_account_is_refused_without_iam_calls() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("compute", "create", "foreign", &recorder);
    let own = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:persona-role");
    let other = "arn:aws:lambda:us-east-1:210987654321:function:persona-role";
    let elsewhere = format!("arn:aws:lambda:eu-west-1:{ACCOUNT}:function:persona-role");
    for arn in [other, elsewhere.as_str()] {
        let delivered = handler
            .handle_invoked(create.clone(), None, Some(arn))
            .await
            .unwrap();
        assert_eq!(delivered.response.status.as_str(), "FAILED");
        let reason = delivered.response.reason.unwrap();
        assert!(
            reason.starts_with("StackId: the stack is in account `123456789012`"),
            "{reason}"
        );
        assert!(reason.contains("nothing was changed"), "{reason}");
        assert!(
            delivered
                .response
                .physical_resource_id
                .starts_with("persona-role:failed:")
        );
    }
    assert_eq!(iam.calls(), Vec::<String>::new(), "no IAM call");
    // The function's own account and region: acted on.
    let delivered = handler
        .handle_invoked(create.clone(), None, Some(&own))
        .await
        .unwrap();
    assert_eq!(delivered.response.status.as_str(), "SUCCESS");
    let name = delivered.response.physical_resource_id.clone();
    let delete = delete_after(&create, &name, "foreign", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn the_answer_never_follows_a_redirect() {
    let elsewhere = Recorder::start();
    let redirecting = Recorder::start_redirecting(elsewhere.url("stolen"));
    let handler = memory::handler(&MemoryIam::new());
    let delete = sample_event("custom", "delete", "redirect", &redirecting);
    let request_id = delete["RequestId"].as_str().unwrap().to_owned();
    let error = handler.handle(delete, None).await.unwrap_err();
    assert!(error.to_string().contains("HTTP 307"), "{error}");
    assert_eq!(redirecting.for_request(&request_id).len(), 1, "asked once");
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was not followed"
    );
}
