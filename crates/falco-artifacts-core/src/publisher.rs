//! The `Publisher` trait: puts a channel's artifacts into its repositories.

use std::sync::Arc;

use async_trait::async_trait;

use crate::arch::Arch;
use crate::artifact::Artifact;
use crate::channel::{Channel, RepoKind};
use crate::digest::Sha256Digest;
use crate::error::Error;
use crate::version::Version;

/// One file as it sits in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedFile {
    /// The repository (`deb`, `rpm-dev`, …).
    pub repository: String,
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
}

impl PublishReport {
    /// True when the publish changed nothing.
    pub fn is_noop(&self) -> bool {
        self.uploaded.is_empty() && self.pruned.is_empty()
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
