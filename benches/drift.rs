//! The drift report and a reconcile run over an account of many owned roles, IAM behind the
//! fault proxy with a fixed latency on every call (IAM's round trip), paced calls included:
//!
//!   cargo bench --profile dev --bench drift     # 1,000 roles in 20 stacks, 100 ms per IAM call
//!
//! The roles are made as their stacks would make them (each Create through the handler, its
//! CloudFormation events recorded with its properties in the local stand-in), without latency;
//! then a catalog change reaches every one of them (each role's inline policy written as an older
//! release would have: one action fewer) and a few are edited by hand. Measured: `persona-role
//! drift`'s report (in process, as the CLI runs it, 8 roles at a time), the function's scheduled
//! drift report (the same reads, in the handler, with the function's timeout), the reconcile run with
//! the function's 300 s timeout as its deadline, invoked again with its `Continue` until it is
//! complete, a second run that finds nothing to change, and the report once more. The stand-in's
//! CloudFormation reads have no latency: the figures are IAM's.
//!
//! Under `cargo test` it runs a smoke pass (20 roles, 10 ms) that checks the same outcomes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use persona_role::cfn::stacks::SdkStacks;
use persona_role::cli::diff::Colour;
use persona_role::cli::drift::{DriftArgs, Report as DriftReport, Standing, report};
use persona_role::iam::SdkIam;
use serde_json::{Value, json};
use support::*;

/// The function's timeout in `template.yaml`.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(300);

struct Scale {
    roles: usize,
    stacks: usize,
    hand_edited: usize,
    latency: Duration,
}

fn compute(suffix: &str) -> Value {
    json!({
        "ServiceToken": FUNCTION_ARN,
        "Persona": "SageMakerCompute",
        "RoleNameSuffix": suffix,
        "S3Buckets": ["ml-team-data"],
        "EcrRepositories": ["arn:aws:ecr:us-east-1:123456789012:repository/ml-training"],
    })
}

fn analyst(suffix: &str) -> Value {
    json!({
        "ServiceToken": FUNCTION_ARN,
        "Persona": "Custom",
        "RoleNameSuffix": suffix,
        "Activities": ["S3 Bucket Access", "Query Athena Workgroups"],
        "S3Buckets": ["ml-team-data"],
        "AthenaWorkgroups": ["primary"],
    })
}

/// The roles, made as their stacks would make them; their names.
async fn seed(scale: &Scale, pass: &str, recorder: &Recorder) -> Vec<String> {
    let handler = handler_with(iam_client(None), deployed_settings(&[]));
    let per_stack = scale.roles.div_ceil(scale.stacks);
    let stacks: Vec<String> = (0..scale.stacks)
        .map(|s| {
            let id = stack_id(&format!("ml-team-{pass}-{s:02}"));
            stack_creating(&id);
            id
        })
        .collect();
    let jobs = (0..scale.roles).map(|i| {
        let stack = &stacks[i / per_stack];
        let handler = &handler;
        async move {
            let suffix = format!("{pass}-{i:04}");
            let properties = match i % 2 {
                0 => compute(&suffix),
                _ => analyst(&suffix),
            };
            deploy_role(handler, stack, &format!("Role{i:04}"), properties, recorder).await
        }
    });
    let names: Vec<String> = futures_util::stream::iter(jobs).buffered(8).collect().await;
    for stack in &stacks {
        stand_in().put_stack(stack, "CREATE_COMPLETE");
    }
    names
}

/// A catalog change on every role, and hand edits on the first few.
async fn change(scale: &Scale, names: &[String]) {
    let iam = checker();
    let edits = names.iter().map(|name| {
        let iam = &iam;
        async move { write_as_older_release(iam, name).await }
    });
    let _: Vec<String> = futures_util::stream::iter(edits)
        .buffered(8)
        .collect()
        .await;
    for name in names.iter().take(scale.hand_edited) {
        iam.put_role_policy()
            .role_name(name)
            .policy_name("break-glass")
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
    }
}

fn drift_args(function_stack: &str) -> DriftArgs {
    DriftArgs {
        function_stack: function_stack.to_owned(),
        json: true,
        color: Colour::Never,
        concurrency: 8,
    }
}

/// The report as the CLI makes it, its IAM through `proxy`; its time and IAM calls.
async fn timed_report(proxy: &FaultProxy, function_stack: &str) -> (DriftReport, Duration, usize) {
    let iam = SdkIam::new(iam_client_with(proxy.endpoint(), None, &quick_policy()));
    let stacks = SdkStacks::new(cloudformation_client_at(stand_in().endpoint()));
    let before = proxy.total_seen();
    let start = Instant::now();
    let mut err = Vec::new();
    let report = report(&iam, &stacks, &drift_args(function_stack), &mut err)
        .await
        .unwrap();
    (report, start.elapsed(), proxy.total_seen() - before)
}

/// One reconcile invocation with the function's timeout; its report, time, IAM calls and the
/// mutating ones.
async fn timed_run(
    handler: &TestHandler,
    proxy: &FaultProxy,
    calls: &CallLog,
    payload: &Value,
) -> (Value, Duration, usize, usize) {
    calls.clear();
    let before = proxy.total_seen();
    let request = persona_role::reconcile::read(payload.to_string().as_bytes()).unwrap();
    let start = Instant::now();
    let report = handler
        .handler
        .reconcile(request, Some(start + FUNCTION_TIMEOUT), Some(FUNCTION_ARN))
        .await;
    let took = start.elapsed();
    (
        serde_json::to_value(&report).unwrap(),
        took,
        proxy.total_seen() - before,
        calls.mutating().len(),
    )
}

async fn run(full: bool) {
    let scale = match full {
        true => Scale {
            roles: 1000,
            stacks: 20,
            hand_edited: 20,
            latency: Duration::from_millis(100),
        },
        false => Scale {
            roles: 20,
            stacks: 2,
            hand_edited: 2,
            latency: Duration::from_millis(10),
        },
    };
    let pass = request_id("b").replace('-', "");
    let recorder = Recorder::start();
    let seeding = Instant::now();
    let function_stack = format!("persona-role-{pass}");
    function_stack_named(&function_stack);
    let names = seed(&scale, &pass, &recorder).await;
    change(&scale, &names).await;
    println!(
        "{} roles in {} stacks made and changed in {:.0} s (without latency)",
        names.len(),
        scale.stacks,
        seeding.elapsed().as_secs_f64()
    );
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.latency(scale.latency);
    println!(
        "IAM behind the proxy: {} ms per call; CloudFormation (the stand-in) without latency",
        scale.latency.as_millis()
    );

    let (before, took, calls) = timed_report(&proxy, &function_stack).await;
    let ours = |r: &DriftReport| {
        r.roles
            .iter()
            .filter(|role| names.contains(&role.role_name))
            .filter(|role| role.standing == Standing::Changes)
            .count()
    };
    assert_eq!(ours(&before), names.len(), "every role lags the release");
    println!(
        "drift report: {} roles a re-plan changes ({} with hand edits) in {:.1} s, {calls} IAM calls",
        before.summary.changes,
        before.summary.with_hand_edits,
        took.as_secs_f64()
    );

    // The function's scheduled report: the same reads, in the function, with its deadline.
    let calls = CallLog::default();
    let reporting = handler_with(
        iam_client_with(proxy.endpoint(), Some(&calls), &quick_policy()),
        persona_role::handler::Settings {
            drift_report_schedule: Some("rate(1 day)".to_owned()),
            ..reconcile_settings("bench")
        },
    );
    let before_calls = proxy.total_seen();
    let start = Instant::now();
    let scheduled = reporting
        .handler
        .drift_report(Ok(()), Some(start + FUNCTION_TIMEOUT), Some(FUNCTION_ARN))
        .await;
    let took = start.elapsed();
    assert_eq!(scheduled.status, "Complete", "{scheduled:?}");
    assert!(scheduled.drifted >= scale.hand_edited, "{scheduled:?}");
    assert!(
        scheduled.drifted + scheduled.lagging >= names.len(),
        "{scheduled:?}"
    );
    assert!(calls.mutating().is_empty(), "the report writes nothing");
    assert!(took < FUNCTION_TIMEOUT, "within the function's timeout");
    println!(
        "scheduled drift report (the function): {} drifted, {} lagging, {} current in {:.1} s (timeout {} s), {} IAM calls, none mutating",
        scheduled.drifted,
        scheduled.lagging,
        scheduled.current,
        took.as_secs_f64(),
        FUNCTION_TIMEOUT.as_secs(),
        proxy.total_seen() - before_calls
    );

    let handler = handler_with(
        iam_client_with(proxy.endpoint(), Some(&calls), &quick_policy()),
        reconcile_settings("bench"),
    );
    let mut payload = json!({"PersonaRoleReconcile": {"Run": "bench"}});
    let mut invocations = 0;
    let mut converged = 0;
    loop {
        invocations += 1;
        let (report, took, made, mutating) = timed_run(&handler, &proxy, &calls, &payload).await;
        converged += report["Converged"].as_u64().unwrap();
        println!(
            "reconcile run, invocation {invocations}: {} in {:.1} s (timeout {} s): {} converged, {} unchanged, {} skipped, {} failed, {} not reached; {made} IAM calls, {mutating} mutating ({:.1} per second)",
            report["Status"],
            took.as_secs_f64(),
            FUNCTION_TIMEOUT.as_secs(),
            report["Converged"],
            report["Unchanged"],
            report["Skipped"],
            report["Failed"],
            report["NotReached"],
            mutating as f64 / took.as_secs_f64()
        );
        assert_eq!(report["Failed"], 0, "{report:#}");
        assert!(took < FUNCTION_TIMEOUT, "within the function's timeout");
        match report["Status"].as_str() {
            Some("Complete") => break,
            Some("Stopped") => payload = report["Continue"].clone(),
            other => panic!("{other:?}: {report:#}"),
        }
    }
    assert!(converged as usize >= names.len(), "every role converged");

    let (report, took, made, mutating) = timed_run(
        &handler,
        &proxy,
        &calls,
        &json!({"PersonaRoleReconcile": {"Run": "bench"}}),
    )
    .await;
    assert_eq!(report["Converged"], 0, "{report:#}");
    assert_eq!(mutating, 0);
    println!(
        "reconcile run again: {} in {:.1} s, {} unchanged, {made} IAM calls, none mutating",
        report["Status"],
        took.as_secs_f64(),
        report["Unchanged"]
    );

    let (after, took, calls) = timed_report(&proxy, &function_stack).await;
    assert_eq!(ours(&after), 0, "no role lags after the run");
    println!(
        "drift report after: {} current in {:.1} s, {calls} IAM calls",
        after.summary.current,
        took.as_secs_f64()
    );
}

/// The function's stack, named `name`.
fn function_stack_named(name: &str) {
    function_stack(name, &[]);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(full));
}
