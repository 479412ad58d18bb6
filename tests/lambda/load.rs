//! The compiled function under load, as a roll-out through Service Catalog or StackSets makes
//! it: several instances behind a local Lambda Runtime API, IAM behind the fault proxy
//! throttling 30 % of calls. Every event must be answered SUCCESS exactly once and nothing may be
//! left in IAM; the timings, IAM calls per event, peak memory and CPU are printed as a report
//! (`cargo test --test lambda -- load:: --nocapture`, which runs it alone; beside the binary's
//! other tests it shares the machine with them), never asserted: they depend on the machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

const INSTANCES: usize = 8;
const ROLES: usize = 200;
/// The function's Timeout in template.yaml.
const TIMEOUT: Duration = Duration::from_secs(300);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Queues every event at once and waits for their answers; returns each one's answer and how
/// long it took from being queued.
fn run_all(
    api: &RuntimeApi,
    recorder: &Recorder,
    events: &[Value],
    phase: &str,
) -> Vec<(Value, Duration)> {
    let queued = Instant::now();
    for (i, event) in events.iter().enumerate() {
        api.push(&format!("{phase}-{i}"), event.clone(), TIMEOUT);
    }
    let end = queued + Duration::from_secs(900);
    let mut answers = Vec::new();
    for event in events {
        let request_id = event["RequestId"].as_str().unwrap();
        let left = end.saturating_duration_since(Instant::now());
        let got = recorder.wait_for(request_id, 1, left);
        assert!(!got.is_empty(), "{phase}: no answer for {request_id}");
        answers.push((got[0].json(), got[0].at.duration_since(queued)));
    }
    answers
}

fn report(phase: &str, answers: &[(Value, Duration)], calls: usize, throttled: usize) {
    let mut times: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    times.sort();
    println!(
        "{phase}: {} events on {INSTANCES} instances; answered p50 {:.1} s, p99 {:.1} s, last {:.1} s; {:.1} IAM calls per event ({calls} in all, {throttled} throttled)",
        answers.len(),
        percentile(&times, 0.5).as_secs_f64(),
        percentile(&times, 0.99).as_secs_f64(),
        times.last().copied().unwrap_or_default().as_secs_f64(),
        calls as f64 / answers.len().max(1) as f64,
    );
}

#[test]
fn two_hundred_concurrent_creates_and_deletes_under_throttling_are_each_answered_once() {
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.throttle(0.3);
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let functions: Vec<Function> = (0..INSTANCES)
        .map(|i| Function::start(&api, proxy.endpoint(), &format!("load-{i}")))
        .collect();

    let creates: Vec<Value> = (0..ROLES)
        .map(|i| {
            let persona = PERSONAS[i % PERSONAS.len()];
            let mut event = sample_event(persona, "create", "load", &recorder);
            event["LogicalResourceId"] = json!(format!("Load{i:03}"));
            event["ResourceProperties"]["RoleNameSuffix"] = json!(format!("load-{i:03}"));
            event
        })
        .collect();
    let answers = run_all(&api, &recorder, &creates, "create");
    let create_calls = proxy.total_seen();
    let create_throttled = proxy.injected_of("Throttle");
    let mut names = Vec::new();
    for (event, (answer, _)) in creates.iter().zip(&answers) {
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        let request_id = event["RequestId"].as_str().unwrap();
        assert_eq!(recorder.for_request(request_id).len(), 1, "one answer");
        names.push(answer["PhysicalResourceId"].as_str().unwrap().to_owned());
    }
    report("create", &answers, create_calls, create_throttled);

    let deletes: Vec<Value> = creates
        .iter()
        .zip(&names)
        .map(|(create, name)| delete_after(create, name, "load", &recorder))
        .collect();
    let answers = run_all(&api, &recorder, &deletes, "delete");
    for (event, (answer, _)) in deletes.iter().zip(&answers) {
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        let request_id = event["RequestId"].as_str().unwrap();
        assert_eq!(recorder.for_request(request_id).len(), 1, "one answer");
    }
    report(
        "delete",
        &answers,
        proxy.total_seen() - create_calls,
        proxy.injected_of("Throttle") - create_throttled,
    );

    let mut usage = Vec::new();
    for function in functions {
        usage.push(function.usage());
        function.stop();
    }
    let peak = usage
        .iter()
        .flatten()
        .map(|(rss, _)| *rss)
        .max()
        .unwrap_or(0);
    let cpu: Duration = usage.iter().flatten().map(|(_, cpu)| *cpu).sum();
    println!(
        "instances: peak RSS {:.1} MB (debug build), {:.0} ms CPU per event",
        peak as f64 / 1e6,
        cpu.as_secs_f64() * 1000.0 / (2 * ROLES) as f64
    );
    for name in &names {
        let iam = checker();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert!(
                iam.get_role().role_name(name).send().await.is_err(),
                "{name} left behind"
            );
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let left = runtime.block_on(local_policies("sagemaker-load-"));
    assert_eq!(left, Vec::<String>::new(), "policies left behind");
}

/// The heaviest role: the most own managed policies a role can have. (The Canvas activities'
/// AWS managed policies are left out: they add only an attachment each.)
fn heaviest(suffix: &str) -> Value {
    samples::heaviest(suffix, 20)
}

#[test]
fn sizing_report_of_the_heaviest_events() {
    let proxy = FaultProxy::start(moto_endpoint());
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let spawned = Instant::now();
    let function = Function::start(&api, proxy.endpoint(), "sizing");
    let started = loop {
        if let Some(at) = api.first_next() {
            break at.duration_since(spawned);
        }
        assert!(
            spawned.elapsed() < TIMEOUT,
            "the function never asked for an event"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let build = if std::env::var_os("PERSONA_ROLE_LAMBDA_BIN").is_some() {
        "PERSONA_ROLE_LAMBDA_BIN"
    } else {
        "debug build"
    };
    let create = create_event("Heaviest", heaviest("sizing-heavy"), "sizing", &recorder);
    let name = plan_of(&create).role.role_name;
    let lighter = samples::heaviest("sizing-heavy", 12);
    let update = update_after(&create, &name, lighter, "sizing", &recorder);
    let delete = delete_after(&update, &name, "sizing", &recorder);
    let mut rows = BTreeMap::new();
    for (i, (what, event)) in [
        ("create", &create),
        ("update", &update),
        ("delete", &delete),
    ]
    .into_iter()
    .enumerate()
    {
        let before = proxy.seen();
        let start = Instant::now();
        api.push(&format!("sizing-{i}"), event.clone(), TIMEOUT);
        let request_id = event["RequestId"].as_str().unwrap();
        let answers = recorder.wait_for(request_id, 1, TIMEOUT);
        assert_eq!(answers.len(), 1, "{what}");
        assert_eq!(
            answers[0].json()["Status"],
            "SUCCESS",
            "{what}: {}",
            answers[0].json()
        );
        let after = proxy.seen();
        let mut calls = 0;
        let mut writes = 0;
        for (operation, count) in &after {
            let made = count - before.get(operation).copied().unwrap_or(0);
            calls += made;
            if !operation.starts_with("Get") && !operation.starts_with("List") {
                writes += made;
            }
        }
        rows.insert(i, (what, calls, writes, start.elapsed()));
    }
    let usage = function.usage();
    function.stop();
    for (what, calls, writes, took) in rows.values() {
        println!(
            "heaviest role, {what}: {calls} IAM calls ({writes} mutating), answered in {:.2} s",
            took.as_secs_f64()
        );
    }
    if let Some((rss, cpu)) = usage {
        println!(
            "one instance over the three events: peak RSS {:.1} MB ({build}), {:.0} ms CPU; asked for its first event {:.1} ms after it was started",
            rss as f64 / 1e6,
            cpu.as_secs_f64() * 1000.0,
            started.as_secs_f64() * 1000.0
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(assert_gone(&name));
}
