//! The commit order every repository format follows, and nothing else.

use bytes::Bytes;
use object_store::PutPayload;

use crate::error::PublishError;
use crate::local_dir::same_bytes;
use crate::protocol::fence::Fence;
use crate::protocol::lock::LockGuard;
use crate::store::{Fenced, RepoStore, Write};

/// One index file to write.
#[derive(Debug, Clone)]
pub(crate) struct IndexFile {
    pub(crate) key: String,
    /// The bytes, possibly in several chunks (a bucketed index is assembled without copying).
    pub(crate) bytes: PutPayload,
}

/// The writes of one commit, by phase.
///
/// Applied under the repository lock in this order: content-addressed files (created, never
/// replaced: their name is their digest), canonical names, a last lock check, the top file(s)
/// that make the new generation live (each only over the version the [`Fence`] read when the
/// lock was taken), and only then deletions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Commit {
    pub(crate) content_addressed: Vec<IndexFile>,
    pub(crate) canonical: Vec<IndexFile>,
    pub(crate) top: Vec<IndexFile>,
    /// When a top file fails to be written (or may have been: an error can follow a write that
    /// landed), these are put back to their previous contents (`None`: deleted), so a top
    /// file and its signature keep matching.
    /// Best effort: a publisher that dies there leaves the mismatch to the next publish.
    pub(crate) restore: Vec<(String, Option<Bytes>)>,
    pub(crate) delete: Vec<String>,
}

impl Commit {
    /// The keys written, in order.
    pub(crate) fn written_keys(&self) -> Vec<String> {
        self.content_addressed
            .iter()
            .chain(&self.canonical)
            .chain(&self.top)
            .map(|f| f.key.clone())
            .collect()
    }

    /// Applies the commit to `store` while `guard` holds its lock; `fence`: the top files'
    /// versions read when it was taken.
    pub(crate) async fn apply(
        self,
        store: &RepoStore,
        guard: &LockGuard,
        fence: &Fence,
    ) -> Result<(), PublishError> {
        // Exists means the same bytes are already there: the name is their digest.
        store
            .write_all(
                self.content_addressed
                    .iter()
                    .map(|f| Write::Create {
                        key: &f.key,
                        bytes: &f.bytes,
                    })
                    .collect(),
            )
            .await?;
        // A canonical name usually holds the same bytes as a content-addressed file just
        // created (the very same buffer): it becomes a copy of that one.
        let canonical = self
            .canonical
            .iter()
            .map(|f| Write::Overwrite {
                key: &f.key,
                bytes: &f.bytes,
                twin: self
                    .content_addressed
                    .iter()
                    .find(|ca| {
                        let (a, b): (&[Bytes], &[Bytes]) = (ca.bytes.as_ref(), f.bytes.as_ref());
                        a.len() == b.len() && a.as_ptr() == b.as_ptr()
                    })
                    .map(|ca| ca.key.as_str()),
            })
            .collect();
        store.write_all(canonical).await?;
        guard.check().await?;
        for (n, file) in self.top.iter().enumerate() {
            let written = match fence.expected(&file.key) {
                Some(expected) => {
                    store
                        .overwrite_if(&file.key, file.bytes.clone(), expected)
                        .await
                }
                None => store
                    .overwrite(&file.key, file.bytes.clone())
                    .await
                    .map(|()| Fenced::Unfenced),
            };
            let error = match written {
                Ok(Fenced::Written | Fenced::Unfenced) => continue,
                // A retried put whose first attempt landed finds our own bytes there.
                Ok(Fenced::Moved) if holds(store, file).await => continue,
                Ok(Fenced::Moved) => {
                    let superseded = PublishError::Superseded {
                        repository: store.root().to_owned(),
                        key: file.key.clone(),
                    };
                    if n == 0 {
                        // Nothing of ours went live, and the newer generation's files must
                        // not be put back to ours.
                        return Err(superseded);
                    }
                    superseded
                }
                Err(error) => error,
            };
            // Also when the first one fails: a write can land and still report an error (a
            // timeout after the PUT), which would leave a new top file beside an old
            // signature.
            for (key, bytes) in self.restore {
                // Already failing: the publish's own error is the one to report.
                let _ = match bytes {
                    Some(bytes) => store.overwrite(&key, bytes.into()).await,
                    None => store.delete(&key).await,
                };
            }
            return Err(error);
        }
        // Deletions are deferred clean-up: once the lease is gone another holder may be
        // committing an index that names a key again, so they wait for the next holder.
        if !self.delete.is_empty() && guard.check().await.is_err() {
            return Ok(());
        }
        for key in self.delete {
            store.delete(&key).await?;
        }
        Ok(())
    }
}

/// Whether `file.key` holds exactly `file`'s bytes.
async fn holds(store: &RepoStore, file: &IndexFile) -> bool {
    matches!(store.get(&file.key).await, Ok(Some(stored)) if same_bytes(&file.bytes, &stored))
}
