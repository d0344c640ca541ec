//! The version of a checkout, computed from git the way Falco's build does.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::version::{Version, VersionError};

/// Why a version could not be computed from a git repository.
#[derive(Debug, thiserror::Error)]
pub enum GitVersionError {
    /// The `git` program could not be run.
    #[error("cannot run `git` (install the Debian package `git`)")]
    GitMissing {
        /// Why spawning failed.
        #[source]
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("`git {args}` failed in {repo}: {stderr}")]
    Command {
        /// The repository.
        repo: PathBuf,
        /// The arguments given to git.
        args: String,
        /// What git printed on stderr.
        stderr: String,
    },
    /// No `x.y.z` tag exists to count development builds from.
    #[error("{repo} has no stable x.y.z tag to compute a development version from")]
    NoStableTag {
        /// The repository.
        repo: PathBuf,
    },
    /// git printed something that is not what it should have.
    #[error("`git {args}` in {repo} printed {output:?}, which is not {expected}")]
    UnexpectedOutput {
        /// The repository.
        repo: PathBuf,
        /// The arguments given to git.
        args: String,
        /// What it printed.
        output: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The computed version is not valid.
    #[error("the version computed for {repo} is invalid")]
    Version {
        /// The repository.
        repo: PathBuf,
        /// Why.
        #[source]
        source: VersionError,
    },
}

fn git(repo: &Path, args: &[&str]) -> Result<String, GitVersionError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|source| GitVersionError::GitMissing { source })?;
    if !output.status.success() {
        return Err(GitVersionError::Command {
            repo: repo.to_owned(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The full SHA of `HEAD` in the repository at `repo` (what a test evidence file must name).
pub fn head_commit(repo: &Path) -> Result<String, GitVersionError> {
    let args = ["rev-parse", "--verify", "HEAD"];
    let sha = git(repo, &args)?;
    if sha.len() < 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(GitVersionError::UnexpectedOutput {
            repo: repo.to_owned(),
            args: args.join(" "),
            output: sha,
            expected: "a full commit SHA",
        });
    }
    Ok(sha)
}

/// The version of `HEAD` in the repository at `repo`, as Falco computes it:
///
/// - when `HEAD` carries a semver tag, that tag minus a leading `v` (the highest if several);
/// - otherwise `<x>.<y+1>.0-<commits since the merge base with the newest x.y.z tag>+<7-char sha>`,
///   where the newest tag is the highest `x.y.z` (or `vx.y.z`) tag of the repository, reachable
///   or not (stable tags usually sit on release branches).
///
/// ```no_run
/// let version = falco_artifacts_core::version_from_git(std::path::Path::new("."))?;
/// println!("{version}");
/// # Ok::<(), falco_artifacts_core::GitVersionError>(())
/// ```
pub fn version_from_git(repo: &Path) -> Result<Version, GitVersionError> {
    let at_head = git(repo, &["tag", "--points-at", "HEAD"])?;
    if let Some(tagged) = at_head
        .lines()
        .filter_map(|tag| Version::from_tag(tag.trim()).ok())
        .filter(|v| !v.is_development())
        .max()
    {
        return Ok(tagged);
    }

    let all_tags = git(repo, &["tag", "--list"])?;
    let (newest_tag, newest) = all_tags
        .lines()
        .map(str::trim)
        .filter_map(|tag| {
            Version::from_tag(tag)
                .ok()
                .filter(Version::is_stable)
                .map(|v| (tag.to_owned(), v))
        })
        .max_by(|a, b| a.1.cmp(&b.1))
        .ok_or_else(|| GitVersionError::NoStableTag {
            repo: repo.to_owned(),
        })?;

    let tag_ref = format!("refs/tags/{newest_tag}");
    let merge_base = git(repo, &["merge-base", "HEAD", &tag_ref])?;
    let range = format!("{merge_base}..HEAD");
    let count_text = git(repo, &["rev-list", "--count", &range])?;
    let commits = count_text
        .parse::<u64>()
        .map_err(|_| GitVersionError::UnexpectedOutput {
            repo: repo.to_owned(),
            args: format!("rev-list --count {range}"),
            output: count_text.clone(),
            expected: "a commit count",
        })?;
    let head = git(repo, &["rev-parse", "HEAD"])?;
    let sha = head
        .get(..7)
        .ok_or_else(|| GitVersionError::UnexpectedOutput {
            repo: repo.to_owned(),
            args: "rev-parse HEAD".into(),
            output: head.clone(),
            expected: "a commit hash",
        })?;
    let (x, y, _) = newest.base();
    Version::development(x, y + 1, 0, commits, sha).map_err(|source| GitVersionError::Version {
        repo: repo.to_owned(),
        source,
    })
}
