//! Publishing across the three repositories: every one is staged before any is written, and a
//! YUM failure after APT went live is reported as a partial release with the command that
//! completes it, which a re-run then does.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::Path;
use std::sync::Arc;

use falco_artifacts::core::package::SourceDate;
use falco_artifacts::core::{Arch, ChildEnv, ReleaseEvent, ReleasePolicy, Sha256Digest, Signer};
use falco_artifacts::publish::{FailMode, FailingStore, RepoStore};
use falco_artifacts::release::{
    load_specs, package_release, Gate, GatePassed, Packaged, Pipeline, PipelineError,
};
use object_store::local::LocalFileSystem;

mod common;
use common::{run_with, write_test_key};

struct Setup {
    _dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    failing: Arc<FailingStore>,
    pipeline: Pipeline,
}

fn setup(signer: &Arc<dyn Signer>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let local = Arc::new(LocalFileSystem::new_with_prefix(&repo).unwrap());
    let failing = Arc::new(FailingStore::new(local));
    let store = RepoStore::new(Arc::clone(&failing) as _, "").unwrap();
    let pipeline = Pipeline::with_store(
        &format!("file://{}", repo.display()),
        store,
        Arc::clone(signer),
    )
    .unwrap()
    .with_resume_command("release run --tag 0.45.0 …");
    Setup {
        _dir: dir,
        repo,
        failing,
        pipeline,
    }
}

fn packaged(dir: &Path, signer: &dyn Signer) -> Packaged {
    let release = ReleaseEvent::tag("0.45.0")
        .resolve(&ReleasePolicy::default())
        .unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample/falco.yaml");
    let specs = load_specs(
        &release,
        &manifest,
        &[Arch::X86_64],
        SourceDate::from_secs(1_700_000_000),
    )
    .unwrap();
    package_release(&specs, signer, dir).unwrap()
}

fn gate(dir: &Path) -> GatePassed {
    Gate::command(&["true".into()])
        .unwrap()
        .check(&dir.join("gate.log"), None, &ChildEnv::default())
        .unwrap()
}

#[test]
fn a_yum_failure_after_apt_is_a_loud_partial_release_that_a_rerun_completes() {
    let work = tempfile::tempdir().unwrap();
    let (key, _) = write_test_key(work.path());
    let signer: Arc<dyn Signer> =
        Arc::new(key.with_signature_time(SourceDate::from_secs(1_700_000_000).system_time()));
    let packaged = packaged(&work.path().join("build"), signer.as_ref());
    let passed = gate(work.path());
    let release = ReleaseEvent::tag("0.45.0")
        .resolve(&ReleasePolicy::default())
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // A first repository, published whole, tells which request is YUM's first write: the
    // first put under packages/rpm after the last put under packages/deb (APT's commit).
    let probe = setup(&signer);
    rt.block_on(probe.pipeline.publish(&release, &packaged, &passed))
        .unwrap();
    let log = probe.failing.log();
    let is_put = |line: &str, under: &str| line.contains(" put") && line.contains(under);
    let last_deb = log
        .iter()
        .rposition(|l| is_put(l, "packages/deb/"))
        .unwrap();
    let first_yum = log[last_deb..]
        .iter()
        .position(|l| is_put(l, "packages/rpm/"))
        .map(|i| last_deb + i)
        .unwrap_or_else(|| panic!("no YUM write in {log:#?}"));
    let request: u64 = log[first_yum]
        .trim_start_matches('#')
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // The same publish on a fresh repository whose store dies when YUM starts committing.
    let site = setup(&signer);
    site.failing.set_mode(FailMode::From(request));
    let err = rt
        .block_on(site.pipeline.publish(&release, &packaged, &passed))
        .unwrap_err();
    let text = err.to_string();
    match &err {
        PipelineError::PartialRelease(partial) => {
            assert_eq!(partial.live, ["packages/deb"]);
            assert_eq!(partial.missing, ["packages/rpm", "packages/bin"]);
            assert_eq!(partial.failed, "rpm");
            assert_eq!(partial.resume, "release run --tag 0.45.0 …");
        }
        other => panic!("not a partial release: {other:?}"),
    }
    assert!(
        text.starts_with("PARTIAL RELEASE") && text.contains("release run --tag 0.45.0"),
        "{text}"
    );
    assert!(site
        .repo
        .join("packages/deb/dists/stable/InRelease")
        .is_file());
    assert!(!site.repo.join("packages/rpm/repodata/repomd.xml").exists());

    // The command it names completes the release: APT is found unchanged, YUM and bin go live.
    site.failing.set_mode(FailMode::Never);
    let report = rt
        .block_on(site.pipeline.publish(&release, &packaged, &passed))
        .unwrap();
    assert_eq!(
        report.verified,
        ["packages/deb", "packages/rpm", "packages/bin"]
    );
    assert!(site.repo.join("packages/rpm/repodata/repomd.xml").is_file());
}

#[test]
fn a_repository_that_refuses_the_release_stops_it_before_any_is_written() {
    let work = tempfile::tempdir().unwrap();
    let (key, _) = write_test_key(work.path());
    let signer: Arc<dyn Signer> = Arc::new(key);
    let packaged = packaged(&work.path().join("build"), signer.as_ref());
    let passed = gate(work.path());
    let release = ReleaseEvent::tag("0.45.0")
        .resolve(&ReleasePolicy::default())
        .unwrap();
    let site = setup(&signer);
    // Stable files are immutable: other bytes already under the RPM's name make YUM refuse.
    let name = packaged.rpms[0].file_name().to_owned();
    std::fs::create_dir_all(site.repo.join("packages/rpm")).unwrap();
    std::fs::write(site.repo.join("packages/rpm").join(&name), b"other bytes").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(site.pipeline.publish(&release, &packaged, &passed))
        .unwrap_err();
    // No index names those bytes: an orphan, named with the command that clears it.
    assert!(
        matches!(&err, PipelineError::Orphan { key, .. } if *key == format!("packages/rpm/{name}")),
        "{err:?}"
    );
    assert!(err.to_string().contains("nothing was published"), "{err}");
    assert!(err.to_string().contains("release prune --orphans"), "{err}");
    assert!(!site.repo.join("packages/deb").exists(), "APT was written");
    assert!(!site.repo.join("packages/bin").exists(), "bin was written");
}

/// Every file under `dir` (relative) with its digest.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Sha256Digest> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Sha256Digest>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let key = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(key, Sha256Digest::of_bytes(&std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Scenario 7, second half, through the `release` command line: a publish that failed at
/// APT's first index write left the DEB files uploaded and unindexed. The corrected re-run
/// (other bytes: another source date) is refused, naming the blocking object and the
/// command that clears it; that command's dry run lists exactly the orphans and changes
/// nothing; with `--confirm` they go; the corrected re-run then publishes and verifies.
#[test]
fn a_corrected_rerun_after_a_failed_publish_is_cleared_by_prune_orphans() {
    let work = tempfile::tempdir().unwrap();
    let (key, key_file) = write_test_key(work.path());
    let signer: Arc<dyn Signer> =
        Arc::new(key.with_signature_time(SourceDate::from_secs(1_700_000_000).system_time()));
    let packaged = packaged(&work.path().join("build"), signer.as_ref());
    let passed = gate(work.path());
    let release = ReleaseEvent::tag("0.45.0")
        .resolve(&ReleasePolicy::default())
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // APT's first index write: the first put under packages/deb after it took its lock.
    let probe = setup(&signer);
    rt.block_on(probe.pipeline.publish(&release, &packaged, &passed))
        .unwrap();
    let log = probe.failing.log();
    let is_put = |line: &str| line.contains(" put(") && line.contains("packages/deb/");
    let lock = log
        .iter()
        .position(|l| is_put(l) && l.contains(".publish/lock"))
        .unwrap_or_else(|| panic!("no APT lock in {log:#?}"));
    let write = log[lock..]
        .iter()
        .find(|l| is_put(l) && !l.contains(".publish/lock"))
        .unwrap_or_else(|| panic!("no APT index write in {log:#?}"));
    let request: u64 = write
        .trim_start_matches('#')
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let site = setup(&signer);
    site.failing.set_mode(FailMode::Once(request));
    let err = rt
        .block_on(site.pipeline.publish(&release, &packaged, &passed))
        .unwrap_err();
    assert!(
        matches!(&err, PipelineError::Publish { repository, .. } if repository == "deb"),
        "{err:?}"
    );
    let orphans: Vec<String> = {
        let mut keys: Vec<String> = packaged
            .debs
            .iter()
            .map(|a| format!("packages/deb/stable/{}", a.file_name()))
            .collect();
        keys.sort();
        keys
    };
    for key in &orphans {
        assert!(site.repo.join(key).is_file(), "{key} was not uploaded");
    }
    assert!(!site
        .repo
        .join("packages/deb/dists/stable/InRelease")
        .exists());

    let url = format!("file://{}", site.repo.display());
    let key_file = key_file.display().to_string();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/sample/falco.yaml")
        .display()
        .to_string();
    let work_dir = work.path().join("cli").display().to_string();
    let corrected = || {
        let out = run_with(
            &[
                "run",
                "--tag",
                "0.45.0",
                "--manifest",
                &manifest,
                "--repo",
                &url,
                "--key-file",
                &key_file,
                "--work-dir",
                &work_dir,
                "--gate-command",
                "true",
            ],
            // Another source date: other bytes under the same names.
            &[("SOURCE_DATE_EPOCH", "1700000999")],
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let prune = |extra: &[&str]| {
        let mut args = vec![
            "prune",
            "--orphans",
            "--repo",
            &url,
            "--key-file",
            &key_file,
            "--channel",
            "stable",
        ];
        args.extend_from_slice(extra);
        let out = run_with(&args, &[]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Refused, naming the blocking object and the command that clears it.
    let before = tree(&site.repo);
    let (ok, text) = corrected();
    assert!(!ok, "{text}");
    assert!(
        orphans
            .iter()
            .any(|k| text.contains(&format!("{k} blocks this release"))),
        "{text}"
    );
    let command = format!("release prune --orphans --repo {url} --channel stable");
    assert!(text.contains(&command), "{text}");
    assert!(text.contains("--confirm"), "{text}");
    assert_eq!(tree(&site.repo), before, "a refused release wrote");

    // The dry run lists exactly the orphans, with their sizes, and changes nothing.
    let listed = prune(&[]);
    assert!(
        listed.starts_with(&format!("{} orphans (dry run", orphans.len())),
        "{listed}"
    );
    let lines: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(lines.len(), orphans.len(), "{listed}");
    for (line, key) in lines.iter().zip(&orphans) {
        let size = std::fs::metadata(site.repo.join(key)).unwrap().len();
        assert_eq!(line.trim(), format!("{key}  {size} bytes"), "{listed}");
    }
    assert_eq!(tree(&site.repo), before, "the dry run wrote");

    // Confirmed: the orphans go, nothing else does.
    let deleted = prune(&["--confirm"]);
    assert!(
        deleted.starts_with(&format!("{} orphans deleted", orphans.len())),
        "{deleted}"
    );
    let after = tree(&site.repo);
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(gone, orphans.iter().collect::<Vec<_>>());
    assert!(prune(&[]).starts_with("0 orphans"));

    // The corrected re-run publishes and verifies every repository.
    let (ok, text) = corrected();
    assert!(ok, "{text}");
    for repo in ["packages/deb", "packages/rpm", "packages/bin"] {
        assert!(text.contains(&format!("verified  {repo}")), "{text}");
    }
}
