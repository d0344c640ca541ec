//! `plan` and `run` resolve one job from one configuration: a configured `main_branch` and a
//! channel of the user's own reach both, and every other subcommand, through `Settings`.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{
    Channel, KeyAlgorithm, Overwrite, PgpSigner, ReleaseEventError, RepoKind, Retention,
};
use falco_artifacts_release::{EventFlags, JobFlags, PipelineError, RepoFlags, Settings};

fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .status()
        .expect("git (Debian package git)");
    assert!(status.success(), "git {args:?}");
}

/// A checkout whose main branch is `main`: 0.44.0 tagged, three commits since.
fn history(dir: &Path) -> PathBuf {
    let repo = dir.join("falco");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "0.44.0"]);
    git(&repo, &["tag", "0.44.0"]);
    for i in 0..3 {
        git(
            &repo,
            &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")],
        );
    }
    repo
}

fn sample_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/falco.yaml")
}

/// A configuration with `main_branch: main` and a channel `nightly` of its own.
fn settings(dir: &Path) -> Settings {
    let key = PgpSigner::generate("T <t@example.com>", KeyAlgorithm::Ed25519).unwrap();
    std::fs::write(dir.join("key.asc"), key.secret_key_armored().unwrap()).unwrap();
    let config = dir.join("release.yaml");
    std::fs::write(
        &config,
        format!(
            "repository: file://{repo}\n\
             manifest: {manifest}\n\
             main_branch: main\n\
             signing: {{ key_file: key.asc }}\n\
             gate: {{ command: [\"true\"] }}\n\
             channels:\n\
             \x20 development:\n\
             \x20   retention: {{ bin: 4 }}\n\
             \x20 nightly:\n\
             \x20   repositories: {{ deb: deb-nightly-x }}\n\
             \x20   retention: {{ deb: 5, rpm: 5, bin: 3 }}\n\
             \x20   overwrite: replace\n\
             \x20   accepts: development\n",
            repo = dir.join("repo").display(),
            manifest = sample_manifest().display(),
        ),
    )
    .unwrap();
    Settings::load(&RepoFlags {
        config: Some(config),
        ..RepoFlags::default()
    })
    .unwrap()
}

fn flags() -> JobFlags {
    JobFlags {
        source_date: Some(SourceDate::from_secs(1_700_000_000)),
        ..JobFlags::default()
    }
}

#[test]
fn plan_and_run_resolve_the_same_release_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let repo = history(dir.path());
    let settings = settings(dir.path());

    // A merge into the configured main branch (`main`, not Falco's `master`) releases, in
    // `plan` as in `run`, into the development channel with the configured retention.
    let merge = EventFlags {
        merge: Some(repo.clone()),
        ..EventFlags::default()
    };
    let plan = settings.plan(&merge, &flags(), None).unwrap();
    let (job, _pipeline) = settings.release_job(&merge, &flags()).unwrap();
    assert_eq!(plan.version, job.release.version.to_string());
    assert!(plan.version.starts_with("0.45.0-3+"), "{}", plan.version);
    assert_eq!(plan.channel, "dev");
    assert_eq!(job.release.channel.name().as_ref(), "dev");
    assert_eq!(
        job.release.channel.retention(RepoKind::Bin),
        Retention::KeepLast(4.try_into().unwrap())
    );
    assert_eq!(job.release.channel, settings.channel("dev").unwrap());
    assert_eq!(job.manifest, sample_manifest());
    assert_eq!(job.source_date, SourceDate::from_secs(1_700_000_000));

    // The user's own channel: the same in plan, run, verify and prune.
    let nightly = EventFlags {
        channel: Some("nightly".into()),
        ..merge.clone()
    };
    let plan = settings.plan(&nightly, &flags(), None).unwrap();
    let (job, _pipeline) = settings.release_job(&nightly, &flags()).unwrap();
    assert_eq!(plan.channel, "nightly");
    assert_eq!(job.release.channel.name().as_ref(), "nightly");
    assert_eq!(job.release.channel, settings.channel("nightly").unwrap());
    let channel = &job.release.channel;
    assert_eq!(channel.repository(RepoKind::Deb), "deb-nightly-x");
    assert_eq!(channel.repository(RepoKind::Rpm), "rpm-nightly");
    assert_eq!(
        channel.retention(RepoKind::Bin),
        Retention::KeepLast(3.try_into().unwrap())
    );
    assert_eq!(channel.overwrite(), Overwrite::Replace);
    let paths: Vec<&str> = plan.artifacts.iter().map(|a| a.path.as_str()).collect();
    for prefix in [
        "packages/deb-nightly-x/stable/",
        "packages/rpm-nightly/",
        "packages/bin-nightly/",
    ] {
        assert!(paths.iter().any(|p| p.starts_with(prefix)), "{paths:?}");
    }

    // What one refuses, the other refuses: a merge into another branch, a stable tag into a
    // channel that accepts development builds only, a channel nobody defined.
    let other_branch = EventFlags {
        branch: Some("master".into()),
        ..merge.clone()
    };
    let stable_nightly = EventFlags {
        tag: Some("0.45.0".into()),
        channel: Some("nightly".into()),
        ..EventFlags::default()
    };
    let unknown = EventFlags {
        channel: Some("weekly".into()),
        ..merge.clone()
    };
    for event in [&other_branch, &stable_nightly, &unknown] {
        let planned = settings.plan(event, &flags(), None).unwrap_err();
        let run = settings.release_job(event, &flags()).unwrap_err();
        assert_eq!(planned.to_string(), run.to_string());
    }
    assert!(matches!(
        settings.plan(&other_branch, &flags(), None),
        Err(PipelineError::Event(
            ReleaseEventError::NotMainBranch { .. }
        ))
    ));
    assert!(matches!(
        settings.plan(&stable_nightly, &flags(), None),
        Err(PipelineError::ChannelRefuses { .. })
    ));
    match settings.channel("weekly") {
        Err(PipelineError::UnknownChannel { name, known }) => {
            assert_eq!(name, "weekly");
            assert_eq!(known, ["stable", "dev", "nightly"]);
        }
        other => panic!("{other:?}"),
    }
}
