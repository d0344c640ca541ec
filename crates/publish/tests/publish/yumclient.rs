//! RPM packages built by pkg-rpm, and real `dnf` confined to a temporary install root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact, RepoKind, Sha256Digest, Signer};
use falco_artifacts_pkg_rpm::RpmBuilder;
use falco_artifacts_testkit::require_tool;
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
    format!(
        "name: falco\nversion: \"{version}\"\narch: {arch}\nmaintainer: M <m@example.invalid>\n\
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
    let dir = tempfile::tempdir().unwrap();
    let spec = load_manifest_str(
        &manifest(version, arch, salt),
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

/// `dnf` confined to a temporary root: its own configuration, no host repositories, cache and
/// rpm database inside the root, trusting only our key for packages and for `repomd.xml`.
pub(crate) struct DnfSandbox {
    dir: TempDir,
    dnf: PathBuf,
    repo_url: String,
}

impl DnfSandbox {
    pub(crate) fn new(repo_url: &str) -> Self {
        let dnf = require_tool("dnf", "Debian package dnf").unwrap();
        require_tool("rpm", "Debian package rpm").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["root", "cache", "repos.d", "log"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(
            root.join("dnf.conf"),
            "[main]\ngpgcheck=1\nrepo_gpgcheck=1\ninstall_weak_deps=0\nkeepcache=0\n",
        )
        .unwrap();
        std::fs::write(
            root.join("falco.asc"),
            signer().public_key_armored().unwrap(),
        )
        .unwrap();
        DnfSandbox {
            dir,
            dnf,
            repo_url: repo_url.to_owned(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Runs `dnf <args>` against the repository only.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_in(&self.root(), args)
    }

    fn run_in(&self, root: &Path, args: &[&str]) -> Output {
        let d = self.dir.path();
        Command::new(&self.dnf)
            .arg("-y")
            .arg(format!("--installroot={}", root.display()))
            .arg(format!("--config={}", d.join("dnf.conf").display()))
            .arg(format!("--setopt=reposdir={}", d.join("repos.d").display()))
            .arg(format!("--setopt=cachedir={}", d.join("cache").display()))
            .arg(format!("--setopt=logdir={}", d.join("log").display()))
            .arg(format!("--repofrompath=falco,{}", self.repo_url))
            .args(["--repo=falco", "--releasever=1", "--nodocs"])
            .args([
                "--setopt=falco.gpgcheck=1",
                "--setopt=falco.repo_gpgcheck=1",
            ])
            .arg(format!(
                "--setopt=falco.gpgkey=file://{}",
                d.join("falco.asc").display()
            ))
            .args(["--setopt=install_weak_deps=0", "--setopt=tsflags=noscripts"])
            // Metadata is fetched afresh each time: the test publishes between runs.
            .args(["--refresh", "--setopt=metadata_expire=0"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs `dnf <args>` and fails the test with dnf's output unless it succeeds.
    pub(crate) fn must(&self, args: &[&str]) -> String {
        self.must_in(&self.root(), args)
    }

    fn must_in(&self, root: &Path, args: &[&str]) -> String {
        let out = self.run_in(root, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "dnf {args:?} failed:\n{text}");
        text
    }

    /// Refreshes the metadata (checking `repomd.xml.asc`), failing the test on any error.
    pub(crate) fn makecache(&self) {
        self.must(&["makecache"]);
    }

    /// Whether dnf reads the repository's metadata without an error.
    pub(crate) fn makecache_ok(&self) -> Result<(), String> {
        let out = self.run(&["makecache"]);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `name-version-release` of the installed `falco`, if any.
    pub(crate) fn installed(&self) -> Option<String> {
        let out = Command::new("rpm")
            .arg(format!("--root={}", self.root().display()))
            .args(["-q", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}", "falco"])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A file of the installed root.
    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root().join(path.trim_start_matches('/'))).unwrap()
    }

    /// Downloads `falco-<version>` as dnf does (checking its digest and signature), into a
    /// fresh root so any version can be fetched; its SHA-256.
    pub(crate) fn download(&self, version: &str) -> Sha256Digest {
        let dest = self.dir.path().join("download");
        let root = self.dir.path().join("download-root");
        for dir in [&dest, &root] {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).unwrap();
        }
        self.must_in(
            &root,
            &[
                "install",
                "--downloadonly",
                &format!("--downloaddir={}", dest.display()),
                &format!("falco-{version}"),
            ],
        );
        let file = std::fs::read_dir(&dest)
            .unwrap()
            .next()
            .expect("dnf downloaded nothing")
            .unwrap()
            .path();
        Sha256Digest::of_bytes(&std::fs::read(file).unwrap())
    }
}
