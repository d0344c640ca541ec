//! What changed between two commits of a config repository built in the test.

use std::path::Path;
use std::process::Command;

use falco_artifacts_driver_grid::core::Arch;
use falco_artifacts_driver_grid::{changed_configs, Change, ChangesError, DriverVersion};
use falco_artifacts_testkit::require_tool;

pub(crate) fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn write(repo: &Path, rel: &str, text: &str) {
    let path = repo.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub(crate) fn commit(repo: &Path, message: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

#[test]
fn added_and_modified_configs_of_shipped_driver_versions() {
    require_tool("git", "Debian package git").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "master"]);
    let cfg = "driverkit/config";
    write(
        repo,
        &format!("{cfg}/10.2.0+driver/x86_64/debian_5.10.197-1-amd64_1.yaml"),
        "kernelversion: 1\n",
    );
    write(
        repo,
        &format!("{cfg}/10.2.0+driver/x86_64/ubuntu_5.15.0-1019-aws_1.yaml"),
        "kernelversion: 1\n",
    );
    write(
        repo,
        &format!("{cfg}/10.2.0+driver/x86_64/gone_1_1.yaml"),
        "kernelversion: 1\n",
    );
    write(
        repo,
        &format!("{cfg}/9.1.0+driver/x86_64/debian_5.10.197-1-amd64_1.yaml"),
        "kernelversion: 1\n",
    );
    write(repo, "README.md", "configs\n");
    let first = commit(repo, "first");

    // Modified, added (both arches, a name with spaces to check -z), deleted, an old version,
    // the legacy layout, and files outside the config tree.
    write(
        repo,
        &format!("{cfg}/10.2.0+driver/x86_64/debian_5.10.197-1-amd64_1.yaml"),
        "kernelversion: 2\n",
    );
    write(
        repo,
        &format!("{cfg}/10.2.0+driver/aarch64/debian_5.10.197-1-arm64_1.yaml"),
        "kernelversion: 1\n",
    );
    write(
        repo,
        &format!("{cfg}/10.2.0+driver/x86_64/odd name_1_1.yaml"),
        "kernelversion: 1\n",
    );
    std::fs::remove_file(repo.join(format!("{cfg}/10.2.0+driver/x86_64/gone_1_1.yaml"))).unwrap();
    write(
        repo,
        &format!("{cfg}/9.1.0+driver/x86_64/debian_5.10.0-27-amd64_1.yaml"),
        "kernelversion: 1\n",
    );
    write(
        repo,
        &format!("{cfg}/2aa88dcf6243982697811df4c1b484bcbe9488a2/debian_4.9.228-1-amd64_1.yaml"),
        "kernelversion: 1\n",
    );
    write(
        repo,
        &format!("{cfg}/10.2.0+driver/x86_64/notes.txt"),
        "not a config\n",
    );
    write(repo, "README.md", "configs, changed\n");
    let second = commit(repo, "second");

    let shipped: Vec<DriverVersion> = vec!["10.2.0+driver".parse().unwrap()];
    let changes = changed_configs(repo, &first, &second, &shipped).unwrap();
    let seen: Vec<(String, Arch, Change)> = changes
        .iter()
        .map(|c| (c.path.display().to_string(), c.arch, c.change))
        .collect();
    assert_eq!(
        seen,
        [
            (
                format!("{cfg}/10.2.0+driver/aarch64/debian_5.10.197-1-arm64_1.yaml"),
                Arch::Aarch64,
                Change::Added
            ),
            (
                format!("{cfg}/10.2.0+driver/x86_64/debian_5.10.197-1-amd64_1.yaml"),
                Arch::X86_64,
                Change::Modified
            ),
            (
                format!("{cfg}/10.2.0+driver/x86_64/odd name_1_1.yaml"),
                Arch::X86_64,
                Change::Added
            ),
        ]
    );

    // Without a restriction every driver version counts, the legacy layout included.
    let all = changed_configs(repo, &first, "HEAD", &[]).unwrap();
    assert_eq!(all.len(), 5);
    let legacy = all
        .iter()
        .find(|c| c.driver_version.as_str() == "2aa88dcf6243982697811df4c1b484bcbe9488a2")
        .unwrap();
    assert_eq!((legacy.arch, legacy.change), (Arch::X86_64, Change::Added));

    // Nothing changed between a commit and itself.
    assert!(changed_configs(repo, &second, &second, &[])
        .unwrap()
        .is_empty());

    let err = changed_configs(repo, "no-such-commit", &second, &[]).unwrap_err();
    assert!(matches!(err, ChangesError::Git { .. }), "{err}");
    assert!(err.to_string().contains("no-such-commit"), "{err}");
}
