//! The next generation's files: the three documents (compressed, content-addressed), then
//! `repomd.xml` and its detached signature.

use std::collections::BTreeSet;
use std::io::Write as _;

use bytes::Bytes;
use chrono::Utc;
use falco_artifacts_core::Sha256Digest;

use super::merge::Merged;
use super::metadata::{self, Kind};
use super::repomd::{self, Data};
use super::state::{Live, BOOKKEEPING};
use super::{YumRepository, REPOMD, REPOMD_ASC};
use crate::apt::state::Bookkeeping;
use crate::commit::{Commit, IndexFile};
use crate::error::PublishError;

fn gzip(data: &[u8], level: u32) -> Result<Vec<u8>, std::io::Error> {
    let mut encoder = flate2::GzBuilder::new().write(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::new(level),
    );
    encoder.write_all(data)?;
    encoder.finish()
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
        for kind in Kind::ALL {
            let what = || format!("repodata/{}.xml.gz", kind.name());
            let plain =
                metadata::assemble(kind, &records).map_err(|source| PublishError::Compress {
                    what: what(),
                    source,
                })?;
            let gz = gzip(&plain, self.gzip_level).map_err(|source| PublishError::Compress {
                what: what(),
                source,
            })?;
            let checksum = Sha256Digest::of_bytes(&gz);
            let href = format!("repodata/{checksum}-{}.xml.gz", kind.name());
            this_generation.push(href.clone());
            data.push(Data {
                kind,
                href: href.clone(),
                checksum,
                size: gz.len() as u64,
                open_checksum: Sha256Digest::of_bytes(&plain),
                open_size: plain.len() as u64,
                timestamp: now,
            });
            commit.content_addressed.push(IndexFile {
                key: href,
                bytes: Bytes::from(gz),
            });
        }
        let repomd = repomd::render(now, &data).map_err(|source| PublishError::Compress {
            what: REPOMD.into(),
            source,
        })?;

        let mut by_hash = vec![this_generation];
        by_hash.extend(live.bookkeeping.by_hash.iter().cloned());
        let dropped: Vec<Vec<String>> = by_hash.split_off(by_hash.len().min(generations));
        let kept: BTreeSet<&String> = by_hash.iter().flatten().collect();
        let pruned: Vec<String> = merged
            .pruned
            .iter()
            .flat_map(|r| [r.href.clone(), format!("{}.asc", r.href)])
            .collect();
        let mut delete: BTreeSet<String> = live
            .bookkeeping
            .pruned
            .iter()
            .filter(|f| !merged.records.contains_key(f.trim_end_matches(".asc")))
            .cloned()
            .collect();
        delete.extend(pruned.iter().cloned());
        delete.extend(dropped.into_iter().flatten().filter(|k| !kept.contains(k)));
        let bookkeeping = Bookkeeping { by_hash, pruned };
        commit.canonical.push(IndexFile {
            key: BOOKKEEPING.into(),
            bytes: Bytes::from(serde_json::to_vec_pretty(&bookkeeping).unwrap_or_default()),
        });

        let signature = match &self.signer {
            Some(signer) => Some(signer.sign_detached_armored(&mut &repomd[..]).map_err(
                |source| PublishError::Sign {
                    what: "repomd.xml",
                    source,
                },
            )?),
            None => None,
        };
        // repomd.xml is the commit point; its signature follows it. Should that second write
        // fail, the previous repomd.xml is put back so clients checking signatures see a
        // matching pair (see `Commit::restore`).
        commit.top.push(IndexFile {
            key: REPOMD.into(),
            bytes: Bytes::from(repomd),
        });
        if let Some(signature) = signature {
            commit.top.push(IndexFile {
                key: REPOMD_ASC.into(),
                bytes: Bytes::from(signature),
            });
            commit.restore.push((REPOMD.into(), live.repomd.clone()));
        }
        commit.delete = delete.into_iter().collect();
        Ok(commit)
    }
}
