//! End to end on S3 (moto_server on loopback, path-style): `release run` publishes into a
//! bucket, and `apt-get` and `dnf` install from it over HTTP, trusting only our key.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use falco_artifacts_testkit::{AptSandbox, DnfSandbox, MotoS3};

mod common;
use common::site::{base_system, entry, sha256_hex, ReleaseSite};

#[test]
fn a_release_into_s3_installs_with_apt_over_http() {
    let s3 = MotoS3::start().unwrap();
    s3.create_public_bucket("falco-release").unwrap();
    let site = ReleaseSite::new(
        "s3://falco-release/",
        &format!(
            "store:\n  endpoint: {}\n  region: {}\n  allow_http: true\n  path_style: true\n",
            s3.endpoint(),
            s3.region()
        ),
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", s3.access_key()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret_key()),
    ];
    let dev = site.release("0.46.0-rc1", &env);
    assert_eq!(dev["channel"], "dev");
    let apt_dev = AptSandbox::new(
        &format!("{}/falco-release/packages/deb-dev", s3.endpoint()),
        "stable",
        &site.public_key,
    )
    .unwrap();
    apt_dev.update().unwrap();
    let bytes = apt_dev.download("falco", "0.46.0~rc1").unwrap();
    assert_eq!(
        sha256_hex(&bytes),
        entry(&dev, "falco-0.46.0-rc1-x86_64.deb")["sha256"]
    );

    let report = site.release("0.45.0", &env);
    assert!(
        entry(&report, "falco-0.45.0-x86_64.deb")["url"]
            .as_str()
            .unwrap()
            .starts_with("s3://falco-release/packages/deb/stable/"),
        "{report}"
    );
    let apt = AptSandbox::new(
        &format!("{}/falco-release/packages/deb", s3.endpoint()),
        "stable",
        &site.public_key,
    )
    .unwrap();
    apt.update().unwrap();
    let bytes = apt.download("falco", "0.45.0").unwrap();
    assert_eq!(
        sha256_hex(&bytes),
        entry(&report, "falco-0.45.0-x86_64.deb")["sha256"]
    );

    let dnf = DnfSandbox::new(
        &format!("{}/falco-release/packages/rpm", s3.endpoint()),
        &site.public_key,
    )
    .unwrap();
    base_system(&dnf.root());
    dnf.must(&["install", "falco"]).unwrap();
    assert_eq!(dnf.installed("falco").unwrap().unwrap(), "falco-0.45.0-1");

    // The same release again: nothing to upload.
    let again = site.release("0.45.0", &env);
    assert!(again["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["status"] == "unchanged"));
}
