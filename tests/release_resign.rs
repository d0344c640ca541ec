//! `release resign`: a stable release published with key A, re-signed with key B through the
//! release example, checked with apt and dnf trusting B, A, and the published key bundle.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use falco_artifacts::core::{KeyAlgorithm, PgpSigner, Signer, KEY_BUNDLE};
use falco_artifacts_testkit::{AptSandbox, DnfSandbox};

mod common;
use common::run_with;
use common::site::{base_system, sha256_hex};

fn write_key(dir: &std::path::Path, name: &str) -> PgpSigner {
    let key = PgpSigner::generate(
        &format!("{name} <{name}@example.invalid>"),
        KeyAlgorithm::Ed25519,
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{name}.asc")),
        key.secret_key_armored().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{name}.pub.asc")),
        key.public_key_armored().unwrap(),
    )
    .unwrap();
    key
}

fn release(args: &[&str]) -> String {
    let out = run_with(args, &[("SOURCE_DATE_EPOCH", "1700000000")]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "release {args:?}: {text}");
    text
}

fn apt_ok(url: &str, key: &str) -> bool {
    AptSandbox::new(&format!("{url}/packages/deb"), "stable", key)
        .unwrap()
        .update()
        .is_ok()
}

fn dnf_ok(url: &str, key: &str) -> bool {
    let dnf = DnfSandbox::new(&format!("{url}/packages/rpm"), key).unwrap();
    base_system(&dnf.root());
    dnf.must(&["install", "falco"]).is_ok()
}

#[test]
fn resign_rotates_the_stable_channel_from_key_a_to_key_b_and_publishes_both_keys() {
    let site = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let a = write_key(site.path(), "a");
    let b = write_key(site.path(), "b");
    // Stable signs with its own key; the bundle keeps the old one while rotating.
    let config = site.path().join("release.yaml");
    std::fs::write(
        &config,
        format!(
            "repository: {url}\nmanifest: {manifest}\nwork_dir: work\n\
             signing:\n  key_file: b.asc\n  published_keys: [a.pub.asc]\n\
             gate:\n  command: [\"true\"]\n\
             channels:\n  stable:\n    signing:\n      key_file: a.asc\n",
            manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample/falco.yaml"),
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    release(&["run", "--tag", "0.45.0", "--config", config]);
    let (pub_a, pub_b) = (
        a.public_key_armored().unwrap(),
        b.public_key_armored().unwrap(),
    );
    assert!(apt_ok(&url, &pub_a));
    assert!(!apt_ok(&url, &pub_b), "stable is signed with its own key A");
    let deb = repo
        .path()
        .join("packages/deb/stable/falco-0.45.0-x86_64.deb");
    let deb_digest = sha256_hex(&std::fs::read(&deb).unwrap());

    // The new key on the command line signs every channel.
    let b_file = site.path().join("b.asc");
    let text = release(&[
        "resign",
        "--channel",
        "stable",
        "--config",
        config,
        "--key-file",
        b_file.to_str().unwrap(),
    ]);
    assert!(text.contains(&b.fingerprint()), "{text}");
    assert!(text.contains(KEY_BUNDLE), "{text}");
    assert_eq!(sha256_hex(&std::fs::read(&deb).unwrap()), deb_digest);

    assert!(apt_ok(&url, &pub_b) && dnf_ok(&url, &pub_b));
    assert!(!apt_ok(&url, &pub_a) && !dnf_ok(&url, &pub_a));
    let bundle = std::fs::read_to_string(repo.path().join(KEY_BUNDLE)).unwrap();
    assert_eq!(bundle.matches("BEGIN PGP PUBLIC KEY BLOCK").count(), 2);
    assert!(apt_ok(&url, &bundle) && dnf_ok(&url, &bundle));
}
