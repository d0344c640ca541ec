//! Artifacts: files ready to publish, described.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::arch::Arch;
use crate::channel::RepoKind;
use crate::digest::Sha256Digest;
use crate::version::Version;

/// What an artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArtifactKind {
    /// A `.deb` package.
    Deb,
    /// An `.rpm` package.
    Rpm,
    /// A release tarball.
    Tarball,
    /// A prebuilt kernel module (`.ko`).
    KernelModule,
    /// A prebuilt eBPF probe (`.o`).
    EbpfProbe,
    /// A detached signature (`.asc`) of another artifact.
    Signature,
    /// A checksum file (`.sha256`) of another artifact.
    Checksum,
    /// Anything else.
    Other,
}

impl ArtifactKind {
    /// The repository kind this artifact goes to by default, if it belongs to a channel.
    pub fn default_repository(self) -> Option<RepoKind> {
        match self {
            ArtifactKind::Deb => Some(RepoKind::Deb),
            ArtifactKind::Rpm => Some(RepoKind::Rpm),
            ArtifactKind::Tarball => Some(RepoKind::Bin),
            _ => None,
        }
    }
}

/// A file ready to publish, described.
///
/// Implementers must compute [`Artifact::sha256`] once (not on every call) and must return the
/// same bytes from every [`Artifact::open`], matching that digest and [`Artifact::size`].
pub trait Artifact: Send + Sync + fmt::Debug {
    /// What it is.
    fn kind(&self) -> ArtifactKind;
    /// Its file name in the repository (no directories).
    fn file_name(&self) -> &str;
    /// The version it belongs to, if any.
    fn version(&self) -> Option<&Version>;
    /// The architecture it is for, if any.
    fn arch(&self) -> Option<Arch>;
    /// The repository kind it is published into, if it belongs to a channel.
    fn repository(&self) -> Option<RepoKind> {
        self.kind().default_repository()
    }
    /// Its size in bytes.
    fn size(&self) -> u64;
    /// Its SHA-256 digest.
    fn sha256(&self) -> &Sha256Digest;
    /// A stream of its bytes.
    fn open(&self) -> io::Result<Box<dyn Read + Send + '_>>;
}

/// Where a [`LocalArtifact`]'s bytes are.
#[derive(Debug, Clone)]
pub enum ArtifactSource {
    /// A file on disk, streamed when opened.
    File(PathBuf),
    /// Bytes in memory (indexes, signatures: small things).
    Memory(Arc<[u8]>),
}

/// An invalid artifact description.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file name is empty, has a `/` or is `.`/`..`.
    #[error("{name:?} is not a valid artifact file name (no '/', not empty, not '.' or '..')")]
    InvalidFileName {
        /// The name given.
        name: String,
    },
    /// The file could not be read.
    #[error("cannot read artifact {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// An artifact on local disk or in memory, hashed once when created.
///
/// ```
/// use falco_artifacts_core::{Artifact, ArtifactKind, LocalArtifact};
///
/// let sig = LocalArtifact::from_bytes(ArtifactKind::Signature, "falco-0.39.0-x86_64.tar.gz.asc", b"...".to_vec())?;
/// assert_eq!(sig.size(), 3);
/// # Ok::<(), falco_artifacts_core::ArtifactError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LocalArtifact {
    kind: ArtifactKind,
    file_name: String,
    version: Option<Version>,
    arch: Option<Arch>,
    repository: Option<RepoKind>,
    source: ArtifactSource,
    sha256: Sha256Digest,
    size: u64,
}

fn check_file_name(name: &str) -> Result<(), ArtifactError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(ArtifactError::InvalidFileName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

impl LocalArtifact {
    /// An artifact for the file at `path`, named like it; the file is streamed once to hash it.
    pub fn from_path(kind: ArtifactKind, path: impl AsRef<Path>) -> Result<Self, ArtifactError> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        Self::from_path_named(kind, path, name)
    }

    /// An artifact for the file at `path`, published as `file_name`.
    pub fn from_path_named(
        kind: ArtifactKind,
        path: impl AsRef<Path>,
        file_name: impl Into<String>,
    ) -> Result<Self, ArtifactError> {
        let path = path.as_ref();
        let file_name = file_name.into();
        check_file_name(&file_name)?;
        let read_err = |source| ArtifactError::Read {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(read_err)?;
        let (sha256, size) = Sha256Digest::of_reader(BufReader::new(file)).map_err(read_err)?;
        Ok(LocalArtifact {
            kind,
            file_name,
            version: None,
            arch: None,
            repository: kind.default_repository(),
            source: ArtifactSource::File(path.to_owned()),
            sha256,
            size,
        })
    }

    /// An artifact held in memory.
    pub fn from_bytes(
        kind: ArtifactKind,
        file_name: impl Into<String>,
        bytes: impl Into<Arc<[u8]>>,
    ) -> Result<Self, ArtifactError> {
        let file_name = file_name.into();
        check_file_name(&file_name)?;
        let bytes: Arc<[u8]> = bytes.into();
        Ok(LocalArtifact {
            kind,
            file_name,
            version: None,
            arch: None,
            repository: kind.default_repository(),
            sha256: Sha256Digest::of_bytes(&bytes),
            size: bytes.len() as u64,
            source: ArtifactSource::Memory(bytes),
        })
    }

    /// Sets the version.
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets the architecture.
    pub fn with_arch(mut self, arch: Arch) -> Self {
        self.arch = Some(arch);
        self
    }

    /// Sets the repository kind (a signature goes beside the package it signs).
    pub fn with_repository(mut self, repository: RepoKind) -> Self {
        self.repository = Some(repository);
        self
    }

    /// Where the bytes are.
    pub fn source(&self) -> &ArtifactSource {
        &self.source
    }
}

impl Artifact for LocalArtifact {
    fn kind(&self) -> ArtifactKind {
        self.kind
    }

    fn file_name(&self) -> &str {
        &self.file_name
    }

    fn version(&self) -> Option<&Version> {
        self.version.as_ref()
    }

    fn arch(&self) -> Option<Arch> {
        self.arch
    }

    fn repository(&self) -> Option<RepoKind> {
        self.repository
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn sha256(&self) -> &Sha256Digest {
        &self.sha256
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        match &self.source {
            ArtifactSource::File(path) => Ok(Box::new(BufReader::new(File::open(path)?))),
            ArtifactSource::Memory(bytes) => Ok(Box::new(&bytes[..])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_artifact_is_hashed_once_and_streams_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("falco-0.39.0-x86_64.tar.gz");
        std::fs::write(&path, b"payload").unwrap();
        let a = LocalArtifact::from_path(ArtifactKind::Tarball, &path)
            .unwrap()
            .with_arch(Arch::X86_64);
        assert_eq!(a.file_name(), "falco-0.39.0-x86_64.tar.gz");
        assert_eq!(a.sha256(), &Sha256Digest::of_bytes(b"payload"));
        assert_eq!(a.repository(), Some(RepoKind::Bin));
        let mut back = Vec::new();
        a.open().unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, b"payload");
    }

    #[test]
    fn bad_names_and_missing_files_are_errors() {
        assert!(LocalArtifact::from_bytes(ArtifactKind::Other, "a/b", vec![]).is_err());
        assert!(LocalArtifact::from_bytes(ArtifactKind::Other, "..", vec![]).is_err());
        let err = LocalArtifact::from_path(ArtifactKind::Deb, "/nonexistent/x.deb").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.deb"));
    }
}
