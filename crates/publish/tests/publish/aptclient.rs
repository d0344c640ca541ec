//! Debian packages built by pkg-deb, and testkit's sandboxed `apt-get`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact, RepoKind, Sha256Digest, Signer};
use falco_artifacts_pkg_deb::DebBuilder;
use tempfile::TempDir;

use crate::common::signer;

/// A real `.deb` and its `.asc`.
pub(crate) struct BuiltDeb {
    _dir: TempDir,
    path: PathBuf,
    pub(crate) sha256: Sha256Digest,
    pub(crate) artifacts: Vec<Arc<dyn Artifact>>,
}

impl BuiltDeb {
    pub(crate) fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

/// Builds `falco-<version>-<arch>.deb` with pkg-deb; `salt` changes the bytes.
pub(crate) fn deb(version: &str, arch: &str, salt: &str) -> BuiltDeb {
    named_deb("falco", version, arch, salt)
}

/// A small package called `name`.
pub(crate) fn named_deb(name: &str, version: &str, arch: &str, salt: &str) -> BuiltDeb {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: {name}\nversion: \"{version}\"\narch: {arch}\nmaintainer: M <m@example.invalid>\n\
         description: |\n  Falco\n  Cloud native runtime security.\nlicense: Apache-2.0\n\
         source_date: 1700000000\ncontents:\n\
         - {{ dst: /etc/falco/falco.yaml, inline: \"salt: {salt}\\n\", type: config-noreplace }}\n\
         - {{ dst: /usr/bin/falco, inline: \"#!/bin/sh\\necho {version}\\n\", mode: \"0755\" }}\n"
    );
    let spec = load_manifest_str(&yaml, Path::new("."), &ManifestOptions::default()).unwrap();
    let report = DebBuilder::new(&spec)
        .build()
        .unwrap()
        .write_to_dir(dir.path())
        .unwrap();
    let path = report.path.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let asc = signer().sign_detached_armored(&mut &bytes[..]).unwrap();
    let deb: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_path(ArtifactKind::Deb, &path)
            .unwrap()
            .with_version(spec.version.clone())
            .with_arch(spec.arch),
    );
    let sig: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_bytes(
            ArtifactKind::Signature,
            format!("{name}.asc"),
            asc.into_bytes(),
        )
        .unwrap()
        .with_version(spec.version.clone())
        .with_arch(spec.arch)
        .with_repository(RepoKind::Deb),
    );
    BuiltDeb {
        _dir: dir,
        sha256: Sha256Digest::of_bytes(&bytes),
        path,
        artifacts: vec![deb, sig],
    }
}

/// testkit's sandboxed `apt-get`, trusting our test key, for the `stable` suite; any apt
/// error fails the test with apt's output.
pub(crate) struct AptSandbox(falco_artifacts_testkit::AptSandbox);

impl AptSandbox {
    pub(crate) fn new(repo_url: &str) -> Self {
        let key = signer().public_key_armored().unwrap();
        AptSandbox(falco_artifacts_testkit::AptSandbox::new(repo_url, "stable", &key).unwrap())
    }

    /// testkit's sandbox itself, for a caller that reports apt's errors with its own context
    /// (a reader racing publishers).
    pub(crate) fn client(&self) -> &falco_artifacts_testkit::AptSandbox {
        &self.0
    }

    /// `apt-get update` from empty lists; fails the test on any error or warning.
    pub(crate) fn update(&self) {
        self.0.update().unwrap();
    }

    /// `apt-get download falco=<version>`; the downloaded file's digest.
    pub(crate) fn download(&self, package: &str, version: &str) -> Sha256Digest {
        Sha256Digest::of_bytes(&self.0.download(package, version).unwrap())
    }
}
