//! The development version computed from throwaway git repositories, as Falco computes it.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::Path;
use std::process::Command;

use falco_artifacts_core::{
    version_from_git, GitVersionError, ReleaseEvent, ReleasePolicy, Version,
};
use falco_artifacts_testkit::require_tool;

fn git(repo: &Path, args: &[&str]) -> String {
    require_tool("git", "git").expect("git is needed");
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Empty commits made in the same second with the same parent and message would be the very
/// same commit on two branches; a counter keeps every message unique.
fn commit(repo: &Path, n: usize) {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    for _ in 0..n {
        let i = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        git(
            repo,
            &["commit", "--allow-empty", "-qm", &format!("change {i}")],
        );
    }
}

fn new_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "master"]);
    dir
}

#[test]
fn master_after_a_release_branch_tag_counts_from_the_merge_base() {
    let dir = new_repo();
    let repo = dir.path();
    commit(repo, 3);
    // The release is tagged on its own branch, one fix commit after branching off.
    git(repo, &["checkout", "-qb", "release/0.44.x"]);
    commit(repo, 1);
    git(repo, &["tag", "-a", "0.44.0", "-m", "0.44.0"]);
    git(repo, &["checkout", "-q", "master"]);
    commit(repo, 5);
    let head = git(repo, &["rev-parse", "HEAD"]);
    let version = version_from_git(repo).unwrap();
    assert_eq!(version.to_string(), format!("0.45.0-5+{}", &head[..7]));
    assert!(version.is_development());
    // The merge event built from it goes to the development channel.
    let release = ReleaseEvent::Merge {
        branch: "master".into(),
        version: version.clone(),
    }
    .resolve(&ReleasePolicy::default())
    .unwrap();
    assert_eq!(release.version, version);
}

#[test]
fn the_newest_stable_tag_wins_and_prerelease_tags_are_not_bases() {
    let dir = new_repo();
    let repo = dir.path();
    commit(repo, 1);
    git(repo, &["tag", "v0.43.0"]);
    commit(repo, 2);
    git(repo, &["tag", "0.44.2"]);
    commit(repo, 1);
    git(repo, &["tag", "0.45.0-rc1"]);
    commit(repo, 4);
    git(repo, &["tag", "not-a-version"]);
    commit(repo, 1);
    let head = git(repo, &["rev-parse", "HEAD"]);
    let version = version_from_git(repo).unwrap();
    assert_eq!(version.to_string(), format!("0.45.0-6+{}", &head[..7]));
}

#[test]
fn on_a_tag_the_version_is_the_tag_without_v() {
    let dir = new_repo();
    let repo = dir.path();
    commit(repo, 2);
    git(repo, &["tag", "v0.39.0"]);
    assert_eq!(
        version_from_git(repo).unwrap(),
        "0.39.0".parse::<Version>().unwrap()
    );
    commit(repo, 1);
    git(repo, &["tag", "0.40.0-rc1"]);
    let v = version_from_git(repo).unwrap();
    assert_eq!(v.to_string(), "0.40.0-rc1");
    assert!(v.is_prerelease());
}

#[test]
fn no_stable_tag_is_a_clear_error() {
    let dir = new_repo();
    commit(dir.path(), 1);
    let err = version_from_git(dir.path()).unwrap_err();
    assert!(matches!(err, GitVersionError::NoStableTag { .. }), "{err}");
    assert!(err.to_string().contains("no stable x.y.z tag"));
}

#[test]
fn not_a_repository_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = version_from_git(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}
