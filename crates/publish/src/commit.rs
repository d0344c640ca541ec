//! The commit order every repository format follows, and nothing else.

use bytes::Bytes;

use crate::error::PublishError;
use crate::lock::LockGuard;
use crate::store::RepoStore;

/// One index file to write.
#[derive(Debug, Clone)]
pub(crate) struct IndexFile {
    pub(crate) key: String,
    pub(crate) bytes: Bytes,
}

/// The writes of one commit, by phase.
///
/// Applied under the repository lock in this order: content-addressed files (created, never
/// replaced: their name is their digest), canonical names, a last lock check, the top file(s)
/// that make the new generation live, and only then deletions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Commit {
    pub(crate) content_addressed: Vec<IndexFile>,
    pub(crate) canonical: Vec<IndexFile>,
    pub(crate) top: Vec<IndexFile>,
    /// When a top file after the first fails to be written, the earlier ones are put back
    /// to these contents (`None`: deleted), so a top file and its signature keep matching.
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

    /// Applies the commit to `store` while `guard` holds its lock.
    pub(crate) async fn apply(
        self,
        store: &RepoStore,
        guard: &LockGuard,
    ) -> Result<(), PublishError> {
        for file in self.content_addressed {
            // Exists means the same bytes are already there: the name is their digest.
            store.create(&file.key, file.bytes.into()).await?;
        }
        for file in self.canonical {
            store.overwrite(&file.key, file.bytes.into()).await?;
        }
        guard.check().await?;
        for (n, file) in self.top.into_iter().enumerate() {
            if let Err(error) = store.overwrite(&file.key, file.bytes.into()).await {
                if n > 0 {
                    for (key, bytes) in self.restore {
                        // Already failing: the publish's own error is the one to report.
                        let _ = match bytes {
                            Some(bytes) => store.overwrite(&key, bytes.into()).await,
                            None => store.delete(&key).await,
                        };
                    }
                }
                return Err(error);
            }
        }
        for key in self.delete {
            store.delete(&key).await?;
        }
        Ok(())
    }
}
