//! `persona-role diff`: goldens for each kind of change between two declarations
//! (`tests/diff-golden/<case>.txt`, rewrite after review with `UPDATE_GOLDEN=1 cargo test --test
//! diff`), the exit status (0 no change, 1 changes, 2 could not compare), JSON and colour; and
//! `diff --live` against roles in moto: a role this project made, a console-made role before and
//! after it is converged in place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::console as migration;
use crate::support;

use std::path::PathBuf;

use clap::Parser;
use persona_role::cli::{Cli, run};
use serde_json::{Value, json};

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(args: &[&str]) -> Output {
    let cli =
        Cli::try_parse_from(std::iter::once("persona-role").chain(args.iter().copied())).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = run(cli, &mut std::io::empty(), &mut out, &mut err);
    Output {
        code: i32::from(exit.code()),
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

/// Relative to the package root (cargo's working directory for tests), so labels in the
/// goldens do not depend on where the checkout lives.
fn input(name: &str) -> String {
    format!("tests/diff-golden/{name}")
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/diff-golden")
}

fn assert_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with UPDATE_GOLDEN=1 cargo test --test migration -- diff::",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs; review, then UPDATE_GOLDEN=1 cargo test --test migration -- diff::",
        path.display()
    );
}

/// Each kind of change, as `persona-role diff OLD NEW` prints it.
#[test]
fn each_kind_of_change_matches_its_golden_and_exits_1() {
    let cases = [
        // An activity: statements and allowed actions added, the inline policy grows.
        ("activity-added", "base.yaml", "athena.yaml"),
        // A parameter value: resources added to the statements that use it.
        ("bucket-added", "base.yaml", "buckets.yaml"),
        // Another account's buckets: its account added to the S3 statements' conditions.
        ("bucket-accounts-added", "base.yaml", "bucket-accounts.yaml"),
        // VPC customization: conditions added to the job-creating statements.
        ("vpc-conditions", "base.yaml", "vpc.yaml"),
        // Roles to pass: resources added and removed.
        ("pass-roles-changed", "base.yaml", "pass-roles.yaml"),
        // Role settings: path, description, session, boundary, tags.
        ("role-settings", "base.yaml", "role.yaml"),
        // AWS managed and user-given policies attached; back again: detached.
        ("policies-attached", "base.yaml", "attached.yaml"),
        ("policies-detached", "attached.yaml", "base.yaml"),
        // Past the inline quota: a managed policy is created and a statement moves into it.
        ("packed-into-managed", "base.yaml", "packed.yaml"),
        // And back: the managed policy is deleted, the statement moves back.
        ("managed-deleted", "packed.yaml", "base.yaml"),
        // A new role name.
        ("renamed", "base.yaml", "renamed.yaml"),
        // Regions: the trust policy and every regional ARN.
        ("regions", "compute.yaml", "compute-regions.yaml"),
    ];
    for (name, old, new) in cases {
        let output = cli(&["diff", &input(old), &input(new)]);
        assert_eq!(output.code, 1, "{name}: {}", output.stderr);
        assert_golden(&format!("{name}.txt"), &output.stdout);
    }
}

#[test]
fn the_json_output_matches_its_golden() {
    let output = cli(&["diff", &input("base.yaml"), &input("vpc.yaml"), "--json"]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let value: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(value["Changed"], true);
    assert_eq!(value["RoleName"], "sagemaker-data-scientist");
    assert_golden("vpc-conditions.json", &output.stdout);
}

#[test]
fn identical_declarations_exit_0_with_no_change() {
    let output = cli(&["diff", &input("base.yaml"), &input("base.yaml")]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_eq!(
        output.stdout,
        "--- tests/diff-golden/base.yaml\n+++ tests/diff-golden/base.yaml\nno change to role sagemaker-data-scientist\n"
    );
    let json = cli(&["diff", &input("base.yaml"), &input("base.yaml"), "--json"]);
    assert_eq!(json.code, 0);
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["Changed"], false);
    assert!(value.get("Statements").is_none());
}

#[test]
fn the_account_note_goes_to_stderr_once() {
    let output = cli(&["diff", &input("base.yaml"), &input("athena.yaml")]);
    assert_eq!(
        output.stderr,
        "note: no account given: planned for account 123456789012, which PassRoles[0] names; give --account to choose another\n"
    );
    let given = cli(&[
        "diff",
        &input("base.yaml"),
        &input("athena.yaml"),
        "--account",
        "123456789012",
    ]);
    assert_eq!(given.stderr, "");
    assert_eq!(given.stdout, output.stdout);
}

#[test]
fn a_properties_file_is_compared_in_the_stack_of_the_event_on_the_other_side() {
    let event_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/data-scientist-create.json");
    let event: Value =
        serde_json::from_str(&std::fs::read_to_string(&event_path).unwrap()).unwrap();
    let dir = scratch("event-vs-file");
    let same = dir.join("same.json");
    std::fs::write(&same, event["ResourceProperties"].to_string()).unwrap();
    let output = cli(&["diff", event_path.to_str().unwrap(), same.to_str().unwrap()]);
    assert_eq!(
        output.code, 0,
        "the ownership tags come from the event's stack on both sides: {}{}",
        output.stdout, output.stderr
    );
    let mut changed = event["ResourceProperties"].clone();
    changed["MaxSessionDuration"] = json!("7200");
    let other = dir.join("changed.json");
    std::fs::write(&other, changed.to_string()).unwrap();
    let output = cli(&[
        "diff",
        event_path.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 1);
    assert!(
        output
            .stdout
            .contains("  ~ max session duration: 3600 → 7200 seconds\n"),
        "{}",
        output.stdout
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("persona-role-diff-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn inputs_that_cannot_be_compared_exit_2() {
    let missing = cli(&["diff", &input("base.yaml"), "/nonexistent/new.yaml"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read `/nonexistent/new.yaml`")
    );

    let dir = scratch("invalid");
    let invalid = dir.join("invalid.yaml");
    std::fs::write(&invalid, "Persona: DataScientst\n").unwrap();
    let output = cli(&["diff", &input("base.yaml"), invalid.to_str().unwrap()]);
    assert_eq!(output.code, 2, "invalid properties are not a change");
    assert!(
        output.stderr.contains(&format!(
            "in {}:\nerror: 1 invalid property\n  - Persona: unknown persona `DataScientst`",
            invalid.display()
        )),
        "{}",
        output.stderr
    );

    let usage = cli(&["diff", &input("base.yaml")]);
    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.contains("diff takes two files"),
        "{}",
        usage.stderr
    );
    let usage = cli(&[
        "diff",
        "--live",
        "r",
        &input("base.yaml"),
        &input("base.yaml"),
    ]);
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("takes one file"), "{}", usage.stderr);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let plain = cli(&["diff", &input("base.yaml"), &input("buckets.yaml")]);
    assert!(!plain.stdout.contains('\x1b'));
    let coloured = cli(&[
        "diff",
        &input("base.yaml"),
        &input("buckets.yaml"),
        "--color",
        "always",
    ]);
    assert!(
        coloured
            .stdout
            .contains("\x1b[32m+ resource arn:aws:s3:::ml-team-scratch\x1b[0m"),
        "{}",
        coloured.stdout
    );
    // The binary writing to a pipe: not a terminal, so no colour.
    let binary = std::process::Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .args(["diff", &input("base.yaml"), &input("buckets.yaml")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(binary.status.code(), Some(1));
    assert_eq!(String::from_utf8(binary.stdout).unwrap(), plain.stdout);
}

// ------------------------------------------------------------------------------ --live

#[test]
fn live_diff_of_a_role_this_project_made_shows_nothing_then_what_changed_by_hand() {
    let name = migration::unique("live-own");
    let properties = json!({
        "Persona": "SageMakerCompute",
        "RoleNameSuffix": name.trim_start_matches("sagemaker-"),
        "S3Buckets": ["ml-team-data"],
    });
    migration::runtime().block_on(migration::create_with_handler(&properties, "Compute"));
    let dir = scratch("live-own");
    let file = dir.join("compute.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(&properties).unwrap()).unwrap();

    let output = migration::binary(&["diff", "--live", &name, file.to_str().unwrap()]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output
            .stdout
            .ends_with(&format!("no change to role {name}\n")),
        "{}",
        output.stdout
    );

    // By hand: a bucket added to the inline policy.
    migration::runtime().block_on(async {
        let iam = support::checker();
        let document = iam
            .get_role_policy()
            .role_name(&name)
            .policy_name("persona-role")
            .send()
            .await
            .unwrap()
            .policy_document()
            .to_owned();
        let mut document = persona_role::iam::decode_document(&document).unwrap();
        document["Statement"].as_array_mut().unwrap().push(
            json!({"Sid": "ByHand", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}),
        );
        iam.put_role_policy()
            .role_name(&name)
            .policy_name("persona-role")
            .policy_document(document.to_string())
            .send()
            .await
            .unwrap();
    });
    let output = migration::binary(&["diff", "--live", &name, file.to_str().unwrap(), "--json"]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let value: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(
        value["Statements"],
        json!([{"Statement": "ByHand", "Change": "Removed", "Policy": "persona-role",
            "Effect": {"Old": "Allow", "New": ""},
            "Actions": {"Removed": ["s3:GetObject"]},
            "Resources": {"Removed": ["arn:aws:s3:::other/*"]}}])
    );
    assert!(
        value.get("AllowedActions").is_none(),
        "s3:GetObject stays allowed by another statement: {}",
        value["AllowedActions"]
    );
}

#[test]
fn live_diff_of_a_console_role_previews_adoption_and_shows_nothing_once_converged() {
    let rt = migration::runtime();
    let seeded = rt.block_on(migration::seed_console_data_scientist(
        &migration::unique_suffix("live"),
    ));
    let dir = scratch("live-console");

    // discover writes the declaration.
    let output = migration::binary(&[
        "discover",
        "--role",
        &seeded.role_name,
        "--properties-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let file = dir.join(format!("{}.yaml", seeded.role_name));
    let declared = file.clone();

    // Before adoption: every console policy is detached, the planned inline policy created.
    let before = migration::binary(&[
        "diff",
        "--live",
        &seeded.role_name,
        declared.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(before.code, 1, "{}", before.stderr);
    let value: Value = serde_json::from_str(&before.stdout).unwrap();
    let policies = value["Policies"].as_array().unwrap();
    for arn in &seeded.policy_arns {
        assert!(
            policies
                .iter()
                .any(|p| p["Policy"] == *arn && p["Change"] == "Detached"),
            "{arn} not detached in {policies:#?}"
        );
    }
    assert!(
        policies
            .iter()
            .any(|p| p["Policy"] == "persona-role" && p["Change"] == "Created"),
        "{policies:#?}"
    );
    assert!(
        value.get("Renamed").is_none(),
        "SageMaker-… and sagemaker-… are one name"
    );
    assert!(
        value.get("Activities").is_none(),
        "the console policies map to the same activities: {}",
        value["Activities"]
    );

    // Converge in place, as adoption does: ownership tags, then the plan's changes.
    let role_id = rt.block_on(migration::converge_in_place(
        &seeded.role_name,
        &declared,
        "TheDataScientist",
    ));
    assert_eq!(role_id, seeded.role_id, "same role, same RoleId");

    let after = migration::binary(&[
        "diff",
        "--live",
        &seeded.role_name,
        declared.to_str().unwrap(),
    ]);
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
    assert!(
        after.stdout.contains("no change to role"),
        "{}",
        after.stdout
    );
}

#[test]
fn live_diff_of_a_missing_role_exits_2() {
    let output = migration::binary(&[
        "diff",
        "--live",
        "sagemaker-no-such-role",
        &input("base.yaml"),
    ]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(
        output
            .stderr
            .contains("no role named `sagemaker-no-such-role` in IAM"),
        "{}",
        output.stderr
    );
}
