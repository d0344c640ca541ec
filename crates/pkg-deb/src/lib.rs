//! Writing and reading `.deb` packages that dpkg, apt and lintian accept.
//!
//! Status: a documented skeleton. The streaming, reproducible writer and the reader are built
//! in their own issue; until then this crate only names the vocabulary it consumes: the
//! format-neutral [`PackageSpec`](falco_artifacts_core::package::PackageSpec).
//!
//! # Example
//!
//! ```
//! use falco_artifacts_pkg_deb::core::{package::Format, Arch, Version};
//!
//! let version: Version = "0.45.0-36+1307474".parse()?;
//! // What the writer will put in the control file.
//! assert_eq!(version.deb_version(), "0.45.0-36+1307474");
//! assert_eq!(Arch::X86_64.deb_name(), "amd64");
//! assert_eq!(Format::Deb, Format::Deb);
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
