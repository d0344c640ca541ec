//! One shape for every packager: a [`PackageSpec`] in, the files to publish out.
//!
//! DEB, RPM and the tarball each implement [`Packager`], so a release script packs the three
//! alike (a generic function over `P: Packager`) and gets [`Artifact`]s described the same
//! way: kind, file name, version, arch, repository, and a detached `.asc` beside each package
//! when a signer is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Format, PackageSpec};
use crate::arch::Arch;
use crate::artifact::{Artifact, ArtifactError, ArtifactKind, LocalArtifact};
use crate::channel::RepoKind;
use crate::sign::{SignError, Signer};
use crate::version::Version;

/// Writes the package of a [`PackageSpec`] in one format and describes what it wrote.
///
/// Implementers guarantee: every file returned is inside `out_dir` (or in memory), the
/// package itself comes first, each artifact carries the spec's version and arch and the
/// repository kind of [`Packager::format`], and with a signer the package is signed (inside,
/// where the format has a signature of its own, and by a detached armored `.asc`, which is
/// returned too). The same spec, source date and signature time give the same bytes.
///
/// ```no_run
/// use std::path::Path;
/// use falco_artifacts_core::package::{load_manifest, ManifestOptions, Packager, PackagerError};
///
/// /// Packs `spec` with any packager and prints what it made.
/// fn pack<P: Packager>(packager: &P, spec: &falco_artifacts_core::package::PackageSpec)
///     -> Result<(), PackagerError<P::Error>> {
///     for artifact in packager.package(spec, None, Path::new("out"))? {
///         println!("{:?} {}", artifact.kind(), artifact.file_name());
///     }
///     Ok(())
/// }
/// # let _ = pack::<NoPackager>;
/// # struct NoPackager;
/// # impl Packager for NoPackager {
/// #     type Error = std::io::Error;
/// #     fn format(&self) -> falco_artifacts_core::package::Format { falco_artifacts_core::package::Format::Tar }
/// #     fn package(&self, _: &falco_artifacts_core::package::PackageSpec, _: Option<&dyn falco_artifacts_core::Signer>, _: &Path)
/// #         -> Result<Vec<std::sync::Arc<dyn falco_artifacts_core::Artifact>>, PackagerError<std::io::Error>> { Ok(vec![]) }
/// # }
/// ```
pub trait Packager {
    /// The packager's own build error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The format it writes.
    fn format(&self) -> Format;

    /// Writes `spec`'s package into `out_dir` (created when missing), signed by `signer` when
    /// given, and returns the package first, then the files beside it.
    fn package(
        &self,
        spec: &PackageSpec,
        signer: Option<&dyn Signer>,
        out_dir: &Path,
    ) -> Result<Vec<Arc<dyn Artifact>>, PackagerError<Self::Error>>;
}

/// Why a packager made no artifacts: its own build error, or a step every packager shares.
#[derive(Debug, thiserror::Error)]
pub enum PackagerError<E> {
    /// The format's builder failed.
    #[error("building {file}")]
    Build {
        /// The package's file name.
        file: String,
        /// The builder's error.
        #[source]
        source: E,
    },
    /// The output directory could not be created or a written file read back.
    #[error("{}", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A written file could not be described as an artifact.
    #[error("describing {}", path.display())]
    Describe {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ArtifactError,
    },
    /// The detached signature could not be made.
    #[error("signing {}", path.display())]
    Sign {
        /// The file signed.
        path: PathBuf,
        /// Why.
        #[source]
        source: SignError,
    },
}

impl Format {
    /// The repository kind its packages go to.
    pub fn repository(self) -> RepoKind {
        match self {
            Format::Deb => RepoKind::Deb,
            Format::Rpm => RepoKind::Rpm,
            Format::Tar => RepoKind::Bin,
        }
    }
}

/// The file at `path`, of `kind`, described with `spec`'s version and arch and `format`'s
/// repository: the description every packager gives its outputs.
pub fn describe<E>(
    kind: ArtifactKind,
    spec: &PackageSpec,
    format: Format,
    path: &Path,
) -> Result<Arc<dyn Artifact>, PackagerError<E>> {
    describe_file(kind, &PackageFile::of(spec, format), path)
}

/// A detached armored signature of the file at `path`, `<file name>.asc`, described like
/// [`describe`] (kept in memory: it is small, and the package directory stays as the builder
/// left it).
pub fn detached_signature<E>(
    signer: &dyn Signer,
    spec: &PackageSpec,
    format: Format,
    path: &Path,
) -> Result<Arc<dyn Artifact>, PackagerError<E>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| spec.file_name(format));
    detached_signature_named(signer, &PackageFile::of(spec, format), path, &name)
}

/// What a package file belongs to: the version, arch and format that [`describe`] and
/// [`detached_signature`] take from a [`PackageSpec`], for a package built elsewhere (read
/// from the file itself) that has no spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// The release version.
    pub version: Version,
    /// The architecture.
    pub arch: Arch,
    /// The format, which names the repository.
    pub format: Format,
}

impl PackageFile {
    fn of(spec: &PackageSpec, format: Format) -> Self {
        PackageFile {
            version: spec.version.clone(),
            arch: spec.arch,
            format,
        }
    }
}

/// [`describe`] for a package known by its [`PackageFile`] rather than a spec.
///
/// ```
/// use falco_artifacts_core::package::{describe_file, Format, PackageFile, PackagerError};
/// use falco_artifacts_core::{Arch, Artifact, ArtifactKind, RepoKind};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("falco-0.45.0-x86_64.deb");
/// std::fs::write(&path, b"!<arch>\n")?;
/// let file = PackageFile { version: "0.45.0".parse()?, arch: Arch::X86_64, format: Format::Deb };
/// let deb = describe_file::<std::convert::Infallible>(ArtifactKind::Deb, &file, &path)?;
/// assert_eq!(deb.repository(), Some(RepoKind::Deb));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn describe_file<E>(
    kind: ArtifactKind,
    file: &PackageFile,
    path: &Path,
) -> Result<Arc<dyn Artifact>, PackagerError<E>> {
    let artifact =
        LocalArtifact::from_path(kind, path).map_err(|source| PackagerError::Describe {
            path: path.to_owned(),
            source,
        })?;
    Ok(of_release(artifact, file))
}

/// [`detached_signature`] for a package known by its [`PackageFile`]: `<name>.asc` of the
/// file at `path`, described like it.
pub fn detached_signature_named<E>(
    signer: &dyn Signer,
    file: &PackageFile,
    path: &Path,
    name: &str,
) -> Result<Arc<dyn Artifact>, PackagerError<E>> {
    let mut reader = std::fs::File::open(path).map_err(|source| PackagerError::Io {
        path: path.to_owned(),
        source,
    })?;
    let asc = signer
        .sign_detached_armored(&mut reader)
        .map_err(|source| PackagerError::Sign {
            path: path.to_owned(),
            source,
        })?;
    let artifact = LocalArtifact::from_bytes(
        ArtifactKind::Signature,
        format!("{name}.asc"),
        asc.into_bytes(),
    )
    .map_err(|source| PackagerError::Describe {
        path: path.to_owned(),
        source,
    })?;
    Ok(of_release(artifact, file))
}

/// `artifact` as one file of a `file.format` package: its version, arch and repository.
fn of_release(artifact: LocalArtifact, file: &PackageFile) -> Arc<dyn Artifact> {
    Arc::new(
        artifact
            .with_version(file.version.clone())
            .with_arch(file.arch)
            .with_repository(file.format.repository()),
    )
}

/// Creates `dir` for a packager.
pub fn create_out_dir<E>(dir: &Path) -> Result<(), PackagerError<E>> {
    std::fs::create_dir_all(dir).map_err(|source| PackagerError::Io {
        path: dir.to_owned(),
        source,
    })
}
