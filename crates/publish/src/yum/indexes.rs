//! The next generation's files: the three documents (compressed, content-addressed), then
//! `repomd.xml` and its detached signature.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::Utc;
use falco_artifacts_core::Sha256Digest;

use super::blocks::{self, Bucket, Layout, LiveDoc, NewDoc};
use super::merge::Merged;
use super::metadata::{self, Kind};
use super::record::Record;
use super::repomd::{self, Data};
use super::state::{layout_key, Live, FORMAT};
use super::xml::BadMetadata;
use super::{YumRepository, REPOMD, REPOMD_ASC};
use crate::error::PublishError;
use crate::protocol::commit::{Commit, IndexFile};

/// Which packages a bucket holds: when the same, its compressed member is reused as is.
fn bucket_sets(records: &[&Record]) -> BTreeMap<u8, BTreeSet<(String, Sha256Digest)>> {
    let mut out: BTreeMap<u8, BTreeSet<(String, Sha256Digest)>> = BTreeMap::new();
    for r in records {
        out.entry(crate::buckets::bucket(&r.name))
            .or_default()
            .insert((r.href.clone(), r.pkgid));
    }
    out
}

impl YumRepository {
    /// The commit making `merged` live after `live`.
    pub(super) fn commit(
        &self,
        live: &Live,
        merged: &Merged,
        generations: usize,
    ) -> Result<Commit, PublishError> {
        let mut commit = Commit::default();
        let records = merged.ordered();
        let now = Utc::now().timestamp();
        let mut data = Vec::new();
        let mut this_generation = Vec::new();
        let live_records: Vec<&Record> = live.records.values().collect();
        let live_sets = bucket_sets(&live_records);
        let new_sets = bucket_sets(&records);
        let buckets = blocks::by_bucket(&records);
        // Buckets the read left unparsed keep their packages and members as they are.
        let carried = &live.carried;
        let total = records.len() + carried.values().map(|b| b.count).sum::<usize>();
        let mut layout = Layout::default();
        for (bucket, list) in &buckets {
            let packed = Bucket::of(list).map_err(|source| PublishError::Corrupt {
                key: ".publish/yum-layout".into(),
                source,
            })?;
            layout.buckets.insert(*bucket, packed);
        }
        for (bucket, packed) in carried {
            layout
                .buckets
                .entry(*bucket)
                .or_insert_with(|| packed.clone());
        }
        let all_buckets: BTreeSet<u8> = buckets.keys().chain(carried.keys()).copied().collect();
        for kind in Kind::ALL {
            let what = || format!("repodata/{}.xml.gz", kind.name());
            let compress_err = |source| PublishError::Compress {
                what: what(),
                source,
            };
            let mut doc = NewDoc::default();
            let header = metadata::header(kind, total).map_err(compress_err)?;
            doc.push(
                None,
                &crate::buckets::gzip_member(&header, self.gzip_level).map_err(compress_err)?,
            );
            let live_doc = live.docs.get(&kind);
            for bucket in &all_buckets {
                let Some(list) = buckets.get(bucket) else {
                    let member = live_doc.and_then(|d| d.member(*bucket)).ok_or_else(|| {
                        PublishError::BadRepodata {
                            key: what(),
                            source: BadMetadata::Missing {
                                element: "member",
                                what: "a bucket the layout lists",
                            },
                        }
                    })?;
                    doc.push(Some(*bucket), member);
                    continue;
                };
                let reused = live_doc
                    .filter(|_| live_sets.get(bucket) == new_sets.get(bucket))
                    .and_then(|d| d.member(*bucket));
                if let Some(member) = reused {
                    doc.push(Some(*bucket), member);
                    continue;
                }
                let fragment = self.fragment(kind, *bucket, list, live_doc)?;
                let member = crate::buckets::gzip_member(&fragment, self.gzip_level)
                    .map_err(compress_err)?;
                doc.push(Some(*bucket), &member);
            }
            let footer = metadata::footer(kind).map_err(compress_err)?;
            doc.push(
                None,
                &crate::buckets::gzip_member(&footer, self.gzip_level).map_err(compress_err)?,
            );
            let checksum = Sha256Digest::of_bytes(&doc.bytes);
            let href = format!("repodata/{checksum}-{}.xml.gz", kind.name());
            this_generation.push(href.clone());
            data.push(Data {
                kind,
                href: href.clone(),
                checksum,
                size: doc.bytes.len() as u64,
                timestamp: now,
            });
            layout.members.insert(kind.name().to_owned(), doc.members);
            commit.content_addressed.push(IndexFile {
                key: href,
                bytes: Bytes::from(doc.bytes).into(),
            });
        }
        let repomd = repomd::render(now, &data).map_err(|source| PublishError::Compress {
            what: REPOMD.into(),
            source,
        })?;
        // The layout is named after the repomd.xml it describes, and goes with its generation.
        let layout_key = layout_key(&repomd);
        this_generation.push(layout_key.clone());
        commit.content_addressed.push(IndexFile {
            key: layout_key,
            bytes: Bytes::from(serde_json::to_vec(&layout).unwrap_or_default()).into(),
        });

        let (bookkeeping, delete) = live.bookkeeping.advance(
            FORMAT,
            &repomd,
            this_generation,
            generations,
            merged.pruned.iter().map(|r| r.href.clone()),
            |f| merged.records.contains_key(f),
        );
        commit.content_addressed.push(bookkeeping);
        commit.delete = delete;

        let sign = |bytes: &[u8]| -> Result<Option<String>, PublishError> {
            match &self.signer {
                Some(signer) => Ok(Some(
                    signer
                        .sign_detached_armored(&mut &bytes[..])
                        .map_err(|source| PublishError::Sign {
                            what: "repomd.xml",
                            source,
                        })?,
                )),
                None => Ok(None),
            }
        };
        let signature = sign(&repomd)?;
        // repomd.xml is the commit point; its signature follows it. Should either write fail
        // (or report failure after landing), the previous pair is put back so clients checking
        // signatures see a matching pair (see `Commit::restore`): the previous repomd.xml and
        // a fresh signature of it.
        commit.top.push(IndexFile {
            key: REPOMD.into(),
            bytes: Bytes::from(repomd).into(),
        });
        if let Some(signature) = signature {
            commit.top.push(IndexFile {
                key: REPOMD_ASC.into(),
                bytes: Bytes::from(signature).into(),
            });
            commit.restore.push((REPOMD.into(), live.repomd.clone()));
            let previous_signature = match &live.repomd {
                Some(previous) => sign(previous)?.map(Bytes::from),
                None => None,
            };
            commit.restore.push((REPOMD_ASC.into(), previous_signature));
        }
        Ok(commit)
    }
}

impl YumRepository {
    /// The uncompressed elements of `bucket` in document `kind`: each package's own element
    /// when it has one, otherwise the one in the live document's member of that bucket.
    fn fragment(
        &self,
        kind: Kind,
        bucket: u8,
        list: &[&Record],
        live_doc: Option<&LiveDoc>,
    ) -> Result<Vec<u8>, PublishError> {
        let bad = |source| PublishError::BadRepodata {
            key: format!("repodata/{}.xml.gz", kind.name()),
            source,
        };
        let mut old: Option<BTreeMap<String, String>> = None;
        let mut elements: Vec<String> = Vec::with_capacity(list.len());
        for record in list {
            if let Some(element) = kind.element(record) {
                elements.push(element.to_owned());
                continue;
            }
            if old.is_none() {
                let member = live_doc.and_then(|d| d.member(bucket)).unwrap_or_default();
                let text = blocks::gunzip(member).map_err(bad)?;
                old = Some(metadata::split_fragment(kind, &text).map_err(bad)?);
            }
            let element = old
                .as_mut()
                .and_then(|o| o.remove(&kind.key(record)))
                .ok_or_else(|| {
                    bad(BadMetadata::Missing {
                        element: "package",
                        what: "an element in its bucket of the live document",
                    })
                })?;
            elements.push(element);
        }
        Ok(metadata::fragment(elements.iter().map(String::as_str)))
    }
}
