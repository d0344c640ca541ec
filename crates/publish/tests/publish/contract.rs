//! One contract, every format on every backend: what [`Publisher`] promises (a dry run
//! writes nothing, a publish lands every file it reports where it reports it, a second
//! publish is a no-op, retention keeps what the channel says, different bytes under an
//! immutable name are refused and change nothing, the repository verifies) checked for APT,
//! YUM, bin and the generic repository on `file://` (the store's own local fast path), the
//! in-memory store and moto S3. A new format or backend is one more line in a table below.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use falco_artifacts_core::{
    Artifact, Channel, ChannelConfig, PublishedFile, Publisher, RepoKind, Retention, Sha256Digest,
    VerifyOptions,
};
use falco_artifacts_publish::{
    AptRepository, BinRepository, GenericRepository, RepoStore, RepositoryOptions, YumRepository,
};
use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;

use crate::aptclient::deb;
use crate::common::{file_store, shared_signer, tarball};
use crate::yumclient::rpm;

/// A repository format under contract: how to make one on a store, what one release of it
/// is, and which repository kind it serves.
pub(crate) struct Format {
    pub(crate) name: &'static str,
    pub(crate) kind: RepoKind,
    pub(crate) make: fn(RepoStore, RepositoryOptions) -> Arc<dyn Publisher>,
    pub(crate) release: fn(version: &str, salt: &str) -> Built,
}

impl Format {
    /// Where its repository for `channel` lives in the store.
    pub(crate) fn dir(&self, channel: &dyn Channel) -> String {
        match self.name {
            "generic" => "driver".to_owned(),
            _ => format!("packages/{}", channel.repository(self.kind)),
        }
    }
}

/// One release's artifacts, and what keeps their files on disk.
pub(crate) struct Built {
    _files: Box<dyn std::any::Any>,
    pub(crate) artifacts: Vec<Arc<dyn Artifact>>,
}

/// `built`'s artifacts, kept alive with it.
macro_rules! keep {
    ($built:expr) => {{
        let built = $built;
        Built {
            artifacts: built.artifacts.clone(),
            _files: Box::new(built),
        }
    }};
}

pub(crate) const FORMATS: [Format; 4] = [
    Format {
        name: "apt",
        kind: RepoKind::Deb,
        make: |store, options| {
            Arc::new(
                AptRepository::builder(store)
                    .with_signer(shared_signer())
                    .with_options(options)
                    .build()
                    .unwrap(),
            )
        },
        release: |version, salt| keep!(deb(version, "x86_64", salt)),
    },
    Format {
        name: "yum",
        kind: RepoKind::Rpm,
        make: |store, options| {
            Arc::new(
                YumRepository::builder(store)
                    .with_signer(shared_signer())
                    .with_options(options)
                    .build()
                    .unwrap(),
            )
        },
        release: |version, salt| keep!(rpm(version, "x86_64", salt, true)),
    },
    Format {
        name: "bin",
        kind: RepoKind::Bin,
        make: |store, options| {
            Arc::new(
                BinRepository::builder(store)
                    .with_options(options)
                    .build()
                    .unwrap(),
            )
        },
        release: |version, salt| keep!(tarball(version, "x86_64", salt)),
    },
    Format {
        name: "generic",
        kind: RepoKind::Bin,
        make: |store, options| {
            Arc::new(
                GenericRepository::builder(store, "driver")
                    .with_retention(keep2())
                    .with_options(options)
                    .build()
                    .unwrap(),
            )
        },
        release: |version, salt| keep!(tarball(version, "x86_64", salt)),
    },
];

fn keep2() -> Retention {
    Retention::KeepLast(NonZeroUsize::new(2).unwrap())
}

/// The development channel keeping two versions of `kind`.
pub(crate) fn dev_keeping_two(kind: RepoKind) -> ChannelConfig {
    ChannelConfig::development()
        .to_builder()
        .with_retention(kind, keep2())
        .build()
        .unwrap()
}

/// Every object of the store with its digest.
async fn contents(store: &RepoStore) -> BTreeMap<String, Sha256Digest> {
    let objects = store.object_store();
    let listed: Vec<_> = objects.list(None).try_collect().await.unwrap();
    let mut out = BTreeMap::new();
    for meta in listed {
        let bytes = objects.get(&meta.location).await.unwrap().bytes().await;
        out.insert(
            meta.location.to_string(),
            Sha256Digest::of_bytes(&bytes.unwrap()),
        );
    }
    out
}

/// Names of `files`, sorted.
fn names(files: &[PublishedFile]) -> Vec<String> {
    let mut names: Vec<String> = files.iter().map(|f| f.file_name.clone()).collect();
    names.sort();
    names
}

/// Checks that every file of `published` is in `store` at the key it reports, with its
/// digest: where a client downloads it. Keys are relative to the repository, which is a
/// directory of the store's root named after `PublishedFile::repository`, or for the
/// generic repository its prefix.
async fn landed(store: &RepoStore, published: &[PublishedFile], repository_dir: &str) {
    let stored = contents(store).await;
    for file in published {
        let key = format!("{repository_dir}/{}", file.key);
        assert_eq!(
            stored.get(&key),
            Some(&file.sha256),
            "{key} is reported published but not stored with its digest; stored: {:#?}",
            stored.keys().collect::<Vec<_>>()
        );
    }
}

async fn verifies_clean(repo: &dyn Publisher, channel: &dyn Channel, kind: RepoKind, step: &str) {
    let report = repo
        .verify(channel, kind, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{step}: {:?}", report.problems);
}

/// The contract, for `format` on `store`.
async fn contract(format: &Format, store: RepoStore) {
    let repo = (format.make)(store.clone(), RepositoryOptions::default());
    let kind = format.kind;
    let dev = dev_keeping_two(kind);
    let dir = |channel: &dyn Channel| format.dir(channel);
    let v = |n: u32| format!("0.45.0-{n}+abcdef0");
    let first_built = (format.release)(&v(1), "1");
    let first = &first_built.artifacts;

    // A dry run says what a publish would upload and writes nothing.
    let before = contents(&store).await;
    let plan = repo.plan(&dev, first).await.unwrap();
    assert_eq!(
        contents(&store).await,
        before,
        "{}: plan wrote",
        format.name
    );
    assert_eq!(plan.upload.len(), first.len(), "{}: {plan:?}", format.name);

    // The publish uploads what the plan said, where it reports.
    let report = repo.publish(&dev, first).await.unwrap();
    assert_eq!(
        names(&report.uploaded),
        names(&plan.upload),
        "{}",
        format.name
    );
    landed(&store, &report.uploaded, &dir(&dev)).await;
    verifies_clean(repo.as_ref(), &dev, kind, "after the first publish").await;

    // The same again changes nothing.
    let before = contents(&store).await;
    let again = repo.publish(&dev, first).await.unwrap();
    assert!(again.uploaded.is_empty(), "{}: {again:?}", format.name);
    assert_eq!(again.unchanged.len(), first.len(), "{}", format.name);
    assert_eq!(
        contents(&store).await,
        before,
        "{}: a no-op wrote",
        format.name
    );

    // Retention keeps the newest two versions (in version order: 10 is newer than 2).
    let second = (format.release)(&v(2), "2");
    let third = (format.release)(&v(10), "3");
    repo.publish(&dev, &second.artifacts).await.unwrap();
    let report = repo.publish(&dev, &third.artifacts).await.unwrap();
    // What a format reports as pruned is its package files (APT and YUM leave out the
    // signatures that go with them); all of them are of the oldest version.
    let of = |name: &str, n: u32| name.contains(&v(n)) || name.contains(&format!("0.45.0_{n}+"));
    assert!(!report.pruned.is_empty(), "{}: {report:?}", format.name);
    assert!(
        report.pruned.iter().all(|f| of(&f.file_name, 1)),
        "{}: {report:?}",
        format.name
    );
    landed(&store, &report.uploaded, &dir(&dev)).await;
    let listed = repo.list(&dev, kind).await.unwrap();
    assert!(
        listed
            .iter()
            .all(|f| of(&f.file_name, 2) || of(&f.file_name, 10)),
        "{}: only the newest two versions are listed: {listed:?}",
        format.name
    );
    for built in [&second, &third] {
        let package = built.artifacts[0].file_name();
        assert!(
            listed.iter().any(|f| f.file_name == package),
            "{}: {package} is not listed: {listed:?}",
            format.name
        );
    }
    verifies_clean(repo.as_ref(), &dev, kind, "after retention").await;

    // On the immutable stable channel, other bytes under a published name are refused and
    // the store is left as it was.
    let stable = ChannelConfig::stable();
    let published = (format.release)("0.46.0", "a");
    repo.publish(&stable, &published.artifacts).await.unwrap();
    let other = (format.release)("0.46.0", "b");
    let before = contents(&store).await;
    let refused = repo.publish(&stable, &other.artifacts).await;
    assert!(refused.is_err(), "{}: {refused:?}", format.name);
    assert_eq!(
        contents(&store).await,
        before,
        "{}: a refused publish wrote",
        format.name
    );
    verifies_clean(repo.as_ref(), &stable, kind, "after a refused publish").await;
}

/// Runs the contract for every format, each on a fresh store from `store`.
async fn every_format(store: impl Fn(&str) -> RepoStore) {
    for format in &FORMATS {
        contract(format, store(format.name)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_keeps_the_contract_on_file() {
    let dirs: Vec<_> = FORMATS
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    every_format(|name| {
        let i = FORMATS.iter().position(|f| f.name == name).unwrap();
        file_store(dirs[i].path())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_keeps_the_contract_in_memory() {
    every_format(|_| RepoStore::new(Arc::new(object_store::memory::InMemory::new()), "").unwrap())
        .await;
}

#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_keeps_the_contract_on_s3() {
    let s3 = falco_artifacts_testkit::MotoS3::start().unwrap();
    every_format(|name| crate::common::s3_store(&s3, &format!("contract-{name}"))).await;
}

#[cfg(feature = "azure")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_keeps_the_contract_on_azure() {
    let azurite = falco_artifacts_testkit::Azurite::start().unwrap();
    every_format(|name| crate::common::azure_store(&azurite, &format!("contract-{name}"))).await;
}
