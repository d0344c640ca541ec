//! The README's main command, end to end: the release example's `demo` and `plan`, checked
//! with gpg like a user would.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::process::Command;

use falco_artifacts_testkit::GpgHome;

mod common;
use common::run;

#[test]
fn demo_publishes_signed_plans_that_gpg_verifies() {
    let out = tempfile::tempdir().unwrap();
    let result = run(&["demo", "--out", out.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        stdout.contains("-> channel dev") && stdout.contains("release 0.45.0 -> channel stable"),
        "{stdout}"
    );
    assert!(stdout.contains("refused as expected"), "{stdout}");

    let repo = out.path().join("repo");
    let gpg = GpgHome::new().unwrap();
    let public = std::fs::read_to_string(out.path().join("keys/signing-key.pub.asc")).unwrap();
    gpg.import_key(&public).unwrap();
    for channel in ["dev", "stable"] {
        let plan = repo.join(format!("plan-{channel}.json"));
        let verified = gpg
            .verify_detached(&repo.join(format!("plan-{channel}.json.asc")), &plan)
            .unwrap();
        assert!(verified.good, "{}", verified.status);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
        assert_eq!(json["channel"], channel);
        assert_eq!(json["artifacts"].as_array().unwrap().len(), 6);
    }
    // The tarballs are in the bin repositories, checksummed and signed.
    for (repo_name, version) in [
        ("bin", "0.45.0".to_owned()),
        ("bin-dev", dev_version(&repo)),
    ] {
        for arch in ["x86_64", "aarch64"] {
            let dir = repo.join("packages").join(repo_name).join(arch);
            let name = format!("falco-{version}-{arch}.tar.gz");
            let check = Command::new("sha256sum")
                .arg("-c")
                .arg(format!("{name}.sha256"))
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stderr)
            );
            let verified = gpg
                .verify_detached(&dir.join(format!("{name}.asc")), &dir.join(&name))
                .unwrap();
            assert!(verified.good, "{}", verified.status);
        }
    }
    // The APT repositories are signed and hold the packages with the versions apt will see.
    for (repo_name, version) in [
        ("deb", "0.45.0".to_owned()),
        ("deb-dev", dev_version(&repo)),
    ] {
        let apt = repo.join("packages").join(repo_name);
        let inrelease = gpg
            .verify_cleartext(&apt.join("dists/stable/InRelease"))
            .unwrap();
        assert!(inrelease.good, "{}", inrelease.status);
        let packages =
            std::fs::read_to_string(apt.join("dists/stable/main/binary-arm64/Packages")).unwrap();
        assert!(
            packages.contains(&format!("Version: {version}\n")),
            "{packages}"
        );
        let deb = apt.join(format!("stable/falco-{version}-x86_64.deb"));
        let field = Command::new("dpkg-deb")
            .arg("--field")
            .arg(&deb)
            .arg("Version")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&field.stdout).trim(), version);
    }
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("packages/bin/index.json")).unwrap())
            .unwrap();
    assert!(
        index.to_string().contains("falco-0.45.0-aarch64.tar.gz"),
        "{index}"
    );
    // RPMs are built (the YUM repository is a later issue).
    assert!(out
        .path()
        .join("build/stable/falco-0.45.0-x86_64.rpm")
        .exists());

    let dev: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("plan-dev.json")).unwrap()).unwrap();
    let version = dev["version"].as_str().unwrap();
    assert!(
        version.starts_with("0.45.0-3+"),
        "dev version from the demo history: {version}"
    );
    assert!(dev["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["path"] == format!("packages/rpm-dev/falco-{version}-aarch64.rpm")));
}

fn dev_version(repo: &std::path::Path) -> String {
    let dev: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("plan-dev.json")).unwrap()).unwrap();
    dev["version"].as_str().unwrap().to_owned()
}

#[test]
fn plan_for_a_stable_tag_and_refusal_of_a_bad_tag() {
    let ok = run(&["plan", "--tag", "v0.39.0", "--json"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(plan["version"], "0.39.0");
    assert_eq!(plan["channel"], "stable");
    let paths: Vec<&str> = plan["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"packages/deb/stable/falco-0.39.0-x86_64.deb"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"packages/bin/aarch64/falco-0.39.0-aarch64.tar.gz"),
        "{paths:?}"
    );

    let bad = run(&["plan", "--tag", "latest"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("\"latest\" is not a release tag"),
        "{stderr}"
    );
}
