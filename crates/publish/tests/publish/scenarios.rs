//! The protocol's known ways to lose a file, each reproduced by name (issue: "one commit
//! engine for every format, and the ways it can still lose a package or serve a missing
//! file"). Scenarios 4, 5 and 8 (the lock) are unit tests in `src/lock.rs`; 6 runs every fault
//! test applied-then-failed (`*_applied_then_failed_*`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use falco_artifacts_core::Publisher as _;
use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact};
use falco_artifacts_publish::{
    GenericFile, GenericRepository, LockOptions, RepoStore, RepositoryOptions, VerifyOptions,
};
use falco_artifacts_testkit::HttpServer;

use crate::common::{encode, file_store, http_get};

const LOCK_DIR: &str = "driver/.publish/lock";

fn driver(name: &str, body: &[u8]) -> Arc<dyn Artifact> {
    Arc::new(LocalArtifact::from_bytes(ArtifactKind::KernelModule, name, body.to_vec()).unwrap())
}

/// One index generation kept: a removal deletes at once and records its keys as pruned,
/// which the next commit deletes again (with more generations kept, a removed key waits for
/// deletion instead and this race cannot arise: see `maintain.rs`).
fn repo(store: RepoStore, poll: Duration) -> GenericRepository {
    GenericRepository::builder(store, "driver")
        .with_options(RepositoryOptions {
            lock: LockOptions {
                lease: Duration::from_secs(60),
                wait: Duration::from_secs(60),
                poll,
            },
            index_generations: 1,
        })
        .build()
        .unwrap()
}

/// The newest lock slot's number in a `file://` repository.
fn newest_slot(site: &std::path::Path) -> u64 {
    std::fs::read_dir(site.join(LOCK_DIR))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .max()
        .unwrap()
}

/// Writes lock slot `seq` by hand, as another publisher would.
fn write_slot(site: &std::path::Path, seq: u64, held: bool) {
    let now = chrono::Utc::now().to_rfc3339();
    let body = serde_json::json!({
        "state": if held { "held" } else { "free" },
        "holder": "the test",
        "written": now,
        "expires": now,
        "lease_ms": if held { 600_000 } else { 0 },
    });
    std::fs::write(
        site.join(LOCK_DIR).join(format!("{seq:020}")),
        serde_json::to_vec(&body).unwrap(),
    )
    .unwrap();
}

/// Scenario 1: driver version V is removed (its keys recorded as pruned), then ships again
/// while another grid publishes. A uploads K before taking the lock; B commits from the older
/// index, which re-deletes the keys its previous generation pruned; then A commits an index
/// naming K. K must be there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_upload_is_not_deleted_by_another_publisher() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let k = "9.0.0+driver/x86_64/falco_debian_6.1.119-1-amd64_1.ko";
    let y = "9.0.0+driver/aarch64/falco_debian_6.1.119-1-arm64_1.ko";
    let fast = repo(file_store(site.path()), Duration::from_millis(10));
    let file_k = GenericFile::new(k, driver("falco_debian_6.1.119-1-amd64_1.ko", b"k")).unwrap();
    let file_y = GenericFile::new(y, driver("falco_debian_6.1.119-1-arm64_1.ko", b"y")).unwrap();
    fast.publish_files(std::slice::from_ref(&file_k))
        .await
        .unwrap();
    fast.remove(&BTreeSet::from([k.to_owned()])).await.unwrap();

    // Another holder keeps the lock while both publishers upload and queue behind it.
    let held = newest_slot(site.path()) + 1;
    write_slot(site.path(), held, true);
    // A looks at the lock rarely, B often: once it is free, B commits first.
    let a = repo(file_store(site.path()), Duration::from_millis(1_500));
    let b = repo(file_store(site.path()), Duration::from_millis(10));
    let a_task = tokio::spawn(async move { a.publish_files(&[file_k]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(site.path().join("driver").join(k).exists(), "A uploaded K");
    let b_task = tokio::spawn(async move { b.publish_files(&[file_y]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    write_slot(site.path(), held + 1, false);
    b_task.await.unwrap().unwrap();
    let report = a_task.await.unwrap().unwrap();
    assert_eq!(report.uploaded.len(), 1);

    let (status, body) = http_get(&format!("{}/driver/{}", http.url(), encode(k)));
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"k"[..]),
        "K is downloadable"
    );
    let verify = fast.verify(&VerifyOptions::default()).await.unwrap();
    assert!(verify.is_clean(), "{:?}", verify.problems);
}

/// The package artifact of `artifacts` under another file name (same bytes, same version).
fn renamed(artifacts: &[Arc<dyn Artifact>], kind: ArtifactKind, name: &str) -> Arc<dyn Artifact> {
    let package = artifacts.iter().find(|a| a.kind() == kind).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut package.open().unwrap(), &mut bytes).unwrap();
    let mut renamed = LocalArtifact::from_bytes(kind, name, bytes).unwrap();
    if let Some(version) = package.version() {
        renamed = renamed.with_version(version.clone());
    }
    if let Some(arch) = package.arch() {
        renamed = renamed.with_arch(arch);
    }
    Arc::new(renamed)
}

/// Scenario 7: on the immutable stable channel, a (package, version, arch) already published
/// is refused under another file name (APT would replace the stanza, YUM list it twice), and
/// the repository is left byte for byte as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_version_under_another_name_is_refused_on_stable() {
    let stable = falco_artifacts_core::ChannelConfig::stable();
    let site = tempfile::tempdir().unwrap();

    let apt = crate::apt::apt(file_store(site.path()));
    let deb = crate::aptclient::deb("0.45.0", "x86_64", "a");
    apt.publish(&stable, &deb.artifacts).await.unwrap();
    let before = crate::common::snapshot(site.path());
    let moved = renamed(&deb.artifacts, ArtifactKind::Deb, "falco_0.45.0_amd64.deb");
    let err = apt.publish_files(&stable, &[moved]).await.unwrap_err();
    assert!(
        matches!(
            err,
            falco_artifacts_publish::PublishError::VersionMoved { .. }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("stable/falco-0.45.0-x86_64.deb"),
        "{err}"
    );
    assert_eq!(crate::common::snapshot(site.path()), before);

    let yum = crate::yum::yum(file_store(site.path()));
    let rpm = crate::yumclient::rpm("0.45.0", "x86_64", "a", true);
    yum.publish(&stable, &rpm.artifacts).await.unwrap();
    let before = crate::common::snapshot(site.path());
    let moved = renamed(
        &rpm.artifacts,
        ArtifactKind::Rpm,
        "falco-0.45.0-1.x86_64.rpm",
    );
    let err = yum.publish_files(&stable, &[moved]).await.unwrap_err();
    assert!(
        matches!(
            err,
            falco_artifacts_publish::PublishError::VersionMoved { .. }
        ),
        "{err}"
    );
    assert_eq!(crate::common::snapshot(site.path()), before);
}

fn keep_one_deb() -> falco_artifacts_core::ChannelConfig {
    falco_artifacts_core::ChannelConfig::development()
        .to_builder()
        .with_retention(
            falco_artifacts_core::RepoKind::Deb,
            falco_artifacts_core::Retention::KeepLast(std::num::NonZeroUsize::new(1).unwrap()),
        )
        .build()
        .unwrap()
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Scenario 2: a commit that fails after writing its bookkeeping but before its top file
/// must not make the next publish (which parses only its own package's bucket) delete a file
/// the live index still names.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookkeeping_of_a_failed_commit_never_deletes_a_live_file() {
    use falco_artifacts_publish::{AptRepository, FailMode, FailingStore};
    let channel = keep_one_deb();
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let failing = Arc::new(FailingStore::new(Arc::clone(
        file_store(site.path()).object_store(),
    )));
    // A short lease: the publisher that dies below leaves its lock to expire.
    let repo = |store: RepoStore| {
        AptRepository::builder(store)
            .with_signer(crate::common::shared_signer())
            .with_options(RepositoryOptions {
                lock: LockOptions {
                    lease: Duration::from_secs(1),
                    wait: Duration::from_secs(30),
                    poll: Duration::from_millis(50),
                },
                ..RepositoryOptions::default()
            })
            .build()
            .unwrap()
    };
    let apt = repo(RepoStore::new(Arc::clone(&failing) as _, "").unwrap());
    let alpha1 = crate::aptclient::named_deb("alpha", "0.45.0-1+abcdef0", "x86_64", "a");
    let beta1 = crate::aptclient::named_deb("beta", "0.45.0-1+abcdef0", "x86_64", "b");
    let all: Vec<Arc<dyn Artifact>> = alpha1
        .artifacts
        .iter()
        .chain(&beta1.artifacts)
        .cloned()
        .collect();
    apt.publish(&channel, &all).await.unwrap();

    // Which request writes the top file: found on a copy of the repository.
    let alpha2 = crate::aptclient::named_deb("alpha", "0.45.0-2+abcdef0", "x86_64", "a");
    let rehearsal = tempfile::tempdir().unwrap();
    copy_tree(site.path(), rehearsal.path());
    let counting = Arc::new(FailingStore::new(Arc::clone(
        file_store(rehearsal.path()).object_store(),
    )));
    repo(RepoStore::new(Arc::clone(&counting) as _, "").unwrap())
        .publish(&channel, &alpha2.artifacts)
        .await
        .unwrap();
    let top = counting
        .log()
        .iter()
        .position(|l| l.contains("put(overwrite) packages/deb-dev/dists/stable/Release"))
        .expect("a Release write") as u64
        + 1;

    // alpha 2 prunes alpha 1, but the publisher dies right at its top file.
    failing.reset();
    failing.set_mode(FailMode::From(top));
    apt.publish(&channel, &alpha2.artifacts).await.unwrap_err();
    failing.reset();
    let alpha1_url = format!("{}/packages/deb-dev/stable/{}", http.url(), alpha1.name());
    assert_eq!(
        http_get(&alpha1_url).0,
        200,
        "the live index still names alpha 1"
    );

    // Another package's publish, after the lease of the dead publisher ran out.
    let beta2 = crate::aptclient::named_deb("beta", "0.45.0-2+abcdef0", "x86_64", "b");
    apt.publish(&channel, &beta2.artifacts).await.unwrap();
    assert_eq!(
        http_get(&alpha1_url).0,
        200,
        "alpha 1 is still named by the live index"
    );
    let verify = apt
        .verify(&channel, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(
        verify
            .problems
            .iter()
            .all(|p| matches!(p, falco_artifacts_publish::Problem::Unindexed { .. })),
        "{:?}",
        verify.problems
    );
}
