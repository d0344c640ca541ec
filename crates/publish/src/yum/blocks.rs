//! Documents as concatenated gzip members, so a publish recompresses only what changed.
//!
//! Each document is a header member, one member per non-empty bucket of packages (a package's
//! bucket follows from its name, so every version of a package shares one), and a footer
//! member. Decompressed, the members are one XML
//! document; gzip readers (zlib's `gzread`, which libsolv and librepo use, Python's `gzip`,
//! `zcat`) read concatenated members as one stream. Adding a package recompresses its
//! bucket, the header (the package count) and nothing else: the other members are copied.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::metadata::Kind;
use super::record::Record;
use super::xml::BadMetadata;
use crate::buckets::bucket;

/// Where one bucket's member sits in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Member {
    pub(crate) bucket: u8,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl Member {
    fn range(&self) -> Range<usize> {
        usize::try_from(self.start).unwrap_or(usize::MAX)
            ..usize::try_from(self.end).unwrap_or(usize::MAX)
    }
}

/// The decompressed text of a whole document (every member).
pub(crate) fn gunzip(bytes: &[u8]) -> Result<String, BadMetadata> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(BadMetadata::Decompress)?;
    Ok(text)
}

/// A live document and where its buckets are.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveDoc {
    pub(crate) bytes: bytes::Bytes,
    pub(crate) members: Vec<Member>,
}

impl LiveDoc {
    /// The compressed member of `bucket`.
    pub(crate) fn member(&self, bucket: u8) -> Option<&[u8]> {
        let m = self.members.iter().find(|m| m.bucket == bucket)?;
        self.bytes.get(m.range())
    }
}

/// A document being written: its bytes and where each bucket went.
#[derive(Debug, Default)]
pub(crate) struct NewDoc {
    pub(crate) bytes: Vec<u8>,
    pub(crate) members: Vec<Member>,
}

impl NewDoc {
    pub(crate) fn push(&mut self, bucket: Option<u8>, member: &[u8]) {
        let start = self.bytes.len() as u64;
        self.bytes.extend_from_slice(member);
        if let Some(bucket) = bucket {
            self.members.push(Member {
                bucket,
                start,
                end: self.bytes.len() as u64,
            });
        }
    }
}

/// The packages of each bucket, in document order.
pub(crate) fn by_bucket<'a>(records: &[&'a Record]) -> BTreeMap<u8, Vec<&'a Record>> {
    let mut out: BTreeMap<u8, Vec<&Record>> = BTreeMap::new();
    for r in records {
        out.entry(bucket(&r.name)).or_default().push(r);
    }
    out
}

/// The bucket layout of every document of a generation, kept beside it: where each bucket's
/// member is, and each bucket's packages as raw JSON, so a publish parses only the buckets of
/// the packages it adds and copies the others' text.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Layout {
    pub(crate) members: BTreeMap<String, Vec<Member>>,
    /// Per bucket, its packages (a JSON array of [`Record`]s) and how many there are.
    pub(crate) buckets: BTreeMap<u8, Bucket>,
}

/// One bucket's packages in a [`Layout`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Bucket {
    pub(crate) count: usize,
    pub(crate) records: Box<serde_json::value::RawValue>,
}

impl Bucket {
    /// The bucket holding `records`.
    pub(crate) fn of(records: &[&Record]) -> Result<Self, serde_json::Error> {
        Ok(Bucket {
            count: records.len(),
            records: serde_json::value::to_raw_value(records)?,
        })
    }

    /// Its packages, parsed.
    pub(crate) fn parse(&self) -> Result<Vec<Record>, serde_json::Error> {
        serde_json::from_str(self.records.get())
    }
}

impl Layout {
    pub(crate) fn members(&self, kind: Kind) -> &[Member] {
        self.members.get(kind.name()).map_or(&[], Vec::as_slice)
    }
}
