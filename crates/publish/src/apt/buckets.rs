//! `Packages` in buckets, so adding a package rewrites one bucket, not the whole index.
//!
//! Stanzas are grouped by a hash of their package name into the shared buckets ([`crate::buckets`]), written in
//! bucket order (sorted by name and version inside each). `Packages.gz` holds one gzip member
//! per non-empty bucket; apt (zlib's `gzread`), `zcat` and Python's `gzip` read concatenated
//! members as one stream. Where each bucket sits in both files is kept beside them, named by
//! the digest of the `Packages` it describes, so the next publish parses and recompresses only
//! the buckets of the packages it adds and copies the other members' bytes. Every version of a
//! package lives in one bucket, so retention still sees all of a package's versions.
//!
//! Member bytes are a function of the bucket's text and the level alone (no timestamps), so a
//! repository updated one package at a time is byte-identical to one built whole.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use falco_artifacts_core::Sha256Digest;
use serde::{Deserialize, Serialize};

use super::packages::Stanza;
use crate::buckets::bucket;

/// Where the layout of the `Packages` file with digest `packages` is kept.
pub(crate) fn layout_key(packages: &Sha256Digest) -> String {
    format!(".publish/apt-layout/{packages}.json")
}

/// Where one bucket sits in `Packages` and in `Packages.gz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Member {
    pub(crate) bucket: u8,
    pub(crate) plain: (u64, u64),
    pub(crate) gz: (u64, u64),
}

fn range((start, end): (u64, u64)) -> Range<usize> {
    usize::try_from(start).unwrap_or(usize::MAX)..usize::try_from(end).unwrap_or(usize::MAX)
}

/// The layout of one `Packages`/`Packages.gz` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocLayout {
    /// The `Packages.gz` the members' `gz` ranges are in.
    pub(crate) gz_sha256: Sha256Digest,
    pub(crate) members: Vec<Member>,
}

impl DocLayout {
    /// Whether the members tile both files exactly, in order, each `Packages.gz` member
    /// starting with the gzip magic and each text ending with a stanza's blank line: a
    /// layout that does not is not used (the index is then parsed whole).
    pub(crate) fn fits(&self, plain: &[u8], gz: &[u8]) -> bool {
        let (mut p, mut g) = (0u64, 0u64);
        for m in &self.members {
            let (text, member) = (range(m.plain), range(m.gz));
            let ok = m.plain.0 == p
                && m.gz.0 == g
                && m.plain.1 > m.plain.0
                && m.gz.1 > m.gz.0
                && plain.get(text).is_some_and(|t| t.ends_with(b"\n\n"))
                && gz.get(member).is_some_and(|z| z.starts_with(&[0x1f, 0x8b]));
            if !ok {
                return false;
            }
            (p, g) = (m.plain.1, m.gz.1);
        }
        p == plain.len() as u64 && (g == gz.len() as u64 || self.members.is_empty())
    }
}

/// Live files and the buckets of them a publish leaves as they are.
#[derive(Debug, Clone, Default)]
pub(crate) struct Carried {
    pub(crate) plain: Bytes,
    pub(crate) gz: Bytes,
    /// The buckets not parsed: copied into the next generation.
    pub(crate) members: Vec<Member>,
}

impl Carried {
    /// The text and compressed member of `m` (sharing the live files' memory); `None` when
    /// the ranges fall outside the files.
    pub(crate) fn slices(&self, m: &Member) -> Option<(Bytes, Bytes)> {
        let (plain, gz) = (range(m.plain), range(m.gz));
        if plain.start > plain.end
            || plain.end > self.plain.len()
            || gz.start > gz.end
            || gz.end > self.gz.len()
        {
            return None;
        }
        Some((self.plain.slice(plain), self.gz.slice(gz)))
    }
}

/// A bucket's text: each stanza followed by its blank separator line, as apt-ftparchive
/// writes them, so buckets concatenate into a valid `Packages`.
pub(crate) fn render(stanzas: &[&Stanza]) -> String {
    let mut out = String::with_capacity(stanzas.iter().map(|s| s.text.len() + 1).sum());
    for stanza in stanzas {
        out.push_str(&stanza.text);
        out.push('\n');
    }
    out
}

/// The stanzas of each bucket, keeping their order.
pub(crate) fn group(stanzas: &[Stanza]) -> BTreeMap<u8, Vec<&Stanza>> {
    let mut out: BTreeMap<u8, Vec<&Stanza>> = BTreeMap::new();
    for s in stanzas {
        out.entry(bucket(&s.package)).or_default().push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_fits_only_files_it_tiles() {
        let texts = ["Package: a\n\n", "Package: b\n\n"];
        let members: Vec<Vec<u8>> = texts
            .iter()
            .map(|t| crate::buckets::gzip_member(t.as_bytes(), 1).unwrap())
            .collect();
        let plain = texts.concat().into_bytes();
        let gz = members.concat();
        let (p, g) = (texts[0].len() as u64, members[0].len() as u64);
        let good = DocLayout {
            gz_sha256: Sha256Digest::of_bytes(&gz),
            members: vec![
                Member {
                    bucket: 1,
                    plain: (0, p),
                    gz: (0, g),
                },
                Member {
                    bucket: 2,
                    plain: (p, plain.len() as u64),
                    gz: (g, gz.len() as u64),
                },
            ],
        };
        assert!(good.fits(&plain, &gz));
        let mut gap = good.clone();
        gap.members[1].plain.0 += 1;
        assert!(!gap.fits(&plain, &gz));
        let mut short = good.clone();
        short.members.pop();
        assert!(!short.fits(&plain, &gz));
        let mut split = good;
        split.members[0].gz.1 -= 1;
        split.members[1].gz.0 -= 1;
        assert!(!split.fits(&plain, &gz));
    }
}
