//! The `persona-role` CLI: commands run in process against buffers, and a few runs of the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use crate::common;

use common::cli;
use serde_json::Value;

fn events_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

#[test]
fn plan_without_a_file_plans_the_built_in_data_scientist() {
    let output = cli(&["plan"], "");
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(plan["Role"]["RoleName"], "sagemaker-data-scientist");
    assert_eq!(plan["Activities"][1], "Manage ML Jobs");
}

#[test]
fn plan_of_an_event_file_takes_the_stack_from_its_stack_id() {
    let path = events_dir().join("compute-create.json");
    let output = cli(&["plan", path.to_str().unwrap()], "");
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(
        plan["Role"]["Arn"],
        "arn:aws:iam::123456789012:role/sagemaker-compute"
    );
    let tags = plan["Role"]["Tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["Key"] == "persona-role:logical-id" && t["Value"] == "Compute")
    );
}

#[test]
fn plan_reads_yaml_properties_from_stdin_with_account_and_partition_flags() {
    let yaml = "Persona: SageMakerCompute\nRoleNameSuffix: gov-compute\nS3Buckets:\n  - gov-data\n";
    let output = cli(
        &[
            "plan",
            "-",
            "--account",
            "210987654321",
            "--region",
            "us-gov-west-1",
        ],
        yaml,
    );
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(
        plan["Role"]["Arn"],
        "arn:aws-us-gov:iam::210987654321:role/sagemaker-gov-compute"
    );
    assert!(output.stdout.contains("arn:aws-us-gov:s3:::gov-data/*"));
}

#[test]
fn plan_output_is_byte_identical_across_runs() {
    let path = events_dir().join("data-scientist-create.json");
    let first = cli(&["plan", path.to_str().unwrap()], "").stdout;
    let second = cli(&["plan", path.to_str().unwrap()], "").stdout;
    assert_eq!(first, second);
}

#[test]
fn properties_without_an_account_plan_for_the_placeholder_account_and_say_so() {
    let output = cli(
        &["plan", "-"],
        "{\"Persona\": \"SageMakerCompute\", \"S3Buckets\": \"data\"}",
    );
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    assert!(
        plan["Role"]["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::000000000000:role/"),
        "{}",
        plan["Role"]["Arn"]
    );
    let warning = "no account given: ARNs name the placeholder account 000000000000";
    assert!(
        plan["Warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with(warning)),
        "{}",
        output.stdout
    );
    assert!(output.stderr.contains(warning), "{}", output.stderr);
}

#[test]
fn without_an_account_the_plan_takes_the_account_of_the_roles_to_pass() {
    let yaml = "Persona: DataScientist\nPassRoles: [arn:aws:iam::111122223333:role/compute]\nS3Buckets: [data]\n";
    let output = cli(&["plan", "-"], yaml);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    assert!(
        plan["Role"]["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::111122223333:role/")
    );
    assert!(
        output
            .stderr
            .contains("planned for account 111122223333, which PassRoles[0] names"),
        "{}",
        output.stderr
    );
}

#[test]
fn property_errors_are_reported_without_an_account() {
    for command in ["plan", "validate", "export"] {
        let output = cli(&[command, "-"], r#"{"Persona": "MLOps", "Bogus": "x"}"#);
        assert_eq!(output.code, 1, "{command}: {}", output.stderr);
        // validate reports the schema's wording, plan and export the planner's.
        assert!(
            output.stderr.contains("  - Bogus: unknown property")
                || output.stderr.contains("'Bogus' was unexpected"),
            "{command}: {}",
            output.stderr
        );
        assert!(!output.stderr.contains("--account"), "{}", output.stderr);
    }
}

#[test]
fn validate_without_an_account_notes_the_placeholder() {
    let output = cli(
        &["validate", "-"],
        "{\"Persona\": \"SageMakerCompute\", \"S3Buckets\": [\"data\"]}",
    );
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(
        output.stdout.starts_with("valid: role "),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("note: no account given: ARNs name the placeholder account 000000000000"),
        "{}",
        output.stdout
    );
}

#[test]
fn invalid_properties_list_every_error_on_stderr_with_exit_code_1() {
    let output = cli(
        &["plan", "-", "--account", "123456789012"],
        r#"{"Persona": "DataScientst", "MaxSessionDuration": "9"}"#,
    );
    assert_eq!(output.code, 1);
    assert!(output.stdout.is_empty());
    assert!(
        output
            .stderr
            .contains("  - Persona: unknown persona `DataScientst` (did you mean `DataScientist`?"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("  - MaxSessionDuration: `9` is not a whole number"),
        "{}",
        output.stderr
    );
}

#[test]
fn unreadable_and_unparsable_files_fail_with_exit_code_2() {
    let missing = cli(&["plan", "/nonexistent/props.json"], "");
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read `/nonexistent/props.json`")
    );
    let garbage = cli(&["plan", "-", "--account", "123456789012"], "{ not: [json");
    assert_eq!(garbage.code, 2);
    assert!(
        garbage.stderr.contains("neither JSON nor YAML"),
        "{}",
        garbage.stderr
    );
}

#[test]
fn catalog_table_lists_every_persona_and_activity() {
    let output = cli(&["catalog"], "");
    assert_eq!(output.code, 0);
    for persona in persona_role::catalog::PERSONAS {
        assert!(output.stdout.contains(persona.id), "{}", persona.id);
    }
    for activity in persona_role::catalog::ACTIVITIES {
        assert!(output.stdout.contains(activity.id), "{}", activity.id);
    }
    assert!(output.stdout.contains("PassRoles*"));
}

#[test]
fn catalog_json_carries_actions_and_parameters() {
    let output = cli(&["catalog", "--json"], "");
    let catalog: Value = serde_json::from_str(&output.stdout).unwrap();
    let activities = catalog["Activities"].as_array().unwrap();
    assert_eq!(activities.len(), persona_role::catalog::ACTIVITIES.len());
    let jobs = activities
        .iter()
        .find(|a| a["Id"] == "manage-ml-jobs")
        .unwrap();
    assert!(
        jobs["Actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "sagemaker:CreateTrainingJob")
    );
    assert!(
        jobs["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Name"] == "PassRoles" && p["Required"] == true)
    );
    assert_eq!(catalog["Personas"].as_array().unwrap().len(), 4);
}

#[test]
fn the_binary_exits_non_zero_with_errors_on_stderr() {
    let output = Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .args(["plan", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: cannot read"));
    let ok = Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .arg("plan")
        .output()
        .unwrap();
    assert!(ok.status.success());
    let plan: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert!(plan["InlinePolicies"][0]["Size"].as_u64().unwrap() > 0);
}

#[test]
fn readme_exit_code_table_is_up_to_date() {
    use persona_role::cli::{README_EXITS_BEGIN, README_EXITS_END, readme_exits};
    common::assert_readme_section(
        README_EXITS_BEGIN,
        README_EXITS_END,
        &readme_exits(),
        "run `UPDATE_GOLDEN=1 cargo test --test offline -- cli::`",
    );
}

#[test]
fn the_binary_exits_with_each_documented_code() {
    use persona_role::cli::Exit;
    use std::io::Write;
    // The numbers are the promise (scripts and CI gate on them), so they are spelled out here.
    assert_eq!(Exit::ALL.map(Exit::code), [0, 1, 1, 2]);
    let invalid = r#"{"Persona": "DataScientst"}"#;
    let (base, buckets) = (
        "tests/diff-golden/base.yaml",
        "tests/diff-golden/buckets.yaml",
    );
    let cases: [(&[&str], &str, Exit); 7] = [
        (&["catalog"], "", Exit::Ok),
        (&["plan", "-"], invalid, Exit::Invalid),
        (&["plan", "/nonexistent.json"], "", Exit::CannotRun),
        // clap refuses unknown arguments before any command runs, with the same code.
        (&["plan", "--no-such-flag"], "", Exit::CannotRun),
        (&["diff", base, base], "", Exit::Ok),
        (&["diff", base, buckets], "", Exit::Changes),
        // For diff, invalid properties are a failure to compare, never "changes".
        (&["diff", base, "-"], invalid, Exit::CannotRun),
    ];
    for (args, stdin, exit) in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_persona-role"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(i32::from(exit.code())),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
