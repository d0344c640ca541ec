//! Falco's release pipeline as library calls: the `release` example is a thin command line
//! over this crate, and a release script in Rust calls the same functions.
//!
//! [`Settings`] is the one place where a configuration file ([`PipelineConfig`]) and flags
//! become a release, a job, the repositories and the channels ([`ChannelRegistry`]: `stable`,
//! `dev` and the configuration's own); `plan` and `run` both go through it.
//!
//! A run goes: **gate** (the tests passed, or nothing happens) → **load** every arch's manifest
//! (bad input stops here) → **probe** the repository (unreachable stops here) → **package**
//! DEB, RPM and tarball per arch, signed → **publish** into the channel's repositories →
//! **verify** them → build and push the **images** when configured → a [`RunReport`]
//! ([`run_release_with_progress`] tells a progress display each step) of every file with its digest and URL. Publishing the
//! same release again uploads nothing and says so ([`RunReport::is_noop`]).
//!
//! Packages built elsewhere (CPack) take the same gate, protocol and report instead of the
//! packagers: [`publish_prebuilt`] reads each file's name, version and arch, refuses what does
//! not belong to the release, and signs copies as the packagers sign what they build.
//!
//! # Example
//!
//! Resolving flags and a configuration file the way the `release` binary does:
//!
//! ```no_run
//! use falco_artifacts_release::{EventFlags, JobFlags, RepoFlags, Settings};
//!
//! # async fn resolved() -> Result<(), falco_artifacts_release::PipelineError> {
//! let settings = Settings::load(&RepoFlags { config: Some("release.yaml".into()), ..RepoFlags::default() })?;
//! let event = EventFlags { tag: Some("0.45.0".into()), ..EventFlags::default() };
//! print!("{}", settings.plan(&event, &JobFlags::default(), None)?.to_text());
//! let (job, pipeline) = settings.release_job(&event, &JobFlags::default())?;
//! let report = falco_artifacts_release::run_release(&job, &pipeline).await?;
//! print!("{}", report.to_text());
//! # Ok(()) }
//! ```
//!
//! Or each piece by hand:
//!
//! ```no_run
//! use std::sync::Arc;
//! use falco_artifacts_core::package::SourceDate;
//! use falco_artifacts_core::{Arch, KeyAlgorithm, PgpSigner, ReleaseEvent, ReleasePolicy, Signer};
//! use falco_artifacts_release::{run_release, Gate, Pipeline, ReleaseJob};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let signer: Arc<dyn Signer> = Arc::new(PgpSigner::generate("Falco <f@example.com>", KeyAlgorithm::Ed25519)?);
//! let pipeline = Pipeline::new("file:///srv/falco", Arc::clone(&signer))?;
//! let job = ReleaseJob {
//!     release: ReleaseEvent::tag("0.45.0").resolve(&ReleasePolicy::default())?,
//!     manifest: "packaging/falco.yaml".into(),
//!     arches: Arch::ALL.to_vec(),
//!     source_date: SourceDate::from_secs(1_700_000_000),
//!     gate: Some(Gate::command(&["make".into(), "test".into()])?),
//!     images: None,
//!     commit: None,
//!     env: Default::default(),
//!     work_dir: "build/release".into(),
//!     signer,
//! };
//! let report = run_release(&job, &pipeline).await?;
//! println!("{}", report.to_text());
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `s3`: `s3://` repositories (and driver repositories).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
pub mod demo;
mod drivers;
mod error;
mod gate;
mod images;
mod package;
mod plan;
mod prebuilt;
mod report;
mod resign;
mod resolve;
mod run;

use std::path::PathBuf;
use std::sync::Arc;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{Arch, ChildEnv, Release, Signer};

pub use config::{
    AcceptsName, AllKeyword, CacheControlConfig, ChannelOverride, ChannelRegistry, ChannelsConfig,
    CloudFrontConfig, DriversConfig, EncryptionName, GateConfig, Keep, OverwriteName,
    PipelineConfig, RepoKindName, SigningConfig, StoreConfig,
};
pub use drivers::{Backend, DriverBuild, DriversFailure, DriversJob, DriversReport};
pub use error::{PartialRelease, PipelineError};
pub use gate::{Gate, GatePassed};
pub use images::runtime::{RuntimeImagesConfig, VariantConfig};
pub use images::{publish_images, ImagesConfig, ImagesReport};
pub use package::{load_specs, package_release, BuildFailure, Packaged};
pub use plan::{plan_release, PlannedDrivers, PlannedFile, ReleasePlan};
pub use prebuilt::{
    publish_prebuilt, publish_prebuilt_with_progress, PrebuiltError, PrebuiltFiles, PublishJob,
    RpmSignature,
};
pub use report::{FileStatus, OrphansReport, ReportEntry, RunReport};
pub use resign::ResignRun;
pub use resolve::{
    shell_command, DriversFlags, EventFlags, JobFlags, PrebuiltFlags, RepoFlags, Settings,
};
pub use run::Pipeline;

/// Everything one release run needs.
#[derive(Clone)]
pub struct ReleaseJob {
    /// The version and channel.
    pub release: Release,
    /// The package manifest.
    pub manifest: PathBuf,
    /// Architectures to package.
    pub arches: Vec<Arch>,
    /// Timestamps inside the packages.
    pub source_date: SourceDate,
    /// The test gate; `None` refuses to publish.
    pub gate: Option<Gate>,
    /// The commit released (a full SHA or a prefix of at least 7 hex digits), checked
    /// against an evidence file's; `None` checks it against the git HEAD of the current
    /// directory.
    pub commit: Option<String>,
    /// The environment the gate command (and any other program the run starts) gets:
    /// cleared, then this allow-list.
    pub env: ChildEnv,
    /// Where packages are built.
    pub work_dir: PathBuf,
    /// Build and push container images after publishing, when set.
    pub images: Option<ImagesConfig>,
    /// Signs the packages. Give it the source date as signature time
    /// (`PgpSigner::with_signature_time`) so that the same release gives the same bytes and a
    /// re-run finds everything already published ([`Settings::release_job`] does).
    pub signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for ReleaseJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseJob")
            .field("version", &self.release.version.to_string())
            .field("manifest", &self.manifest)
            .field("arches", &self.arches)
            .field("gate", &self.gate)
            .field("env", &self.env)
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

/// Runs the whole release: gate, load, probe, package, publish, verify, images.
pub async fn run_release(
    job: &ReleaseJob,
    pipeline: &Pipeline,
) -> Result<RunReport, PipelineError> {
    run_release_with_progress(job, pipeline, |_| {}).await
}

/// [`run_release`], telling `progress` each step as it starts (and the images' build output).
pub async fn run_release_with_progress(
    job: &ReleaseJob,
    pipeline: &Pipeline,
    mut progress: impl FnMut(&str),
) -> Result<RunReport, PipelineError> {
    let passed = crate::gate::pass_gate(
        &job.work_dir,
        job.gate.as_ref(),
        job.commit.as_deref(),
        &job.env,
        &mut progress,
    )?;
    progress("loading the manifests");
    let specs = load_specs(&job.release, &job.manifest, &job.arches, job.source_date)?;
    progress("probing the repository");
    pipeline.probe().await?;
    progress("packing DEB, RPM and tarball for every arch");
    let dir = job.work_dir.join(job.release.version.file_name_part());
    let packaged = package_release(&specs, job.signer.as_ref(), &dir)?;
    progress("publishing and verifying");
    let mut report = pipeline.publish(&job.release, &packaged, &passed).await?;
    if let Some(images) = &job.images {
        progress("building and pushing the images");
        report.images = Some(
            publish_images(
                &job.release,
                &packaged.tarball_paths,
                images,
                job.source_date,
                &mut progress,
            )
            .await?,
        );
    }
    Ok(report)
}
