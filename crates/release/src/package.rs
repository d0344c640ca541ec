//! Packing one release: DEB, RPM and tarball for each architecture, signed.
//!
//! Every architecture's manifest is loaded and checked before the first byte is written, so a
//! payload without its binary fails before anything is built, let alone uploaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use falco_artifacts_core::package::{
    load_manifest, Format, ManifestOptions, PackageSpec, SourceDate,
};
use falco_artifacts_core::{
    Arch, Artifact, ArtifactKind, LocalArtifact, Release, RepoKind, Signer,
};
use falco_artifacts_pkg_deb::DebBuilder;
use falco_artifacts_pkg_rpm::RpmBuilder;
use falco_artifacts_pkg_tar::TarballBuilder;

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

fn built(
    format: &'static str,
    spec: &PackageSpec,
    source: impl std::error::Error + Send + Sync + 'static,
) -> PipelineError {
    PipelineError::Build {
        format,
        arch: spec.arch,
        source: Box::new(source),
    }
}

/// A detached armored signature of `path`, as an artifact of `repository`.
fn signature(
    signer: &dyn Signer,
    spec: &PackageSpec,
    path: &Path,
    name: &str,
    repository: RepoKind,
) -> Result<Arc<dyn Artifact>, PipelineError> {
    let mut file = std::fs::File::open(path).map_err(|source| PipelineError::Io {
        path: path.to_owned(),
        source,
    })?;
    let asc = signer.sign_detached_armored(&mut file)?;
    let artifact = LocalArtifact::from_bytes(
        ArtifactKind::Signature,
        format!("{name}.asc"),
        asc.into_bytes(),
    )
    .map_err(|e| built("signature", spec, e))?
    .with_version(spec.version.clone())
    .with_arch(spec.arch)
    .with_repository(repository);
    Ok(Arc::new(artifact))
}

fn package(
    kind: ArtifactKind,
    spec: &PackageSpec,
    path: &Path,
) -> Result<Arc<dyn Artifact>, PipelineError> {
    let artifact = LocalArtifact::from_path(kind, path)
        .map_err(|e| built("artifact", spec, e))?
        .with_version(spec.version.clone())
        .with_arch(spec.arch);
    Ok(Arc::new(artifact))
}

/// Packs `specs` into `dir` and signs every package with `signer`.
pub fn package_release(
    specs: &[PackageSpec],
    signer: &dyn Signer,
    dir: &Path,
) -> Result<Packaged, PipelineError> {
    std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut out = Packaged {
        dir: dir.to_owned(),
        ..Packaged::default()
    };
    for spec in specs {
        let deb = DebBuilder::new(spec)
            .build()
            .and_then(|deb| deb.write_to_dir(dir))
            .map_err(|e| built("deb", spec, e))?;
        let deb_path = deb
            .path
            .unwrap_or_else(|| dir.join(spec.file_name(Format::Deb)));
        out.debs.push(package(ArtifactKind::Deb, spec, &deb_path)?);
        out.debs.push(signature(
            signer,
            spec,
            &deb_path,
            &spec.file_name(Format::Deb),
            RepoKind::Deb,
        )?);

        let rpm_path = RpmBuilder::new(spec)
            .with_signer(signer)
            .build()
            .and_then(|rpm| rpm.write_to_dir(dir))
            .map_err(|e| built("rpm", spec, e))?;
        out.rpms.push(package(ArtifactKind::Rpm, spec, &rpm_path)?);
        out.rpms.push(signature(
            signer,
            spec,
            &rpm_path,
            &spec.file_name(Format::Rpm),
            RepoKind::Rpm,
        )?);

        let tarball = TarballBuilder::new(spec)
            .with_signer(signer)
            .build(dir)
            .map_err(|e| built("tarball", spec, e))?;
        out.tarballs.extend(
            tarball
                .artifacts(spec)
                .map_err(|e| built("tarball", spec, e))?,
        );
        out.tarball_paths.push((spec.arch, tarball.path));
    }
    Ok(out)
}
