//! What changed in the config repository between two commits (through the git CLI).

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::Arch;
use serde::Serialize;

use crate::DriverVersion;

/// Where configs live in the config repository.
pub const CONFIG_PREFIX: &str = "driverkit/config";

/// How a config changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// New in the later commit.
    Added,
    /// Present in both, with different content.
    Modified,
}

/// A config added or modified between two commits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ChangedConfig {
    /// The file, relative to the repository root.
    pub path: PathBuf,
    /// Its driver version directory.
    pub driver_version: DriverVersion,
    /// Its architecture (x86_64 in the legacy layout).
    pub arch: Arch,
    /// Added or modified.
    pub change: Change,
}

/// Why the changes could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    /// `git` could not be run.
    #[error("cannot run `git` (install the Debian package `git`)")]
    GitMissing {
        /// Why spawning failed.
        #[source]
        source: std::io::Error,
    },
    /// git refused (unknown commit, not a repository, …).
    #[error("`git {args}` failed in {}: {stderr}", repo.display())]
    Git {
        /// The repository.
        repo: PathBuf,
        /// The arguments.
        args: String,
        /// What git printed on stderr.
        stderr: String,
    },
}

/// The configs added or modified from `from` to `to` (any commit-ish) in the repository at
/// `repo`, under [`CONFIG_PREFIX`], restricted to the driver versions in `shipped` (all when
/// empty). Deleted configs are not returned; a renamed one counts as added. Paths that are not
/// `<driverversion>/<arch>/<file>.yaml` or `<commit>/<file>.yaml` are ignored: validation is
/// where they are reported.
pub fn changed_configs(
    repo: &Path,
    from: &str,
    to: &str,
    shipped: &[DriverVersion],
) -> Result<Vec<ChangedConfig>, ChangesError> {
    let args = [
        "diff",
        "--name-status",
        "-z",
        "--no-renames",
        "--diff-filter=AM",
        from,
        to,
        "--",
        CONFIG_PREFIX,
    ];
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|source| ChangesError::GitMissing { source })?;
    if !output.status.success() {
        return Err(ChangesError::Git {
            repo: repo.to_owned(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut fields = stdout.split('\0').filter(|f| !f.is_empty());
    let mut changes = Vec::new();
    while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
        let change = match status {
            "A" => Change::Added,
            "M" => Change::Modified,
            _ => continue,
        };
        if let Some(changed) = classify(path, change) {
            if shipped.is_empty() || shipped.contains(&changed.driver_version) {
                changes.push(changed);
            }
        }
    }
    changes.sort();
    Ok(changes)
}

fn classify(path: &str, change: Change) -> Option<ChangedConfig> {
    let rest = path.strip_prefix(CONFIG_PREFIX)?.strip_prefix('/')?;
    if !rest.ends_with(".yaml") {
        return None;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let (version, arch) = match parts.as_slice() {
        [version, arch, _file] => (
            *version,
            Arch::ALL.into_iter().find(|a| a.file_name() == *arch)?,
        ),
        [version, _file] => (*version, Arch::X86_64),
        _ => return None,
    };
    Some(ChangedConfig {
        path: PathBuf::from(path),
        driver_version: version.parse().ok()?,
        arch,
        change,
    })
}

/// The config files added or modified from `since` to `HEAD` in the git checkout holding
/// `dir`, of the driver versions in `shipped` (all when empty), as canonical absolute paths:
/// the scope of [`Strictness::StrictFor`](crate::Strictness::StrictFor) for a pull-request
/// check.
pub fn changed_config_files(
    dir: &Path,
    since: &str,
    shipped: &[DriverVersion],
) -> Result<std::collections::BTreeSet<PathBuf>, ChangesError> {
    let args = ["rev-parse", "--show-toplevel"];
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|source| ChangesError::GitMissing { source })?;
    if !output.status.success() {
        return Err(ChangesError::Git {
            repo: dir.to_owned(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let top = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    Ok(changed_configs(&top, since, "HEAD", shipped)?
        .into_iter()
        .map(|changed| {
            let path = top.join(&changed.path);
            path.canonicalize().unwrap_or(path)
        })
        .collect())
}
