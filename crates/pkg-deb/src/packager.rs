//! The `.deb` behind core's [`Packager`] shape, beside the RPM and tarball packagers.

use std::path::Path;
use std::sync::Arc;

use falco_artifacts_core::package::{
    create_out_dir, describe, detached_signature, Format, PackageSpec, Packager, PackagerError,
};
use falco_artifacts_core::{Artifact, ArtifactKind, Signer};

use crate::{BuildError, DebBuilder};

/// Packs a [`PackageSpec`] into `<name>-<version>-<arch>.deb` with [`DebBuilder`]'s defaults;
/// with a signer, a detached `.deb.asc` beside it (DEB has no signature of its own; APT
/// repositories sign their indexes).
///
/// ```no_run
/// use std::path::Path;
/// use falco_artifacts_core::package::{load_manifest, ManifestOptions, Packager};
/// use falco_artifacts_pkg_deb::DebPackager;
///
/// let spec = load_manifest(Path::new("examples/sample/falco.yaml"), &ManifestOptions::default())?;
/// let files = DebPackager::new().package(&spec, None, Path::new("out"))?;
/// assert_eq!(files[0].file_name(), spec.file_name(falco_artifacts_core::package::Format::Deb));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DebPackager;

impl DebPackager {
    /// The packager with the builder's defaults.
    pub fn new() -> Self {
        DebPackager
    }
}

impl Packager for DebPackager {
    type Error = BuildError;

    fn format(&self) -> Format {
        Format::Deb
    }

    fn package(
        &self,
        spec: &PackageSpec,
        signer: Option<&dyn Signer>,
        out_dir: &Path,
    ) -> Result<Vec<Arc<dyn Artifact>>, PackagerError<BuildError>> {
        create_out_dir(out_dir)?;
        let file = spec.file_name(Format::Deb);
        let report = DebBuilder::new(spec)
            .build()
            .and_then(|deb| deb.write_to_dir(out_dir))
            .map_err(|source| PackagerError::Build {
                file: file.clone(),
                source,
            })?;
        let path = report.path.unwrap_or_else(|| out_dir.join(&file));
        let mut out = vec![describe(ArtifactKind::Deb, spec, Format::Deb, &path)?];
        if let Some(signer) = signer {
            out.push(detached_signature(signer, spec, Format::Deb, &path)?);
        }
        Ok(out)
    }
}
