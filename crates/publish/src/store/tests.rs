//! The store's unit tests.
use super::*;

#[test]
fn keys_are_checked() {
    for bad in ["", "/abs", "a//b", "a/../b", "./a", "a#1"] {
        assert!(check_key(bad).is_err(), "{bad:?}");
    }
    check_key("packages/bin/x86_64/falco-0.45.0-1+abcdef0-x86_64.tar.gz").unwrap();
}

#[test]
fn unknown_and_disabled_schemes_are_named() {
    let err = RepoStore::from_url("ftp://example.com/x").unwrap_err();
    assert!(
        matches!(err, PublishError::UnsupportedScheme { .. }),
        "{err}"
    );
    #[cfg(not(feature = "s3"))]
    assert!(matches!(
        RepoStore::from_url("s3://bucket/x").unwrap_err(),
        PublishError::SchemeDisabled { feature: "s3", .. }
    ));
}

#[tokio::test]
async fn create_is_create_if_absent_on_the_local_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let store = RepoStore::from_url(&format!("file://{}", dir.path().display()))
        .unwrap()
        .at("repo")
        .unwrap();
    assert_eq!(
        store.create("a/b", "one".into()).await.unwrap(),
        Created::New
    );
    assert_eq!(
        store.create("a/b", "two".into()).await.unwrap(),
        Created::Exists
    );
    assert_eq!(store.get("a/b").await.unwrap().unwrap(), "one");
    let listed = store.list("").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "a/b");
    store.overwrite("a/b", "three".into()).await.unwrap();
    assert_eq!(store.get("a/b").await.unwrap().unwrap(), "three");
    assert_eq!(store.head("a/b").await.unwrap().unwrap().size, 5);
    assert_eq!(
        store.sha256("a/b").await.unwrap().unwrap().0,
        falco_artifacts_core::Sha256Digest::of_bytes(b"three")
    );
    // No staging file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("repo/a"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["b"]);
    store.delete("a/b").await.unwrap();
    store.delete("a/b").await.unwrap();
    assert!(store.get("a/b").await.unwrap().is_none());
    assert!(store.head("a/b").await.unwrap().is_none());
    assert!(store.sha256("a/b").await.unwrap().is_none());
    // The emptied directories go with the last file, the store's own directory stays.
    assert!(!dir.path().join("repo").exists());
    assert!(dir.path().exists());
    // Writing the bytes already there writes nothing; a copy of a content-addressed
    // object is a second name for the same file.
    use std::os::unix::fs::MetadataExt as _;
    store.create("x/by-hash", "same".into()).await.unwrap();
    let inode = |p: &str| std::fs::metadata(dir.path().join("repo").join(p)).unwrap();
    store
        .overwrite_as_copy_of("x/canonical", "x/by-hash", "same".into())
        .await
        .unwrap();
    assert_eq!(inode("x/canonical").ino(), inode("x/by-hash").ino());
    assert_eq!(inode("x/by-hash").nlink(), 2);
    let before = inode("x/canonical").ino();
    store.overwrite("x/canonical", "same".into()).await.unwrap();
    assert_eq!(
        inode("x/canonical").ino(),
        before,
        "identical bytes were rewritten"
    );
    store.overwrite("x/canonical", "new!".into()).await.unwrap();
    assert_ne!(inode("x/canonical").ino(), before);
    assert_eq!(store.get("x/by-hash").await.unwrap().unwrap(), "same");
    assert_eq!(
        store.create("x/by-hash", "other".into()).await.unwrap(),
        Created::Exists
    );
    let names: Vec<_> = std::fs::read_dir(dir.path().join("repo/x"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.contains('#')), "{names:?}");
    assert!(store.requests() > 10);
    store.delete("x/by-hash").await.unwrap();
    store.delete("x/canonical").await.unwrap();
    // A directory is not an object.
    std::fs::create_dir_all(dir.path().join("repo/d/e")).unwrap();
    assert!(store.get("d").await.unwrap().is_none());
    assert!(store.head("d").await.unwrap().is_none());
}
