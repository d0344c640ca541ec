//! The sample manifest loads; bad manifests are refused with file, field and expectation.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::{Path, PathBuf};

use falco_artifacts_core::package::{
    load_manifest, ConfigKind, ContentKind, Format, ManifestError, ManifestOptions, SourceDate,
};
use falco_artifacts_core::Arch;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/falco.yaml")
}

fn options() -> ManifestOptions {
    ManifestOptions {
        version: Some("0.39.0".parse().unwrap()),
        arch: Some(Arch::Aarch64),
        source_date: Some(SourceDate::from_secs(1_700_000_000)),
    }
}

#[test]
fn the_sample_describes_falco_for_every_format() {
    let spec = load_manifest(&sample(), &options()).unwrap();
    assert_eq!(spec.name, "falco");
    assert_eq!(spec.summary, "Cloud Native Runtime Security");
    assert_eq!(spec.file_name(Format::Deb), "falco-0.39.0-aarch64.deb");
    assert_eq!(spec.file_name(Format::Tar), "falco-0.39.0-aarch64.tar.gz");
    assert_eq!(spec.relations_for(Format::Deb).suggests, ["dkms"]);
    assert_eq!(spec.relations_for(Format::Rpm).depends, ["systemd"]);
    assert!(spec.relations_for(Format::Deb).depends.is_empty());

    let config_of = |dst: &str| {
        spec.contents
            .iter()
            .find(|e| e.dst.as_ref() == dst)
            .map(|e| match &e.kind {
                ContentKind::File { config, .. } => *config,
                _ => ConfigKind::None,
            })
            .unwrap()
    };
    assert_eq!(
        config_of("/etc/falco/falco.yaml"),
        ConfigKind::ConfigNoReplace
    );
    assert_eq!(
        config_of("/etc/falco/falco_rules.local.yaml"),
        ConfigKind::ConfigNoReplace
    );
    assert_eq!(config_of("/etc/falco/falco_rules.yaml"), ConfigKind::None);

    let tar: Vec<&str> = spec
        .contents_for(Format::Tar)
        .map(|e| e.dst.as_ref())
        .collect();
    assert!(!tar.iter().any(|d| d.contains("systemd")), "{tar:?}");
    let deb: Vec<&str> = spec
        .contents_for(Format::Deb)
        .map(|e| e.dst.as_ref())
        .collect();
    assert_eq!(deb.iter().filter(|d| d.contains("systemd")).count(), 3);
    let mut sorted = deb.clone();
    sorted.sort();
    assert_eq!(deb, sorted, "entries come in archive order");

    let falco = spec
        .contents
        .iter()
        .find(|e| e.dst.as_ref() == "/usr/bin/falco")
        .unwrap();
    assert_eq!(falco.mode, 0o755);
    assert_eq!(
        (falco.owner.as_str(), falco.group.as_str()),
        ("root", "root")
    );
    let post = spec.scripts.post_install.as_ref().unwrap();
    assert_eq!(post.interpreter, "/bin/sh");
    assert!(spec.scripts.pre_remove.is_some() && spec.scripts.post_remove.is_some());
}

/// Writes `yaml` beside a real payload file and loads it.
fn load(yaml: &str) -> Result<(), ManifestError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("falco.bin"), b"bin").unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, yaml).unwrap();
    load_manifest(&path, &options()).map(|_| ())
}

const HEAD: &str =
    "name: falco\nmaintainer: M <m@example.com>\ndescription: d\nlicense: Apache-2.0\n";

fn refused(body: &str, field: &str, expected: &str) {
    let err = load(&format!("{HEAD}{body}")).expect_err(body).to_string();
    assert!(err.contains("bad.yaml"), "names the file: {err}");
    assert!(err.contains(field), "names `{field}`: {err}");
    assert!(err.contains(expected), "says `{expected}`: {err}");
}

#[test]
fn bad_manifests_name_file_field_and_expectation() {
    refused(
        "contents:\n  - dst: usr/bin/falco\n    src: falco.bin\n",
        "contents[0].dst",
        "absolute",
    );
    refused(
        "contents:\n  - dst: /usr/../etc/x\n    src: falco.bin\n",
        "contents[0].dst",
        "'..'",
    );
    refused(
        "contents:\n  - dst: /usr/bin/falco\n    src: falco.bin\n  - dst: /usr/bin/falco\n    inline: x\n",
        "contents[1].dst",
        "contents[0]",
    );
    refused(
        "contents:\n  - dst: /usr/bin/l\n    target: ../../../etc/passwd\n",
        "contents[0].target",
        "inside the install root",
    );
    refused(
        "contents:\n  - dst: /usr/bin/falco\n    src: falco.bin\n    type: socket\n",
        "contents[0]",
        "unknown variant `socket`",
    );
    refused(
        "contents:\n  - dst: /usr/bin/falco\n    src: missing.bin\n",
        "contents[0].src",
        "existing regular file",
    );
    refused(
        "contents:\n  - dst: /usr/bin/falco\n    src: falco.bin\n    mode: 755\n",
        "contents[0].mode",
        "octal mode written as a string",
    );
    refused(
        "contents:\n  - dst: /usr/bin/falco\n    src: falco.bin\n    formats: []\n",
        "contents[0].formats",
        "deb, rpm, tar",
    );
    refused("contents:\n  - dst: /etc/falco\n    inline: x\n  - dst: /etc/falco/f.yaml\n    inline: y\n", "contents[1].dst", "non-directory");
    refused("colour: blue\n", "colour", "unknown field");
    refused("arch: sparc\n", "arch", "amd64");
}

#[test]
fn missing_required_fields_are_named() {
    let err = load("name: falco\nlicense: x\ndescription: d\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing field `maintainer`"), "{err}");
    assert!(err.contains("bad.yaml"), "{err}");
}

#[test]
fn version_comes_from_the_release_when_the_manifest_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yaml");
    std::fs::write(&path, format!("{HEAD}arch: amd64\nsource_date: 1\n")).unwrap();
    let err = load_manifest(&path, &ManifestOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`version`"), "{err}");
    let spec = load_manifest(
        &path,
        &ManifestOptions {
            version: Some("0.45.0-3+abcdef0".parse().unwrap()),
            ..ManifestOptions::default()
        },
    )
    .unwrap();
    assert_eq!(spec.arch, Arch::X86_64);
    assert_eq!(spec.source_date, SourceDate::from_secs(1));
}
