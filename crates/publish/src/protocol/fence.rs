//! Fencing: a commit writes its top files only over the versions that were live when it took
//! the lock, so a publisher whose lease ran out (paused, slow, its clock wrong) fails instead
//! of overwriting the generation of the publisher that took the lock over after it.
//!
//! The versions are read right after the lock is taken and before the live index is: a
//! generation committed in between makes our write fail (a retry), never lost. The write is
//! a conditional put where the store has one (`If-Match` / `If-None-Match: *` on S3, the
//! in-memory store's versions, a locked compare on `file://`); a store without one is written
//! as before, guarded by the lease check alone.

use std::collections::BTreeMap;

use crate::error::PublishError;
use crate::store::{Expected, RepoStore};

/// The top files' versions as read when the lock was taken.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fence {
    expected: BTreeMap<String, Expected>,
}

impl Fence {
    /// Reads the versions of `keys` (one `HEAD` each).
    pub(crate) async fn read(store: &RepoStore, keys: Vec<String>) -> Result<Fence, PublishError> {
        let mut expected = BTreeMap::new();
        for key in keys {
            let version = store.expect(&key).await?;
            expected.insert(key, version);
        }
        Ok(Fence { expected })
    }

    /// What `key` must still be for a top write to go ahead; `None` for a key read after the
    /// lock was taken by nobody (written unconditionally).
    pub(crate) fn expected(&self, key: &str) -> Option<&Expected> {
        self.expected.get(key)
    }
}

#[cfg(test)]
mod tests;
