//! Parity with `createrepo_c`: for the same packages, our `primary`, `filelists` and `other`
//! describe the same packages, versions, checksums, relations, files and changelogs (parsed
//! content, not bytes).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{Artifact, ArtifactKind, ChannelConfig, LocalArtifact, Publisher};
use falco_artifacts_pkg_rpm::{ChangelogEntry, RpmBuilder};
use falco_artifacts_publish::YumRepository;
use falco_artifacts_testkit::require_tool;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::common::{file_store, shared_signer, signer};
use crate::yumclient::manifest;

/// One package as a document describes it: `element/path attr=value … = text` lines, sorted.
type Described = Vec<String>;

fn attributes(e: &BytesStart<'_>) -> String {
    let mut list: Vec<String> = e
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            format!(
                "{}={}",
                String::from_utf8_lossy(a.key.as_ref()),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
            )
        })
        .collect();
    list.sort();
    list.join(" ")
}

/// Every `<package>` of a document, keyed by its checksum, flattened to lines.
fn describe(doc: &str) -> BTreeMap<String, Described> {
    let mut reader = Reader::from_str(doc);
    let mut out = BTreeMap::new();
    let mut path: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut key = String::new();
    // Paths start below the root element: `package/format/file`.
    let here = |path: &[String]| path.get(1..).unwrap_or_default().join("/");
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if name == "package" {
                    lines.clear();
                    key = attributes(&e)
                        .split(' ')
                        .find_map(|a| a.strip_prefix("pkgid="))
                        .unwrap_or_default()
                        .to_owned();
                }
                path.push(name);
                lines.push(format!("{} {}", here(&path), attributes(&e)));
                text.clear();
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                lines.push(format!("{}/{name} {}", here(&path), attributes(&e)));
            }
            Event::Text(t) => text.push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                text.push_str(
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .expect("a predefined entity"),
                );
            }
            Event::End(_) => {
                if !text.trim().is_empty() {
                    let line = format!("{} = {}", here(&path), text.trim());
                    if line.starts_with("package/checksum") {
                        key = text.trim().to_owned();
                    }
                    lines.push(line);
                }
                text.clear();
                if path.pop().as_deref() == Some("package") {
                    lines.sort();
                    out.insert(key.clone(), std::mem::take(&mut lines));
                }
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

/// The three documents of the repository at `dir`, through its `repomd.xml`.
fn documents(dir: &Path) -> BTreeMap<String, String> {
    let repomd = std::fs::read_to_string(dir.join("repodata/repomd.xml")).unwrap();
    let mut out = BTreeMap::new();
    let mut reader = Reader::from_str(&repomd);
    let mut kind = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) if e.name().as_ref() == b"data" => {
                kind = attributes(&e).trim_start_matches("type=").to_owned();
            }
            Event::Empty(e) if e.name().as_ref() == b"location" => {
                let href = attributes(&e).trim_start_matches("href=").to_owned();
                if href.ends_with(".xml.gz") {
                    let mut text = String::new();
                    flate2::read::MultiGzDecoder::new(
                        std::fs::File::open(dir.join(&href)).unwrap(),
                    )
                    .read_to_string(&mut text)
                    .unwrap();
                    out.insert(kind.clone(), text);
                }
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

/// What createrepo_c writes differently by design: the file time (it takes the file's mtime,
/// we take the build time so the metadata is reproducible).
fn comparable(lines: &Described) -> Described {
    lines
        .iter()
        .filter(|l| !l.starts_with("package/time "))
        .cloned()
        .collect()
}

fn build(dir: &Path, version: &str, arch: &str, changelog: bool) -> Arc<dyn Artifact> {
    let mut yaml = manifest(version, arch, version);
    let scripts = tempfile::tempdir().unwrap();
    if changelog {
        // Scriptlets add `Requires(post)` and friends: `pre="1"` entries.
        std::fs::write(
            scripts.path().join("post.sh"),
            "#!/bin/sh\necho installed\n",
        )
        .unwrap();
        std::fs::write(scripts.path().join("prerm.sh"), "#!/bin/sh\necho bye\n").unwrap();
        yaml.push_str("scripts:\n  post_install: post.sh\n  pre_remove: prerm.sh\n");
    }
    let spec = load_manifest_str(&yaml, scripts.path(), &ManifestOptions::default()).unwrap();
    let mut builder = RpmBuilder::new(&spec).with_signer(signer());
    if changelog {
        for (n, text) in ["- first & <oldest>", "- second", "- newest"]
            .iter()
            .enumerate()
        {
            builder = builder.with_changelog(ChangelogEntry {
                author: format!("M <m@example.invalid> - {version}-1"),
                time: 1_690_000_000 + u32::try_from(n).unwrap() * 86_400,
                text: (*text).to_owned(),
            });
        }
    }
    let path = builder.build().unwrap().write_to_dir(dir).unwrap();
    Arc::new(
        LocalArtifact::from_path(ArtifactKind::Rpm, &path)
            .unwrap()
            .with_version(spec.version.clone())
            .with_arch(spec.arch),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_matches_createrepo_c_on_the_same_packages() {
    let createrepo = require_tool("createrepo_c", "Debian package createrepo-c").unwrap();
    let packages = tempfile::tempdir().unwrap();
    let artifacts = [
        build(packages.path(), "0.45.0-1+1307474", "x86_64", true),
        build(packages.path(), "0.45.0-1+1307474", "aarch64", false),
        build(packages.path(), "0.45.0-2+1307474", "x86_64", false),
        build(packages.path(), "0.45.0-36+1307474", "x86_64", true),
    ];
    // Ours, in two publishes so the second merges with metadata read back.
    let site = tempfile::tempdir().unwrap();
    let repo = YumRepository::builder(file_store(site.path()))
        .with_signer(shared_signer())
        .build()
        .unwrap();
    let stable = ChannelConfig::development();
    repo.publish(&stable, &artifacts[..2]).await.unwrap();
    repo.publish(&stable, &artifacts[2..]).await.unwrap();
    let ours = site.path().join("packages/rpm-dev");

    // createrepo_c's, over a copy of the same files.
    let theirs = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(packages.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, theirs.path().join(path.file_name().unwrap())).unwrap();
    }
    let status = Command::new(createrepo)
        .args(["-q", "--no-database"])
        .arg(theirs.path())
        .status()
        .unwrap();
    assert!(status.success(), "createrepo_c failed");

    let (ours, theirs) = (documents(&ours), documents(theirs.path()));
    for kind in ["primary", "filelists", "other"] {
        let a = describe(&ours[kind]);
        let b = describe(&theirs[kind]);
        assert_eq!(a.len(), 4, "{kind}: {a:#?}");
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{kind}: the same packages (by SHA-256)"
        );
        for (pkgid, lines) in &a {
            let ours = comparable(lines);
            let theirs = comparable(&b[pkgid]);
            let only_ours: Vec<&String> = ours.iter().filter(|l| !theirs.contains(l)).collect();
            let only_theirs: Vec<&String> = theirs.iter().filter(|l| !ours.contains(l)).collect();
            assert!(
                only_ours.is_empty() && only_theirs.is_empty(),
                "{kind} {pkgid}:\nonly ours: {only_ours:#?}\nonly createrepo_c: {only_theirs:#?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repository_createrepo_c_made_is_taken_over() {
    let createrepo = require_tool("createrepo_c", "Debian package createrepo-c").unwrap();
    let site = tempfile::tempdir().unwrap();
    let http = falco_artifacts_testkit::HttpServer::serve(site.path()).unwrap();
    let root = site.path().join("packages/rpm");
    std::fs::create_dir_all(&root).unwrap();
    let first = crate::yumclient::rpm("0.39.0", "x86_64", "a", true);
    std::fs::copy(&first.path, root.join(first.name())).unwrap();
    // With its sqlite databases, as Falco's current script makes it.
    let status = Command::new(createrepo)
        .arg("-q")
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success(), "createrepo_c failed");

    // No bucket layout is known: the documents are parsed in full, then written our way.
    let repo = YumRepository::builder(file_store(site.path()))
        .with_signer(shared_signer())
        .build()
        .unwrap();
    let stable = ChannelConfig::stable();
    let next = crate::yumclient::rpm("0.40.0", "x86_64", "b", true);
    repo.publish(&stable, &next.artifacts).await.unwrap();
    let listed = repo
        .list(&stable, falco_artifacts_core::RepoKind::Rpm)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let report = repo
        .verify(&stable, &falco_artifacts_publish::VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let dnf = crate::yumclient::DnfSandbox::new(&format!("{}/packages/rpm", http.url()));
    assert_eq!(dnf.download("0.39.0"), first.sha256);
    dnf.must(&["install", "falco"]);
    assert_eq!(dnf.installed().as_deref(), Some("falco-0.40.0-1"));
}
