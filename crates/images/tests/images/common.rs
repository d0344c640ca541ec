//! Fixtures: a release tarball made by pkg-tar, engine connections, skopeo.

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions, SourceDate};
use falco_artifacts_core::{Arch, Release, ReleaseEvent, ReleasePolicy};
use falco_artifacts_images::{Engine, ImageName, ImageRef, Tag};
use falco_artifacts_pkg_tar::TarballBuilder;
use falco_artifacts_testkit::{require_tool, DockerEngine, Registry};

pub(crate) const SOURCE_DATE: u64 = 1_700_000_000;
pub(crate) const USER: &str = "falco-ci";
pub(crate) const PASSWORD: &str = "s3cret-pass";

pub(crate) fn source_date() -> SourceDate {
    SourceDate::from_secs(SOURCE_DATE)
}

pub(crate) fn release(tag: &str) -> Release {
    ReleaseEvent::tag(tag)
        .resolve(&ReleasePolicy::default())
        .unwrap()
}

pub(crate) fn name() -> ImageName {
    "falcosecurity/falco".parse().unwrap()
}

pub(crate) fn image_ref(registry: &Registry, tag: &str) -> ImageRef {
    ImageRef::new(
        registry.address().parse().unwrap(),
        name(),
        tag.parse::<Tag>().unwrap(),
    )
}

/// A release tarball `falco-<version>-<arch>.tar.gz` written by pkg-tar: a binary, configs,
/// a rules file and a symlink, under `falco-<version>-<arch>/`. `payload` bytes of
/// incompressible data make `/usr/bin/falco` large when wanted.
pub(crate) fn tarball(dir: &Path, version: &str, arch: Arch, payload: usize) -> PathBuf {
    let src = dir.join(format!("falco-bin-{arch}"));
    // The same bytes for every arch, as a script would be: the engine's cache must not make
    // one arch's image out of another's.
    let mut bytes = format!("#!/bin/sh\necho falco {version}\n").into_bytes();
    // A cheap deterministic generator is enough to defeat gzip.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ payload as u64;
    bytes.extend((0..payload).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    std::fs::write(&src, bytes).unwrap();
    let yaml = format!(
        "name: falco\nversion: {version}\narch: {arch}\nmaintainer: Test <t@example.invalid>\n\
         description: d\nlicense: Apache-2.0\nsource_date: {SOURCE_DATE}\ncontents:\n\
         - {{ dst: /usr/bin/falco, src: {src}, mode: \"0755\" }}\n\
         - {{ dst: /etc/falco/falco.yaml, inline: \"rules_files: []\\n\", type: config-noreplace }}\n\
         - {{ dst: /etc/falco/falco_rules.yaml, inline: \"- rule: r\\n\" }}\n\
         - {{ dst: /usr/share/falco/latest, type: symlink, target: ../../bin/falco }}\n",
        src = src.display()
    );
    let spec = load_manifest_str(&yaml, dir, &ManifestOptions::default()).unwrap();
    let out = dir.join(format!("out-{arch}"));
    std::fs::create_dir_all(&out).unwrap();
    TarballBuilder::new(&spec).build(&out).unwrap().path
}

pub(crate) async fn connect(engine: &DockerEngine) -> Engine {
    Engine::connect(&engine.docker_host()).await.unwrap()
}

/// `skopeo inspect [--raw] --tls-verify=false [--creds u:p] docker://<reference>`.
pub(crate) fn skopeo(reference: &str, credentials: Option<(&str, &str)>, raw: bool) -> Vec<u8> {
    let program = require_tool("skopeo", "Debian package skopeo").unwrap();
    let mut command = Command::new(program);
    command.arg("inspect").arg("--tls-verify=false");
    if raw {
        command.arg("--raw");
    }
    match credentials {
        Some((user, password)) => command.arg(format!("--creds={user}:{password}")),
        None => command.arg("--no-creds"),
    };
    let output = command
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

pub(crate) fn skopeo_json(reference: &str, credentials: Option<(&str, &str)>) -> serde_json::Value {
    serde_json::from_slice(&skopeo(reference, credentials, false)).unwrap()
}
