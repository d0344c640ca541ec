//! What a grid run did: one record per build, as text for people and JSON for tools.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::BuildError;
use crate::kernel::DriverKind;
use crate::{BuiltDriver, DriverVersion, KernelRelease, KernelVersion, Target};
use falco_artifacts_core::Arch;

/// How one build ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum BuildStatus {
    /// Every requested output was built and moved into the output directory.
    Built,
    /// The build failed; nothing of it is in the output directory.
    Failed {
        /// Why, with every cause.
        #[serde(serialize_with = "error_chain")]
        error: Arc<BuildError>,
    },
    /// The build did not run.
    Skipped {
        /// Why: the outputs were already in the output directory, or the run was cancelled.
        reason: String,
    },
}

fn error_chain<S: Serializer>(error: &Arc<BuildError>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&error.chain())
}

/// An output a build did not make because the driver version or the backend cannot make it
/// (the build still succeeded with the others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotBuilt {
    /// Module or probe.
    pub kind: DriverKind,
    /// Why: "probe not supported by this driver version (… has no bpf/Makefile)".
    pub reason: String,
}

/// One build of a grid run.
#[derive(Debug, Clone, Serialize)]
pub struct BuildRecord {
    /// The config file.
    pub config: PathBuf,
    /// Its driver version.
    pub driver_version: DriverVersion,
    /// Its architecture.
    pub arch: Arch,
    /// Its target.
    pub target: Target,
    /// Its kernel release.
    pub kernel_release: KernelRelease,
    /// Its kernel version.
    pub kernel_version: KernelVersion,
    /// How it ended.
    #[serde(flatten)]
    pub status: BuildStatus,
    /// The build's log (`None` for a build that did not run).
    pub log: Option<PathBuf>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The files built (or found already built), ready to publish.
    pub outputs: Vec<BuiltDriver>,
    /// The outputs requested but not made, each with its reason.
    pub not_built: Vec<NotBuilt>,
}

/// The result of [`GridRunner::run`](super::GridRunner::run).
#[derive(Debug, Clone, Serialize)]
pub struct GridReport {
    /// The backend (`local`, `driverkit`).
    pub backend: String,
    /// Whether the run was cancelled (then nothing is published).
    pub cancelled: bool,
    /// One record per build, in plan order.
    pub builds: Vec<BuildRecord>,
}

impl GridReport {
    /// How many builds were built, failed and skipped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for record in &self.builds {
            match record.status {
                BuildStatus::Built => counts.0 += 1,
                BuildStatus::Failed { .. } => counts.1 += 1,
                BuildStatus::Skipped { .. } => counts.2 += 1,
            }
        }
        counts
    }

    /// Whether no build failed and the run was not cancelled.
    pub fn is_ok(&self) -> bool {
        !self.cancelled && self.counts().1 == 0
    }

    /// The records of failed builds.
    pub fn failures(&self) -> impl Iterator<Item = &BuildRecord> {
        self.builds
            .iter()
            .filter(|r| matches!(r.status, BuildStatus::Failed { .. }))
    }

    /// Every driver built or found built, for
    /// [`DriverRepository::publish`](crate::DriverRepository::publish); empty when the run was
    /// cancelled, so that an interrupted run publishes nothing.
    pub fn built_drivers(&self) -> Vec<BuiltDriver> {
        if self.cancelled {
            return Vec::new();
        }
        self.builds
            .iter()
            .flat_map(|r| r.outputs.iter().cloned())
            .collect()
    }

    /// One line per build, then the totals:
    /// `failed  debian 6.1.0-56-amd64 1  (0.4 s): cannot download … (log: …)`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.builds {
            let (word, detail) = match &r.status {
                BuildStatus::Built => ("built", String::new()),
                BuildStatus::Failed { error } => ("failed", format!(": {}", error.chain())),
                BuildStatus::Skipped { reason } => ("skipped", format!(": {reason}")),
            };
            let _ = write!(
                out,
                "{word:<8}{} {} {} {} ({}, {:.1} s){detail}",
                r.driver_version, r.target, r.kernel_release, r.kernel_version, r.arch, r.seconds
            );
            if let (BuildStatus::Failed { .. }, Some(log)) = (&r.status, &r.log) {
                let _ = write!(out, " (log: {})", log.display());
            }
            for not in &r.not_built {
                let _ = write!(out, "; no {}: {}", not.kind, not.reason);
            }
            out.push('\n');
        }
        let (built, failed, skipped) = self.counts();
        let _ = writeln!(
            out,
            "{built} built, {failed} failed, {skipped} skipped ({} backend){}",
            self.backend,
            if self.cancelled { ", cancelled" } else { "" }
        );
        out
    }

    /// The report as JSON: `{backend, cancelled, builds: [{config, driver_version, arch,
    /// target, kernel_release, kernel_version, status, error|reason, log, seconds, outputs,
    /// not_built: [{kind, reason}]}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
