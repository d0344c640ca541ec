//! The split index of a generic repository: one content-addressed bucket per group (first
//! path component), so a publish writes only the buckets of the groups it changes.

use std::collections::BTreeSet;

use bytes::Bytes;
use falco_artifacts_core::Sha256Digest;
use futures::{StreamExt as _, TryStreamExt as _};

use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::index::{by_hash_key, IndexBucket, IndexEntry, RepoIndex};
use crate::protocol::commit::IndexFile;
use crate::protocol::upload::CONCURRENCY;

impl FileRepo {
    /// Reads the buckets a split top file names into [`RepoIndex::files`]: every bucket, or
    /// only those of `groups`; the others are kept in [`RepoIndex::unread`] for the commit to
    /// carry over.
    pub(crate) async fn read_buckets(
        &self,
        index: &mut RepoIndex,
        groups: Option<&BTreeSet<String>>,
    ) -> Result<(), PublishError> {
        if index.buckets.is_empty() {
            return Ok(());
        }
        let (read, unread): (Vec<IndexBucket>, Vec<IndexBucket>) = index
            .buckets
            .iter()
            .cloned()
            .partition(|b| groups.is_none_or(|g| g.contains(&b.group)));
        let reads: Vec<_> = read.iter().map(|bucket| self.read_bucket(bucket)).collect();
        let entries: Vec<Vec<IndexEntry>> = futures::stream::iter(reads)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        index.files.extend(entries.into_iter().flatten());
        index.files.sort_by(|a, b| a.path.cmp(&b.path));
        index.unread = unread;
        Ok(())
    }

    /// One bucket of the live index, checked against the digest the top file names.
    pub(crate) async fn read_bucket(
        &self,
        bucket: &IndexBucket,
    ) -> Result<Vec<IndexEntry>, PublishError> {
        let key = format!("{}/{}", self.store.root(), bucket.key);
        let bytes = self
            .store
            .get(&bucket.key)
            .await?
            .ok_or_else(|| PublishError::MissingBucket { key: key.clone() })?;
        let actual = Sha256Digest::of_bytes(&bytes);
        if actual != bucket.sha256 {
            return Err(PublishError::BucketChanged {
                key,
                expected: bucket.sha256,
                actual,
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| PublishError::Corrupt { key, source })
    }
}

/// The buckets of `files` (sorted by path, so each group's entries are contiguous and in
/// order) and the previous generation's unread buckets carried over as they are, the ones to
/// write (those whose bytes the previous generation does not have), and the previous buckets
/// no longer named.
pub(crate) fn split(
    previous: &RepoIndex,
    files: impl Iterator<Item = IndexEntry>,
) -> (Vec<IndexBucket>, Vec<IndexFile>, Vec<String>) {
    let mut groups: Vec<(String, Vec<IndexEntry>)> = Vec::new();
    for entry in files {
        match groups.last_mut() {
            Some((group, entries)) if group == entry.group() => entries.push(entry),
            _ => groups.push((entry.group().to_owned(), vec![entry])),
        }
    }
    let mut buckets = Vec::with_capacity(groups.len());
    let mut written = Vec::new();
    for (group, entries) in groups {
        // Serializing plain data with string keys cannot fail.
        let mut bytes = serde_json::to_vec(&entries).unwrap_or_default();
        bytes.push(b'\n');
        let sha256 = Sha256Digest::of_bytes(&bytes);
        let key = by_hash_key(&sha256);
        if !previous.buckets.iter().any(|b| b.sha256 == sha256) {
            written.push(IndexFile {
                key: key.clone(),
                bytes: Bytes::from(bytes).into(),
            });
        }
        buckets.push(IndexBucket {
            group,
            key,
            sha256,
            files: entries.len(),
        });
    }
    // Groups the publish did not read keep their bucket; a group also among `files` cannot
    // happen (every group a publish touches is read) but the read one would win.
    for old in &previous.unread {
        if !buckets.iter().any(|b| b.group == old.group) {
            buckets.push(old.clone());
        }
    }
    buckets.sort_by(|a, b| a.group.cmp(&b.group));
    let retired = previous
        .buckets
        .iter()
        .filter(|old| !buckets.iter().any(|b| b.key == old.key))
        .map(|old| old.key.clone())
        .collect();
    (buckets, written, retired)
}
