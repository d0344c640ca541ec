//! A bounds check of the lead and both headers before the `rpm` crate parses them.
//!
//! The `rpm` crate (0.30) trusts the index: a hostile entry count overflows, an offset past
//! the store panics, and a huge data size allocates before reading. This module reads the same
//! bytes with every size and offset checked against rpm's own limits, so only well-formed
//! headers reach the crate's parser.

use std::io::{self, Read};

/// Lead size.
pub(crate) const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// rpm refuses more index entries than this (`hdrchkTags`).
const MAX_ENTRIES: u32 = 0xffff;
/// rpm refuses a larger data store than this (`HEADER_DATA_MAX`, 256 MiB).
const MAX_DATA: u32 = 0x0fff_ffff;
/// `HEADERIMAGE`, `HEADERSIGNATURES`, `HEADERIMMUTABLE`: the tags whose data is a region
/// trailer.
const REGION_TAGS: [u32; 3] = [61, 62, 63];

/// The lead and headers, checked, and where the main header sits.
#[derive(Debug)]
pub(crate) struct RawHeaders {
    /// Lead, signature header with its padding, main header: exactly as read.
    pub(crate) bytes: Vec<u8>,
    /// Offset of the main header.
    pub(crate) header_start: u64,
}

impl RawHeaders {
    /// Offset of the first payload byte.
    pub(crate) fn header_end(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// Why the bytes are not an rpm.
#[derive(Debug)]
pub(crate) enum Problem {
    Corrupt { offset: u64, why: &'static str },
    Io(io::Error),
}

fn read_exact(
    r: &mut impl Read,
    out: &mut Vec<u8>,
    n: usize,
    what: &'static str,
) -> Result<(), Problem> {
    let start = out.len();
    // `take` + `read_to_end` grows the buffer with the data that is really there, so a
    // truncated file never makes a large allocation up front.
    r.take(n as u64).read_to_end(out).map_err(Problem::Io)?;
    if out.len() - start != n {
        return Err(Problem::Corrupt {
            offset: out.len() as u64,
            why: what,
        });
    }
    Ok(())
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    if let Some(s) = b.get(at..at + 4) {
        word.copy_from_slice(s);
    }
    u32::from_be_bytes(word)
}

/// Reads and checks one header starting at `out.len()`; returns its data size.
fn read_header(r: &mut impl Read, out: &mut Vec<u8>) -> Result<u32, Problem> {
    let base = out.len();
    let corrupt = |at: usize, why| Problem::Corrupt {
        offset: at as u64,
        why,
    };
    read_exact(r, out, 16, "it is truncated inside a header's intro")?;
    if out[base..base + 4] != HEADER_MAGIC {
        return Err(corrupt(
            base,
            "a header does not start with the header magic",
        ));
    }
    let entries = be32(out, base + 8);
    let data = be32(out, base + 12);
    if entries > MAX_ENTRIES || entries == 0 {
        return Err(corrupt(base + 8, "a header's entry count is out of range"));
    }
    if data > MAX_DATA {
        return Err(corrupt(base + 12, "a header's data size is out of range"));
    }
    let index_len = entries as usize * 16;
    read_exact(
        r,
        out,
        index_len + data as usize,
        "it is truncated inside a header",
    )?;
    let index = base + 16;
    let store = &out[index + index_len..];
    // rpm refuses entries whose data overlap (`hdrblobVerifyInfo`: "previous data must not
    // overlap"), so together they span at most the store: every byte scanned is charged to
    // that budget, which keeps the check linear in the header's size whatever the entry
    // counts say (65,535 entries rescanning one 256 MiB store would be 10^12 steps).
    let mut budget = store.len() as u64;
    let overlap = |at: usize| {
        corrupt(
            at + 8,
            "header entries overlap or span more than the data store",
        )
    };
    let charge = |budget: &mut u64, at: usize, span: u64| {
        *budget = budget.checked_sub(span).ok_or(overlap(at))?;
        Ok::<(), Problem>(())
    };
    for i in 0..entries as usize {
        let at = index + i * 16;
        let (tag, kind, offset, count) = (
            be32(out, at),
            be32(out, at + 4),
            be32(out, at + 8),
            be32(out, at + 12),
        );
        let offset = offset as usize;
        // The rpm crate slices the store at every entry's offset, NULL entries included, and
        // reads the offset as signed: anything past the store is refused here.
        if offset > store.len() {
            return Err(corrupt(at + 8, "a header entry points past the data store"));
        }
        let fixed = match kind {
            0 => continue,
            1 | 2 | 7 => Some(1u64),
            3 => Some(2),
            4 => Some(4),
            5 => Some(8),
            6 | 8 | 9 => None,
            _ => return Err(corrupt(at + 4, "a header entry has an unknown type")),
        };
        // A region tag's data is the trailer at the region's end, inside the span of the
        // entries it covers: checked for bounds, not charged.
        let region = REGION_TAGS.contains(&tag);
        match fixed {
            Some(size) => {
                let span = u64::from(count) * size;
                if offset as u64 + span > store.len() as u64 {
                    return Err(corrupt(at + 12, "a header entry runs past the data store"));
                }
                if !region {
                    charge(&mut budget, at, span)?;
                }
            }
            None => {
                if kind == 6 && count != 1 {
                    return Err(corrupt(at + 12, "a string entry does not hold one string"));
                }
                // Each string takes at least its NUL: more strings than budget cannot fit.
                if u64::from(count) > budget {
                    return Err(overlap(at));
                }
                let mut rest = &store[offset..];
                let mut span = 0u64;
                for _ in 0..count {
                    let limit = usize::try_from(budget - span).unwrap_or(usize::MAX);
                    let window = &rest[..rest.len().min(limit)];
                    let nul = window.iter().position(|&b| b == 0).ok_or_else(|| {
                        if window.len() < rest.len() {
                            overlap(at)
                        } else {
                            corrupt(at, "a string entry is not NUL-terminated")
                        }
                    })?;
                    span += nul as u64 + 1;
                    rest = &rest[nul + 1..];
                }
                if !region {
                    charge(&mut budget, at, span)?;
                }
            }
        }
    }
    Ok(data)
}

/// Reads the lead and both headers from `r`, checking every bound; `r` is left at the payload.
pub(crate) fn read_headers(r: &mut impl Read) -> Result<RawHeaders, Problem> {
    let mut bytes = Vec::with_capacity(8192);
    read_exact(r, &mut bytes, LEAD_SIZE, "it is shorter than an rpm lead")?;
    if bytes[..4] != LEAD_MAGIC {
        return Err(Problem::Corrupt {
            offset: 0,
            why: "it does not start with the rpm magic",
        });
    }
    let sig_data = read_header(r, &mut bytes)?;
    let padding = (8 - sig_data % 8) % 8;
    read_exact(
        r,
        &mut bytes,
        padding as usize,
        "it is truncated after the signature header",
    )?;
    let header_start = bytes.len() as u64;
    read_header(r, &mut bytes)?;
    Ok(RawHeaders {
        bytes,
        header_start,
    })
}
