//! The header check costs what the header weighs: 65,535 string-array entries all pointing at
//! one long string would each rescan it (rpm itself refuses entries whose data overlap).

use crate::common::*;

/// One header: magic, `entries` index entries of `(tag, type, offset, count)`, then `store`.
fn header(entries: &[(u32, u32, u32, u32)], store: &[u8]) -> Vec<u8> {
    let mut out = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
    out.extend((entries.len() as u32).to_be_bytes());
    out.extend((store.len() as u32).to_be_bytes());
    for (tag, kind, offset, count) in entries {
        for word in [tag, kind, offset, count] {
            out.extend(word.to_be_bytes());
        }
    }
    out.extend(store);
    out
}

/// A lead, a one-entry signature header padded to 8 bytes, and `main`.
pub(crate) fn package(main: &[u8]) -> Vec<u8> {
    let mut out = vec![0xed, 0xab, 0xee, 0xdb, 3, 0];
    out.resize(96, 0);
    // RPMSIGTAG_SIZE (1000), INT32, one value.
    out.extend(header(&[(1000, 4, 0, 1)], &[0, 0, 0, 1]));
    out.extend([0; 4]);
    out.extend(main);
    out
}

#[test]
fn overlapping_string_arrays_are_refused_in_linear_time() {
    // 1 MiB of one string, and 65,535 entries each claiming it: scanned entry by entry that is
    // 65,535 MiB of scanning (minutes in a debug build); charged to one budget, 1 MiB.
    let mut store = vec![b'a'; 1 << 20];
    store.push(0);
    let entries: Vec<_> = (0..0xffff).map(|i| (5000 + i, 8, 0, 1)).collect();
    let bytes = package(&header(&entries, &store));
    match RpmInfo::read(&bytes[..]).unwrap_err() {
        RpmError::Corrupt { why, offset, .. } => {
            assert!(why.contains("overlap"), "{why}");
            // The second entry's offset field: the first one owns the string.
            let index = 96 + 16 + 16 + 4 + 4 + 16;
            assert_eq!(offset, Some(index + 16 + 8));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_string_count_larger_than_the_store_is_refused_at_once() {
    let store = vec![0u8; 64];
    let bytes = package(&header(&[(5000, 8, 0, u32::MAX)], &store));
    assert!(matches!(
        RpmInfo::read(&bytes[..]).unwrap_err(),
        RpmError::Corrupt { why, .. } if why.contains("overlap")
    ));
}
