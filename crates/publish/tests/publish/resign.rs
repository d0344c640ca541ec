//! Key rotation: a repository published with key A, re-signed in place with key B (RSA 4096,
//! like Falco's real key), checked with real apt, dnf, `rpm -K` and gpg trusting only B, only
//! A, and the bundle of both.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use falco_artifacts_core::{
    public_key_bundle, ChannelConfig, KeyAlgorithm, PgpSigner, Publisher, Sha256Digest, Signer,
};
use falco_artifacts_publish::{
    AptRepository, BinRepository, RepoStore, VerifyOptions, YumRepository,
};
use falco_artifacts_testkit::{AptSandbox, DnfSandbox, GpgHome, HttpServer, RpmKeyring};

use crate::aptclient::deb;
use crate::common::{file_store, snapshot, tarball};
use crate::yumclient::rpm;

/// Two RSA 4096 keys, generated once per test binary (keygen is the slow part).
fn keys() -> &'static (Arc<PgpSigner>, Arc<PgpSigner>) {
    static KEYS: OnceLock<(Arc<PgpSigner>, Arc<PgpSigner>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let a = PgpSigner::generate("Falco Key A <a@example.invalid>", KeyAlgorithm::Rsa(4096));
        let b = PgpSigner::generate("Falco Key B <b@example.invalid>", KeyAlgorithm::Rsa(4096));
        (Arc::new(a.unwrap()), Arc::new(b.unwrap()))
    })
}

fn public(key: &PgpSigner) -> String {
    key.public_key_armored().unwrap()
}

fn apt(store: RepoStore, key: &Arc<PgpSigner>) -> AptRepository {
    AptRepository::builder(store)
        .with_signer(Arc::clone(key) as Arc<dyn Signer>)
        .build()
        .unwrap()
}

fn yum(store: RepoStore, key: &Arc<PgpSigner>) -> YumRepository {
    YumRepository::builder(store)
        .with_signer(Arc::clone(key) as Arc<dyn Signer>)
        .build()
        .unwrap()
}

/// The files a signature lives in (detached `.asc`, the signed top files, the `.rpm`s whose
/// header carries one), with their digests.
fn signed_set(site: &Path) -> BTreeMap<String, Sha256Digest> {
    snapshot(site)
        .into_iter()
        .filter(|(k, _)| {
            !k.contains(".publish/")
                && [".asc", "/InRelease", "/Release.gpg", ".rpm"]
                    .iter()
                    .any(|s| k.ends_with(s))
        })
        .collect()
}

/// The digests no signature may change: each `.deb` and tarball's bytes, each `.rpm`'s header
/// and payload digests as rpm reads them.
fn payload_digests(site: &Path, rpm: &RpmKeyring) -> BTreeMap<String, String> {
    snapshot(site)
        .into_iter()
        .filter_map(|(k, digest)| {
            if k.ends_with(".deb") || k.ends_with(".tar.gz") {
                Some((k, digest.to_string()))
            } else if k.ends_with(".rpm") {
                let digests = rpm.digests(&site.join(&k)).unwrap();
                Some((k, digests))
            } else {
                None
            }
        })
        .collect()
}

fn apt_update(url: &str, key: &str) -> Result<AptSandbox, String> {
    let apt = AptSandbox::new(url, "stable", key).unwrap();
    apt.update().map(|()| apt).map_err(|e| e.to_string())
}

fn dnf_install(url: &str, key: &str) -> Result<DnfSandbox, String> {
    let dnf = DnfSandbox::new(url, key).unwrap();
    dnf.must(&["install", "falco"])
        .map(|_| dnf)
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resign_rotates_every_signature_of_a_stable_repository_and_nothing_else() {
    let (a, b) = keys();
    let (pub_a, pub_b) = (public(a), public(b));
    let bundle = public_key_bundle(&[("key A", &pub_a), ("key B", &pub_b)]).unwrap();
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let deb_url = format!("{}/packages/deb", http.url());
    let rpm_url = format!("{}/packages/rpm", http.url());
    let stable = ChannelConfig::stable();

    // Published with key A: packages unsigned, signed on publish (rpm), `.asc` beside each.
    let debs = deb("0.39.0", "x86_64", "r");
    let rpms = rpm("0.39.0", "x86_64", "r", false);
    let tgz = tarball("0.39.0", "x86_64", "r");
    let store = file_store(site.path());
    apt(store.clone(), a)
        .publish(&stable, &debs.artifacts)
        .await
        .unwrap();
    yum(store.clone(), a)
        .publish(&stable, &rpms.artifacts)
        .await
        .unwrap();
    let bin = BinRepository::builder(store.clone()).build().unwrap();
    bin.publish(&stable, &tgz.artifacts).await.unwrap();
    bin.resign(&stable, a.as_ref()).await.unwrap();
    apt_update(&deb_url, &pub_a).unwrap();
    dnf_install(&rpm_url, &pub_a).unwrap();

    let rpm_a = RpmKeyring::new(&[&pub_a]).unwrap();
    let rpm_b = RpmKeyring::new(&[&pub_b]).unwrap();
    let rpm_both = RpmKeyring::new(&[&bundle]).unwrap();
    let signed_before = signed_set(site.path());
    let payload_before = payload_digests(site.path(), &rpm_a);

    // Re-signed with key B, the stable channel included.
    let deb_report = apt(store.clone(), b).resign(&stable).await.unwrap();
    let rpm_report = yum(store.clone(), b).resign(&stable).await.unwrap();
    let bin_report = bin.resign(&stable, b.as_ref()).await.unwrap();
    assert_eq!(
        deb_report.signatures,
        ["stable/falco-0.39.0-x86_64.deb.asc"]
    );
    assert!(deb_report.packages.is_empty());
    assert_eq!(rpm_report.packages, ["falco-0.39.0-x86_64.rpm"]);
    assert_eq!(rpm_report.signatures, ["falco-0.39.0-x86_64.rpm.asc"]);
    assert_eq!(
        bin_report.signatures,
        ["x86_64/falco-0.39.0-x86_64.tar.gz.asc"]
    );

    // The same files carry signatures, every one of them rewritten; no payload changed.
    let signed_after = signed_set(site.path());
    assert_eq!(
        signed_before.keys().collect::<Vec<_>>(),
        signed_after.keys().collect::<Vec<_>>()
    );
    for (key, digest) in &signed_before {
        assert_ne!(&signed_after[key], digest, "{key} was not re-signed");
    }
    assert_eq!(payload_digests(site.path(), &rpm_b), payload_before);

    // apt and dnf trusting only B succeed, only A fail, the bundle succeeds.
    let apt_b = apt_update(&deb_url, &pub_b).unwrap();
    assert_eq!(
        Sha256Digest::of_bytes(&apt_b.download("falco", "0.39.0").unwrap()),
        debs.sha256
    );
    let dnf = dnf_install(&rpm_url, &pub_b).unwrap();
    assert_eq!(
        dnf.installed("falco").unwrap().as_deref(),
        Some("falco-0.39.0-1")
    );
    let refused = apt_update(&deb_url, &pub_a).expect_err("apt trusted key A");
    assert!(
        refused.contains("NO_PUBKEY") || refused.contains("signature"),
        "{refused}"
    );
    let refused = dnf_install(&rpm_url, &pub_a).expect_err("dnf trusted key A");
    assert!(
        refused.contains("repomd.xml") || refused.contains("GPG"),
        "{refused}"
    );
    apt_update(&deb_url, &bundle).unwrap();
    dnf_install(&rpm_url, &bundle).unwrap();

    // rpm -K and gpg agree, file by file.
    let package = site.path().join("packages/rpm/falco-0.39.0-x86_64.rpm");
    let k = rpm_b.check(&package).unwrap();
    assert!(k.good, "{}", k.output);
    assert!(!rpm_a.check(&package).unwrap().good);
    assert!(rpm_both.check(&package).unwrap().good);
    let (gpg_a, gpg_b) = (GpgHome::new().unwrap(), GpgHome::new().unwrap());
    gpg_a.import_key(&pub_a).unwrap();
    gpg_b.import_key(&pub_b).unwrap();
    for key in signed_after.keys().filter(|k| k.ends_with(".asc")) {
        let sig = site.path().join(key);
        let data = site.path().join(key.strip_suffix(".asc").unwrap());
        assert!(gpg_b.verify_detached(&sig, &data).unwrap().good, "{key}");
        let with_a = gpg_a.verify_detached(&sig, &data);
        assert!(!with_a.is_ok_and(|v| v.good), "{key} verifies with key A");
    }
    let in_release = site.path().join("packages/deb/dists/stable/InRelease");
    assert!(gpg_b.verify_cleartext(&in_release).unwrap().good);

    // Every repository still reads clean; a second resign with the same key is harmless.
    let deb_repo = apt(store.clone(), b);
    let rpm_repo = yum(store.clone(), b);
    let options = VerifyOptions::default();
    for report in [
        deb_repo.verify(&stable, &options).await.unwrap(),
        rpm_repo.verify(&stable, &options).await.unwrap(),
        bin.verify(&stable, &options).await.unwrap(),
    ] {
        assert!(report.is_clean(), "{:?}", report.problems);
    }
    let again = rpm_repo.resign(&stable).await.unwrap();
    assert_eq!(again.packages, ["falco-0.39.0-x86_64.rpm"]);
    dnf_install(&rpm_url, &pub_b).unwrap();
}

#[tokio::test]
async fn a_repository_without_a_signer_cannot_be_resigned_and_is_left_alone() {
    let site = tempfile::tempdir().unwrap();
    let store = file_store(site.path());
    let stable = ChannelConfig::stable();
    let debs = deb("0.39.0", "x86_64", "n");
    let unsigned = AptRepository::builder(store.clone()).build().unwrap();
    unsigned.publish(&stable, &debs.artifacts).await.unwrap();
    let before = snapshot(site.path());
    let err = unsigned.resign(&stable).await.unwrap_err();
    assert!(err.to_string().contains("packages/deb"), "{err}");
    assert!(err.to_string().contains("no signer"), "{err}");
    assert_eq!(snapshot(site.path()), before);
    // An empty repository: nothing to re-sign, nothing written.
    let empty = apt(store, &keys().1);
    let report = empty.resign(&ChannelConfig::development()).await.unwrap();
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(snapshot(site.path()), before);
}
