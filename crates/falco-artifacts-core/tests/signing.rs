//! Our OpenPGP signatures, checked by the real gpg: detached and cleartext, SHA-256, with keys
//! we generate and keys gpg generates.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use falco_artifacts_core::{KeyAlgorithm, PgpSigner, SignError, Signer};
use falco_artifacts_testkit::{require_tool, GpgHome};

/// OpenPGP's id of SHA-256.
const SHA256: u8 = 8;

fn check_both_kinds(signer: &dyn Signer) {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("falco-0.39.0-x86_64.tar.gz");
    std::fs::write(&data, b"not really a tarball\n").unwrap();
    let asc = work.path().join("falco-0.39.0-x86_64.tar.gz.asc");
    let sig = signer
        .sign_detached_armored(&mut std::fs::File::open(&data).unwrap())
        .unwrap();
    std::fs::write(&asc, sig).unwrap();
    let inrelease = work.path().join("InRelease");
    let release = "Origin: falco\nLabel: falco\nSuite: stable\n-dashed line\n\nSHA256:\n abc 1 main/binary-amd64/Packages\n";
    std::fs::write(&inrelease, signer.sign_cleartext(release).unwrap()).unwrap();

    let gpg = GpgHome::new().unwrap();
    gpg.import_key(&signer.public_key_armored().unwrap())
        .unwrap();

    let detached = gpg.verify_detached(&asc, &data).unwrap();
    assert!(detached.good, "{}", detached.status);
    assert_eq!(detached.digest_algo, Some(SHA256), "{}", detached.status);
    let cleartext = gpg.verify_cleartext(&inrelease).unwrap();
    assert!(cleartext.good, "{}", cleartext.status);
    assert_eq!(cleartext.digest_algo, Some(SHA256), "{}", cleartext.status);

    // gpg must see the signed text, dash-escaping undone (the line break before the armor
    // belongs to the framing, so only trailing line breaks may differ).
    let out = Command::new("gpg")
        .args(["--batch", "--quiet", "--homedir"])
        .arg(gpg.path())
        .arg("--decrypt")
        .arg(&inrelease)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        release.trim_end()
    );

    // A tampered file must fail.
    std::fs::write(&data, b"tampered\n").unwrap();
    let tampered = gpg.verify_detached(&asc, &data);
    assert!(
        !matches!(tampered, Ok(v) if v.good),
        "a tampered file verified"
    );
}

#[test]
fn ed25519_signatures_verify_with_gpg() {
    let signer =
        PgpSigner::generate("Falco Test <test@example.com>", KeyAlgorithm::Ed25519).unwrap();
    check_both_kinds(&signer);
}

#[test]
fn rsa_signatures_verify_with_gpg() {
    let signer =
        PgpSigner::generate("Falco RSA <rsa@example.com>", KeyAlgorithm::Rsa(2048)).unwrap();
    check_both_kinds(&signer);
}

#[test]
fn a_saved_key_loads_back_and_signs_the_same() {
    let signer =
        PgpSigner::generate("Falco Test <test@example.com>", KeyAlgorithm::Ed25519).unwrap();
    let armored = signer.secret_key_armored().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.asc");
    std::fs::write(&path, &armored).unwrap();
    let loaded = PgpSigner::from_armored_file(&path, None).unwrap();
    assert_eq!(loaded.fingerprint(), signer.fingerprint());
    // With a fixed signature time, signatures are reproducible.
    let at = UNIX_EPOCH + Duration::from_secs(4_000_000_000);
    let a = loaded
        .with_signature_time(at)
        .sign_detached(&mut &b"x"[..])
        .unwrap();
    let b = PgpSigner::from_armored(&armored, None)
        .unwrap()
        .with_signature_time(at)
        .sign_detached(&mut &b"x"[..])
        .unwrap();
    assert_eq!(a, b);
}

fn gpg_in(home: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("gpg")
        .args([
            "--batch",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--homedir",
        ])
        .arg(home)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn keys_made_by_gpg_sign_with_their_signing_subkey_and_passphrase() {
    require_tool("gpg", "gnupg").expect("gpg is needed");
    let maker = tempfile::tempdir().unwrap();
    let home = maker.path();
    std::fs::set_permissions(home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // A certify-only primary with a separate signing subkey, as careful release keys are.
    gpg_in(
        home,
        &[
            "--passphrase",
            "s3cret",
            "--quick-gen-key",
            "Release <rel@example.com>",
            "ed25519",
            "cert",
            "never",
        ],
    );
    let fpr = String::from_utf8(gpg_in(home, &["--list-keys", "--with-colons"]))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .unwrap()
        .to_owned();
    gpg_in(
        home,
        &[
            "--passphrase",
            "s3cret",
            "--quick-add-key",
            &fpr,
            "ed25519",
            "sign",
            "never",
        ],
    );
    let secret = String::from_utf8(gpg_in(
        home,
        &[
            "--passphrase",
            "s3cret",
            "--armor",
            "--export-secret-keys",
            &fpr,
        ],
    ))
    .unwrap();

    let signer = PgpSigner::from_armored(&secret, Some("s3cret")).unwrap();
    assert_eq!(signer.fingerprint(), fpr);
    check_both_kinds(&signer);

    let wrong = PgpSigner::from_armored(&secret, Some("wrong"));
    assert!(matches!(wrong, Err(SignError::Sign { .. })), "{wrong:?}");
    let garbage = PgpSigner::from_armored("not a key", None).unwrap_err();
    assert!(garbage.to_string().contains("cannot parse"), "{garbage}");
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home)
        .args(["--kill", "all"])
        .status();
}

#[test]
fn key_from_the_environment() {
    let signer = PgpSigner::generate("Env <env@example.com>", KeyAlgorithm::Ed25519).unwrap();
    let var = "FALCO_ARTIFACTS_TEST_SIGNING_KEY";
    std::env::set_var(var, signer.secret_key_armored().unwrap());
    let loaded = PgpSigner::from_env(var, None).unwrap();
    assert_eq!(loaded.fingerprint(), signer.fingerprint());
    let missing = PgpSigner::from_env("FALCO_ARTIFACTS_TEST_NO_SUCH_VAR", None).unwrap_err();
    assert!(missing
        .to_string()
        .contains("FALCO_ARTIFACTS_TEST_NO_SUCH_VAR"));
}
