//! The shared vocabulary of falco-artifacts: versions, architectures, release events,
//! channels, artifacts, publishers, the format-neutral package description, digests and
//! OpenPGP signing. No network, no storage engine: every other crate builds on these types.
//!
//! # Example
//!
//! ```
//! use falco_artifacts_core::{Arch, Channel, ReleaseEvent, ReleasePolicy, RepoKind};
//!
//! let release = ReleaseEvent::tag("0.39.0").resolve(&ReleasePolicy::default())?;
//! let arch: Arch = "amd64".parse()?;
//! let file = format!("falco-{}-{}.deb", release.version, arch);
//! assert_eq!(file, "falco-0.39.0-x86_64.deb");
//! assert_eq!(release.channel.repository(RepoKind::Deb), "deb");
//! assert_eq!(arch.deb_name(), "amd64");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `compress`: the streaming, multi-threaded gzip/xz/zstd encoders the packagers share
//!   ([`compress`]); off by default so users of the vocabulary alone build no codecs.
//! - `tar-guard`: the bounded watch on tar streams every tar reader shares ([`tar_guard`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod arch;
mod artifact;
mod channel;
mod child_env;
#[cfg(feature = "compress")]
pub mod compress;
mod digest;
mod error;
mod git;
mod invalidation;
mod keyring;
mod memory;
pub mod package;
mod pkgorder;
mod publisher;
mod release;
mod retention;
mod sign;
#[cfg(feature = "tar-guard")]
pub mod tar_guard;
mod verify;
mod version;
pub mod web;

pub use arch::{Arch, UnknownArch, KNOWN_ARCH_NAMES};
pub use artifact::{Artifact, ArtifactError, ArtifactKind, ArtifactSource, LocalArtifact};
pub use channel::{
    Accepts, Channel, ChannelBuilder, ChannelConfig, ChannelName, InvalidName, Overwrite, RepoKind,
    Retention,
};
pub use child_env::{ChildEnv, InvalidVariableName, BASE_VARIABLES};
pub use digest::{
    DigestSet, DigestingReader, DigestingWriter, Digests, InvalidDigest, Sha256Digest,
};
pub use error::{BoxError, Error};
pub use git::{head_commit, version_from_git, GitVersionError};
pub use invalidation::{Invalidation, InvalidationFailure};
pub use keyring::{public_key_bundle, KEY_BUNDLE};
pub use memory::InMemoryPublisher;
pub use publisher::{Occupant, Orphan, PublishPlan, PublishReport, PublishedFile, Publisher};
pub use release::{Release, ReleaseEvent, ReleaseEventError, ReleasePolicy};
pub use sign::{KeyAlgorithm, PgpSigner, SignError, Signer};
pub use verify::{Problem, VerifyOptions, VerifyReport};
pub use version::{Version, VersionError, VersionKind};
