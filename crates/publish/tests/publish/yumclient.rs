//! RPM packages built by pkg-rpm, and real `dnf` confined to a temporary install root.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact, RepoKind, Sha256Digest, Signer};
use falco_artifacts_pkg_rpm::RpmBuilder;
use tempfile::TempDir;

use crate::common::signer;

/// A real `.rpm` (and, when signed at build time, its `.asc`).
pub(crate) struct BuiltRpm {
    _dir: TempDir,
    pub(crate) path: PathBuf,
    pub(crate) sha256: Sha256Digest,
    pub(crate) artifacts: Vec<Arc<dyn Artifact>>,
}

impl BuiltRpm {
    pub(crate) fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

/// The manifest of a small `falco` with no dependencies dnf would have to resolve.
pub(crate) fn manifest(version: &str, arch: &str, salt: &str) -> String {
    named_manifest("falco", version, arch, salt)
}

/// The same package called `name`.
pub(crate) fn named_manifest(name: &str, version: &str, arch: &str, salt: &str) -> String {
    format!(
        "name: {name}\nversion: \"{version}\"\narch: {arch}\nmaintainer: M <m@example.invalid>\n\
         description: |\n  Falco\n  Cloud native runtime security & <more>.\nlicense: Apache-2.0\n\
         homepage: https://falco.org\nsource_date: 1700000000\n\
         overrides:\n  rpm: {{ provides: [\"falco-engine = 1.2\"], requires: [\"falco-engine >= 1.0\"], conflicts: [\"sysdig < 0.1\"] }}\n\
         contents:\n\
         - {{ dst: /etc/falco/falco.yaml, inline: \"salt: {salt}\\n\", type: config-noreplace }}\n\
         - {{ dst: /etc/falco/falco_rules.yaml, inline: \"- rule: x\\n\" }}\n\
         - {{ dst: /usr/share/falco/README, inline: \"{salt}\\n\" }}\n\
         - {{ dst: /usr/bin/falco, inline: \"#!/bin/sh\\necho {version}\\n\", mode: \"0755\" }}\n"
    )
}

/// Builds `falco-<version>-<arch>.rpm` with pkg-rpm; `salt` changes the bytes. Signed builds
/// come with an `.asc` like a release pipeline makes them.
pub(crate) fn rpm(version: &str, arch: &str, salt: &str, signed: bool) -> BuiltRpm {
    named_rpm("falco", version, arch, salt, signed)
}

/// [`rpm`] of a package called `name`.
pub(crate) fn named_rpm(
    name: &str,
    version: &str,
    arch: &str,
    salt: &str,
    signed: bool,
) -> BuiltRpm {
    let dir = tempfile::tempdir().unwrap();
    let spec = load_manifest_str(
        &named_manifest(name, version, arch, salt),
        Path::new("."),
        &ManifestOptions::default(),
    )
    .unwrap();
    let mut builder = RpmBuilder::new(&spec);
    if signed {
        builder = builder.with_signer(signer());
    }
    let path = builder.build().unwrap().write_to_dir(dir.path()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut artifacts: Vec<Arc<dyn Artifact>> = vec![Arc::new(
        LocalArtifact::from_path(ArtifactKind::Rpm, &path)
            .unwrap()
            .with_version(spec.version.clone())
            .with_arch(spec.arch),
    )];
    if signed {
        let asc = signer().sign_detached_armored(&mut &bytes[..]).unwrap();
        artifacts.push(Arc::new(
            LocalArtifact::from_bytes(
                ArtifactKind::Signature,
                format!("{name}.asc"),
                asc.into_bytes(),
            )
            .unwrap()
            .with_version(spec.version.clone())
            .with_arch(spec.arch)
            .with_repository(RepoKind::Rpm),
        ));
    }
    BuiltRpm {
        _dir: dir,
        sha256: Sha256Digest::of_bytes(&bytes),
        path,
        artifacts,
    }
}

/// testkit's sandboxed `dnf`, trusting our test key; any dnf error fails the test with dnf's
/// output.
pub(crate) struct DnfSandbox(falco_artifacts_testkit::DnfSandbox);

impl DnfSandbox {
    pub(crate) fn new(repo_url: &str) -> Self {
        let key = signer().public_key_armored().unwrap();
        DnfSandbox(falco_artifacts_testkit::DnfSandbox::new(repo_url, &key).unwrap())
    }

    /// Runs `dnf <args>` and fails the test with dnf's output unless it succeeds.
    pub(crate) fn must(&self, args: &[&str]) -> String {
        self.0.must(args).unwrap()
    }

    /// Refreshes the metadata (checking `repomd.xml.asc`), failing the test on any error.
    pub(crate) fn makecache(&self) {
        self.must(&["makecache"]);
    }

    /// Whether dnf reads the repository's metadata without an error.
    pub(crate) fn makecache_ok(&self) -> Result<(), String> {
        self.0
            .must(&["makecache"])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// `name-version-release` of the installed `falco`, if any.
    pub(crate) fn installed(&self) -> Option<String> {
        self.0.installed("falco").unwrap()
    }

    /// A file of the installed root.
    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.0.root().join(path.trim_start_matches('/'))).unwrap()
    }

    /// Downloads `falco-<version>` as dnf does; its SHA-256.
    pub(crate) fn download(&self, version: &str) -> Sha256Digest {
        Sha256Digest::of_bytes(&self.0.download("falco", version).unwrap())
    }
}
