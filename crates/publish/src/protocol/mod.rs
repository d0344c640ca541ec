//! The commit protocol, once for every format: plan, admission, upload, lock, merge,
//! retention, generation bookkeeping, commit phases, deferred deletion. A format ([`Format`])
//! brings only its own text: how to read its live index, merge packages into it, and write the
//! next generation (APT: stanzas and `Release`; YUM: XML and `repomd.xml`; bin and generic:
//! `index.json` and its HTML).

pub(crate) mod admission;
pub(crate) mod bookkeeping;
pub(crate) mod commit;
pub(crate) mod deferred;
pub(crate) mod fence;
pub(crate) mod lock;
pub(crate) mod orphans;
pub(crate) mod resign;
pub(crate) mod upload;
pub(crate) mod verify;

use async_trait::async_trait;
use bytes::Bytes;
use falco_artifacts_core::Signer;
use falco_artifacts_core::{Occupant, PublishReport, PublishedFile, Retention};
use std::borrow::Cow;
use std::collections::BTreeSet;

use self::upload::{Action, Policy, Staged};
use crate::cdn;
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::index::RepoIndex;
use crate::protocol::commit::Commit;
use crate::protocol::fence::Fence;
use crate::protocol::lock::LockGuard;
use falco_artifacts_core::Problem;
use falco_artifacts_core::PublishPlan;

/// What a repository format adds to the protocol: its index, read, merged and written.
///
/// Files are uploaded, checked and put back by the protocol (through [`Staged`]); a format
/// sees them only as its own description of the packages offered ([`Format::Offer`]: a
/// parsed `.deb` control, an rpm header) and as keys.
#[async_trait]
pub(crate) trait Format: Send + Sync {
    /// The live index, as read.
    type Live: Send + Sync;
    /// One package offered, as the format describes it (`()` when keys are enough).
    type Offer: Send + Sync;
    /// The next generation's contents and what retention dropped.
    type Merged: Send + Sync;

    /// The part of the index a publish reads: APT's and YUM's buckets, the JSON index's
    /// groups.
    type Scope: Send + Sync;

    /// The part of the index a publish of `staged` (described by `offered`) under
    /// `retention` must read, because merging and retention look at nothing else (`None`: the
    /// whole index).
    fn scope(
        &self,
        _staged: &[Staged],
        _offered: &[Self::Offer],
        _retention: Retention,
    ) -> Option<Self::Scope> {
        None
    }

    /// Reads the live index (only the part `scope` names, when given).
    async fn read(
        &self,
        repo: &FileRepo,
        scope: Option<&Self::Scope>,
    ) -> Result<Self::Live, PublishError>;

    /// Reads the live index again under the lock; a format may reuse `earlier` when the top
    /// file has not changed.
    async fn refresh(
        &self,
        repo: &FileRepo,
        _earlier: Self::Live,
        scope: Option<&Self::Scope>,
    ) -> Result<Self::Live, PublishError> {
        self.read(repo, scope).await
    }

    /// The top files a commit writes last (the ones that make a generation live), whose
    /// versions fence a late writer ([`fence`]).
    fn top_keys(&self) -> Vec<String>;

    /// Whether a top file is live at all.
    fn exists(&self, live: &Self::Live) -> bool;

    /// Whether the live generation left deletions to finish.
    fn pending(&self, live: &Self::Live) -> bool;

    /// The files the live generation no longer names but an older kept one does, waiting for
    /// deletion ([`deferred`]).
    fn waiting<'a>(&self, live: &'a Self::Live) -> BTreeSet<&'a str>;

    /// The files the live index names, with size and digest, for the upload checks.
    fn hint<'a>(&self, live: &'a Self::Live) -> Cow<'a, RepoIndex>;

    /// Refuses what the format's index cannot hold next to `live` (a version moved to
    /// another file on an immutable channel).
    fn admit(
        &self,
        _repository: &str,
        _policy: Policy,
        _live: &Self::Live,
        _offered: &[Self::Offer],
    ) -> Result<(), PublishError> {
        Ok(())
    }

    /// Whether `live` already indexes every offered file with the same bytes.
    fn indexed(&self, live: &Self::Live, staged: &[Staged], offered: &[Self::Offer]) -> bool;

    /// Merges the offered files into `live` and applies `retention`.
    fn merge(
        &self,
        live: &Self::Live,
        staged: &[Staged],
        offered: &[Self::Offer],
        retention: Retention,
    ) -> Self::Merged;

    /// The package files `merged` drops, as reported (`repository` is the channel's name).
    fn pruned(&self, repository: &str, merged: &Self::Merged) -> Vec<PublishedFile>;

    /// Checks what the live top file names (index files, signatures), adding to `problems`;
    /// `false` when the index cannot be read past them.
    async fn check_top(
        &self,
        repo: &FileRepo,
        problems: &mut Vec<Problem>,
    ) -> Result<bool, PublishError>;

    /// Reads the whole live index the way a client does, for verification.
    async fn read_all(&self, repo: &FileRepo) -> Result<Self::Live, PublishError> {
        self.read(repo, None).await
    }

    /// The package file a stored `key` belongs to (a signature's package), which the index
    /// must name; `None` for keys that are not package files of this format (index files,
    /// the lock, other directories).
    fn owner<'k>(&self, key: &'k str) -> Option<&'k str>;

    /// Replaces the embedded signature of the package file `key` (its stored `bytes`) with
    /// one by `signer`, without touching what it signs, returning the new bytes and the
    /// package as the next index describes it (the re-sign's merge sees the package through
    /// that offer only; the protocol writes the bytes); `None` when the format's packages
    /// carry no signature of their own (a `.deb`, a tarball: only their `.asc` is made again).
    fn resign_package(
        &self,
        _key: &str,
        _bytes: &Bytes,
        _signer: &dyn Signer,
    ) -> Result<Option<(Bytes, Self::Offer)>, PublishError> {
        Ok(None)
    }

    /// The commit that makes `merged` the generation after `live`.
    fn commit(
        &self,
        repo: &FileRepo,
        live: &Self::Live,
        merged: Self::Merged,
    ) -> Result<Commit, PublishError>;
}

/// What publishing `staged` would do, without writing.
pub(crate) async fn plan<F: Format>(
    format: &F,
    repo: &FileRepo,
    staged: &[Staged],
    offered: &[F::Offer],
    policy: Policy,
) -> Result<PublishPlan, PublishError> {
    let live = format.read(repo, None).await?;
    let actions = repo
        .classify(
            staged,
            &format.hint(&live),
            policy.overwrite,
            &|key: &str| occupant(format, &live, key),
        )
        .await?;
    let merged = format.merge(&live, staged, offered, policy.retention);
    let prune = format.pruned(&repo.name, &merged);
    let commit = format.commit(repo, &live, merged)?;
    let mut plan = PublishPlan {
        repository: repo.store.root().to_owned(),
        index_files: commit.written_keys(),
        prune,
        ..PublishPlan::default()
    };
    for (s, action) in staged.iter().zip(actions) {
        let file = s.published(&repo.name);
        match action {
            Action::Upload => plan.upload.push(file),
            Action::Unchanged => plan.unchanged.push(file),
            Action::Replace => plan.replace.push(file),
        }
    }
    Ok(plan)
}

/// Publishes `staged` (described by `offered`) with the commit protocol.
pub(crate) async fn publish<F: Format>(
    format: &F,
    repo: &FileRepo,
    staged: &[Staged],
    offered: &[F::Offer],
    policy: Policy,
) -> Result<PublishReport, PublishError> {
    let repository = repo.store.root();
    // 1. Check every file before writing any, so a refused publish changes nothing. Only the
    //    buckets of the packages offered are parsed; the rest are carried over.
    let scope = format.scope(staged, offered, policy.retention);
    let hint = format.read(repo, scope.as_ref()).await?;
    format.admit(repository, policy, &hint, offered)?;
    let occupancy = |key: &str| occupant(format, &hint, key);
    let mut actions = repo
        .classify(staged, &format.hint(&hint), policy.overwrite, &occupancy)
        .await?;
    if actions.iter().all(|a| *a == Action::Unchanged)
        && !format.pending(&hint)
        && format.indexed(&hint, staged, offered)
        && format
            .pruned(
                &repo.name,
                &format.merge(&hint, staged, offered, policy.retention),
            )
            .is_empty()
    {
        // Everything is live already: nothing to write, no lock to take.
        return Ok(PublishReport {
            unchanged: staged.iter().map(|s| s.published(&repo.name)).collect(),
            ..PublishReport::default()
        });
    }
    // 2. Upload new files under immutable names.
    repo.upload_new(staged, &mut actions, policy.overwrite, &occupancy)
        .await?;
    // 3. Take the lock, merge with the live index, commit.
    let guard = LockGuard::acquire(&repo.store, &repo.lock).await?;
    let result = async {
        let fence = Fence::read(&repo.store, format.top_keys()).await?;
        let live = format.refresh(repo, hint, scope.as_ref()).await?;
        // Another publisher may have published one of these versions meanwhile.
        format.admit(repository, policy, &live, offered)?;
        repo.settle(staged, &actions).await?;
        let merged = format.merge(&live, staged, offered, policy.retention);
        let pruned = format.pruned(&repo.name, &merged);
        let commit = format.commit(repo, &live, merged)?;
        let changed = cdn::changed_keys(&repo.store, &commit);
        commit.apply(&repo.store, &guard, &fence).await?;
        Ok((pruned, changed))
    }
    .await;
    let (pruned, mut changed) = finish(guard, result).await?;
    // A package replaced under its name is stale in every cache too.
    changed.extend(
        staged
            .iter()
            .zip(&actions)
            .filter(|(_, a)| **a == Action::Replace)
            .map(|(s, _)| s.key.clone()),
    );
    let mut report = PublishReport {
        pruned,
        invalidation: repo.store.invalidate(&changed).await,
        ..PublishReport::default()
    };
    for (s, action) in staged.iter().zip(&actions) {
        match action {
            Action::Upload | Action::Replace => report.uploaded.push(s.published(&repo.name)),
            Action::Unchanged => report.unchanged.push(s.published(&repo.name)),
        }
    }
    Ok(report)
}

/// Applies `retention` to the live index now.
pub(crate) async fn prune<F: Format>(
    format: &F,
    repo: &FileRepo,
    retention: Retention,
) -> Result<Vec<PublishedFile>, PublishError> {
    let guard = LockGuard::acquire(&repo.store, &repo.lock).await?;
    let result = async {
        let fence = Fence::read(&repo.store, format.top_keys()).await?;
        let live = format.read(repo, None).await?;
        let merged = format.merge(&live, &[], &[], retention);
        let pruned = format.pruned(&repo.name, &merged);
        if !format.exists(&live) || (pruned.is_empty() && !format.pending(&live)) {
            return Ok((Vec::new(), BTreeSet::new()));
        }
        let commit = format.commit(repo, &live, merged)?;
        let changed = cdn::changed_keys(&repo.store, &commit);
        commit.apply(&repo.store, &guard, &fence).await?;
        Ok((pruned, changed))
    }
    .await;
    let (pruned, changed) = finish(guard, result).await?;
    // Reported nowhere: a failure is asked again with the next commit's invalidation.
    let _ = repo.store.invalidate(&changed).await;
    Ok(pruned)
}

/// What holds `key` in `live`: the live index names it (or, for a signature, its package),
/// a kept older generation does (it waits for deletion), or nothing does.
pub(crate) fn occupant<F: Format>(format: &F, live: &F::Live, key: &str) -> Occupant {
    let owner = format.owner(key).unwrap_or(key);
    if format.hint(live).get(owner).is_some() {
        Occupant::Published
    } else if format.waiting(live).contains(key) {
        Occupant::Waiting
    } else {
        Occupant::Orphan
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
