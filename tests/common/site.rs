//! A repository, a key and a configuration file for `release run`.

use std::path::{Path, PathBuf};

use falco_artifacts::core::Signer;

/// A throwaway release site: a signing key, a configuration file and a work directory.
pub(crate) struct ReleaseSite {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) public_key: String,
}

impl ReleaseSite {
    /// A site publishing to `repository` with `extra` YAML appended to its configuration.
    pub(crate) fn new(repository: &str, extra: &str) -> ReleaseSite {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = super::write_test_key(dir.path());
        let config = format!(
            "repository: {repository}\nmanifest: {manifest}\nwork_dir: work\n\
             signing:\n  key_file: key.asc\ngate:\n  command: [\"true\"]\n{extra}",
            manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample/falco.yaml"),
        );
        std::fs::write(dir.path().join("release.yaml"), config).unwrap();
        ReleaseSite {
            public_key: key.public_key_armored().unwrap(),
            dir,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.path("release.yaml")
    }

    /// `release run --tag <tag> --config … --json` with `env`; the parsed report.
    pub(crate) fn release(&self, tag: &str, env: &[(&str, &str)]) -> serde_json::Value {
        let config = self.config();
        let mut all_env = vec![("SOURCE_DATE_EPOCH", "1700000000")];
        all_env.extend_from_slice(env);
        let out = super::run_with(
            &[
                "run",
                "--tag",
                tag,
                "--config",
                config.to_str().unwrap(),
                "--json",
            ],
            &all_env,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "release {tag}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap()
    }
}

/// The report entry for `file_name`.
pub(crate) fn entry<'a>(report: &'a serde_json::Value, file_name: &str) -> &'a serde_json::Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_name"] == file_name)
        .unwrap_or_else(|| panic!("{file_name} not in {report}"))
}

/// Hex SHA-256 of bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    falco_artifacts::core::Sha256Digest::of_bytes(bytes).to_hex()
}

/// Whether `path` exists under the site.
pub(crate) fn exists(root: &Path, path: &str) -> bool {
    root.join(path).exists()
}

/// Installs a stub into a dnf sandbox's root that provides what the sample package requires
/// from a base system (`systemd`, `/bin/sh`), as any real install root has: the sandbox starts
/// from an empty rpm database.
pub(crate) fn base_system(root: &Path) {
    use falco_artifacts::core::package::{load_manifest_str, ManifestOptions};
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: base-system-stub\nversion: 1.0.0\narch: x86_64\n\
                maintainer: Test <t@example.invalid>\ndescription: d\nlicense: MIT\n\
                source_date: 1700000000\nrelations:\n  provides: [systemd, /bin/sh]\n\
                contents:\n  - { dst: /etc/base-system-stub, inline: \"stub\\n\" }\n";
    let spec = load_manifest_str(yaml, dir.path(), &ManifestOptions::default()).unwrap();
    let rpm = falco_artifacts::rpm::RpmBuilder::new(&spec)
        .build()
        .unwrap()
        .write_to_dir(dir.path())
        .unwrap();
    let out = std::process::Command::new("rpm")
        .arg(format!("--root={}", root.display()))
        .args(["-i", "--nodeps", "--noscripts"])
        .arg(&rpm)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
