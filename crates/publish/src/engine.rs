//! The JSON index of bin and generic repositories (`index.json`, possibly split into
//! content-addressed buckets, and its `index.html`): the [`Format`] for files that need no
//! package metadata, and the [`FileRepo`] every format's protocol runs in.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use falco_artifacts_core::{PublishedFile, Retention, Sha256Digest};

use crate::error::PublishError;
use crate::html;
use crate::index::{
    by_hash_key, group_of, IndexEntry, ProtocolState, RepoIndex, BY_HASH, INDEX_HTML, INDEX_JSON,
};
use crate::protocol::commit::{Commit, IndexFile};
use crate::protocol::deferred;
use crate::protocol::lock::{LockOptions, LOCK_PREFIX};
use crate::protocol::upload::Staged;
use crate::protocol::Format;
use crate::store::RepoStore;
use falco_artifacts_core::Problem;

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

/// The index entry of a file published at `time`.
fn entry(s: &Staged, time: DateTime<Utc>) -> IndexEntry {
    IndexEntry {
        path: s.key.clone(),
        name: s.artifact.file_name().to_owned(),
        kind: s.artifact.kind().into(),
        version: s.artifact.version().cloned(),
        arch: s.artifact.arch(),
        size: s.artifact.size(),
        sha256: *s.artifact.sha256(),
        time,
    }
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
        files.insert(s.key.clone(), entry(s, time));
    }
    let all: Vec<IndexEntry> = files.values().cloned().collect();
    // Per architecture, core's rule on core's version order; files without a version stay.
    let expired = retention.expired(
        all.iter().map(|e| e.version.as_ref().map(|v| (e.arch, v))),
        Ord::cmp,
    );
    let doomed: Vec<IndexEntry> = expired
        .into_iter()
        .filter_map(|i| files.remove(&all[i].path))
        .collect();
    Merged { files, doomed, now }
}

impl FileRepo {
    /// The live index and the bytes of its top file; an empty index when there is none yet.
    /// A split index's buckets are read and joined into [`RepoIndex::files`], so every reader
    /// (publish, verify, lists) sees all files whichever way the index is stored.
    pub(crate) async fn read_index(&self) -> Result<(RepoIndex, Option<Bytes>), PublishError> {
        self.read_index_of(None).await
    }

    /// [`FileRepo::read_index`], reading of a split index only the buckets of `groups`
    /// (all when `None`); the others stay in [`RepoIndex::unread`].
    pub(crate) async fn read_index_of(
        &self,
        groups: Option<&BTreeSet<String>>,
    ) -> Result<(RepoIndex, Option<Bytes>), PublishError> {
        let Some(bytes) = self.store.get(INDEX_JSON).await? else {
            return Ok((RepoIndex::empty(self.store.root()), None));
        };
        let mut index: RepoIndex =
            serde_json::from_slice(&bytes).map_err(|source| PublishError::Corrupt {
                key: format!("{}/{INDEX_JSON}", self.store.root()),
                source,
            })?;
        self.read_buckets(&mut index, groups).await?;
        Ok((index, Some(bytes)))
    }

    /// The commit that makes `files` the next generation after `previous`. The `doomed`
    /// files (pruned by retention, removed by an operator) wait for deletion while a kept
    /// generation names them ([`deferred`]).
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
        let names: BTreeSet<String> = files.keys().cloned().collect();
        let mut content_addressed = Vec::new();
        let (files, buckets, retired) = if self.split {
            let (buckets, written, retired) = crate::split::split(previous, files.into_values());
            content_addressed.extend(written);
            (Vec::new(), buckets, retired)
        } else {
            (files.into_values().collect(), Vec::new(), Vec::new())
        };
        // Pruned files and retired buckets are still named by the kept generations before this
        // one: deleted once none of them is kept. Buckets retired by a generation written
        // before deferral are deleted now, like what the live generation's commit deleted.
        let stopped = doomed.iter().map(|e| e.path.clone());
        let deleted: Vec<String> = previous
            .protocol
            .pruned
            .iter()
            .chain(&previous.protocol.retired)
            .cloned()
            .collect();
        let deletions = deferred::advance(
            &previous.protocol.deferred,
            &deleted,
            stopped.chain(retired),
            self.generations,
            |k| names.contains(k) || buckets.iter().any(|b| b.key == k),
        );
        let mut delete: BTreeSet<String> = deletions.delete.into_iter().collect();
        delete.extend(dropped);
        let index = RepoIndex {
            format: 1,
            repository: self.store.root().to_owned(),
            generated: now,
            files,
            buckets,
            protocol: ProtocolState {
                pruned: deletions.due,
                by_hash,
                retired: Vec::new(),
                deferred: deletions.deferred,
            },
            unread: Vec::new(),
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

/// The JSON index of bin and generic repositories: `index.json` (the top file, possibly split
/// into content-addressed buckets) and its `index.html`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonIndex<'a> {
    /// Where the repository keeps files derived from it (a site index), which verification
    /// does not count as unindexed.
    pub(crate) derived: Option<&'a str>,
}

#[async_trait]
impl Format for JsonIndex<'_> {
    type Live = (RepoIndex, Option<Bytes>);
    type Offer = ();
    type Merged = Merged;
    type Scope = BTreeSet<String>;

    /// The groups of the staged keys, unless retention prunes: it ranks every version of an
    /// architecture, whichever group holds it.
    fn scope(&self, staged: &[Staged], _: &[()], retention: Retention) -> Option<Self::Scope> {
        (retention == Retention::KeepAll)
            .then(|| staged.iter().map(|s| group_of(&s.key).to_owned()).collect())
    }

    async fn read(
        &self,
        repo: &FileRepo,
        groups: Option<&BTreeSet<String>>,
    ) -> Result<Self::Live, PublishError> {
        repo.read_index_of(groups).await
    }

    fn top_keys(&self) -> Vec<String> {
        vec![INDEX_JSON.to_owned()]
    }

    fn exists(&self, (_, top): &Self::Live) -> bool {
        top.is_some()
    }

    fn pending(&self, (index, _): &Self::Live) -> bool {
        !index.protocol.pruned.is_empty() || !index.protocol.retired.is_empty()
    }

    fn waiting<'a>(&self, (index, _): &'a Self::Live) -> BTreeSet<&'a str> {
        deferred::waiting(&index.protocol.deferred)
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

    async fn check_top(
        &self,
        repo: &FileRepo,
        problems: &mut Vec<Problem>,
    ) -> Result<bool, PublishError> {
        // The live index.json must have its content-addressed twin.
        if let Some(bytes) = repo.store.get(INDEX_JSON).await? {
            let key = by_hash_key(&Sha256Digest::of_bytes(&bytes));
            if repo.store.get(&key).await?.as_deref() != Some(&bytes[..]) {
                problems.push(Problem::ByHash { path: key });
            }
        }
        Ok(true)
    }

    fn owner<'k>(&self, key: &'k str) -> Option<&'k str> {
        let under = |dir: &str| key.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
        let protocol = key == INDEX_JSON
            || key == INDEX_HTML
            || under(BY_HASH)
            || under(LOCK_PREFIX)
            || self.derived.is_some_and(under);
        (!protocol).then_some(key)
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
