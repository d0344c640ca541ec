//! Integration tests of falco-artifacts-driver-grid: one binary, one module per concern.
//! Fixtures come from `tests/fixtures/make-fixtures.py`.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

#[cfg(all(feature = "build", feature = "publish"))]
mod build;
#[cfg(feature = "build")]
mod build_driverkit;
#[cfg(all(feature = "build", feature = "publish"))]
mod build_falco;
#[cfg(feature = "build")]
mod build_fetch;
#[cfg(all(feature = "build", feature = "publish"))]
mod build_libs;
#[cfg(feature = "build")]
mod build_rpm;
#[cfg(all(feature = "build", feature = "s3"))]
mod build_shards;
mod changes;
mod configs;
mod generate;
mod index;
mod plan;
mod real_tree;
#[cfg(feature = "publish")]
mod repo;
#[cfg(feature = "s3")]
mod repo_s3;
#[cfg(feature = "publish")]
mod site;
mod validate;

use std::path::PathBuf;

/// A fixture tree under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
