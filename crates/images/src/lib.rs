//! Container images of a release: build through the Docker Engine API, tag per channel, push,
//! and join per-arch images in a multi-arch index.
//!
//! Status: a documented skeleton; built in its own issue.
//!
//! # Example
//!
//! ```
//! use falco_artifacts_images::core::Arch;
//!
//! assert_eq!(format!("linux/{}", Arch::Aarch64.docker_name()), "linux/arm64");
//! ```
//!
//! # Features
//!
//! None yet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The format-neutral package description and the vocabulary this crate builds on.
pub use falco_artifacts_core as core;
