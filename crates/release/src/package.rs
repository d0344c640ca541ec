//! Packing one release: DEB, RPM and tarball for each architecture, signed.
//!
//! Every architecture's manifest is loaded and checked before the first byte is written, so a
//! payload without its binary fails before anything is built, let alone uploaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use falco_artifacts_core::package::{
    load_manifest, Format, ManifestOptions, PackageSpec, Packager, PackagerError, SourceDate,
};
use falco_artifacts_core::{Arch, Artifact, ArtifactKind, Release, Signer};
use falco_artifacts_pkg_deb::DebPackager;
use falco_artifacts_pkg_rpm::RpmPackager;
use falco_artifacts_pkg_tar::TarballPackager;

use crate::PipelineError;

/// The packages of one release, ready for their repositories.
#[derive(Default)]
pub struct Packaged {
    /// `.deb` files and their detached signatures.
    pub debs: Vec<Arc<dyn Artifact>>,
    /// Signed `.rpm` files and their detached signatures.
    pub rpms: Vec<Arc<dyn Artifact>>,
    /// Tarballs with their `.sha256` and `.asc`.
    pub tarballs: Vec<Arc<dyn Artifact>>,
    /// The tarball of each arch on disk (the images are made from them).
    pub tarball_paths: Vec<(Arch, PathBuf)>,
    /// Where they were built.
    pub dir: PathBuf,
}

impl std::fmt::Debug for Packaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |list: &[Arc<dyn Artifact>]| -> Vec<String> {
            list.iter().map(|a| a.file_name().to_owned()).collect()
        };
        f.debug_struct("Packaged")
            .field("debs", &names(&self.debs))
            .field("rpms", &names(&self.rpms))
            .field("tarballs", &names(&self.tarballs))
            .field("dir", &self.dir)
            .finish()
    }
}

/// Loads the manifest for every arch of `release`, checked, before anything is built.
pub fn load_specs(
    release: &Release,
    manifest: &Path,
    arches: &[Arch],
    date: SourceDate,
) -> Result<Vec<PackageSpec>, PipelineError> {
    arches
        .iter()
        .map(|&arch| {
            let options = ManifestOptions {
                version: Some(release.version.clone()),
                arch: Some(arch),
                source_date: Some(date),
            };
            load_manifest(manifest, &options).map_err(PipelineError::from)
        })
        .collect()
}

/// Why one packager failed: each packager's own error, as core's [`PackagerError`] shape.
#[derive(Debug, thiserror::Error)]
pub enum BuildFailure {
    /// The `.deb`.
    #[error(transparent)]
    Deb(PackagerError<falco_artifacts_pkg_deb::BuildError>),
    /// The `.rpm`.
    #[error(transparent)]
    Rpm(PackagerError<falco_artifacts_pkg_rpm::RpmError>),
    /// The tarball.
    #[error(transparent)]
    Tarball(PackagerError<falco_artifacts_pkg_tar::BuildError>),
}

/// Packs `spec` with `packager` (signed by `signer`) into `dir`, naming the format on failure.
fn pack<P: Packager>(
    packager: &P,
    spec: &PackageSpec,
    signer: &dyn Signer,
    dir: &Path,
    failure: fn(PackagerError<P::Error>) -> BuildFailure,
) -> Result<Vec<Arc<dyn Artifact>>, PipelineError> {
    packager
        .package(spec, Some(signer), dir)
        .map_err(|e| PipelineError::Build {
            format: match packager.format() {
                Format::Deb => "deb",
                Format::Rpm => "rpm",
                Format::Tar => "tarball",
            },
            arch: spec.arch,
            source: Box::new(failure(e)),
        })
}

/// Packs `specs` into `dir` and signs every package with `signer`, through the three
/// packagers' common [`Packager`] shape.
pub fn package_release(
    specs: &[PackageSpec],
    signer: &dyn Signer,
    dir: &Path,
) -> Result<Packaged, PipelineError> {
    crate::gate::make_dir(dir)?;
    let mut out = Packaged {
        dir: dir.to_owned(),
        ..Packaged::default()
    };
    for spec in specs {
        out.debs
            .extend(pack(&DebPackager, spec, signer, dir, BuildFailure::Deb)?);
        out.rpms
            .extend(pack(&RpmPackager, spec, signer, dir, BuildFailure::Rpm)?);
        let tarballs = pack(&TarballPackager, spec, signer, dir, BuildFailure::Tarball)?;
        // The images are made from the tarball on disk.
        if let Some(tarball) = tarballs.iter().find(|a| a.kind() == ArtifactKind::Tarball) {
            out.tarball_paths
                .push((spec.arch, dir.join(tarball.file_name())));
        }
        out.tarballs.extend(tarballs);
    }
    Ok(out)
}
