//! falco-artifacts: build, publish and keep Falco's release artifacts.
//!
//! This umbrella crate only re-exports the workspace's libraries by name, each behind a
//! feature, so a release tool can depend on one crate and pick what it needs.
//!
//! # Example
//!
//! ```
//! use falco_artifacts::core::{ReleaseEvent, ReleasePolicy};
//!
//! let release = ReleaseEvent::tag("0.45.0-rc1").resolve(&ReleasePolicy::default())?;
//! assert!(release.version.is_prerelease());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! All on by default: `deb` (`falco_artifacts::deb`), `rpm` (`::rpm`), `tar` (`::tar`),
//! `publish` (`::publish`), `driver-grid` (`::driver_grid`), `images` (`::images`), and
//! `release` (`::release`: the release pipeline as library calls, on all of them).
//! `core` is always there.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use falco_artifacts_core as core;
#[cfg(feature = "driver-grid")]
pub use falco_artifacts_driver_grid as driver_grid;
#[cfg(feature = "images")]
pub use falco_artifacts_images as images;
#[cfg(feature = "deb")]
pub use falco_artifacts_pkg_deb as deb;
#[cfg(feature = "rpm")]
pub use falco_artifacts_pkg_rpm as rpm;
#[cfg(feature = "tar")]
pub use falco_artifacts_pkg_tar as tar;
#[cfg(feature = "publish")]
pub use falco_artifacts_publish as publish;
#[cfg(feature = "release")]
pub use falco_artifacts_release as release;
