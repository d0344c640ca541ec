//! What a release event would produce, without building or uploading anything: every file with
//! its path in the repository, the image tags, and the driver builds.

use std::path::Path;

use falco_artifacts_core::package::{Format, SourceDate};
use falco_artifacts_core::{Arch, Channel, Release, RepoKind};
use falco_artifacts_driver_grid::{
    check_tree, config_root, parse_releases, ship, PlanFilter, ShipPolicy,
};
use falco_artifacts_images::TagPolicy;
use serde::Serialize;

use crate::drivers::failed;
use crate::{load_specs, DriversJob, PipelineError};

/// One file a release produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    /// `deb`, `rpm` or `tarball`.
    pub kind: &'static str,
    /// Its architecture.
    pub arch: Arch,
    /// The file name.
    pub file_name: String,
    /// Its path under the repository root, in download.falco.org's layout.
    pub path: String,
}

/// The driver builds a config directory asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlannedDrivers {
    /// Driver versions shipped (all in the configs without a release list).
    pub driver_versions: Vec<String>,
    /// Builds (one per config).
    pub builds: usize,
    /// Their outputs (`.ko` and `.o`).
    pub outputs: usize,
    /// Invalid configs, which never reach a build.
    pub invalid: usize,
}

/// What a release would produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleasePlan {
    /// The version.
    pub version: String,
    /// The channel.
    pub channel: String,
    /// Every package file.
    pub artifacts: Vec<PlannedFile>,
    /// Image tags, per-arch ones included (`latest` assumes no newer stable tag exists).
    pub image_tags: Vec<String>,
    /// The drivers, when a config directory was given.
    pub drivers: Option<PlannedDrivers>,
}

impl ReleasePlan {
    /// A table for people.
    pub fn to_text(&self) -> String {
        let mut out = format!("release {} -> channel {}\n", self.version, self.channel);
        for a in &self.artifacts {
            out.push_str(&format!(
                "  {:<8} {:<8} {}\n",
                a.kind,
                a.arch.to_string(),
                a.path
            ));
        }
        out.push_str(&format!("  images   {}\n", self.image_tags.join(", ")));
        if let Some(d) = &self.drivers {
            out.push_str(&format!(
                "  drivers  {} builds ({} outputs) for {}; {} invalid configs\n",
                d.builds,
                d.outputs,
                d.driver_versions.join(", "),
                d.invalid
            ));
        }
        out
    }
}

/// Plans `release` from `manifest` for `arches` (and the drivers of `drivers`, when given).
pub fn plan_release(
    release: &Release,
    manifest: &Path,
    arches: &[Arch],
    source_date: SourceDate,
    drivers: Option<&DriversJob>,
) -> Result<ReleasePlan, PipelineError> {
    let channel = &release.channel;
    let mut artifacts = Vec::new();
    for spec in load_specs(release, manifest, arches, source_date)? {
        let arch = spec.arch;
        for (kind, format, repo) in [
            ("deb", Format::Deb, RepoKind::Deb),
            ("rpm", Format::Rpm, RepoKind::Rpm),
            ("tarball", Format::Tar, RepoKind::Bin),
        ] {
            let name = channel.repository(repo);
            let dir = match repo {
                RepoKind::Deb => format!("packages/{name}/stable"),
                RepoKind::Rpm => format!("packages/{name}"),
                RepoKind::Bin => format!("packages/{name}/{arch}"),
            };
            let file_name = spec.file_name(format);
            artifacts.push(PlannedFile {
                kind,
                arch,
                path: format!("{dir}/{file_name}"),
                file_name,
            });
        }
    }
    let tags = TagPolicy::default()
        .release_tags(&release.version, &[])
        .map_err(|source| PipelineError::NoImageTag {
            version: release.version.to_string(),
            source,
        })?;
    let mut image_tags: Vec<String> = arches
        .iter()
        .flat_map(|&arch| tags.for_arch(arch))
        .map(|t| t.to_string())
        .collect();
    image_tags.extend(tags.names().into_iter().map(str::to_owned));
    let drivers = drivers.map(plan_drivers).transpose()?;
    Ok(ReleasePlan {
        version: release.version.to_string(),
        channel: channel.name().to_string(),
        artifacts,
        image_tags,
        drivers,
    })
}

fn plan_drivers(job: &DriversJob) -> Result<PlannedDrivers, PipelineError> {
    let report = check_tree(&config_root(&job.configs))
        .map_err(|e| failed("loading the driverkit configs", e))?;
    let mut filter = PlanFilter::default();
    let mut versions = Vec::new();
    if let Some(path) = &job.releases {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
            path: path.clone(),
            source,
        })?;
        let releases =
            parse_releases(&text).map_err(|e| failed(&format!("reading {}", path.display()), e))?;
        let shipped = ship(&releases, &ShipPolicy::default())
            .map_err(|e| failed("choosing the driver versions to ship", e))?;
        versions = shipped.iter().map(ToString::to_string).collect();
        filter = filter.with_driver_versions(shipped);
    }
    let plan = falco_artifacts_driver_grid::Plan::new(&report.valid, &filter);
    if versions.is_empty() {
        let mut all: Vec<String> = plan
            .builds
            .iter()
            .map(|b| b.driver_version.to_string())
            .collect();
        all.sort();
        all.dedup();
        versions = all;
    }
    Ok(PlannedDrivers {
        driver_versions: versions,
        builds: plan.builds.len(),
        outputs: plan.output_count(),
        invalid: report.invalid_count(),
    })
}
