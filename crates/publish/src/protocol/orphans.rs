//! Orphans, once for every format: package files (and their signatures) that a publish
//! uploaded before failing to commit the index naming them. No live index names them and no
//! kept generation does (files waiting for deletion are not orphans), so nothing serves them,
//! but they hold their immutable names: a corrected publish of the same release is refused
//! until they are deleted. Found with verification's walk ([`unindexed`]), never a second one.

use falco_artifacts_core::Orphan;

use super::verify::unindexed;
use super::{finish, Format};
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::protocol::lock::LockGuard;

/// The orphans of `repo`, sorted by key, against the index live now.
pub(crate) async fn orphans<F: Format>(
    format: &F,
    repo: &FileRepo,
) -> Result<Vec<Orphan>, PublishError> {
    // The whole index, as verification reads it: a file is an orphan only if no part of the
    // index names it. An index that cannot be read fails here, so nothing is deleted on a
    // guess.
    let live = format.read_all(repo).await?;
    let listed = repo.store.list("").await?;
    let mut found: Vec<Orphan> = unindexed(format, &live, &listed)
        .into_iter()
        .map(|(key, meta)| Orphan {
            repository: repo.name.clone(),
            key: key.clone(),
            size: meta.size,
        })
        .collect();
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

/// Deletes the orphans of `repo` and returns them. They are found again under the lock, so a
/// file a publisher indexed meanwhile is kept. A publisher that uploaded a file and has not
/// taken the lock yet may lose it here; it puts it back under the lock before committing
/// (see [`FileRepo::settle`]).
pub(crate) async fn remove<F: Format>(
    format: &F,
    repo: &FileRepo,
) -> Result<Vec<Orphan>, PublishError> {
    let guard = LockGuard::acquire(&repo.store, &repo.lock).await?;
    let result = async {
        let found = orphans(format, repo).await?;
        // Another holder may index one of them once our lease is gone.
        guard.check().await?;
        for orphan in &found {
            repo.store.delete(&orphan.key).await?;
        }
        Ok(found)
    }
    .await;
    finish(guard, result).await
}
