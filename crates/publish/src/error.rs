//! What can go wrong while publishing, with typed context; converts into core's error kinds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use falco_artifacts_core::{
    ChannelName, Error as CoreError, Occupant, RepoKind, Sha256Digest, Version,
};

/// What a store request was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAction {
    /// Reading an object.
    Get,
    /// Reading an object's metadata.
    Head,
    /// Creating an object that must not exist yet.
    Create,
    /// Writing an object, replacing what is there.
    Overwrite,
    /// Deleting an object.
    Delete,
    /// Listing objects under a prefix.
    List,
    /// Making earlier writes durable (`file://`).
    Sync,
}

impl std::fmt::Display for StoreAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreAction::Get => "read",
            StoreAction::Head => "stat",
            StoreAction::Create => "create",
            StoreAction::Overwrite => "overwrite",
            StoreAction::Delete => "delete",
            StoreAction::List => "list",
            StoreAction::Sync => "sync",
        })
    }
}

/// A failure of a repository operation.
///
/// Converts into core's [`Error`](falco_artifacts_core::Error) kinds at the
/// [`Publisher`](falco_artifacts_core::Publisher) boundary; the cause stays reachable through
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The URL does not name a store this build can open.
    #[error(
        "{url}: the {scheme}:// scheme needs the `{feature}` feature of falco-artifacts-publish"
    )]
    SchemeDisabled {
        /// The URL given.
        url: String,
        /// Its scheme.
        scheme: String,
        /// The feature that adds it.
        feature: &'static str,
    },
    /// The URL's scheme is not a store at all.
    #[error("{url}: unsupported scheme {scheme:?} (expected file://, memory:// or s3://)")]
    UnsupportedScheme {
        /// The URL given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The URL could not be parsed or its store could not be configured.
    #[error("cannot open a store for {url}")]
    OpenStore {
        /// The URL given.
        url: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A store request failed.
    #[error("{store}: cannot {action} {key}")]
    Store {
        /// The store (`LocalFileSystem(/srv)`, `AmazonS3(bucket)`).
        store: String,
        /// What the request did.
        action: StoreAction,
        /// The object key.
        key: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Different bytes under an immutable name. The message names the stored object, says
    /// whether an index names it ([`Occupant`]) and how to get past it: a published file
    /// needs a new version, an orphan of a failed publish is deleted with the repository's
    /// `remove_orphans` (e.g. [`BinRepository::remove_orphans`](crate::BinRepository::remove_orphans)).
    #[error("{repository}/{key} holds sha256 {existing}; refusing different content (sha256 {new}) under that immutable name: it {occupant}")]
    Conflict {
        /// The repository path.
        repository: String,
        /// The key inside it.
        key: String,
        /// What is stored.
        existing: Sha256Digest,
        /// What was offered.
        new: Sha256Digest,
        /// Whether an index names what is stored.
        occupant: Occupant,
    },
    /// A package version already published under another file name, on a channel whose
    /// versions are immutable.
    #[error("{repository}: {version} is already published as {existing}; an immutable channel never replaces a version, so {offered} is refused: publish a new version")]
    VersionMoved {
        /// The repository path.
        repository: String,
        /// The package, version and architecture, as the format spells them
        /// (`falco 0.45.0 (amd64)`).
        version: String,
        /// The file that holds that version now.
        existing: String,
        /// The file offered for it.
        offered: String,
    },
    /// Another publisher holds the repository lock and kept it longer than we wait.
    #[error(
        "the lock of {repository} is held by {holder} until {expires}; gave up after {waited:?}"
    )]
    LockHeld {
        /// The repository path.
        repository: String,
        /// Who holds it.
        holder: String,
        /// When its lease ends.
        expires: DateTime<Utc>,
        /// How long we waited.
        waited: Duration,
    },
    /// Our lease ran out and another publisher took the lock over; nothing after that was
    /// committed by us. Publishing again completes the work.
    #[error("the lock of {repository} was taken over by {by} (our lease ran out); publish again")]
    LockLost {
        /// The repository path.
        repository: String,
        /// Who holds it now.
        by: String,
    },
    /// A top file changed after we took the lock: a publisher that took the lock over after
    /// our lease ran out committed a newer generation, and our late write was refused rather
    /// than overwriting it (fencing). Nothing of ours went live at `key`.
    #[error("{repository}/{key} changed after we took the lock: another publisher committed a newer generation after our lease ran out, and ours was not written over it; publish again")]
    Superseded {
        /// The repository path.
        repository: String,
        /// The top file whose write was refused.
        key: String,
    },
    /// Our lease on the lock ran out before the commit point; nothing was made live.
    #[error("our {lease:?} lease on the lock of {repository} ran out before the commit; publish again or lengthen the lease")]
    LeaseExpired {
        /// The repository path.
        repository: String,
        /// The lease.
        lease: Duration,
    },
    /// A repository file the protocol reads (index, lock) is not what we wrote.
    #[error("{key} is corrupt")]
    Corrupt {
        /// The object key.
        key: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A bucket the live index names is missing.
    #[error("{key}, a bucket of the live index, is missing")]
    MissingBucket {
        /// The object key.
        key: String,
    },
    /// A bucket's bytes are not the ones the live index names.
    #[error("{key} has sha256 {actual}, the live index names {expected}")]
    BucketChanged {
        /// The object key.
        key: String,
        /// The digest the index names.
        expected: falco_artifacts_core::Sha256Digest,
        /// The digest of the stored bytes.
        actual: falco_artifacts_core::Sha256Digest,
    },
    /// An artifact's bytes could not be read.
    #[error("cannot read artifact {name}")]
    ReadArtifact {
        /// The artifact's file name.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An artifact's bytes do not match the digest it was described with.
    #[error(
        "artifact {name} changed since it was hashed: sha256 {expected} declared, {actual} read"
    )]
    ArtifactChanged {
        /// The artifact's file name.
        name: String,
        /// Its declared digest.
        expected: Sha256Digest,
        /// The digest of the bytes read.
        actual: Sha256Digest,
    },
    /// An artifact does not belong to this repository.
    #[error("artifact {name} belongs to the {found:?} repository kind, not {expected}")]
    WrongRepository {
        /// The artifact's file name.
        name: String,
        /// The kind this repository holds.
        expected: RepoKind,
        /// The artifact's kind, if any.
        found: Option<RepoKind>,
    },
    /// The channel does not accept the artifact's version.
    #[error("artifact {name}: the {channel} channel does not accept version {version}")]
    NotAccepted {
        /// The artifact's file name.
        name: String,
        /// The channel.
        channel: ChannelName,
        /// The version offered.
        version: Version,
    },
    /// An artifact lacks a field this repository needs.
    #[error("artifact {name} has no {field}, which the repository layout needs")]
    MissingField {
        /// The artifact's file name.
        name: String,
        /// The field (`arch`, `version`).
        field: &'static str,
    },
    /// A key is not a usable relative object key.
    #[error("{key:?} is not a valid object key: {reason}")]
    InvalidKey {
        /// The key given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same key is offered twice in one publish with different bytes.
    #[error("{key} is offered twice in one publish with different content")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// An artifact offered as a `.deb` is not one.
    #[error("artifact {name} is not a readable .deb")]
    NotADeb {
        /// The artifact's file name.
        name: String,
        /// The reader's error.
        #[source]
        source: falco_artifacts_pkg_deb::ReadError,
    },
    /// An artifact offered as an `.rpm` is not one.
    #[error("artifact {name} is not a readable .rpm")]
    NotAnRpm {
        /// The artifact's file name.
        name: String,
        /// The reader's error (boxed: it is large).
        #[source]
        source: Box<falco_artifacts_pkg_rpm::RpmError>,
    },
    /// Signing an unsigned `.rpm` on publish failed.
    #[error("cannot sign package {name}")]
    SignPackage {
        /// The artifact's file name.
        name: String,
        /// pkg-rpm's error (boxed: it is large).
        #[source]
        source: Box<falco_artifacts_pkg_rpm::RpmError>,
    },
    /// A repodata document we read back (`repomd.xml`, `primary.xml.gz` …) is not valid.
    #[error("{key} is not valid repodata")]
    BadRepodata {
        /// The object key.
        key: String,
        /// What is wrong.
        #[source]
        source: crate::yum::BadMetadata,
    },
    /// A package's architecture is not one the repository serves.
    #[error("artifact {name} is for architecture {arch:?}; the repository serves {allowed:?}")]
    ArchNotServed {
        /// The artifact's file name.
        name: String,
        /// Its `Architecture` field.
        arch: String,
        /// What the repository serves.
        allowed: Vec<String>,
    },
    /// A package's control fields contradict how the artifact was described.
    #[error("artifact {name}: its control says {field} {found:?}, the artifact says {expected:?}")]
    Mismatch {
        /// The artifact's file name.
        name: String,
        /// The field.
        field: &'static str,
        /// What the artifact was described with.
        expected: String,
        /// What the package says.
        found: String,
    },
    /// A `Packages` index we read back is not what we wrote.
    #[error("{key} is not a valid Packages index")]
    BadIndex {
        /// The object key.
        key: String,
        /// What is wrong.
        #[source]
        source: crate::apt::BadStanza,
    },
    /// A re-sign found a file the live index names missing from the store.
    #[error("{key} is named by the live index but is not stored: it cannot be re-signed")]
    ResignMissing {
        /// The object key.
        key: String,
    },
    /// A re-sign was asked of a repository built without a signer.
    #[error("cannot re-sign {repository}: the repository has no signer")]
    NoSigner {
        /// The repository's path in the store.
        repository: String,
    },
    /// Signing an index failed.
    #[error("cannot sign {what}")]
    Sign {
        /// What was signed.
        what: &'static str,
        /// The signer's error.
        #[source]
        source: falco_artifacts_core::SignError,
    },
    /// Compressing an index failed.
    #[error("cannot compress {what}")]
    Compress {
        /// What was compressed.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A background task died.
    #[error("a background task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl From<PublishError> for CoreError {
    fn from(error: PublishError) -> Self {
        match error {
            PublishError::Conflict {
                repository,
                key,
                existing,
                new,
                occupant,
            } => CoreError::AlreadyExists {
                repository,
                name: key,
                existing,
                new,
                occupant,
            },
            PublishError::LockHeld { .. }
            | PublishError::LockLost { .. }
            | PublishError::Superseded { .. }
            | PublishError::LeaseExpired { .. } => CoreError::Precondition {
                what: error.to_string(),
            },
            PublishError::Store {
                action: StoreAction::Get | StoreAction::Head,
                source: object_store::Error::NotFound { .. },
                ref key,
                ..
            } => CoreError::NotFound { what: key.clone() },
            PublishError::Store { ref store, .. } => CoreError::Backend {
                backend: store.clone(),
                action: "a store request".into(),
                source: Box::new(error),
            },
            PublishError::Corrupt { .. }
            | PublishError::MissingBucket { .. }
            | PublishError::ResignMissing { .. }
            | PublishError::BucketChanged { .. }
            | PublishError::BadIndex { .. }
            | PublishError::BadRepodata { .. }
            | PublishError::Compress { .. }
            | PublishError::Task(_) => CoreError::Backend {
                backend: "publish".into(),
                action: "reading the repository".into(),
                source: Box::new(error),
            },
            PublishError::Sign { .. } | PublishError::SignPackage { .. } => CoreError::Backend {
                backend: "signer".into(),
                action: "signing an index".into(),
                source: Box::new(error),
            },
            PublishError::NotADeb { .. }
            | PublishError::NotAnRpm { .. }
            | PublishError::ArchNotServed { .. }
            | PublishError::Mismatch { .. }
            | PublishError::SchemeDisabled { .. }
            | PublishError::UnsupportedScheme { .. }
            | PublishError::OpenStore { .. }
            | PublishError::ReadArtifact { .. }
            | PublishError::ArtifactChanged { .. }
            | PublishError::WrongRepository { .. }
            | PublishError::NotAccepted { .. }
            | PublishError::MissingField { .. }
            | PublishError::InvalidKey { .. }
            | PublishError::DuplicateKey { .. }
            | PublishError::VersionMoved { .. }
            | PublishError::NoSigner { .. } => CoreError::InvalidInput {
                context: "publish input".into(),
                source: Some(Box::new(error)),
            },
        }
    }
}
