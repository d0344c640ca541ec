//! The generic repository: prebuilt drivers under `driver/<driverversion>/<arch>/`.

use std::sync::Arc;

use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact};
use falco_artifacts_publish::{
    GenericFile, GenericRepository, PublishError, RepoStore, VerifyOptions,
};
use falco_artifacts_testkit::HttpServer;

use crate::common::{check_index_over_http, encode, file_store, http_get};

fn driver(name: &str, kind: ArtifactKind, body: &[u8]) -> Arc<dyn Artifact> {
    Arc::new(LocalArtifact::from_bytes(kind, name, body.to_vec()).unwrap())
}

pub(crate) async fn drivers(store: RepoStore, site_url: &str) {
    let repo = GenericRepository::builder(store, "driver").build().unwrap();
    let ko = "falco_ubuntu-generic_5.15.0-91-generic_101.ko";
    let files = vec![
        GenericFile::new(
            format!("7.0.0+driver/x86_64/{ko}"),
            driver(ko, ArtifactKind::KernelModule, b"ko-7"),
        )
        .unwrap(),
        GenericFile::new(
            "7.0.0+driver/x86_64/falco_ubuntu-generic_5.15.0-91-generic_101.o",
            driver(
                "falco_ubuntu-generic_5.15.0-91-generic_101.o",
                ArtifactKind::EbpfProbe,
                b"o-7",
            ),
        )
        .unwrap(),
        GenericFile::new(
            format!("8.0.0+driver/aarch64/{ko}"),
            driver(ko, ArtifactKind::KernelModule, b"ko-8"),
        )
        .unwrap(),
    ];
    let report = repo.publish_files(&files).await.unwrap();
    assert_eq!(report.uploaded.len(), 3);
    assert!(repo.publish_files(&files).await.unwrap().is_noop());

    let groups = repo.groups().await.unwrap();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["7.0.0+driver", "8.0.0+driver"]
    );
    assert_eq!(groups["7.0.0+driver"].len(), 2);

    // The driver loader's URL: the driver version with `+` as `%2B`.
    let url = format!(
        "{site_url}/driver/{}",
        encode(&format!("7.0.0+driver/x86_64/{ko}"))
    );
    assert!(url.contains("7.0.0%2Bdriver"));
    let (status, body) = http_get(&url);
    assert_eq!((status, body.as_slice()), (200, &b"ko-7"[..]), "{url}");
    let index = check_index_over_http(&format!("{site_url}/driver"));
    assert_eq!(index.files.len(), 3);
    let (_, html) = http_get(&format!("{site_url}/driver/index.html"));
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("<h2>7.0.0+driver</h2>") && html.contains("<h2>8.0.0+driver</h2>"),
        "{html}"
    );
    assert!(html.contains("href=\"7.0.0%2Bdriver/x86_64/"), "{html}");

    let changed = vec![GenericFile::new(
        format!("7.0.0+driver/x86_64/{ko}"),
        driver(ko, ArtifactKind::KernelModule, b"rebuilt"),
    )
    .unwrap()];
    assert!(matches!(
        repo.publish_files(&changed).await.unwrap_err(),
        PublishError::Conflict { .. }
    ));
    assert!(repo
        .verify(&VerifyOptions::default())
        .await
        .unwrap()
        .is_clean());
    assert!(GenericFile::new("../escape", driver(ko, ArtifactKind::Other, b"")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub(crate) async fn drivers_on_file_are_served_grouped_by_driver_version() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    drivers(file_store(site.path()), &http.url()).await;
}
