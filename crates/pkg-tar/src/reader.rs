//! Reading tarballs: compression detected from the magic bytes, entries listed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use falco_artifacts_core::compress::{decoder, sniff, Codec};
use falco_artifacts_core::tar_guard::{TarGuard, TarLimits, TarRefusal};

use crate::error::ReadError;

/// What a tar entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// Its target.
        target: String,
    },
    /// Anything else (hard link, device, FIFO, …), named.
    Other(String),
}

/// One entry of a tarball, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// The path as stored (directories end in `/` when the archive says so).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Size in bytes (0 for non-files).
    pub size: u64,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Owner name (may be empty).
    pub user: String,
    /// Group name (may be empty).
    pub group: String,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// Opens `reader` as a tar stream, decompressing gzip, xz or zstd when the magic bytes say so
/// (with core's memory-bounded decoders), and puts core's [`TarGuard`] below the tar parser.
pub(crate) fn guarded<'a, R: Read + 'a>(
    reader: R,
    archive: &str,
    limits: TarLimits,
) -> Result<TarGuard<Box<dyn Read + 'a>>, ReadError> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf().map_err(io_err(archive))?;
    let codec = sniff(head).unwrap_or(Codec::None);
    let decoded = decoder(buffered, codec).map_err(io_err(archive))?;
    Ok(TarGuard::new(decoded, limits))
}

pub(crate) fn kind_of(entry: &tar::Entry<'_, impl Read>) -> EntryKind {
    let header = entry.header();
    match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink {
            target: entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
        },
        tar::EntryType::Link => EntryKind::Other("hard link".into()),
        tar::EntryType::Char => EntryKind::Other("character device".into()),
        tar::EntryType::Block => EntryKind::Other("block device".into()),
        tar::EntryType::Fifo => EntryKind::Other("FIFO".into()),
        other => EntryKind::Other(format!("{other:?}")),
    }
}

/// An I/O, decoding or tar error of `archive`; a refusal of the guard becomes the matching
/// [`ReadError`] (too many entries, too large, refused).
pub(crate) fn io_err(archive: &str) -> impl Fn(io::Error) -> ReadError + '_ {
    move |source| match TarRefusal::find(&source) {
        Some(TarRefusal::TooManyEntries { limit }) => ReadError::TooManyEntries {
            archive: archive.to_owned(),
            limit: *limit,
        },
        Some(TarRefusal::MetadataTooLarge {
            kind, size, limit, ..
        }) => ReadError::TooLarge {
            archive: archive.to_owned(),
            what: format!("a tar metadata entry of type {kind:?}"),
            size: *size,
            limit: *limit,
        },
        Some(refusal) => ReadError::Refused {
            archive: archive.to_owned(),
            source: refusal.clone(),
        },
        None => ReadError::Io {
            archive: archive.to_owned(),
            source,
        },
    }
}

/// Lists the entries of a tarball from a stream (any compression we write); `archive` names it
/// in errors. The stream is read within core's default [`TarLimits`] (a million entries, 64
/// GiB of content, 64 KiB per metadata entry; no pax size overrides, no sparse files).
pub fn list_entries<R: Read>(reader: R, archive: &str) -> Result<Vec<TarEntry>, ReadError> {
    let mut tar = tar::Archive::new(guarded(reader, archive, TarLimits::default())?);
    let mut out = Vec::new();
    for entry in tar.entries().map_err(io_err(archive))? {
        let entry = entry.map_err(io_err(archive))?;
        let header = entry.header();
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        out.push(TarEntry {
            kind: kind_of(&entry),
            mode: header.mode().map_err(io_err(archive))?,
            size: entry.size(),
            uid: header.uid().map_err(io_err(archive))?,
            gid: header.gid().map_err(io_err(archive))?,
            user: header
                .username()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
            group: header
                .groupname()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
            mtime: header.mtime().map_err(io_err(archive))?,
            path,
        });
    }
    Ok(out)
}

/// Lists the entries of the tarball at `path`.
pub fn list_file(path: &Path) -> Result<Vec<TarEntry>, ReadError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(io_err(&name))?;
    list_entries(file, &name)
}
