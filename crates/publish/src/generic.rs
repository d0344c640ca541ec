//! The generic repository: any keys under a prefix (`driver/<driverversion>/<arch>/…`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use falco_artifacts_core::{
    Artifact, Channel, Error as CoreError, Overwrite, PublishReport, PublishedFile, Publisher,
    RepoKind, Retention,
};

use crate::bin::check_generations;
use crate::engine::{FileRepo, JsonIndex};
use crate::error::PublishError;
use crate::index::{IndexEntry, RepoIndex};
use crate::maintain::{ListScope, Listed};
use crate::options::RepositoryOptions;
use crate::protocol;
use crate::protocol::upload::{dedupe, Policy, Staged};
use crate::store::{check_key, RepoStore};
use falco_artifacts_core::{Orphan, PublishPlan};
use falco_artifacts_core::{VerifyOptions, VerifyReport};

/// A file for a [`GenericRepository`] and the key it goes under.
#[derive(Debug, Clone)]
pub struct GenericFile {
    key: String,
    artifact: Arc<dyn Artifact>,
}

impl GenericFile {
    /// `artifact` under `key`, relative to the repository (`7.0.0+driver/x86_64/falco_….ko`).
    pub fn new(key: impl Into<String>, artifact: Arc<dyn Artifact>) -> Result<Self, PublishError> {
        let key = key.into();
        check_key(&key)?;
        Ok(GenericFile { key, artifact })
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// An object found by [`GenericRepository::list_objects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Its key relative to the repository (`7.0.0+driver/x86_64/falco_….ko`).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When the store last wrote it.
    pub last_modified: DateTime<Utc>,
}

/// The objects of a [`ListScope`], see [`GenericRepository::list_objects_in`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopedListing {
    /// The objects, keys relative to the repository.
    pub objects: Vec<ListedObject>,
    /// Every group of the repository (first path components holding objects), for
    /// [`ListScope::UnderWithGroups`]; `None` otherwise.
    pub groups: Option<Vec<String>>,
}

impl ScopedListing {
    fn of(listed: Listed) -> Self {
        ScopedListing {
            objects: listed
                .objects
                .into_iter()
                .map(|(key, meta)| ListedObject {
                    key,
                    size: meta.size,
                    last_modified: meta.last_modified,
                })
                .collect(),
            groups: listed.groups,
        }
    }
}

/// Files derived from a repository, for [`GenericRepository::write_derived`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DerivedFiles {
    /// Keys (relative to the repository) and contents, in the order to write them.
    pub write: Vec<(String, Vec<u8>)>,
    /// Keys to delete after writing.
    pub delete: Vec<String>,
}

/// Files under any keys below a prefix, with the same commit protocol as the bin repository.
/// Its index is split by first path component (for drivers, the driver version): the top
/// `index.json` names one content-addressed bucket per group (`by-hash/SHA256/<sha256>`, a
/// JSON array of [`IndexEntry`]), so publishing into one group rewrites that group's bucket
/// and the small top file, whatever the repository holds. Buckets are written first, the top
/// file last; a bucket the new top no longer names is deleted by the next publish. Reading
/// the index ([`GenericRepository::index`], `verify`) joins the buckets; `index.html` lists
/// the groups with their counts.
#[derive(Debug, Clone)]
pub struct GenericRepository {
    repo: FileRepo,
    policy: Policy,
    derived: Option<String>,
}

/// Builds a [`GenericRepository`]; checked in [`GenericRepositoryBuilder::build`].
#[derive(Debug, Clone)]
pub struct GenericRepositoryBuilder {
    store: RepoStore,
    prefix: String,
    policy: Policy,
    options: RepositoryOptions,
    derived: Option<String>,
}

impl GenericRepositoryBuilder {
    /// Whether different bytes may replace a published file; immutable by default.
    pub fn with_overwrite(mut self, overwrite: Overwrite) -> Self {
        self.policy.overwrite = overwrite;
        self
    }

    /// Retention over files that carry a version; keep all by default.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.policy.retention = retention;
        self
    }

    /// The lock and index-generation settings.
    pub fn with_options(mut self, options: RepositoryOptions) -> Self {
        self.options = options;
        self
    }

    /// Reserves `prefix` (relative to the repository, e.g. `site`) for files derived from the
    /// repository and written by [`GenericRepository::write_derived`]; `verify` does not
    /// report them as unindexed.
    pub fn with_derived_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.derived = Some(prefix.into());
        self
    }

    /// Checks the prefix and the options.
    pub fn build(self) -> Result<GenericRepository, PublishError> {
        let prefix = self.prefix.trim_matches('/').to_owned();
        check_key(&prefix)?;
        check_generations(&self.options)?;
        let derived = match self.derived {
            Some(d) => {
                let d = d.trim_matches('/').to_owned();
                check_key(&d)?;
                Some(d)
            }
            None => None,
        };
        Ok(GenericRepository {
            repo: FileRepo {
                name: prefix.clone(),
                store: self.store.at(&prefix)?,
                lock: self.options.lock,
                generations: self.options.index_generations,
                split: true,
            },
            policy: self.policy,
            derived,
        })
    }
}

impl GenericRepository {
    /// A builder for the repository at `prefix` in `store`.
    pub fn builder(store: RepoStore, prefix: impl Into<String>) -> GenericRepositoryBuilder {
        GenericRepositoryBuilder {
            store,
            prefix: prefix.into(),
            policy: Policy {
                overwrite: Overwrite::Immutable,
                retention: Retention::KeepAll,
            },
            options: RepositoryOptions::default(),
            derived: None,
        }
    }

    fn stage(files: &[GenericFile]) -> Result<Vec<Staged>, PublishError> {
        dedupe(
            files
                .iter()
                .map(|f| Staged {
                    key: f.key.clone(),
                    artifact: Arc::clone(&f.artifact),
                })
                .collect(),
        )
    }

    /// The dry run of [`GenericRepository::publish_files`].
    pub async fn plan(&self, files: &[GenericFile]) -> Result<PublishPlan, PublishError> {
        protocol::plan(
            &JsonIndex::default(),
            &self.repo,
            &Self::stage(files)?,
            &[],
            self.policy,
        )
        .await
    }

    /// Publishes `files` with the commit protocol.
    pub async fn publish_files(
        &self,
        files: &[GenericFile],
    ) -> Result<PublishReport, PublishError> {
        protocol::publish(
            &JsonIndex::default(),
            &self.repo,
            &Self::stage(files)?,
            &[],
            self.policy,
        )
        .await
    }

    /// The live index.
    pub async fn index(&self) -> Result<RepoIndex, PublishError> {
        Ok(self.repo.read_index().await?.0)
    }

    /// The live index's files by first path component.
    pub async fn groups(&self) -> Result<BTreeMap<String, Vec<IndexEntry>>, PublishError> {
        let mut groups: BTreeMap<String, Vec<IndexEntry>> = BTreeMap::new();
        for entry in self.index().await?.files {
            groups
                .entry(entry.group().to_owned())
                .or_default()
                .push(entry);
        }
        Ok(groups)
    }

    /// Prunes what the repository's retention says.
    pub async fn prune(&self) -> Result<Vec<PublishedFile>, PublishError> {
        protocol::prune(&JsonIndex::default(), &self.repo, self.policy.retention).await
    }

    /// Reads the repository like a client and reports every problem.
    pub async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, PublishError> {
        protocol::verify::verify(&self.format(), &self.repo, options).await
    }

    /// The orphans of the repository: files no live index and no kept older generation
    /// names (outside the derived prefix), left by a publish that failed after uploading;
    /// sorted by key, nothing changed.
    pub async fn orphans(&self) -> Result<Vec<Orphan>, PublishError> {
        protocol::orphans::orphans(&self.format(), &self.repo).await
    }

    /// Deletes the orphans of the repository (found again under its lock, against the index
    /// live then) and returns them.
    pub async fn remove_orphans(&self) -> Result<Vec<Orphan>, PublishError> {
        protocol::orphans::remove(&self.format(), &self.repo).await
    }

    /// The index format, knowing the derived prefix (not unindexed, never an orphan).
    fn format(&self) -> JsonIndex<'_> {
        JsonIndex {
            derived: self.derived.as_deref(),
        }
    }

    /// Every object under the repository, in one listing (the store pages it: one request
    /// per thousand objects on S3) and a read of the top `index.json`, keys relative to the
    /// repository. Files waiting for deletion after [`GenericRepository::remove`] (or
    /// retention) are not listed.
    pub async fn list_objects(&self) -> Result<Vec<ListedObject>, PublishError> {
        Ok(self.list_objects_in(&ListScope::All).await?.objects)
    }

    /// The objects `scope` covers, keys relative to the repository; for
    /// [`ListScope::UnderWithGroups`] also every group's name (one more request), so a caller
    /// knows the whole repository's groups while listing only a few of them.
    pub async fn list_objects_in(&self, scope: &ListScope) -> Result<ScopedListing, PublishError> {
        Ok(ScopedListing::of(self.repo.list_scope(scope).await?))
    }

    /// Removes `keys` (relative to the repository) under the lock: the index without them
    /// goes live, and like pruned files they are deleted once no kept index generation names
    /// them (by the commit that retires the last generation naming them, which with
    /// [`RepositoryOptions::index_generations`] `n` is the `n - 1`th publish after this one),
    /// so a client that read the previous `index.json` still finds them meanwhile. From now
    /// on they are in no listing ([`GenericRepository::list_objects`]). Keys no index
    /// generation names (files put there by other tools) are deleted now; keys of no object
    /// are ignored.
    pub async fn remove(&self, keys: &BTreeSet<String>) -> Result<(), PublishError> {
        for key in keys {
            check_key(key)?;
        }
        self.repo.remove(keys).await
    }

    /// Rewrites files derived from the repository (keys under the prefix set by
    /// [`GenericRepositoryBuilder::with_derived_prefix`], e.g. a site index) under the lock:
    /// lists the repository, lets `derive` compute the files from that listing, writes them in
    /// order (the last one after a last lock check: it should be the one naming the others),
    /// then deletes [`DerivedFiles::delete`]. Listing under the lock means the last writer saw
    /// every file published before it. A key outside the prefix is refused with
    /// [`PublishError::InvalidKey`] before any write.
    pub async fn write_derived<T, F>(&self, derive: F) -> Result<T, PublishError>
    where
        F: FnOnce(Vec<ListedObject>) -> (DerivedFiles, T) + Send,
        T: Send,
    {
        self.write_derived_in(&ListScope::All, |listed| derive(listed.objects))
            .await
    }

    /// [`GenericRepository::write_derived`] from a listing of `scope` only, so that
    /// rewriting the files of a few groups costs the same whatever the repository holds.
    pub async fn write_derived_in<T, F>(
        &self,
        scope: &ListScope,
        derive: F,
    ) -> Result<T, PublishError>
    where
        F: FnOnce(ScopedListing) -> (DerivedFiles, T) + Send,
        T: Send,
    {
        let derived = self.derived.clone();
        self.repo
            .write_derived(scope, move |listed| {
                let (files, value) = derive(ScopedListing::of(listed));
                let inside = |key: &str| -> Result<(), PublishError> {
                    check_key(key)?;
                    match &derived {
                        Some(d)
                            if key
                                .strip_prefix(d.as_str())
                                .is_some_and(|r| r.starts_with('/')) =>
                        {
                            Ok(())
                        }
                        _ => Err(PublishError::InvalidKey {
                            key: key.to_owned(),
                            reason: "not under the repository's derived prefix",
                        }),
                    }
                };
                for key in files.write.iter().map(|(k, _)| k).chain(&files.delete) {
                    inside(key)?;
                }
                let write = files
                    .write
                    .into_iter()
                    .map(|(k, b)| (k, Bytes::from(b)))
                    .collect();
                Ok((write, files.delete, value))
            })
            .await
    }

    /// The key an artifact goes under through [`Publisher`]:
    /// `[<version>/][<arch>/]<file name>`.
    pub fn key_for(artifact: &dyn Artifact) -> String {
        let mut key = String::new();
        if let Some(version) = artifact.version() {
            key.push_str(&version.file_name_part());
            key.push('/');
        }
        if let Some(arch) = artifact.arch() {
            key.push_str(arch.file_name());
            key.push('/');
        }
        key.push_str(artifact.file_name());
        key
    }
}

impl GenericRepository {
    /// The files `artifacts` go in as through [`Publisher`], and the policy they follow.
    fn offer(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<(Vec<GenericFile>, Policy), PublishError> {
        let mut files = Vec::with_capacity(artifacts.len());
        for artifact in artifacts {
            if let Some(version) = artifact.version() {
                if !channel.accepts(version) {
                    return Err(PublishError::NotAccepted {
                        name: artifact.file_name().to_owned(),
                        channel: channel.name().clone(),
                        version: version.clone(),
                    });
                }
            }
            files.push(GenericFile::new(
                Self::key_for(artifact.as_ref()),
                Arc::clone(artifact),
            )?);
        }
        let policy = Policy {
            overwrite: channel.overwrite(),
            retention: self.policy.retention,
        };
        Ok((files, policy))
    }
}

/// Publishes each artifact under [`GenericRepository::key_for`], with the channel's overwrite
/// policy and accepted versions and the repository's own retention. The repository holds one
/// set of files whatever the channel, so `list` and `apply_retention` ignore `kind`.
#[async_trait]
impl Publisher for GenericRepository {
    async fn publish(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishReport, CoreError> {
        let (files, policy) = self.offer(channel, artifacts)?;
        Ok(protocol::publish(
            &JsonIndex::default(),
            &self.repo,
            &Self::stage(&files)?,
            &[],
            policy,
        )
        .await?)
    }

    async fn plan(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishPlan, CoreError> {
        let (files, policy) = self.offer(channel, artifacts)?;
        Ok(protocol::plan(
            &JsonIndex::default(),
            &self.repo,
            &Self::stage(&files)?,
            &[],
            policy,
        )
        .await?)
    }

    async fn verify(
        &self,
        _: &dyn Channel,
        _: RepoKind,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, CoreError> {
        Ok(GenericRepository::verify(self, options).await?)
    }

    async fn list(&self, _: &dyn Channel, _: RepoKind) -> Result<Vec<PublishedFile>, CoreError> {
        let index = self.index().await?;
        Ok(index
            .files
            .iter()
            .map(|e| e.to_published(&self.repo.name))
            .collect())
    }

    async fn apply_retention(
        &self,
        _: &dyn Channel,
        _: RepoKind,
    ) -> Result<Vec<PublishedFile>, CoreError> {
        Ok(self.prune().await?)
    }

    async fn orphans(&self, _: &dyn Channel, _: RepoKind) -> Result<Vec<Orphan>, CoreError> {
        Ok(GenericRepository::orphans(self).await?)
    }

    async fn remove_orphans(&self, _: &dyn Channel, _: RepoKind) -> Result<Vec<Orphan>, CoreError> {
        Ok(GenericRepository::remove_orphans(self).await?)
    }
}
