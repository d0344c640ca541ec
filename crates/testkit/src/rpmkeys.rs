//! `rpm -K` against a private rpm database holding only the keys a test trusts.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::{require_tool, TestkitError};

/// An rpm database of its own (`rpmkeys --dbpath`), trusting only the keys imported, so that
/// `rpm -K` says whether a package's signature verifies with exactly those keys.
///
/// ```no_run
/// # let armored_public_key = "";
/// let keys = falco_artifacts_testkit::RpmKeyring::new(&[armored_public_key])?;
/// let check = keys.check("falco-0.39.0-x86_64.rpm".as_ref())?;
/// assert!(check.good, "{}", check.output);
/// # Ok::<(), falco_artifacts_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct RpmKeyring {
    dir: TempDir,
    rpmkeys: PathBuf,
    rpm: PathBuf,
}

/// What `rpm -K` said about one package.
#[derive(Debug, Clone)]
pub struct RpmCheck {
    /// Whether every digest and signature verified with a trusted key.
    pub good: bool,
    /// rpm's output.
    pub output: String,
}

impl RpmKeyring {
    /// A database trusting every key of each armored text in `keys` (`rpmkeys --import`).
    pub fn new(keys: &[&str]) -> Result<Self, TestkitError> {
        let rpmkeys = require_tool("rpmkeys", "Debian package rpm")?;
        let rpm = require_tool("rpm", "Debian package rpm")?;
        let dir =
            tempfile::tempdir().map_err(|e| TestkitError::io("create a temporary directory", e))?;
        let keyring = RpmKeyring { dir, rpmkeys, rpm };
        for (n, key) in keys.iter().enumerate() {
            let path = keyring.dir.path().join(format!("key-{n}.asc"));
            std::fs::write(&path, key)
                .map_err(|e| TestkitError::io(format!("write {}", path.display()), e))?;
            let out = Command::new(&keyring.rpmkeys)
                .arg("--dbpath")
                .arg(keyring.db())
                .arg("--import")
                .arg(&path)
                .output()
                .map_err(|e| TestkitError::io("run rpmkeys --import", e))?;
            if !out.status.success() {
                return Err(TestkitError::Check {
                    what: format!("rpmkeys --import {}", path.display()),
                    detail: format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                });
            }
        }
        Ok(keyring)
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    /// `rpm -K` (`rpmkeys --checksig`) of `package` with the imported keys only.
    pub fn check(&self, package: &Path) -> Result<RpmCheck, TestkitError> {
        let out = Command::new(&self.rpmkeys)
            .arg("--dbpath")
            .arg(self.db())
            .arg("--checksig")
            .arg(package)
            .output()
            .map_err(|e| TestkitError::io("run rpmkeys --checksig", e))?;
        Ok(RpmCheck {
            good: out.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }

    /// The digests rpm records over the header and the payload of `package`
    /// (`%{SHA256HEADER} %{PAYLOADDIGEST}`), which no signature changes.
    pub fn digests(&self, package: &Path) -> Result<String, TestkitError> {
        let out = Command::new(&self.rpm)
            .arg("--dbpath")
            .arg(self.db())
            .args([
                "-qp",
                "--nosignature",
                "--qf",
                "%{SHA256HEADER} %{PAYLOADDIGEST}",
            ])
            .arg(package)
            .output()
            .map_err(|e| TestkitError::io("run rpm -qp", e))?;
        if !out.status.success() {
            return Err(TestkitError::Check {
                what: format!("rpm -qp {}", package.display()),
                detail: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
