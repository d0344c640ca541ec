//! Scenario 5 of the protocol's known failures, its second half: a holder whose lease ran out
//! (paused after its last lease check) writes its top files late, after another publisher
//! took the lock over and committed. The late write must fail, not overwrite, on every store.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::protocol::commit::{Commit, IndexFile};
use crate::protocol::lock::{LockGuard, LockOptions};

fn top(key: &str, bytes: &'static str) -> IndexFile {
    IndexFile {
        key: key.to_owned(),
        bytes: Bytes::from_static(bytes.as_bytes()).into(),
    }
}

async fn text(store: &RepoStore, key: &str) -> Option<String> {
    let bytes = store.get(key).await.unwrap()?;
    Some(String::from_utf8(bytes.to_vec()).unwrap())
}

/// Runs every fencing case on `store`.
async fn fencing_holds(store: RepoStore) {
    // The live generation, then our lock and the versions we read.
    store
        .overwrite("index.json", "generation 1".into())
        .await
        .unwrap();
    let guard = LockGuard::acquire(&store, &LockOptions::default())
        .await
        .unwrap();
    let keys = vec!["index.json".to_owned(), "index.json.asc".to_owned()];
    let fence = Fence::read(&store, keys.clone()).await.unwrap();

    // Another publisher, holding the lock after our lease ran out, commits generation 2.
    store
        .overwrite("index.json", "generation 2".into())
        .await
        .unwrap();
    let late = Commit {
        top: vec![top("index.json", "generation 3, late")],
        restore: vec![("index.json".into(), Some(Bytes::from("generation 1")))],
        ..Commit::default()
    };
    let err = late.apply(&store, &guard, &fence).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::Superseded { key, .. } if key == "index.json"),
        "{err}"
    );
    // The newer generation stays; nothing of ours was written or put back over it.
    assert_eq!(
        text(&store, "index.json").await.as_deref(),
        Some("generation 2")
    );

    // A top file that was absent when the lock was taken and created since: refused too.
    store
        .overwrite("index.json.asc", "signature of generation 2".into())
        .await
        .unwrap();
    let fence_2 = Fence::read(&store, keys.clone()).await.unwrap();
    store.delete("index.json.asc").await.unwrap();
    let fence_absent = Fence::read(&store, keys.clone()).await.unwrap();
    store
        .overwrite("index.json.asc", "signature of generation 2".into())
        .await
        .unwrap();
    let late = Commit {
        top: vec![top("index.json.asc", "our signature")],
        ..Commit::default()
    };
    let err = late.apply(&store, &guard, &fence_absent).await.unwrap_err();
    assert!(matches!(err, PublishError::Superseded { .. }), "{err}");
    assert_eq!(
        text(&store, "index.json.asc").await.as_deref(),
        Some("signature of generation 2")
    );

    // Refused at the second top file: the first, already ours, is put back as it was.
    store
        .overwrite("index.json.asc", "a newer signature".into())
        .await
        .unwrap();
    let late = Commit {
        top: vec![
            top("index.json", "generation 3"),
            top("index.json.asc", "signature of generation 3"),
        ],
        restore: vec![
            ("index.json".into(), Some(Bytes::from("generation 2"))),
            (
                "index.json.asc".into(),
                Some(Bytes::from("a newer signature")),
            ),
        ],
        ..Commit::default()
    };
    let err = late.apply(&store, &guard, &fence_2).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::Superseded { key, .. } if key == "index.json.asc"),
        "{err}"
    );
    assert_eq!(
        text(&store, "index.json").await.as_deref(),
        Some("generation 2")
    );

    // Our own bytes already there (a retried put whose first attempt landed): not a refusal.
    let fence = Fence::read(&store, keys.clone()).await.unwrap();
    store
        .overwrite("index.json", "generation 3".into())
        .await
        .unwrap();
    Commit {
        top: vec![top("index.json", "generation 3")],
        ..Commit::default()
    }
    .apply(&store, &guard, &fence)
    .await
    .unwrap();

    // Unchanged since the lock was taken: written.
    let fence = Fence::read(&store, keys).await.unwrap();
    Commit {
        top: vec![
            top("index.json", "generation 4"),
            top("index.json.asc", "signature of generation 4"),
        ],
        ..Commit::default()
    }
    .apply(&store, &guard, &fence)
    .await
    .unwrap();
    assert_eq!(
        text(&store, "index.json").await.as_deref(),
        Some("generation 4")
    );
    guard.release().await.unwrap();
}

#[tokio::test]
async fn scenario_5_a_late_top_write_fails_instead_of_overwriting_in_memory() {
    let store = RepoStore::new(Arc::new(object_store::memory::InMemory::new()), "repo").unwrap();
    fencing_holds(store).await;
}

#[tokio::test]
async fn scenario_5_a_late_top_write_fails_instead_of_overwriting_on_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = RepoStore::from_url(&format!("file://{}", dir.path().display()))
        .unwrap()
        .at("repo")
        .unwrap();
    fencing_holds(store).await;
}

#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_5_a_late_top_write_fails_instead_of_overwriting_on_s3() {
    let s3 = falco_artifacts_testkit::MotoS3::start().unwrap();
    s3.create_bucket("fenced").unwrap();
    let options = crate::store::moto_options(&s3);
    let store = RepoStore::from_url_with("s3://fenced/repo", &options).unwrap();
    fencing_holds(store).await;
}

/// The same on Azure Blob Storage (Azurite): `If-Match` on the blob's ETag.
#[cfg(feature = "azure")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_5_a_late_top_write_fails_instead_of_overwriting_on_azure() {
    let azurite = falco_artifacts_testkit::Azurite::start().unwrap();
    azurite.create_container("fenced").unwrap();
    let options = crate::store::azurite_options(&azurite);
    let store = RepoStore::from_url_with("az://fenced/repo", &options).unwrap();
    fencing_holds(store).await;
}
