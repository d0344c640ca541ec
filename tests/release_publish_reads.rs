//! A development release into a channel that already keeps other versions reads none of
//! their packages: what it costs grows with the release, not with the channel (issue 20's
//! `scripts/bench release`). `Pipeline::verify` still reads and hashes every one.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::Path;
use std::sync::Arc;

use falco_artifacts::core::package::SourceDate;
use falco_artifacts::core::{Arch, ChildEnv, Release, ReleaseEvent, ReleasePolicy, Signer};
use falco_artifacts::publish::{FailingStore, RepoStore};
use falco_artifacts::release::{load_specs, package_release, Gate, Pipeline};
use object_store::local::LocalFileSystem;

mod common;
use common::write_test_key;

fn dev(n: u64) -> Release {
    ReleaseEvent::Merge {
        branch: "master".into(),
        version: format!("0.45.0-{n}+000000{n}").parse().unwrap(),
    }
    .resolve(&ReleasePolicy::default())
    .unwrap()
}

/// The get requests of `log` for the package files (and their signatures) of `version`.
fn package_reads<'l>(log: &'l [String], version: &str) -> Vec<&'l String> {
    log.iter()
        .filter(|l| l.contains(" get ") && l.contains(&format!("falco-{version}-")))
        .collect()
}

#[test]
fn a_development_release_reads_no_package_of_the_versions_the_channel_keeps() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let (key, _) = write_test_key(work.path());
    let date = SourceDate::from_secs(1_700_000_000);
    let signer: Arc<dyn Signer> = Arc::new(key.with_signature_time(date.system_time()));
    let failing = Arc::new(FailingStore::new(Arc::new(
        LocalFileSystem::new_with_prefix(&repo).unwrap(),
    )));
    let store = RepoStore::new(Arc::clone(&failing) as _, "").unwrap();
    let pipeline = Pipeline::with_store(
        &format!("file://{}", repo.display()),
        store,
        Arc::clone(&signer),
    )
    .unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample/falco.yaml");
    let gate = Gate::command(&["true".into()])
        .unwrap()
        .check(&work.path().join("gate.log"), None, &ChildEnv::default())
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let publish = |n: u64| {
        let release = dev(n);
        let specs = load_specs(&release, &manifest, &Arch::ALL, date).unwrap();
        let dir = work.path().join(format!("build-{n}"));
        let packaged = package_release(&specs, signer.as_ref(), &dir).unwrap();
        let before = failing.log().len();
        let report = rt
            .block_on(pipeline.publish(&release, &packaged, &gate))
            .unwrap();
        assert_eq!(report.verified.len(), 3, "{}", report.to_text());
        failing.log()[before..].to_vec()
    };
    publish(1);
    let second = publish(2);
    let old = dev(1).version.file_name_part();
    assert!(
        package_reads(&second, &old).is_empty(),
        "publishing 0.45.0-2 read packages of {old}: {:#?}",
        package_reads(&second, &old)
    );

    // The full check reads them all.
    let before = failing.log().len();
    let channel = dev(1).channel;
    rt.block_on(pipeline.verify(&channel)).unwrap();
    let log = failing.log()[before..].to_vec();
    // DEB, RPM, tarball for two arches.
    assert!(package_reads(&log, &old).len() >= 6, "{log:#?}");
}
