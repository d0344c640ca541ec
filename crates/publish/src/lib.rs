//! Channel repositories on object storage, with one commit protocol for every format.
//!
//! Repositories live on any [`object_store`] backend picked from a URL ([`RepoStore`]):
//! `file://` always, `memory://` for tests, `s3://` with the `s3` feature. Every publish
//! follows the protocol of `DESIGN.md`:
//!
//! 1. every file is checked first (a refused publish writes nothing), then uploaded under its
//!    immutable name with a create-if-absent put: the same bytes again are a no-op, different
//!    bytes are refused with [`PublishError::Conflict`] (core's `Error::AlreadyExists` with both
//!    digests) unless the channel allows replacing;
//! 2. the repository lock is taken: a lease built on create-if-absent alone (see
//!    [`LockOptions`]), so a crashed holder's lock expires and stealing it is safe on every
//!    store, `file://` included;
//! 3. the live index is read (never the packages), merged, and the channel's retention
//!    applied;
//! 4. content-addressed index files are written first (`by-hash/SHA256/<digest>`,
//!    `repodata/<digest>-primary.xml.gz`), then the
//!    canonical names, then, after checking the lock is still ours, the top file that makes
//!    the new generation live;
//! 5. pruned files are deleted only after that, still under the lock, and the lock released.
//!
//! [`AptRepository`] (`packages/deb[-dev]`: pool, `Packages{,.gz,.xz}` with `by-hash/`,
//! `Release`/`Release.gpg`/`InRelease` signed by core's `Signer`, control fields read through
//! pkg-deb), [`YumRepository`] (`packages/rpm[-dev]`: `repodata/repomd.xml` with its detached
//! `.asc`, content-addressed `primary`/`filelists`/`other.xml.gz` written with quick-xml from
//! headers read through pkg-rpm, unsigned packages signed on publish), [`BinRepository`] (release tarballs, `index.json` + `index.html`) and
//! [`GenericRepository`] (any keys under a prefix, e.g. prebuilt drivers) implement core's
//! [`Publisher`](falco_artifacts_core::Publisher). Each has a dry run (`plan`), a `verify`
//! that reads the repository like a client and lists every [`Problem`], and `orphans` /
//! `remove_orphans`: the package files a publish that failed after uploading left behind,
//! which no index names and which block a corrected publish of the same names (its
//! [`PublishError::Conflict`] says so), listed without changing anything or deleted under
//! the lock. The generic repository also lists its objects ([`ListedObject`]), removes keys
//! under the same protocol (the index without them is live first; they are deleted, like
//! pruned files, once no kept generation names them) and writes files derived from it (a
//! site index) under its lock.
//! [`Faults`] counts requests and fails chosen ones, for atomicity tests: consulted by a
//! [`RepoStore`] ([`RepoStore::with_faults`], every backend) or by the [`FailingStore`] wrapper
//! of an `ObjectStore`.
//!
//! Adding packages costs the same at any repository size: `Packages` and the YUM documents
//! are kept in buckets by package name (one gzip member each, their layout beside the index),
//! so a publish parses, rewrites and recompresses only the buckets of the packages it adds
//! and copies the others' bytes; the result is byte-identical to a whole rebuild. On
//! `file://`, requests run on the calling thread (no blocking-pool hand-off per request),
//! canonical index names are hard links to their content-addressed twins, and the writes of
//! one commit phase are synced in parallel.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use falco_artifacts_publish::core::{
//!     Arch, Artifact, ArtifactKind, ChannelConfig, LocalArtifact, Publisher, RepoKind,
//! };
//! use falco_artifacts_publish::{BinRepository, RepoStore, VerifyOptions};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
//! let site = tempfile::tempdir()?;
//! let store = RepoStore::from_url(&format!("file://{}", site.path().display()))?;
//! let bin = BinRepository::builder(store).build()?;
//!
//! let tarball: Arc<dyn Artifact> = Arc::new(
//!     LocalArtifact::from_bytes(ArtifactKind::Tarball, "falco-0.39.0-x86_64.tar.gz", b"tgz".to_vec())?
//!         .with_version("0.39.0".parse()?)
//!         .with_arch(Arch::X86_64),
//! );
//! let stable = ChannelConfig::stable();
//! let dry = bin.plan(&stable, &[tarball.clone()]).await?;
//! assert_eq!(dry.upload.len(), 1);
//! assert!(!site.path().join("packages/bin/index.json").exists());
//!
//! let report = bin.publish(&stable, &[tarball.clone()]).await?;
//! assert_eq!(report.uploaded.len(), 1);
//! assert!(site.path().join("packages/bin/x86_64/falco-0.39.0-x86_64.tar.gz").exists());
//! assert!(bin.publish(&stable, &[tarball]).await?.is_noop());
//! assert_eq!(bin.list(&stable, RepoKind::Bin).await?.len(), 1);
//! assert!(bin.verify(&stable, &VerifyOptions::default()).await?.is_clean());
//! assert!(bin.orphans(&stable).await?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `s3`: `s3://bucket/prefix` stores (Amazon S3 and compatible servers, through
//!   `object_store`'s `aws` feature), configured by [`StoreOptions`] and the `AWS_*`
//!   environment variables; also [`CloudFrontOptions`] (CloudFront invalidations after each
//!   commit, for any store, signed by `object_store`'s SigV4 signer).
//!
//! # Objects ready for a CDN
//!
//! Every upload carries the `Content-Type` and `Cache-Control` of [`ObjectHeaders`]
//! ([`StoreOptions::headers`]): a year and `immutable` for package and content-addressed files,
//! a minute for the mutable names, `no-store` for the protocol's `.publish/` objects. On S3 a
//! canned ACL ([`CannedAcl`]) and server-side encryption ([`ServerSideEncryption`]) may be set.
//! With [`StoreOptions::cloudfront`], each commit is followed by one invalidation of exactly
//! the mutable keys it wrote or deleted (and packages it replaced), retried with backoff; its
//! outcome is [`PublishReport::invalidation`](falco_artifacts_core::PublishReport::invalidation),
//! and a failure never fails or undoes the publish. `file://` keeps no headers: the HTTP
//! server in front of the directory decides them.
//!
//! GCS and Azure are not offered yet: nothing here could test them against a real server.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod apt;
mod bin;
mod buckets;
mod cdn;
mod chunked;
mod engine;
mod error;
mod failing;
mod generic;
mod html;
mod index;
mod local_dir;
mod maintain;
mod options;
mod protocol;
mod split;
mod store;
mod yum;

pub use apt::{AptRepository, AptRepositoryBuilder, BadStanza};
pub use bin::{BinRepository, BinRepositoryBuilder};
pub use cdn::{CdnError, CloudFrontOptions};
pub use error::{PublishError, StoreAction};
pub use failing::{FailMode, FailingStore, Faults};
pub use falco_artifacts_core::{Problem, PublishPlan, VerifyOptions, VerifyReport};
pub use generic::{
    DerivedFiles, GenericFile, GenericRepository, GenericRepositoryBuilder, ListedObject,
    ScopedListing,
};
pub use index::{
    FileKind, IndexBucket, IndexEntry, ProtocolState, RepoIndex, BY_HASH, INDEX_HTML, INDEX_JSON,
};
pub use maintain::ListScope;
pub use options::RepositoryOptions;
pub use protocol::lock::{LockOptions, LockState};
pub use protocol::resign::ResignReport;
pub use store::{
    CannedAcl, ObjectClass, ObjectHeaders, RepoStore, ServerSideEncryption, StoreOptions,
    UnknownAcl,
};
pub use yum::{BadMetadata, YumRepository, YumRepositoryBuilder};

/// The format-neutral package description and the vocabulary this crate builds on.
pub use falco_artifacts_core as core;
