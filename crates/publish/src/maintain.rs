//! Maintenance of a file repository besides publishing: removing files by key, and writing
//! files derived from the repository (a site index) under its lock.

use std::collections::BTreeSet;

use bytes::Bytes;
use chrono::Utc;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::ObjectMeta;

use crate::cdn;
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::index::{IndexEntry, INDEX_JSON};
use crate::protocol::fence::Fence;
use crate::protocol::finish;
use crate::protocol::lock::LockGuard;
use crate::protocol::upload::CONCURRENCY;
use crate::store::ObjectClass;

/// What a derivation writes (in order) and deletes, and what it hands back.
pub(crate) type Derived<T> = (Vec<(String, Bytes)>, Vec<String>, T);

impl FileRepo {
    /// Removes `keys` with the commit protocol: under the lock, the index without them goes
    /// live; like pruned files, they are deleted by the commit after which no kept index
    /// generation names them ([`deferred`](crate::protocol::deferred)), so a client that read
    /// the previous index a moment ago still finds them, and no client ever reads an index
    /// naming a deleted file. Keys no index generation names (files put there by other tools)
    /// are deleted now, and keys of no object are no-ops.
    pub(crate) async fn remove(&self, keys: &BTreeSet<String>) -> Result<(), PublishError> {
        if keys.is_empty() {
            return Ok(());
        }
        let guard = LockGuard::acquire(&self.store, &self.lock).await?;
        let result = async {
            let fence = Fence::read(&self.store, vec![INDEX_JSON.to_owned()]).await?;
            let (previous, previous_bytes) = self.read_index().await?;
            let (doomed, kept): (Vec<IndexEntry>, Vec<IndexEntry>) = previous
                .files
                .iter()
                .cloned()
                .partition(|e| keys.contains(&e.path));
            // Keys waiting for deletion already are still named by a kept generation.
            let waiting = crate::protocol::deferred::waiting(&previous.protocol.deferred);
            let unindexed = keys
                .iter()
                .filter(|k| previous.get(k).is_none() && !waiting.contains(k.as_str()))
                .cloned()
                .collect::<Vec<_>>();
            if doomed.is_empty() {
                // The index does not change: only files it never named go.
                let mut changed = BTreeSet::new();
                for key in unindexed {
                    self.store.delete(&key).await?;
                    changed.insert(key);
                }
                return Ok(changed);
            }
            let files = kept.into_iter().map(|e| (e.path.clone(), e)).collect();
            let mut commit = self.commit(
                &previous,
                previous_bytes.as_ref(),
                files,
                &doomed,
                Utc::now(),
            );
            commit.delete.extend(unindexed);
            let changed = cdn::changed_keys(&self.store, &commit);
            commit.apply(&self.store, &guard, &fence).await?;
            Ok(changed)
        }
        .await;
        let changed = finish(guard, result).await?;
        // Reported nowhere: a failure is asked again with the next commit's invalidation.
        let _ = self.store.invalidate(&self.mutable(changed)).await;
        Ok(())
    }

    /// Those of `keys` that are mutable names, which a CDN must forget when they change.
    fn mutable(&self, keys: BTreeSet<String>) -> BTreeSet<String> {
        keys.into_iter()
            .filter(|k| self.store.class(k) == ObjectClass::Mutable)
            .collect()
    }

    /// Under the lock: lists `scope`, lets `derive` decide what to write (in order) and
    /// delete, writes, the last file after checking the lock is still ours (it is the file
    /// that makes the others live, e.g. a site's `index.json`), then deletes. The index is not
    /// touched: these files are derived, not published.
    pub(crate) async fn write_derived<T, F>(
        &self,
        scope: &ListScope,
        derive: F,
    ) -> Result<T, PublishError>
    where
        F: FnOnce(Listed) -> Result<Derived<T>, PublishError> + Send,
        T: Send,
    {
        let guard = LockGuard::acquire(&self.store, &self.lock).await?;
        let result = async {
            let (files, delete, value) = derive(self.list_scope(scope).await?)?;
            let last = files.len().saturating_sub(1);
            let mut changed = BTreeSet::new();
            for (i, (key, bytes)) in files.into_iter().enumerate() {
                if i == last {
                    guard.check().await?;
                }
                self.store.overwrite(&key, bytes.into()).await?;
                changed.insert(key);
            }
            for key in delete {
                self.store.delete(&key).await?;
                changed.insert(key);
            }
            Ok((value, changed))
        }
        .await;
        let (value, changed) = finish(guard, result).await?;
        // Reported nowhere: a failure is asked again with the next commit's invalidation.
        let _ = self.store.invalidate(&self.mutable(changed)).await;
        Ok(value)
    }

    /// The objects of `scope` (keys relative to the repository), and for a scope of
    /// prefixes the repository's groups. Files waiting for deletion (removed or pruned, still
    /// named by a kept older index generation) are left out: they are gone for anyone who
    /// reads the repository now, and a caller that took them for present would skip
    /// publishing them again, then lose them to the deferred deletion.
    pub(crate) async fn list_scope(&self, scope: &ListScope) -> Result<Listed, PublishError> {
        // The top file alone holds the deletion queue: no bucket is read.
        let no_bucket = BTreeSet::new();
        let ((top, _), mut listed) = futures::try_join!(
            self.read_index_of(Some(&no_bucket)),
            self.list_all_of(scope)
        )?;
        let waiting = crate::protocol::deferred::waiting(&top.protocol.deferred);
        listed
            .objects
            .retain(|(key, _)| !waiting.contains(key.as_str()));
        Ok(listed)
    }

    async fn list_all_of(&self, scope: &ListScope) -> Result<Listed, PublishError> {
        match scope {
            ListScope::All => Ok(Listed {
                objects: self.store.list("").await?,
                groups: None,
            }),
            ListScope::Under(prefixes) => Ok(Listed {
                objects: self.list_under(prefixes).await?,
                groups: None,
            }),
            ListScope::UnderWithGroups(prefixes) => Ok(Listed {
                objects: self.list_under(prefixes).await?,
                groups: Some(self.store.list_groups().await?),
            }),
        }
    }

    /// The objects under each of `prefixes`, one listing each.
    async fn list_under(
        &self,
        prefixes: &[String],
    ) -> Result<Vec<(String, ObjectMeta)>, PublishError> {
        let lists: Vec<_> = prefixes.iter().map(|p| self.store.list(p)).collect();
        let objects: Vec<Vec<(String, ObjectMeta)>> = futures::stream::iter(lists)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(objects.into_iter().flatten().collect())
    }
}

/// What a listing covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// Every object of the repository.
    All,
    /// The objects under these groups (first path components, e.g. driver versions): one
    /// listing each, its cost follows the groups named, not the repository.
    Under(Vec<String>),
    /// The same plus the name of every group of the repository (one more request, a
    /// listing of one level).
    UnderWithGroups(Vec<String>),
}

/// The objects a [`ListScope`] covers, keys relative to the repository.
pub(crate) struct Listed {
    pub(crate) objects: Vec<(String, ObjectMeta)>,
    /// Every group of the repository, for [`ListScope::UnderWithGroups`].
    pub(crate) groups: Option<Vec<String>>,
}
