//! The commit protocol under injected failures, and its cost. Failures at every request of a
//! publish, for every format on every backend, are in `faults.rs`.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use falco_artifacts_core::{ChannelConfig, Publisher, RepoKind, Retention};
use falco_artifacts_publish::{
    BinRepository, FailMode, FailingStore, LockOptions, Problem, RepoStore, RepositoryOptions,
    VerifyOptions,
};

use crate::common::{file_store, tarball};

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
