//! The operator's limits through the handler, as `template.yaml` deploys them: the function's
//! environment is evaluated from the template (its parameters' defaults, or the operator's
//! values), read as the Lambda reads it, and one refusal per parameter arrives as FAILED with
//! nothing made in IAM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use persona_role::guardrails::Guardrails;
use persona_role::handler::Settings;
use serde_json::{Value, json};
use support::deployed::Deployment;
use support::*;

/// The guardrails of the function deployed from `template.yaml` with the operator's
/// `overrides`, read from its environment as the Lambda reads it.
async fn deployed(overrides: &[(&str, &str)]) -> Guardrails {
    Deployment::new(overrides).guardrails()
}

fn guarded(calls: &CallLog, guardrails: Guardrails) -> TestHandler {
    handler_with(
        iam_client(Some(calls)),
        Settings {
            guardrails,
            ..settings()
        },
    )
}

fn reason(response: &Value) -> &str {
    response["Reason"].as_str().unwrap_or_default()
}

/// A Create answered FAILED with a reason starting with `start`, having made nothing.
async fn assert_refused(
    handler: &TestHandler,
    calls: &CallLog,
    create: &Value,
    recorder: &Recorder,
    start: &str,
) {
    calls.clear();
    let response = invoke(handler, create, recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(reason(&response).starts_with(start), "{response}");
    assert_eq!(calls.mutating(), Vec::<String>::new(), "nothing changed");
    assert!(!role_exists(&plan_of(create).role.role_name).await);
}

// ------------------------------------------------------------------------------ the tests

/// AllowedS3Buckets. With the template's default, a pattern reaching every bucket is refused;
/// with the operator's list, a bucket outside it is refused on Update, the role left as it was.
#[tokio::test]
async fn buckets_outside_allowed_s3_buckets_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let by_default = guarded(&calls, deployed(&[]).await);
    let mut create = sample_event("compute", "create", "scope-every", &recorder);
    create["ResourceProperties"]["S3Buckets"] = json!(["ml-team-data", "*"]);
    assert_refused(
        &by_default,
        &calls,
        &create,
        &recorder,
        "S3Buckets[1]: `*` starts with `*`, so it reaches every bucket, which this function's AllowedS3Buckets does not allow",
    )
    .await;

    let listed = guarded(&calls, deployed(&[("AllowedS3Buckets", "ml-team-*")]).await);
    let create = sample_event("compute", "create", "scope-s3", &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&listed, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let mut properties = create["ResourceProperties"].clone();
    properties["S3Buckets"] = json!(["ml-team-data", "other-team-data"]);
    let update = update_after(&create, &name, properties, "scope-s3", &recorder);
    calls.clear();
    let response = invoke(&listed, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        reason(&response).starts_with("S3Buckets[1]: `other-team-data` is not within this function's AllowedS3Buckets (allowed: ml-team-*"),
        "{response}"
    );
    assert_eq!(calls.mutating(), Vec::<String>::new());
    assert_converged(&create).await;

    let delete = delete_after(&create, &name, "scope-s3", &recorder);
    assert_eq!(
        invoke(&listed, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&name).await;
}

/// AllowedActivities: an activity outside the operator's list is refused by name, at its place.
#[tokio::test]
async fn activities_outside_allowed_activities_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let handler = guarded(
        &calls,
        deployed(&[(
            "AllowedActivities",
            "Access Required AWS Services,S3 Bucket Access",
        )])
        .await,
    );
    let mut create = sample_event("compute", "create", "scope-activity", &recorder);
    create["ResourceProperties"]["AddActivities"] = json!(["S3 Full Access"]);
    assert_refused(
        &handler,
        &calls,
        &create,
        &recorder,
        "AddActivities[0]: activity `S3 Full Access` is not on this function's AllowedActivities (allowed: Access Required AWS Services, S3 Bucket Access)",
    )
    .await;

    // The activities the operator allows are made.
    let create = sample_event("compute", "create", "scope-activity-ok", &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let delete = delete_after(&create, &name, "scope-activity-ok", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&name).await;
}

/// AllowedTagKeys: with the template's default no declaration sets a tag key; the operator's
/// list lets the keys it names through.
#[tokio::test]
async fn tag_keys_outside_allowed_tag_keys_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let tagged = |tag: &str| {
        let mut create = sample_event("compute", "create", tag, &recorder);
        create["ResourceProperties"]["Tags"] = json!([{"Key": "team", "Value": "ml-platform"}]);
        create
    };
    let by_default = guarded(&calls, deployed(&[]).await);
    assert_refused(
        &by_default,
        &calls,
        &tagged("scope-tag"),
        &recorder,
        "Tags[0].Key: tag key `team` is not on this function's AllowedTagKeys (this function lets no declaration set tag keys",
    )
    .await;

    let listed = guarded(&calls, deployed(&[("AllowedTagKeys", "team")]).await);
    let create = tagged("scope-tag-ok");
    let name = plan_of(&create).role.role_name;
    let response = invoke(&listed, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        role_tags(&name).await.get("team").map(String::as_str),
        Some("ml-platform")
    );
    let delete = delete_after(&create, &name, "scope-tag-ok", &recorder);
    assert_eq!(
        invoke(&listed, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&name).await;
}
