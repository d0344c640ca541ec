//! The generic repository besides publishing: listing, removing keys under the commit
//! protocol (also when a request fails at any point), and derived files under the lock.

use std::collections::BTreeSet;
use std::sync::Arc;

use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact};
use falco_artifacts_publish::{
    DerivedFiles, FailMode, FailingStore, GenericFile, GenericRepository, Problem, PublishError,
    RepoIndex, RepoStore, VerifyOptions,
};
use falco_artifacts_testkit::HttpServer;

use crate::common::{check_index_over_http, file_store, http_get};
use crate::protocol::short_lease;

const KO: &str = "7.0.0+driver/x86_64/falco_debian_5.10.0-26-amd64_1.ko";
const O: &str = "7.0.0+driver/x86_64/falco_debian_5.10.0-26-amd64_1.o";
const ARM: &str = "8.0.0+driver/aarch64/falco_debian_5.10.0-26-arm64_1.ko";

fn file(key: &str) -> GenericFile {
    let name = key.rsplit('/').next().unwrap();
    let artifact: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_bytes(ArtifactKind::KernelModule, name, key.as_bytes().to_vec())
            .unwrap(),
    );
    GenericFile::new(key, artifact).unwrap()
}

fn repo(store: RepoStore) -> GenericRepository {
    GenericRepository::builder(store, "driver")
        .with_options(short_lease())
        .with_derived_prefix("site")
        .build()
        .unwrap()
}

fn keys(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|k| (*k).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remove_list_and_derived_files_on_file() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let repo = repo(file_store(site.path()));
    repo.publish_files(&[file(KO), file(O), file(ARM)])
        .await
        .unwrap();
    // A file another tool put there: listed, not indexed.
    let foreign = "6.0.0+driver/x86_64/falco_debian_4.19.0-1-amd64_1.ko";
    let path = site.path().join("driver").join(foreign);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"foreign").unwrap();

    let listed: BTreeSet<String> = repo
        .list_objects()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    for key in [KO, O, ARM, foreign, "index.json", "index.html"] {
        assert!(listed.contains(key), "{key} not listed: {listed:?}");
    }

    // Derived files: computed from a listing taken under the lock, written in order, not
    // reported as unindexed.
    let seen = repo
        .write_derived(|listed| {
            let files = DerivedFiles {
                write: vec![
                    ("site/7.0.0+driver.json".into(), b"[]".to_vec()),
                    ("site/index.json".into(), b"[\"7.0.0+driver\"]".to_vec()),
                ],
                delete: Vec::new(),
            };
            (files, listed.iter().any(|o| o.key == foreign))
        })
        .await
        .unwrap();
    assert!(seen, "the listing under the lock misses {foreign}");
    let (status, body) = http_get(&format!("{}/driver/site/7.0.0%2Bdriver.json", http.url()));
    assert_eq!((status, body.as_slice()), (200, &b"[]"[..]));
    let report = repo.verify(&VerifyOptions::default()).await.unwrap();
    assert_eq!(
        report.problems,
        [Problem::Unindexed {
            path: foreign.into()
        }]
    );
    // Outside the derived prefix: refused before any write.
    let only = |key: &str| DerivedFiles {
        write: vec![(key.to_owned(), b"x".to_vec())],
        delete: Vec::new(),
    };
    for bad in ["index.json", "sitemap/x.json", "site"] {
        let err = repo.write_derived(|_| (only(bad), ())).await.unwrap_err();
        assert!(
            matches!(err, PublishError::InvalidKey { .. }),
            "{bad}: {err}"
        );
    }
    let plain = GenericRepository::builder(file_store(site.path()), "driver")
        .build()
        .unwrap();
    assert!(plain
        .write_derived(|_| (only("site/x.json"), ()))
        .await
        .is_err());
    assert!(!site.path().join("driver/site/x.json").exists());

    // Removing an indexed and an unindexed file; a key of no object is a no-op.
    repo.remove(&keys(&[KO, foreign, "9.9.9+driver/none.ko"]))
        .await
        .unwrap();
    let index = check_index_over_http(&format!("{}/driver", http.url()));
    let indexed: Vec<&str> = index.files.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(indexed, [O, ARM]);
    assert!(!path.exists());
    // The removed indexed file waits for deletion (older kept generations name it), out of
    // every listing.
    assert!(site.path().join("driver").join(KO).exists());
    let listed: Vec<String> = repo
        .list_objects()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert!(!listed.iter().any(|k| k == KO), "{listed:?}");
    let report = repo.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    // Derived files are deleted on request too.
    repo.write_derived(|_| {
        let files = DerivedFiles {
            write: vec![("site/index.json".into(), b"[]".to_vec())],
            delete: vec!["site/7.0.0+driver.json".into()],
        };
        (files, ())
    })
    .await
    .unwrap();
    assert!(!site.path().join("driver/site/7.0.0+driver.json").exists());
    assert!(repo.remove(&keys(&["../escape"])).await.is_err());
}

/// Issue 16 scenario 3 for removals: a client that read `index.json` just before a removal
/// still finds every file it names (its buckets and the removed file) while that generation
/// is kept; the removed file goes with the commit that retires the last generation naming
/// it (three kept: the second publish after the removal).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_file_stays_while_a_kept_generation_names_it() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let repo = repo(file_store(site.path()));
    repo.publish_files(&[file(KO), file(O), file(ARM)])
        .await
        .unwrap();
    let url = |key: &str| format!("{}/driver/{}", http.url(), key.replace('+', "%2B"));
    let (_, top) = http_get(&url("index.json"));
    let previous: RepoIndex = serde_json::from_slice(&top).unwrap();
    let named: Vec<String> = previous.buckets.iter().map(|b| b.key.clone()).collect();
    assert!(!named.is_empty());

    repo.remove(&keys(&[KO])).await.unwrap();
    let later = ["9.0.0+driver/x86_64/a.ko", "9.0.0+driver/x86_64/b.ko"];
    for (step, key) in later.iter().enumerate() {
        // The previous generation's reader: its buckets and the removed file are there.
        for bucket in &named {
            assert_eq!(
                http_get(&url(bucket)).0,
                200,
                "{bucket} after {step} publishes"
            );
        }
        assert_eq!(
            http_get(&url(KO)).0,
            200,
            "{KO} gone {step} publishes after removal"
        );
        assert!(repo.index().await.unwrap().get(KO).is_none());
        let report = repo.verify(&VerifyOptions::default()).await.unwrap();
        assert!(report.is_clean(), "{step}: {report:?}");
        repo.publish_files(&[file(key)]).await.unwrap();
    }
    assert_eq!(
        http_get(&url(KO)).0,
        404,
        "{KO} outlived every generation naming it"
    );
    let report = repo.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// A removal that dies at any request leaves an index naming only files that exist; running
/// it again completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remove_survives_a_crash_at_every_request() {
    let site = tempfile::tempdir().unwrap();
    let failing = Arc::new(FailingStore::new(Arc::clone(
        file_store(site.path()).object_store(),
    )));
    let repo = repo(RepoStore::new(Arc::clone(&failing) as _, "").unwrap());
    repo.publish_files(&[file(KO), file(O), file(ARM)])
        .await
        .unwrap();
    let mut request = 1;
    loop {
        failing.reset();
        failing.set_mode(FailMode::From(request));
        let outcome = repo.remove(&keys(&[KO, O])).await;
        let requests = failing.requests();
        let log = failing.log();
        failing.set_mode(FailMode::Never);
        if outcome.is_ok() && requests < request {
            break;
        }
        assert!(outcome.is_err(), "{log:#?}");
        let report = repo.verify(&VerifyOptions::default()).await.unwrap();
        let broken: Vec<&Problem> = report
            .problems
            .iter()
            .filter(|p| !matches!(p, Problem::Unindexed { .. } | Problem::StaleLock { .. }))
            .collect();
        assert!(
            broken.is_empty(),
            "failing request {request}: {broken:?}\n{log:#?}"
        );

        repo.remove(&keys(&[KO, O])).await.unwrap();
        let report = repo.verify(&VerifyOptions::default()).await.unwrap();
        assert!(report.is_clean(), "after re-running {request}: {report:?}");
        let index = repo.index().await.unwrap();
        assert_eq!(index.files.len(), 1);
        repo.publish_files(&[file(KO), file(O)]).await.unwrap();
        request += 1;
        assert!(
            request < 100,
            "a removal should not need this many requests"
        );
    }
    assert!(request > 8, "only {} requests were failed", request - 1);
}
