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

use serde_json::{Value, json};
use support::*;

fn data_scientist(suffix: &str) -> Value {
    let mut properties = samples::properties("DataScientist", None, 2, true, false, "aws");
    properties["RoleNameSuffix"] = json!(suffix);
    properties
}

/// One event's answer time and the IAM calls it made.
struct Timed {
    what: &'static str,
    took: Duration,
    calls: usize,
    target: f64,
    by_operation: String,
}

async fn measure(
    what: &'static str,
    event: &Value,
    target: f64,
    handler: &TestHandler,
    proxy: &FaultProxy,
    recorder: &Recorder,
) -> Timed {
    let before = proxy.seen();
    let start = Instant::now();
    let answer = invoke(handler, event, recorder).await;
    let took = start.elapsed();
    assert_eq!(answer["Status"], "SUCCESS", "{what}: {answer}");
    let by_operation: Vec<String> = proxy
        .seen()
        .into_iter()
        .filter_map(|(operation, count)| {
            let made = count - before.get(&operation).copied().unwrap_or(0);
            (made > 0).then(|| format!("{operation} {made}"))
        })
        .collect();
    Timed {
        what,
        took,
        calls: by_operation
            .iter()
            .filter_map(|o| o.rsplit_once(' ')?.1.parse::<usize>().ok())
            .sum(),
        target,
        by_operation: by_operation.join(", "),
    }
}

/// Every scenario once, IAM behind `latency`; role names carry `pass` so passes do not meet.
async fn scenarios(full: bool, latency: Duration, pass: &str) -> Vec<Timed> {
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.latency(latency);
    let recorder = Recorder::start();
    let handler = handler_through(&proxy, None);
    let h = (&handler, &proxy, &recorder);
    let mut rows = Vec::new();

    let create = create_event(
        "RoundTrips",
        data_scientist(&format!("rt-ds-{pass}")),
        "rt",
        &recorder,
    );
    let name = plan_of(&create).role.role_name;
    rows.push(measure("Data Scientist, create", &create, 4.0, h.0, h.1, h.2).await);
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
            2.0,
            h.0,
            h.1,
            h.2,
        )
        .await,
    );
    let delete = delete_after(&same, &name, "rt", &recorder);
    rows.push(measure("Data Scientist, delete", &delete, 5.0, h.0, h.1, h.2).await);
    assert_gone(&name).await;
    if !full {
        return rows;
    }
    let suffix = format!("rt-heavy-{pass}");
    let create = create_event("Heaviest", samples::heaviest(&suffix, 20), "rt", &recorder);
    let name = plan_of(&create).role.role_name;
    rows.push(measure("heaviest, create", &create, 4.0, h.0, h.1, h.2).await);
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
            2.0,
            h.0,
            h.1,
            h.2,
        )
        .await,
    );
    let update = update_after(
        &same,
        &name,
        samples::heaviest(&suffix, 12),
        "rt",
        &recorder,
    );
    rows.push(
        measure(
            "heaviest, update to fewer policies",
            &update,
            6.0,
            h.0,
            h.1,
            h.2,
        )
        .await,
    );
    let delete = delete_after(&update, &name, "rt", &recorder);
    rows.push(
        measure(
            "heaviest (after that update), delete",
            &delete,
            5.0,
            h.0,
            h.1,
            h.2,
        )
        .await,
    );
    assert_gone(&name).await;
    let suffix = format!("rt-heavy2-{pass}");
    let create = create_event(
        "HeaviestAgain",
        samples::heaviest(&suffix, 20),
        "rt",
        &recorder,
    );
    let name = plan_of(&create).role.role_name;
    rows.push(measure("heaviest, create (again)", &create, 4.0, h.0, h.1, h.2).await);
    let delete = delete_after(&create, &name, "rt", &recorder);
    rows.push(measure("heaviest, delete", &delete, 5.0, h.0, h.1, h.2).await);
    assert_gone(&name).await;
    rows
}

/// Runs every scenario without latency, then with it: the difference over the latency is the
/// round trips, free of the time moto and the handler themselves take.
async fn run(full: bool) -> bool {
    let latency = Duration::from_millis(if full { 250 } else { 10 });
    let base = scenarios(full, Duration::ZERO, "a").await;
    let slow = scenarios(full, latency, "b").await;
    println!(
        "IAM round trips per answer ({} ms added to every IAM call; calls made together count once):",
        latency.as_millis()
    );
    let mut met = true;
    for (fast, slow) in base.iter().zip(&slow) {
        let round_trips = slow.took.saturating_sub(fast.took).as_secs_f64() / latency.as_secs_f64();
        let verdict = if !full {
            String::new()
        } else if round_trips > slow.target {
            met = false;
            format!("target <= {}: MISSED", slow.target)
        } else {
            format!("target <= {}: met", slow.target)
        };
        println!(
            "  {:<40} {:>5.1} round trips, {:>3} IAM calls, {:>6.2} s without latency  {verdict}",
            slow.what,
            round_trips,
            slow.calls,
            fast.took.as_secs_f64()
        );
        println!("      {}", slow.by_operation);
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
