//! Runs CloudFormation events through the function's own handler (`persona_role::handler::Handler`,
//! the code the Lambda runs) against local stand-ins, and prints each answer exactly as
//! CloudFormation would receive it. `scripts/local-answer` runs it:
//!
//! ```sh
//! scripts/local-answer events/data-scientist-create.json events/data-scientist-update.json \
//!     events/data-scientist-delete.json
//! scripts/local-answer --expect-failed my-forged-event.json
//! scripts/local-answer --parameter AllowAdoption=true --parameter AdoptingStacks=ml-personas \
//!     --console-role SageMaker-TheDataScientist events/compute-create.json events/adopt-console-role.json
//! ```
//!
//! Events run in the order given, against one IAM: moto started for the run (from `.venv`, as the
//! tests start it), or the IAM endpoint `AWS_ENDPOINT_URL_IAM` names (a moto of your own, whose
//! roles outlive the run). For each event, a local CloudFormation (`tests/support/cloudformation.rs`)
//! shows the event's stack holding its logical id in the state CloudFormation sends that request
//! in, and the event's ResponseURL is replaced by a local recorder's
//! (`tests/support/recorder.rs`); the handler then checks the event, makes the IAM changes and
//! PUTs its answer. The body received is printed as JSON, then one summary line.
//!
//! The function's environment is the one `template.yaml`'s parameter defaults give it in the
//! account and region of the first event's stack: the shipped permissions boundary (created in
//! IAM), the default allow-lists, adoption off; `--parameter NAME=VALUE` overrides a parameter,
//! as `sam deploy --parameter-overrides` would. Any `PERSONA_ROLE_*` guardrail variable set in
//! the environment replaces them all, as in the deployed function. `--console-role NAME` first
//! makes a role as SageMaker Role Manager's console made it (under `/service-role/`, trusted by
//! SageMaker, with one per-activity policy named as the console names them), for an event to
//! adopt.
//!
//! Exit code: 0 every answer was SUCCESS (or FAILED where `--expect-failed` said so), 1 an answer
//! was not as expected or none was delivered, 2 the run could not start.

#[allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "../tests/support/cloudformation.rs"]
mod cloudformation;
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "../tests/common/deployed.rs"]
mod deployed;
#[allow(dead_code)]
#[path = "../tests/support/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../tests/support/moto.rs"]
mod moto;
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "../tests/support/recorder.rs"]
mod recorder;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use lambda_runtime::tracing::subscriber::EnvFilter;
use persona_role::aws::CallPolicy;
use persona_role::boundary;
use persona_role::context::StackContext;
use persona_role::guardrails::{self, Guardrails};
use persona_role::handler::{Handler, Settings};
use serde_json::Value;

use cloudformation::{Resource, StandIn};
use recorder::Recorder;

/// The function's Timeout in `template.yaml`: the Lambda deadline of each event.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(300);
/// Where events run when the first one names no usable stack.
const DEFAULT_STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/local/00000000-0000-0000-0000-000000000000";

const USAGE: &str =
    "usage: scripts/local-answer [--parameter NAME=VALUE ...] [--console-role NAME ...]
       [--expect-failed] EVENT.json [[--expect-failed] EVENT.json ...]

Runs each CloudFormation event, in order, through the function's handler against moto (or
AWS_ENDPOINT_URL_IAM) and a local CloudFormation that confirms it, and prints the answer the
ResponseURL received. --expect-failed: the next event's answer is expected to be FAILED.
--parameter: a template.yaml parameter of the function's stack (AllowAdoption=true, ...).
--console-role: first make this role as Role Manager's console made it, for adoption.";

/// One event to run and the answer it should get.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    path: PathBuf,
    expect_failed: bool,
}

/// What a run was asked to do.
#[derive(Debug, Default)]
struct Run {
    planned: Vec<Planned>,
    /// `template.yaml` parameters of the function's stack, as `NAME=VALUE`.
    parameters: Vec<(String, String)>,
    /// Roles to make as the console made them, before the first event.
    console_roles: Vec<String>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Run, String> {
    let mut run = Run::default();
    let mut expect_failed = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--expect-failed" => expect_failed = true,
            "--parameter" => {
                let given = args.next().unwrap_or_default();
                let Some((name, value)) = given.split_once('=') else {
                    return Err(format!("--parameter takes NAME=VALUE, not `{given}`"));
                };
                let declared = deployed::template()["Parameters"][name].is_mapping();
                if !declared {
                    return Err(format!("template.yaml has no parameter `{name}`"));
                }
                run.parameters.push((name.to_owned(), value.to_owned()));
            }
            "--console-role" => match args.next() {
                Some(name) if !name.is_empty() && !name.starts_with('-') => {
                    run.console_roles.push(name);
                }
                _ => return Err("--console-role takes a role name".to_owned()),
            },
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            path => {
                run.planned.push(Planned {
                    path: PathBuf::from(path),
                    expect_failed,
                });
                expect_failed = false;
            }
        }
    }
    if expect_failed {
        return Err("--expect-failed must precede an event file".to_owned());
    }
    if run.planned.is_empty() {
        return Err("no event file given".to_owned());
    }
    Ok(run)
}

fn main() -> ExitCode {
    let run_args = match parse_args(std::env::args().skip(1)) {
        Ok(run_args) => run_args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("local-answer: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("local-answer: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(run_args))
}

/// The handler's own lines (each IAM change, the answer) on stderr; RUST_LOG overrides.
fn init_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,persona_role=info".to_owned());
    let subscriber = lambda_runtime::tracing::subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// An event read from its file, or why it cannot run.
fn read_event(path: &Path) -> Result<serde_json::Map<String, Value>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_slice(&text) {
        Ok(Value::Object(event)) => Ok(event),
        Ok(_) => Err(format!("{} is not a JSON object", path.display())),
        Err(e) => Err(format!("{} is not JSON: {e}", path.display())),
    }
}

async fn run(run_args: Run) -> ExitCode {
    let Run {
        planned,
        parameters,
        console_roles,
    } = run_args;
    let mut events = Vec::new();
    for plan in &planned {
        match read_event(&plan.path) {
            Ok(event) => events.push(event),
            Err(message) => {
                eprintln!("local-answer: {message}");
                return ExitCode::from(2);
            }
        }
    }
    let place = events
        .first()
        .and_then(|e| e.get("StackId")?.as_str())
        .and_then(|id| StackContext::from_stack_id(id, "Local").ok())
        .or_else(|| StackContext::from_stack_id(DEFAULT_STACK, "Local").ok());
    let Some(place) = place else {
        eprintln!("local-answer: no account and region to run in");
        return ExitCode::from(2);
    };
    // The function plays the one the events' resources name (their ServiceToken), as
    // CloudFormation would invoke it; without one, a local function of the stack's place.
    let function_arn = events
        .first()
        .and_then(|e| e.get("ResourceProperties")?.get("ServiceToken")?.as_str())
        .map_or_else(
            || {
                format!(
                    "arn:{}:lambda:{}:{}:function:persona-role-local",
                    place.partition.name(),
                    place.region,
                    place.account
                )
            },
            str::to_owned,
        );
    let local = match Local::start(&place, function_arn, &parameters).await {
        Ok(local) => local,
        Err(message) => {
            eprintln!("local-answer: {message}");
            return ExitCode::from(2);
        }
    };
    for name in &console_roles {
        if let Err(message) = local.make_console_role(name).await {
            eprintln!("local-answer: {message}");
            return ExitCode::from(2);
        }
    }
    let mut unexpected = 0;
    for (n, (plan, event)) in planned.iter().zip(events).enumerate() {
        if !local.answer(n, plan, event).await {
            unexpected += 1;
        }
    }
    if unexpected > 0 {
        eprintln!(
            "local-answer: {unexpected} of {} answers not as expected",
            planned.len()
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// The stand-ins and the handler wired to them.
struct Local {
    // Kept for the run: moto exits when it is dropped.
    _moto: Option<moto::Moto>,
    stand_in: StandIn,
    recorder: Recorder,
    handler: Handler,
    function_arn: String,
    /// The same IAM, for what the run prepares before the events (console roles).
    iam: aws_sdk_iam::Client,
}

impl Local {
    async fn start(
        place: &StackContext,
        function_arn: String,
        parameters: &[(String, String)],
    ) -> Result<Local, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // IAM: the endpoint the environment names, as the SDK reads it, else moto of our own in
        // the stack's account.
        let moto = match std::env::var_os("AWS_ENDPOINT_URL_IAM") {
            Some(_) => None,
            None => {
                let log = std::env::temp_dir().join(format!(
                    "persona-role-local-answer-moto-{}.log",
                    std::process::id()
                ));
                Some(moto::Moto::start(
                    &root,
                    &log,
                    &[("MOTO_ACCOUNT_ID", place.account.as_str())],
                )?)
            }
        };
        let stand_in = StandIn::start();
        let recorder = Recorder::start();

        // Built as src/bin/persona-role-lambda.rs builds them: the same retry and timeout policy,
        // only the endpoints are local. Credentials are moto's dummies.
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(place.region.clone()))
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "local-answer",
            ))
            .load()
            .await;
        let mut iam = CallPolicy::default().configure(aws_sdk_iam::config::Builder::from(&config));
        if let Some(moto) = &moto {
            iam = iam.endpoint_url(moto.endpoint());
        }
        let iam = aws_sdk_iam::Client::from_conf(iam.build());
        let checker = iam.clone();
        let cloudformation = aws_sdk_cloudformation::Client::from_conf(
            persona_role::cfn::stacks::configure(
                &CallPolicy::default(),
                aws_sdk_cloudformation::config::Builder::from(&config),
            )
            .endpoint_url(stand_in.endpoint())
            .build(),
        );

        let guardrails = match guardrails::ENVIRONMENT
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            true => Guardrails::from_env(),
            false => template_guardrails(place, &iam, parameters).await?,
        };
        let http = persona_role::cfn::send::answer_client()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let handler = Handler::new(
            iam,
            cloudformation,
            http,
            Settings {
                allow_loopback: true,
                guardrails,
                ..Settings::default()
            },
        );
        Ok(Local {
            _moto: moto,
            stand_in,
            recorder,
            handler,
            function_arn,
            iam: checker,
        })
    }

    /// Makes `name` as SageMaker Role Manager's console made roles: under `/service-role/`,
    /// trusted by SageMaker, with one per-activity managed policy named as the console names
    /// them (`<template>_<epoch ms>`: the S3 Bucket Access activity's).
    async fn make_console_role(&self, name: &str) -> Result<(), String> {
        let failed = |what: &str, e: &dyn std::error::Error| {
            format!("cannot make console role {name} ({what}): {e}")
        };
        let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        self.iam
            .create_role()
            .role_name(name)
            .path("/service-role/")
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .map_err(|e| failed("CreateRole", &e))?;
        let document = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::ml-team-data"}]});
        let policy = self
            .iam
            .create_policy()
            .policy_name(format!(
                "SageMakerS3BucketPolicyTemplate_{}",
                console_stamp(name)
            ))
            .path("/service-role/")
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(|e| failed("CreatePolicy", &e))?;
        let arn = policy
            .policy()
            .and_then(|p| p.arn())
            .ok_or_else(|| format!("cannot make console role {name}: CreatePolicy gave no ARN"))?;
        self.iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| failed("AttachRolePolicy", &e))?;
        eprintln!("made console role {name} under /service-role/ with policy {arn}");
        Ok(())
    }

    /// Runs the `n`-th event and prints its answer; whether the answer was the expected one.
    async fn answer(
        &self,
        n: usize,
        plan: &Planned,
        mut event: serde_json::Map<String, Value>,
    ) -> bool {
        let shown = plan.path.display();
        let answer_id = format!("event-{n}");
        event.insert(
            "ResponseURL".to_owned(),
            Value::String(self.recorder.url(&answer_id)),
        );
        let event = Value::Object(event);
        let request = format!(
            "{} {}",
            event["RequestType"].as_str().unwrap_or("?"),
            event["LogicalResourceId"].as_str().unwrap_or("?")
        );
        if let (Some(_), Some(logical)) = (
            event["StackId"].as_str(),
            event["LogicalResourceId"].as_str(),
        ) {
            self.stand_in.confirm_now(&event);
            let shows = Resource::sending(&event);
            eprintln!(
                "{shown}: CloudFormation shows {logical} ({}) {}{}",
                shows.resource_type,
                shows.status,
                shows
                    .physical_id
                    .map(|id| format!(" with id {id}"))
                    .unwrap_or_default()
            );
        }
        let raw = serde_json::to_vec(&event).unwrap_or_default();
        let delivered = self
            .handler
            .handle_raw(
                &raw,
                Some(Instant::now() + FUNCTION_TIMEOUT),
                Some(&self.function_arn),
            )
            .await;
        if let Err(error) = delivered {
            println!("{shown}: no answer ({request}): {error}");
            return false;
        }
        let received = self.recorder.for_request(&answer_id);
        let Some(put) = received.last() else {
            println!("{shown}: the handler reported an answer the ResponseURL never received");
            return false;
        };
        let body: Value = match serde_json::from_slice(&put.body) {
            Ok(body) => body,
            Err(e) => {
                println!(
                    "{shown}: the answer is not JSON ({e}): {}",
                    String::from_utf8_lossy(&put.body)
                );
                return false;
            }
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        let status = body["Status"].as_str().unwrap_or("?");
        let (as_expected, verdict) = verdict(status, plan.expect_failed);
        println!(
            "{shown}: {request} -> {status}{verdict}, PhysicalResourceId {}, {} bytes in {} PUT{}",
            body["PhysicalResourceId"].as_str().unwrap_or("?"),
            put.body.len(),
            received.len(),
            if received.len() == 1 { "" } else { "s" },
        );
        as_expected
    }
}

/// The creation time the console puts in its policies' names, made distinct per role name so
/// that two console roles of one run get two policies.
fn console_stamp(name: &str) -> u64 {
    let spread = name.bytes().fold(0u64, |sum, b| {
        sum.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    1_700_000_000_000 + spread % 100_000_000_000
}

/// Whether an answer's Status is the expected one, and what the summary adds about it.
fn verdict(status: &str, expect_failed: bool) -> (bool, String) {
    let expected = if expect_failed { "FAILED" } else { "SUCCESS" };
    match (status == expected, expect_failed) {
        (true, true) => (true, " as expected".to_owned()),
        (true, false) => (true, String::new()),
        (false, _) => (false, format!(" (expected {expected})")),
    }
}

/// The guardrails `template.yaml`'s parameter defaults, with `parameters` overriding them, give
/// the function in `place`, with the stack's `PersonaRoleBoundary` created in IAM from the
/// catalog (`src/boundary.rs`).
async fn template_guardrails(
    place: &StackContext,
    iam: &aws_sdk_iam::Client,
    parameters: &[(String, String)],
) -> Result<Guardrails, String> {
    let overrides: Vec<(&str, &str)> = parameters
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let deployment = deployed::Deployment::new(&overrides).placed(
        place.partition.name(),
        &place.account,
        &place.region,
    );
    let guardrails = deployment.guardrails();
    if guardrails.required_boundary.as_deref() == Some(deployment.shipped_boundary().as_str()) {
        let made = iam
            .create_policy()
            .policy_name(deployed::SHIPPED_BOUNDARY_NAME)
            .policy_document(boundary::policy(&[]).to_string())
            .send()
            .await;
        if let Err(e) = made {
            let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&e);
            if code != Some("EntityAlreadyExists") {
                return Err(format!(
                    "cannot create the permissions boundary in IAM: {}",
                    persona_role::cfn::send::error_chain(&e)
                ));
            }
        }
    }
    Ok(guardrails)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Run, String> {
        parse_args(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn expect_failed_marks_only_the_next_event() {
        let run = args(&["a.json", "--expect-failed", "b.json", "c.json"]).unwrap();
        let marks: Vec<bool> = run.planned.iter().map(|p| p.expect_failed).collect();
        assert_eq!(marks, [false, true, false]);
    }

    #[test]
    fn parameters_must_be_the_templates_and_console_roles_need_a_name() {
        let run = args(&[
            "--parameter",
            "AllowAdoption=true",
            "--console-role",
            "SageMaker-Team",
            "a.json",
        ])
        .unwrap();
        assert_eq!(
            run.parameters,
            [("AllowAdoption".to_owned(), "true".to_owned())]
        );
        assert_eq!(run.console_roles, ["SageMaker-Team"]);
        assert!(args(&["--parameter", "AllowAdoptoin=true", "a.json"]).is_err());
        assert!(args(&["--parameter", "AllowAdoption", "a.json"]).is_err());
        assert!(args(&["--console-role", "--expect-failed", "a.json"]).is_err());
    }

    #[test]
    fn failed_is_unexpected_unless_announced_and_success_then_is_unexpected() {
        assert!(verdict("SUCCESS", false).0);
        assert!(!verdict("FAILED", false).0);
        assert!(verdict("FAILED", true).0);
        assert!(!verdict("SUCCESS", true).0);
        assert!(!verdict("?", false).0);
    }

    #[test]
    fn refuses_a_dangling_flag_no_events_and_unknown_options() {
        assert!(args(&["a.json", "--expect-failed"]).is_err());
        assert!(args(&[]).is_err());
        assert!(args(&["--verbose", "a.json"]).is_err());
    }
}
