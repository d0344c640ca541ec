//! Signatures `rpm -K` accepts, and re-signing without rebuilding.

use crate::common::*;
use crate::reader::rpmbuild_package;

/// An rpm database in a temporary directory holding only `signer`'s public key.
pub(crate) fn keyring(dir: &Path, signer: &dyn Signer) -> PathBuf {
    let db = dir.join("rpmdb");
    fs::create_dir_all(&db).unwrap();
    let key = dir.join("key.asc");
    fs::write(&key, signer.public_key_armored().unwrap()).unwrap();
    run(Command::new(tool("rpm"))
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(&key));
    db
}

/// `rpm -Kv` output, asserting that the header signature is present and good and every
/// digest is OK.
pub(crate) fn check_signature(db: &Path, rpm: &Path) -> String {
    let out = run(Command::new(tool("rpm"))
        .arg("--dbpath")
        .arg(db)
        .arg("-Kv")
        .arg(rpm));
    assert!(!out.contains("NOT OK") && !out.contains("NOKEY"), "{out}");
    assert!(out.contains("Header SHA256 digest: OK"), "{out}");
    assert!(out.contains("Payload SHA256 digest: OK"), "{out}");
    out
}

#[test]
pub(crate) fn ed25519_and_rsa_signatures_pass_rpm_k() {
    for (algorithm, expected) in [
        (KeyAlgorithm::Ed25519, "Header V4 EdDSA/SHA256 Signature"),
        (KeyAlgorithm::Rsa(2048), "Header V4 RSA/SHA256 Signature"),
    ] {
        let tmp = TempDir::new().unwrap();
        let signer = PgpSigner::generate("Falco Test <test@example.invalid>", algorithm).unwrap();
        let db = keyring(tmp.path(), &signer);
        let path = build(&sample_spec("0.39.0"), tmp.path(), Some(&signer));
        let out = check_signature(&db, &path);
        assert!(out.contains(&format!("{expected}, key ID")), "{out}");
        assert!(
            out.contains("Signature, key ID") && out.contains(": OK"),
            "{out}"
        );
        let info = RpmInfo::open(&path).unwrap();
        assert_eq!(info.signatures.len(), 1);
        // Without the key rpm sees the signature but cannot check it.
        let empty = tmp.path().join("empty-db");
        fs::create_dir_all(&empty).unwrap();
        let out = Command::new(tool("rpm"))
            .arg("--dbpath")
            .arg(&empty)
            .arg("-Kv")
            .arg(&path)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("NOKEY"));
    }
}

#[test]
pub(crate) fn resigning_rotates_the_key_without_touching_header_or_payload() {
    let tmp = TempDir::new().unwrap();
    let old = PgpSigner::generate("Old <old@example.invalid>", KeyAlgorithm::Ed25519).unwrap();
    let new = PgpSigner::generate("New <new@example.invalid>", KeyAlgorithm::Rsa(2048)).unwrap();
    let path = build(&sample_spec("0.39.0"), tmp.path(), Some(&old));
    let before = fs::read(&path).unwrap();
    let range = RpmInfo::open(&path).unwrap().header_range;

    resign_file(&path, &new).unwrap();
    let after = fs::read(&path).unwrap();
    assert_eq!(before.len(), after.len(), "re-signed in place");
    let start = usize::try_from(range.start).unwrap();
    assert_eq!(
        before[start..],
        after[start..],
        "header and payload untouched"
    );
    let new_db = keyring(&tmp.path().join("new"), &new);
    check_signature(&new_db, &path);
    let old_db = keyring(&tmp.path().join("old"), &old);
    let out = Command::new(tool("rpm"))
        .arg("--dbpath")
        .arg(&old_db)
        .arg("-Kv")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NOKEY"),
        "the old signature is gone"
    );

    // A package rpmbuild wrote is signed in place too, its own digests kept.
    let peer = rpmbuild_package(tmp.path());
    let len = fs::metadata(&peer).unwrap().len();
    resign_file(&peer, &new).unwrap();
    assert_eq!(fs::metadata(&peer).unwrap().len(), len);
    let out = check_signature(&new_db, &peer);
    assert!(out.contains("Header V4 RSA/SHA256 Signature"), "{out}");

    // A package with no room in its signature header is rewritten instead.
    let mut b = rpm::PackageBuilder::new("tight", "1.0", "MIT", "noarch", "no reserved space");
    b.using_config(
        rpm::BuildConfig::v4()
            .source_date(1_700_000_000u32)
            .reserved_space(None),
    );
    b.with_file_contents("x", rpm::FileOptions::new("/usr/share/tight/x"))
        .unwrap();
    let tight = tmp.path().join("tight.rpm");
    b.build().unwrap().write_file(&tight).unwrap();
    let len = fs::metadata(&tight).unwrap().len();
    resign_file(&tight, &new).unwrap();
    assert!(fs::metadata(&tight).unwrap().len() > len);
    check_signature(&new_db, &tight);
}
