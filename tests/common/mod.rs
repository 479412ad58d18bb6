//! What the integration tests share without any stand-in server: the sample stack, sample
//! property values, the golden-file check, and the CLI run in process against buffers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod deployed;
pub mod samples;
pub mod simulator;
pub mod workflows;

use std::path::PathBuf;

use clap::Parser;
use persona_role::cli::{Cli, run};

pub const ACCOUNT: &str = "123456789012";
pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/ml-personas/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f";

/// The crate's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares a generated file (relative to the root) with the committed one, or rewrites it when
/// `UPDATE_GOLDEN` is set. Returns what differs, naming `fix`, the way to bring it up to date.
pub fn golden_mismatch(relative: &str, generated: &str, fix: &str) -> Option<String> {
    let path = root().join(relative);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
        return None;
    }
    match std::fs::read_to_string(&path) {
        Ok(committed) if committed == generated => None,
        Ok(_) => Some(format!("{relative} is out of date: {fix}")),
        Err(_) => Some(format!("{relative} is missing: {fix}")),
    }
}

/// [`golden_mismatch`], asserted.
pub fn assert_golden(relative: &str, generated: &str, fix: &str) {
    if let Some(mismatch) = golden_mismatch(relative, generated, fix) {
        panic!("{mismatch}");
    }
}

/// The README's section from `begin` to `end` (both marker lines included) is `generated`;
/// with `UPDATE_GOLDEN` set, it is rewritten to it instead. `fix` says how to bring it up to date.
pub fn assert_readme_section(begin: &str, end: &str, generated: &str, fix: &str) {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let section = readme
        .find(begin)
        .zip(readme.find(end))
        .map(|(from, to)| &readme[from..to + end.len()]);
    if let (Some(section), Some(_)) = (section, std::env::var_os("UPDATE_GOLDEN")) {
        std::fs::write(&path, readme.replacen(section, generated, 1)).unwrap();
        return;
    }
    assert!(
        section == Some(generated),
        "README.md's section `{begin}` is out of date: {fix}"
    );
}

/// What a CLI run printed, and its exit code (the number, as callers see it).
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `persona-role ARGS` in process, with `stdin` as its input.
pub fn cli(args: &[&str], stdin: &str) -> CliOutput {
    let cli =
        Cli::try_parse_from(std::iter::once("persona-role").chain(args.iter().copied())).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = run(cli, &mut stdin.as_bytes(), &mut out, &mut err);
    CliOutput {
        code: i32::from(exit.code()),
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

/// cfn-lint (pinned in scripts/requirements/test-tools.txt, installed into .venv by
/// scripts/install-test-tools, which scripts/test runs first) finds nothing in `template`,
/// written to a temporary `file_name` (its extension tells cfn-lint JSON from YAML). Without
/// cfn-lint the test fails, naming the command that installs it: a lint never runs silently.
pub fn assert_cfn_lint_clean(template: &str, file_name: &str) {
    let lint = root().join(".venv/bin/cfn-lint");
    assert!(
        lint.exists(),
        "{} is missing: run scripts/install-test-tools (scripts/test does) to install it",
        lint.display()
    );
    let path =
        std::env::temp_dir().join(format!("persona-role-{}-{file_name}", std::process::id()));
    std::fs::write(&path, template).unwrap();
    let output = std::process::Command::new(&lint)
        .args(["--format", "parseable", "--"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cfn-lint on {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
