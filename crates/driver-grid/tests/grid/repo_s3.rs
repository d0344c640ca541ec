//! The repository proofs of `repo.rs` on S3: `moto_server` on loopback, path-style, a bucket
//! anyone may read like a public download bucket, fetched with curl.

use std::process::Command;

use falco_artifacts_driver_grid::publish::{RepoStore, StoreOptions};
use falco_artifacts_driver_grid::{scan_built, DriverRepository, RepositoryError};
use falco_artifacts_testkit::{require_tool, MotoS3};

use crate::repo::{built_dir, lifecycle, BUILT};

fn options(s3: &MotoS3) -> StoreOptions {
    StoreOptions {
        endpoint: Some(s3.endpoint()),
        region: Some(s3.region().into()),
        access_key_id: Some(s3.access_key().into()),
        secret_access_key: Some(s3.secret_key().into()),
        allow_http: true,
        path_style: true,
        ..StoreOptions::default()
    }
}

/// A public-read bucket and a store on it.
fn public_store(s3: &MotoS3, bucket: &str) -> RepoStore {
    s3.create_bucket(bucket).unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    let auth = format!(
        "Authorization: AWS4-HMAC-SHA256 Credential={}/20000101/{}/s3/aws4_request, \
         SignedHeaders=host, Signature=0",
        s3.access_key(),
        s3.region()
    );
    let status = Command::new(require_tool("curl", "Debian package curl").unwrap())
        .args(["-fsS", "-o", "/dev/null", "-X", "PUT", "-H", &auth])
        // Without it the server parses the body as a form and drops it.
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &policy,
        ])
        .arg(format!("{}/{bucket}?policy", s3.endpoint()))
        .status()
        .unwrap();
    assert!(status.success(), "setting the bucket policy failed");
    RepoStore::from_url_with(&format!("s3://{bucket}"), &options(s3)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_skip_index_and_cleanup_on_s3() {
    let s3 = MotoS3::start().unwrap();
    let store = public_store(&s3, "falco-drivers");
    let site = format!("{}/falco-drivers", s3.endpoint());
    lifecycle(store, &site, &|key, body| {
        s3.put_object("falco-drivers", key, body).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_bucket_fails_clearly_and_creates_nothing() {
    let s3 = MotoS3::start().unwrap();
    let store = RepoStore::from_url_with("s3://no-such-bucket", &options(&s3)).unwrap();
    let dir = built_dir(&BUILT);
    let built = scan_built(dir.path()).unwrap();
    let err = DriverRepository::new(store)
        .unwrap()
        .publish(&built)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RepositoryError::Store { action: "list", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("cannot list the driver repository"),
        "{err}"
    );
    assert!(
        s3.get_object("no-such-bucket", "driver/site/index.json")
            .is_err()
            || s3
                .get_object("no-such-bucket", "driver/site/index.json")
                .unwrap()
                .is_none()
    );
}
