//! Bounded fuzzing of the manifest loader on stable: mutations of the sample manifest Falco's
//! packages are built from, and of smaller real-shaped ones, loaded against the sample's
//! payload. Nothing may panic, the payload directory is left as it was, and peak memory stays
//! within the budget.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::{Path, PathBuf};

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions, SourceDate};
use falco_artifacts_core::{Arch, Version};
use falco_artifacts_testkit::fuzz::{fuzz, Budget};

/// Every path under `dir` with its length: what a loader that writes would change.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.push((path, meta.len()));
        }
    }
    out.sort();
    out
}

#[test]
fn the_manifest_loader_survives_mutations_of_real_manifests() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample");
    let falco = std::fs::read(sample.join("falco.yaml")).unwrap();
    let small = b"name: falco\nversion: 0.39.0\narch: x86_64\nmaintainer: m\ndescription: d\n\
license: Apache-2.0\nsource_date: 1700000000\noverrides:\n  deb: { suggests: [dkms] }\n\
  rpm: { requires: [systemd] }\ncontents:\n\
  - { dst: /etc/falco/falco.yaml, inline: \"a: 1\\n\", type: config-noreplace }\n\
  - { dst: /usr/bin/falco-link, type: symlink, target: falco }\n\
  - { dst: /usr/lib/systemd/system/falco.service, inline: \"[Unit]\\n\", formats: [deb, rpm] }\n"
        .to_vec();
    let options = ManifestOptions {
        version: Some("0.39.0".parse::<Version>().unwrap()),
        arch: Some(Arch::X86_64),
        source_date: Some(SourceDate::from_secs(1_700_000_000)),
    };
    let loaded = load_manifest_str(&String::from_utf8_lossy(&falco), &sample, &options);
    assert!(
        loaded.is_ok(),
        "the sample manifest does not load: {loaded:?}"
    );
    let before = listing(&sample);
    fuzz("manifest", &[falco, small], Budget::from_env(), |bytes| {
        let _ = load_manifest_str(&String::from_utf8_lossy(bytes), &sample, &options);
    });
    assert_eq!(
        listing(&sample),
        before,
        "the loader changed the payload directory"
    );
}
