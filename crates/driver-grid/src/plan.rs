//! The plan: which drivers to build from which configs, and where they go.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use falco_artifacts_core::Arch;
use serde::Serialize;

use crate::glob::Glob;
use crate::kernel::{driver_file_name, DriverKind};
use crate::load::{Layout, Location};
use crate::validate::ValidConfig;
use crate::{DriverVersion, KernelRelease, KernelVersion, Target};

/// The object key a driver is published under:
/// `driver/<driverversion>/<arch>/falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`, or
/// `driver/<commit>/falco_…` for the legacy x86_64-only layout. The key keeps `+` as is; see
/// [`download_path`] for URLs.
pub(crate) fn driver_key(
    location: &Location,
    target: &Target,
    release: &KernelRelease,
    version: &KernelVersion,
    kind: DriverKind,
) -> String {
    format!(
        "driver/{}/{}",
        location.directory(),
        driver_file_name(target, release, version, kind)
    )
}

/// A key as a URL path: `+` becomes `%2B`, as the driver loader requests it.
pub fn download_path(key: &str) -> String {
    falco_artifacts_core::web::url_path(key)
}

/// One driver file to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildOutput {
    /// Module or probe.
    pub kind: DriverKind,
    /// Where driverkit writes it, from the config (`output/<driverversion>/<arch>/…`).
    pub output: String,
    /// Where it is published: `driver/<driverversion>/<arch>/falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`
    /// (`driver/<commit>/falco_…` in the legacy x86_64-only layout), `+` kept as is; see
    /// [`download_path`](crate::download_path) for URLs.
    pub key: String,
}

/// One config to build: the kernel and the outputs wanted from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    /// The config file.
    pub config: PathBuf,
    /// The driver version.
    pub driver_version: DriverVersion,
    /// The architecture.
    pub arch: Arch,
    /// The layout of its driver version directory.
    pub layout: Layout,
    /// The target.
    pub target: Target,
    /// The kernel release.
    pub kernel_release: KernelRelease,
    /// The kernel version.
    pub kernel_version: KernelVersion,
    /// What to build: one or two outputs.
    pub outputs: Vec<BuildOutput>,
}

/// Which configs a plan keeps. Empty lists and `None` keep everything.
///
/// ```
/// use falco_artifacts_driver_grid::PlanFilter;
/// use falco_artifacts_driver_grid::core::Arch;
///
/// let filter = PlanFilter::default()
///     .with_target("ubuntu".parse()?)
///     .with_kernel_release("5.15.*")
///     .with_arch(Arch::X86_64)
///     .with_driver_version("7.0.0+driver".parse()?);
/// # Ok::<(), falco_artifacts_driver_grid::InvalidIdentifier>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct PlanFilter {
    targets: Vec<Target>,
    kernel_release: Option<Glob>,
    arch: Option<Arch>,
    driver_versions: Vec<DriverVersion>,
}

impl PlanFilter {
    /// Keeps this target too (several calls keep several targets).
    pub fn with_target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Keeps only kernel releases matching `pattern`, a glob matched against the whole
    /// release: `*` any run of characters, `?` one character (`5.15.*-aws`).
    pub fn with_kernel_release(mut self, pattern: &str) -> Self {
        self.kernel_release = Some(Glob::new(pattern));
        self
    }

    /// Keeps only `arch`.
    pub fn with_arch(mut self, arch: Arch) -> Self {
        self.arch = Some(arch);
        self
    }

    /// Keeps this driver version too (several calls keep several versions).
    pub fn with_driver_version(mut self, version: DriverVersion) -> Self {
        self.driver_versions.push(version);
        self
    }

    /// Keeps only the driver versions of `versions`, e.g. those [`ship`](crate::ship) selects.
    pub fn with_driver_versions(
        mut self,
        versions: impl IntoIterator<Item = DriverVersion>,
    ) -> Self {
        self.driver_versions.extend(versions);
        self
    }

    /// Whether a config passes the filter.
    pub fn keeps(&self, config: &ValidConfig) -> bool {
        let c = &config.config;
        (self.targets.is_empty() || self.targets.contains(&c.target))
            && self
                .kernel_release
                .as_ref()
                .is_none_or(|glob| glob.matches(c.kernel_release.as_str()))
            && self.arch.is_none_or(|arch| arch == config.location.arch)
            && (self.driver_versions.is_empty()
                || self
                    .driver_versions
                    .contains(&config.location.driver_version))
    }
}

/// The keys already published, as a store listing returns them.
#[derive(Debug, Clone, Default)]
pub struct ExistingKeys {
    keys: HashSet<String>,
}

impl ExistingKeys {
    /// Whether `key` is published.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// How many keys the listing holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the listing is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Reads a listing saved as text: either a JSON array of keys, or one key per line
    /// (blank lines ignored).
    pub fn from_listing(text: &str) -> Result<Self, serde_json::Error> {
        if text.trim_start().starts_with('[') {
            let keys: Vec<String> = serde_json::from_str(text)?;
            return Ok(keys.into_iter().collect());
        }
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

impl FromIterator<String> for ExistingKeys {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        ExistingKeys {
            keys: iter.into_iter().collect(),
        }
    }
}

/// The builds to run, in config path order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The builds.
    pub builds: Vec<Build>,
}

impl Plan {
    /// One build per valid config that `filter` keeps, with every output it requests.
    pub fn new(configs: &[ValidConfig], filter: &PlanFilter) -> Plan {
        let builds = configs
            .iter()
            .filter(|config| filter.keeps(config))
            .map(|loaded| {
                let c = &loaded.config;
                let outputs = DriverKind::ALL
                    .into_iter()
                    .filter_map(|kind| {
                        c.output(kind).map(|output| BuildOutput {
                            kind,
                            output: output.to_owned(),
                            key: driver_key(
                                &loaded.location,
                                &c.target,
                                &c.kernel_release,
                                &c.kernel_version,
                                kind,
                            ),
                        })
                    })
                    .collect();
                Build {
                    config: loaded.path.clone(),
                    driver_version: loaded.location.driver_version.clone(),
                    arch: loaded.location.arch,
                    layout: loaded.location.layout,
                    target: c.target.clone(),
                    kernel_release: c.kernel_release.clone(),
                    kernel_version: c.kernel_version.clone(),
                    outputs,
                }
            })
            .collect();
        Plan { builds }
    }

    /// What is missing from the repository: the plan without the outputs `existing` already
    /// holds, dropping builds left with nothing to build. Returns the plan and how many outputs
    /// were skipped.
    pub fn without_existing(self, existing: &ExistingKeys) -> (Plan, usize) {
        let mut skipped = 0;
        let builds = self
            .builds
            .into_iter()
            .filter_map(|mut build| {
                let before = build.outputs.len();
                build
                    .outputs
                    .retain(|output| !existing.contains(&output.key));
                skipped += before - build.outputs.len();
                (!build.outputs.is_empty()).then_some(build)
            })
            .collect();
        (Plan { builds }, skipped)
    }

    /// How many files the plan builds.
    pub fn output_count(&self) -> usize {
        self.builds.iter().map(|b| b.outputs.len()).sum()
    }

    /// The plan as an aligned text table, one row per output.
    pub fn to_table(&self) -> String {
        let header = [
            "DRIVER VERSION",
            "ARCH",
            "TARGET",
            "KERNEL RELEASE",
            "KERNEL VERSION",
            "KIND",
            "KEY",
        ];
        let rows: Vec<[String; 7]> = self
            .builds
            .iter()
            .flat_map(|b| {
                b.outputs.iter().map(move |o| {
                    [
                        b.driver_version.to_string(),
                        b.arch.to_string(),
                        b.target.to_string(),
                        b.kernel_release.to_string(),
                        b.kernel_version.to_string(),
                        o.kind.index_name().to_owned(),
                        o.key.clone(),
                    ]
                })
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[&str]| {
            let mut text = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    let _ = write!(text, "{cell:<width$}  ");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&header);
        for row in &rows {
            line(&row.each_ref().map(String::as_str));
        }
        out
    }

    /// The plan as JSON: `{"builds": [{config, driver_version, arch, layout, target,
    /// kernel_release, kernel_version, outputs: [{kind, output, key}]}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
