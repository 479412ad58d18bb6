//! How many IAM round trips an event's answer waits for. IAM sits behind the fault proxy with a
//! fixed latency on every call; each event runs through the real handler, and its answer time
//! divided by that latency is the number of round trips on its critical path (calls made
//! together count once). Reported beside the calls made and the targets:
//!
//!   cargo bench --bench round_trips     # 1 s per call, every event, targets checked
//!
//! Under `cargo test` it runs a short smoke pass (10 ms, one role) that checks only that every
//! answer is SUCCESS. The stack check's CloudFormation reads go to the local stand-in, without
//! latency: the figures are IAM's alone. The per-stack limits are the template's defaults, so
//! that a plan with own policies counts them (ListPolicies) in its first read wave, as deployed.
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
    what: String,
    took: Duration,
    calls: usize,
    target: f64,
    by_operation: String,
}

/// The IAM stand-in behind the proxy, the ResponseURL recorder and the handler of one pass.
struct Bench {
    handler: TestHandler,
    proxy: FaultProxy,
    recorder: Recorder,
}

impl Bench {
    /// One role's life, each event measured: Create, an Update changing nothing, an Update to
    /// `changed` if given, Delete.
    async fn life(
        &self,
        role: &'static str,
        logical_id: &str,
        properties: Value,
        changed: Option<Value>,
        rows: &mut Vec<Timed>,
    ) {
        let recorder = &self.recorder;
        let create = create_event(logical_id, properties, "rt", recorder);
        let name = plan_of(&create).role.role_name;
        rows.push(self.measure(role, "create", &create, 4.0).await);
        let same = create["ResourceProperties"].clone();
        let mut last = update_after(&create, &name, same, "rt", recorder);
        rows.push(
            self.measure(role, "update changing nothing", &last, 2.0)
                .await,
        );
        if let Some(changed) = changed {
            last = update_after(&last, &name, changed, "rt", recorder);
            rows.push(
                self.measure(role, "update to fewer policies", &last, 6.0)
                    .await,
            );
        }
        let delete = delete_after(&last, &name, "rt", recorder);
        rows.push(self.measure(role, "delete", &delete, 5.0).await);
        assert_gone(&name).await;
    }

    async fn measure(&self, role: &str, event: &str, body: &Value, target: f64) -> Timed {
        let what = format!("{role}, {event}");
        let before = self.proxy.seen();
        let start = Instant::now();
        let answer = invoke(&self.handler, body, &self.recorder).await;
        let took = start.elapsed();
        assert_eq!(answer["Status"], "SUCCESS", "{what}: {answer}");
        let made: Vec<(String, usize)> = self
            .proxy
            .seen()
            .into_iter()
            .map(|(operation, count)| {
                let made = count - before.get(&operation).copied().unwrap_or(0);
                (operation, made)
            })
            .filter(|(_, made)| *made > 0)
            .collect();
        Timed {
            what,
            took,
            calls: made.iter().map(|(_, made)| made).sum(),
            target,
            by_operation: made
                .iter()
                .map(|(operation, made)| format!("{operation} {made}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// A handler whose IAM goes through `proxy`, with the template's default per-stack limits and
/// no other guardrail (the scenarios pass roles no stack owns).
fn limited_handler(proxy: &FaultProxy) -> TestHandler {
    let deployed = deployed::Deployment::defaults().guardrails();
    let guardrails = persona_role::guardrails::Guardrails {
        max_roles_per_stack: deployed.max_roles_per_stack,
        max_own_policies_per_stack: deployed.max_own_policies_per_stack,
        ..Default::default()
    };
    handler_with(
        iam_client_with(proxy.endpoint(), None, &quick_policy()),
        persona_role::handler::Settings {
            guardrails,
            ..settings()
        },
    )
}

/// Every scenario once, IAM behind `latency`; role names carry `pass` so passes do not meet.
async fn scenarios(full: bool, latency: Duration, pass: &str) -> Vec<Timed> {
    let proxy = FaultProxy::start(moto_endpoint());
    proxy.latency(latency);
    let bench = Bench {
        handler: limited_handler(&proxy),
        proxy,
        recorder: Recorder::start(),
    };
    let mut rows = Vec::new();
    let ds = data_scientist(&format!("rt-ds-{pass}"));
    bench
        .life("Data Scientist", "RoundTrips", ds, None, &mut rows)
        .await;
    if full {
        let suffix = format!("rt-heavy-{pass}");
        let heaviest = samples::heaviest(&suffix, 20);
        let fewer = Some(samples::heaviest(&suffix, 12));
        bench
            .life("heaviest", "Heaviest", heaviest, fewer, &mut rows)
            .await;
        let suffix = format!("rt-heavy2-{pass}");
        let heaviest = samples::heaviest(&suffix, 20);
        bench
            .life(
                "heaviest (again)",
                "HeaviestAgain",
                heaviest,
                None,
                &mut rows,
            )
            .await;
    }
    rows
}

/// Runs every scenario without latency, then with it: the difference over the latency is the
/// round trips, free of the time moto and the handler themselves take.
async fn run(full: bool) -> bool {
    // A second per call: the handler's and moto's own time, which varies by a few hundred
    // milliseconds between passes, then shifts the figures by tenths, not whole round trips.
    let latency = Duration::from_millis(if full { 1000 } else { 10 });
    let base = scenarios(full, Duration::ZERO, "a").await;
    let slow = scenarios(full, latency, "b").await;
    println!(
        "IAM round trips per answer ({} ms added to every IAM call; calls made together count once):",
        latency.as_millis()
    );
    let mut met = true;
    for (fast, slow) in base.iter().zip(&slow) {
        let round_trips = slow.took.saturating_sub(fast.took).as_secs_f64() / latency.as_secs_f64();
        // Round trips are whole; the tenths are moto answering a burst of calls one by one.
        let verdict = if !full {
            String::new()
        } else if round_trips.round() > slow.target {
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
