//! The YUM repository on S3: `moto_server` on loopback, path-style, a public-read bucket that
//! dnf reads over HTTP.

use std::sync::Arc;

use falco_artifacts_publish::{FailMode, RepoStore};
use falco_artifacts_testkit::MotoS3;

use crate::common::{s3_options, s3_store};
use crate::yum::publish_install_upgrade;
use crate::yumfail::{eight_yum_publishers, yum_fail_at_every_request};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dnf_installs_and_upgrades_from_a_repository_on_s3() {
    let s3 = MotoS3::start().unwrap();
    let store = s3_store(&s3, "falco-yum");
    publish_install_upgrade(store, &format!("{}/falco-yum/packages/rpm", s3.endpoint())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_yum_publishers_on_s3_all_land() {
    let s3 = MotoS3::start().unwrap();
    let first = s3_store(&s3, "falco-yum-concurrent");
    let stores = (0..8)
        .map(|_| RepoStore::from_url_with("s3://falco-yum-concurrent", &s3_options(&s3)).unwrap())
        .collect();
    eight_yum_publishers(
        stores,
        first,
        &format!("{}/falco-yum-concurrent/packages/rpm", s3.endpoint()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn yum_on_s3_survives_a_crash_at_every_request() {
    let s3 = MotoS3::start().unwrap();
    let store = s3_store(&s3, "falco-yum-atomic");
    let n = yum_fail_at_every_request(
        Arc::clone(store.object_store()),
        &format!("{}/falco-yum-atomic/packages/rpm-dev", s3.endpoint()),
        FailMode::From,
    )
    .await;
    assert!(n >= 15, "only {n} requests were failed");
}
