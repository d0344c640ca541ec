//! The Falco release tarball: reproducible, checksummed and signed.
//!
//! Status: a documented skeleton; the writer and the safe reader are built in their own issue.
//!
//! # Example
//!
//! ```
//! use falco_artifacts_pkg_tar::core::{Arch, Version};
//!
//! let version: Version = "0.39.0".parse()?;
//! // The single top directory the tarball will hold.
//! assert_eq!(format!("falco-{version}-{}/", Arch::X86_64), "falco-0.39.0-x86_64/");
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
