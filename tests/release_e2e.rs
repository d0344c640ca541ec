//! End to end on `file://`: a development (prerelease) and a stable release of the sample
//! payload for x86_64 and aarch64 through `release run`, then real clients: `apt-get update`
//! (with `signed-by`) and `apt-get download`, `dnf --installroot` install with `gpgcheck=1` and
//! `repo_gpgcheck=1`, from each channel's repository, and the tarball checked against its
//! `.sha256` and `.asc`.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::process::Command;

use falco_artifacts_testkit::{AptSandbox, DnfSandbox, GpgHome};

mod common;
use common::site::{base_system, entry, sha256_hex, ReleaseSite};

#[test]
fn dev_and_stable_releases_install_with_apt_and_verify() {
    let repo = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let site = ReleaseSite::new(&url, "");

    let dev = site.release("0.46.0-rc1", &[]);
    assert_eq!(dev["channel"], "dev");
    let stable = site.release("0.45.0", &[]);
    assert_eq!(stable["channel"], "stable");

    for (channel, report, version, file) in [
        ("deb-dev", &dev, "0.46.0~rc1", "falco-0.46.0-rc1-x86_64.deb"),
        ("deb", &stable, "0.45.0", "falco-0.45.0-x86_64.deb"),
    ] {
        let apt = AptSandbox::new(
            &format!("{url}/packages/{channel}"),
            "stable",
            &site.public_key,
        )
        .unwrap();
        apt.update().unwrap();
        let bytes = apt.download("falco", version).unwrap();
        assert_eq!(sha256_hex(&bytes), entry(report, file)["sha256"]);
    }

    for (channel, report, version, file) in [
        ("rpm-dev", &dev, "0.46.0~rc1", "falco-0.46.0-rc1-x86_64.rpm"),
        ("rpm", &stable, "0.45.0", "falco-0.45.0-x86_64.rpm"),
    ] {
        let dnf = DnfSandbox::new(&format!("{url}/packages/{channel}"), &site.public_key).unwrap();
        base_system(&dnf.root());
        dnf.must(&["install", "falco"]).unwrap();
        let installed = dnf.installed("falco").unwrap().unwrap();
        assert_eq!(installed, format!("falco-{version}-1"));
        // What dnf installed is the payload, and the package is the one the report names.
        assert_eq!(
            std::fs::read(dnf.root().join("usr/bin/falco")).unwrap(),
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/sample/payload/usr/bin/falco"
            ))
            .unwrap()
        );
        assert_eq!(entry(report, file)["status"], "uploaded");
    }

    // The stable tarball: sha256sum -c and gpg --verify, as a user downloading it would.
    let dir = repo.path().join("packages/bin/aarch64");
    let check = Command::new("sha256sum")
        .args(["-c", "falco-0.45.0-aarch64.tar.gz.sha256"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let gpg = GpgHome::new().unwrap();
    gpg.import_key(&site.public_key).unwrap();
    let verified = gpg
        .verify_detached(
            &dir.join("falco-0.45.0-aarch64.tar.gz.asc"),
            &dir.join("falco-0.45.0-aarch64.tar.gz"),
        )
        .unwrap();
    assert!(verified.good, "{}", verified.status);
    assert_eq!(
        entry(&stable, "falco-0.45.0-aarch64.tar.gz")["url"],
        format!("{url}/packages/bin/aarch64/falco-0.45.0-aarch64.tar.gz")
    );
}
