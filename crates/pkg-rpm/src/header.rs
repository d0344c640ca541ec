//! The main header of a streamed package: the header the `rpm` crate built for the package
//! with empty placeholder files, with every value that depends on file contents or on the
//! payload replaced by what the streaming pass measured.
//!
//! The crate builds everything else (names, dependencies and the ones it adds, scriptlets,
//! modes, owners, directories, inodes, changelog, compressor) exactly as for a package it
//! writes itself; only these tags carry content: `FILESIZES` (or `LONGFILESIZES`), `SIZE` (or
//! `LONGSIZE`), `FILEDIGESTS`, `PAYLOADSHA256` (the compressed payload) and `PAYLOADSHA256ALT`
//! (the cpio archive). Above 4 GiB of files the package also needs `rpmlib(LargeFiles)`, as
//! rpm writes it.

use rpm::{Dependency, Header, HeaderEntry, IndexData, IndexTag};

use crate::RpmError;

/// What the payload pass measured.
pub(crate) struct Measured {
    /// Per file, in header order (0 for directories, links and ghosts).
    pub(crate) sizes: Vec<u64>,
    /// Per file, in header order: SHA-256 in hex, empty for anything but regular files.
    pub(crate) digests: Vec<String>,
    /// The installed size: the sum of the file sizes.
    pub(crate) installed: u64,
    /// SHA-256 of the compressed payload, in hex.
    pub(crate) payload_sha256: String,
    /// SHA-256 of the uncompressed cpio archive, in hex.
    pub(crate) archive_sha256: String,
    /// Whether the files need rpm's large-file format (more than 4 GiB in all).
    pub(crate) large: bool,
}

const T_SIZE: u32 = IndexTag::RPMTAG_SIZE as u32;
const T_LONGSIZE: u32 = IndexTag::RPMTAG_LONGSIZE as u32;
const T_FILESIZES: u32 = IndexTag::RPMTAG_FILESIZES as u32;
const T_LONGFILESIZES: u32 = IndexTag::RPMTAG_LONGFILESIZES as u32;
const T_FILEDIGESTS: u32 = IndexTag::RPMTAG_FILEDIGESTS as u32;
const T_PAYLOAD: u32 = IndexTag::RPMTAG_PAYLOADSHA256 as u32;
const T_PAYLOAD_ALT: u32 = IndexTag::RPMTAG_PAYLOADSHA256ALT as u32;
const T_REQNAME: u32 = IndexTag::RPMTAG_REQUIRENAME as u32;
const T_REQVERSION: u32 = IndexTag::RPMTAG_REQUIREVERSION as u32;
const T_REQFLAGS: u32 = IndexTag::RPMTAG_REQUIREFLAGS as u32;
const T_DEPENDSDICT: u32 = IndexTag::RPMTAG_DEPENDSDICT as u32;
const T_REGION: u32 = IndexTag::RPMTAG_HEADERIMMUTABLE as u32;

fn header_error(field: &'static str, source: rpm::Error) -> RpmError {
    RpmError::Header { field, source }
}

/// 32-bit values for the small-file format, which is only chosen when the files total less
/// than 4 GiB, so every value fits.
fn u32s(values: &[u64]) -> Vec<u32> {
    values
        .iter()
        .map(|&v| u32::try_from(v).unwrap_or(u32::MAX))
        .collect()
}

/// The template's header with the measured values in place of the placeholders'.
pub(crate) fn main_header(
    template: &Header<IndexTag>,
    m: &Measured,
) -> Result<Header<IndexTag>, RpmError> {
    let mut entries: Vec<(u32, IndexData)> = template
        .get_all_entries()
        .map_err(|e| header_error("template header", e))?
        .into_iter()
        .filter(|(tag, _)| *tag != T_REGION)
        .collect();
    let has_files = entries.iter().any(|(tag, _)| *tag == T_FILESIZES);
    entries.retain(|(tag, _)| {
        !matches!(
            *tag,
            T_SIZE
                | T_LONGSIZE
                | T_FILESIZES
                | T_LONGFILESIZES
                | T_FILEDIGESTS
                | T_PAYLOAD
                | T_PAYLOAD_ALT
        )
    });
    if m.large {
        entries.push((T_LONGSIZE, IndexData::Int64(vec![m.installed])));
        add_large_files_requirement(&mut entries)?;
    } else {
        entries.push((T_SIZE, IndexData::Int32(u32s(&[m.installed]))));
    }
    if has_files {
        entries.push(if m.large {
            (T_LONGFILESIZES, IndexData::Int64(m.sizes.clone()))
        } else {
            (T_FILESIZES, IndexData::Int32(u32s(&m.sizes)))
        });
        entries.push((T_FILEDIGESTS, IndexData::StringArray(m.digests.clone())));
    }
    // rpm stores these two as one-element string arrays.
    entries.push((
        T_PAYLOAD,
        IndexData::StringArray(vec![m.payload_sha256.clone()]),
    ));
    entries.push((
        T_PAYLOAD_ALT,
        IndexData::StringArray(vec![m.archive_sha256.clone()]),
    ));
    Ok(Header::from_entries(
        entries
            .into_iter()
            .map(|(tag, data)| HeaderEntry::new(tag, data)),
        IndexTag::RPMTAG_HEADERIMMUTABLE,
    ))
}

fn take(entries: &mut Vec<(u32, IndexData)>, tag: u32) -> Option<IndexData> {
    let at = entries.iter().position(|(t, _)| *t == tag)?;
    Some(entries.remove(at).1)
}

/// Adds `rpmlib(LargeFiles)` to the requirements, sorted as the `rpm` crate sorts them, and
/// shifts the requirement indices of `DEPENDSDICT` that the insertion moves.
fn add_large_files_requirement(entries: &mut Vec<(u32, IndexData)>) -> Result<(), RpmError> {
    let bad = |why| RpmError::Corrupt {
        origin: "template header".to_owned(),
        offset: None,
        why,
    };
    let (names, versions, flags) = match (
        take(entries, T_REQNAME),
        take(entries, T_REQVERSION),
        take(entries, T_REQFLAGS),
    ) {
        (
            Some(IndexData::StringArray(n)),
            Some(IndexData::StringArray(v)),
            Some(IndexData::Int32(f)),
        ) if n.len() == v.len() && n.len() == f.len() => (n, v, f),
        (None, None, None) => (Vec::new(), Vec::new(), Vec::new()),
        _ => return Err(bad("its requirement arrays are inconsistent")),
    };
    let large = Dependency::rpmlib("LargeFiles", "4.12.0-1");
    let key = (large.name, large.version, large.flags.bits());
    let mut requires: Vec<(String, String, u32)> = names
        .into_iter()
        .zip(versions)
        .zip(flags)
        .map(|((n, v), f)| (n, v, f))
        .collect();
    if requires.contains(&key) {
        return Ok(());
    }
    // The crate sorts by name, then version, then flags: the same tuple order.
    let at = requires.partition_point(|r| r < &key);
    requires.insert(at, key);
    if let Some(IndexData::Int32(dict)) = take(entries, T_DEPENDSDICT) {
        let shifted = dict
            .into_iter()
            .map(|d| {
                let (kind, index) = (d >> 24, d & 0x00ff_ffff);
                if kind == u32::from(b'R') && index as usize >= at {
                    (kind << 24) | (index + 1)
                } else {
                    d
                }
            })
            .collect();
        entries.push((T_DEPENDSDICT, IndexData::Int32(shifted)));
    }
    let (mut n, mut v, mut f) = (Vec::new(), Vec::new(), Vec::new());
    for (name, version, flags) in requires {
        n.push(name);
        v.push(version);
        f.push(flags);
    }
    entries.push((T_REQNAME, IndexData::StringArray(n)));
    entries.push((T_REQVERSION, IndexData::StringArray(v)));
    entries.push((T_REQFLAGS, IndexData::Int32(f)));
    Ok(())
}
