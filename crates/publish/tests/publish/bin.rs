//! The bin repository, published and then used the way a user does.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use falco_artifacts_core::{
    Arch, Artifact, ArtifactKind, ChannelConfig, Error as CoreError, LocalArtifact, Occupant,
    Publisher, RepoKind, Retention,
};
use falco_artifacts_publish::{
    BinRepository, LockOptions, Problem, RepoStore, RepositoryOptions, VerifyOptions,
};
use falco_artifacts_testkit::HttpServer;

use crate::common::{
    check_index_over_http, check_tarball_like_a_user, file_store, http_get, snapshot, tarball,
    verifier,
};

pub(crate) fn bin(store: RepoStore) -> BinRepository {
    BinRepository::builder(store).build().unwrap()
}

/// Publishes stable tarballs for both arches, then checks them like a user at `site_url`.
pub(crate) async fn publish_and_use(store: RepoStore, site_url: &str) {
    let repo = bin(store);
    let stable = ChannelConfig::stable();
    let amd = tarball("0.39.0", "x86_64", "a");
    let arm = tarball("0.39.0", "aarch64", "a");
    let all: Vec<Arc<dyn Artifact>> = amd
        .artifacts
        .iter()
        .chain(&arm.artifacts)
        .cloned()
        .collect();

    let report = repo.publish(&stable, &all).await.unwrap();
    assert_eq!(report.uploaded.len(), 6);
    assert!(report.pruned.is_empty());

    let gpg = verifier();
    let repo_url = format!("{site_url}/packages/bin");
    check_tarball_like_a_user(&repo_url, "x86_64", &amd.name(), &gpg);
    check_tarball_like_a_user(&repo_url, "aarch64", &arm.name(), &gpg);
    let index = check_index_over_http(&repo_url);
    assert_eq!(index.files.len(), 6);
    let (status, html) = http_get(&format!("{repo_url}/index.html"));
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("href=\"x86_64/falco-0.39.0-x86_64.tar.gz\""),
        "{html}"
    );

    // Idempotent: the same bytes again change nothing.
    assert!(repo.publish(&stable, &all).await.unwrap().is_noop());
    // Immutable: other bytes under a published stable name are refused with both digests.
    let rebuilt = tarball("0.39.0", "x86_64", "b");
    let refused = repo.publish(&stable, &rebuilt.artifacts).await.unwrap_err();
    let text = refused.to_string();
    // A published file, not an orphan: the way out is a new version.
    assert!(text.contains("publish a new version"), "{text}");
    assert!(!text.contains("prune --orphans"), "{text}");
    match refused {
        CoreError::AlreadyExists {
            repository,
            name,
            existing,
            new,
            occupant,
        } => {
            assert_eq!(occupant, Occupant::Published);
            assert_eq!(repository, "packages/bin");
            assert_eq!(name, format!("x86_64/{}", amd.name()));
            assert_eq!(existing, amd.tarball.sha256);
            assert_eq!(new, rebuilt.tarball.sha256);
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    check_tarball_like_a_user(&repo_url, "x86_64", &amd.name(), &gpg);
    let listed = repo.list(&stable, RepoKind::Bin).await.unwrap();
    assert_eq!(listed.len(), 6);
    assert!(listed.iter().all(|f| f.repository == "bin"));
    let verified = repo
        .verify(&stable, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(verified.is_clean(), "{:?}", verified.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tarballs_on_file_are_downloaded_and_verified_over_http() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    publish_and_use(file_store(site.path()), &http.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn development_keeps_the_last_ten_tarballs() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let repo = bin(file_store(site.path()));
    let dev = ChannelConfig::development();
    let versions: Vec<String> = (1..=12).map(|n| format!("0.45.0-{n}+abcdef{n}")).collect();
    let mut pruned = Vec::new();
    for version in &versions {
        let built = tarball(version, "x86_64", version);
        let report = repo.publish(&dev, &built.artifacts).await.unwrap();
        pruned.extend(report.pruned.into_iter().map(|f| f.file_name));
    }
    pruned.sort();
    assert_eq!(
        pruned,
        [
            "falco-0.45.0-1+abcdef1-x86_64.tar.gz",
            "falco-0.45.0-1+abcdef1-x86_64.tar.gz.asc",
            "falco-0.45.0-1+abcdef1-x86_64.tar.gz.sha256",
            "falco-0.45.0-2+abcdef2-x86_64.tar.gz",
            "falco-0.45.0-2+abcdef2-x86_64.tar.gz.asc",
            "falco-0.45.0-2+abcdef2-x86_64.tar.gz.sha256",
        ]
    );
    let repo_url = format!("{}/packages/bin-dev", http.url());
    let index = check_index_over_http(&repo_url);
    assert_eq!(
        index.files.len(),
        30,
        "10 versions × tarball, .sha256, .asc"
    );
    let first = format!("{repo_url}/x86_64/falco-0.45.0-1%2Babcdef1-x86_64.tar.gz");
    // Pruned by commit 11, named by commit 10's generation, kept (3 by default) until commit 13.
    assert_eq!(http_get(&first).0, 200, "named by a kept generation");
    let built = tarball("0.45.0-13+abcdef13", "x86_64", "13");
    repo.publish(&dev, &built.artifacts).await.unwrap();
    assert_eq!(http_get(&first).0, 404, "a pruned tarball is deleted");
    check_tarball_like_a_user(
        &repo_url,
        "x86_64",
        "falco-0.45.0-13+abcdef13-x86_64.tar.gz",
        &verifier(),
    );
    let verified = repo.verify(&dev, &VerifyOptions::default()).await.unwrap();
    assert!(verified.is_clean(), "{:?}", verified.problems);
}

pub(crate) async fn eight_publishers(stores: Vec<RepoStore>) {
    let builds: Vec<_> = (0..8)
        .map(|n| tarball(&format!("0.39.{n}"), "x86_64", "c"))
        .collect();
    let mut tasks = Vec::new();
    for (store, built) in stores.into_iter().zip(&builds) {
        let artifacts = built.artifacts.clone();
        let repo = BinRepository::builder(store)
            .with_options(RepositoryOptions {
                lock: LockOptions {
                    poll: Duration::from_millis(20),
                    ..LockOptions::default()
                },
                ..RepositoryOptions::default()
            })
            .build()
            .unwrap();
        tasks.push(tokio::spawn(async move {
            repo.publish(&ChannelConfig::stable(), &artifacts)
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().uploaded.len(), 3);
    }
}

pub(crate) async fn check_all_landed(repo: &BinRepository) {
    let stable = ChannelConfig::stable();
    let listed = repo.list(&stable, RepoKind::Bin).await.unwrap();
    assert_eq!(listed.len(), 24, "8 publishers × 3 files: {listed:?}");
    for n in 0..8 {
        let name = format!("falco-0.39.{n}-x86_64.tar.gz");
        assert!(listed.iter().any(|f| f.file_name == name), "{name} lost");
    }
    let verified = repo
        .verify(&stable, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(verified.is_clean(), "{:?}", verified.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_publishers_on_file_all_land() {
    let site = tempfile::tempdir().unwrap();
    // Each publisher opens its own store, as separate processes would.
    let stores = (0..8).map(|_| file_store(site.path())).collect();
    eight_publishers(stores).await;
    check_all_landed(&bin(file_store(site.path()))).await;
    let http = HttpServer::serve(site.path()).unwrap();
    let index = check_index_over_http(&format!("{}/packages/bin", http.url()));
    assert_eq!(index.files.len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_and_leaves_the_repository_unchanged() {
    let site = tempfile::tempdir().unwrap();
    let repo = bin(file_store(site.path()));
    let stable = ChannelConfig::stable();
    let published = tarball("0.39.0", "x86_64", "a");
    repo.publish(&stable, &published.artifacts).await.unwrap();
    let before = snapshot(site.path());

    let fresh = tarball("0.39.1", "x86_64", "a");
    let rebuilt = tarball("0.39.0", "x86_64", "b");
    let dev_build = tarball("0.45.0-1+abcdef0", "x86_64", "a");
    let deb: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_bytes(
            ArtifactKind::Deb,
            "falco-0.39.1-x86_64.deb",
            b"!<arch>\n".to_vec(),
        )
        .unwrap()
        .with_version("0.39.1".parse().unwrap())
        .with_arch(Arch::X86_64),
    );
    let no_arch: Arc<dyn Artifact> = Arc::new(
        LocalArtifact::from_bytes(ArtifactKind::Tarball, "falco-0.39.1.tar.gz", b"x".to_vec())
            .unwrap()
            .with_version("0.39.1".parse().unwrap()),
    );
    let with_fresh = |bad: &[Arc<dyn Artifact>]| -> Vec<Arc<dyn Artifact>> {
        fresh.artifacts.iter().chain(bad).cloned().collect()
    };
    for (what, artifacts) in [
        ("a .deb in the bin repository", with_fresh(&[deb])),
        ("a tarball without arch", with_fresh(&[no_arch])),
        (
            "a development version in stable",
            with_fresh(&dev_build.artifacts),
        ),
        (
            "different bytes under a published name",
            with_fresh(&rebuilt.artifacts),
        ),
    ] {
        let err = repo.publish(&stable, &artifacts).await.unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::InvalidInput { .. } | CoreError::AlreadyExists { .. }
            ),
            "{what}: {err:?}"
        );
        assert!(!err.to_string().is_empty());
        assert_eq!(
            snapshot(site.path()),
            before,
            "{what} changed the repository"
        );
    }

    // An unwritable store: the arch directory is a file, so no upload can land.
    let blocked = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(blocked.path().join("packages/bin")).unwrap();
    std::fs::write(
        blocked.path().join("packages/bin/x86_64"),
        b"not a directory",
    )
    .unwrap();
    let before = snapshot(blocked.path());
    let err = bin(file_store(blocked.path()))
        .publish(&stable, &fresh.artifacts)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Backend { .. }), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the store's error stays reachable"
    );
    assert_eq!(snapshot(blocked.path()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dry_run_reports_and_writes_nothing() {
    let site = tempfile::tempdir().unwrap();
    let repo = bin(file_store(site.path()));
    let dev = ChannelConfig::development()
        .to_builder()
        .with_retention(
            RepoKind::Bin,
            Retention::KeepLast(NonZeroUsize::new(2).unwrap()),
        )
        .build()
        .unwrap();
    for n in 1..=2 {
        let built = tarball(&format!("0.45.0-{n}+abcdef0"), "x86_64", "a");
        repo.publish(&dev, &built.artifacts).await.unwrap();
    }
    let before = snapshot(site.path());
    let replaced = tarball("0.45.0-2+abcdef0", "x86_64", "changed");
    let next = tarball("0.45.0-3+abcdef0", "x86_64", "a");
    let both: Vec<Arc<dyn Artifact>> = replaced
        .artifacts
        .iter()
        .chain(&next.artifacts)
        .cloned()
        .collect();
    let plan = repo.plan(&dev, &both).await.unwrap();
    assert_eq!(snapshot(site.path()), before, "a dry run writes nothing");
    assert_eq!(plan.upload.len(), 3, "{plan:?}");
    assert_eq!(plan.replace.len(), 3, "the dev channel replaces: {plan:?}");
    assert_eq!(plan.prune.len(), 3, "keep 2: version 1 goes: {plan:?}");
    assert!(plan.prune.iter().all(|f| f.file_name.contains("0.45.0-1+")));
    assert_eq!(
        plan.index_files.last().map(String::as_str),
        Some("index.json"),
        "the top file is written last"
    );
    assert!(plan.index_files[0].starts_with("by-hash/SHA256/"));

    let report = repo.publish(&dev, &both).await.unwrap();
    assert_eq!(report.uploaded.len(), 6);
    assert_eq!(report.pruned.len(), 3);
    let verified = repo.verify(&dev, &VerifyOptions::default()).await.unwrap();
    assert!(verified.is_clean(), "{:?}", verified.problems);
    let index = repo.index(&dev).await.unwrap();
    let entry = index.get(&format!("x86_64/{}", replaced.name())).unwrap();
    assert_eq!(entry.sha256, replaced.tarball.sha256);
    assert!(verified
        .problems
        .iter()
        .all(|p| !matches!(p, Problem::StaleLock { .. })));
}
