//! Reading an APT repository the way apt does and reporting every problem.

use std::collections::BTreeSet;

use chrono::Utc;
use falco_artifacts_core::Sha256Digest;

use super::state;
use super::AptRepository;
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::protocol::lock;
use crate::verify::{Problem, VerifyOptions, VerifyReport};

pub(super) async fn verify(
    apt: &AptRepository,
    files: &FileRepo,
    options: &VerifyOptions,
) -> Result<VerifyReport, PublishError> {
    let store = &files.store;
    let layout = &apt.layout;
    let mut report = VerifyReport {
        repository: store.root().to_owned(),
        ..VerifyReport::default()
    };
    let release = store.get(&layout.release()).await?;
    if let Some(release) = &release {
        let text = String::from_utf8_lossy(release).into_owned();
        // Every index Release names, at its canonical name and by hash.
        for (path, sha, size) in super::release::sha256_list(&text) {
            let by_hash = format!("{}/{}/by-hash/SHA256/{sha}", layout.dists(), parent(&path));
            let canonical = format!("{}/{path}", layout.dists());
            for (key, strict) in [(by_hash, true), (canonical, false)] {
                let problem = match store.get(&key).await? {
                    None => Some(Problem::MissingFile { path: key }),
                    Some(bytes)
                        if bytes.len() as u64 != size || Sha256Digest::of_bytes(&bytes) != sha =>
                    {
                        Some(if strict {
                            Problem::HashMismatch {
                                path: key,
                                indexed: sha,
                                stored: Sha256Digest::of_bytes(&bytes),
                            }
                        } else {
                            Problem::CanonicalAhead { path: key }
                        })
                    }
                    Some(_) => None,
                };
                report.problems.extend(problem);
            }
        }
        if apt.signer.is_some() {
            for key in [layout.in_release(), layout.release_gpg()] {
                match store.get(&key).await? {
                    None => report
                        .problems
                        .push(Problem::MissingSignature { path: key }),
                    Some(bytes) if key.ends_with("InRelease") => {
                        let signed = String::from_utf8_lossy(&bytes);
                        if !signed.contains(text.trim_end()) {
                            report.problems.push(Problem::SignatureBehind { path: key });
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let live = state::read(store, layout).await?;
    let mut named = BTreeSet::new();
    for (path, (sha, size)) in live.pool_files() {
        report.files += 1;
        named.insert(path.to_owned());
        match store.head(path).await? {
            None => report.problems.push(Problem::MissingFile {
                path: path.to_owned(),
            }),
            Some(meta) if meta.size != size => report.problems.push(Problem::SizeMismatch {
                path: path.to_owned(),
                indexed: size,
                stored: meta.size,
            }),
            Some(_) if options.check_hashes => {
                if let Some((stored, _)) = store.sha256(path).await? {
                    if stored != sha {
                        report.problems.push(Problem::HashMismatch {
                            path: path.to_owned(),
                            indexed: sha,
                            stored,
                        });
                    }
                }
            }
            Some(_) => {}
        }
    }
    for (key, _) in store.list(&layout.suite).await? {
        let owner = key.strip_suffix(".asc").unwrap_or(&key);
        if !named.contains(owner) {
            report.problems.push(Problem::Unindexed { path: key });
        }
    }
    if let Some(state) = lock::state(store).await? {
        if state.held && state.expires < Utc::now() {
            report.problems.push(Problem::StaleLock {
                holder: state.holder,
                expired: state.expires,
            });
        }
    }
    Ok(report)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}
