//! Publishing packages built elsewhere (CPack's DEB, RPM and TGZ, say) instead of packing
//! them here: `release publish`.
//!
//! Every file is read for its own name, version and architecture and checked against the
//! release (a `0.45.0` tag publishes no `0.44.1` package; a development build is
//! `0.45.0-36+1307474` in a DEB, `0.45.0_36+1307474` in an RPM, as CPack and our packagers
//! render it) before anything is copied, signed or uploaded; a refusal names the file. Then
//! copies in the work directory are signed as our packagers sign what they build (the RPM
//! header with our key, a detached `.asc` beside every package, a `.sha256` beside each
//! tarball) and published through the same gate, protocol and report as `run`.

mod check;
mod error;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use falco_artifacts_core::package::{
    describe_file, detached_signature_named, Format, PackageFile, PackagerError,
};
use falco_artifacts_core::{
    Arch, Artifact, ArtifactKind, ChildEnv, LocalArtifact, Release, RepoKind, Signer,
};
use serde::Deserialize;

pub use error::PrebuiltError;

use crate::{Gate, Packaged, Pipeline, PipelineError, RunReport};
use check::{check_all, Checked};

/// The files to publish, by format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrebuiltFiles {
    /// `.deb` files.
    #[serde(default)]
    pub deb: Vec<PathBuf>,
    /// `.rpm` files.
    #[serde(default)]
    pub rpm: Vec<PathBuf>,
    /// Release tarballs (`.tar.gz`).
    #[serde(default)]
    pub tarball: Vec<PathBuf>,
}

impl PrebuiltFiles {
    /// True when no file is named.
    pub fn is_empty(&self) -> bool {
        self.deb.is_empty() && self.rpm.is_empty() && self.tarball.is_empty()
    }
}

/// What happens to a header signature an `.rpm` already has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum RpmSignature {
    /// Sign every `.rpm` with our key, replacing any signature it has.
    #[default]
    Replace,
    /// Keep a signature the `.rpm` has; sign the unsigned ones with our key.
    Keep,
    /// Publish only `.rpm`s that are signed already, as they are; an unsigned one is refused.
    Require,
}

/// Everything one `release publish` needs.
#[derive(Clone)]
pub struct PublishJob {
    /// The version and channel the files must belong to.
    pub release: Release,
    /// The files.
    pub files: PrebuiltFiles,
    /// What happens to the `.rpm`s' own signatures.
    pub rpm_signature: RpmSignature,
    /// The architectures the release publishes; a file for another is refused.
    pub arches: Vec<Arch>,
    /// The test gate; `None` refuses to publish.
    pub gate: Option<Gate>,
    /// The commit released, checked against an evidence file's (see [`crate::ReleaseJob`]).
    pub commit: Option<String>,
    /// The environment of the gate command.
    pub env: ChildEnv,
    /// Where the signed copies are made (`<work dir>/<version>/`).
    pub work_dir: PathBuf,
    /// Signs the copies; give it a fixed signature time (`PgpSigner::with_signature_time`)
    /// so that publishing the same files again uploads nothing
    /// ([`crate::Settings::publish_job`] does).
    pub signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for PublishJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishJob")
            .field("version", &self.release.version.to_string())
            .field("files", &self.files)
            .field("rpm_signature", &self.rpm_signature)
            .field("arches", &self.arches)
            .field("gate", &self.gate)
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

/// Publishes packages built elsewhere: gate, read and check every file, probe the repository,
/// sign copies, publish and verify.
///
/// ```no_run
/// use falco_artifacts_release::{publish_prebuilt, EventFlags, JobFlags, PrebuiltFiles, RepoFlags, Settings};
///
/// # async fn demo() -> Result<(), falco_artifacts_release::PipelineError> {
/// let settings = Settings::load(&RepoFlags { config: Some("release.yaml".into()), ..RepoFlags::default() })?;
/// let event = EventFlags { tag: Some("0.45.0".into()), ..EventFlags::default() };
/// let files = PrebuiltFiles {
///     deb: vec!["build/falco-0.45.0-x86_64.deb".into()],
///     rpm: vec!["build/falco-0.45.0-x86_64.rpm".into()],
///     tarball: vec!["build/falco-0.45.0-x86_64.tar.gz".into()],
/// };
/// let (job, pipeline) = settings.publish_job(&event, &JobFlags::default(), &files.into())?;
/// print!("{}", publish_prebuilt(&job, &pipeline).await?.to_text());
/// # Ok(()) }
/// ```
pub async fn publish_prebuilt(
    job: &PublishJob,
    pipeline: &Pipeline,
) -> Result<RunReport, PipelineError> {
    publish_prebuilt_with_progress(job, pipeline, |_| {}).await
}

/// [`publish_prebuilt`], telling `progress` each step as it starts.
pub async fn publish_prebuilt_with_progress(
    job: &PublishJob,
    pipeline: &Pipeline,
    mut progress: impl FnMut(&str),
) -> Result<RunReport, PipelineError> {
    let passed = crate::gate::pass_gate(
        &job.work_dir,
        job.gate.as_ref(),
        job.commit.as_deref(),
        &job.env,
        &mut progress,
    )?;
    progress("reading and checking the packages");
    let checked = check_all(&job.release, &job.files, &job.arches, job.rpm_signature)?;
    progress("probing the repository");
    pipeline.probe().await?;
    progress("signing the packages");
    let dir = job.work_dir.join(job.release.version.file_name_part());
    let packaged = prepare(
        &job.release,
        &checked,
        job.rpm_signature,
        job.signer.as_ref(),
        &dir,
    )?;
    progress("publishing and verifying");
    pipeline.publish(&job.release, &packaged, &passed).await
}

/// Copies the checked files into `dir` under their published names, signs them and describes
/// them as the packagers describe what they build.
fn prepare(
    release: &Release,
    checked: &[Checked],
    rpm_signature: RpmSignature,
    signer: &dyn Signer,
    dir: &Path,
) -> Result<Packaged, PipelineError> {
    crate::gate::make_dir(dir)?;
    let mut out = Packaged {
        dir: dir.to_owned(),
        ..Packaged::default()
    };
    for file in checked {
        let copy = dir.join(&file.file_name);
        copy_once(&file.path, &copy)?;
        let package = PackageFile {
            version: release.version.clone(),
            arch: file.arch,
            format: file.format,
        };
        let prepared = |e: PackagerError<std::convert::Infallible>| PrebuiltError::Prepare {
            path: copy.clone(),
            source: Box::new(e),
        };
        let (kind, list) = match file.format {
            Format::Deb => (ArtifactKind::Deb, &mut out.debs),
            Format::Rpm => (ArtifactKind::Rpm, &mut out.rpms),
            Format::Tar => (ArtifactKind::Tarball, &mut out.tarballs),
        };
        let keep = file.signed && rpm_signature != RpmSignature::Replace;
        if file.format == Format::Rpm && !keep {
            falco_artifacts_pkg_rpm::resign_file(&copy, signer).map_err(|source| {
                PrebuiltError::SignRpm {
                    path: copy.clone(),
                    source: Box::new(source),
                }
            })?;
        }
        let artifact = describe_file(kind, &package, &copy).map_err(prepared)?;
        let asc =
            detached_signature_named(signer, &package, &copy, &file.file_name).map_err(prepared)?;
        if file.format == Format::Tar {
            list.push(Arc::clone(&artifact));
            list.push(checksum(&artifact, &package, &copy)?);
            out.tarball_paths.push((file.arch, copy.clone()));
        } else {
            list.push(artifact);
        }
        list.push(asc);
    }
    Ok(out)
}

/// `<name>.sha256` of a tarball, the line our tarball packager writes.
fn checksum(
    tarball: &Arc<dyn Artifact>,
    package: &PackageFile,
    copy: &Path,
) -> Result<Arc<dyn Artifact>, PipelineError> {
    let name = tarball.file_name();
    let line = falco_artifacts_pkg_tar::sha256sum_line(tarball.sha256(), name);
    let artifact = LocalArtifact::from_bytes(
        ArtifactKind::Checksum,
        format!("{name}.sha256"),
        line.into_bytes(),
    )
    .map_err(|source| PrebuiltError::Prepare {
        path: copy.to_owned(),
        source: Box::new(PackagerError::Describe {
            path: copy.to_owned(),
            source,
        }),
    })?;
    Ok(Arc::new(
        artifact
            .with_version(package.version.clone())
            .with_arch(package.arch)
            .with_repository(RepoKind::Bin),
    ))
}

/// Copies `from` to `to` (through a temporary file, so a half copy never carries the final
/// name); a file already at `to` itself is left as it is.
fn copy_once(from: &Path, to: &Path) -> Result<(), PrebuiltError> {
    let failed = |source| PrebuiltError::Copy {
        from: from.to_owned(),
        to: to.to_owned(),
        source,
    };
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(from), std::fs::canonicalize(to)) {
        if a == b {
            return Ok(());
        }
    }
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::copy(from, &partial).map_err(failed)?;
    // The copy is ours to sign, whatever the mode of the file given.
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644)).map_err(failed)?;
    std::fs::rename(&partial, to).map_err(failed)
}
