//! Tar streams the parser and a naive reader see differently, decoders asked for gigabytes,
//! and links that escape only through other links: refused by the listing and the extraction.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::io::Write;
use std::path::Path;

use falco_artifacts_core::compress::Encoder;
use falco_artifacts_core::tar_guard::TarRefusal;
use falco_artifacts_pkg_tar::{
    extract, list_entries, Codec, Compression, ExtractOptions, ReadError,
};
use falco_artifacts_testkit::hostile_tar::{header, RawTar};

fn extract_into(dest: &Path, bytes: &[u8]) -> Result<(), ReadError> {
    extract(bytes, "t.tar", dest, &ExtractOptions::default()).map(|_| ())
}

fn refused(error: ReadError) -> TarRefusal {
    match error {
        ReadError::Refused { archive, source } => {
            assert_eq!(archive, "t.tar");
            source
        }
        other => panic!("expected a refused tar stream, got: {other}"),
    }
}

#[test]
fn pax_size_overrides_and_sparse_files_are_refused() {
    let bomb = header(b'L', "././@LongLink", "", 10 << 30);
    let hidden = RawTar::new()
        .pax(&[("size", "0")])
        .entry(b'0', "a", 512, &bomb)
        .raw(&vec![b'n'; 2 << 20])
        .finish();
    let empty = RawTar::new()
        .pax(&[("size", "4")])
        .entry(b'0', "a", 0, b"data")
        .finish();
    let sparse = RawTar::new().entry(b'S', "s", 0, &[]).finish();
    for (bytes, sparse_expected) in [(&hidden, false), (&empty, false), (&sparse, true)] {
        let listed = refused(list_entries(&bytes[..], "t.tar").unwrap_err());
        let tmp = tempfile::tempdir().unwrap();
        let extracted = refused(extract_into(tmp.path(), bytes).unwrap_err());
        assert_eq!(listed, extracted);
        assert_eq!(matches!(listed, TarRefusal::Sparse { .. }), sparse_expected);
        if !sparse_expected {
            assert!(
                matches!(listed, TarRefusal::PaxSizeMismatch { .. }),
                "{listed}"
            );
        }
        assert!(!tmp.path().join("a").exists(), "an entry was written");
    }
}

#[test]
fn an_oversized_long_name_is_refused_before_it_is_read() {
    let bytes = RawTar::new().long_name(10 << 30, &[b'a'; 4096]).finish();
    match list_entries(&bytes[..], "t.tar").unwrap_err() {
        ReadError::TooLarge { what, size, .. } => {
            assert!(what.contains("'L'"), "{what}");
            assert_eq!(size, 10 << 30);
        }
        other => panic!("{other}"),
    }
}

/// Skips one xz variable-length integer at `at`.
fn skip_varint(bytes: &[u8], mut at: usize) -> usize {
    while bytes[at] & 0x80 != 0 {
        at += 1;
    }
    at + 1
}

#[test]
fn an_xz_stream_asking_for_a_4_gib_dictionary_is_refused() {
    let tar = RawTar::new().file("f", b"hello").finish();
    let mut encoder = Encoder::new(Vec::new(), Compression::new(Codec::Xz, 0), 1).unwrap();
    encoder.write_all(&tar).unwrap();
    let mut xz = encoder.finish().unwrap();
    // The first block header follows the 12-byte stream header: size, flags, optional
    // sizes, then the LZMA2 filter (id 0x21, one property byte: the dictionary size).
    let start = 12;
    let len = (usize::from(xz[start]) + 1) * 4;
    let flags = xz[start + 1];
    let mut at = start + 2;
    if flags & 0x40 != 0 {
        at = skip_varint(&xz, at);
    }
    if flags & 0x80 != 0 {
        at = skip_varint(&xz, at);
    }
    assert_eq!(&xz[at..at + 2], &[0x21, 0x01], "not an LZMA2 filter");
    xz[at + 2] = 40; // 4 GiB - 1
    let crc = crc32fast::hash(&xz[start..start + len - 4]);
    xz[start + len - 4..start + len].copy_from_slice(&crc.to_le_bytes());

    let error = list_entries(&xz[..], "t.tar").unwrap_err();
    let ReadError::Io { source, .. } = &error else {
        panic!("{error}")
    };
    assert!(
        source.to_string().to_lowercase().contains("memory"),
        "not the decoder's memory limit: {source}"
    );
    let tmp = tempfile::tempdir().unwrap();
    assert!(extract_into(tmp.path(), &xz).is_err());
}

#[test]
fn links_that_escape_through_other_links_are_refused() {
    // Within one tarball: `s -> .` makes `l -> s/..` lead above the root.
    let tmp = tempfile::tempdir().unwrap();
    let bytes = RawTar::new()
        .symlink("s", ".")
        .symlink("l", "s/..")
        .finish();
    match extract_into(tmp.path(), &bytes).unwrap_err() {
        ReadError::SymlinkEscape { path, .. } => assert_eq!(path, "l"),
        other => panic!("{other}"),
    }
    assert!(std::fs::symlink_metadata(tmp.path().join("l")).is_err());

    // Across two tarballs unpacked into one root.
    let tmp = tempfile::tempdir().unwrap();
    let first = RawTar::new()
        .dir("d1/")
        .dir("d1/d2/")
        .dir("d1/d2/d3/")
        .symlink("d1/d2/d3/r", "../../..")
        .finish();
    let second = RawTar::new()
        .symlink(".config", "d1/d2/d3/r/../../../../x")
        .finish();
    extract_into(tmp.path(), &first).unwrap();
    match extract_into(tmp.path(), &second).unwrap_err() {
        ReadError::SymlinkEscape { path, .. } => assert_eq!(path, ".config"),
        other => panic!("{other}"),
    }
    assert!(std::fs::symlink_metadata(tmp.path().join(".config")).is_err());
}
