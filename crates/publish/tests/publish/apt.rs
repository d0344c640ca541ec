//! The APT repository, checked with real `apt-get update` and `apt-get download`.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use falco_artifacts_core::{
    Artifact, ArtifactKind, ChannelConfig, Error as CoreError, LocalArtifact, Publisher, RepoKind,
    Retention,
};
use falco_artifacts_publish::{
    AptRepository, FailMode, FailingStore, LockOptions, Problem, RepoStore, RepositoryOptions,
    VerifyOptions,
};
use falco_artifacts_testkit::HttpServer;

use crate::aptclient::{deb, AptSandbox};
use crate::common::{file_store, http_get, shared_signer, snapshot, verifier};

pub(crate) fn apt(store: RepoStore) -> AptRepository {
    AptRepository::builder(store)
        .with_signer(shared_signer())
        .build()
        .unwrap()
}

/// Publishes stable debs, then checks with apt at `repo_url` (`…/packages/deb`).
pub(crate) async fn publish_and_install(store: RepoStore, repo_url: &str) {
    let repo = apt(store);
    let stable = ChannelConfig::stable();
    let amd = deb("0.39.0", "x86_64", "a");
    let arm = deb("0.39.0", "aarch64", "a");
    let all: Vec<Arc<dyn Artifact>> = amd
        .artifacts
        .iter()
        .chain(&arm.artifacts)
        .cloned()
        .collect();
    let report = repo.publish(&stable, &all).await.unwrap();
    assert_eq!(report.uploaded.len(), 4);

    let sandbox = AptSandbox::new(repo_url);
    sandbox.update();
    assert_eq!(sandbox.download("falco", "0.39.0"), amd.sha256);

    // The signed files verify with gpg too, and the pool's .asc signs the package.
    let gpg = verifier();
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "dists/stable/InRelease",
        "stable/falco-0.39.0-x86_64.deb",
        "stable/falco-0.39.0-x86_64.deb.asc",
    ] {
        let (status, body) = http_get(&format!("{repo_url}/{file}"));
        assert_eq!(status, 200, "{file}");
        std::fs::write(dir.path().join(file.rsplit('/').next().unwrap()), body).unwrap();
    }
    assert!(
        gpg.verify_cleartext(&dir.path().join("InRelease"))
            .unwrap()
            .good
    );
    assert!(
        gpg.verify_detached(
            &dir.path().join("falco-0.39.0-x86_64.deb.asc"),
            &dir.path().join("falco-0.39.0-x86_64.deb")
        )
        .unwrap()
        .good
    );

    // A second release is added from the index alone; both stay installable.
    let next = deb("0.39.1", "x86_64", "a");
    repo.publish(&stable, &next.artifacts).await.unwrap();
    sandbox.update();
    assert_eq!(sandbox.download("falco", "0.39.1"), next.sha256);
    assert_eq!(sandbox.download("falco", "0.39.0"), amd.sha256);
    assert!(repo
        .publish(&stable, &next.artifacts)
        .await
        .unwrap()
        .is_noop());
    let listed = repo.list(&stable, RepoKind::Deb).await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let report = repo
        .verify(&stable, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apt_installs_from_a_repository_on_file_over_http() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    publish_and_install(
        file_store(site.path()),
        &format!("{}/packages/deb", http.url()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn xz_indexes_are_opt_in_and_apt_reads_them() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let repo = AptRepository::builder(file_store(site.path()))
        .with_signer(shared_signer())
        .with_xz(6)
        .build()
        .unwrap();
    let stable = ChannelConfig::stable();
    let built = deb("0.39.0", "x86_64", "xz");
    repo.publish(&stable, &built.artifacts).await.unwrap();
    let dists = site.path().join("packages/deb/dists/stable");
    assert!(dists.join("main/binary-amd64/Packages.xz").exists());
    let release = std::fs::read_to_string(dists.join("Release")).unwrap();
    assert!(
        release.contains("main/binary-amd64/Packages.xz"),
        "{release}"
    );
    let sandbox = AptSandbox::new(&format!("{}/packages/deb", http.url()));
    sandbox.update();
    assert_eq!(sandbox.download("falco", "0.39.0"), built.sha256);
}

fn keep3() -> ChannelConfig {
    ChannelConfig::development()
        .to_builder()
        .with_retention(
            RepoKind::Deb,
            Retention::KeepLast(NonZeroUsize::new(3).unwrap()),
        )
        .build()
        .unwrap()
}

/// Fails the store at request 1, 2, 3, … of a publish in turn; after each failure apt still
/// updates cleanly, and re-running the publish completes and is installable.
pub(crate) async fn apt_fail_at_every_request(
    inner: Arc<dyn object_store::ObjectStore>,
    repo_url: &str,
    mode: fn(u64) -> FailMode,
) -> u64 {
    let failing = Arc::new(FailingStore::new(inner));
    let repo = AptRepository::builder(RepoStore::new(Arc::clone(&failing) as _, "").unwrap())
        .with_signer(shared_signer())
        .with_options(RepositoryOptions {
            lock: LockOptions {
                lease: Duration::from_secs(3),
                wait: Duration::from_secs(30),
                poll: Duration::from_millis(20),
            },
            ..RepositoryOptions::default()
        })
        .build()
        .unwrap();
    let channel = keep3();
    for n in 1..=3 {
        let built = deb(&format!("0.45.0-{n}+abcdef0"), "x86_64", "seed");
        repo.publish(&channel, &built.artifacts).await.unwrap();
    }
    let sandbox = AptSandbox::new(repo_url);
    sandbox.update();
    let mut request = 1;
    loop {
        let version = format!("0.45.0-{}+abcdef0", 3 + request);
        let built = deb(&version, "x86_64", "x");
        failing.reset();
        failing.set_mode(mode(request));
        let outcome = repo.publish(&channel, &built.artifacts).await;
        let requests = failing.requests();
        failing.set_mode(FailMode::Never);
        if outcome.is_ok() && requests < request {
            return request - 1;
        }
        let log = failing.log();
        // apt sees the old or the new state: `update` succeeds without a warning.
        sandbox.update();
        let report = repo
            .verify(&channel, &VerifyOptions::default())
            .await
            .unwrap();
        let broken: Vec<&Problem> = report
            .problems
            .iter()
            .filter(|p| {
                // A publish stopped after the canonical names or inside the top files: apt reads
                // InRelease and by-hash, and the update above proved it unaffected.
                !matches!(
                    p,
                    Problem::Unindexed { .. }
                        | Problem::StaleLock { .. }
                        | Problem::CanonicalAhead { .. }
                        | Problem::SignatureBehind { .. }
                )
            })
            .collect();
        assert!(
            broken.is_empty(),
            "failing request {request}: {broken:?}\n{log:#?}"
        );

        repo.publish(&channel, &built.artifacts).await.unwrap();
        let report = repo
            .verify(&channel, &VerifyOptions::default())
            .await
            .unwrap();
        assert!(
            report.is_clean(),
            "after re-running request {request}: {:?}",
            report.problems
        );
        sandbox.update();
        assert_eq!(sandbox.download("falco", &version), built.sha256);
        let listed = repo.list(&channel, RepoKind::Deb).await.unwrap();
        assert_eq!(listed.len(), 3, "retention keeps 3 versions");
        assert!(listed.iter().any(|f| f.file_name == built.name()));
        request += 1;
        assert!(
            request < 200,
            "a publish should not need this many requests"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apt_survives_a_crash_at_every_request_on_file() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let inner = Arc::clone(file_store(site.path()).object_store());
    let n = apt_fail_at_every_request(
        inner,
        &format!("{}/packages/deb-dev", http.url()),
        FailMode::From,
    )
    .await;
    assert!(n >= 15, "only {n} requests were failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apt_survives_a_transient_failure_at_every_request_on_file() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let inner = Arc::clone(file_store(site.path()).object_store());
    let n = apt_fail_at_every_request(
        inner,
        &format!("{}/packages/deb-dev", http.url()),
        FailMode::Once,
    )
    .await;
    assert!(n >= 15, "only {n} requests were failed");
}

/// Scenario 6: every request applied, then reported as failed (transient, then as a crash).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apt_survives_an_applied_then_failed_request_at_every_request_on_file() {
    for mode in [FailMode::OnceAfterApply, FailMode::FromAfterApply] {
        let site = tempfile::tempdir().unwrap();
        let http = HttpServer::serve(site.path()).unwrap();
        let inner = Arc::clone(file_store(site.path()).object_store());
        let n = apt_fail_at_every_request(inner, &format!("{}/packages/deb-dev", http.url()), mode)
            .await;
        assert!(n >= 15, "only {n} requests were failed");
    }
}

pub(crate) async fn eight_apt_publishers(stores: Vec<RepoStore>, first: RepoStore, repo_url: &str) {
    let builds: Vec<_> = (0..8)
        .map(|n| deb(&format!("0.39.{n}"), "x86_64", "c"))
        .collect();
    let mut tasks = Vec::new();
    for (store, built) in stores.into_iter().zip(&builds) {
        let artifacts = built.artifacts.clone();
        let repo = AptRepository::builder(store)
            .with_signer(shared_signer())
            .with_options(RepositoryOptions {
                lock: LockOptions {
                    poll: Duration::from_millis(20),
                    ..LockOptions::default()
                },
                ..RepositoryOptions::default()
            })
            .build()
            .unwrap();
        tasks.push(tokio::spawn(async move {
            repo.publish(&ChannelConfig::stable(), &artifacts)
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().uploaded.len(), 2);
    }
    let repo = apt(first);
    let stable = ChannelConfig::stable();
    assert_eq!(repo.list(&stable, RepoKind::Deb).await.unwrap().len(), 8);
    let report = repo
        .verify(&stable, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let sandbox = AptSandbox::new(repo_url);
    sandbox.update();
    for (n, built) in builds.iter().enumerate() {
        assert_eq!(
            sandbox.download("falco", &format!("0.39.{n}")),
            built.sha256
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_apt_publishers_on_file_all_land() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let stores = (0..8).map(|_| file_store(site.path())).collect();
    eight_apt_publishers(
        stores,
        file_store(site.path()),
        &format!("{}/packages/deb", http.url()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_debs_are_refused_and_leave_the_repository_unchanged() {
    let site = tempfile::tempdir().unwrap();
    let repo = AptRepository::builder(file_store(site.path()))
        .with_signer(shared_signer())
        .with_architectures(&[falco_artifacts_core::Arch::X86_64])
        .build()
        .unwrap();
    let stable = ChannelConfig::stable();
    let published = deb("0.39.0", "x86_64", "a");
    repo.publish(&stable, &published.artifacts).await.unwrap();
    let before = snapshot(site.path());

    let fresh = deb("0.39.1", "x86_64", "a");
    let not_a_deb: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_bytes(
            ArtifactKind::Deb,
            "falco-0.39.2-x86_64.deb",
            b"this is not an ar archive".to_vec(),
        )
        .unwrap(),
    );
    let arm = deb("0.39.1", "aarch64", "a");
    let rebuilt = deb("0.39.0", "x86_64", "b");
    let with_fresh = |bad: &[Arc<dyn Artifact>]| -> Vec<Arc<dyn Artifact>> {
        fresh.artifacts.iter().chain(bad).cloned().collect()
    };
    for (what, artifacts) in [
        ("a file that is not a .deb", with_fresh(&[not_a_deb])),
        (
            "an arm64 package in an amd64-only repository",
            with_fresh(&arm.artifacts),
        ),
        (
            "different bytes under a published version",
            with_fresh(&rebuilt.artifacts),
        ),
    ] {
        let err = repo.publish(&stable, &artifacts).await.unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::InvalidInput { .. } | CoreError::AlreadyExists { .. }
            ),
            "{what}: {err:?}"
        );
        assert_eq!(
            snapshot(site.path()),
            before,
            "{what} changed the repository"
        );
    }

    let blocked = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(blocked.path().join("packages/deb")).unwrap();
    std::fs::write(
        blocked.path().join("packages/deb/stable"),
        b"not a directory",
    )
    .unwrap();
    let before = snapshot(blocked.path());
    let err = apt(file_store(blocked.path()))
        .publish(&stable, &fresh.artifacts)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Backend { .. }), "{err:?}");
    assert_eq!(snapshot(blocked.path()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_one_deb_costs_the_same_requests_at_any_repository_size() {
    let stable = ChannelConfig::stable();
    let mut costs = Vec::new();
    for existing in [12_u64, 40] {
        let site = tempfile::tempdir().unwrap();
        let failing = Arc::new(FailingStore::new(Arc::clone(
            file_store(site.path()).object_store(),
        )));
        let repo = apt(RepoStore::new(Arc::clone(&failing) as _, "").unwrap());
        for n in 0..existing {
            let built = deb(&format!("0.38.{n}"), "x86_64", "a");
            repo.publish(&stable, &built.artifacts).await.unwrap();
        }
        failing.reset();
        let built = deb("0.39.0", "x86_64", "a");
        repo.publish(&stable, &built.artifacts).await.unwrap();
        costs.push((existing, failing.requests(), failing.log()));
    }
    let log = |i: usize| {
        costs[i]
            .2
            .iter()
            .map(|l| {
                l.split_once(' ')
                    .map_or("", |(_, r)| r)
                    .split('/')
                    .take(4)
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(costs[0].1, costs[1].1, "{:#?}", (log(0), log(1)));
    // The lock reads its slot back and lists once more after creating it, and every upload
    // is checked again under the lock (another commit may have deleted it), and the three
    // top files' versions are read for fencing when the lock is taken: 48 at most.
    assert!(costs[0].1 <= 48, "{costs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn development_keeps_the_last_versions_and_the_dry_run_says_so() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let repo = apt(file_store(site.path()));
    let dev = keep3();
    for n in 1..=3 {
        repo.publish(
            &dev,
            &deb(&format!("0.45.0-{n}+abcdef0"), "x86_64", "a").artifacts,
        )
        .await
        .unwrap();
    }
    let next = deb("0.45.0-4+abcdef0", "x86_64", "a");
    let before = snapshot(site.path());
    let plan = repo.plan(&dev, &next.artifacts).await.unwrap();
    assert_eq!(snapshot(site.path()), before, "a dry run writes nothing");
    assert_eq!(plan.upload.len(), 2);
    assert_eq!(plan.prune.len(), 1);
    assert!(plan.prune[0].file_name.contains("0.45.0-1+"), "{plan:?}");
    assert_eq!(
        plan.index_files.last().map(String::as_str),
        Some("dists/stable/InRelease")
    );
    let report = repo.publish(&dev, &next.artifacts).await.unwrap();
    assert_eq!(report.pruned.len(), 1);
    let pool = site.path().join("packages/deb-dev/stable");
    let pruned = [
        pool.join("falco-0.45.0-1+abcdef0-x86_64.deb"),
        pool.join("falco-0.45.0-1+abcdef0-x86_64.deb.asc"),
    ];
    // Still named by the kept generations before (3 by default), deleted after them.
    for n in 5..=6 {
        assert!(pruned.iter().all(|p| p.exists()), "before v{n}");
        repo.publish(
            &dev,
            &deb(&format!("0.45.0-{n}+abcdef0"), "x86_64", "a").artifacts,
        )
        .await
        .unwrap();
    }
    assert!(pruned.iter().all(|p| !p.exists()));
    let sandbox = AptSandbox::new(&format!("{}/packages/deb-dev", http.url()));
    sandbox.update();
    assert_eq!(sandbox.download("falco", "0.45.0-4+abcdef0"), next.sha256);
    let report = repo.verify(&dev, &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}
