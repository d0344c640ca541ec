//! A throwaway GnuPG home for signing fixtures and verifying signatures with real `gpg`.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;

use tempfile::TempDir;

use crate::{require_tool, TestkitError};

/// An empty `GNUPGHOME` (mode 0700, under `/tmp` so gpg-agent's socket path stays short).
///
/// Every invocation passes `--homedir <dir> --batch --no-tty`; those that need no secret key
/// also pass `--no-autostart`, so importing and verifying never start a gpg-agent. Dropping it
/// runs `gpgconf --homedir <dir> --kill all` (errors ignored) and removes the directory.
#[derive(Debug)]
pub struct GpgHome {
    gpg: PathBuf,
    dir: TempDir,
}

/// What `gpg --verify --status-fd 1` reported about a signature it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpgVerification {
    /// Both `GOODSIG` and `VALIDSIG` status lines were present.
    pub good: bool,
    /// The fingerprint of the key (or subkey) that made the signature, from `VALIDSIG`.
    pub fingerprint: Option<String>,
    /// The fingerprint of that key's primary key, from `VALIDSIG`.
    pub primary_fingerprint: Option<String>,
    /// The OpenPGP hash algorithm id from `VALIDSIG` (8 = SHA256, 10 = SHA512, 2 = SHA1).
    pub digest_algo: Option<u8>,
    /// The complete status output, one `[GNUPG:] …` line per event.
    pub status: String,
}

impl GpgVerification {
    fn parse(status: String) -> Self {
        let mut good_sig = false;
        let mut valid: Option<Vec<String>> = None;
        for line in status.lines() {
            let mut fields = line.split_whitespace();
            if fields.next() != Some("[GNUPG:]") {
                continue;
            }
            match fields.next() {
                Some("GOODSIG") => good_sig = true,
                Some("VALIDSIG") => valid = Some(fields.map(str::to_owned).collect()),
                _ => {}
            }
        }
        // VALIDSIG <fpr> <date> <timestamp> <expire> <version> <reserved> <pk-algo>
        // <hash-algo> <class> <primary-fpr>
        let field = |i: usize| valid.as_ref().and_then(|v| v.get(i)).cloned();
        Self {
            good: good_sig && valid.is_some(),
            fingerprint: field(0),
            primary_fingerprint: field(9),
            digest_algo: field(7).and_then(|algo| algo.parse().ok()),
            status,
        }
    }
}

impl GpgHome {
    /// Creates the empty home. Fails with [`TestkitError::MissingTool`] naming Debian's
    /// `gnupg` when `gpg` is not installed.
    pub fn new() -> Result<Self, TestkitError> {
        let gpg = require_tool("gpg", "Debian package gnupg")?;
        let dir = tempfile::Builder::new()
            .prefix("tk-gpg-")
            .tempdir_in("/tmp")
            .map_err(|source| TestkitError::io("create a temporary directory in /tmp", source))?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).map_err(|source| {
            TestkitError::io(format!("chmod 0700 {}", dir.path().display()), source)
        })?;
        Ok(Self { gpg, dir })
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `gpg --homedir <dir> --batch --no-tty` command to add arguments to, for anything the
    /// methods here do not cover.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.gpg);
        command.args(self.base_args(false));
        command
    }

    /// Imports OpenPGP keys given in armored (or binary-as-text) form.
    pub fn import_key(&self, armored_public_key: &str) -> Result<(), TestkitError> {
        self.run(
            true,
            &["--import".into()],
            Some(armored_public_key.as_bytes()),
        )?;
        Ok(())
    }

    /// Generates a passphrase-less signing key for `user_id` with gpg's algorithm name `algo`
    /// (`ed25519`, `rsa3072`, …) and returns its fingerprint. Starts a gpg-agent for this home.
    pub fn generate_key(&self, user_id: &str, algo: &str) -> Result<String, TestkitError> {
        let args: Vec<OsString> = vec![
            "--pinentry-mode".into(),
            "loopback".into(),
            "--passphrase".into(),
            "".into(),
            "--status-fd".into(),
            "1".into(),
            "--quick-gen-key".into(),
            user_id.into(),
            algo.into(),
            "sign".into(),
            "never".into(),
        ];
        let output = self.run(false, &args, None)?;
        let status = String::from_utf8_lossy(&output.stdout);
        status
            .lines()
            .filter_map(|line| line.strip_prefix("[GNUPG:] KEY_CREATED "))
            .find_map(|rest| rest.split_whitespace().nth(1).map(str::to_owned))
            .ok_or_else(|| TestkitError::Gpg {
                args: lossy(&args),
                stderr: format!(
                    "no KEY_CREATED status line in:\n{status}{}",
                    String::from_utf8_lossy(&output.stderr)
                ),
            })
    }

    /// The armored public key(s) matching `key` (a fingerprint, key id or user id).
    pub fn export_public_key(&self, key: &str) -> Result<String, TestkitError> {
        let args: Vec<OsString> = vec!["--armor".into(), "--export".into(), key.into()];
        let output = self.run(true, &args, None)?;
        if output.stdout.is_empty() {
            return Err(TestkitError::Gpg {
                args: lossy(&args),
                stderr: format!("no public key matches {key:?}"),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Writes an armored detached signature of `data` by `key` (SHA256) to `signature`,
    /// replacing it if present.
    pub fn sign_detached(
        &self,
        key: &str,
        data: &Path,
        signature: &Path,
    ) -> Result<(), TestkitError> {
        self.sign(key, "--detach-sign", data, signature)
    }

    /// Writes a cleartext-signed copy of `input` by `key` (SHA256) to `output`, replacing it
    /// if present.
    pub fn sign_cleartext(
        &self,
        key: &str,
        input: &Path,
        output: &Path,
    ) -> Result<(), TestkitError> {
        self.sign(key, "--clearsign", input, output)
    }

    /// Verifies a detached signature (armored or binary) over `data` with the imported keys.
    ///
    /// A bad signature, a missing public key or unreadable input make gpg exit non-zero, which
    /// is returned as [`TestkitError::Gpg`] with gpg's stderr; `Ok` means gpg accepted the
    /// signature, and `good` then says whether it reported `GOODSIG` and `VALIDSIG`.
    /// Trust in the key is not required.
    pub fn verify_detached(
        &self,
        signature: &Path,
        data: &Path,
    ) -> Result<GpgVerification, TestkitError> {
        self.verify(&[signature.into(), data.into()])
    }

    /// Verifies a cleartext-signed file (such as an APT `InRelease`); errors as for
    /// [`GpgHome::verify_detached`].
    pub fn verify_cleartext(&self, path: &Path) -> Result<GpgVerification, TestkitError> {
        self.verify(&[path.into()])
    }

    fn verify(&self, files: &[OsString]) -> Result<GpgVerification, TestkitError> {
        let mut args: Vec<OsString> = vec!["--status-fd".into(), "1".into(), "--verify".into()];
        args.extend_from_slice(files);
        let output = self.run(true, &args, None)?;
        Ok(GpgVerification::parse(
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ))
    }

    fn sign(&self, key: &str, mode: &str, input: &Path, output: &Path) -> Result<(), TestkitError> {
        let args: Vec<OsString> = vec![
            "--yes".into(),
            "--pinentry-mode".into(),
            "loopback".into(),
            "--passphrase".into(),
            "".into(),
            "--local-user".into(),
            key.into(),
            "--digest-algo".into(),
            "SHA256".into(),
            "--armor".into(),
            "--output".into(),
            output.into(),
            mode.into(),
            input.into(),
        ];
        self.run(false, &args, None)?;
        Ok(())
    }

    fn base_args(&self, no_autostart: bool) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--homedir".into(),
            self.dir.path().into(),
            "--batch".into(),
            "--no-tty".into(),
        ];
        if no_autostart {
            args.push("--no-autostart".into());
        }
        args
    }

    /// Runs gpg, feeding `stdin`; a non-zero exit becomes [`TestkitError::Gpg`].
    fn run(
        &self,
        no_autostart: bool,
        args: &[OsString],
        stdin: Option<&[u8]>,
    ) -> Result<Output, TestkitError> {
        let mut all = self.base_args(no_autostart);
        all.extend_from_slice(args);
        let spawn_error = |source| TestkitError::Spawn {
            tool: "gpg".to_owned(),
            source,
        };
        let mut child = Command::new(&self.gpg)
            .args(&all)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let output = thread::scope(|scope| {
            // Fed from a thread so a large input cannot deadlock against gpg's output.
            if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
                scope.spawn(move || {
                    let _ = pipe.write_all(input);
                });
            }
            child.wait_with_output()
        })
        .map_err(|source| TestkitError::io("wait for gpg", source))?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(TestkitError::Gpg {
                args: lossy(&all),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.dir.path())
            .args(["--kill", "all"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn lossy(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_validsig() {
        let status = "[GNUPG:] NEWSIG\n\
            [GNUPG:] GOODSIG 685AAF6E51CA7B4C Testkit <t@example.invalid>\n\
            [GNUPG:] VALIDSIG 48F9AE95F27B92F159C93324685AAF6E51CA7B4C 2026-11-24 1795490423 \
            0 4 0 22 8 00 48F9AE95F27B92F159C93324685AAF6E51CA7B4D\n";
        let v = GpgVerification::parse(status.to_owned());
        assert!(v.good);
        assert_eq!(
            v.fingerprint.as_deref(),
            Some("48F9AE95F27B92F159C93324685AAF6E51CA7B4C")
        );
        assert_eq!(
            v.primary_fingerprint.as_deref(),
            Some("48F9AE95F27B92F159C93324685AAF6E51CA7B4D")
        );
        assert_eq!(v.digest_algo, Some(8));
    }

    #[test]
    fn goodsig_without_validsig_is_not_good() {
        let v = GpgVerification::parse("[GNUPG:] GOODSIG 1 x\n".to_owned());
        assert!(!v.good);
        assert_eq!(v.digest_algo, None);
    }
}
