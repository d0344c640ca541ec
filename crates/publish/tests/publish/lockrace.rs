//! Issue 16, proof item (b): the repository lock through the real S3 API (`moto_server`,
//! object_store's `aws` client) and Azure Blob API (Azurite, its `azure` client), on a
//! multi-threaded runtime, with many holders and with
//! listings and gets of the repository and of the lock's own slots interleaving with every
//! acquisition and release.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact};
use falco_artifacts_publish::{
    DerivedFiles, GenericFile, GenericRepository, ListScope, LockOptions, RepoStore,
    RepositoryOptions, VerifyOptions,
};
use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;

const BUCKET: &str = "falco-lock-race";
const HOLDERS: usize = 8;
const ROUNDS: usize = 3;
const COUNTER: &str = "site/counter/";

/// A repository on a store of its own (a client of its own) opened by `open`.
fn repo(open: &(impl Fn() -> RepoStore + ?Sized)) -> GenericRepository {
    GenericRepository::builder(open(), "driver")
        .with_derived_prefix("site")
        .with_options(RepositoryOptions {
            lock: LockOptions {
                // Each look is two requests to a single-process server on 2 cores: waiters
                // looking more often only slow the holder down.
                poll: Duration::from_millis(100),
                ..LockOptions::default()
            },
            ..RepositoryOptions::default()
        })
        .build()
        .unwrap()
}

fn driver(key: &str) -> GenericFile {
    let name = key.rsplit('/').next().unwrap();
    let artifact: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_bytes(ArtifactKind::KernelModule, name, key.as_bytes().to_vec())
            .unwrap(),
    );
    GenericFile::new(key, artifact).unwrap()
}

/// The counter's value in a listing of `site/`: the number in the name of its one object.
fn counter(keys: impl IntoIterator<Item = String>) -> u64 {
    let values: Vec<u64> = keys
        .into_iter()
        .filter_map(|k| k.strip_prefix(COUNTER)?.parse().ok())
        .collect();
    assert!(
        values.len() <= 1,
        "more than one counter object: {values:?}"
    );
    values.first().copied().unwrap_or(0)
}

/// Proof item (b). Eight holders each take the lock `ROUNDS` times through the repository's
/// own operations (a read-modify-write of a counter object through `write_derived`, a publish,
/// a removal), while two readers list the repository, read its index and get every lock slot
/// they list, all the time. No two `write_derived` sections overlap, every increment read a
/// different value (no lost update), the counter ends at the number of increments, and the
/// index holds exactly what was published and not removed.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lock_on_s3_excludes_every_other_holder_while_lists_and_gets_interleave() {
    let s3 = falco_artifacts_testkit::MotoS3::start().unwrap();
    let raw = crate::common::s3_store(&s3, BUCKET);
    let options = crate::common::s3_options(&s3);
    let open = move || RepoStore::from_url_with(&format!("s3://{BUCKET}"), &options).unwrap();
    lock_race(raw, Arc::new(open), "s3").await;
}

/// Proof item (b) on Azure Blob Storage: Azurite, `If-None-Match: *` creates.
#[cfg(feature = "azure")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lock_on_azure_excludes_every_other_holder_while_lists_and_gets_interleave() {
    let azurite = falco_artifacts_testkit::Azurite::start().unwrap();
    let raw = crate::common::azure_store(&azurite, BUCKET);
    let options = crate::common::azure_options(&azurite);
    let open = move || RepoStore::from_url_with(&format!("az://{BUCKET}"), &options).unwrap();
    lock_race(raw, Arc::new(open), "azure").await;
}

/// The race of proof item (b) on the store `raw` is, each holder and reader through its own
/// store from `open`.
async fn lock_race(raw: RepoStore, open: Arc<dyn Fn() -> RepoStore + Send + Sync>, backend: &str) {
    let inside = Arc::new(AtomicUsize::new(0));
    let bases = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();

    let mut readers = Vec::new();
    for _ in 0..2 {
        let (repo, raw, done) = (repo(&*open), raw.clone(), Arc::clone(&done));
        readers.push(tokio::spawn(async move {
            let objects = raw.object_store();
            let lock = object_store::path::Path::from("driver/.publish/lock");
            let mut looks = 0_u64;
            while !done.load(Ordering::SeqCst) {
                repo.list_objects().await.unwrap();
                repo.index().await.unwrap();
                let slots: Vec<_> = objects.list(Some(&lock)).try_collect().await.unwrap();
                for slot in slots {
                    // A slot listed a moment ago may be cleaned away by now.
                    match objects.get(&slot.location).await {
                        Ok(got) => drop(got.bytes().await),
                        Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => panic!("get {}: {e}", slot.location),
                    }
                }
                looks += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            looks
        }));
    }

    let mut holders = Vec::new();
    for h in 0..HOLDERS {
        let (repo, inside, bases) = (repo(&*open), Arc::clone(&inside), Arc::clone(&bases));
        holders.push(tokio::spawn(async move {
            let mut published = BTreeSet::new();
            let (mut increments, mut acquisitions) = (0, 0);
            for round in 0..ROUNDS {
                match (h + round) % 4 {
                    // Half of the rounds: a read-modify-write of the counter under the lock.
                    0 | 2 => {
                        let scope = ListScope::Under(vec!["site".into()]);
                        let (inside, bases) = (Arc::clone(&inside), Arc::clone(&bases));
                        repo.write_derived_in(&scope, move |listed| {
                            let was = inside.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(was, 0, "two holders inside the lock at once");
                            let base = counter(listed.objects.into_iter().map(|o| o.key));
                            bases.lock().unwrap().push(base);
                            // Widens the window a second holder would have to step in.
                            std::thread::sleep(Duration::from_millis(5));
                            inside.fetch_sub(1, Ordering::SeqCst);
                            let files = DerivedFiles {
                                write: vec![(
                                    format!("{COUNTER}{:08}", base + 1),
                                    format!("holder {h}").into_bytes(),
                                )],
                                delete: (base > 0)
                                    .then(|| format!("{COUNTER}{base:08}"))
                                    .into_iter()
                                    .collect(),
                            };
                            (files, ())
                        })
                        .await
                        .unwrap();
                        increments += 1;
                        acquisitions += 1;
                    }
                    1 => {
                        let key = format!("9.0.0+driver/x86_64/falco_h{h}_r{round}.ko");
                        repo.publish_files(&[driver(&key)]).await.unwrap();
                        published.insert(key);
                        acquisitions += 1;
                    }
                    _ => {
                        // Publishes two, removes one of them at once after.
                        let keep = format!("9.1.0+driver/x86_64/falco_h{h}_r{round}.ko");
                        let gone = format!("9.1.0+driver/aarch64/falco_h{h}_r{round}.ko");
                        repo.publish_files(&[driver(&keep), driver(&gone)])
                            .await
                            .unwrap();
                        repo.remove(&BTreeSet::from([gone.clone()])).await.unwrap();
                        published.insert(keep);
                        acquisitions += 2;
                    }
                }
            }
            (increments, acquisitions, published)
        }));
    }
    let (mut increments, mut acquisitions, mut published) = (0, 0, BTreeSet::new());
    for holder in holders {
        let (n, a, p) = holder.await.unwrap();
        increments += n;
        acquisitions += a;
        published.extend(p);
    }
    done.store(true, Ordering::SeqCst);
    let mut looks = 0;
    for reader in readers {
        looks += reader.await.unwrap();
    }
    let elapsed = start.elapsed();

    let mut bases = bases.lock().unwrap().clone();
    bases.sort_unstable();
    assert_eq!(
        bases,
        (0..increments).collect::<Vec<u64>>(),
        "every increment read the one before it"
    );
    let repo = repo(&*open);
    let site: Vec<String> = repo
        .list_objects_in(&ListScope::Under(vec!["site".into()]))
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(counter(site), increments, "no lost update");
    let indexed: BTreeSet<String> = repo
        .index()
        .await
        .unwrap()
        .files
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        indexed, published,
        "every publish landed, every removal too"
    );
    let report = repo.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    eprintln!(
        "lock on {backend}: {acquisitions} acquisitions by {HOLDERS} holders, {looks} reader looks, \
         {elapsed:?}"
    );
}
