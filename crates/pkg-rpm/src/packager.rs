//! The `.rpm` behind core's [`Packager`] shape, beside the DEB and tarball packagers.

use std::path::Path;
use std::sync::Arc;

use falco_artifacts_core::package::{
    create_out_dir, describe, detached_signature, Format, PackageSpec, Packager, PackagerError,
};
use falco_artifacts_core::{Artifact, ArtifactKind, Signer};

use crate::{RpmBuilder, RpmError};

/// Packs a [`PackageSpec`] into `<name>-<version>-<arch>.rpm` with [`RpmBuilder`]'s defaults;
/// with a signer, the package carries its own signature header (what `rpm -K` checks) and a
/// detached `.rpm.asc` beside it.
///
/// ```no_run
/// use std::path::Path;
/// use falco_artifacts_core::package::{load_manifest, ManifestOptions, Packager};
/// use falco_artifacts_pkg_rpm::RpmPackager;
///
/// let spec = load_manifest(Path::new("examples/sample/falco.yaml"), &ManifestOptions::default())?;
/// let files = RpmPackager::new().package(&spec, None, Path::new("out"))?;
/// assert_eq!(files[0].file_name(), spec.file_name(falco_artifacts_core::package::Format::Rpm));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RpmPackager;

impl RpmPackager {
    /// The packager with the builder's defaults.
    pub fn new() -> Self {
        RpmPackager
    }
}

impl Packager for RpmPackager {
    type Error = RpmError;

    fn format(&self) -> Format {
        Format::Rpm
    }

    fn package(
        &self,
        spec: &PackageSpec,
        signer: Option<&dyn Signer>,
        out_dir: &Path,
    ) -> Result<Vec<Arc<dyn Artifact>>, PackagerError<RpmError>> {
        create_out_dir(out_dir)?;
        let mut builder = RpmBuilder::new(spec);
        if let Some(signer) = signer {
            builder = builder.with_signer(signer);
        }
        let path = builder
            .build()
            .and_then(|rpm| rpm.write_to_dir(out_dir))
            .map_err(|source| PackagerError::Build {
                file: spec.file_name(Format::Rpm),
                source,
            })?;
        let mut out = vec![describe(ArtifactKind::Rpm, spec, Format::Rpm, &path)?];
        if let Some(signer) = signer {
            out.push(detached_signature(signer, spec, Format::Rpm, &path)?);
        }
        Ok(out)
    }
}
