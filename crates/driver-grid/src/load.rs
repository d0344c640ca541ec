//! Loading the config tree `driverkit/config/<driverversion>/[<arch>/]*.yaml`.

use std::fs;
use std::path::{Path, PathBuf};

use falco_artifacts_core::Arch;

use crate::parallel::parallel_map;
use crate::problem::{Problem, ProblemKind, Warning, WarningKind};
use crate::{DriverConfig, DriverVersion};

/// How a driver version directory is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `<driverversion>/<x86_64|aarch64>/*.yaml`, outputs `output/<driverversion>/<arch>/…`,
    /// published as `driver/<driverversion>/<arch>/…`.
    ByArch,
    /// The oldest layout, `<commit>/*.yaml` (x86_64 implied), outputs `output/<commit>/…`,
    /// published as `driver/<commit>/…`.
    Legacy,
}

/// Where a config sits in the tree, which decides its driver version and architecture.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    /// The driver version directory.
    pub driver_version: DriverVersion,
    /// The architecture directory (x86_64 in the legacy layout).
    pub arch: Arch,
    /// The layout.
    pub layout: Layout,
}

impl Location {
    /// The directory part of output paths and keys: `<driverversion>/<arch>` or `<commit>`.
    pub fn directory(&self) -> String {
        match self.layout {
            Layout::ByArch => format!("{}/{}", self.driver_version, self.arch.file_name()),
            Layout::Legacy => self.driver_version.to_string(),
        }
    }
}

/// A parsed config and where it was found; not validated yet.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    /// The file.
    pub path: PathBuf,
    /// Its place in the tree.
    pub location: Location,
    /// What it says.
    pub config: DriverConfig,
}

/// Every config of a tree that parsed, and what could not be read or parsed.
#[derive(Debug, Default)]
pub struct ConfigTree {
    /// How many config files were found (parsed or not).
    pub files: usize,
    /// The parsed configs, sorted by path.
    pub configs: Vec<LoadedConfig>,
    /// Files and directories that could not be loaded.
    pub problems: Vec<Problem>,
    /// Things noticed on the way (ignored files).
    pub warnings: Vec<Warning>,
}

/// Why a tree could not be loaded at all (single files failing are [`Problem`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A directory could not be listed.
    #[error("cannot list the config directory {}", path.display())]
    ListDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The config root inside `dir`: `dir/driverkit/config` when `dir` is a checkout of the config
/// repository, else `dir` itself.
pub fn config_root(dir: &Path) -> PathBuf {
    let nested = dir.join("driverkit").join("config");
    if nested.is_dir() {
        nested
    } else {
        dir.to_owned()
    }
}

struct Task {
    path: PathBuf,
    location: Location,
}

fn list(dir: &Path) -> Result<Vec<(PathBuf, bool)>, LoadError> {
    let listing = |source| LoadError::ListDirectory {
        path: dir.to_owned(),
        source,
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(listing)? {
        let entry = entry.map_err(listing)?;
        let path = entry.path();
        // The directory entry's type needs no extra system call; only symlinks (a checkout
        // may link a driver version to another) are followed with a stat.
        let file_type = entry.file_type().map_err(listing)?;
        let is_dir = file_type.is_dir() || (file_type.is_symlink() && path.is_dir());
        entries.push((path, is_dir));
    }
    // Entries share their parent, so comparing whole paths as bytes orders them by name.
    entries.sort_unstable_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    Ok(entries)
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "yaml")
}

/// Loads every config under `root` (see [`config_root`]): the tree
/// `<driverversion>/<x86_64|aarch64>/*.yaml` and the legacy `<commit>/*.yaml`.
///
/// Files are read and parsed in parallel (one thread per core). A file that cannot be read
/// or parsed, and a directory that is not a driver version or an architecture, become
/// [`Problem`]s; the rest still load.
pub fn load_tree(root: &Path) -> Result<ConfigTree, LoadError> {
    let mut tree = ConfigTree::default();
    let mut tasks = Vec::new();
    for (path, is_dir) in list(root)? {
        if !is_dir {
            tree.warnings.push(Warning {
                path,
                line: None,
                kind: WarningKind::IgnoredFile,
            });
            continue;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let driver_version: DriverVersion = match name.unwrap_or_default().parse() {
            Ok(version) => version,
            Err(source) => {
                tree.problems.push(Problem {
                    path,
                    line: None,
                    kind: ProblemKind::DriverVersionDirectory { source },
                });
                continue;
            }
        };
        for (inner, inner_is_dir) in list(&path)? {
            if inner_is_dir {
                let name = inner
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let arch = Arch::ALL.into_iter().find(|a| a.file_name() == name);
                let Some(arch) = arch else {
                    tree.problems.push(Problem {
                        path: inner,
                        line: None,
                        kind: ProblemKind::ArchDirectory { name },
                    });
                    continue;
                };
                let location = Location {
                    driver_version: driver_version.clone(),
                    arch,
                    layout: Layout::ByArch,
                };
                for (file, file_is_dir) in list(&inner)? {
                    if !file_is_dir && is_yaml(&file) {
                        tasks.push(Task {
                            path: file,
                            location: location.clone(),
                        });
                    } else {
                        tree.warnings.push(Warning {
                            path: file,
                            line: None,
                            kind: WarningKind::IgnoredFile,
                        });
                    }
                }
            } else if is_yaml(&inner) {
                tasks.push(Task {
                    path: inner,
                    location: Location {
                        driver_version: driver_version.clone(),
                        arch: Arch::X86_64,
                        layout: Layout::Legacy,
                    },
                });
            } else {
                tree.warnings.push(Warning {
                    path: inner,
                    line: None,
                    kind: WarningKind::IgnoredFile,
                });
            }
        }
    }

    tree.files = tasks.len();
    for result in parallel_map(tasks, load_one) {
        match result {
            Ok(config) => tree.configs.push(config),
            Err(problem) => tree.problems.push(*problem),
        }
    }
    Ok(tree)
}

fn load_one(task: Task) -> Result<LoadedConfig, Box<Problem>> {
    let text = fs::read_to_string(&task.path).map_err(|source| {
        Box::new(Problem {
            path: task.path.clone(),
            line: None,
            kind: ProblemKind::Read { source },
        })
    })?;
    let config = DriverConfig::parse(&text).map_err(|source| {
        Box::new(Problem {
            path: task.path.clone(),
            line: source.line(),
            kind: ProblemKind::Parse { source },
        })
    })?;
    Ok(LoadedConfig {
        path: task.path,
        location: task.location,
        config,
    })
}
