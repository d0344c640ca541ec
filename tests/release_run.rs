//! `release run`: the gate, bad input stopping before any upload, a release published once
//! and a re-run that does nothing.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::{Path, PathBuf};

mod common;
use common::{run, run_with, write_test_key};

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        write_test_key(dir.path());
        std::fs::create_dir(dir.path().join("repo")).unwrap();
        Site { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self) -> String {
        format!("file://{}", self.path("repo").display())
    }

    /// `release run` with this site's repository, key and work dir, plus `extra`.
    fn run(&self, extra: &[&str]) -> (bool, String) {
        let (url, key, work) = (
            self.url(),
            self.path("key.asc").display().to_string(),
            self.path("work").display().to_string(),
        );
        let mut args = vec![
            "run",
            "--repo",
            &url,
            "--key-file",
            &key,
            "--work-dir",
            &work,
        ];
        args.extend_from_slice(extra);
        let out = run_with(&args, &[("SOURCE_DATE_EPOCH", "1700000000")]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Every file in the repository, relative.
    fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path("repo"), &self.path("repo"), &mut out);
        out.sort();
        out
    }
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/sample/falco.yaml")
        .display()
        .to_string()
}

#[test]
fn a_failing_or_missing_gate_publishes_nothing() {
    let site = Site::new();
    let manifest = sample();
    let (ok, text) = site.run(&[
        "--tag",
        "0.45.0",
        "--manifest",
        &manifest,
        "--gate-command",
        "sh -c false",
    ]);
    assert!(!ok, "{text}");
    assert!(text.contains("the tests failed"), "{text}");
    assert!(site.files().is_empty(), "{:?}", site.files());

    let (ok, text) = site.run(&["--tag", "0.45.0", "--manifest", &manifest]);
    assert!(!ok, "{text}");
    assert!(text.contains("the tests were not run"), "{text}");

    let sha = "abc1234def5678901234567890abcdef01234567";
    let evidence = site.path("evidence.json");
    std::fs::write(
        &evidence,
        format!(r#"{{"passed": false, "commit": "{sha}"}}"#),
    )
    .unwrap();
    let evidence = evidence.display().to_string();
    let (ok, text) = site.run(&[
        "--tag",
        "0.45.0",
        "--manifest",
        &manifest,
        "--evidence",
        &evidence,
        "--commit",
        &sha[..7],
    ]);
    assert!(!ok, "{text}");
    assert!(text.contains("the tests failed"), "{text}");
    // Evidence that passed, but for no commit or another one, lets nothing through either.
    for (content, commit) in [
        (r#"{"passed": true}"#.to_owned(), sha),
        (r#"{"passed": true, "commit": ""}"#.to_owned(), sha),
        (
            format!(r#"{{"passed": true, "commit": "{}"}}"#, &sha[..7]),
            sha,
        ),
        (
            format!(r#"{{"passed": true, "commit": "{sha}"}}"#),
            "fff0000",
        ),
        (format!(r#"{{"passed": true, "commit": "{sha}"}}"#), "abc"),
    ] {
        std::fs::write(site.path("evidence.json"), &content).unwrap();
        let (ok, text) = site.run(&[
            "--tag",
            "0.45.0",
            "--manifest",
            &manifest,
            "--evidence",
            &evidence,
            "--commit",
            commit,
        ]);
        assert!(!ok, "{content} / {commit}: {text}");
        assert!(text.contains("does not vouch"), "{text}");
    }
    assert!(site.files().is_empty(), "{:?}", site.files());
}

#[test]
fn the_gate_command_sees_no_secret_of_the_release() {
    let site = Site::new();
    let manifest = sample();
    let secrets = [
        ("AWS_SECRET_ACCESS_KEY", "sentinel-aws-secret-9d1e"),
        ("FALCO_SIGNING_PASSPHRASE", "sentinel-passphrase-42c7"),
        ("REGISTRY_PASSWORD", "sentinel-registry-password-77aa"),
    ];
    let mut env: Vec<(&str, &str)> = secrets.to_vec();
    env.push(("SOURCE_DATE_EPOCH", "1700000000"));
    env.push(("FALCO_TEST_PASSED_ON", "asked-for"));
    let (url, key, work) = (
        site.url(),
        site.path("key.asc").display().to_string(),
        site.path("work").display().to_string(),
    );
    // The gate prints its environment, then fails so that nothing is published.
    let out = common::run_with(
        &[
            "run",
            "--repo",
            &url,
            "--key-file",
            &key,
            "--work-dir",
            &work,
            "--tag",
            "0.45.0",
            "--manifest",
            &manifest,
            "--pass-env",
            "FALCO_TEST_PASSED_ON",
            "--gate-command",
            "sh -c env;false",
        ],
        &env,
    );
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && text.contains("the tests failed"),
        "{text}"
    );
    let log = std::fs::read_to_string(site.path("work/gate.log")).unwrap();
    assert!(
        log.contains("PATH=") && log.contains("SOURCE_DATE_EPOCH=1700000000"),
        "{log}"
    );
    assert!(log.contains("FALCO_TEST_PASSED_ON=asked-for"), "{log}");
    for (name, value) in secrets {
        assert!(
            !log.contains(name) && !log.contains(value),
            "the gate saw {name}: {log}"
        );
    }
    assert!(site.files().is_empty(), "{:?}", site.files());
}

#[test]
fn bad_input_stops_before_anything_is_uploaded() {
    let site = Site::new();
    let manifest = sample();
    let gate = ["--gate-command", "true"];

    let (ok, text) =
        site.run(&[&["--tag", "nightly", "--manifest", &manifest][..], &gate].concat());
    assert!(!ok && text.contains("not a release tag"), "{text}");

    // A payload without its binary.
    let payload = site.path("payload");
    let copy = std::process::Command::new("cp")
        .args([
            "-r",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample/."),
        ])
        .arg(&payload)
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::remove_file(payload.join("payload/usr/bin/falco")).unwrap();
    let broken = payload.join("falco.yaml").display().to_string();
    let (ok, text) = site.run(&[&["--tag", "0.45.0", "--manifest", &broken][..], &gate].concat());
    assert!(!ok && text.contains("payload/usr/bin/falco"), "{text}");

    // A repository that is not there: a file where its root directory should be.
    std::fs::write(site.path("not-a-dir"), b"x").unwrap();
    let unreachable = format!("file://{}/repo", site.path("not-a-dir").display());
    let key = site.path("key.asc").display().to_string();
    let out = run(&[
        "run",
        "--tag",
        "0.45.0",
        "--manifest",
        &manifest,
        "--repo",
        &unreachable,
        "--key-file",
        &key,
        "--gate-command",
        "true",
    ]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("not-a-dir"),
        "{text}"
    );

    // A signing key that is not set.
    let out = run(&[
        "run",
        "--tag",
        "0.45.0",
        "--manifest",
        &manifest,
        "--repo",
        &site.url(),
        "--key-env",
        "FALCO_ARTIFACTS_TEST_UNSET_KEY",
        "--gate-command",
        "true",
    ]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("FALCO_ARTIFACTS_TEST_UNSET_KEY"),
        "{text}"
    );

    assert!(site.files().is_empty(), "{:?}", site.files());
}

#[test]
fn a_release_is_published_once_and_a_rerun_is_a_noop() {
    let site = Site::new();
    let manifest = sample();
    let args = [
        "--tag",
        "0.45.0",
        "--manifest",
        &manifest,
        "--gate-command",
        "true",
        "--json",
    ];
    let (ok, text) = site.run(&args);
    assert!(ok, "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["channel"], "stable");
    let files = report["files"].as_array().unwrap();
    for wanted in [
        "falco-0.45.0-x86_64.deb",
        "falco-0.45.0-aarch64.deb.asc",
        "falco-0.45.0-x86_64.tar.gz.sha256",
    ] {
        let entry = files
            .iter()
            .find(|f| f["file_name"] == wanted)
            .unwrap_or_else(|| panic!("{wanted} not in {text}"));
        assert_eq!(entry["status"], "uploaded");
        // The URL points at the file, whose bytes have the reported digest.
        let path = entry["url"]
            .as_str()
            .unwrap()
            .strip_prefix("file://")
            .unwrap();
        let sum = std::process::Command::new("sha256sum")
            .arg(path)
            .output()
            .unwrap();
        let sum = String::from_utf8_lossy(&sum.stdout);
        assert!(sum.starts_with(entry["sha256"].as_str().unwrap()), "{sum}");
    }
    assert_eq!(
        report["verified"],
        serde_json::json!(["packages/deb", "packages/rpm", "packages/bin"])
    );

    // The repository operations on their own.
    let key = site.path("key.asc").display().to_string();
    let verify = run(&[
        "verify",
        "--repo",
        &site.url(),
        "--key-file",
        &key,
        "--channel",
        "stable",
    ]);
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{verify:?}");
    for repo in ["packages/deb", "packages/rpm", "packages/bin"] {
        assert!(said.contains(&format!("verified {repo}")), "{said}");
    }
    let prune = run(&[
        "prune",
        "--repo",
        &site.url(),
        "--key-file",
        &key,
        "--channel",
        "stable",
    ]);
    assert!(prune.status.success(), "{prune:?}");
    assert!(String::from_utf8_lossy(&prune.stdout).starts_with("0 files pruned"));

    let before = site.files();
    let (ok, text) = site.run(&args[..args.len() - 1]);
    assert!(ok, "{text}");
    assert!(text.contains("already published: nothing to do"), "{text}");
    let after = site.files();
    assert_eq!(
        before
            .iter()
            .filter(|f| !f.contains(".publish/"))
            .collect::<Vec<_>>(),
        after
            .iter()
            .filter(|f| !f.contains(".publish/"))
            .collect::<Vec<_>>()
    );
}
