//! The `Publisher` trait: puts a channel's artifacts into its repositories.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::arch::Arch;
use crate::artifact::Artifact;
use crate::channel::{Channel, RepoKind};
use crate::digest::Sha256Digest;
use crate::error::Error;
use crate::invalidation::Invalidation;
use crate::verify::{VerifyOptions, VerifyReport};
use crate::version::Version;

/// One file as it sits in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedFile {
    /// The repository (`deb`, `rpm-dev`, …).
    pub repository: String,
    /// Its key, relative to the repository (`stable/falco-0.39.0-x86_64.deb`,
    /// `x86_64/falco-0.39.0-x86_64.tar.gz`): where a client downloads it.
    pub key: String,
    /// The file name.
    pub file_name: String,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// The version it belongs to, if known.
    pub version: Option<Version>,
    /// Its architecture, if known.
    pub arch: Option<Arch>,
}

/// What holds a name a publish offers different bytes under, which says how to get past it
/// (see [`Error::AlreadyExists`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Occupant {
    /// A published file: the live index names it.
    Published,
    /// A file the live index no longer names (pruned by retention, removed) but an older
    /// index generation, kept for readers that read it a moment ago, still does: it is deleted
    /// once no kept generation names it.
    Waiting,
    /// A file no index names: left by a publish that failed after uploading it (the protocol
    /// uploads package files before it commits their index).
    Orphan,
}

impl fmt::Display for Occupant {
    /// The end of [`Error::AlreadyExists`]'s message: what the stored file is and what to do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Occupant::Published => {
                "is published (the live index names it) and a published file is never replaced: publish a new version"
            }
            Occupant::Waiting => {
                "is no longer in the live index, but an older kept index generation still names it until later publishes retire that generation: publish a new version"
            }
            Occupant::Orphan => {
                "is named by no index, an orphan left by a publish that failed after uploading: delete the repository's orphans (`Publisher::remove_orphans`; the release tool: `release prune --orphans`, a dry run unless given `--confirm`), then publish again"
            }
        })
    }
}

/// A stored file of a repository that no index names and that waits for no deletion: left
/// by a publish that failed after uploading it. It blocks a corrected publish of the same
/// name (see [`Occupant::Orphan`]) until deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The repository (`deb`, `rpm-dev`, …).
    pub repository: String,
    /// Its key, relative to the repository (`stable/falco-0.45.0-x86_64.deb.asc`).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Files written (new, or replaced where the channel allows it).
    pub uploaded: Vec<PublishedFile>,
    /// Files that were already there with the same bytes.
    pub unchanged: Vec<PublishedFile>,
    /// Files removed by retention.
    pub pruned: Vec<PublishedFile>,
    /// The CDN invalidation of the mutable names the commit changed, when a CDN is configured
    /// and the publish committed anything. A failed one leaves the publish standing.
    pub invalidation: Option<Invalidation>,
}

impl PublishReport {
    /// True when the publish changed nothing.
    pub fn is_noop(&self) -> bool {
        self.uploaded.is_empty() && self.pruned.is_empty()
    }
}

/// What a publish writes, keeps and prunes, computed without writing anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishPlan {
    /// The repository's path in the store.
    pub repository: String,
    /// Files that are new.
    pub upload: Vec<PublishedFile>,
    /// Files published before with other bytes, replaced because the channel allows it.
    pub replace: Vec<PublishedFile>,
    /// Files already published with the same bytes.
    pub unchanged: Vec<PublishedFile>,
    /// Files retention removes once the new index is live.
    pub prune: Vec<PublishedFile>,
    /// Index files written, in commit order (content-addressed, canonical, top).
    pub index_files: Vec<String>,
}

impl PublishPlan {
    /// True when the publish would change no file (the index is rewritten only if needed).
    pub fn is_noop(&self) -> bool {
        self.upload.is_empty() && self.replace.is_empty() && self.prune.is_empty()
    }
}

/// Puts a channel's artifacts into its repositories and keeps every index consistent.
///
/// Implementers must guarantee:
/// - **idempotence**: publishing the same bytes under the same name again changes nothing and
///   reports the file as unchanged;
/// - **immutability** where the channel says [`Overwrite::Immutable`](crate::Overwrite): different
///   bytes under an existing name fail with [`Error::AlreadyExists`] carrying both digests, and
///   nothing of that publish is written;
/// - **atomic visibility**: a reader sees the repository before or after a publish, never an
///   index that names a missing file or a wrong digest;
/// - **retention**: after a publish, the channel's [`Retention`](crate::Retention) holds for
///   every package and architecture.
///
/// The trait is object safe: `Arc<dyn Publisher>` works.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes `artifacts` into `channel`'s repositories, then applies retention.
    async fn publish(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishReport, Error>;

    /// What [`publish`](Publisher::publish) would upload, replace and prune, without writing
    /// anything; refused like the publish itself would be.
    async fn plan(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishPlan, Error>;

    /// Reads `channel`'s `kind` repository the way a client does and reports every problem
    /// (a repository of another kind than the publisher's reports none).
    async fn verify(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, Error>;

    /// Lists what is published in `channel`'s `kind` repository.
    async fn list(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, Error>;

    /// Applies `channel`'s retention to its `kind` repository; returns what was pruned.
    async fn apply_retention(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, Error>;

    /// The [`Orphan`]s of `channel`'s `kind` repository, sorted by key, without changing
    /// anything. An implementer lists only files that no live index and no kept older index
    /// generation names (never an index file, a lock, or a file waiting for deletion). The
    /// default lists none: right for a publisher that writes nothing before its commit.
    async fn orphans(&self, channel: &dyn Channel, kind: RepoKind) -> Result<Vec<Orphan>, Error> {
        let _ = (channel, kind);
        Ok(Vec::new())
    }

    /// Deletes the [`Orphan`]s of `channel`'s `kind` repository and returns them. An
    /// implementer finds them again under the repository's lock, against the index live then
    /// (a publisher may have indexed one since [`orphans`](Publisher::orphans) listed it).
    async fn remove_orphans(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<Orphan>, Error> {
        let _ = (channel, kind);
        Ok(Vec::new())
    }
}
