//! Reading a YUM repository the way dnf does and reporting every problem.

use std::collections::BTreeSet;

use chrono::Utc;
use falco_artifacts_core::Sha256Digest;

use super::{repomd, state, YumRepository, REPOMD, REPOMD_ASC};
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::protocol::lock;
use crate::verify::{Problem, VerifyOptions, VerifyReport};

pub(super) async fn verify(
    yum: &YumRepository,
    files: &FileRepo,
    options: &VerifyOptions,
) -> Result<VerifyReport, PublishError> {
    let store = &files.store;
    let mut report = VerifyReport {
        repository: store.root().to_owned(),
        ..VerifyReport::default()
    };
    let Some(repomd_bytes) = store.get(REPOMD).await? else {
        report.problems.extend(lock_problem(files).await?);
        return Ok(report);
    };
    // Every document repomd.xml names, with the digest it gives.
    let listed = repomd::parse(&String::from_utf8_lossy(&repomd_bytes)).map_err(|source| {
        PublishError::BadRepodata {
            key: REPOMD.into(),
            source,
        }
    })?;
    for entry in &listed {
        match store.get(&entry.href).await? {
            None => report.problems.push(Problem::MissingFile {
                path: entry.href.clone(),
            }),
            Some(bytes) => {
                let stored = Sha256Digest::of_bytes(&bytes);
                if stored != entry.checksum {
                    report.problems.push(Problem::HashMismatch {
                        path: entry.href.clone(),
                        indexed: entry.checksum,
                        stored,
                    });
                }
            }
        }
    }
    if yum.signer.is_some() && store.head(REPOMD_ASC).await?.is_none() {
        report.problems.push(Problem::MissingSignature {
            path: REPOMD_ASC.into(),
        });
    }
    if !report.problems.is_empty() {
        return Ok(report);
    }
    let live = state::read_full(store).await?;
    let mut named = BTreeSet::new();
    for record in live.records.values() {
        let path = record.href.as_str();
        report.files += 1;
        named.insert(path.to_owned());
        match store.head(path).await? {
            None => report.problems.push(Problem::MissingFile {
                path: path.to_owned(),
            }),
            Some(meta) if meta.size != record.size => {
                report.problems.push(Problem::SizeMismatch {
                    path: path.to_owned(),
                    indexed: record.size,
                    stored: meta.size,
                });
            }
            Some(_) if options.check_hashes => {
                if let Some((stored, _)) = store.sha256(path).await? {
                    if stored != record.pkgid {
                        report.problems.push(Problem::HashMismatch {
                            path: path.to_owned(),
                            indexed: record.pkgid,
                            stored,
                        });
                    }
                }
            }
            Some(_) => {}
        }
    }
    for (key, _) in store.list("").await? {
        if key.contains('/') {
            continue;
        }
        let owner = key.strip_suffix(".asc").unwrap_or(&key);
        if owner.ends_with(".rpm") && !named.contains(owner) {
            report.problems.push(Problem::Unindexed { path: key });
        }
    }
    report.problems.extend(lock_problem(files).await?);
    Ok(report)
}

async fn lock_problem(files: &FileRepo) -> Result<Option<Problem>, PublishError> {
    Ok(lock::state(&files.store).await?.and_then(|state| {
        (state.held && state.expires < Utc::now()).then_some(Problem::StaleLock {
            holder: state.holder,
            expired: state.expires,
        })
    }))
}
