//! src/partitions.json is the partition metadata of the AWS SDK crate in Cargo.lock: this fails
//! when the SDK is upgraded and the copy is not (`scripts/refresh-partitions` rewrites it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The SDK crate whose endpoint resolver embeds the metadata.
const SDK_CRATE: &str = "aws-sdk-iam";

/// The version of the SDK crate that Cargo.lock pins.
fn locked_version() -> String {
    let lock = std::fs::read_to_string(common::root().join("Cargo.lock")).unwrap();
    let entry = lock
        .split("[[package]]")
        .find(|entry| entry.contains(&format!("name = \"{SDK_CRATE}\"\n")))
        .unwrap_or_else(|| panic!("{SDK_CRATE} is not in Cargo.lock"));
    entry
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap()
        .to_owned()
}

/// The crate's unpacked source in the cargo registry (cargo unpacks it to build it).
fn sdk_source(version: &str) -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let registries = cargo_home.join("registry/src");
    std::fs::read_dir(&registries)
        .unwrap_or_else(|e| panic!("{}: {e}", registries.display()))
        .map(|entry| entry.unwrap().path().join(format!("{SDK_CRATE}-{version}")))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "{SDK_CRATE} {version} is not unpacked under {}",
                registries.display()
            )
        })
}

/// The JSON the SDK passes to `PartitionResolver::new_from_json(b"…")`, unescaped.
fn sdk_metadata(source: &Path) -> Value {
    let file = source.join("src/endpoint_lib.rs");
    let code = std::fs::read_to_string(&file).unwrap();
    let start = code
        .find("new_from_json(b\"")
        .unwrap_or_else(|| panic!("no partition JSON in {}", file.display()))
        + "new_from_json(b\"".len();
    let mut text = String::new();
    let mut chars = code[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => text.push(chars.next().unwrap()),
            c => text.push(c),
        }
    }
    serde_json::from_str(&text).unwrap()
}

#[test]
fn vendored_partitions_are_those_of_the_sdk_in_cargo_lock() {
    let version = locked_version();
    let expected = json!({
        "sdk": format!("{SDK_CRATE} {version}"),
        "metadata": sdk_metadata(&sdk_source(&version)),
    });
    let mut text = serde_json::to_string_pretty(&expected).unwrap();
    text.push('\n');
    common::assert_golden(
        "src/partitions.json",
        &text,
        &format!(
            "it must be the partition metadata of {SDK_CRATE} {version}: run scripts/refresh-partitions"
        ),
    );
}
