//! The commit protocol under injected failures, and its cost.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use falco_artifacts_core::{ChannelConfig, Publisher, RepoKind, Retention};
use falco_artifacts_publish::{
    BinRepository, FailMode, FailingStore, LockOptions, Problem, RepoStore, RepositoryOptions,
    VerifyOptions,
};
use falco_artifacts_testkit::HttpServer;

use crate::common::{check_index_over_http, file_store, tarball};

/// A dev channel that keeps 3 tarball versions, so failing publishes also prune.
pub(crate) fn keep3() -> ChannelConfig {
    ChannelConfig::development()
        .to_builder()
        .with_retention(
            RepoKind::Bin,
            Retention::KeepLast(NonZeroUsize::new(3).unwrap()),
        )
        .build()
        .unwrap()
}

pub(crate) fn short_lease() -> RepositoryOptions {
    RepositoryOptions {
        lock: LockOptions {
            lease: Duration::from_secs(1),
            wait: Duration::from_secs(30),
            poll: Duration::from_millis(20),
        },
        ..RepositoryOptions::default()
    }
}

pub(crate) fn over(failing: &Arc<FailingStore>, root: &str) -> BinRepository {
    let store = RepoStore::new(Arc::clone(failing) as _, root).unwrap();
    BinRepository::builder(store)
        .with_options(short_lease())
        .build()
        .unwrap()
}

/// Publishes version after version through a store that fails at request 1, 2, 3, … in turn.
/// After every failure the repository must read cleanly like a client (every indexed file
/// present with its digest); a healthy re-run of the same publish must then complete.
pub(crate) async fn fail_at_every_request(
    inner: Arc<dyn object_store::ObjectStore>,
    root: &str,
    mode: fn(u64) -> FailMode,
    client_check: &dyn Fn(),
) -> u64 {
    let failing = Arc::new(FailingStore::new(inner));
    let repo = over(&failing, root);
    let channel = keep3();
    for n in 1..=3 {
        let built = tarball(&format!("0.45.0-{n}+abcdef0"), "x86_64", "seed");
        repo.publish(&channel, &built.artifacts).await.unwrap();
    }
    let mut request = 1;
    loop {
        let version = format!("0.45.0-{}+abcdef0", 3 + request);
        let built = tarball(&version, "x86_64", "x");
        failing.reset();
        failing.set_mode(mode(request));
        let outcome = repo.publish(&channel, &built.artifacts).await;
        let requests = failing.requests();
        failing.set_mode(FailMode::Never);
        if outcome.is_ok() && requests < request {
            // The whole publish needed fewer requests: every one has been failed once.
            return request - 1;
        }
        let log = failing.log();
        assert!(
            outcome.is_err()
                || matches!(
                    mode(request),
                    FailMode::Once(_) | FailMode::OnceAfterApply(_)
                ),
            "{log:?}"
        );

        // What clients see now: the old or the new state, never a broken index.
        let report = repo
            .verify(&channel, &VerifyOptions::default())
            .await
            .unwrap();
        let broken: Vec<&Problem> = report
            .problems
            .iter()
            .filter(|p| !matches!(p, Problem::Unindexed { .. } | Problem::StaleLock { .. }))
            .collect();
        assert!(
            broken.is_empty(),
            "failing request {request}: {broken:?}\n{log:#?}"
        );
        client_check();

        // Publishing again completes (after a crashed holder's lease ran out, if need be).
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
        let listed = repo.list(&channel, RepoKind::Bin).await.unwrap();
        assert!(
            listed.iter().any(|f| f.file_name == built.name()),
            "{version} missing"
        );
        assert_eq!(listed.len(), 9, "retention keeps 3 versions × 3 files");
        request += 1;
        assert!(
            request < 200,
            "a publish should not need this many requests"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_survives_a_transient_failure_at_every_request() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let url = format!("{}/packages/bin-dev", http.url());
    let inner = Arc::clone(file_store(site.path()).object_store());
    let n = fail_at_every_request(inner, "", FailMode::Once, &|| {
        check_index_over_http(&url);
    })
    .await;
    assert!(n >= 10, "only {n} requests were failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_survives_a_crash_at_every_request() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let url = format!("{}/packages/bin-dev", http.url());
    let inner = Arc::clone(file_store(site.path()).object_store());
    let n = fail_at_every_request(inner, "", FailMode::From, &|| {
        check_index_over_http(&url);
    })
    .await;
    assert!(n >= 10, "only {n} requests were failed");
}

/// Scenario 6 of the protocol's known failures: a write that lands and is then reported as
/// failed (a timeout after the PUT), at every request in turn, transient and as a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_survives_an_applied_then_failed_request_at_every_request() {
    for mode in [FailMode::OnceAfterApply, FailMode::FromAfterApply] {
        let site = tempfile::tempdir().unwrap();
        let http = HttpServer::serve(site.path()).unwrap();
        let url = format!("{}/packages/bin-dev", http.url());
        let inner = Arc::clone(file_store(site.path()).object_store());
        let n = fail_at_every_request(inner, "", mode, &|| {
            check_index_over_http(&url);
        })
        .await;
        assert!(n >= 10, "only {n} requests were failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crashed_holder_blocks_until_its_lease_ends_then_is_taken_over() {
    let site = tempfile::tempdir().unwrap();
    let inner = Arc::clone(file_store(site.path()).object_store());
    let failing = Arc::new(FailingStore::new(inner));
    let repo = over(&failing, "");
    let channel = keep3();
    let first = tarball("0.45.0-1+abcdef0", "x86_64", "a");
    // Find the request that writes the top file, and crash right there: the lock is held.
    repo.publish(&channel, &first.artifacts).await.unwrap();
    let second = tarball("0.45.0-2+abcdef0", "x86_64", "a");
    let plan_log = {
        failing.reset();
        let probe = tempfile::tempdir().unwrap();
        let counting = Arc::new(FailingStore::new(Arc::clone(
            file_store(probe.path()).object_store(),
        )));
        over(&counting, "")
            .publish(&channel, &first.artifacts)
            .await
            .unwrap();
        counting.reset();
        over(&counting, "")
            .publish(&channel, &second.artifacts)
            .await
            .unwrap();
        counting.log()
    };
    let top = plan_log
        .iter()
        .position(|line| line.contains("put(overwrite) packages/bin-dev/index.json"))
        .unwrap() as u64
        + 1;
    failing.reset();
    failing.set_mode(FailMode::From(top));
    assert!(repo.publish(&channel, &second.artifacts).await.is_err());
    failing.set_mode(FailMode::Never);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let report = repo
        .verify(&channel, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::StaleLock { .. })),
        "{:?}",
        report.problems
    );
    repo.publish(&channel, &second.artifacts).await.unwrap();
    let report = repo
        .verify(&channel, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);

    // A held, live lock makes a publisher wait and then give up with a precondition error.
    let third = tarball("0.45.0-3+abcdef0", "x86_64", "a");
    let fourth = tarball("0.45.0-4+abcdef0", "x86_64", "a");
    failing.reset();
    failing.set_mode(FailMode::From(top));
    assert!(repo.publish(&channel, &third.artifacts).await.is_err());
    failing.set_mode(FailMode::Never);
    let patient = BinRepository::builder(file_store(site.path()))
        .with_options(RepositoryOptions {
            lock: LockOptions {
                lease: Duration::from_secs(60),
                wait: Duration::from_millis(50),
                poll: Duration::from_millis(10),
            },
            ..RepositoryOptions::default()
        })
        .build()
        .unwrap();
    // The crashed holder's one-second lease has not run out yet.
    match patient.publish(&channel, &fourth.artifacts).await {
        Err(falco_artifacts_core::Error::Precondition { what }) => {
            assert!(what.contains("lock"), "{what}")
        }
        other => panic!("expected a held lock, got {other:?}"),
    }
}

/// Adding one tarball costs the same number of store requests whatever the repository holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_one_file_costs_the_same_requests_at_any_repository_size() {
    let stable = ChannelConfig::stable();
    let mut costs = Vec::new();
    for existing in [12_u64, 40] {
        let site = tempfile::tempdir().unwrap();
        let failing = Arc::new(FailingStore::new(Arc::clone(
            file_store(site.path()).object_store(),
        )));
        let repo = over(&failing, "");
        for n in 0..existing {
            let built = tarball(&format!("0.38.{n}"), "x86_64", "a");
            repo.publish(&stable, &built.artifacts).await.unwrap();
        }
        failing.reset();
        let built = tarball("0.39.0", "x86_64", "a");
        repo.publish(&stable, &built.artifacts).await.unwrap();
        costs.push((existing, failing.requests(), failing.log()));
    }
    assert_eq!(costs[0].1, costs[1].1, "{costs:#?}");
    // The lock reads its slot back and lists once more after creating it, and every upload
    // is checked again under the lock (another commit may have deleted it), and the top
    // file's version is read for fencing when the lock is taken: 26 at most.
    assert!(costs[0].1 <= 26, "{costs:#?}");
}
