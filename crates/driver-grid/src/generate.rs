//! Generating configs from kernel-crawler's `list.json`.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use falco_artifacts_core::Arch;
use serde_json::Value;

use crate::ident::InvalidIdentifier;
use crate::kernel::{driver_file_name, DriverKind};
use crate::kernel_list::{KernelEntry, KernelList};
use crate::load::{Layout, Location};
use crate::parallel::parallel_map;
use crate::{DriverConfig, DriverVersion};

/// A config generated for one kernel-crawler entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedConfig {
    /// Its path relative to the config root: `<driverversion>/<arch>/<file>.yaml`.
    pub path: PathBuf,
    /// The architecture.
    pub arch: Arch,
    /// The config.
    pub config: DriverConfig,
}

/// An entry of `list.json` that gave no config, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The architecture key.
    pub arch: String,
    /// The distribution key.
    pub distro: String,
    /// The entry's index in the distribution's list.
    pub index: usize,
    /// Why.
    pub reason: SkipReason,
}

/// Why an entry of `list.json` gave no config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// The architecture key is not one we build for.
    #[error("architecture {0:?} is not x86_64 or aarch64")]
    UnknownArch(String),
    /// The entry is not an object with string `kernelrelease`, `kernelversion` and `target`.
    #[error("the entry lacks {0}")]
    MissingField(&'static str),
    /// A field is not a valid identifier.
    #[error("invalid field")]
    Invalid(#[source] InvalidIdentifier),
    /// driverkit has no builder for the target.
    #[error("target {0:?} is not known to driverkit")]
    UnknownTarget(String),
    /// The target needs `kernelconfigdata` and the entry has none.
    #[error("target {0} needs kernelconfigdata and the entry has none")]
    MissingKernelConfig(String),
    /// The kernel is too old for both a module and a probe, or has no major.minor.
    #[error("kernel {0} is below every driver minimum")]
    TooOld(String),
    /// An earlier entry already gave the same config file.
    #[error("duplicate of an earlier entry")]
    Duplicate,
}

/// Configs generated from one `list.json`, and the entries that gave none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    /// The configs, sorted by path.
    pub configs: Vec<GeneratedConfig>,
    /// Entries skipped, with reasons, sorted by architecture, distribution and index.
    pub skipped: Vec<SkippedEntry>,
}

/// Why generation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// `list.json` is not JSON.
    #[error("list.json is not valid JSON")]
    Json {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// `list.json` is neither `{distro: [entries]}` nor `{arch: {distro: [entries]}}`.
    #[error("list.json must map distributions to lists of kernels (one file per architecture), or architectures to such maps")]
    Shape,
    /// A per-architecture `list.json` was given without saying which architecture.
    #[error("list.json holds one architecture's kernels: say which (x86_64 or aarch64)")]
    NoArch,
    /// A config or directory could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A config could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Generates one config per kernel of a kernel-crawler `list.json` in the combined shape
/// (`{"x86_64": {"Ubuntu": [{"kernelrelease", "kernelversion", "target", "headers",
/// "kernelconfigdata"?}]}}`) for `driver_version`; see [`generate_list`] for the
/// per-architecture files kernel-crawler publishes.
pub fn generate(
    list_json: &str,
    driver_version: &DriverVersion,
) -> Result<Generated, GenerateError> {
    Ok(generate_list(
        &KernelList::parse(list_json, None)?,
        driver_version,
    ))
}

/// Generates one config per kernel of `list` for `driver_version`: a module where the kernel
/// is new enough, and a probe where it is new enough for one and the driver version still has
/// the legacy probe ([`DriverVersion::has_legacy_probe`]; 10.x configs are module-only).
pub fn generate_list(list: &KernelList, driver_version: &DriverVersion) -> Generated {
    let mut generated = Generated::default();
    let mut seen = HashSet::new();
    for entry in &list.entries {
        let skip = |reason| SkippedEntry {
            arch: entry.arch.clone(),
            distro: entry.distro.clone(),
            index: entry.index,
            reason,
        };
        match one(entry, driver_version) {
            Ok(config) if seen.insert(config.path.clone()) => generated.configs.push(config),
            Ok(_) => generated.skipped.push(skip(SkipReason::Duplicate)),
            Err(reason) => generated.skipped.push(skip(reason)),
        }
    }
    generated.configs.sort_by(|a, b| a.path.cmp(&b.path));
    generated
        .skipped
        .sort_by(|a, b| (&a.arch, &a.distro, a.index).cmp(&(&b.arch, &b.distro, b.index)));
    generated
}

fn one(entry: &KernelEntry, driver_version: &DriverVersion) -> Result<GeneratedConfig, SkipReason> {
    let arch = entry.arch()?;
    let (target, release, version) = entry.identity()?;
    let entry = &entry.value;
    let mut config = DriverConfig::new(target, release, version);
    if !config.target.is_known() {
        return Err(SkipReason::UnknownTarget(config.target.to_string()));
    }
    config.architecture = Some(arch);
    config.kernel_urls = match entry.get("headers") {
        Some(Value::Array(urls)) => urls
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    config.kernel_config_data = entry
        .get("kernelconfigdata")
        .and_then(Value::as_str)
        .filter(|data| !data.is_empty())
        .map(str::to_owned);
    if config.target.needs_kernel_config() && config.kernel_config_data.is_none() {
        return Err(SkipReason::MissingKernelConfig(config.target.to_string()));
    }
    let location = Location {
        driver_version: driver_version.clone(),
        arch,
        layout: Layout::ByArch,
    };
    let kernel = config.kernel_release.major_minor();
    let kinds: &[DriverKind] = if driver_version.has_legacy_probe() {
        &DriverKind::ALL
    } else {
        &[DriverKind::Module]
    };
    for &kind in kinds {
        if kernel.is_some_and(|k| k >= kind.minimum_kernel(arch)) {
            let path = format!(
                "output/{}/{}",
                location.directory(),
                driver_file_name(
                    &config.target,
                    &config.kernel_release,
                    &config.kernel_version,
                    kind
                )
            );
            match kind {
                DriverKind::Module => config.module_output = Some(path),
                DriverKind::Probe => config.probe_output = Some(path),
            }
        }
    }
    if config.module_output.is_none() && config.probe_output.is_none() {
        return Err(SkipReason::TooOld(config.kernel_release.to_string()));
    }
    Ok(GeneratedConfig {
        path: PathBuf::from(location.directory()).join(config.file_name()),
        arch,
        config,
    })
}

/// The configs of one driver version whose kernel is no longer in kernel-crawler's list:
/// what `generate --prune` removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prune {
    /// The files, sorted.
    pub remove: Vec<PathBuf>,
}

impl Prune {
    /// The configs under `root/<driver_version>/<arch>/` for each architecture `list` covers
    /// whose `(target, kernelrelease, kernelversion)` no entry of `list` names. Files that do
    /// not parse are left alone (validation reports them); other architectures and driver
    /// versions are never touched.
    pub fn of(
        root: &Path,
        list: &KernelList,
        driver_version: &DriverVersion,
    ) -> Result<Prune, GenerateError> {
        let mut listed: HashSet<(Arch, String, String, String)> = HashSet::new();
        let mut arches: Vec<Arch> = Vec::new();
        for entry in &list.entries {
            let Ok(arch) = entry.arch() else { continue };
            if !arches.contains(&arch) {
                arches.push(arch);
            }
            if let Ok((target, release, version)) = entry.identity() {
                listed.insert((
                    arch,
                    target.to_string(),
                    release.to_string(),
                    version.to_string(),
                ));
            }
        }
        let mut remove = Vec::new();
        for arch in arches {
            let dir = root.join(driver_version.as_str()).join(arch.file_name());
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(GenerateError::Read { path: dir, source }),
            };
            for file in entries {
                let path = file
                    .map_err(|source| GenerateError::Read {
                        path: dir.clone(),
                        source,
                    })?
                    .path();
                if path.extension().is_none_or(|ext| ext != "yaml") {
                    continue;
                }
                let text = fs::read_to_string(&path).map_err(|source| GenerateError::Read {
                    path: path.clone(),
                    source,
                })?;
                let Ok(config) = DriverConfig::parse(&text) else {
                    continue;
                };
                let key = (
                    arch,
                    config.target.to_string(),
                    config.kernel_release.to_string(),
                    config.kernel_version.to_string(),
                );
                if !listed.contains(&key) {
                    remove.push(path);
                }
            }
        }
        remove.sort();
        Ok(Prune { remove })
    }

    /// Removes the files; returns how many.
    pub fn apply(&self) -> Result<usize, GenerateError> {
        for path in &self.remove {
            fs::remove_file(path).map_err(|source| GenerateError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok(self.remove.len())
    }
}

impl Generated {
    /// Writes every config under the config root `root` (creating directories); returns how
    /// many files were written.
    pub fn write(&self, root: &Path) -> Result<usize, GenerateError> {
        let mut dirs: Vec<PathBuf> = self
            .configs
            .iter()
            .filter_map(|g| root.join(&g.path).parent().map(Path::to_owned))
            .collect();
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            fs::create_dir_all(&dir)
                .map_err(|source| GenerateError::Write { path: dir, source })?;
        }
        // Writing is most of the cost with many small files: one thread per core.
        let results = parallel_map(self.configs.iter().collect(), |generated| {
            let path = root.join(&generated.path);
            fs::write(&path, generated.config.to_yaml())
                .map_err(|source| GenerateError::Write { path, source })
        });
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(self.configs.len())
    }
}
