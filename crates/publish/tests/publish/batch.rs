//! A large upload into `file://`: more new files than one synced batch (64), so they are read
//! and created on the blocking pool in a few long jobs and made durable by one `syncfs`. A
//! request failing anywhere in that batch, in every fault mode, leaves a repository that reads
//! as the old state; a re-run then publishes every package and verifies clean.

use std::sync::Arc;
use std::time::Duration;

use falco_artifacts_core::{ChannelConfig, Problem, Publisher, RepoKind, VerifyOptions};
use falco_artifacts_publish::{
    AptRepository, FailMode, Faults, LockOptions, RepoStore, RepositoryOptions,
};

use crate::aptclient::{named_deb, BuiltDeb};
use crate::common::shared_signer;
use crate::faults::unexplained_problems;

/// Packages in the large upload: with their signatures, 180 new files.
const PACKAGES: usize = 90;

fn apt(store: RepoStore, lease: Duration) -> Arc<dyn Publisher> {
    let repo = AptRepository::builder(store)
        .with_signer(shared_signer())
        .with_options(RepositoryOptions {
            lock: LockOptions {
                lease,
                wait: Duration::from_secs(60),
                poll: Duration::from_millis(20),
            },
            ..RepositoryOptions::default()
        })
        .build()
        .unwrap();
    Arc::new(repo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_on_file_survives_a_failure_anywhere_in_its_batch() {
    let debs: Vec<BuiltDeb> = (0..PACKAGES)
        .map(|n| named_deb(&format!("pkg{n}"), "1.0.0", "x86_64", "batch"))
        .collect();
    let artifacts: Vec<_> = debs.iter().flat_map(|d| d.artifacts.clone()).collect();
    let first = named_deb("falco", "0.44.0", "x86_64", "batch");
    let channel = ChannelConfig::stable();
    let modes: [fn(u64) -> FailMode; 4] = [
        FailMode::Once,
        FailMode::OnceAfterApply,
        FailMode::From,
        FailMode::FromAfterApply,
    ];
    // The requests of the whole publish, counted on a healthy run.
    let total = {
        let dir = tempfile::tempdir().unwrap();
        let faults = Arc::new(Faults::default());
        let store = RepoStore::from_url(&format!("file://{}", dir.path().display()))
            .unwrap()
            .with_faults(Arc::clone(&faults));
        apt(store, Duration::from_secs(60))
            .publish(&channel, &artifacts)
            .await
            .unwrap();
        faults.requests()
    };
    assert!(total > 2 * artifacts.len() as u64, "{total} requests");
    for mode in modes {
        // The first requests check every name; the creates follow, then the commit.
        for request in (1..=total).step_by(53).chain([total / 2 + 3, total - 1]) {
            let dir = tempfile::tempdir().unwrap();
            let faults = Arc::new(Faults::default());
            let store = RepoStore::from_url(&format!("file://{}", dir.path().display()))
                .unwrap()
                .with_faults(Arc::clone(&faults));
            let repo = apt(store.clone(), Duration::from_secs(60));
            repo.publish(&channel, &first.artifacts).await.unwrap();
            faults.reset();
            faults.set_mode(mode(request));
            let failed = apt(store, Duration::from_secs(1))
                .publish(&channel, &artifacts)
                .await;
            faults.set_mode(FailMode::Never);
            let log = faults.log();
            let broken = unexplained_problems(repo.as_ref(), &channel, RepoKind::Deb).await;
            assert!(
                broken.is_empty(),
                "failing request {request} of {total} ({failed:?}): {broken:?}\n{log:#?}"
            );
            repo.publish(&channel, &artifacts).await.unwrap();
            let report = repo
                .verify(&channel, RepoKind::Deb, &VerifyOptions::default())
                .await
                .unwrap();
            assert!(
                report
                    .problems
                    .iter()
                    .all(|p| matches!(p, Problem::StaleLock { .. })),
                "after re-running request {request}: {:?}",
                report.problems
            );
            let listed = repo.list(&channel, RepoKind::Deb).await.unwrap();
            assert_eq!(listed.len(), PACKAGES + 1, "request {request}");
        }
    }
}
