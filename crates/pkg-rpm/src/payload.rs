//! The payload, streamed: the cpio archive goes file by file through core's parallel encoder
//! into an unnamed temporary file, and the same pass computes every digest the headers need
//! (each file's SHA-256, the archive's and the compressed payload's). Memory stays at one copy
//! buffer plus the encoder's own state, whatever the size of the files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use falco_artifacts_core::compress::{self, Encoder};
use falco_artifacts_core::{DigestSet, DigestingReader, DigestingWriter, Digests, Sha256Digest};

use rpm::{FileFlags, FileType, IndexTag, PackageMetadata};

use crate::cpio::{padding, write_newc, write_stripped, write_trailer, NewcEntry};
use crate::RpmError;

/// Large enough that per-call overhead in the encoders disappears, small enough not to count.
const COPY_BUFFER: usize = 1 << 20;

/// Where an entry's bytes come from.
#[derive(Debug)]
pub(crate) enum Content<'a> {
    /// Bytes held by the package description.
    Inline(&'a [u8]),
    /// A file on disk, with the size it had when the package was described.
    Path(&'a Path),
    /// A symbolic link: its target is the data, as rpm writes it, without a digest.
    Link(Vec<u8>),
    /// Directories: a header and no data.
    Empty,
}

/// One payload entry, in header order.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    /// `./usr/bin/falco`.
    pub(crate) name: String,
    /// The index in the header's file list (what the stripped format names).
    pub(crate) index: u32,
    pub(crate) ino: u32,
    pub(crate) mode: u32,
    pub(crate) mtime: u32,
    pub(crate) rdev: u16,
    pub(crate) size: u64,
    pub(crate) content: Content<'a>,
}

/// The written payload and what was measured on the way.
#[derive(Debug)]
pub(crate) struct Payload {
    /// The compressed payload, positioned anywhere.
    pub(crate) file: File,
    /// SHA-256 and size of the compressed payload.
    pub(crate) compressed: Digests,
    /// SHA-256 and size of the cpio archive.
    pub(crate) archive: Digests,
    /// Per entry, the SHA-256 of its content (`None` for directories and links).
    pub(crate) digests: Vec<Option<Sha256Digest>>,
}

/// Where the payload goes and how.
pub(crate) struct Options<'a> {
    pub(crate) compression: compress::Compression,
    pub(crate) threads: u32,
    pub(crate) temp_dir: &'a Path,
    /// rpm's stripped cpio format, for files of more than 4 GiB in all.
    pub(crate) large: bool,
}

/// Where a regular file's bytes come from, keyed in [`RpmBuilder::build`] by install path.
pub(crate) enum Source<'a> {
    Inline(&'a [u8]),
    Path(&'a Path, u64),
}

/// The install path as the `rpm` crate lists it: slashes collapsed, no trailing slash.
pub(crate) fn normalized(dst: &str) -> String {
    let dst = dst
        .strip_prefix('.')
        .filter(|d| d.starts_with('/'))
        .unwrap_or(dst);
    let mut out = String::with_capacity(dst.len());
    for c in dst.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// The payload entries in header order, with their sources, and the size of every file of
/// the header (`%ghost` files have no payload entry).
pub(crate) fn payload_entries<'a>(
    meta: &PackageMetadata,
    sources: &BTreeMap<String, Source<'a>>,
) -> Result<(Vec<Entry<'a>>, Vec<u64>), RpmError> {
    let template_error = |source| RpmError::Header {
        field: "file list",
        source,
    };
    let files = meta.get_file_entries().map_err(template_error)?;
    let inodes = if files.is_empty() {
        Vec::new()
    } else {
        meta.header
            .get_entry_data_as_u32_array(IndexTag::RPMTAG_FILEINODES)
            .map_err(template_error)?
    };
    let mut entries = Vec::with_capacity(files.len());
    let mut sizes = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let path = f.path().to_string_lossy().into_owned();
        let (size, content) = match f.file_type() {
            _ if f.flags().contains(FileFlags::GHOST) => {
                sizes.push(0);
                continue;
            }
            FileType::Regular => match sources.get(&path) {
                Some(Source::Inline(bytes)) => (bytes.len() as u64, Content::Inline(bytes)),
                Some(Source::Path(source, size)) => (*size, Content::Path(source)),
                None => return Err(RpmError::UnknownTemplateFile { path }),
            },
            FileType::SymbolicLink => {
                let target = f.linkto().unwrap_or_default().as_bytes().to_vec();
                (target.len() as u64, Content::Link(target))
            }
            _ => (0, Content::Empty),
        };
        sizes.push(size);
        entries.push(Entry {
            name: format!(".{path}"),
            index: u32::try_from(i).unwrap_or(u32::MAX),
            ino: inodes.get(i).copied().unwrap_or(0),
            mode: u32::from(f.mode().raw_mode()),
            mtime: f.modified_at().into(),
            rdev: f.rdev(),
            size,
            content,
        });
    }
    Ok((entries, sizes))
}

/// Writes `entries` and the trailer as the compressed payload.
pub(crate) fn write_payload(entries: &[Entry<'_>], o: &Options<'_>) -> Result<Payload, RpmError> {
    let dir = o.temp_dir;
    let werr = |e| RpmError::io("write the payload into a temporary file in", dir, e);
    let file = tempfile::tempfile_in(dir)
        .map_err(|e| RpmError::io("create a temporary file in", dir, e))?;
    let compressed = DigestingWriter::new(
        BufWriter::with_capacity(COPY_BUFFER, file),
        DigestSet::SHA256,
    );
    let encoder = Encoder::new(compressed, o.compression, o.threads).map_err(werr)?;
    let mut archive = DigestingWriter::new(encoder, DigestSet::SHA256);
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut digests = Vec::with_capacity(entries.len());
    for e in entries {
        if o.large {
            write_stripped(&mut archive, e.index).map_err(werr)?;
        } else {
            // The newc format is only chosen when the files total less than 4 GiB.
            let size = u32::try_from(e.size).unwrap_or(u32::MAX);
            let header = NewcEntry {
                name: &e.name,
                ino: e.ino,
                mode: e.mode,
                nlink: 1,
                mtime: e.mtime,
                size,
                rdev_major: u32::from(e.rdev >> 8),
                rdev_minor: u32::from(e.rdev & 0xff),
            };
            write_newc(&mut archive, &header).map_err(werr)?;
        }
        let digest = match e.content {
            Content::Inline(bytes) => {
                archive.write_all(bytes).map_err(werr)?;
                Some(Sha256Digest::of_bytes(bytes))
            }
            Content::Path(path) => Some(copy_file(path, e.size, &mut archive, &mut buf, dir)?),
            Content::Link(ref target) => {
                archive.write_all(target).map_err(werr)?;
                None
            }
            Content::Empty => None,
        };
        archive.write_all(padding(e.size)).map_err(werr)?;
        digests.push(digest);
    }
    write_trailer(&mut archive).map_err(werr)?;
    let (encoder, archive) = archive.finish();
    let (buffered, compressed) = encoder.finish().map_err(werr)?.finish();
    let file = buffered.into_inner().map_err(|e| werr(e.into_error()))?;
    Ok(Payload {
        file,
        compressed,
        archive,
        digests,
    })
}

/// Copies exactly `size` bytes of `path` into `out` and returns their SHA-256; a file whose
/// size changed since the package was described is an error, not a corrupt package.
fn copy_file(
    path: &Path,
    size: u64,
    out: &mut impl Write,
    buf: &mut [u8],
    temp_dir: &Path,
) -> Result<Sha256Digest, RpmError> {
    let rerr = |e| RpmError::io("read", path, e);
    let changed = || RpmError::SourceChanged {
        path: PathBuf::from(path),
    };
    let file = File::open(path).map_err(|e| RpmError::io("open", path, e))?;
    let mut reader = DigestingReader::new((&file).take(size), DigestSet::SHA256);
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(rerr(e)),
        };
        out.write_all(&buf[..n])
            .map_err(|e| RpmError::io("write the payload into a temporary file in", temp_dir, e))?;
    }
    let digests = reader.finish();
    let now = file.metadata().map_err(rerr)?.len();
    if digests.size != size || now != size {
        return Err(changed());
    }
    Ok(digests.sha256)
}
