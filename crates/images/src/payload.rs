//! The Falco payload layer: the release tarball's tree (below `falco-<version>-<arch>/`) and a
//! variant's extra files, with the SHA-256 of every file for the bill of materials.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_pkg_tar::{extract, ExtractOptions};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::ImageError;
use crate::layer::{Layer, LayerTree, Node};

/// A file of the payload layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFile {
    /// Its path in the image (`/usr/bin/falco`).
    pub path: String,
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: String,
    /// Lowercase hex SHA-1 of its bytes (SPDX requires it for files).
    pub sha1: String,
}

/// The payload layer and its files, sorted by path.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The layer.
    pub layer: Layer,
    /// Its regular files.
    pub files: Vec<PayloadFile>,
}

/// A directory copied into the image at `dest` (`/usr/src/falco-7.3.0+driver`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraFiles {
    /// The directory on this machine.
    pub source: PathBuf,
    /// Where its contents go in the image (absolute).
    pub dest: String,
}

/// Writes the payload layer of `tarball` plus `extra` into `work_dir` as `payload.tar.gz`.
pub(crate) fn build(
    tarball: &Path,
    extra: &[ExtraFiles],
    work_dir: &Path,
    date: SourceDate,
) -> Result<Payload, ImageError> {
    let unpacked = work_dir.join("payload");
    fs::create_dir_all(&unpacked).map_err(|source| ImageError::Context {
        path: unpacked.clone(),
        action: "create a directory",
        source,
    })?;
    let file = File::open(tarball).map_err(|source| ImageError::Context {
        path: tarball.to_owned(),
        action: "open",
        source,
    })?;
    let options = ExtractOptions {
        // Drops `falco-<version>-<arch>/`.
        strip_components: 1,
        // Inside the image an absolute link points into the image's own root; the unpacked
        // tree is only read here.
        allow_absolute_symlinks: true,
        ..ExtractOptions::default()
    };
    extract(file, &tarball.display().to_string(), &unpacked, &options).map_err(|source| {
        ImageError::Tarball {
            path: tarball.to_owned(),
            source,
        }
    })?;
    let mut tree = LayerTree::default();
    tree.add_dir(&unpacked, "", &tarball.display().to_string())?;
    for extra in extra {
        let dest = extra.dest.trim_matches('/');
        tree.add_dir(&extra.source, dest, &extra.source.display().to_string())?;
    }
    let mut files = Vec::new();
    for (path, node) in tree.files() {
        let (sha256, sha1) = match node {
            Node::File { source, .. } => {
                let file = File::open(source).map_err(|e| hash_err(source, e))?;
                hashes(file).map_err(|e| hash_err(source, e))?
            }
            Node::Bytes { data, .. } => {
                hashes(data.as_slice()).map_err(|e| hash_err(Path::new(path), e))?
            }
            _ => continue,
        };
        files.push(PayloadFile {
            path: format!("/{path}"),
            sha256,
            sha1,
        });
    }
    let layer = tree.write(&work_dir.join("payload.tar.gz"), date)?;
    let _ = fs::remove_dir_all(&unpacked);
    Ok(Payload { layer, files })
}

/// SHA-256 and SHA-1 (lowercase hex) in one streamed read.
fn hashes(mut reader: impl Read) -> io::Result<(String, String)> {
    let (mut sha256, mut sha1) = (Sha256::new(), Sha1::new());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        sha1.update(&buf[..n]);
    }
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok((hex(&sha256.finalize()), hex(&sha1.finalize())))
}

fn hash_err(path: &Path, source: io::Error) -> ImageError {
    ImageError::Context {
        path: path.to_owned(),
        action: "hash",
        source,
    }
}
