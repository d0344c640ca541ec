//! The same proofs on S3: `moto_server` on loopback, path-style, a public-read bucket.

use std::sync::Arc;

use falco_artifacts_core::{ChannelConfig, Publisher};
use falco_artifacts_publish::{BinRepository, FailMode, RepoStore};
use falco_artifacts_testkit::MotoS3;

use crate::bin::{bin, check_all_landed, eight_publishers, publish_and_use};
use crate::common::{check_index_over_http, s3_options, s3_store, tarball};
use crate::generic::drivers;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tarballs_on_s3_are_downloaded_and_verified_from_the_bucket() {
    let s3 = MotoS3::start().unwrap();
    let store = s3_store(&s3, "falco-downloads");
    publish_and_use(store, &format!("{}/falco-downloads", s3.endpoint())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_publishers_on_s3_all_land() {
    let s3 = MotoS3::start().unwrap();
    let first = s3_store(&s3, "falco-concurrent");
    let stores = (0..8)
        .map(|_| {
            RepoStore::from_url_with("s3://falco-concurrent", &crate::common::s3_options(&s3))
                .unwrap()
        })
        .collect();
    eight_publishers(stores).await;
    check_all_landed(&bin(first)).await;
    let index = check_index_over_http(&format!("{}/falco-concurrent/packages/bin", s3.endpoint()));
    assert_eq!(index.files.len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_conditional_create_refuses_a_second_writer() {
    let s3 = MotoS3::start().unwrap();
    let store = s3_store(&s3, "falco-immutable");
    let repo = BinRepository::builder(store).build().unwrap();
    let other = BinRepository::builder(
        RepoStore::from_url_with("s3://falco-immutable", &s3_options(&s3)).unwrap(),
    )
    .build()
    .unwrap();
    let stable = ChannelConfig::stable();
    let a = tarball("0.39.0", "x86_64", "a");
    let b = tarball("0.39.0", "x86_64", "b");
    let (ra, rb) = tokio::join!(
        repo.publish(&stable, &a.artifacts),
        other.publish(&stable, &b.artifacts)
    );
    // Each file is created by exactly one of them; a publisher that lost any file is refused
    // with both digests. Usually one wins everything; if the race splits the three files, both
    // are refused and nothing is indexed (the uploaded files stay unindexed for an operator).
    assert!(!(ra.is_ok() && rb.is_ok()), "both won: {ra:?} {rb:?}");
    for outcome in [&ra, &rb] {
        if let Err(e) = outcome {
            assert!(
                matches!(e, falco_artifacts_core::Error::AlreadyExists { existing, new, .. } if existing != new),
                "{e:?}"
            );
        }
    }
    let index = repo.index(&stable).await.unwrap();
    for (outcome, built) in [(&ra, &a), (&rb, &b)] {
        let entry = index.get(&format!("x86_64/{}", built.name()));
        match outcome {
            Ok(_) => assert_eq!(entry.unwrap().sha256, built.tarball.sha256),
            Err(_) => assert!(entry.is_none_or(|e| e.sha256 != built.tarball.sha256)),
        }
    }
    let report = repo
        .verify(&stable, &falco_artifacts_publish::VerifyOptions::default())
        .await
        .unwrap();
    assert!(
        report
            .problems
            .iter()
            .all(|p| matches!(p, falco_artifacts_publish::Problem::Unindexed { .. })),
        "{:?}",
        report.problems
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drivers_on_s3_are_served_grouped_by_driver_version() {
    let s3 = MotoS3::start().unwrap();
    let store = s3_store(&s3, "falco-drivers");
    drivers(store, &format!("{}/falco-drivers", s3.endpoint())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apt_installs_from_a_repository_on_s3() {
    let s3 = MotoS3::start().unwrap();
    let store = s3_store(&s3, "falco-apt");
    crate::apt::publish_and_install(store, &format!("{}/falco-apt/packages/deb", s3.endpoint()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apt_survives_a_crash_at_every_request_on_s3() {
    let s3 = MotoS3::start().unwrap();
    let store = s3_store(&s3, "falco-apt-atomic");
    let url = format!("{}/falco-apt-atomic/packages/deb-dev", s3.endpoint());
    let n = crate::apt::apt_fail_at_every_request(
        Arc::clone(store.object_store()),
        &url,
        FailMode::From,
    )
    .await;
    assert!(n >= 15, "only {n} requests were failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_apt_publishers_on_s3_all_land() {
    let s3 = MotoS3::start().unwrap();
    let first = s3_store(&s3, "falco-apt-concurrent");
    let stores = (0..8)
        .map(|_| RepoStore::from_url_with("s3://falco-apt-concurrent", &s3_options(&s3)).unwrap())
        .collect();
    let url = format!("{}/falco-apt-concurrent/packages/deb", s3.endpoint());
    crate::apt::eight_apt_publishers(stores, first, &url).await;
}
