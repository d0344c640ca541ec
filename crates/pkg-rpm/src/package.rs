//! A built package: headers in memory, the compressed payload in a temporary file, and
//! the copy of both into a stream or a directory.

use std::fs;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use falco_artifacts_core::Signer;
use rpm::PackageMetadata;

use crate::sign::sign_metadata;
use crate::RpmError;

/// A built package, ready to write: the headers in memory, the compressed payload in an
/// unnamed temporary file that disappears with this value.
#[derive(Debug)]
pub struct RpmPackage {
    metadata: PackageMetadata,
    /// Behind a lock because writing seeks it.
    payload: Mutex<fs::File>,
    payload_len: u64,
    file_name: String,
}

impl RpmPackage {
    pub(crate) fn new(
        metadata: PackageMetadata,
        payload: fs::File,
        payload_len: u64,
        file_name: String,
    ) -> Self {
        RpmPackage {
            metadata,
            payload: Mutex::new(payload),
            payload_len,
            file_name,
        }
    }

    /// The file name of the package: `falco-<version>-<arch>.rpm`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Signs (or re-signs) the header with `signer`, replacing any earlier signature.
    pub fn sign(&mut self, signer: &dyn Signer) -> Result<(), RpmError> {
        sign_metadata(&mut self.metadata, signer)
    }

    /// Writes the package to `out`: the headers, then the payload copied from its temporary
    /// file.
    pub fn write(&self, out: &mut impl Write) -> Result<(), RpmError> {
        self.metadata.write(out).map_err(RpmError::Write)?;
        let mut file = self.payload.lock().unwrap_or_else(PoisonError::into_inner);
        file.seek(SeekFrom::Start(0))
            .map_err(RpmError::CopyPayload)?;
        let copied = io::copy(&mut io::Read::take(&mut *file, self.payload_len), out)
            .map_err(RpmError::CopyPayload)?;
        if copied != self.payload_len {
            return Err(RpmError::CopyPayload(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the temporary payload file is shorter than what was written to it",
            )));
        }
        Ok(())
    }

    /// Writes the package into `dir` under [`file_name`](Self::file_name) and returns its path.
    /// The file appears complete or not at all: it is written under a temporary name first.
    pub fn write_to_dir(&self, dir: &Path) -> Result<PathBuf, RpmError> {
        let path = dir.join(&self.file_name);
        let tmp = dir.join(format!(".{}.part-{}", self.file_name, std::process::id()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| RpmError::io("create", &tmp, e))?;
        let mut out = io::BufWriter::new(file);
        let written = self
            .write(&mut out)
            .and_then(|()| out.flush().map_err(|e| RpmError::io("write", &tmp, e)))
            .and_then(|()| {
                fs::rename(&tmp, &path).map_err(|e| RpmError::io("rename into", &path, e))
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(path)
    }

    /// The lead and headers as the `rpm` crate reads them, for anything this crate does not
    /// wrap.
    pub fn metadata(&self) -> &PackageMetadata {
        &self.metadata
    }

    /// The size of the compressed payload in bytes.
    pub fn payload_size(&self) -> u64 {
        self.payload_len
    }
}
