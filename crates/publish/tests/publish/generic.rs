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
    // Split by driver version: one bucket each, the top file lists no file itself.
    let buckets: Vec<(&str, usize)> = index
        .buckets
        .iter()
        .map(|b| (b.group.as_str(), b.files))
        .collect();
    assert_eq!(buckets, [("7.0.0+driver", 2), ("8.0.0+driver", 1)]);
    let (_, html) = http_get(&format!("{site_url}/driver/index.html"));
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("<h2>7.0.0+driver</h2>") && html.contains("<h2>8.0.0+driver</h2>"),
        "{html}"
    );
    assert!(
        html.contains("2 files: <a href=\"by-hash/SHA256/"),
        "{html}"
    );

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

/// The index is split by driver version: publishing into one version writes that version's
/// bucket and the small top file, never another version's bucket; a replaced bucket is kept
/// while a kept generation names it, then deleted; verify reads it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_rewrites_the_bucket_of_its_driver_version_only() {
    use falco_artifacts_publish::FailingStore;

    let site = tempfile::tempdir().unwrap();
    let store = file_store(site.path());
    let failing = Arc::new(FailingStore::new(Arc::clone(store.object_store())));
    let store = RepoStore::new(failing.clone(), store.root()).unwrap();
    let repo = GenericRepository::builder(store, "driver").build().unwrap();
    let file = |version: &str, n: usize| {
        let name = format!("falco_debian_6.1.{n}-1-amd64_1.ko");
        GenericFile::new(
            format!("{version}/x86_64/{name}"),
            driver(
                &name,
                ArtifactKind::KernelModule,
                format!("{version} {n}").as_bytes(),
            ),
        )
        .unwrap()
    };
    let old: Vec<GenericFile> = (0..50).map(|n| file("9.1.0+driver", n)).collect();
    repo.publish_files(&old).await.unwrap();
    repo.publish_files(&[file("10.2.0+driver", 0)])
        .await
        .unwrap();
    let before = repo.index().await.unwrap();
    let bucket = |index: &falco_artifacts_publish::RepoIndex, group: &str| {
        index
            .buckets
            .iter()
            .find(|b| b.group == group)
            .unwrap()
            .clone()
    };
    let old_bucket = bucket(&before, "9.1.0+driver");
    let replaced = bucket(&before, "10.2.0+driver");

    failing.reset();
    repo.publish_files(&[file("10.2.0+driver", 1)])
        .await
        .unwrap();
    let puts: Vec<String> = failing
        .log()
        .into_iter()
        .filter(|line| line.contains(" put") && !line.contains("/.publish/lock/"))
        .collect();
    let after = repo.index().await.unwrap();
    let new_bucket = bucket(&after, "10.2.0+driver");
    assert_eq!(bucket(&after, "9.1.0+driver"), old_bucket);
    assert!(
        !puts.iter().any(|p| p.ends_with(&old_bucket.key)),
        "{puts:#?}"
    );
    assert!(
        puts.iter().any(|p| p.ends_with(&new_bucket.key)),
        "{puts:#?}"
    );
    // The driver, its bucket, the top file's content-addressed copy, the page, the top file.
    assert_eq!(puts.len(), 5, "{puts:#?}");
    assert_eq!(after.files.len(), 52);
    // Waiting for deletion while a kept generation (the default keeps 3) names it.
    assert_eq!(after.protocol.deferred, vec![vec![replaced.key.clone()]]);
    let replaced_path = site.path().join("driver").join(&replaced.key);
    assert!(replaced_path.exists(), "kept for the previous generation");
    repo.publish_files(&[file("10.2.0+driver", 2)])
        .await
        .unwrap();
    assert!(
        replaced_path.exists(),
        "the generation naming it is still kept"
    );
    repo.publish_files(&[file("10.2.0+driver", 3)])
        .await
        .unwrap();
    assert!(
        !replaced_path.exists(),
        "deleted once no kept generation names it"
    );
    let report = repo.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.files, 54);
}
