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

/// A version as this project writes one: `x.y.z` for a release, `x.y.z-dev` between releases
/// (the release being prepared); numbers without leading zeros. `(x, y, z)` and whether it is
/// a development version.
fn parse_version(version: &str) -> Option<((u64, u64, u64), bool)> {
    let (core, dev) = match version.strip_suffix("-dev") {
        Some(core) => (core, true),
        None => (version, false),
    };
    let numbers: Vec<u64> = core
        .split('.')
        .map(|p| {
            let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            (digits && (p == "0" || !p.starts_with('0')))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    match numbers[..] {
        [major, minor, patch] => Some(((major, minor, patch), dev)),
        _ => None,
    }
}

/// One version everywhere: Cargo.toml, the template's SemanticVersion, `persona-role --version`
/// and the version the function logs. A release is the changelog's newest; a `-dev` version
/// names a later one still under `[Unreleased]`, so that a build between releases never
/// passes for the last release.
#[test]
fn cargo_template_and_cli_name_one_version_and_the_changelog_agrees() {
    let version = cargo_version();
    let (number, dev) =
        parse_version(&version).unwrap_or_else(|| panic!("Cargo.toml's version {version:?}"));
    assert_eq!(template_version(), version, "template.yaml SemanticVersion");
    assert_eq!(cli_version(), version, "persona-role --version");
    // The Lambda logs the same (env!("CARGO_PKG_VERSION"), proven in tests/lambda/runtime.rs).
    assert_eq!(env!("CARGO_PKG_VERSION"), version);
    let released = changelog_version();
    if dev {
        let (last, _) = parse_version(&released).expect("CHANGELOG.md's newest release");
        assert!(
            number > last,
            "{version} must come after the newest release, {released}"
        );
        assert!(
            read("CHANGELOG.md").contains("\n## [Unreleased]\n"),
            "a -dev version has its notes under ## [Unreleased]"
        );
    } else {
        assert_eq!(released, version, "CHANGELOG.md's newest release");
    }
}

#[test]
fn versions_are_releases_or_development_versions_of_the_next() {
    for (good, number, dev) in [
        ("0.2.0", (0, 2, 0), false),
        ("1.0.0", (1, 0, 0), false),
        ("10.20.30", (10, 20, 30), false),
        ("0.3.0-dev", (0, 3, 0), true),
    ] {
        assert_eq!(parse_version(good), Some((number, dev)), "{good}");
    }
    for bad in [
        "0.2",
        "v0.2.0",
        "0.02.0",
        "0.2.0-rc1",
        "0.3.0-dev.1",
        "0.3.0-DEV",
        "0..1",
        "1.2.3.4",
        "",
    ] {
        assert_eq!(parse_version(bad), None, "{bad}");
    }
    assert!(parse_version("0.10.0-dev").unwrap().0 > parse_version("0.9.1").unwrap().0);
}

// ------------------------------------------------------------------------ the toolchain

/// `x.y` or `x.y.z` as numbers, a missing patch being 0.
fn rust_version(text: &str) -> (u64, u64, u64) {
    let parts: Vec<u64> = text
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("rust version {text:?}"))
        })
        .collect();
    match parts[..] {
        [major, minor] => (major, minor, 0),
        [major, minor, patch] => (major, minor, patch),
        _ => panic!("rust version {text:?}"),
    }
}

/// Cargo.toml's `rust-version` is the newest any crate in Cargo.lock declares (the oldest
/// compiler that builds the locked tree), and `rust-toolchain.toml` pins one exact toolchain at
/// least that new (`1.95` alone would make rustup fetch whatever 1.95 is newest).
#[test]
fn rust_version_is_what_the_locked_crates_need_and_the_pinned_toolchain_meets_it() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "persona-role")
        .expect("the persona-role package");
    let declared = ours["rust_version"]
        .as_str()
        .expect("Cargo.toml's rust-version");
    let (needed, by) = packages
        .iter()
        .filter(|p| p["name"] != "persona-role")
        .filter_map(|p| {
            Some((
                rust_version(p["rust_version"].as_str()?),
                p["name"].as_str()?,
            ))
        })
        .max()
        .expect("locked crates declare rust versions");
    assert_eq!(
        rust_version(declared),
        needed,
        "Cargo.toml's rust-version is {declared}; the locked crates need {needed:?} ({by})"
    );

    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.trim().strip_prefix("channel = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("rust-toolchain.toml names a channel");
    assert_eq!(
        channel.split('.').count(),
        3,
        "rust-toolchain.toml pins an exact release, not {channel:?}"
    );
    assert!(
        rust_version(channel) >= needed,
        "the pinned {channel} is older than rust-version {declared}"
    );
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

// ------------------------------------- the template as the Serverless Application Repository has it

fn template() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&read("template.yaml")).unwrap()
}

/// The Serverless Application Repository's rules for its metadata (AWS SAM's "Metadata section
/// properties"): required fields, lengths and patterns, and local files that `sam package`
/// uploads.
#[test]
fn the_serverless_repo_metadata_is_publishable_and_names_the_crates_license() {
    let template = template();
    let app = &template["Metadata"]["AWS::ServerlessRepo::Application"];
    let text = |key: &str| {
        app[key]
            .as_str()
            .unwrap_or_else(|| panic!("AWS::ServerlessRepo::Application has no {key} string"))
            .to_owned()
    };
    let name = text("Name");
    assert!(
        (1..=140).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "Name {name:?}: 1-140 of A-Z a-z 0-9 -"
    );
    let description = text("Description");
    assert!(
        (1..=256).contains(&description.chars().count()),
        "Description: 1-256 characters, has {}",
        description.chars().count()
    );
    let author = text("Author");
    assert!(
        (1..=127).contains(&author.len())
            && author
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !author.starts_with('-')
            && !author.ends_with('-')
            && !author.contains("--"),
        "Author {author:?}: lower-case letters, digits and single inner dashes"
    );
    let labels = app["Labels"].as_sequence().expect("Labels");
    assert!((1..=10).contains(&labels.len()), "at most 10 labels");
    for label in labels {
        let label = label.as_str().unwrap();
        assert!(
            (1..=127).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-_:/@".contains(&b)),
            "label {label:?}"
        );
    }
    // The license is the crate's, and its text is in the file the metadata names.
    let manifest = read("Cargo.toml");
    assert!(manifest.contains(&format!("license = \"{}\"", text("SpdxLicenseId"))));
    assert_eq!(text("SpdxLicenseId"), "Apache-2.0");
    let license = read(&text("LicenseUrl"));
    assert!(
        license.trim_start().starts_with("Apache License")
            && license.contains("Version 2.0, January 2004")
            && license.contains("END OF TERMS AND CONDITIONS"),
        "{} holds the Apache License 2.0",
        text("LicenseUrl")
    );
    let readme = read(&text("ReadmeUrl"));
    assert!(readme.starts_with("# persona-role"));
    assert!(readme.len() < 5 * 1024 * 1024, "a readme of at most 5 MB");
    // Optional URLs are absent rather than made up; where given, they are https.
    for key in ["HomePageUrl", "SourceCodeUrl"] {
        if let Some(url) = app[key].as_str() {
            assert!(url.starts_with("https://"), "{key} {url}");
        }
    }
}

/// The Serverless Application Repository shows the readme on the application's page to those
/// who deploy it: a short one of its own (not the developers' README.md), naming every
/// parameter of the form, its links absolute (a relative link leads nowhere there).
#[test]
fn the_serverless_repo_readme_is_short_and_names_every_parameter() {
    let template = template();
    let path = template["Metadata"]["AWS::ServerlessRepo::Application"]["ReadmeUrl"]
        .as_str()
        .unwrap();
    assert_ne!(path, "README.md", "the developers' README");
    let readme = read(path);
    assert!(
        readme.len() < 12 * 1024,
        "{path} has {} bytes: the application's page wants a short readme",
        readme.len()
    );
    for name in template["Parameters"].as_mapping().unwrap().keys() {
        let name = name.as_str().unwrap();
        assert!(
            readme.contains(&format!("`{name}`")),
            "{path} does not name the parameter {name}"
        );
    }
    for link in readme.split("](").skip(1) {
        assert!(
            link.starts_with("https://"),
            "a relative link in {path}: ]({link:.40}"
        );
    }
    // The export the readme tells users to import is the one the template makes, under the
    // stack name the Serverless Application Repository gives.
    let export =
        serde_yaml_ng::to_string(&template["Outputs"]["ServiceToken"]["Export"]["Name"]).unwrap();
    assert_eq!(export.trim(), "!Sub ${AWS::StackName}-ServiceToken");
    let name = template["Metadata"]["AWS::ServerlessRepo::Application"]["Name"]
        .as_str()
        .unwrap();
    assert!(readme.contains(&format!("serverlessrepo-{name}-ServiceToken")));
}

/// The Serverless Application Repository's deploy form shows each parameter with its
/// Description and no groups: every parameter needs one that stands on its own, within
/// CloudFormation's 4,000 characters; the CloudFormation console's groups list every one.
#[test]
fn every_parameter_is_described_and_grouped_for_the_consoles() {
    let template = template();
    let parameters = template["Parameters"].as_mapping().expect("Parameters");
    let grouped: Vec<&str> =
        template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
            .as_sequence()
            .expect("ParameterGroups")
            .iter()
            .flat_map(|group| group["Parameters"].as_sequence().unwrap().iter())
            .map(|name| name.as_str().unwrap())
            .collect();
    for (name, parameter) in parameters {
        let name = name.as_str().unwrap();
        let description = parameter["Description"]
            .as_str()
            .unwrap_or_else(|| panic!("parameter {name} has no Description"));
        assert!(
            (20..=4000).contains(&description.len()),
            "parameter {name}: a Description of 20 to 4,000 characters"
        );
        assert!(
            grouped.contains(&name),
            "parameter {name} is in no ParameterGroup"
        );
    }
    assert_eq!(grouped.len(), parameters.len(), "a parameter grouped twice");
}

// ------------------------------------------------------------------------ the release's tag

/// A scratch git repository with one commit, isolated from the machine's git configuration.
fn scratch_repository(name: &str) -> PathBuf {
    let dir = scratch(name);
    git(&dir, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(dir.join("file"), "one\n").unwrap();
    git(&dir, &["add", "file"]);
    git(&dir, &["commit", "--quiet", "--message", "one"]);
    dir
}

/// `program` run in `dir` with git's identity given and the machine's git configuration
/// ignored (a signing or hooks setting there would change what the tests see).
fn isolated(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Release Test")
        .env("GIT_AUTHOR_EMAIL", "release@example.com")
        .env("GIT_COMMITTER_NAME", "Release Test")
        .env("GIT_COMMITTER_EMAIL", "release@example.com");
    command
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = isolated("git", dir).args(args).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `scripts/lib/release-tag ACTION VERSION` in `dir`: whether it succeeded, and what it said.
fn release_tag(dir: &Path, action: &str, version: &str) -> (bool, String) {
    let output = isolated(root().join("scripts/lib/release-tag"), dir)
        .args([action, version])
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// A release is tagged `v<version>` on the commit it was built from, annotated; tagging again
/// changes nothing; the tag never moves to another commit; a -dev version is never tagged, nor
/// a tree with uncommitted changes.
#[test]
fn a_release_is_tagged_once_on_its_commit_and_the_tag_never_moves() {
    let dir = scratch_repository("tag");
    let first = git(&dir, &["rev-parse", "HEAD"]);

    let (ok, said) = release_tag(&dir, "check", "0.3.0");
    assert!(ok, "{said}");
    let (ok, said) = release_tag(&dir, "create", "0.3.0");
    assert!(ok, "{said}");
    assert_eq!(git(&dir, &["rev-parse", "v0.3.0^{commit}"]), first);
    assert_eq!(git(&dir, &["cat-file", "-t", "v0.3.0"]), "tag", "annotated");
    assert_eq!(
        git(
            &dir,
            &["tag", "--list", "--format=%(contents:subject)", "v0.3.0"]
        ),
        "persona-role 0.3.0"
    );
    // Again, on the same commit (a release rerun): nothing changes.
    let tag_object = git(&dir, &["rev-parse", "v0.3.0"]);
    let (ok, said) = release_tag(&dir, "create", "0.3.0");
    assert!(ok && said.contains("already tags HEAD"), "{said}");
    assert_eq!(git(&dir, &["rev-parse", "v0.3.0"]), tag_object);

    // Another commit cannot be released as 0.3.0: checked before building, and refused again
    // when tagging.
    std::fs::write(dir.join("file"), "two\n").unwrap();
    git(&dir, &["commit", "--quiet", "--all", "--message", "two"]);
    for action in ["check", "create"] {
        let (ok, said) = release_tag(&dir, action, "0.3.0");
        assert!(!ok, "{action}: {said}");
        assert!(
            said.contains(&format!("v0.3.0 already tags {first}")),
            "{said}"
        );
    }
    assert_eq!(git(&dir, &["rev-parse", "v0.3.0^{commit}"]), first);

    // Uncommitted changes: may be built (--allow-dirty), never tagged.
    std::fs::write(dir.join("file"), "three\n").unwrap();
    let (ok, said) = release_tag(&dir, "check", "0.4.0");
    assert!(ok, "{said}");
    let (ok, said) = release_tag(&dir, "create", "0.4.0");
    assert!(!ok && said.contains("uncommitted changes"), "{said}");
    assert_eq!(git(&dir, &["tag", "--list", "v0.4.0"]), "");
}

#[test]
fn only_release_versions_are_tagged() {
    let dir = scratch_repository("tag-versions");
    for version in ["0.3.0-dev", "0.3", "v0.3.0", "0.03.0", "0.3.0-rc1", ""] {
        for action in ["check", "create"] {
            let (ok, said) = release_tag(&dir, action, version);
            assert!(!ok, "{action} {version:?}: {said}");
        }
    }
    let (_, said) = release_tag(&dir, "check", "0.3.0-dev");
    assert!(said.contains("development version"), "{said}");
    assert_eq!(git(&dir, &["tag", "--list"]), "");
}

// ------------------------------------------------------------------------ deploying

/// `scripts/deploy --dry-run ARGS` without a Python to install with: its exit code and the
/// lines it printed. The dry run installs, builds and deploys nothing (an install would fail
/// without Python), whatever region the environment names.
fn deploy_dry_run(args: &[&str]) -> (Option<i32>, Vec<String>) {
    let output = Command::new(root().join("scripts/deploy"))
        .arg("--dry-run")
        .args(args)
        .env("PYTHON", "/nonexistent/python3")
        .env("AWS_REGION", "ap-south-1")
        .output()
        .unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (output.status.code(), lines)
}

/// The `sam deploy` line of a dry run, if any.
fn sam_deploy(lines: &[String]) -> Option<&str> {
    lines
        .iter()
        .find(|l| l.starts_with("+ sam deploy"))
        .map(String::as_str)
}

/// One command from a checkout: the tools installed once, `sam build`, then `sam deploy` —
/// guided until the configuration holds a region for the environment, with the saved settings
/// after; and nothing run at all in a dry run.
#[test]
fn deploy_installs_its_tools_builds_and_deploys_guided_the_first_time() {
    // The committed samconfig.toml names no region: a new user's first deploy is guided.
    let (code, lines) = deploy_dry_run(&[]);
    assert_eq!(code, Some(0), "{lines:#?}");
    assert_eq!(
        lines,
        [
            "+ scripts/build-lambda --install-only",
            "+ ensure_venv .venv-sam sam\\ --version scripts/requirements/sam.txt",
            "+ PATH=.venv-build/bin:.venv-sam/bin:$PATH",
            "+ sam build --config-file samconfig.toml --config-env default",
            "+ sam deploy --config-file samconfig.toml --config-env default --guided",
            "dry run: nothing was installed, built or deployed",
        ]
    );

    let dir = scratch("deploy");
    let config = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    // What a guided deploy saves: the region under the environment's global parameters.
    let saved = config(
        "saved.toml",
        "version = 0.1\n[default.global.parameters]\nstack_name = \"persona-role\"\nregion = \"eu-west-1\"\n",
    );
    let (code, lines) = deploy_dry_run(&["--config-file", &saved]);
    assert_eq!(code, Some(0));
    assert_eq!(
        sam_deploy(&lines),
        Some(format!("+ sam deploy --config-file {saved} --config-env default").as_str())
    );
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("+ sam build --config-file {saved} --config-env default")),
        "{lines:#?}"
    );
    // --guided asks again; options after -- go to sam deploy, in order.
    let (_, lines) = deploy_dry_run(&[
        "--guided",
        "--config-file",
        &saved,
        "--",
        "--no-execute-changeset",
        "--parameter-overrides",
        "AllowAdoption=false MaxRolesPerStack=50",
    ]);
    assert_eq!(
        sam_deploy(&lines),
        Some(format!(
            "+ sam deploy --config-file {saved} --config-env default --guided --no-execute-changeset \
             --parameter-overrides AllowAdoption=false\\ MaxRolesPerStack=50"
        ).as_str())
    );
    // The region is saved per environment; one under the deploy command counts too; a region
    // in a comment or another key does not.
    let (_, lines) = deploy_dry_run(&["--config-file", &saved, "--config-env", "prod"]);
    assert!(
        sam_deploy(&lines).unwrap().ends_with("--guided"),
        "{lines:#?}"
    );
    let prod = config(
        "prod.toml",
        "[prod.deploy.parameters]\n  region = \"us-west-2\"\n",
    );
    let (_, lines) = deploy_dry_run(&["--config-file", &prod, "--config-env", "prod"]);
    assert!(
        !sam_deploy(&lines).unwrap().contains("--guided"),
        "{lines:#?}"
    );
    let unsaved = config(
        "unsaved.toml",
        "[default.deploy.parameters]\n# region = \"us-west-2\"\ns3_region = \"x\"\n[default.build.parameters]\nregion = \"us-west-2\"\n",
    );
    let (_, lines) = deploy_dry_run(&["--config-file", &unsaved]);
    assert!(
        sam_deploy(&lines).unwrap().ends_with("--guided"),
        "{lines:#?}"
    );

    // --build-only stops before anything reaches AWS.
    let (code, lines) = deploy_dry_run(&["--build-only"]);
    assert_eq!(code, Some(0));
    assert!(sam_deploy(&lines).is_none(), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("sam build")), "{lines:#?}");

    // A mistyped option is refused before anything runs.
    for args in [&["--bogus"][..], &["--config-env"][..]] {
        let (code, lines) = deploy_dry_run(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(lines.is_empty(), "{args:?}: {lines:#?}");
    }
}
