//! The reader lists and extracts our tarballs and GNU tar's, and refuses hostile archives
//! without writing outside the target directory.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::Path;
use std::process::Command;

use falco_artifacts_core::package::{load_manifest, ManifestOptions, SourceDate};
use falco_artifacts_pkg_tar::{
    extract, list_file, EntryKind, ExtractOptions, ReadError, TarballBuilder,
};
use falco_artifacts_testkit::require_tool;

/// A tar entry with raw header bytes, so hostile names the `tar` crate would refuse to set can
/// be written.
fn raw_entry(
    name: &str,
    kind: tar::EntryType,
    link: &str,
    data: &[u8],
    declared_size: u64,
) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(declared_size);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn archive(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Extracts into `<tmp>/dest` and returns the error; `<tmp>` must hold nothing else afterwards.
fn refuse(bytes: Vec<u8>) -> ReadError {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let err = extract(&bytes[..], "hostile.tar", &dest, &ExtractOptions::default()).unwrap_err();
    let outside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, ["dest"], "something was written outside dest");
    err
}

#[test]
fn hostile_archives_are_refused() {
    let file = tar::EntryType::Regular;
    let err = refuse(archive(&[raw_entry("../evil", file, "", b"x", 1)]));
    assert!(
        matches!(
            err,
            ReadError::UnsafePath {
                why: "`..` component",
                ..
            }
        ),
        "{err}"
    );
    let err = refuse(archive(&[raw_entry("/tmp/evil", file, "", b"x", 1)]));
    assert!(
        matches!(
            err,
            ReadError::UnsafePath {
                why: "absolute path",
                ..
            }
        ),
        "{err}"
    );
    let err = refuse(archive(&[raw_entry(
        "a/b",
        tar::EntryType::Symlink,
        "../../..",
        b"",
        0,
    )]));
    assert!(matches!(err, ReadError::SymlinkEscape { .. }), "{err}");
    let err = refuse(archive(&[raw_entry(
        "etc",
        tar::EntryType::Symlink,
        "/etc",
        b"",
        0,
    )]));
    assert!(matches!(err, ReadError::SymlinkEscape { .. }), "{err}");
    let err = refuse(archive(&[
        raw_entry("sub/", tar::EntryType::Directory, "", b"", 0),
        raw_entry("lnk", tar::EntryType::Symlink, "sub", b"", 0),
        raw_entry("lnk/passwd", file, "", b"x", 1),
    ]));
    assert!(matches!(err, ReadError::ThroughSymlink { .. }), "{err}");
    let err = refuse(archive(&[raw_entry(
        "hard",
        tar::EntryType::Link,
        "other",
        b"",
        0,
    )]));
    assert!(matches!(err, ReadError::Unsupported { .. }), "{err}");
    let err = refuse(archive(&[raw_entry(
        "dev",
        tar::EntryType::Char,
        "",
        b"",
        0,
    )]));
    assert!(matches!(err, ReadError::Unsupported { .. }), "{err}");
    let err = refuse(archive(&[
        raw_entry("twice", file, "", b"a", 1),
        raw_entry("twice", file, "", b"b", 1),
    ]));
    assert!(matches!(err, ReadError::Duplicate { .. }), "{err}");
    // A 10 GB declared size on 1 KiB of data.
    let err = refuse(archive(&[raw_entry(
        "big",
        file,
        "",
        &[7u8; 1024],
        10_000_000_000,
    )]));
    assert!(
        matches!(
            err,
            ReadError::TooLarge {
                size: 10_000_000_000,
                ..
            }
        ),
        "{err}"
    );
    // Under the limit but longer than the data: a truncated archive.
    let err = refuse(raw_entry("short", file, "", &[7u8; 1024], 5000));
    assert!(matches!(err, ReadError::Io { .. }), "{err}");
    // Garbage and truncation never panic.
    let good = archive(&[raw_entry("ok", file, "", b"fine", 4)]);
    for cut in [1, 100, 511, 513, 700] {
        let tmp = tempfile::tempdir().unwrap();
        let _ = extract(
            &good[..cut],
            "cut.tar",
            tmp.path(),
            &ExtractOptions::default(),
        );
    }
    let err = refuse(b"\x1f\x8b\x08\x00not really gzip".to_vec());
    assert!(matches!(err, ReadError::Io { .. }), "{err}");
}

#[test]
fn limits_are_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tar::EntryType::Regular;
    let bytes = archive(&[
        raw_entry("a", file, "", b"1", 1),
        raw_entry("b", file, "", b"2", 1),
    ]);
    let options = ExtractOptions {
        max_entries: 1,
        ..ExtractOptions::default()
    };
    let err = extract(&bytes[..], "many.tar", tmp.path(), &options).unwrap_err();
    assert!(
        matches!(err, ReadError::TooManyEntries { limit: 1, .. }),
        "{err}"
    );
}

#[test]
fn reads_our_tarball_and_gnu_tars() {
    require_tool("tar", "tar").expect("tar is needed");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/falco.yaml");
    let spec = load_manifest(
        &sample,
        &ManifestOptions {
            version: Some("0.39.0".parse().unwrap()),
            arch: Some("arm64".parse().unwrap()),
            source_date: Some(SourceDate::from_secs(1_700_000_000)),
        },
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let tarball = TarballBuilder::new(&spec).build(out.path()).unwrap();
    let entries = list_file(&tarball.path).unwrap();
    let link = entries
        .iter()
        .find(|e| e.path.ends_with("falco-driver-loader"))
        .unwrap();
    assert_eq!(
        link.kind,
        EntryKind::Symlink {
            target: "falco".into()
        }
    );
    assert!(entries
        .iter()
        .all(|e| e.uid == 0 && e.user.is_empty() && e.mtime <= 1_700_000_000));

    let dest = tempfile::tempdir().unwrap();
    let options = ExtractOptions {
        strip_components: 1,
        ..ExtractOptions::default()
    };
    let report = extract(
        std::fs::File::open(&tarball.path).unwrap(),
        "ours",
        dest.path(),
        &options,
    )
    .unwrap();
    assert_eq!(report.files, 4);
    assert_eq!(report.symlinks, 1);
    assert_eq!(
        std::fs::read(dest.path().join("etc/falco/falco.yaml")).unwrap(),
        std::fs::read(
            sample
                .parent()
                .unwrap()
                .join("payload/etc/falco/falco.yaml")
        )
        .unwrap()
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dest.path().join("usr/bin/falco"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o7777, 0o755);

    // GNU tar's own archives, each compression.
    for (flag, ext) in [
        ("-z", "tar.gz"),
        ("-J", "tar.xz"),
        ("--zstd", "tar.zst"),
        ("--no-auto-compress", "tar"),
    ] {
        let gnu = out.path().join(format!("gnu.{ext}"));
        let status = Command::new("tar")
            .arg(flag)
            .arg("-cf")
            .arg(&gnu)
            .arg("-C")
            .arg(dest.path())
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        let listed = list_file(&gnu).unwrap();
        assert!(
            listed
                .iter()
                .any(|e| e.path == "./usr/bin/falco" && e.size > 0),
            "{ext}: {listed:?}"
        );
        let again = tempfile::tempdir().unwrap();
        let report = extract(
            std::fs::File::open(&gnu).unwrap(),
            ext,
            again.path(),
            &ExtractOptions::default(),
        )
        .unwrap();
        assert_eq!(report.files, 4, "{ext}");
        assert!(again.path().join("usr/share/falco/plugins").is_dir());
    }
}
