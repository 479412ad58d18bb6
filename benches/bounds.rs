//! Input bounds: how fast absurd input is refused. A list of 50,000 values and a list at the
//! bound (what no role can hold, refused by the quota check after planning), and the raw
//! reading of an event at the size bound and of one nested 1,000 levels deep.

use criterion::{Criterion, criterion_group, criterion_main};
use persona_role::cfn;
use persona_role::context::StackContext;
use persona_role::plan;
use persona_role::properties::MAX_LIST_ITEMS;
use serde_json::{Value, json};

fn workgroups(n: usize) -> Value {
    json!({
        "Persona": "Custom",
        "Activities": ["Query Athena Workgroups"],
        "S3Buckets": ["ml-team-datasets"],
        "AthenaWorkgroups": (0..n).map(|i| format!("analytics-{i:05}")).collect::<Vec<_>>(),
    })
}

fn event(properties: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "RequestType": "Create",
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f",
        "RequestId": "r-1",
        "LogicalResourceId": "Role",
        "ResourceType": "Custom::SageMakerPersonaRole",
        "ResourceProperties": properties,
    }))
    .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let Ok(context) = StackContext::from_stack_id(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f",
        "Role",
    ) else {
        return;
    };
    let huge = workgroups(50_000);
    c.bench_function("refuse 50,000 AthenaWorkgroups", |b| {
        b.iter(|| plan::plan_properties(std::hint::black_box(&huge), &context))
    });
    let at_bound = workgroups(MAX_LIST_ITEMS);
    c.bench_function("plan AthenaWorkgroups at the list bound", |b| {
        b.iter(|| plan::plan_properties(std::hint::black_box(&at_bound), &context))
    });
    let large = event(workgroups(30_000));
    c.bench_function("read an event over the size bound", |b| {
        b.iter(|| cfn::event::read_event(std::hint::black_box(&large)))
    });
    let mut deep = json!("x");
    for _ in 0..1_000 {
        deep = json!([deep]);
    }
    let deep = serde_json::to_vec(&deep).unwrap_or_default();
    c.bench_function("read an event nested 1,000 deep", |b| {
        b.iter(|| cfn::event::read_event(std::hint::black_box(&deep)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
