//! End to end on Azure Blob Storage (Azurite on loopback): `release run` publishes into a
//! container through `az://`, and `apt-get` and `dnf` install from it over HTTP, trusting only
//! our key. The account and key come from the usual `AZURE_STORAGE_*` environment.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use falco_artifacts_testkit::{AptSandbox, Azurite, DnfSandbox};

mod common;
use common::site::{base_system, entry, sha256_hex, ReleaseSite};

#[test]
fn a_release_into_azure_installs_with_apt_and_dnf_over_http() {
    let azurite = Azurite::start().unwrap();
    azurite.create_public_container("falco-release").unwrap();
    let site = ReleaseSite::new(
        "az://falco-release/",
        &format!(
            "store:\n  endpoint: {}\n  allow_http: true\n",
            azurite.endpoint()
        ),
    );
    let env = [
        ("AZURE_STORAGE_ACCOUNT_NAME", azurite.account()),
        ("AZURE_STORAGE_ACCOUNT_KEY", azurite.account_key()),
    ];
    let report = site.release("0.45.0", &env);
    let deb = entry(&report, "falco-0.45.0-x86_64.deb");
    assert!(
        deb["url"]
            .as_str()
            .unwrap()
            .starts_with("az://falco-release/packages/deb/stable/"),
        "{report}"
    );
    let base = format!("{}/falco-release/packages", azurite.endpoint());
    let apt = AptSandbox::new(&format!("{base}/deb"), "stable", &site.public_key).unwrap();
    apt.update().unwrap();
    let bytes = apt.download("falco", "0.45.0").unwrap();
    assert_eq!(sha256_hex(&bytes), deb["sha256"]);

    let dnf = DnfSandbox::new(&format!("{base}/rpm"), &site.public_key).unwrap();
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
