//! Building refuses bad input with an error naming the entry, file and field, and leaves
//! nothing at the destination.

use std::fs;

use falco_artifacts_pkg_deb::{BuildError, Codec, Compression, DebBuilder};

use super::support::spec_from;

const MANIFEST: &str = "name: errs\nversion: 1.0.0\narch: x86_64\nmaintainer: A <a@b.c>\n\
                        description: d\nlicense: MIT\nsource_date: 1\n\
                        contents:\n  - src: payload.bin\n    dst: /usr/lib/errs/payload.bin\n";

#[test]
fn a_payload_file_that_changes_or_vanishes_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.bin");
    fs::write(&payload, vec![7u8; 100_000]).unwrap();
    let spec = spec_from(MANIFEST, dir.path());
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let deb = DebBuilder::new(&spec).build().unwrap();

    fs::write(&payload, vec![7u8; 50_000]).unwrap();
    match deb.write_to_dir(&out).unwrap_err() {
        BuildError::SourceChanged {
            dst,
            path,
            expected,
            found,
        } => {
            assert_eq!(dst.as_ref(), "/usr/lib/errs/payload.bin");
            assert_eq!(path, payload);
            assert_eq!(expected, 100_000);
            assert_eq!(found, "only 50000 bytes");
        }
        other => panic!("{other}"),
    }
    fs::write(&payload, vec![7u8; 100_001]).unwrap();
    assert!(matches!(
        deb.write_to_dir(&out).unwrap_err(),
        BuildError::SourceChanged { .. }
    ));
    fs::remove_file(&payload).unwrap();
    match deb.write_to_dir(&out).unwrap_err() {
        BuildError::ReadSource { path, source, .. } => {
            assert_eq!(path, payload);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        0,
        "a failed build leaves nothing behind"
    );
}

#[test]
fn options_and_fields_are_checked_in_build() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("payload.bin"), b"x").unwrap();
    let spec = spec_from(MANIFEST, dir.path());
    match DebBuilder::new(&spec)
        .with_compression(Compression::new(Codec::Zstd, 23))
        .build()
        .unwrap_err()
    {
        BuildError::Level {
            codec, level, max, ..
        } => assert_eq!((codec, level, max), (Codec::Zstd, 23, 22)),
        other => panic!("{other}"),
    }
    let mut bad = spec.clone();
    bad.homepage = Some("https://x\nEvil: 1".into());
    assert!(matches!(
        DebBuilder::new(&bad).build().unwrap_err(),
        BuildError::ControlField {
            field: "Homepage",
            ..
        }
    ));
    let mut bad = spec.clone();
    bad.contents[0].owner = "a".repeat(40);
    assert!(matches!(
        DebBuilder::new(&bad).build().unwrap_err(),
        BuildError::OwnerName { field: "owner", .. }
    ));
    let mut bad = spec;
    bad.name = "Bad Name".into();
    assert!(matches!(
        DebBuilder::new(&bad).build().unwrap_err(),
        BuildError::Spec(_)
    ));
}
