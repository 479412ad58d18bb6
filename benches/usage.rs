//! `persona-role usage` reading speed and memory: a synthetic trail of gzip files as CloudTrail
//! delivers them (about 1.2 GB of records uncompressed, generated here on first run under
//! target/usage-bench and reused; never committed), read by the command's one call
//! (`usage::run`: the reader, mapping, attribution and the report) for a Data Scientist role on
//! all cores. Reports MB/s of uncompressed records and
//! the peak resident memory of the read. Targets: at least 1 GB per 10 s on two cores, under
//! 100 MB.
//!
//! `cargo bench --bench usage` (set USAGE_BENCH_MB to change the size); it says whether the
//! targets are met. Cargo.toml's bench profile optimises what this measures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use persona_role::context::{Partition, StackContext};
use persona_role::usage::{self, Input, Trail};
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "sagemaker-data-scientist";
const FILES: usize = 48;
/// 1 GB per 10 s.
const SPEED_TARGET_MB_S: f64 = 100.0;
const RSS_TARGET_MB: f64 = 100.0;

fn identity(i: usize) -> String {
    // Half the records are the role's; the rest other roles and users of the account.
    match i % 4 {
        0 | 1 => format!(
            r#"{{"type":"AssumedRole","principalId":"AROA3EXAMPLEDS:SageMaker","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/SageMaker","accountId":"{ACCOUNT}","accessKeyId":"ASIA3EXAMPLE{i:08}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA3EXAMPLEDS","arn":"arn:aws:iam::{ACCOUNT}:role/{ROLE}","accountId":"{ACCOUNT}","userName":"{ROLE}"}},"attributes":{{"creationDate":"2026-11-23T08:55:02Z","mfaAuthenticated":"false"}}}}}}"#
        ),
        2 => format!(
            r#"{{"type":"AssumedRole","principalId":"AROA3EXAMPLEOT:build-{i}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/build-{i}","accountId":"{ACCOUNT}","accessKeyId":"ASIA3EXAMPLE{i:08}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA3EXAMPLEOT","arn":"arn:aws:iam::{ACCOUNT}:role/ci-deployer","accountId":"{ACCOUNT}","userName":"ci-deployer"}},"attributes":{{"creationDate":"2026-11-23T08:55:02Z","mfaAuthenticated":"false"}}}}}}"#
        ),
        _ => format!(
            r#"{{"type":"IAMUser","principalId":"AIDA3EXAMPLE","arn":"arn:aws:iam::{ACCOUNT}:user/analyst-{}","accountId":"{ACCOUNT}","accessKeyId":"AKIA3EXAMPLE{i:08}","userName":"analyst-{}"}}"#,
            i % 7,
            i % 7
        ),
    }
}

fn record(i: usize) -> String {
    let time = format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}Z",
        23 + (i / 100_000) % 5,
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60
    );
    let who = identity(i);
    let tail = format!(
        r#""requestID":"{i:08x}-1111-2222-3333-444455556666","eventID":"{i:08x}-aaaa-bbbb-cccc-ddddeeeeffff","eventType":"AwsApiCall","recipientAccountId":"{ACCOUNT}","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"api.sagemaker.us-east-1.amazonaws.com"}}"#
    );
    match i % 10 {
        0..=4 => format!(
            r#"{{"eventVersion":"1.10","userIdentity":{who},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"[Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10 lang/python#3.11.9]","requestParameters":{{"bucketName":"ml-team-data","Host":"ml-team-data.s3.us-east-1.amazonaws.com","key":"datasets/churn/part-{i:06}.parquet"}},"responseElements":null,"additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"EXAMPLE{i}","bytesTransferredOut":52428}},"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::ml-team-data/datasets/churn/part-{i:06}.parquet"}},{{"accountId":"{ACCOUNT}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::ml-team-data"}}],"readOnly":true,"managementEvent":false,"eventCategory":"Data",{tail}}}"#
        ),
        5..=7 => format!(
            r#"{{"eventVersion":"1.09","userIdentity":{who},"eventTime":"{time}","eventSource":"sagemaker.amazonaws.com","eventName":"DescribeTrainingJob","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"AWS-SageMaker-Python-SDK/2.232.0 Python/3.11.9","requestParameters":{{"trainingJobName":"churn-xgb-{:04}"}},"responseElements":null,"readOnly":true,"managementEvent":true,"eventCategory":"Management",{tail}}}"#,
            i % 500
        ),
        8 => format!(
            r#"{{"eventVersion":"1.09","userIdentity":{who},"eventTime":"{time}","eventSource":"sagemaker.amazonaws.com","eventName":"CreateTrainingJob","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"AWS-SageMaker-Python-SDK/2.232.0 Python/3.11.9","requestParameters":{{"trainingJobName":"churn-xgb-{i}","roleArn":"arn:aws:iam::{ACCOUNT}:role/sagemaker-compute","algorithmSpecification":{{"trainingImage":"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1","trainingInputMode":"File"}},"resourceConfig":{{"instanceType":"ml.m5.xlarge","instanceCount":1,"volumeSizeInGB":30}},"outputDataConfig":{{"s3OutputPath":"s3://ml-team-data/models/"}},"stoppingCondition":{{"maxRuntimeInSeconds":86400}},"tags":[{{"key":"project","value":"churn"}}]}},"responseElements":{{"trainingJobArn":"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/churn-xgb-{i}"}},"readOnly":false,"managementEvent":true,"eventCategory":"Management",{tail}}}"#
        ),
        _ => format!(
            r#"{{"eventVersion":"1.10","userIdentity":{who},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"[Boto3/1.35.36]","errorCode":"AccessDenied","errorMessage":"Access Denied","requestParameters":{{"bucketName":"other-bucket-{}","Host":"other-bucket.s3.us-east-1.amazonaws.com","key":"results/{i}.csv"}},"responseElements":null,"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::other-bucket-{}/results/{i}.csv"}},{{"accountId":"{ACCOUNT}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::other-bucket-{}"}}],"readOnly":false,"managementEvent":false,"eventCategory":"Data",{tail}}}"#,
            i % 3,
            i % 3,
            i % 3
        ),
    }
}

/// Writes the trail unless a trail of this size is there already; returns its files.
fn trail(dir: &Path, megabytes: usize) -> std::io::Result<Vec<PathBuf>> {
    let marker = dir.join(format!("complete-{megabytes}MB"));
    let files: Vec<PathBuf> = (0..FILES)
        .map(|f| {
            dir.join(format!(
                "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/{:02}/{ACCOUNT}_CloudTrail_us-east-1_20261123T{:04}Z_bench{f:03}.json.gz",
                23 + f % 5,
                f
            ))
        })
        .collect();
    if marker.exists() {
        return Ok(files);
    }
    let _ = std::fs::remove_dir_all(dir);
    let per_file = megabytes * 1_000_000 / FILES;
    let started = Instant::now();
    let mut i = 0usize;
    for path in &files {
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        let file = std::fs::File::create(path)?;
        let mut gz = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::fast(),
        );
        let mut written = 0;
        gz.write_all(br#"{"Records":["#)?;
        let mut first = true;
        while written < per_file {
            let r = record(i);
            i += 1;
            if !first {
                gz.write_all(b",")?;
            }
            first = false;
            gz.write_all(r.as_bytes())?;
            written += r.len() + 1;
        }
        gz.write_all(b"]}")?;
        gz.finish()?;
    }
    std::fs::write(&marker, format!("{i} records\n"))?;
    eprintln!(
        "generated {megabytes} MB of records ({i}) in {FILES} files under {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(files)
}

/// CPU time of the process so far (all its threads), in seconds: what the read costs whatever
/// else the machine runs.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ, 100 on Linux.
    Some(ticks / 100.0)
}

/// Peak resident memory (VmHWM), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this too, without it, and
    // then only a small trail is read, once, to prove the bench still runs.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let megabytes: usize = std::env::var("USAGE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 1200 } else { 2 });
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(if benchmarking {
        "target/usage-bench"
    } else {
        "target/usage-bench-smoke"
    });
    let files = trail(&dir, megabytes)?;

    let context = StackContext::new(Partition::Aws, ACCOUNT, "us-east-1", "bench", "Role")?;
    let properties = json!({
        "Persona": "DataScientist",
        "RoleNameSuffix": "data-scientist",
        "PassRoles": [format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-compute")],
        "S3Buckets": ["ml-team-data"]
    });
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // Measure the read's peak alone: reset the high-water mark the generation left (Linux).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let outcome = usage::run(Input {
        properties: &properties,
        context: &context,
        role_arn: None,
        since: None,
        until: None,
        trail: Trail::Paths(&files),
        threads,
        propose: false,
        progress: None,
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let bytes = outcome.bytes;
    let report = &outcome.report;
    let refused: usize = report.denied.iter().map(|g| g.calls.len()).sum();
    let mb = bytes as f64 / 1_000_000.0;
    let speed = mb / seconds;
    let peak = peak_rss_mb();
    println!(
        "usage: {mb:.0} MB of records ({} records, {} of the role, {} refused call kinds) in {} gzip files on {threads} threads: {seconds:.2} s, {speed:.0} MB/s ({:.1} s per GB); peak RSS {} MB",
        report.records,
        report.role_records,
        refused,
        report.files,
        seconds * 1000.0 / mb,
        peak.map_or_else(|| "?".to_owned(), |m| format!("{m:.1}")),
    );
    // On a shared machine the wall clock counts the others' work too; the CPU time does not.
    if let Some(cpu) = cpu {
        println!(
            "CPU time {cpu:.1} s: {:.0} MB per CPU second ({:.0} MB/s with {threads} cores to itself)",
            mb / cpu,
            mb / cpu * threads as f64
        );
    }
    if benchmarking {
        let verdict = |pass: bool| if pass { "pass" } else { "FAIL" };
        println!(
            "targets: at least {SPEED_TARGET_MB_S:.0} MB/s: {}; peak RSS under {RSS_TARGET_MB:.0} MB: {}",
            verdict(speed >= SPEED_TARGET_MB_S),
            peak.map_or("unknown", |m| verdict(m < RSS_TARGET_MB)),
        );
    }
    Ok(())
}
