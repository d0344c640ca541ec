//! Writing, signing and reading `.rpm` packages that rpm and dnf accept.
//!
//! Status: a documented skeleton. The writer (on the `rpm` crate), signing with core's
//! [`Signer`](falco_artifacts_core::Signer) and the header reader are built in their own issue.
//!
//! # Example
//!
//! ```
//! use falco_artifacts_pkg_rpm::core::{Arch, Version};
//!
//! let version: Version = "0.45.0-36+1307474".parse()?;
//! // What the writer will put in the Version and Release tags.
//! assert_eq!(version.rpm_version(), "0.45.0_36+1307474");
//! assert_eq!(version.rpm_release(), "1");
//! assert_eq!(Arch::Aarch64.rpm_name(), "aarch64");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! None yet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The format-neutral package description and the vocabulary this crate builds on.
pub use falco_artifacts_core as core;
