//! The Falco Drivers Build Grid as a library: driverkit configs, which driver versions to
//! ship, what changed, builds, publishing and the index of prebuilt drivers.
//!
//! Status: a documented skeleton; built in its own issues.
//!
//! # Example
//!
//! ```
//! use falco_artifacts_driver_grid::core::Arch;
//!
//! // driverkit configs say `arm64`, directories say `aarch64`.
//! let arch: Arch = "arm64".parse()?;
//! assert_eq!(arch.file_name(), "aarch64");
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
