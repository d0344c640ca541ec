//! Channel repositories (APT, YUM/DNF, bin, generic) on object storage, with the commit
//! protocol of `DESIGN.md`: immutable uploads, a leased lock, incremental indexes, signed top
//! files written last, retention.
//!
//! Status: a documented skeleton; the repositories are built in their own issues. The contract
//! they implement is core's [`Publisher`](falco_artifacts_core::Publisher).
//!
//! # Example
//!
//! ```
//! use falco_artifacts_publish::core::{Channel, ChannelConfig, RepoKind};
//!
//! let dev = ChannelConfig::development();
//! assert_eq!(format!("packages/{}", dev.repository(RepoKind::Rpm)), "packages/rpm-dev");
//! ```
//!
//! # Features
//!
//! None yet (S3, GCS and Azure backends will sit behind features).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The format-neutral package description and the vocabulary this crate builds on.
pub use falco_artifacts_core as core;
