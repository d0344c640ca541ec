//! YUM documents kept in buckets: adding packages one publish at a time gives the documents a
//! whole rebuild gives, dnf reads them, and a layout this version cannot read (an older
//! format, or damage) means a full parse, never a wrong index.

use std::path::Path;
use std::sync::Arc;

use falco_artifacts_core::{Artifact, ChannelConfig, Publisher};
use falco_artifacts_testkit::HttpServer;

use crate::common::file_store;
use crate::yum::yum;
use crate::yumclient::{named_rpm, BuiltRpm, DnfSandbox};

const NAMES: usize = 10;

fn packages() -> Vec<BuiltRpm> {
    (0..NAMES)
        .map(|n| named_rpm(&format!("tool-{n}"), "1.0.0", "x86_64", "b", true))
        .collect()
}

/// The `location href` of each document `repomd.xml` names: content-addressed, so equal
/// names mean equal bytes.
fn documents(site: &Path) -> Vec<String> {
    let repomd = std::fs::read_to_string(site.join("packages/rpm/repodata/repomd.xml")).unwrap();
    repomd
        .split("<location href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

async fn publish_all_at_once(site: &Path, rpms: &[BuiltRpm]) {
    let all: Vec<Arc<dyn Artifact>> = rpms.iter().flat_map(|r| r.artifacts.clone()).collect();
    yum(file_store(site))
        .publish(&ChannelConfig::stable(), &all)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_at_a_time_equals_all_at_once_and_dnf_installs_from_it() {
    let rpms = packages();
    let stable = ChannelConfig::stable();
    let (one, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let repo = yum(file_store(one.path()));
    for r in &rpms {
        repo.publish(&stable, &r.artifacts).await.unwrap();
    }
    publish_all_at_once(whole.path(), &rpms).await;
    let docs = documents(one.path());
    assert_eq!(docs.len(), 3, "{docs:?}");
    assert_eq!(docs, documents(whole.path()));

    let http = HttpServer::serve(one.path()).unwrap();
    let dnf = DnfSandbox::new(&format!("{}/packages/rpm", http.url()));
    dnf.makecache();
    let listed = dnf.must(&["repoquery", "--qf", "%{name}\n", "tool-*"]);
    for n in 0..NAMES {
        assert!(
            listed.contains(&format!("tool-{n}\n")),
            "tool-{n}: {listed}"
        );
    }
    dnf.must(&["install", "tool-7"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreadable_layout_means_a_full_parse() {
    let rpms = packages();
    let stable = ChannelConfig::stable();
    let whole = tempfile::tempdir().unwrap();
    publish_all_at_once(whole.path(), &rpms).await;
    for damage in ["older format", "garbage"] {
        let site = tempfile::tempdir().unwrap();
        let repo = yum(file_store(site.path()));
        let first: Vec<Arc<dyn Artifact>> = rpms[..NAMES - 1]
            .iter()
            .flat_map(|r| r.artifacts.clone())
            .collect();
        repo.publish(&stable, &first).await.unwrap();
        let layouts = site.path().join("packages/rpm/.publish/yum-layout");
        let files: Vec<_> = std::fs::read_dir(&layouts)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let replacement: &[u8] = match damage {
            "older format" => br#"{"records":[],"members":{}}"#,
            _ => b"\x00not json",
        };
        std::fs::write(&files[0], replacement).unwrap();
        repo.publish(&stable, &rpms[NAMES - 1].artifacts)
            .await
            .unwrap();
        assert_eq!(documents(site.path()), documents(whole.path()), "{damage}");
    }
}
