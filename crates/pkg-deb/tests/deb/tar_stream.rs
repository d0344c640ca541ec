//! The tar streams inside a `.deb` that the parser and a naive guard read differently: pax
//! size overrides, GNU sparse files, oversized long names and pax headers, and streams over
//! the entry and content bounds. Each is refused by core's shared guard with the member named.

use falco_artifacts_core::tar_guard::{TarLimits, TarRefusal};
use falco_artifacts_pkg_deb::{DataKind, DebReader, ExtractOptions, ReadError};
use falco_artifacts_testkit::hostile_tar::{header, RawTar};

use super::hostile::{ar, control_tar, gz};

pub(super) fn deb(data_tar: &[u8]) -> Vec<u8> {
    ar(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control_tar()),
        ("data.tar.gz", &gz(data_tar)),
    ])
}

fn list(deb: &[u8]) -> Result<Vec<falco_artifacts_pkg_deb::DataEntry>, ReadError> {
    DebReader::new(deb)?.entries()
}

fn refusal(error: ReadError) -> TarRefusal {
    match error {
        ReadError::Refused { member, source, .. } => {
            assert_eq!(member, "data.tar.gz");
            source
        }
        other => panic!("expected a refused tar stream, got: {other}"),
    }
}

#[test]
fn a_pax_size_of_zero_cannot_hide_a_long_name_bomb() {
    // The parser reads `./a` as empty (pax size=0) and takes the next block as a header: a
    // long name declaring 10 GiB that it would read into memory. A guard following the
    // header's 512 bytes never sees that block.
    let bomb = header(b'L', "././@LongLink", "", 10 << 30);
    let tar = RawTar::new()
        .pax(&[("size", "0")])
        .entry(b'0', "./a", 512, &bomb)
        .raw(&vec![b'n'; 2 << 20])
        .finish();
    let error = list(&deb(&tar)).unwrap_err();
    assert!(
        matches!(
            refusal(error),
            TarRefusal::PaxSizeMismatch { header: 512, ref pax, .. } if pax == "0"
        ),
        "refused for the wrong reason"
    );
}

#[test]
fn a_pax_sized_file_is_refused_not_extracted_empty() {
    let tar = RawTar::new()
        .pax(&[("size", "4")])
        .entry(b'0', "./a", 0, b"data")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    let error = DebReader::new(&deb(&tar)[..])
        .unwrap()
        .extract(tmp.path(), &ExtractOptions::default())
        .unwrap_err();
    assert!(matches!(
        refusal(error),
        TarRefusal::PaxSizeMismatch { header: 0, .. }
    ));
    assert!(!tmp.path().join("a").exists(), "an empty ./a was written");

    // A pax size that agrees with its header is what GNU tar writes: read in full.
    let tar = RawTar::new()
        .pax(&[("size", "4"), ("path", "./b")])
        .entry(b'0', "./ignored", 4, b"data")
        .finish();
    let entries = DebReader::new(&deb(&tar)[..])
        .unwrap()
        .extract(tmp.path(), &ExtractOptions::default())
        .unwrap();
    assert_eq!(entries[0].path, "b");
    assert_eq!(entries[0].kind, DataKind::File { size: 4 });
    assert_eq!(std::fs::read(tmp.path().join("b")).unwrap(), b"data");
}

#[test]
fn gnu_sparse_files_are_refused() {
    let tar = RawTar::new().entry(b'S', "./sparse", 0, &[]).finish();
    assert!(matches!(
        refusal(list(&deb(&tar)).unwrap_err()),
        TarRefusal::Sparse { .. }
    ));
    // The pax spelling of a sparse file.
    let tar = RawTar::new()
        .pax(&[("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0")])
        .file("./sparse", b"")
        .finish();
    assert!(matches!(
        refusal(list(&deb(&tar)).unwrap_err()),
        TarRefusal::PaxRecord { .. }
    ));
}

#[test]
fn long_names_and_pax_headers_over_a_small_limit_are_refused() {
    let limit = TarLimits::default().max_metadata;
    let name = vec![b'a'; limit as usize + 1];
    let tar = RawTar::new()
        .long_name(name.len() as u64, &name)
        .file("x", b"")
        .finish();
    match list(&deb(&tar)).unwrap_err() {
        ReadError::TooLarge { member, what, .. } => {
            assert_eq!(member, "data.tar.gz");
            assert!(what.contains("'L'"), "{what}");
        }
        other => panic!("{other}"),
    }
    let long = "p".repeat(limit as usize);
    let tar = RawTar::new()
        .pax(&[("path", &long)])
        .file("x", b"")
        .finish();
    match list(&deb(&tar)).unwrap_err() {
        ReadError::TooLarge { what, .. } => assert!(what.contains("'x'"), "{what}"),
        other => panic!("{other}"),
    }
}

#[test]
fn entry_count_and_content_are_bounded() {
    let mut tar = RawTar::new();
    for i in 0..5 {
        tar = tar.dir(&format!("./d{i}/"));
    }
    let bytes = deb(&tar.finish());
    let few = TarLimits {
        max_entries: 3,
        ..TarLimits::default()
    };
    let error = DebReader::new(&bytes[..])
        .unwrap()
        .with_limits(few)
        .entries()
        .unwrap_err();
    assert_eq!(refusal(error), TarRefusal::TooManyEntries { limit: 3 });
    assert_eq!(list(&bytes).unwrap().len(), 5);

    let bytes = deb(&RawTar::new().file("./f", &[7; 20]).finish());
    let small = TarLimits {
        max_content: 10,
        ..TarLimits::default()
    };
    let error = DebReader::new(&bytes[..])
        .unwrap()
        .with_limits(small)
        .entries()
        .unwrap_err();
    assert_eq!(refusal(error), TarRefusal::TooMuchContent { limit: 10 });
}
