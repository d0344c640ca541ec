//! The next generation's index files: `Packages` (compressed), `Release`, its signatures.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use bytes::Bytes;
use chrono::Utc;
use falco_artifacts_core::{DigestSet, DigestingWriter, Sha256Digest};
use object_store::PutPayload;

use super::buckets::{self, Carried, DocLayout, Member};
use super::merge::Merged;
use super::packages::Stanza;
use super::release::{Listed, Release};
use super::state::{Live, FORMAT};
use super::AptRepository;
use crate::error::PublishError;
use crate::protocol::commit::{Commit, IndexFile};

fn compress_xz(data: &PutPayload, level: u32) -> Result<Vec<u8>, std::io::Error> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), level);
    for chunk in data {
        encoder.write_all(chunk)?;
    }
    encoder.finish()
}

/// SHA-256 and size of bytes given in chunks.
fn sha256_of(data: &PutPayload) -> (Sha256Digest, u64) {
    let mut writer = DigestingWriter::new(std::io::sink(), DigestSet::SHA256);
    for chunk in data {
        // Writing to a sink cannot fail.
        let _ = writer.write_all(chunk);
    }
    let (_, digests) = writer.finish();
    (digests.sha256, digests.size)
}

/// One architecture's `Packages` and `Packages.gz`, and where each bucket is in them: as
/// chunks, the carried ones slices of the live files, so nothing is copied to assemble them.
struct PackagesFiles {
    plain: PutPayload,
    gz: PutPayload,
    members: Vec<Member>,
}

impl AptRepository {
    /// Builds `Packages` and `Packages.gz` from the parsed `stanzas`, copying the buckets
    /// `carried` holds unparsed and compressing only the others.
    fn packages_files(
        &self,
        stanzas: &[Stanza],
        carried: Option<&Carried>,
    ) -> Result<PackagesFiles, std::io::Error> {
        let parsed = buckets::group(stanzas);
        let texts: Vec<(u8, String)> = parsed
            .iter()
            .map(|(bucket, list)| (*bucket, buckets::render(list)))
            .collect();
        let compressed = crate::buckets::compress(&texts, self.gzip_level)?;
        let mut fresh: BTreeMap<u8, (Bytes, Bytes)> = texts
            .into_iter()
            .zip(compressed)
            .map(|((bucket, text), gz)| (bucket, (Bytes::from(text), Bytes::from(gz))))
            .collect();
        if let Some(carried) = carried {
            for member in &carried.members {
                if let Some(slices) = carried.slices(member) {
                    // A bucket is either carried or parsed, never both (the read decides).
                    fresh.entry(member.bucket).or_insert(slices);
                }
            }
        }
        let (mut plain, mut gz) = (Vec::with_capacity(fresh.len()), Vec::new());
        let (mut plain_len, mut gz_len) = (0u64, 0u64);
        let mut members = Vec::with_capacity(fresh.len());
        for (bucket, (text, member)) in fresh {
            let (p0, g0) = (plain_len, gz_len);
            plain_len += text.len() as u64;
            gz_len += member.len() as u64;
            plain.push(text);
            gz.push(member);
            members.push(Member {
                bucket,
                plain: (p0, plain_len),
                gz: (g0, gz_len),
            });
        }
        if members.is_empty() {
            // An empty index is still one valid gzip stream.
            gz.push(Bytes::from(crate::buckets::gzip_member(
                b"",
                self.gzip_level,
            )?));
        }
        Ok(PackagesFiles {
            plain: plain.into_iter().collect(),
            gz: gz.into_iter().collect(),
            members,
        })
    }

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
            let dir = self.layout.binary_dir(arch);
            let built = self
                .packages_files(stanzas, live.carried.get(arch))
                .map_err(|source| PublishError::Compress {
                    what: format!("{dir}/Packages.gz"),
                    source,
                })?;
            let mut variants = vec![("Packages", built.plain.clone()), ("Packages.gz", built.gz)];
            if let Some(level) = self.xz_level {
                let xz =
                    compress_xz(&built.plain, level).map_err(|source| PublishError::Compress {
                        what: format!("{dir}/Packages.xz"),
                        source,
                    })?;
                variants.push(("Packages.xz", Bytes::from(xz).into()));
            }
            let mut plain_sha = None;
            for (name, bytes) in variants {
                let digests = sha256_of(&bytes);
                if name == "Packages" {
                    plain_sha = Some(digests.0);
                }
                if name == "Packages.gz" {
                    if let Some(plain_sha) = &plain_sha {
                        // Beside the files it describes, created before anything names them.
                        let doc = DocLayout {
                            gz_sha256: digests.0,
                            members: built.members.clone(),
                        };
                        let key = buckets::layout_key(plain_sha);
                        this_generation.push(key.clone());
                        commit.content_addressed.push(IndexFile {
                            key,
                            bytes: Bytes::from(serde_json::to_vec(&doc).unwrap_or_default()).into(),
                        });
                    }
                }
                let by_hash = self.layout.by_hash(arch, &digests.0);
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
                    size: digests.1,
                    sha256: digests.0,
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

        let named: BTreeSet<&str> = merged
            .stanzas
            .values()
            .flatten()
            .map(|s| s.filename.as_str())
            .collect();
        let (bookkeeping, delete) = live.bookkeeping.advance(
            FORMAT,
            release.as_bytes(),
            this_generation,
            generations,
            merged.pruned_files.iter().map(|(f, _)| f.clone()),
            |f| named.contains(f),
        );
        commit.content_addressed.push(bookkeeping);
        commit.delete = delete;

        let signed = self.sign(&release)?;
        commit.top.push(IndexFile {
            key: self.layout.release(),
            bytes: Bytes::from(release).into(),
        });
        if let Some((inline, detached)) = signed {
            commit.top.push(IndexFile {
                key: self.layout.release_gpg(),
                bytes: Bytes::from(detached).into(),
            });
            // Last: apt reads InRelease first, so it is the commit point.
            commit.top.push(IndexFile {
                key: self.layout.in_release(),
                bytes: Bytes::from(inline).into(),
            });
        }
        Ok(commit)
    }
}
