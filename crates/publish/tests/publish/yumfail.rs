//! The YUM repository under injected store failures, concurrent publishers and bad input.

use std::sync::Arc;
use std::time::Duration;

use falco_artifacts_core::{
    Arch, Artifact, ArtifactKind, ChannelConfig, Error as CoreError, LocalArtifact, Publisher,
    RepoKind,
};
use falco_artifacts_publish::{
    FailMode, FailingStore, LockOptions, Problem, RepoStore, RepositoryOptions, VerifyOptions,
    YumRepository,
};
use falco_artifacts_testkit::HttpServer;

use crate::common::{file_store, shared_signer, snapshot};
use crate::yum::{keep, yum};
use crate::yumclient::{rpm, DnfSandbox};

/// Fails the store at request 1, 2, 3, … of a publish in turn; after each failure dnf still
/// reads the repository (signature of `repomd.xml` included), and re-running the publish
/// completes and is installable. Returns how many requests a publish makes.
pub(crate) async fn yum_fail_at_every_request(
    inner: Arc<dyn object_store::ObjectStore>,
    repo_url: &str,
    mode: fn(u64) -> FailMode,
) -> u64 {
    let failing = Arc::new(FailingStore::new(inner));
    let repo = YumRepository::builder(RepoStore::new(Arc::clone(&failing) as _, "").unwrap())
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
    let channel = keep(3);
    for n in 1..=3 {
        let built = rpm(&format!("0.45.0-{n}+abcdef0"), "x86_64", "seed", false);
        repo.publish(&channel, &built.artifacts).await.unwrap();
    }
    let dnf = DnfSandbox::new(repo_url);
    dnf.makecache();
    let mut request = 1;
    loop {
        let version = format!("0.45.0-{}+abcdef0", 3 + request);
        // Unsigned: signing on publish is part of what must survive a failure.
        let built = rpm(&version, "x86_64", "x", false);
        failing.reset();
        failing.set_mode(mode(request));
        let outcome = repo.publish(&channel, &built.artifacts).await;
        let requests = failing.requests();
        failing.set_mode(FailMode::Never);
        if outcome.is_ok() && requests < request {
            return request - 1;
        }
        let log = failing.log();
        let read = dnf.makecache_ok();
        let report = repo
            .verify(&channel, &VerifyOptions::default())
            .await
            .unwrap();
        let broken: Vec<&Problem> = report
            .problems
            .iter()
            .filter(|p| !matches!(p, Problem::Unindexed { .. } | Problem::StaleLock { .. }))
            .collect();
        // The one request no ordering can make atomic: a publisher that dies between
        // repomd.xml and repomd.xml.asc leaves a signature of the previous repomd.xml (a
        // transient failure there is rolled back). The re-run below repairs it.
        // Applied then failed, the last request that lands is the failing one itself.
        let first_failed = log.iter().find(|l| l.ends_with("failed)"));
        let torn_signature = match mode(request) {
            FailMode::From(_) => {
                first_failed.is_some_and(|l| l.contains("repodata/repomd.xml.asc"))
            }
            FailMode::FromAfterApply(_) => first_failed
                .is_some_and(|l| l.contains("repodata/repomd.xml") && !l.contains(".asc")),
            _ => false,
        };
        if torn_signature {
            eprintln!("request {request} is the repomd.xml.asc write: {read:?}");
        }
        if !torn_signature {
            assert!(
                read.is_ok(),
                "failing request {request}: dnf cannot read the repository: {read:?}\n{log:#?}"
            );
        }
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
            "after re-running request {request}: {:?}\n{log:#?}",
            report.problems
        );
        let rpm_version = version.replacen('-', "_", 1);
        dnf.makecache();
        let signed = dnf.download(&rpm_version);
        let listed = repo.list(&channel, RepoKind::Rpm).await.unwrap();
        assert_eq!(listed.len(), 3, "retention keeps 3 versions");
        let live = listed
            .iter()
            .find(|f| f.file_name == built.name())
            .expect("the re-run published the package");
        assert_eq!(live.sha256, signed, "dnf gets what the metadata names");
        request += 1;
        assert!(
            request < 200,
            "a publish should not need this many requests"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yum_survives_a_crash_at_every_request_on_file() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let inner = Arc::clone(file_store(site.path()).object_store());
    let n = yum_fail_at_every_request(
        inner,
        &format!("{}/packages/rpm-dev", http.url()),
        FailMode::From,
    )
    .await;
    assert!(n >= 15, "only {n} requests were failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yum_survives_a_transient_failure_at_every_request_on_file() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let inner = Arc::clone(file_store(site.path()).object_store());
    let n = yum_fail_at_every_request(
        inner,
        &format!("{}/packages/rpm-dev", http.url()),
        FailMode::Once,
    )
    .await;
    assert!(n >= 15, "only {n} requests were failed");
}

/// Scenario 6: every request applied, then reported as failed (transient, then as a crash).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yum_survives_an_applied_then_failed_request_at_every_request_on_file() {
    for mode in [FailMode::OnceAfterApply, FailMode::FromAfterApply] {
        let site = tempfile::tempdir().unwrap();
        let http = HttpServer::serve(site.path()).unwrap();
        let inner = Arc::clone(file_store(site.path()).object_store());
        let n = yum_fail_at_every_request(inner, &format!("{}/packages/rpm-dev", http.url()), mode)
            .await;
        assert!(n >= 15, "only {n} requests were failed");
    }
}

/// Eight publishers add a different package each to the same channel at once: all eight are
/// in the final metadata, verify is clean and dnf installs each.
pub(crate) async fn eight_yum_publishers(stores: Vec<RepoStore>, first: RepoStore, repo_url: &str) {
    let builds: Vec<_> = (0..8)
        .map(|n| rpm(&format!("0.39.{n}"), "x86_64", "c", n % 2 == 0))
        .collect();
    let mut tasks = Vec::new();
    for (store, built) in stores.into_iter().zip(&builds) {
        let artifacts = built.artifacts.clone();
        let repo = YumRepository::builder(store)
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
    let repo = yum(first);
    let stable = ChannelConfig::stable();
    assert_eq!(repo.list(&stable, RepoKind::Rpm).await.unwrap().len(), 8);
    let report = repo
        .verify(&stable, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let dnf = DnfSandbox::new(repo_url);
    for n in 0..8 {
        dnf.download(&format!("0.39.{n}"));
    }
    dnf.must(&["install", "falco"]);
    assert_eq!(dnf.installed().as_deref(), Some("falco-0.39.7-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_yum_publishers_on_file_all_land() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let stores = (0..8).map(|_| file_store(site.path())).collect();
    eight_yum_publishers(
        stores,
        file_store(site.path()),
        &format!("{}/packages/rpm", http.url()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_rpms_are_refused_and_leave_the_repository_unchanged() {
    let site = tempfile::tempdir().unwrap();
    let repo = YumRepository::builder(file_store(site.path()))
        .with_signer(shared_signer())
        .with_architectures(&[Arch::X86_64])
        .build()
        .unwrap();
    let stable = ChannelConfig::stable();
    let published = rpm("0.39.0", "x86_64", "a", true);
    repo.publish(&stable, &published.artifacts).await.unwrap();
    let before = snapshot(site.path());

    let fresh = rpm("0.39.1", "x86_64", "a", true);
    let not_an_rpm: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_bytes(
            ArtifactKind::Rpm,
            "falco-0.39.2-x86_64.rpm",
            b"this is not an rpm lead".to_vec(),
        )
        .unwrap(),
    );
    let arm = rpm("0.39.1", "aarch64", "a", true);
    let rebuilt = rpm("0.39.0", "x86_64", "b", true);
    let unsigned_rebuilt = rpm("0.39.0", "x86_64", "c", false);
    let with_fresh = |bad: &[Arc<dyn Artifact>]| -> Vec<Arc<dyn Artifact>> {
        fresh.artifacts.iter().chain(bad).cloned().collect()
    };
    for (what, artifacts) in [
        ("a file that is not an .rpm", with_fresh(&[not_an_rpm])),
        (
            "an aarch64 package in an x86_64-only repository",
            with_fresh(&arm.artifacts),
        ),
        (
            "different bytes under a published version",
            with_fresh(&rebuilt.artifacts),
        ),
        (
            "a different unsigned package under a published version",
            with_fresh(&unsigned_rebuilt.artifacts),
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
    let message = repo
        .publish(&stable, &with_fresh(&arm.artifacts))
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("publish input"), "{message}");

    let blocked = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(blocked.path().join("packages")).unwrap();
    std::fs::write(blocked.path().join("packages/rpm"), b"not a directory").unwrap();
    let before = snapshot(blocked.path());
    let err = yum(file_store(blocked.path()))
        .publish(&stable, &fresh.artifacts)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Backend { .. }), "{err:?}");
    assert_eq!(snapshot(blocked.path()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_one_rpm_costs_the_same_requests_at_any_repository_size() {
    let stable = ChannelConfig::stable();
    let mut costs = Vec::new();
    for existing in [6_u64, 24] {
        let site = tempfile::tempdir().unwrap();
        let failing = Arc::new(FailingStore::new(Arc::clone(
            file_store(site.path()).object_store(),
        )));
        let repo = yum(RepoStore::new(Arc::clone(&failing) as _, "").unwrap());
        for n in 0..existing {
            let built = rpm(&format!("0.38.{n}"), "x86_64", "a", true);
            repo.publish(&stable, &built.artifacts).await.unwrap();
        }
        failing.reset();
        let built = rpm("0.39.0", "x86_64", "a", true);
        repo.publish(&stable, &built.artifacts).await.unwrap();
        costs.push((existing, failing.requests(), failing.log()));
    }
    assert_eq!(costs[0].1, costs[1].1, "{costs:#?}");
    // The lock reads its slot back and lists once more after creating it, and every upload
    // is checked again under the lock (another commit may have deleted it): 45 at most.
    assert!(costs[0].1 <= 45, "{costs:#?}");
}
