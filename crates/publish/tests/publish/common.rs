//! Fixtures: real tarballs, stores, and the checks a user would run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{Artifact, KeyAlgorithm, PgpSigner, Sha256Digest, Signer};
use falco_artifacts_pkg_tar::{Tarball, TarballBuilder};
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
use falco_artifacts_publish::StoreOptions;
use falco_artifacts_publish::{RepoIndex, RepoStore};
#[cfg(feature = "s3")]
use falco_artifacts_testkit::MotoS3;
use falco_artifacts_testkit::{require_tool, GpgHome};
use tempfile::TempDir;

static SIGNER: OnceLock<Arc<PgpSigner>> = OnceLock::new();

pub(crate) fn signer() -> &'static PgpSigner {
    SIGNER.get_or_init(|| {
        Arc::new(
            PgpSigner::generate(
                "Falco Publish Test <test@example.invalid>",
                KeyAlgorithm::Ed25519,
            )
            .unwrap(),
        )
    })
}

/// The same key as [`signer`], shareable.
pub(crate) fn shared_signer() -> Arc<dyn Signer> {
    signer();
    Arc::clone(SIGNER.get().unwrap()) as Arc<dyn Signer>
}

/// A GnuPG home that trusts nothing but our public key.
pub(crate) fn verifier() -> GpgHome {
    let gpg = GpgHome::new().unwrap();
    gpg.import_key(&signer().public_key_armored().unwrap())
        .unwrap();
    gpg
}

/// A real release tarball with its `.sha256` and `.asc`.
pub(crate) struct Built {
    _dir: TempDir,
    pub(crate) tarball: Tarball,
    pub(crate) artifacts: Vec<Arc<dyn Artifact>>,
}

impl Built {
    pub(crate) fn name(&self) -> String {
        self.tarball
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

/// Builds `falco-<version>-<arch>.tar.gz`; `salt` changes the bytes.
pub(crate) fn tarball(version: &str, arch: &str, salt: &str) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: falco\nversion: \"{version}\"\narch: {arch}\nmaintainer: M <m@example.invalid>\n\
         description: Falco\nlicense: Apache-2.0\nsource_date: 1700000000\ncontents:\n\
         - {{ dst: /etc/falco/falco.yaml, inline: \"salt: {salt}\\n\", type: config-noreplace }}\n\
         - {{ dst: /usr/bin/falco, inline: \"#!/bin/sh\\necho {version}\\n\", mode: \"0755\" }}\n"
    );
    let spec = load_manifest_str(&yaml, Path::new("."), &ManifestOptions::default()).unwrap();
    let tarball = TarballBuilder::new(&spec)
        .with_signer(signer())
        .build(dir.path())
        .unwrap();
    let artifacts = tarball.artifacts(&spec).unwrap();
    Built {
        _dir: dir,
        tarball,
        artifacts,
    }
}

pub(crate) fn file_store(dir: &Path) -> RepoStore {
    RepoStore::from_url(&format!("file://{}", dir.display())).unwrap()
}

#[cfg(feature = "s3")]
pub(crate) fn s3_options(s3: &MotoS3) -> StoreOptions {
    StoreOptions {
        endpoint: Some(s3.endpoint()),
        region: Some(s3.region().into()),
        access_key_id: Some(s3.access_key().into()),
        secret_access_key: Some(s3.secret_key().into()),
        allow_http: true,
        path_style: true,
        ..StoreOptions::default()
    }
}

#[cfg(feature = "s3")]
/// A bucket anyone may read, like a public download bucket, and a store on it.
pub(crate) fn s3_store(s3: &MotoS3, bucket: &str) -> RepoStore {
    s3.create_public_bucket(bucket).unwrap();
    RepoStore::from_url_with(&format!("s3://{bucket}"), &s3_options(s3)).unwrap()
}

/// The options that reach an Azurite server: its development account, path-style endpoint.
#[cfg(feature = "azure")]
pub(crate) fn azure_options(azurite: &falco_artifacts_testkit::Azurite) -> StoreOptions {
    StoreOptions {
        endpoint: Some(azurite.endpoint()),
        access_key_id: Some(azurite.account().into()),
        secret_access_key: Some(azurite.account_key().into()),
        allow_http: true,
        ..StoreOptions::default()
    }
}

/// A container anyone may read, like a public download container, and a store on it.
#[cfg(feature = "azure")]
pub(crate) fn azure_store(
    azurite: &falco_artifacts_testkit::Azurite,
    container: &str,
) -> RepoStore {
    azurite.create_public_container(container).unwrap();
    RepoStore::from_url_with(&format!("az://{container}"), &azure_options(azurite)).unwrap()
}

/// The options that reach a fake-gcs-server: its base URL, unsigned requests.
#[cfg(feature = "gcs")]
pub(crate) fn gcs_options(gcs: &falco_artifacts_testkit::FakeGcs) -> StoreOptions {
    StoreOptions {
        endpoint: Some(gcs.endpoint()),
        allow_http: true,
        anonymous: true,
        ..StoreOptions::default()
    }
}

pub(crate) fn curl() -> PathBuf {
    require_tool("curl", "Debian package curl").unwrap()
}

/// Percent-encodes a key for a URL the way S3 clients do (`+` is `%2B`).
pub(crate) fn encode(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Downloads `url` with curl; the HTTP status and the body.
pub(crate) fn http_get(url: &str) -> (u16, Vec<u8>) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new(curl())
        .args(["-sS", "-o"])
        .arg(out.path())
        .args(["-w", "%{http_code}", url])
        .output()
        .unwrap();
    assert!(output.status.success(), "curl {url}: {output:?}");
    let status: u16 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    (status, std::fs::read(out.path()).unwrap())
}

/// What a user does with a published tarball: download it with its `.sha256` and `.asc`,
/// run `sha256sum -c` and `gpg --verify`.
pub(crate) fn check_tarball_like_a_user(repo_url: &str, arch: &str, name: &str, gpg: &GpgHome) {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        name.to_owned(),
        format!("{name}.sha256"),
        format!("{name}.asc"),
    ] {
        let url = format!("{repo_url}/{arch}/{}", encode(&file));
        let (status, body) = http_get(&url);
        assert_eq!(status, 200, "GET {url}");
        std::fs::write(dir.path().join(&file), body).unwrap();
    }
    let sha256sum = require_tool("sha256sum", "Debian package coreutils").unwrap();
    let check = Command::new(sha256sum)
        .args(["-c", &format!("{name}.sha256")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sha256sum -c {name}.sha256: {check:?}"
    );
    let verified = gpg
        .verify_detached(
            &dir.path().join(format!("{name}.asc")),
            &dir.path().join(name),
        )
        .unwrap();
    assert!(verified.good, "{}", verified.status);
    assert_eq!(verified.digest_algo, Some(8), "SHA-256 signatures");
}

/// Downloads `index.json` over HTTP (and the buckets of a split index, checking each one's
/// digest) and checks every file it names the way a client would: present, right size, right
/// SHA-256. Returns the index with the buckets' files joined into `files`.
pub(crate) fn check_index_over_http(repo_url: &str) -> RepoIndex {
    let (status, body) = http_get(&format!("{repo_url}/index.json"));
    assert_eq!(status, 200, "GET {repo_url}/index.json");
    let mut index: RepoIndex = serde_json::from_slice(&body).unwrap();
    for bucket in &index.buckets {
        let url = format!("{repo_url}/{}", bucket.key);
        let (status, body) = http_get(&url);
        assert_eq!(status, 200, "{url}: a bucket of the index is not served");
        assert_eq!(Sha256Digest::of_bytes(&body), bucket.sha256, "{url}");
        let entries: Vec<falco_artifacts_publish::IndexEntry> =
            serde_json::from_slice(&body).unwrap();
        assert_eq!(entries.len(), bucket.files, "{url}");
        assert!(entries.iter().all(|e| e.group() == bucket.group), "{url}");
        index.files.extend(entries);
    }
    index.files.sort_by(|a, b| a.path.cmp(&b.path));
    for entry in &index.files {
        let url = format!("{repo_url}/{}", encode(&entry.path));
        let (status, body) = http_get(&url);
        assert_eq!(status, 200, "{url} is indexed but not served");
        assert_eq!(body.len() as u64, entry.size, "{url}");
        assert_eq!(Sha256Digest::of_bytes(&body), entry.sha256, "{url}");
    }
    index
}

/// Every file under `dir` with its digest: to prove a refused publish changed nothing.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, Sha256Digest> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Sha256Digest>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, Sha256Digest::of_bytes(&std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
