//! The `Publisher` trait: puts a channel's artifacts into its repositories.

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
}
