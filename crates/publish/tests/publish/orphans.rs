//! Scenario 7, second half: a publish that failed after uploading leaves its package files
//! stored but named by no index. A corrected re-run (other bytes under the same immutable
//! name) is refused with an error naming the blocking object and how to clear it; the
//! repository's orphans are listed without changing anything, deleted when asked, and the
//! corrected re-run then publishes a clean repository. Files waiting for deferred deletion
//! and live files are never orphans.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use falco_artifacts_core::{
    Artifact, Channel, ChannelConfig, Error as CoreError, Occupant, Orphan, Publisher, RepoKind,
    Retention, Sha256Digest, VerifyOptions,
};
use falco_artifacts_publish::{
    AptRepository, BinRepository, FailMode, FailingStore, RepoStore, RepositoryOptions,
    YumRepository,
};
use futures::TryStreamExt as _;
use object_store::{ObjectStore, ObjectStoreExt as _};

use crate::common::{file_store, shared_signer, tarball};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Apt,
    Yum,
    Bin,
}

impl Kind {
    fn repo_kind(self) -> RepoKind {
        match self {
            Kind::Apt => RepoKind::Deb,
            Kind::Yum => RepoKind::Rpm,
            Kind::Bin => RepoKind::Bin,
        }
    }

    /// Three generations kept, so a pruned file waits two commits for deletion.
    fn publisher(self, store: RepoStore) -> Arc<dyn Publisher> {
        let options = RepositoryOptions {
            index_generations: 3,
            ..RepositoryOptions::default()
        };
        match self {
            Kind::Apt => Arc::new(
                AptRepository::builder(store)
                    .with_signer(shared_signer())
                    .with_options(options)
                    .build()
                    .unwrap(),
            ),
            Kind::Yum => Arc::new(
                YumRepository::builder(store)
                    .with_signer(shared_signer())
                    .with_options(options)
                    .build()
                    .unwrap(),
            ),
            Kind::Bin => Arc::new(
                BinRepository::builder(store)
                    .with_options(options)
                    .build()
                    .unwrap(),
            ),
        }
    }

    /// The artifacts of `version`; `salt` changes their bytes.
    fn artifacts(
        self,
        version: &str,
        salt: &str,
    ) -> (Vec<Arc<dyn Artifact>>, Box<dyn std::any::Any>) {
        match self {
            Kind::Apt => {
                let built = crate::aptclient::deb(version, "x86_64", salt);
                (built.artifacts.clone(), Box::new(built))
            }
            Kind::Yum => {
                let built = crate::yumclient::rpm(version, "x86_64", salt, true);
                (built.artifacts.clone(), Box::new(built))
            }
            Kind::Bin => {
                let built = tarball(version, "x86_64", salt);
                (built.artifacts.clone(), Box::new(built))
            }
        }
    }
}

/// A repository whose store can be told to fail, over `base`.
struct Site {
    kind: Kind,
    base: RepoStore,
    failing: Arc<FailingStore>,
    repo: Arc<dyn Publisher>,
}

/// Every object of `store` with its digest.
async fn tree(store: &dyn ObjectStore) -> BTreeMap<String, Sha256Digest> {
    let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut tree = BTreeMap::new();
    for meta in metas {
        let bytes = store.get(&meta.location).await.unwrap().bytes().await;
        tree.insert(
            meta.location.to_string(),
            Sha256Digest::of_bytes(&bytes.unwrap()),
        );
    }
    tree
}

/// The request number (1-based) of the first write after the lock in `log`.
fn first_write_after_lock(log: &[String]) -> u64 {
    let is_put = |l: &String| l.contains(" put(");
    let lock = log
        .iter()
        .position(|l| is_put(l) && l.contains(".publish/lock"))
        .unwrap_or_else(|| panic!("no lock taken: {log:#?}"));
    let line = log[lock..]
        .iter()
        .find(|l| is_put(l) && !l.contains(".publish/lock"))
        .unwrap_or_else(|| panic!("no index write: {log:#?}"));
    line.trim_start_matches('#')
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

impl Site {
    fn new(kind: Kind, base: RepoStore) -> Site {
        let failing = Arc::new(FailingStore::new(Arc::clone(base.object_store())));
        let store = RepoStore::new(Arc::clone(&failing) as _, base.root()).unwrap();
        Site {
            kind,
            base,
            failing,
            repo: kind.publisher(store),
        }
    }

    async fn tree(&self) -> BTreeMap<String, Sha256Digest> {
        tree(self.base.object_store().as_ref()).await
    }

    /// Publishes `artifacts` with the commit's first index write failing, once (the lock is
    /// released, as by a publisher that gave up), after the package files went up.
    async fn publish_failing(&self, channel: &dyn Channel, artifacts: &[Arc<dyn Artifact>]) {
        // The same publish on a copy of the repository tells which request that is.
        let copy = Arc::new(object_store::memory::InMemory::new());
        let base = self.base.object_store();
        let metas: Vec<_> = base.list(None).try_collect().await.unwrap();
        for meta in metas {
            let bytes = base.get(&meta.location).await.unwrap().bytes().await;
            copy.put(&meta.location, bytes.unwrap().into())
                .await
                .unwrap();
        }
        let probe = Arc::new(FailingStore::new(copy));
        let store = RepoStore::new(Arc::clone(&probe) as _, self.base.root()).unwrap();
        self.kind
            .publisher(store)
            .publish(channel, artifacts)
            .await
            .unwrap();
        let n = first_write_after_lock(&probe.log());

        self.failing.reset();
        self.failing.set_mode(FailMode::Once(n));
        let err = self.repo.publish(channel, artifacts).await.unwrap_err();
        self.failing.set_mode(FailMode::Never);
        let log = self.failing.log();
        let failed = log.iter().find(|l| l.ends_with("(failed)"));
        assert!(
            failed.is_some_and(|l| !l.contains(".publish/lock")),
            "{err}: {log:#?}"
        );
    }
}

/// The keys `artifacts` are published under in `channel` (found by a plan).
async fn keys(site: &Site, channel: &dyn Channel, artifacts: &[Arc<dyn Artifact>]) -> Vec<String> {
    let plan = site.repo.plan(channel, artifacts).await.unwrap();
    let mut keys: Vec<String> = plan
        .upload
        .iter()
        .chain(&plan.unchanged)
        .map(|f| f.key.clone())
        .collect();
    keys.sort();
    keys
}

/// Removing orphans writes nothing but the lock's own objects.
fn assert_only_lock_added(
    before: &BTreeMap<String, Sha256Digest>,
    after: &BTreeMap<String, Sha256Digest>,
) {
    let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(
        added.iter().all(|k| k.contains("/.publish/lock")),
        "{added:?}"
    );
}

fn orphan_keys(orphans: &[Orphan]) -> Vec<String> {
    orphans.iter().map(|o| o.key.clone()).collect()
}

/// On the stable channel: a publish fails at its first index write; the corrected re-run is
/// refused naming the orphan and how to clear it; the dry run lists exactly the orphans and
/// changes nothing; confirmed, they go; the corrected re-run publishes a clean repository.
async fn a_corrected_rerun_after_a_failed_publish(kind: Kind, base: RepoStore) {
    let site = Site::new(kind, base);
    let stable = ChannelConfig::stable();
    let (first, _built) = kind.artifacts("0.45.0", "a");
    let uploaded = keys(&site, &stable, &first).await;
    site.publish_failing(&stable, &first).await;

    let (corrected, _built2) = kind.artifacts("0.45.0", "b");
    let before = site.tree().await;
    let err = site.repo.publish(&stable, &corrected).await.unwrap_err();
    let text = err.to_string();
    match &err {
        CoreError::AlreadyExists {
            repository,
            name,
            occupant,
            ..
        } => {
            assert_eq!(*occupant, Occupant::Orphan, "{text}");
            assert!(uploaded.contains(name), "{name} not in {uploaded:?}");
            // The full key of the blocking object, and the way out.
            assert!(text.contains(&format!("{repository}/{name}")), "{text}");
            assert!(repository.starts_with("packages/"), "{text}");
        }
        other => panic!("{kind:?}: expected AlreadyExists, got {other:?}"),
    }
    assert!(text.contains("named by no index"), "{text}");
    assert!(text.contains("release prune --orphans"), "{text}");
    assert!(text.contains("--confirm"), "{text}");
    assert_eq!(
        site.tree().await,
        before,
        "{kind:?}: a refused publish wrote"
    );

    // The dry run: exactly the files of the failed publish, nothing changed.
    let orphans = site.repo.orphans(&stable, kind.repo_kind()).await.unwrap();
    assert_eq!(orphan_keys(&orphans), uploaded, "{kind:?}");
    assert!(orphans
        .iter()
        .all(|o| o.size > 0 && o.repository == stable.repository(kind.repo_kind())));
    assert_eq!(site.tree().await, before, "{kind:?}: the dry run wrote");
    // Another kind's repository has none of them.
    let other = if kind == Kind::Bin {
        RepoKind::Deb
    } else {
        RepoKind::Bin
    };
    assert!(site.repo.orphans(&stable, other).await.unwrap().is_empty());

    // Confirmed: they go, and nothing else.
    let removed = site
        .repo
        .remove_orphans(&stable, kind.repo_kind())
        .await
        .unwrap();
    assert_eq!(removed, orphans);
    let after = site.tree().await;
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(gone.len(), uploaded.len(), "{kind:?}: {gone:?}");
    assert!(
        gone.iter()
            .all(|k| uploaded.iter().any(|u| k.ends_with(&format!("/{u}")))),
        "{kind:?}: {gone:?}"
    );
    assert_only_lock_added(&before, &after);
    assert!(site
        .repo
        .orphans(&stable, kind.repo_kind())
        .await
        .unwrap()
        .is_empty());

    // The corrected re-run now publishes, and the repository verifies clean.
    let report = site.repo.publish(&stable, &corrected).await.unwrap();
    assert_eq!(report.uploaded.len(), uploaded.len(), "{report:?}");
    let verify = site
        .repo
        .verify(&stable, kind.repo_kind(), &VerifyOptions::default())
        .await
        .unwrap();
    assert!(verify.is_clean(), "{kind:?}: {:?}", verify.problems);
    assert!(site
        .repo
        .orphans(&stable, kind.repo_kind())
        .await
        .unwrap()
        .is_empty());
}

/// On a development channel keeping one version: version 1 is pruned by version 2 but
/// still named by a kept generation (waiting), version 2 is live, version 3's publish
/// fails after uploading. Only version 3's files are orphans, and removing them leaves the
/// waiting and live files in place.
async fn waiting_and_live_files_are_never_orphans(kind: Kind, base: RepoStore) {
    let site = Site::new(kind, base);
    let mut channel = ChannelConfig::development().to_builder();
    for k in [RepoKind::Deb, RepoKind::Rpm, RepoKind::Bin] {
        channel = channel.with_retention(k, Retention::KeepLast(NonZeroUsize::new(1).unwrap()));
    }
    let dev = channel.build().unwrap();
    let (v1, _b1) = kind.artifacts("0.45.0-1+abcdef0", "a");
    let (v2, _b2) = kind.artifacts("0.45.0-2+abcdef0", "a");
    let (v3, _b3) = kind.artifacts("0.45.0-3+abcdef0", "a");
    site.repo.publish(&dev, &v1).await.unwrap();
    let report = site.repo.publish(&dev, &v2).await.unwrap();
    let waiting: Vec<String> = report.pruned.iter().map(|f| f.key.clone()).collect();
    assert!(!waiting.is_empty(), "{kind:?}: {report:?}");
    assert!(site
        .repo
        .orphans(&dev, kind.repo_kind())
        .await
        .unwrap()
        .is_empty());

    let failed = keys(&site, &dev, &v3).await;
    site.publish_failing(&dev, &v3).await;
    let orphans = site.repo.orphans(&dev, kind.repo_kind()).await.unwrap();
    assert_eq!(orphan_keys(&orphans), failed, "{kind:?}");

    let before = site.tree().await;
    let removed = site
        .repo
        .remove_orphans(&dev, kind.repo_kind())
        .await
        .unwrap();
    assert_eq!(orphan_keys(&removed), failed);
    let after = site.tree().await;
    for key in &waiting {
        assert!(
            after.keys().any(|k| k.ends_with(&format!("/{key}"))),
            "{kind:?}: {key} waits for deletion and was deleted"
        );
    }
    let gone = before.keys().filter(|k| !after.contains_key(*k)).count();
    assert_eq!(gone, failed.len(), "{kind:?}");
    assert_only_lock_added(&before, &after);
    let verify = site
        .repo
        .verify(&dev, kind.repo_kind(), &VerifyOptions::default())
        .await
        .unwrap();
    assert!(verify.is_clean(), "{kind:?}: {:?}", verify.problems);
}

fn file_site() -> (tempfile::TempDir, RepoStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrected_rerun_after_a_failed_publish_clears_its_orphans_apt() {
    let (_dir, store) = file_site();
    a_corrected_rerun_after_a_failed_publish(Kind::Apt, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrected_rerun_after_a_failed_publish_clears_its_orphans_yum() {
    let (_dir, store) = file_site();
    a_corrected_rerun_after_a_failed_publish(Kind::Yum, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrected_rerun_after_a_failed_publish_clears_its_orphans_bin() {
    let (_dir, store) = file_site();
    a_corrected_rerun_after_a_failed_publish(Kind::Bin, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiting_and_live_files_are_never_orphans_apt() {
    let (_dir, store) = file_site();
    waiting_and_live_files_are_never_orphans(Kind::Apt, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiting_and_live_files_are_never_orphans_yum() {
    let (_dir, store) = file_site();
    waiting_and_live_files_are_never_orphans(Kind::Yum, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiting_and_live_files_are_never_orphans_bin() {
    let (_dir, store) = file_site();
    waiting_and_live_files_are_never_orphans(Kind::Bin, store).await;
}

#[cfg(feature = "s3")]
mod s3 {
    use falco_artifacts_testkit::MotoS3;

    use super::{
        a_corrected_rerun_after_a_failed_publish, waiting_and_live_files_are_never_orphans, Kind,
    };
    use crate::common::s3_store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_corrected_rerun_after_a_failed_publish_clears_its_orphans_on_s3() {
        let s3 = MotoS3::start().unwrap();
        for (kind, bucket) in [
            (Kind::Apt, "falco-orphans-apt"),
            (Kind::Yum, "falco-orphans-yum"),
            (Kind::Bin, "falco-orphans-bin"),
        ] {
            a_corrected_rerun_after_a_failed_publish(kind, s3_store(&s3, bucket)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn waiting_and_live_files_are_never_orphans_on_s3() {
        let s3 = MotoS3::start().unwrap();
        for (kind, bucket) in [
            (Kind::Apt, "falco-waiting-apt"),
            (Kind::Yum, "falco-waiting-yum"),
            (Kind::Bin, "falco-waiting-bin"),
        ] {
            waiting_and_live_files_are_never_orphans(kind, s3_store(&s3, bucket)).await;
        }
    }
}
