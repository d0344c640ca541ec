//! Reading tarballs: compression detected from the magic bytes, entries listed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

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

/// Opens `reader` as a tar stream, decompressing gzip, xz or zstd when the magic bytes say so.
pub(crate) fn decompressed<'a, R: Read + 'a>(
    reader: R,
    archive: &str,
) -> Result<Box<dyn Read + 'a>, ReadError> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf().map_err(|source| ReadError::Io {
        archive: archive.to_owned(),
        source,
    })?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(buffered))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered).map_err(|source| ReadError::Io {
                archive: archive.to_owned(),
                source,
            })?,
        )
    } else {
        Box::new(buffered)
    })
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

pub(crate) fn io_err(archive: &str) -> impl Fn(io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        archive: archive.to_owned(),
        source,
    }
}

/// Lists the entries of a tarball from a stream (any compression we write); `archive` names it
/// in errors.
pub fn list_entries<R: Read>(reader: R, archive: &str) -> Result<Vec<TarEntry>, ReadError> {
    let mut tar = tar::Archive::new(decompressed(reader, archive)?);
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
