//! The YUM repository, checked with real `dnf` (signatures of packages and of `repomd.xml`
//! checked) in a temporary install root.

use std::num::NonZeroUsize;
use std::sync::Arc;

use falco_artifacts_core::{Artifact, ChannelConfig, Publisher, RepoKind, Retention};
use falco_artifacts_publish::{RepoStore, VerifyOptions, YumRepository};
use falco_artifacts_testkit::HttpServer;

use crate::common::{file_store, http_get, shared_signer, snapshot, verifier};
use crate::yumclient::{rpm, DnfSandbox};

pub(crate) fn yum(store: RepoStore) -> YumRepository {
    YumRepository::builder(store)
        .with_signer(shared_signer())
        .build()
        .unwrap()
}

pub(crate) fn keep(n: usize) -> ChannelConfig {
    ChannelConfig::development()
        .to_builder()
        .with_retention(
            RepoKind::Rpm,
            Retention::KeepLast(NonZeroUsize::new(n).unwrap()),
        )
        .build()
        .unwrap()
}

/// Publishes stable rpms, installs `falco` with dnf from `repo_url` (`…/packages/rpm`),
/// upgrades it, and checks the signatures a user would.
pub(crate) async fn publish_install_upgrade(store: RepoStore, repo_url: &str) {
    let repo = yum(store);
    let stable = ChannelConfig::stable();
    let amd = rpm("0.39.0", "x86_64", "a", true);
    let arm = rpm("0.39.0", "aarch64", "a", true);
    let all: Vec<Arc<dyn Artifact>> = amd
        .artifacts
        .iter()
        .chain(&arm.artifacts)
        .cloned()
        .collect();
    let report = repo.publish(&stable, &all).await.unwrap();
    assert_eq!(report.uploaded.len(), 4);

    let dnf = DnfSandbox::new(repo_url);
    dnf.must(&["install", "falco"]);
    assert_eq!(dnf.installed().as_deref(), Some("falco-0.39.0-1"));
    assert_eq!(dnf.read("/etc/falco/falco.yaml"), "salt: a\n");
    assert_eq!(dnf.download("0.39.0"), amd.sha256);

    // repomd.xml.asc and the package's .asc verify with gpg too.
    let gpg = verifier();
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "repodata/repomd.xml",
        "repodata/repomd.xml.asc",
        "falco-0.39.0-x86_64.rpm",
        "falco-0.39.0-x86_64.rpm.asc",
    ] {
        let (status, body) = http_get(&format!("{repo_url}/{file}"));
        // curl reports no status for file:// URLs.
        let expected = if repo_url.starts_with("file://") {
            0
        } else {
            200
        };
        assert_eq!(status, expected, "{file}");
        std::fs::write(dir.path().join(file.rsplit('/').next().unwrap()), body).unwrap();
    }
    for (sig, data) in [
        ("repomd.xml.asc", "repomd.xml"),
        ("falco-0.39.0-x86_64.rpm.asc", "falco-0.39.0-x86_64.rpm"),
    ] {
        let verified = gpg
            .verify_detached(&dir.path().join(sig), &dir.path().join(data))
            .unwrap();
        assert!(verified.good, "{sig}: {}", verified.status);
        assert_eq!(verified.digest_algo, Some(8), "SHA-256 signatures");
    }

    // A newer release is added from the metadata alone, and dnf upgrades to it.
    let next = rpm("0.40.0", "x86_64", "b", true);
    repo.publish(&stable, &next.artifacts).await.unwrap();
    dnf.must(&["upgrade", "falco"]);
    assert_eq!(dnf.installed().as_deref(), Some("falco-0.40.0-1"));
    assert_eq!(dnf.read("/etc/falco/falco.yaml"), "salt: b\n");
    assert_eq!(dnf.download("0.39.0"), amd.sha256);
    assert!(repo
        .publish(&stable, &next.artifacts)
        .await
        .unwrap()
        .is_noop());
    let listed = repo.list(&stable, RepoKind::Rpm).await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let report = repo
        .verify(&stable, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dnf_installs_and_upgrades_from_a_repository_on_file_over_http() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    publish_install_upgrade(
        file_store(site.path()),
        &format!("{}/packages/rpm", http.url()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dnf_installs_from_a_file_url() {
    let site = tempfile::tempdir().unwrap();
    publish_install_upgrade(
        file_store(site.path()),
        &format!("file://{}/packages/rpm", site.path().display()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsigned_packages_are_signed_on_publish_once() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let repo = yum(file_store(site.path()));
    let dev = keep(5);
    let unsigned = rpm("0.45.0-3+1307474", "x86_64", "u", false);
    let report = repo.publish(&dev, &unsigned.artifacts).await.unwrap();
    // The package and the .asc made over its signed bytes.
    assert_eq!(report.uploaded.len(), 2, "{report:?}");
    let stored = site.path().join("packages/rpm-dev").join(unsigned.name());
    let bytes = std::fs::read(&stored).unwrap();
    assert_ne!(
        falco_artifacts_core::Sha256Digest::of_bytes(&bytes),
        unsigned.sha256
    );
    let info = falco_artifacts_pkg_rpm::RpmInfo::read(&bytes[..]).unwrap();
    assert_eq!(info.signatures.len(), 1);
    let gpg = verifier();
    let asc = format!("{}.asc", stored.display());
    assert!(gpg.verify_detached(asc.as_ref(), &stored).unwrap().good);

    // Offering the same unsigned package again changes nothing: its signed copy is live.
    let before = snapshot(site.path());
    assert!(repo
        .publish(&dev, &unsigned.artifacts)
        .await
        .unwrap()
        .is_noop());
    assert_eq!(snapshot(site.path()), before);

    // dnf checks the signature made on publish (gpgcheck=1).
    let dnf = DnfSandbox::new(&format!("{}/packages/rpm-dev", http.url()));
    dnf.must(&["install", "falco"]);
    assert_eq!(dnf.installed().as_deref(), Some("falco-0.45.0_3+1307474-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_keeps_two_and_the_dry_run_says_so() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let repo = yum(file_store(site.path()));
    let dev = keep(2);
    let first = rpm("0.45.0-1+abcdef0", "x86_64", "1", true);
    let second = rpm("0.45.0-2+abcdef0", "x86_64", "2", true);
    repo.publish(&dev, &first.artifacts).await.unwrap();
    repo.publish(&dev, &second.artifacts).await.unwrap();
    let dnf = DnfSandbox::new(&format!("{}/packages/rpm-dev", http.url()));
    dnf.must(&["install", "falco"]);
    assert_eq!(dnf.installed().as_deref(), Some("falco-0.45.0_2+abcdef0-1"));

    let third = rpm("0.45.0-10+abcdef0", "x86_64", "3", true);
    let before = snapshot(site.path());
    let plan = repo.plan(&dev, &third.artifacts).await.unwrap();
    assert_eq!(snapshot(site.path()), before, "a dry run writes nothing");
    assert_eq!(plan.upload.len(), 2);
    assert_eq!(plan.prune.len(), 1);
    assert_eq!(plan.prune[0].file_name, first.name(), "{plan:?}");
    assert_eq!(
        plan.index_files.last().map(String::as_str),
        Some("repodata/repomd.xml.asc")
    );

    let report = repo.publish(&dev, &third.artifacts).await.unwrap();
    assert_eq!(report.pruned.len(), 1);
    let root = site.path().join("packages/rpm-dev");
    // Out of the index, but still named by the kept generations before (deleted after them:
    // `deferred::pruned_files_stay_while_a_kept_generation_names_them_yum`).
    assert!(root.join(first.name()).exists());
    assert!(root.join(format!("{}.asc", first.name())).exists());
    let listed = repo.list(&dev, RepoKind::Rpm).await.unwrap();
    let names: std::collections::BTreeSet<String> =
        listed.iter().map(|f| f.file_name.clone()).collect();
    assert_eq!(names, [second.name(), third.name()].into());
    // rpm version order, not text order: 10 is newer than 2.
    dnf.must(&["upgrade", "falco"]);
    assert_eq!(
        dnf.installed().as_deref(),
        Some("falco-0.45.0_10+abcdef0-1")
    );
    assert_eq!(dnf.download("0.45.0_2+abcdef0"), second.sha256);
    let report = repo.verify(&dev, &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    // Older metadata generations stay for clients that read an older repomd.xml.
    let generations = std::fs::read_dir(root.join("repodata"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("-primary.xml.gz")
        })
        .count();
    assert_eq!(generations, 3);
}
