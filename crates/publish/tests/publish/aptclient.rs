//! Debian packages built by pkg-deb, and real `apt-get` in a sandbox (`-o Dir=<tmp>`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact, RepoKind, Sha256Digest, Signer};
use falco_artifacts_pkg_deb::DebBuilder;
use falco_artifacts_testkit::require_tool;
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
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: falco\nversion: \"{version}\"\narch: {arch}\nmaintainer: M <m@example.invalid>\n\
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

/// `apt-get` confined to a temporary root: its own sources, lists, cache and dpkg status,
/// trusting only our key through `signed-by=`.
pub(crate) struct AptSandbox {
    dir: TempDir,
    apt_get: PathBuf,
}

impl AptSandbox {
    pub(crate) fn new(repo_url: &str) -> Self {
        let apt_get = require_tool("apt-get", "Debian package apt").unwrap();
        require_tool("gpgv", "Debian package gpgv").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in [
            "etc/apt/sources.list.d",
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/trusted.gpg.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
            "download",
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("var/lib/dpkg/status"), b"").unwrap();
        // Read first (APT_CONFIG), so apt takes its configuration directories from the
        // sandbox and never reads the host's apt.conf.d (whose hooks would run on the host).
        std::fs::write(
            root.join("etc/apt/apt.conf"),
            format!(
                "Dir \"{r}/\";\nDir::Etc \"{r}/etc/apt/\";\nDir::Etc::Parts \"{r}/etc/apt/apt.conf.d/\";\n",
                r = root.display()
            ),
        )
        .unwrap();
        let key = root.join("falco.asc");
        std::fs::write(&key, signer().public_key_armored().unwrap()).unwrap();
        std::fs::write(
            root.join("etc/apt/sources.list"),
            format!("deb [signed-by={}] {repo_url} stable main\n", key.display()),
        )
        .unwrap();
        let sandbox = AptSandbox { dir, apt_get };
        sandbox.check_confined();
        sandbox
    }

    /// The host's apt configuration (its hooks, keys, sources) must not reach the sandbox.
    fn check_confined(&self) {
        let root = self.dir.path();
        let apt_config = require_tool("apt-config", "Debian package apt").unwrap();
        let out = Command::new(apt_config)
            .env("APT_CONFIG", root.join("etc/apt/apt.conf"))
            .args(["dump"])
            .output()
            .unwrap();
        // apt-config prints keys in its own case (`Dir::Etc::parts`).
        let dump = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        assert!(out.status.success(), "apt-config dump: {out:?}");
        let parts = format!("dir::etc::parts \"{}/etc/apt/apt.conf.d/\"", root.display())
            .to_ascii_lowercase();
        assert!(
            dump.contains(&parts) && !dump.contains("post-invoke::"),
            "the apt sandbox reads the host's configuration:\n{dump}"
        );
    }

    fn run(&self, args: &[&str]) -> Output {
        let root = self.dir.path();
        let mut command = Command::new(&self.apt_get);
        command
            .env("APT_CONFIG", root.join("etc/apt/apt.conf"))
            .arg("-o")
            .arg(format!("Dir={}", root.display()))
            .arg("-o")
            .arg(format!(
                "Dir::State::status={}/var/lib/dpkg/status",
                root.display()
            ))
            .args([
                "-o",
                "Dir::Etc::main=apt.conf",
                "-o",
                "APT::Architecture=amd64",
                "-o",
                "APT::Architectures::=amd64",
                "-o",
                "Debug::NoLocking=true",
                "-o",
                "APT::Sandbox::User=root",
                "-o",
                "Acquire::Languages=none",
                "-o",
                "Acquire::Retries=0",
                "-o",
                "APT::Update::Error-Mode=any",
            ])
            .args(args)
            .current_dir(root.join("download"));
        command.output().unwrap()
    }

    /// `apt-get update`; fails the test on any error or warning (a hash mismatch, a bad or
    /// missing signature).
    pub(crate) fn update(&self) {
        // Publishes a moment apart give files the same one-second mtime, and the HTTP server
        // answers apt's If-Modified-Since with 304 for a file apt holds an older copy of:
        // start each update from empty lists, so apt reads (and checks) the live state.
        let lists = self.dir.path().join("var/lib/apt/lists");
        for entry in std::fs::read_dir(&lists).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::remove_file(&path).unwrap();
            }
        }
        let out = self.run(&["update"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && !text.contains("W:") && !text.contains("E:"),
            "apt-get update failed:\n{text}"
        );
    }

    /// `apt-get download falco=<version>`; the downloaded file's digest.
    pub(crate) fn download(&self, package: &str, version: &str) -> Sha256Digest {
        let out = self.run(&["download", &format!("{package}={version}")]);
        assert!(
            out.status.success(),
            "apt-get download {package}={version}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let file = self.dir.path().join("download").join(format!(
            "{package}_{}_amd64.deb",
            version.replace(':', "%3a")
        ));
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        std::fs::remove_file(&file).unwrap();
        Sha256Digest::of_bytes(&bytes)
    }
}
