//! `persona-role-lambda` (`bootstrap` in the deployed zip): the Lambda function behind
//! `Custom::SageMakerPersonaRole`. Wiring only; the work is in `persona_role::handler`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lambda_runtime::tracing::Level;
use lambda_runtime::tracing::subscriber::EnvFilter;
use lambda_runtime::tracing::subscriber::filter::filter_fn;
use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use persona_role::aws::CallPolicy;
use persona_role::handler::{Handler, Invocation, Settings, deadline_from_epoch_ms, route};
use persona_role::logs::{JsonLines, SERVICE_ENV, service_name};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tracing::Instrument;

/// Whether the next invocation is this execution environment's first (Powertools' `cold_start`).
static COLD: AtomicBool = AtomicBool::new(true);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();
    // Which release runs: the version is shared with the CLI, the template and CHANGELOG.md.
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "persona-role-lambda starting"
    );
    if cfg!(panic = "abort") {
        // Cargo.toml's release profile sets panic = "unwind", which cargo lambda keeps; a build
        // that overrides it to abort would die on a panic before the handler answers FAILED.
        tracing::warn!("built with panic=abort: a panic cannot be answered FAILED");
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let iam = aws_sdk_iam::Client::from_conf(
        CallPolicy::default()
            .configure(aws_sdk_iam::config::Builder::from(&config))
            .build(),
    );
    // Same retries and timeouts as IAM; `AWS_ENDPOINT_URL_CLOUDFORMATION` is honoured.
    let cloudformation = aws_sdk_cloudformation::Client::from_conf(
        persona_role::cfn::stacks::configure(
            &CallPolicy::default(),
            aws_sdk_cloudformation::config::Builder::from(&config),
        )
        .build(),
    );
    let http = persona_role::cfn::send::answer_client()?;
    let handler = Arc::new(Handler::new(
        iam,
        cloudformation,
        http,
        Settings::from_env(),
    ));
    // The payload is taken raw: a typed or `Value` event too deep for serde_json would fail in
    // the runtime, before the handler could answer CloudFormation.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let handler = Arc::clone(&handler);
        // Every line of the invocation carries these, under Powertools' names. An ERROR span
        // is enabled at every ApplicationLogLevel, so that even a WARN line has them.
        let invocation = tracing::error_span!(
            "invocation",
            cold_start = COLD.swap(false, Ordering::Relaxed),
            function_request_id = %event.context.request_id,
            xray_trace_id = tracing::field::Empty,
        );
        if let Some(trace) = &event.context.xray_trace_id {
            invocation.record("xray_trace_id", trace.as_str());
        }
        async move {
            let deadline = deadline_from_epoch_ms(event.context.deadline);
            let function_arn =
                Some(event.context.invoked_function_arn.as_str()).filter(|arn| !arn.is_empty());
            let raw = event.payload.get().as_bytes();
            match route(raw) {
                // The operator's reconcile run and the scheduled drift report are no
                // CloudFormation events: their reports are the answers.
                Invocation::Reconcile(run) => {
                    let report = handler.reconcile(run, deadline, function_arn).await;
                    return Ok::<Value, Error>(serde_json::to_value(&report)?);
                }
                Invocation::DriftReport(request) => {
                    let report = handler.drift_report(request, deadline, function_arn).await;
                    return Ok::<Value, Error>(serde_json::to_value(&report)?);
                }
                Invocation::CloudFormation => {}
            }
            let delivered = handler.handle_raw(raw, deadline, function_arn).await?;
            Ok::<Value, Error>(json!({
                "Status": delivered.response.status.as_str(),
                "PhysicalResourceId": delivered.response.physical_resource_id,
                "Reason": delivered.response.reason,
            }))
        }
        .instrument(invocation)
    }))
    .await
}

/// Flat JSON lines on stdout in Powertools' keys (`persona_role::logs`): `level`, `message`,
/// `timestamp`, `service`, the invocation's `cold_start`, `function_request_id` and
/// `xray_trace_id`, the event's RequestId and LogicalResourceId, then the line's own fields. The
/// level comes from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else INFO, as in lambda_runtime; it
/// applies to this function's own lines only. Other crates never log below INFO: at TRACE the
/// runtime logs each raw event, whose ResponseURL is a signed credential.
fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let service = service_name(std::env::var(SERVICE_ENV).ok().as_deref());
    let subscriber = lambda_runtime::tracing::subscriber::registry()
        .with(EnvFilter::try_new(level.to_lowercase()).unwrap_or_else(|_| EnvFilter::new("info")))
        .with(filter_fn(|metadata| {
            *metadata.level() <= Level::INFO || metadata.target().starts_with("persona_role")
        }))
        .with(JsonLines::new(service, std::io::stdout));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("persona-role: a logger was already installed");
    }
}
