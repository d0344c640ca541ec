//! Publishing into a repository of plain files with a JSON index (bin and generic): the commit
//! protocol applied to files that need no format-specific metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use falco_artifacts_core::{
    Artifact, DigestSet, DigestingReader, Overwrite, PublishedFile, Retention, Sha256Digest,
};
use futures::{StreamExt as _, TryStreamExt as _};
use std::borrow::Cow;

use crate::commit::{Commit, IndexFile};
use crate::error::PublishError;
use crate::html;
use crate::index::{by_hash_key, IndexEntry, ProtocolState, RepoIndex, INDEX_HTML, INDEX_JSON};
use crate::lock::{LockGuard, LockOptions};
use crate::protocol::Format;
use crate::retention;
use crate::store::{Created, RepoStore};

/// How many store requests run at once while checking and uploading files.
const CONCURRENCY: usize = 8;

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
            file_name: self.artifact.file_name().to_owned(),
            sha256: *self.artifact.sha256(),
            size: self.artifact.size(),
            version: self.artifact.version().cloned(),
            arch: self.artifact.arch(),
        }
    }

    fn entry(&self, time: DateTime<Utc>) -> IndexEntry {
        IndexEntry {
            path: self.key.clone(),
            name: self.artifact.file_name().to_owned(),
            kind: self.artifact.kind().into(),
            version: self.artifact.version().cloned(),
            arch: self.artifact.arch(),
            size: self.artifact.size(),
            sha256: *self.artifact.sha256(),
            time,
        }
    }
}

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

/// A repository of files at `store`'s root.
#[derive(Debug, Clone)]
pub(crate) struct FileRepo {
    /// The repository's name in reports (`bin-dev`).
    pub(crate) name: String,
    pub(crate) store: RepoStore,
    pub(crate) lock: LockOptions,
    /// Index generations kept content-addressed (the live one included).
    pub(crate) generations: usize,
    /// Whether the index is split into one content-addressed bucket per group (first path
    /// component), so a publish rewrites the buckets of the groups it touches only.
    pub(crate) split: bool,
}

impl FileRepo {
    /// The repository `name` (`deb-dev`) under `base` (`packages`, or the store root when
    /// empty), with the lock and generations of `options`.
    pub(crate) fn open(
        store: &RepoStore,
        base: &str,
        name: &str,
        options: &crate::options::RepositoryOptions,
    ) -> Result<FileRepo, PublishError> {
        let path = if base.is_empty() {
            name.to_owned()
        } else {
            format!("{base}/{name}")
        };
        Ok(FileRepo {
            name: name.to_owned(),
            store: store.at(&path)?,
            lock: options.lock,
            generations: options.index_generations,
            split: false,
        })
    }
}

/// Reads an artifact's bytes off the async threads, checking them against its digest.
pub(crate) async fn read_artifact(artifact: Arc<dyn Artifact>) -> Result<Bytes, PublishError> {
    tokio::task::spawn_blocking(move || {
        let name = artifact.file_name().to_owned();
        let read_err = |source| PublishError::ReadArtifact {
            name: name.clone(),
            source,
        };
        let capacity = usize::try_from(artifact.size()).unwrap_or(0);
        let mut bytes = Vec::with_capacity(capacity);
        let mut reader =
            DigestingReader::new(artifact.open().map_err(read_err)?, DigestSet::SHA256);
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
    })
    .await
    .map_err(PublishError::Task)?
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

/// What the index will be after merging, and what falls out.
pub(crate) struct Merged {
    files: BTreeMap<String, IndexEntry>,
    doomed: Vec<IndexEntry>,
    now: DateTime<Utc>,
}

fn merge(
    previous: &RepoIndex,
    staged: &[Staged],
    retention: Retention,
    now: DateTime<Utc>,
) -> Merged {
    let mut files: BTreeMap<String, IndexEntry> = previous
        .files
        .iter()
        .map(|e| (e.path.clone(), e.clone()))
        .collect();
    for s in staged {
        let time = previous
            .get(&s.key)
            .filter(|old| &old.sha256 == s.artifact.sha256())
            .map_or(now, |old| old.time);
        files.insert(s.key.clone(), s.entry(time));
    }
    let all: Vec<IndexEntry> = files.values().cloned().collect();
    let doomed: Vec<IndexEntry> = retention::doomed(&all, retention)
        .into_iter()
        .filter_map(|path| files.remove(&path))
        .collect();
    Merged { files, doomed, now }
}

impl FileRepo {
    /// The live index and the bytes of its top file; an empty index when there is none yet.
    /// A split index's buckets are read and joined into [`RepoIndex::files`], so every reader
    /// (publish, verify, lists) sees all files whichever way the index is stored.
    pub(crate) async fn read_index(&self) -> Result<(RepoIndex, Option<Bytes>), PublishError> {
        let corrupt = |key: &str| {
            let key = format!("{}/{key}", self.store.root());
            move |source| PublishError::Corrupt { key, source }
        };
        let Some(bytes) = self.store.get(INDEX_JSON).await? else {
            return Ok((RepoIndex::empty(self.store.root()), None));
        };
        let mut index: RepoIndex = serde_json::from_slice(&bytes).map_err(corrupt(INDEX_JSON))?;
        if !index.buckets.is_empty() {
            let reads: Vec<_> = index
                .buckets
                .iter()
                .map(|bucket| self.read_bucket(bucket))
                .collect();
            let buckets: Vec<Vec<IndexEntry>> = futures::stream::iter(reads)
                .buffered(CONCURRENCY)
                .try_collect()
                .await?;
            index.files.extend(buckets.into_iter().flatten());
            index.files.sort_by(|a, b| a.path.cmp(&b.path));
        }
        Ok((index, Some(bytes)))
    }

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

    /// Decides per file: new, same bytes, or different bytes (refused when immutable).
    pub(crate) async fn classify(
        &self,
        staged: &[Staged],
        hint: &RepoIndex,
        overwrite: Overwrite,
    ) -> Result<Vec<Action>, PublishError> {
        let checks: Vec<_> = staged
            .iter()
            .map(|s| self.classify_one(s, hint, overwrite))
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
    ) -> Result<Action, PublishError> {
        let Some(meta) = self.store.head(&s.key).await? else {
            return Ok(Action::Upload);
        };
        match self.existing_sha(&s.key, meta.size, hint).await? {
            None => Ok(Action::Upload),
            Some(sha) if &sha == s.artifact.sha256() => Ok(Action::Unchanged),
            Some(sha) => match overwrite {
                Overwrite::Replace => Ok(Action::Replace),
                Overwrite::Immutable => Err(self.conflict(s, sha)),
            },
        }
    }

    fn conflict(&self, s: &Staged, existing: Sha256Digest) -> PublishError {
        PublishError::Conflict {
            repository: self.store.root().to_owned(),
            key: s.key.clone(),
            existing,
            new: *s.artifact.sha256(),
        }
    }

    /// Creates the new files under their immutable names; a file that appeared meanwhile is
    /// classified again.
    pub(crate) async fn upload_new(
        &self,
        staged: &[Staged],
        actions: &mut [Action],
        overwrite: Overwrite,
    ) -> Result<(), PublishError> {
        let uploads: Vec<_> = staged
            .iter()
            .zip(actions.iter())
            .map(|(s, action)| self.upload_one(s, *action, overwrite))
            .collect();
        let results: Vec<Action> = futures::stream::iter(uploads)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        actions.copy_from_slice(&results);
        Ok(())
    }

    async fn upload_one(
        &self,
        s: &Staged,
        action: Action,
        overwrite: Overwrite,
    ) -> Result<Action, PublishError> {
        if action != Action::Upload {
            return Ok(action);
        }
        let bytes = read_artifact(Arc::clone(&s.artifact)).await?;
        match self.store.create(&s.key, bytes.into()).await? {
            Created::New => Ok(Action::Upload),
            Created::Exists => match self.store.sha256(&s.key).await? {
                Some((sha, _)) if &sha == s.artifact.sha256() => Ok(Action::Unchanged),
                Some((sha, _)) if overwrite == Overwrite::Immutable => Err(self.conflict(s, sha)),
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

    /// The commit that makes `files` the next generation after `previous`.
    pub(crate) fn commit(
        &self,
        previous: &RepoIndex,
        previous_bytes: Option<&Bytes>,
        files: BTreeMap<String, IndexEntry>,
        doomed: &[IndexEntry],
        now: DateTime<Utc>,
    ) -> Commit {
        let mut by_hash: Vec<String> = previous_bytes
            .map(|b| by_hash_key(&Sha256Digest::of_bytes(b)))
            .into_iter()
            .chain(previous.protocol.by_hash.iter().cloned())
            .collect();
        by_hash.dedup();
        let dropped = by_hash.split_off(by_hash.len().min(self.generations.saturating_sub(1)));
        let pruned: Vec<String> = doomed.iter().map(|e| e.path.clone()).collect();
        let mut delete: BTreeSet<String> = previous
            .protocol
            .pruned
            .iter()
            .filter(|k| !files.contains_key(*k))
            .cloned()
            .collect();
        delete.extend(pruned.iter().cloned());
        delete.extend(dropped);
        let mut content_addressed = Vec::new();
        let (files, buckets, retired) = if self.split {
            let (buckets, written, retired) = crate::split::split(previous, files.into_values());
            content_addressed.extend(written);
            // Buckets the previous generation retired are no longer read by anyone.
            delete.extend(
                previous
                    .protocol
                    .retired
                    .iter()
                    .filter(|k| !buckets.iter().any(|b| &&b.key == k))
                    .cloned(),
            );
            (Vec::new(), buckets, retired)
        } else {
            (files.into_values().collect(), Vec::new(), Vec::new())
        };
        let index = RepoIndex {
            format: 1,
            repository: self.store.root().to_owned(),
            generated: now,
            files,
            buckets,
            protocol: ProtocolState {
                pruned,
                by_hash,
                retired,
            },
        };
        let json = Bytes::from(index.to_json());
        let html = Bytes::from(if self.split {
            html::render_buckets(&index)
        } else {
            html::render(&index)
        });
        content_addressed.push(IndexFile {
            key: by_hash_key(&Sha256Digest::of_bytes(&json)),
            bytes: json.clone().into(),
        });
        Commit {
            content_addressed,
            canonical: vec![IndexFile {
                key: INDEX_HTML.into(),
                bytes: html.into(),
            }],
            top: vec![IndexFile {
                key: INDEX_JSON.into(),
                bytes: json.into(),
            }],
            restore: Vec::new(),
            delete: delete.into_iter().collect(),
        }
    }
}

/// Releases the lock after `result`; a failed publish keeps its own error.
pub(crate) async fn finish<T>(
    guard: LockGuard,
    result: Result<T, PublishError>,
) -> Result<T, PublishError> {
    match result {
        Ok(value) => guard.release().await.map(|()| value),
        Err(error) => {
            // The publish already failed; a lock we cannot release expires with its lease.
            let _ = guard.release().await;
            Err(error)
        }
    }
}

/// The JSON index of bin and generic repositories: `index.json` (the top file, possibly split
/// into content-addressed buckets) and its `index.html`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonIndex;

#[async_trait]
impl Format for JsonIndex {
    type Live = (RepoIndex, Option<Bytes>);
    type Offer = ();
    type Merged = Merged;

    async fn read(
        &self,
        repo: &FileRepo,
        _: Option<&BTreeSet<u8>>,
    ) -> Result<Self::Live, PublishError> {
        repo.read_index().await
    }

    fn exists(&self, (_, top): &Self::Live) -> bool {
        top.is_some()
    }

    fn pending(&self, (index, _): &Self::Live) -> bool {
        !index.protocol.pruned.is_empty()
    }

    fn hint<'a>(&self, (index, _): &'a Self::Live) -> Cow<'a, RepoIndex> {
        Cow::Borrowed(index)
    }

    fn indexed(&self, (index, _): &Self::Live, staged: &[Staged], _: &[()]) -> bool {
        staged.iter().all(|s| {
            index
                .get(&s.key)
                .is_some_and(|e| &e.sha256 == s.artifact.sha256())
        })
    }

    fn merge(
        &self,
        (index, _): &Self::Live,
        staged: &[Staged],
        _: &[()],
        retention: Retention,
    ) -> Merged {
        merge(index, staged, retention, Utc::now())
    }

    fn pruned(&self, repository: &str, merged: &Merged) -> Vec<PublishedFile> {
        merged
            .doomed
            .iter()
            .map(|e| e.to_published(repository))
            .collect()
    }

    fn commit(
        &self,
        repo: &FileRepo,
        (index, top): &Self::Live,
        merged: Merged,
    ) -> Result<Commit, PublishError> {
        Ok(repo.commit(
            index,
            top.as_ref(),
            merged.files,
            &merged.doomed,
            merged.now,
        ))
    }
}
