//! Upload, the protocol's first step and its re-check under the lock: every file is
//! classified (new, same bytes, different bytes) before anything is written, created under
//! its immutable name, and put back under the lock when another publisher deleted it since.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::Arc;

use bytes::Bytes;
use falco_artifacts_core::{
    Artifact, DigestSet, DigestingReader, Occupant, Overwrite, PublishedFile, Retention,
    Sha256Digest,
};
use futures::{StreamExt as _, TryStreamExt as _};

use crate::chunked::map_in_chunks;
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::index::RepoIndex;
use crate::store::Created;

/// How many store requests run at once while checking and uploading files.
pub(crate) const CONCURRENCY: usize = 8;
/// Above this many new files, an upload is made durable by one sync of the store's
/// filesystem instead of a sync per file.
const BATCH_SYNC: usize = 64;

/// An artifact and the key it is published under.
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    pub(crate) key: String,
    pub(crate) artifact: Arc<dyn Artifact>,
}

impl Staged {
    pub(crate) fn published(&self, repository: &str) -> PublishedFile {
        PublishedFile {
            repository: repository.to_owned(),
            key: self.key.clone(),
            file_name: self.artifact.file_name().to_owned(),
            sha256: *self.artifact.sha256(),
            size: self.artifact.size(),
            version: self.artifact.version().cloned(),
            arch: self.artifact.arch(),
        }
    }
}

/// What holds a stored key, by the live index a publish read (see
/// [`occupant`](super::occupant)).
pub(crate) type Occupancy<'a> = dyn Fn(&str) -> Occupant + Send + Sync + 'a;

/// The rules a publish follows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) overwrite: Overwrite,
    pub(crate) retention: Retention,
}

/// What a publish does with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Upload,
    Unchanged,
    Replace,
}

/// Reads an artifact's bytes off the async threads, checking them against its digest.
pub(crate) async fn read_artifact(artifact: Arc<dyn Artifact>) -> Result<Bytes, PublishError> {
    tokio::task::spawn_blocking(move || read_artifact_now(artifact.as_ref()))
        .await
        .map_err(PublishError::Task)?
}

/// [`read_artifact`] on the calling thread.
fn read_artifact_now(artifact: &dyn Artifact) -> Result<Bytes, PublishError> {
    let name = artifact.file_name().to_owned();
    let read_err = |source| PublishError::ReadArtifact {
        name: name.clone(),
        source,
    };
    let capacity = usize::try_from(artifact.size()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    let mut reader = DigestingReader::new(artifact.open().map_err(read_err)?, DigestSet::SHA256);
    reader.read_to_end(&mut bytes).map_err(read_err)?;
    let actual = reader.finish().sha256;
    if &actual != artifact.sha256() {
        return Err(PublishError::ArtifactChanged {
            name,
            expected: *artifact.sha256(),
            actual,
        });
    }
    Ok(Bytes::from(bytes))
}

/// Drops exact duplicates; refuses one key with two contents.
pub(crate) fn dedupe(staged: Vec<Staged>) -> Result<Vec<Staged>, PublishError> {
    let mut seen: BTreeMap<String, Sha256Digest> = BTreeMap::new();
    let mut out = Vec::with_capacity(staged.len());
    for s in staged {
        match seen.get(&s.key) {
            Some(sha) if sha == s.artifact.sha256() => {}
            Some(_) => return Err(PublishError::DuplicateKey { key: s.key }),
            None => {
                seen.insert(s.key.clone(), *s.artifact.sha256());
                out.push(s);
            }
        }
    }
    Ok(out)
}

impl FileRepo {
    /// The digest of what is stored at `key`, from the index when it vouches for the object's
    /// size, otherwise by reading it.
    async fn existing_sha(
        &self,
        key: &str,
        size: u64,
        hint: &RepoIndex,
    ) -> Result<Option<Sha256Digest>, PublishError> {
        if let Some(entry) = hint.get(key).filter(|e| e.size == size) {
            return Ok(Some(entry.sha256));
        }
        Ok(self.store.sha256(key).await?.map(|(sha, _)| sha))
    }

    /// Decides per file: new, same bytes, or different bytes (refused when immutable, the
    /// error saying what `occupant` says holds the name).
    pub(crate) async fn classify(
        &self,
        staged: &[Staged],
        hint: &RepoIndex,
        overwrite: Overwrite,
        occupant: &Occupancy<'_>,
    ) -> Result<Vec<Action>, PublishError> {
        let checks: Vec<_> = staged
            .iter()
            .map(|s| self.classify_one(s, hint, overwrite, occupant))
            .collect();
        futures::stream::iter(checks)
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    async fn classify_one(
        &self,
        s: &Staged,
        hint: &RepoIndex,
        overwrite: Overwrite,
        occupant: &Occupancy<'_>,
    ) -> Result<Action, PublishError> {
        let Some(meta) = self.store.head(&s.key).await? else {
            return Ok(Action::Upload);
        };
        match self.existing_sha(&s.key, meta.size, hint).await? {
            None => Ok(Action::Upload),
            Some(sha) if &sha == s.artifact.sha256() => Ok(Action::Unchanged),
            Some(sha) => match overwrite {
                Overwrite::Replace => Ok(Action::Replace),
                Overwrite::Immutable => Err(self.conflict(s, sha, occupant)),
            },
        }
    }

    fn conflict(
        &self,
        s: &Staged,
        existing: Sha256Digest,
        occupant: &Occupancy<'_>,
    ) -> PublishError {
        PublishError::Conflict {
            repository: self.store.root().to_owned(),
            key: s.key.clone(),
            existing,
            new: *s.artifact.sha256(),
            occupant: occupant(&s.key),
        }
    }

    /// Creates the new files under their immutable names; a file that appeared meanwhile is
    /// classified again.
    pub(crate) async fn upload_new(
        &self,
        staged: &[Staged],
        actions: &mut [Action],
        overwrite: Overwrite,
        occupant: &Occupancy<'_>,
    ) -> Result<(), PublishError> {
        let batched = actions.iter().filter(|a| **a == Action::Upload).count() > BATCH_SYNC;
        let created = if batched && self.store.is_local() {
            self.create_local_batch(staged, actions).await?
        } else {
            vec![false; staged.len()]
        };
        let uploads: Vec<_> = staged
            .iter()
            .zip(actions.iter())
            .zip(created)
            .map(|((s, action), created)| async move {
                if created {
                    return Ok(Action::Upload);
                }
                self.upload_one(s, *action, overwrite, occupant, batched)
                    .await
            })
            .collect();
        let results: Vec<Action> = futures::stream::iter(uploads)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        actions.copy_from_slice(&results);
        // The new files go live with the next index, so they are durable before it. A large
        // batch is synced at once, by one sync of the filesystem (on `file://`: 10,000 packages
        // cost one `syncfs`, not 20,000 `fsync`s); a small one file by file, because a
        // `syncfs` also waits for everything else dirty on that filesystem.
        if batched && results.contains(&Action::Upload) {
            self.store.sync().await?;
        }
        Ok(())
    }

    /// A large batch into `file://`: each file read and created on the blocking pool, in a
    /// few long jobs for the whole batch ([`map_in_chunks`]); which files were created. A
    /// name found taken is left to [`FileRepo::upload_one`], whose create finds it again and
    /// classifies what holds it.
    async fn create_local_batch(
        &self,
        staged: &[Staged],
        actions: &[Action],
    ) -> Result<Vec<bool>, PublishError> {
        let uploads: Vec<Option<Staged>> = staged
            .iter()
            .zip(actions)
            .map(|(s, action)| (*action == Action::Upload).then(|| s.clone()))
            .collect();
        let store = self.store.clone();
        map_in_chunks(uploads, move |upload: Option<Staged>| {
            let Some(s) = upload else { return Ok(false) };
            let bytes = read_artifact_now(s.artifact.as_ref())?;
            match store.create_unsynced_blocking(&s.key, &bytes.into()) {
                Some(created) => Ok(created? == Created::New),
                None => Ok(false),
            }
        })
        .await?
        .into_iter()
        .collect()
    }

    async fn upload_one(
        &self,
        s: &Staged,
        action: Action,
        overwrite: Overwrite,
        occupant: &Occupancy<'_>,
        batched: bool,
    ) -> Result<Action, PublishError> {
        if action != Action::Upload {
            return Ok(action);
        }
        let bytes = read_artifact(Arc::clone(&s.artifact)).await?;
        let created = if batched {
            self.store.create_unsynced(&s.key, bytes.into()).await?
        } else {
            self.store.create(&s.key, bytes.into()).await?
        };
        match created {
            Created::New => Ok(Action::Upload),
            Created::Exists => match self.store.sha256(&s.key).await? {
                Some((sha, _)) if &sha == s.artifact.sha256() => Ok(Action::Unchanged),
                Some((sha, _)) if overwrite == Overwrite::Immutable => {
                    Err(self.conflict(s, sha, occupant))
                }
                _ => Ok(Action::Replace),
            },
        }
    }

    /// Under the lock: files uploaded or found in place earlier may have been deleted since by
    /// another publisher; put them back. Replacements are written here, right before the index.
    pub(crate) async fn settle(
        &self,
        staged: &[Staged],
        actions: &[Action],
    ) -> Result<(), PublishError> {
        let settles: Vec<_> = staged
            .iter()
            .zip(actions)
            .map(|(s, action)| self.settle_one(s, *action))
            .collect();
        futures::stream::iter(settles)
            .buffered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn settle_one(&self, s: &Staged, action: Action) -> Result<(), PublishError> {
        match action {
            // Uploaded before the lock, so another publisher's commit may have deleted it
            // since (it re-deletes the keys its previous generation pruned): checked like a
            // file found in place.
            Action::Upload | Action::Unchanged => {
                if self.store.head(&s.key).await?.is_none() {
                    let bytes = read_artifact(Arc::clone(&s.artifact)).await?;
                    self.store.create(&s.key, bytes.into()).await?;
                }
                Ok(())
            }
            Action::Replace => {
                let bytes = read_artifact(Arc::clone(&s.artifact)).await?;
                self.store.overwrite(&s.key, bytes.into()).await
            }
        }
    }
}
