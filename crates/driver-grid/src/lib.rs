//! The Falco Drivers Build Grid as a library: driverkit configs, which driver versions to
//! ship, what changed, the build plan, stats and the index of prebuilt drivers.
//!
//! Configs live in `driverkit/config/<driverversion>/<x86_64|aarch64>/<target>_<kernelrelease>_<kernelversion>.yaml`
//! (the oldest, x86_64-only ones in `driverkit/config/<commit>/`). [`load_tree`] parses them as
//! they exist in the wild, [`validate`] applies every rule and keeps only the configs that may
//! be built ([`ValidConfig`]), and [`Plan`] turns those into builds with their destination keys
//! `driver/<driverversion>/<arch>/falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`.
//! [`ship`] picks the driver versions of the latest stable Falco releases, [`changed_configs`]
//! finds what changed between two commits, [`Plan::without_existing`] what is not published
//! yet, [`Stats`] counts, [`generate`] writes configs from kernel-crawler's `list.json` and
//! [`DriverIndex`] renders the public index of prebuilt drivers from a store listing.
//!
//! # Example
//!
//! ```
//! use falco_artifacts_driver_grid::{check_tree, ExistingKeys, Plan, PlanFilter};
//!
//! let root = tempfile::tempdir()?;
//! let dir = root.path().join("7.0.0+driver/x86_64");
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(
//!     dir.join("debian_5.10.197-1-amd64_1.yaml"),
//!     "kernelversion: 1\nkernelrelease: 5.10.197-1-amd64\ntarget: debian\narchitecture: amd64\n\
//!      output:\n  module: output/7.0.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.ko\n  \
//!      probe: output/7.0.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.o\n",
//! )?;
//!
//! let report = check_tree(root.path())?;
//! assert!(report.is_ok() && report.warnings.is_empty(), "{}", report.to_text());
//!
//! let plan = Plan::new(&report.valid, &PlanFilter::default());
//! let published: ExistingKeys =
//!     ["driver/7.0.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.ko".to_owned()].into_iter().collect();
//! let (missing, skipped) = plan.without_existing(&published);
//! assert_eq!((missing.output_count(), skipped), (1, 1));
//! assert_eq!(missing.builds[0].outputs[0].key, "driver/7.0.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.o");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The example `driver-grid` runs `validate`, `plan`, `stats` and `generate` on a config
//! directory, and `publish`, `index`, `cleanup` and `stats --repo` on a store:
//! `cargo run -p falco-artifacts-driver-grid --example driver-grid -- validate <dir> [--json]`.
//!
//! With the `publish` feature, [`DriverRepository`] publishes built drivers
//! ([`scan_built`] reads driverkit's `output/<driverversion>/<arch>/` directory) through the
//! generic repository of `falco-artifacts-publish`, skipping what a listing shows is there,
//! writes the index of prebuilt drivers into the store, deletes the driver versions a
//! [`CleanupSelection`] names (dry run by default; nothing goes unless named) and counts what
//! a store holds.
//!
//! With the `build` feature, [`build`] compiles the drivers of a plan: [`build::LocalBuilder`] downloads a config's
//! `kernelurls` (cached by URL), unpacks the header packages with our own `.deb`/`.rpm`
//! readers, repairs their layout and builds the [`build::DriverSource`] (a configured DKMS
//! tree, or a falcosecurity/libs checkout or tarball it configures with cmake as driverkit
//! does) with the driver's own Makefiles: `make -C <headers> M=<tree> modules` + `strip -g`,
//! and `make -C <tree>/bpf KERNELDIR=<headers>` for the legacy probe;
//! [`build::DriverkitBuilder`] runs the `driverkit` CLI instead; [`Plan::shard`] splits a plan
//! over CI jobs;
//! [`build::GridRunner`] runs the builds in parallel with a timeout and a log each, moves
//! finished outputs into driverkit's `output/` layout atomically and reports
//! ([`build::GridReport`]) what built, failed or was skipped, ready for
//! [`DriverRepository::publish`]. [`build::GridBuild`] sets a run up from options (backend,
//! directories, workers, timeout, environment): the example's `build` command (with progress
//! bars) and the release pipeline's drivers step both go through it.
//!
//! # Features
//!
//! None by default: configs, validation, plans, changes, generate, stats, coverage, the index
//! as values and [`CleanupPlan`] are pure, so a pull-request check that only validates
//! compiles no HTTP client, no process control, no package reader and no store.
//!
//! - `build`: the [`build`] module (HTTP downloads with `ureq`, process groups with `rustix`,
//!   the `.deb`/`.rpm` readers of `falco-artifacts-pkg-deb`/`-pkg-rpm` for header packages).
//! - `publish`: [`DriverRepository`] and the re-export [`publish`] of
//!   `falco-artifacts-publish`, for `file://` and `memory://` stores.
//! - `s3`: `s3://bucket/prefix` stores (enables `publish`).
//! - `https`: `https://` kernel URLs for [`build::Fetcher`] (rustls with the webpki roots;
//!   enables `build`); without it such a URL fails with [`build::FetchError::HttpsDisabled`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The crate docs link to the `build` and `publish` items; without those features the links
// have nothing to point at.
#![cfg_attr(
    not(all(feature = "build", feature = "publish")),
    allow(rustdoc::broken_intra_doc_links)
)]

/// The shared vocabulary (`Arch`, `Version`, …) this crate builds on.
pub use falco_artifacts_core as core;
/// The repositories on object storage that [`DriverRepository`] publishes through
/// (`RepoStore`, `StoreOptions`, `GenericRepository`).
#[cfg(feature = "publish")]
pub use falco_artifacts_publish as publish;

#[cfg(feature = "build")]
pub mod build;
mod built;
mod changes;
mod cleanup;
mod config;
mod coverage;
mod driver_version;
mod fast_parse;
mod generate;
mod glob;
mod ident;
mod index;
mod kernel;
mod kernel_digest;
mod kernel_list;
mod load;
mod parallel;
mod parse;
#[cfg(test)]
mod parse_fuzz;
mod plan;
mod problem;
#[cfg(feature = "publish")]
mod repository;
mod shard;
mod ship;
mod stats;
mod target;
mod validate;

pub use built::{scan_built, BuiltDriver, BuiltError};
pub use changes::{
    changed_config_files, changed_configs, Change, ChangedConfig, ChangesError, CONFIG_PREFIX,
};
pub use cleanup::{CleanupError, CleanupPlan, CleanupSelection};
pub use config::DriverConfig;
pub use coverage::{ArchCoverage, Coverage, MissingDriver};
pub use driver_version::{DriverVersion, DriverVersionKind};
pub use generate::{
    generate, generate_list, GenerateError, Generated, GeneratedConfig, Prune, SkipReason,
    SkippedEntry,
};
pub use ident::InvalidIdentifier;
pub use index::{
    DriverIndex, IndexEntry, PublishedObject, COVERAGE_JSON_KEY, INDEX_HTML_KEY, INDEX_JSON_KEY,
    SITE_PAGE,
};
pub use kernel::{driver_file_name, DriverKind, KernelRelease, KernelVersion};
pub use kernel_digest::{KernelDigestError, KernelDownload, KERNEL_SHA256_KEY};
pub use kernel_list::{arch_of_path, KernelEntry, KernelList};
pub use load::{config_root, load_tree, ConfigTree, Layout, LoadError, LoadedConfig, Location};
pub use parse::ParseError;
pub use plan::{download_path, Build, BuildOutput, ExistingKeys, Plan, PlanFilter};
pub use problem::{Problem, ProblemKind, Warning, WarningKind};
#[cfg(feature = "publish")]
pub use repository::{
    CleanupMode, CleanupOutcome, DriverRepository, Listing, PublishOutcome, RepositoryError,
    DRIVER_PREFIX,
};
pub use shard::{MatrixJob, Shard, ShardError};
pub use ship::{parse_releases, ship, FalcoRelease, ShipError, ShipPolicy};
pub use stats::{GroupStats, Stats, StatsRow};
pub use target::{Target, KNOWN_TARGETS, TARGETS_NEEDING_KERNEL_CONFIG};
pub use validate::{
    check_tree, check_tree_with, validate, validate_with, Report, Strictness, ValidConfig,
};
