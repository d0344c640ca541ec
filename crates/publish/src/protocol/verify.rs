//! Verification, once for every format: the format checks what its top file names (index
//! files, signatures); then every file the live index names is checked against the store
//! (present, size, and digest when asked), every stored package file the index does not
//! name is reported (unless it waits for deletion, still named by a kept generation; the
//! same walk finds the orphans a failed publish leaves), and so is a lock held past its
//! lease.

use std::collections::BTreeMap;

use chrono::Utc;
use object_store::ObjectMeta;

use super::{lock, Format};
use crate::engine::FileRepo;
use crate::error::PublishError;
use falco_artifacts_core::{Problem, VerifyOptions, VerifyReport};

/// Reads `repo` like a client of `format` and reports every problem.
pub(crate) async fn verify<F: Format>(
    format: &F,
    repo: &FileRepo,
    options: &VerifyOptions,
) -> Result<VerifyReport, PublishError> {
    let store = &repo.store;
    let mut report = VerifyReport {
        repository: store.root().to_owned(),
        ..VerifyReport::default()
    };
    if format.check_top(repo, &mut report.problems).await? {
        let live = format.read_all(repo).await?;
        let index = format.hint(&live);
        let listed = store.list("").await?;
        let stored: BTreeMap<&str, u64> =
            listed.iter().map(|(k, m)| (k.as_str(), m.size)).collect();
        for entry in &index.files {
            report.files += 1;
            let path = || entry.path.clone();
            match stored.get(entry.path.as_str()) {
                None => report.problems.push(Problem::MissingFile { path: path() }),
                Some(&size) if size != entry.size => report.problems.push(Problem::SizeMismatch {
                    path: path(),
                    indexed: entry.size,
                    stored: size,
                }),
                Some(_) if options.check_hashes => match store.sha256(&entry.path).await? {
                    None => report.problems.push(Problem::MissingFile { path: path() }),
                    Some((sha, _)) if sha != entry.sha256 => {
                        report.problems.push(Problem::HashMismatch {
                            path: path(),
                            indexed: entry.sha256,
                            stored: sha,
                        });
                    }
                    Some(_) => {}
                },
                Some(_) => {}
            }
        }
        for (key, _) in unindexed(format, &live, &listed) {
            report
                .problems
                .push(Problem::Unindexed { path: key.clone() });
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

/// The objects of `listed` that are package files of `format` (or their signatures) which
/// `live` does not name: [`Problem::Unindexed`], and the orphans
/// [`orphans`](super::orphans) deletes. Pruned files an older kept generation still names
/// wait for deletion: not garbage.
pub(crate) fn unindexed<'l, F: Format>(
    format: &F,
    live: &F::Live,
    listed: &'l [(String, ObjectMeta)],
) -> Vec<&'l (String, ObjectMeta)> {
    let index = format.hint(live);
    let waiting = format.waiting(live);
    listed
        .iter()
        .filter(|(key, _)| {
            !waiting.contains(key.as_str())
                && format
                    .owner(key)
                    .is_some_and(|owner| index.get(owner).is_none())
        })
        .collect()
}
