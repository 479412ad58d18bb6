//! Planning speed: the largest persona (Data Scientist with VPC and KMS), and every activity at
//! once, from raw properties to packed policies.

use criterion::{Criterion, criterion_group, criterion_main};
use persona_role::catalog::{self, Param};
use persona_role::context::StackContext;
use persona_role::plan;
use serde_json::{Map, Value, json};

fn properties(activities: Option<Vec<&str>>, n: usize) -> Value {
    let mut map = Map::new();
    map.insert("Persona".to_owned(), json!("DataScientist"));
    if let Some(activities) = activities {
        map.insert("Persona".to_owned(), json!("Custom"));
        map.insert("Activities".to_owned(), json!(activities));
    }
    let values = |param: Param| -> Vec<String> {
        (0..n)
            .map(|i| match param {
                Param::PassRoles => format!("arn:aws:iam::123456789012:role/service-role/compute-{i}"),
                Param::S3Buckets => format!("ml-team-{i:02}-datasets"),
                Param::S3BucketAccounts => format!("2222333344{i:02}"),
                Param::EcrRepositories => format!("arn:aws:ecr:us-east-1:123456789012:repository/ml-{i}"),
                Param::AthenaWorkgroups => format!("analytics-{i}"),
                Param::GlueDatabases => format!("features_{i}"),
                Param::VpcSubnets => format!("subnet-0a1b2c3d4e5f607{i:02}"),
                Param::VpcSecurityGroups => format!("sg-0a1b2c3d4e5f607{i:02}"),
                Param::DataKmsKeys => format!("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890{i:02}"),
                Param::VolumeKmsKeys => format!("arn:aws:kms:us-east-1:123456789012:key/9876fedc-12ab-34cd-56ef-1234567890{i:02}"),
                Param::KendraIndexes => format!("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8{i:02}"),
                Param::MlflowTrackingServers => format!("arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t-{i}"),
            })
            .collect()
    };
    for param in Param::ALL {
        map.insert(param.name().to_owned(), json!(values(param)));
    }
    Value::Object(map)
}

fn bench(c: &mut Criterion) {
    let Ok(context) = StackContext::from_stack_id(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f",
        "DataScientist",
    ) else {
        return;
    };
    let data_scientist = properties(None, 3);
    c.bench_function("plan data scientist vpc kms", |b| {
        b.iter(|| plan::plan_properties(std::hint::black_box(&data_scientist), &context))
    });
    let all: Vec<&str> = catalog::ACTIVITIES.iter().map(|a| a.id).collect();
    let everything = properties(Some(all), 5);
    c.bench_function("plan all 22 activities vpc kms", |b| {
        b.iter(|| plan::plan_properties(std::hint::black_box(&everything), &context))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
