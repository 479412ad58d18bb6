//! A release is one version everywhere, and its Lambda zip is the same bytes for the same inputs.
//! `scripts/release` builds the binaries and packs the zip with `scripts/lib/reproducible-zip.py`;
//! packing is proven here on a stand-in `bootstrap` (the real one takes minutes to build).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{File, FileTimes};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap()
}

/// `[package]`'s version, as written in Cargo.toml.
fn cargo_version() -> String {
    let manifest = format!("\n{}", read("Cargo.toml"));
    let package = manifest
        .split("\n[")
        .find(|section| section.starts_with("package]"))
        .expect("Cargo.toml has [package]");
    package
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("[package] has a version")
        .to_owned()
}

fn template_version() -> String {
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read("template.yaml")).unwrap();
    template["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"]
        .as_str()
        .expect("template.yaml's AWS::ServerlessRepo::Application has a SemanticVersion string")
        .to_owned()
}

/// The newest released version of CHANGELOG.md: its first `## [x.y.z] - date` heading.
fn changelog_version() -> String {
    read("CHANGELOG.md")
        .lines()
        .filter_map(|line| line.strip_prefix("## ["))
        .filter_map(|rest| rest.split_once("] - "))
        .map(|(version, _)| version.to_owned())
        .next()
        .expect("CHANGELOG.md has a released version (## [x.y.z] - YYYY-MM-DD)")
}

fn cli_version() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    text.trim()
        .strip_prefix("persona-role ")
        .unwrap_or_else(|| panic!("`persona-role --version` printed {text:?}"))
        .to_owned()
}

fn is_semantic_version(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (*p == "0" || !p.starts_with('0'))
        })
}

#[test]
fn cargo_template_changelog_and_cli_name_one_version() {
    let version = cargo_version();
    assert!(is_semantic_version(&version), "{version}");
    assert_eq!(template_version(), version, "template.yaml SemanticVersion");
    assert_eq!(
        changelog_version(),
        version,
        "CHANGELOG.md's newest release"
    );
    assert_eq!(cli_version(), version, "persona-role --version");
    // The Lambda logs the same (env!("CARGO_PKG_VERSION"), proven in tests/lambda_runtime.rs).
    assert_eq!(env!("CARGO_PKG_VERSION"), version);
}

#[test]
fn semantic_versions_are_three_numbers_without_leading_zeros() {
    for good in ["0.2.0", "1.0.0", "10.20.30"] {
        assert!(is_semantic_version(good), "{good}");
    }
    for bad in ["0.2", "v0.2.0", "0.02.0", "0.2.0-rc1", "0..1", ""] {
        assert!(!is_semantic_version(bad), "{bad}");
    }
}

// ------------------------------------------------------------------------ the reproducible zip

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("release-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `content` to `dir/name` with this mtime (seconds since the epoch) and mode.
fn file(dir: &Path, name: &str, content: &[u8], mtime: u64, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(UNIX_EPOCH + Duration::from_secs(mtime)))
        .unwrap();
    path
}

/// Packs `entries` (name, path) with the release's packer; returns the zip's bytes.
fn pack(out: &Path, epoch: u64, entries: &[(&str, &Path)]) -> Vec<u8> {
    let status = Command::new("python3")
        .arg(root().join("scripts/lib/reproducible-zip.py"))
        .arg(out)
        .arg(epoch.to_string())
        .args(
            entries
                .iter()
                .map(|(name, path)| format!("{name}={}", path.display())),
        )
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// Each entry of a zip as Python's zipfile reads it: name, mode, date.
fn listing(zip: &Path) -> String {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\n\
             for i in zipfile.ZipFile(sys.argv[1]).infolist():\n\
             \x20   print(i.filename, oct(i.external_attr >> 16), '%04d-%02d-%02dT%02d:%02d:%02d' % i.date_time)",
        ])
        .arg(zip)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// 2026-12-02T12:00:00Z, an even second (zip dates count in two-second steps).
const EPOCH: u64 = 1_796_212_800;

#[test]
fn the_lambda_zip_is_the_same_bytes_whatever_the_files_mtimes_and_modes() {
    let dir = scratch("zip");
    // Not compressible to nothing, so that deflate has real work to do.
    let binary: Vec<u8> = (0u32..200_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (one, two) = (dir.join("one"), dir.join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let first = file(&one, "bootstrap", &binary, 1_700_000_000, 0o700);
    let second = file(&two, "bootstrap", &binary, 1_800_000_123, 0o644);

    let a = pack(&dir.join("a.zip"), EPOCH, &[("bootstrap", &first)]);
    let b = pack(&dir.join("b.zip"), EPOCH, &[("bootstrap", &second)]);
    assert!(a == b, "the same bootstrap packed twice differs");
    assert_eq!(
        listing(&dir.join("a.zip")),
        "bootstrap 0o100755 2026-12-02T12:00:00\n",
        "one executable entry, dated SOURCE_DATE_EPOCH"
    );

    // The timestamp is an input: another gives other bytes (so the comparison above can fail).
    let c = pack(&dir.join("c.zip"), EPOCH + 3600, &[("bootstrap", &first)]);
    assert!(a != c);
}

#[test]
fn zip_entries_are_sorted_whatever_order_they_are_given_in() {
    let dir = scratch("order");
    let x = file(&dir, "x", b"first file", 1_700_000_000, 0o644);
    let y = file(&dir, "y", b"second file", 1_700_000_999, 0o600);
    let forward = pack(&dir.join("f.zip"), EPOCH, &[("a", &x), ("b", &y)]);
    let backward = pack(&dir.join("r.zip"), EPOCH, &[("b", &y), ("a", &x)]);
    assert!(forward == backward);
    let names: Vec<String> = listing(&dir.join("r.zip"))
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a", "b"]);
}
