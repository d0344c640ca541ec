//! Built drivers on disk, in driverkit's output layout, and the keys they are published under.

use std::fs;
use std::path::{Path, PathBuf};

use falco_artifacts_core::Arch;
use serde::Serialize;

use crate::index::split_name;
use crate::kernel::{driver_file_name, DriverKind};
use crate::load::{Layout, Location};
use crate::plan::driver_key;
use crate::{DriverVersion, InvalidIdentifier, KernelRelease, KernelVersion, Target};

/// A driver file built by driverkit, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltDriver {
    /// The file.
    pub path: PathBuf,
    /// Where it is published: `driver/<driverversion>/<arch>/falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`
    /// (`driver/<commit>/falco_…` in the legacy x86_64-only layout), `+` kept as is; see
    /// [`download_path`](crate::download_path) for URLs.
    pub key: String,
    /// Its driver version.
    pub driver_version: DriverVersion,
    /// Its architecture.
    pub arch: Arch,
    /// Module or probe.
    pub kind: DriverKind,
    /// The target.
    pub target: Target,
    /// The kernel release.
    pub kernel_release: KernelRelease,
    /// The kernel version.
    pub kernel_version: KernelVersion,
}

/// Why a directory of built drivers cannot be published; nothing is read from or written to
/// a repository when it is returned.
#[derive(Debug, thiserror::Error)]
pub enum BuiltError {
    /// A directory could not be listed.
    #[error("cannot list {}", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directory is not named like a driver version.
    #[error("{}: the directory is not a driver version (expected output/<driverversion>/<x86_64|aarch64>/)", path.display())]
    DriverVersionDirectory {
        /// The directory.
        path: PathBuf,
        /// Why the name is refused.
        #[source]
        source: InvalidIdentifier,
    },
    /// A directory inside a driver version is not an architecture.
    #[error("{}: {name:?} is not an architecture directory (expected x86_64 or aarch64)", path.display())]
    ArchDirectory {
        /// The directory.
        path: PathBuf,
        /// Its name.
        name: String,
    },
    /// A file is not named `falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`, or sits
    /// where no driver goes.
    #[error("{}: {reason} (expected output/<driverversion>/<x86_64|aarch64>/falco_<target>_<kernelrelease>_<kernelversion>.{{ko,o}})", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The output directory inside `dir`: `dir/output` when it exists (driverkit's working
/// directory), else `dir` itself.
pub(crate) fn output_root(dir: &Path) -> PathBuf {
    let nested = dir.join("output");
    if nested.is_dir() {
        nested
    } else {
        dir.to_owned()
    }
}

fn list(dir: &Path) -> Result<Vec<(PathBuf, String, bool)>, BuiltError> {
    let err = |source| BuiltError::List {
        path: dir.to_owned(),
        source,
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_dir = path.is_dir();
        entries.push((path, name, is_dir));
    }
    entries.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(entries)
}

/// Parses a driver file name, refusing anything the naming rule does not produce.
fn parse_file(
    path: &Path,
    name: &str,
) -> Result<(Target, KernelRelease, KernelVersion, DriverKind), BuiltError> {
    let bad = |reason: String| BuiltError::BadFile {
        path: path.to_owned(),
        reason,
    };
    let (target, release, version, kind) = split_name(name)
        .ok_or_else(|| bad(format!("{name:?} does not follow the driver naming rule")))?;
    let ident = |e: InvalidIdentifier| bad(e.to_string());
    let target: Target = target.parse().map_err(ident)?;
    let release: KernelRelease = release.parse().map_err(ident)?;
    let version: KernelVersion = version.parse().map_err(ident)?;
    let kind = if kind == "kmod" {
        DriverKind::Module
    } else {
        DriverKind::Probe
    };
    if driver_file_name(&target, &release, &version, kind) != name {
        return Err(bad(format!(
            "{name:?} does not follow the driver naming rule"
        )));
    }
    Ok((target, release, version, kind))
}

fn driver(path: PathBuf, name: &str, location: &Location) -> Result<BuiltDriver, BuiltError> {
    let (target, kernel_release, kernel_version, kind) = parse_file(&path, name)?;
    Ok(BuiltDriver {
        key: driver_key(location, &target, &kernel_release, &kernel_version, kind),
        path,
        driver_version: location.driver_version.clone(),
        arch: location.arch,
        kind,
        target,
        kernel_release,
        kernel_version,
    })
}

/// Every driver under `dir` (`dir/output` when it exists, driverkit's working directory,
/// else `dir` itself) in driverkit's layout
/// `<driverversion>/<x86_64|aarch64>/falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`,
/// or `<commit>/falco_….ko` for the legacy x86_64-only layout, sorted by key.
///
/// Any other file or directory is refused: a publish takes all of a build's output or none.
///
/// ```
/// use falco_artifacts_driver_grid::scan_built;
///
/// let dir = tempfile::tempdir()?;
/// let arch = dir.path().join("output/10.2.0+driver/x86_64");
/// std::fs::create_dir_all(&arch)?;
/// std::fs::write(arch.join("falco_debian_6.1.112-1-amd64_1.ko"), b"\x7fELF")?;
/// let built = scan_built(dir.path())?;
/// assert_eq!(built[0].key, "driver/10.2.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko");
///
/// std::fs::write(arch.join("falco-debian.ko"), b"")?;
/// assert!(scan_built(dir.path()).unwrap_err().to_string().contains("falco-debian.ko"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scan_built(dir: &Path) -> Result<Vec<BuiltDriver>, BuiltError> {
    let root = output_root(dir);
    let mut built = Vec::new();
    for (version_dir, name, is_dir) in list(&root)? {
        if !is_dir {
            return Err(BuiltError::BadFile {
                path: version_dir,
                reason: "a file outside any driver version directory".into(),
            });
        }
        let driver_version: DriverVersion =
            name.parse()
                .map_err(|source| BuiltError::DriverVersionDirectory {
                    path: version_dir.clone(),
                    source,
                })?;
        for (inner, name, is_dir) in list(&version_dir)? {
            if !is_dir {
                let legacy = Location {
                    driver_version: driver_version.clone(),
                    arch: Arch::X86_64,
                    layout: Layout::Legacy,
                };
                built.push(driver(inner, &name, &legacy)?);
                continue;
            }
            let arch = Arch::ALL
                .into_iter()
                .find(|a| a.file_name() == name)
                .ok_or_else(|| BuiltError::ArchDirectory {
                    path: inner.clone(),
                    name: name.clone(),
                })?;
            let location = Location {
                driver_version: driver_version.clone(),
                arch,
                layout: Layout::ByArch,
            };
            for (file, name, is_dir) in list(&inner)? {
                if is_dir {
                    return Err(BuiltError::BadFile {
                        path: file,
                        reason: "a directory where only driver files go".into(),
                    });
                }
                built.push(driver(file, &name, &location)?);
            }
        }
    }
    built.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(built)
}
