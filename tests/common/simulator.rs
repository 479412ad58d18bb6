//! The IAM policy simulator this project did not write (@cloud-copilot/iam-simulate), run by
//! `tests/workflows/simulate.mjs` in one Node process per batch of requests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::root;

/// The repository root, once the Node tools are installed there.
fn root_with_node_tools() -> PathBuf {
    let simulator = root().join("node_modules/@cloud-copilot/iam-simulate");
    assert!(
        simulator.is_dir(),
        "{} is missing: run scripts/install-test-tools (npm ci installs the IAM policy simulator)",
        simulator.display()
    );
    root()
}

/// Runs a Node script from the repository root with `input` on stdin; returns its stdout.
pub fn node(script: &Path, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("node")
        .arg(script)
        .current_dir(root_with_node_tools())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node {}: {e} (is Node.js installed?)", script.display()));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "node {} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// One decision per request (`{principal, account, policies: [{name, policy}],
/// resource_policy, action, resource, context, session}`), in order: `decision` (`Allowed`,
/// `ImplicitlyDenied`, `ExplicitlyDenied`, `Error`), the context keys the simulator `ignored` as
/// unknown to the action, and the statements that `allowed_by` or `denied_by` it.
pub fn decide(requests: &[&Value]) -> Vec<Value> {
    let input = serde_json::to_vec(requests).unwrap();
    let output = node(&root().join("tests/workflows/simulate.mjs"), &input);
    let decisions: Vec<Value> = serde_json::from_slice(&output).unwrap();
    assert_eq!(decisions.len(), requests.len());
    decisions
}
