//! The next generation's index files: `Packages` (compressed), `Release`, its signatures.

use std::collections::BTreeSet;
use std::io::Write as _;

use bytes::Bytes;
use chrono::Utc;
use falco_artifacts_core::compress::{available_threads, Codec, Compression, Encoder};
use falco_artifacts_core::{DigestSet, Digests};

use super::merge::Merged;
use super::packages::{self, Stanza};
use super::release::{Listed, Release};
use super::state::{Bookkeeping, Live, BOOKKEEPING};
use super::AptRepository;
use crate::commit::{Commit, IndexFile};
use crate::error::PublishError;

/// `Packages.gz` on every core: it is most of the work of adding one package to a large
/// repository.
fn compress_gz(data: &[u8], level: u32) -> Result<Vec<u8>, std::io::Error> {
    let mut encoder = Encoder::new(
        Vec::with_capacity(data.len() / 4),
        Compression::new(Codec::Gzip, level),
        available_threads(),
    )?;
    encoder.write_all(data)?;
    encoder.finish()
}

fn compress_xz(data: &[u8], level: u32) -> Result<Vec<u8>, std::io::Error> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), level);
    encoder.write_all(data)?;
    encoder.finish()
}

/// MD5 and SHA-256 of bytes in memory.
fn digests_of(bytes: &[u8]) -> Digests {
    let mut writer =
        falco_artifacts_core::DigestingWriter::new(std::io::sink(), DigestSet::WITH_MD5);
    // Writing to a sink cannot fail.
    let _ = writer.write_all(bytes);
    writer.finish().1
}

impl AptRepository {
    fn sign(&self, release: &str) -> Result<Option<(String, String)>, PublishError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let inline = signer
            .sign_cleartext(release)
            .map_err(|source| PublishError::Sign {
                what: "InRelease",
                source,
            })?;
        let detached = signer
            .sign_detached_armored(&mut release.as_bytes())
            .map_err(|source| PublishError::Sign {
                what: "Release.gpg",
                source,
            })?;
        Ok(Some((inline, detached)))
    }

    /// The commit making `merged` live after `live`.
    pub(super) fn commit(
        &self,
        live: &Live,
        merged: &Merged,
        generations: usize,
    ) -> Result<Commit, PublishError> {
        let mut commit = Commit::default();
        let mut listed = Vec::new();
        let mut this_generation = Vec::new();
        for (arch, stanzas) in &merged.stanzas {
            let refs: Vec<&Stanza> = stanzas.iter().collect();
            let plain = Bytes::from(packages::render(&refs));
            let dir = self.layout.binary_dir(arch);
            let mut variants = vec![("Packages", plain.clone())];
            let gz =
                compress_gz(&plain, self.gzip_level).map_err(|source| PublishError::Compress {
                    what: format!("{dir}/Packages.gz"),
                    source,
                })?;
            variants.push(("Packages.gz", Bytes::from(gz)));
            if let Some(level) = self.xz_level {
                let xz = compress_xz(&plain, level).map_err(|source| PublishError::Compress {
                    what: format!("{dir}/Packages.xz"),
                    source,
                })?;
                variants.push(("Packages.xz", Bytes::from(xz)));
            }
            for (name, bytes) in variants {
                let digests = digests_of(&bytes);
                let by_hash = self.layout.by_hash(arch, &digests.sha256);
                this_generation.push(by_hash.clone());
                commit.content_addressed.push(IndexFile {
                    key: by_hash,
                    bytes: bytes.clone(),
                });
                commit.canonical.push(IndexFile {
                    key: format!("{}/{dir}/{name}", self.layout.dists()),
                    bytes,
                });
                listed.push(Listed {
                    path: format!("{dir}/{name}"),
                    size: digests.size,
                    md5: digests.md5.unwrap_or_default(),
                    sha256: digests.sha256,
                });
            }
        }
        let arches = self.deb_arches();
        let release = Release {
            origin: &self.origin,
            label: &self.label,
            suite: &self.layout.suite,
            component: &self.layout.component,
            architectures: &arches,
            date: Utc::now(),
            files: &listed,
        }
        .render();

        let mut by_hash = vec![this_generation];
        by_hash.extend(live.bookkeeping.by_hash.iter().cloned());
        let dropped: Vec<Vec<String>> = by_hash.split_off(by_hash.len().min(generations));
        let kept: BTreeSet<&String> = by_hash.iter().flatten().collect();
        let named: BTreeSet<&str> = merged
            .stanzas
            .values()
            .flatten()
            .map(|s| s.filename.as_str())
            .collect();
        let pruned: Vec<String> = merged
            .pruned_files
            .iter()
            .flat_map(|(f, _)| [f.clone(), format!("{f}.asc")])
            .collect();
        let mut delete: BTreeSet<String> = live
            .bookkeeping
            .pruned
            .iter()
            .filter(|f| !named.contains(f.trim_end_matches(".asc")))
            .cloned()
            .collect();
        delete.extend(pruned.iter().cloned());
        delete.extend(dropped.into_iter().flatten().filter(|k| !kept.contains(k)));
        let bookkeeping = Bookkeeping { by_hash, pruned };
        commit.canonical.push(IndexFile {
            key: BOOKKEEPING.into(),
            bytes: Bytes::from(serde_json::to_vec_pretty(&bookkeeping).unwrap_or_default()),
        });

        let signed = self.sign(&release)?;
        commit.top.push(IndexFile {
            key: self.layout.release(),
            bytes: Bytes::from(release),
        });
        if let Some((inline, detached)) = signed {
            commit.top.push(IndexFile {
                key: self.layout.release_gpg(),
                bytes: Bytes::from(detached),
            });
            // Last: apt reads InRelease first, so it is the commit point.
            commit.top.push(IndexFile {
                key: self.layout.in_release(),
                bytes: Bytes::from(inline),
            });
        }
        commit.delete = delete.into_iter().collect();
        Ok(commit)
    }
}
