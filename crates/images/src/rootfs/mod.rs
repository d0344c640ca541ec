//! Runtime root filesystems assembled from Debian packages, without pulling a base image (as
//! distroless and apko do): the named packages and their dependency closure inside one set of
//! `.deb` files, unpacked with pkg-deb's hardened extraction, plus users, groups,
//! `/etc/os-release` and dpkg's status, written as one reproducible layer.

mod apt;
mod copyright;
mod resolve;
mod skeleton;
mod source;

use std::fs;
use std::path::Path;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::Arch;
use falco_artifacts_pkg_deb::{AbsoluteSymlinks, DebReader, ExtractOptions};

pub use apt::AptRepository;
pub use resolve::MissingDependency;
pub use source::DebSource;

use crate::error::ImageError;
use crate::layer::{Layer, LayerTree};

/// What to put in a root filesystem.
///
/// ```no_run
/// use falco_artifacts_core::{package::SourceDate, Arch};
/// use falco_artifacts_images::{DebSource, RootfsSpec};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let spec = RootfsSpec::builder(
///     DebSource::dir("debs/"),
///     Arch::X86_64,
///     ["libc6", "libstdc++6", "libgcc-s1", "zlib1g"],
/// )
/// .build()?;
/// let work = tempfile::tempdir()?;
/// let rootfs = spec.assemble(work.path(), SourceDate::from_env()?)?;
/// println!("{} packages in layer {}", rootfs.packages.len(), rootfs.layer.digest);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RootfsSpec {
    source: DebSource,
    arch: Arch,
    packages: Vec<String>,
    os_release: Option<String>,
}

impl RootfsSpec {
    /// The packages named (their dependencies are added), taken from `source` for `arch`.
    pub fn builder<I, S>(source: DebSource, arch: Arch, packages: I) -> RootfsSpecBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RootfsSpecBuilder {
            spec: RootfsSpec {
                source,
                arch,
                packages: packages.into_iter().map(Into::into).collect(),
                os_release: None,
            },
        }
    }

    /// The package names asked for.
    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    /// The arch.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Resolves, unpacks and writes the layer into `work_dir` (which must exist; the layer
    /// file and the unpacked packages stay there until the caller removes it). Files get
    /// `date` as mtime and root as owner; the same packages always give the same layer digest.
    ///
    /// Fails with [`ImageError::MissingDependencies`] listing every dependency the set lacks,
    /// before anything is unpacked.
    pub fn assemble(&self, work_dir: &Path, date: SourceDate) -> Result<Rootfs, ImageError> {
        let available = source::scan(&self.source, self.arch)?;
        let controls = available
            .iter()
            .map(|(name, c)| (name.clone(), c.control.clone()))
            .collect();
        let chosen = resolve::closure(&controls, &self.packages)
            .map_err(|missing| ImageError::MissingDependencies { missing })?;

        let unpack_root = work_dir.join("packages");
        let mut tree = LayerTree::default();
        let mut readers = Vec::new();
        let mut files = Vec::new();
        for name in &chosen {
            let candidate = &available[name];
            let path = candidate.fetch()?;
            let package_err = |source| ImageError::Package {
                path: path.clone(),
                source,
            };
            let reader = DebReader::open(&path).map_err(package_err)?;
            let md5sums = reader.control_file("md5sums").map(<[u8]>::to_vec);
            // The package's own stanza, not the index's (which adds Filename, SHA256…): the
            // same package gives the same status file whichever source it came from.
            let control = reader.control().clone();
            if control.package() != candidate.control.package()
                || control.version() != candidate.control.version()
            {
                return Err(ImageError::PackageMismatch {
                    path: path.clone(),
                    expected: format!(
                        "{} {}",
                        candidate.control.package(),
                        candidate.control.version()
                    ),
                    found: format!("{} {}", control.package(), control.version()),
                });
            }
            let dir = unpack_root.join(name);
            let options = ExtractOptions {
                // In the image the link's absolute target is inside the image's own root; the
                // rebased relative link on disk points to the same place.
                absolute_symlinks: AbsoluteSymlinks::Rebase,
                ..ExtractOptions::default()
            };
            let entries = reader.extract(&dir, &options).map_err(package_err)?;
            tree.add_dir(&dir, "", name)?;
            files.push(
                entries
                    .iter()
                    .map(|e| format!("/{}", e.path))
                    .collect::<Vec<_>>(),
            );
            readers.push((control, md5sums, dir));
        }
        let entries: Vec<skeleton::StatusEntry<'_>> = readers
            .iter()
            .zip(files)
            .map(|((control, md5sums, _), files)| skeleton::StatusEntry {
                control,
                files,
                md5sums: md5sums.as_deref(),
            })
            .collect();
        let os_release = self
            .os_release
            .clone()
            .unwrap_or_else(|| skeleton::default_os_release(None));
        let dpkg_status =
            skeleton::add(&mut tree, &entries, &os_release, self.os_release.is_some())?;
        let packages = readers
            .iter()
            .map(|(control, _, dir)| InstalledPackage {
                name: control.package().to_owned(),
                version: control.version().to_owned(),
                arch: control.architecture().to_owned(),
                source: control
                    .get("Source")
                    .map(|s| s.split_whitespace().next().unwrap_or(s).to_owned()),
                licenses: copyright::licenses(dir, control.package()),
            })
            .collect();
        let layer_path = work_dir.join("rootfs.tar.gz");
        let layer = tree.write(&layer_path, date)?;
        // The layer holds everything now; the unpacked trees can be large (compilers).
        let _ = fs::remove_dir_all(&unpack_root);
        Ok(Rootfs {
            layer,
            packages,
            dpkg_status,
        })
    }
}

/// Builds a [`RootfsSpec`].
#[derive(Debug, Clone)]
pub struct RootfsSpecBuilder {
    spec: RootfsSpec,
}

impl RootfsSpecBuilder {
    /// The text of `/etc/os-release`, instead of a package's or the generated one.
    pub fn with_os_release(mut self, text: impl Into<String>) -> Self {
        self.spec.os_release = Some(text.into());
        self
    }

    /// Checks the spec: at least one package, names as Debian allows them.
    pub fn build(self) -> Result<RootfsSpec, ImageError> {
        let invalid = |problem: String| ImageError::InvalidSpec {
            image: "root filesystem".to_owned(),
            problem,
        };
        if self.spec.packages.is_empty() {
            return Err(invalid("no packages named".to_owned()));
        }
        for name in &self.spec.packages {
            let valid = name.len() >= 2
                && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
            if !valid {
                return Err(invalid(format!(
                    "{name:?} is not a Debian package name (lowercase letters, digits, + - .)"
                )));
            }
        }
        Ok(self.spec)
    }
}

/// A root filesystem layer and what is in it.
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// The layer.
    pub layer: Layer,
    /// The installed packages, sorted by name.
    pub packages: Vec<InstalledPackage>,
    /// The text of `/var/lib/dpkg/status` in the layer.
    pub dpkg_status: String,
}

/// One package in a root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture` (`amd64`, `arm64`, `all`).
    pub arch: String,
    /// The source package, when it differs from the name.
    pub source: Option<String>,
    /// The licences named by a machine-readable `/usr/share/doc/<name>/copyright` (Debian's
    /// short names, e.g. `GPL-2+`), sorted; empty when the file is absent or free-form.
    pub licenses: Vec<String>,
}
