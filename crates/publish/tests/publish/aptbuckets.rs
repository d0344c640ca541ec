//! `Packages` kept in buckets: adding packages one publish at a time gives the bytes a whole
//! rebuild gives, apt reads the multi-member `Packages.gz`, and a repository whose bucket
//! layout is missing or damaged is read whole and stays correct.

use std::path::Path;
use std::sync::Arc;

use falco_artifacts_core::{Artifact, ChannelConfig, Publisher, Sha256Digest};
use falco_artifacts_testkit::HttpServer;

use crate::apt::apt;
use crate::aptclient::{named_deb, AptSandbox, BuiltDeb};
use crate::common::file_store;

const NAMES: usize = 12;

fn packages() -> Vec<BuiltDeb> {
    (0..NAMES)
        .map(|n| named_deb(&format!("tool-{n}"), "1.0.0", "x86_64", "b"))
        .collect()
}

fn index(site: &Path, name: &str) -> Vec<u8> {
    std::fs::read(
        site.join("packages/deb/dists/stable/main/binary-amd64")
            .join(name),
    )
    .unwrap()
}

/// `gzip -dc` of a file: the real tool, reading every member.
fn gunzip(bytes: &[u8], dir: &Path) -> Vec<u8> {
    let path = dir.join("Packages.gz");
    std::fs::write(&path, bytes).unwrap();
    falco_artifacts_testkit::require_tool("gzip", "gzip").unwrap();
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn publish_all_at_once(site: &Path, debs: &[BuiltDeb]) {
    let all: Vec<Arc<dyn Artifact>> = debs.iter().flat_map(|d| d.artifacts.clone()).collect();
    apt(file_store(site))
        .publish(&ChannelConfig::stable(), &all)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_at_a_time_equals_all_at_once_and_apt_reads_every_member() {
    let debs = packages();
    let stable = ChannelConfig::stable();
    let (one, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let repo = apt(file_store(one.path()));
    for d in &debs {
        repo.publish(&stable, &d.artifacts).await.unwrap();
    }
    publish_all_at_once(whole.path(), &debs).await;
    for name in ["Packages", "Packages.gz"] {
        assert!(
            index(one.path(), name) == index(whole.path(), name),
            "{name} differs between incremental and whole builds"
        );
    }

    // More than one gzip member, and gzip reads them all back to `Packages`.
    let gz = index(one.path(), "Packages.gz");
    let mut first = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut first).unwrap();
    let plain = index(one.path(), "Packages");
    assert!(first.len() < plain.len(), "Packages.gz is a single member");
    assert_eq!(gunzip(&gz, one.path()), plain);

    let http = HttpServer::serve(one.path()).unwrap();
    let sandbox = AptSandbox::new(&format!("{}/packages/deb", http.url()));
    sandbox.update();
    for (n, d) in debs.iter().enumerate() {
        assert_eq!(
            sandbox.download(&format!("tool-{n}"), "1.0.0"),
            d.sha256,
            "tool-{n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_or_damaged_layout_is_read_whole() {
    let debs = packages();
    let stable = ChannelConfig::stable();
    let whole = tempfile::tempdir().unwrap();
    publish_all_at_once(whole.path(), &debs).await;

    for damage in ["missing", "garbage", "wrong ranges"] {
        let site = tempfile::tempdir().unwrap();
        let repo = apt(file_store(site.path()));
        let all: Vec<Arc<dyn Artifact>> = debs[..NAMES - 1]
            .iter()
            .flat_map(|d| d.artifacts.clone())
            .collect();
        repo.publish(&stable, &all).await.unwrap();
        let layouts = site.path().join("packages/deb/.publish/apt-layout");
        let live = Sha256Digest::of_bytes(&index(site.path(), "Packages"));
        let layout = layouts.join(format!("{live}.json"));
        assert!(layout.exists(), "the layout sits beside the live index");
        match damage {
            "missing" => std::fs::remove_dir_all(&layouts).unwrap(),
            "garbage" => std::fs::write(&layout, b"{not json").unwrap(),
            _ => {
                let text = std::fs::read_to_string(&layout).unwrap();
                let shifted = text.replace("[0,", "[1,");
                assert_ne!(text, shifted);
                std::fs::write(&layout, shifted).unwrap();
            }
        }
        repo.publish(&stable, &debs[NAMES - 1].artifacts)
            .await
            .unwrap();
        for name in ["Packages", "Packages.gz"] {
            assert!(
                index(site.path(), name) == index(whole.path(), name),
                "{damage}: {name} differs from a whole build"
            );
        }
    }
}
