//! The release tarball behind core's [`Packager`] shape, beside the DEB and RPM packagers.

use std::path::Path;
use std::sync::Arc;

use falco_artifacts_core::package::{create_out_dir, Format, PackageSpec, Packager, PackagerError};
use falco_artifacts_core::{Artifact, Signer};

use crate::{BuildError, TarballBuilder};

/// Packs a [`PackageSpec`] into `<name>-<version>-<arch>.tar.gz` with [`TarballBuilder`]'s
/// defaults, its `.sha256` beside it, and with a signer its detached `.tar.gz.asc`.
///
/// ```no_run
/// use std::path::Path;
/// use falco_artifacts_core::package::{load_manifest, ManifestOptions, Packager};
/// use falco_artifacts_pkg_tar::TarballPackager;
///
/// let spec = load_manifest(Path::new("examples/sample/falco.yaml"), &ManifestOptions::default())?;
/// let files = TarballPackager::new().package(&spec, None, Path::new("out"))?;
/// assert_eq!(files[0].file_name(), spec.file_name(falco_artifacts_core::package::Format::Tar));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TarballPackager;

impl TarballPackager {
    /// The packager with the builder's defaults.
    pub fn new() -> Self {
        TarballPackager
    }
}

impl Packager for TarballPackager {
    type Error = BuildError;

    fn format(&self) -> Format {
        Format::Tar
    }

    fn package(
        &self,
        spec: &PackageSpec,
        signer: Option<&dyn Signer>,
        out_dir: &Path,
    ) -> Result<Vec<Arc<dyn Artifact>>, PackagerError<BuildError>> {
        create_out_dir(out_dir)?;
        let mut builder = TarballBuilder::new(spec);
        if let Some(signer) = signer {
            builder = builder.with_signer(signer);
        }
        let tarball = builder
            .build(out_dir)
            .map_err(|source| PackagerError::Build {
                file: spec.file_name(Format::Tar),
                source,
            })?;
        tarball
            .artifacts(spec)
            .map_err(|source| PackagerError::Describe {
                path: tarball.path.clone(),
                source,
            })
    }
}
