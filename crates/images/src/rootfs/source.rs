//! Where the `.deb` files of a root filesystem come from.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use falco_artifacts_core::Arch;
use falco_artifacts_pkg_deb::{Control, DebReader};

use crate::error::ImageError;
use crate::rootfs::apt::{self, AptRepository, Remote};

/// The packages a root filesystem may be assembled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebSource {
    /// Every `*.deb` directly in a directory (e.g. filled by `apt-get download`).
    Dir(PathBuf),
    /// The packages of an APT repository's suite and component, downloaded when chosen.
    Apt(AptRepository),
}

impl DebSource {
    /// The `.deb` files in `dir`.
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        DebSource::Dir(dir.into())
    }

    /// `deb <url> <suite> <component>`, packages kept in `cache`.
    pub fn apt(
        url: impl Into<String>,
        suite: impl Into<String>,
        component: impl Into<String>,
        cache: impl Into<PathBuf>,
    ) -> Self {
        DebSource::Apt(AptRepository {
            url: url.into(),
            suite: suite.into(),
            component: component.into(),
            cache: cache.into(),
        })
    }
}

/// One package of the set: its control stanza and where its file is.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) control: Control,
    pub(crate) location: Location,
}

#[derive(Debug, Clone)]
pub(crate) enum Location {
    Local(PathBuf),
    Remote(Remote, PathBuf),
}

impl Candidate {
    /// The `.deb` on this machine, downloaded first when it comes from a repository.
    pub(crate) fn fetch(&self) -> Result<PathBuf, ImageError> {
        match &self.location {
            Location::Local(path) => Ok(path.clone()),
            Location::Remote(remote, cache) => apt::download(remote, cache),
        }
    }
}

/// The packages of `source` for `arch` (and `Architecture: all`), by name. Two files of one
/// package are refused: which one would be installed would depend on directory order.
pub(crate) fn scan(
    source: &DebSource,
    arch: Arch,
) -> Result<BTreeMap<String, Candidate>, ImageError> {
    let dir = match source {
        DebSource::Dir(dir) => dir,
        DebSource::Apt(repo) => {
            return Ok(apt::index(repo, arch)?
                .into_iter()
                .map(|(name, (control, remote))| {
                    let location = Location::Remote(remote, repo.cache.clone());
                    (name, Candidate { control, location })
                })
                .collect())
        }
    };
    let list_err = |source| ImageError::Context {
        path: dir.clone(),
        action: "list the package directory",
        source,
    };
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(list_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(list_err)?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "deb") && p.is_file());
    paths.sort();
    let mut found: BTreeMap<String, Candidate> = BTreeMap::new();
    for path in paths {
        let control = read_control(&path)?;
        let package_arch = control.architecture();
        if package_arch != "all" && package_arch != arch.deb_name() {
            continue;
        }
        if let Some(Candidate {
            location: Location::Local(first),
            ..
        }) = found.get(control.package())
        {
            return Err(ImageError::DuplicatePackage {
                package: control.package().to_owned(),
                first: first.clone(),
                second: path,
            });
        }
        let location = Location::Local(path);
        found.insert(
            control.package().to_owned(),
            Candidate { control, location },
        );
    }
    Ok(found)
}

fn read_control(path: &Path) -> Result<Control, ImageError> {
    let reader = DebReader::open(path).map_err(|source| ImageError::Package {
        path: path.to_owned(),
        source,
    })?;
    Ok(reader.control().clone())
}
