//! How many IAM round trips an event's answer waits for. IAM sits behind the fault proxy with a
//! fixed latency on every call; each event runs through the real handler, and its answer time
//! divided by that latency is the number of round trips on its critical path (calls made
//! together count once). Reported beside the calls made and the targets:
//!
//!   cargo bench --bench round_trips     # 250 ms per call, every event, targets checked
//!
//! Under `cargo test` it runs a short smoke pass (10 ms, one role) that checks only that every
//! answer is SUCCESS. The stack check's CloudFormation reads go to the local stand-in, without
//! latency: the figures are IAM's alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use persona_role::catalog;
use serde_json::{Value, json};
use support::*;

/// Every activity without an AWS managed policy (the stand-in holds none of AWS's), 20 values
/// of every parameter, VPC and KMS: the most own managed policies a role can have.
fn heaviest(suffix: &str) -> Value {
    let activities: Vec<&str> = catalog::ACTIVITIES
        .iter()
        .filter(|a| a.aws_managed_policies.is_empty())
        .map(|a| a.id)
        .collect();
    let mut properties = samples::properties("Custom", Some(&activities), 20, true, true, "aws");
    properties["RoleNameSuffix"] = json!(suffix);
    properties["MaxManagedPolicies"] = json!("20");
    properties
}

/// The heaviest role with 12 values of each parameter: fewer, smaller policies.
fn lighter(suffix: &str) -> Value {
    let mut properties = heaviest(suffix);
    for param in catalog::Param::ALL {
        if let Some(values) = properties[param.name()].as_array_mut() {
            values.truncate(12);
        }
    }
    properties
}

fn data_scientist(suffix: &str) -> Value {
    let mut properties = samples::properties("DataScientist", None, 2, true, false, "aws");
    properties["RoleNameSuffix"] = json!(suffix);
    properties
}

struct Row {
    what: &'static str,
    round_trips: f64,
    calls: usize,
    target: Option<f64>,
}

async fn measure(
    what: &'static str,
    event: &Value,
    target: Option<f64>,
    handler: &TestHandler,
    proxy: &FaultProxy,
    recorder: &Recorder,
    latency: Duration,
) -> Row {
    let before = proxy.total_seen();
    let start = Instant::now();
    let answer = invoke(handler, event, recorder).await;
    let took = start.elapsed();
    assert_eq!(answer["Status"], "SUCCESS", "{what}: {answer}");
    Row {
        what,
        round_trips: took.as_secs_f64() / latency.as_secs_f64(),
        calls: proxy.total_seen() - before,
        target,
    }
}

async fn run(full: bool) -> bool {
    let latency = Duration::from_millis(if full { 250 } else { 10 });
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.latency(latency);
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    let mut rows = Vec::new();

    let create = create_event("RoundTrips", data_scientist("rt-ds"), "rt", &recorder);
    let name = plan_of(&create).role.role_name;
    rows.push(
        measure(
            "Data Scientist, create",
            &create,
            Some(4.0),
            &handler,
            &proxy,
            &recorder,
            latency,
        )
        .await,
    );
    let same = update_after(
        &create,
        &name,
        create["ResourceProperties"].clone(),
        "rt",
        &recorder,
    );
    rows.push(
        measure(
            "Data Scientist, update changing nothing",
            &same,
            Some(2.0),
            &handler,
            &proxy,
            &recorder,
            latency,
        )
        .await,
    );
    let delete = delete_after(&same, &name, "rt", &recorder);
    rows.push(
        measure(
            "Data Scientist, delete",
            &delete,
            Some(5.0),
            &handler,
            &proxy,
            &recorder,
            latency,
        )
        .await,
    );
    assert_gone(&name).await;

    if full {
        let create = create_event("Heaviest", heaviest("rt-heavy"), "rt", &recorder);
        let name = plan_of(&create).role.role_name;
        rows.push(
            measure(
                "heaviest, create",
                &create,
                Some(4.0),
                &handler,
                &proxy,
                &recorder,
                latency,
            )
            .await,
        );
        let same = update_after(
            &create,
            &name,
            create["ResourceProperties"].clone(),
            "rt",
            &recorder,
        );
        rows.push(
            measure(
                "heaviest, update changing nothing",
                &same,
                Some(2.0),
                &handler,
                &proxy,
                &recorder,
                latency,
            )
            .await,
        );
        let update = update_after(&same, &name, lighter("rt-heavy"), "rt", &recorder);
        rows.push(
            measure(
                "heaviest, update to fewer policies",
                &update,
                Some(6.0),
                &handler,
                &proxy,
                &recorder,
                latency,
            )
            .await,
        );
        let delete = delete_after(&update, &name, "rt", &recorder);
        rows.push(
            measure(
                "heaviest (after update), delete",
                &delete,
                Some(5.0),
                &handler,
                &proxy,
                &recorder,
                latency,
            )
            .await,
        );
        assert_gone(&name).await;
        let create = create_event("HeaviestAgain", heaviest("rt-heavy2"), "rt", &recorder);
        let name = plan_of(&create).role.role_name;
        rows.push(
            measure(
                "heaviest, create (again)",
                &create,
                Some(4.0),
                &handler,
                &proxy,
                &recorder,
                latency,
            )
            .await,
        );
        let delete = delete_after(&create, &name, "rt", &recorder);
        rows.push(
            measure(
                "heaviest, delete",
                &delete,
                Some(5.0),
                &handler,
                &proxy,
                &recorder,
                latency,
            )
            .await,
        );
        assert_gone(&name).await;
    }

    println!(
        "IAM round trips per answer ({} ms per IAM call; calls made together count once):",
        latency.as_millis()
    );
    let mut met = true;
    for row in &rows {
        let verdict = match row.target {
            Some(target) if full && row.round_trips > target => {
                met = false;
                format!("target <= {target}: MISSED")
            }
            Some(target) if full => format!("target <= {target}: met"),
            _ => String::new(),
        };
        println!(
            "  {:<42} {:>5.1} round trips, {:>3} IAM calls  {verdict}",
            row.what, row.round_trips, row.calls
        );
    }
    met
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let met = runtime.block_on(run(full));
    if !met {
        std::process::exit(1);
    }
}
