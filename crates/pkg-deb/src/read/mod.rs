//! Reading a `.deb`: the container, the control archive, and the data tree as a list or
//! extracted into a directory.

pub(crate) mod ar;
mod entry;
mod extract;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use ar::{ArReader, Member};
pub use entry::{DataEntry, DataKind};
use extract::Extractor;
pub use extract::{AbsoluteSymlinks, ExtractOptions};
use falco_artifacts_core::tar_guard::{TarGuard, TarLimits, TarRefusal};

use crate::compression::{decoder, MemberCompression};
use crate::control::Control;
use crate::error::ReadError;

/// The most uncompressed bytes `control.tar` may hold; real ones hold a few KiB to a few MiB
/// (the md5sums of big packages).
pub const MAX_CONTROL_SIZE: u64 = 64 << 20;
/// The most bytes `debian-binary` may hold.
const MAX_DEBIAN_BINARY: u64 = 1024;

/// A `.deb` being read: the control information is parsed on opening; the data tree is
/// streamed once, listed ([`DebReader::entries`]) or extracted ([`DebReader::extract`]).
///
/// Memory stays bounded: the control archive is limited to [`MAX_CONTROL_SIZE`], the data
/// tree is never held, and both tar streams are watched by core's
/// [`TarGuard`](falco_artifacts_core::tar_guard::TarGuard) (metadata entries, pax size
/// overrides, sparse files, entry count and content size; limits from
/// [`DebReader::with_limits`]).
pub struct DebReader<R: Read> {
    ar: ArReader<R>,
    limits: TarLimits,
    control: Control,
    control_member: String,
    control_files: BTreeMap<String, Vec<u8>>,
    data: Member,
    data_compression: MemberCompression,
}

impl<R: Read> std::fmt::Debug for DebReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebReader")
            .field("control_member", &self.control_member)
            .field("data_member", &self.data.name)
            .field("package", &self.control.package())
            .finish_non_exhaustive()
    }
}

impl DebReader<BufReader<File>> {
    /// Opens the package at `path`. Its length is known, so a member declaring more bytes than
    /// the file holds is refused before anything is read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let open = |source| ReadError::Open {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(open)?;
        let len = file.metadata().map_err(open)?.len();
        Self::from_parts(BufReader::with_capacity(64 * 1024, file), Some(len))
    }
}

impl<R: Read> DebReader<R> {
    /// Reads a package from a stream (a download, a pipe): members are checked as they come.
    pub fn new(reader: R) -> Result<Self, ReadError> {
        Self::from_parts(reader, None)
    }

    /// Reads a package of `len` bytes from a stream (a file behind a wrapper that can stop
    /// it, say): as with [`DebReader::open`], a member declaring more than the package holds
    /// is refused before it is read.
    pub fn with_len(reader: R, len: u64) -> Result<Self, ReadError> {
        Self::from_parts(reader, Some(len))
    }

    fn from_parts(reader: R, len: Option<u64>) -> Result<Self, ReadError> {
        let mut ar = ArReader::new(reader, len)?;
        let first = ar.next_member()?;
        let first = expect(first, "debian-binary", |m| m.name == "debian-binary")?;
        read_debian_binary(&mut ar, &first)?;

        let control = skip_signatures(&mut ar)?;
        let control = expect(control, "control.tar.*", |m| {
            m.name.starts_with("control.tar")
        })?;
        let compression = compression_of(&control, "control.tar")?;
        let control_files = read_control(&mut ar, &control, compression)?;
        let text = control_files
            .get("control")
            .ok_or_else(|| ReadError::NoControlFile {
                member: control.name.clone(),
            })?;
        let text = std::str::from_utf8(text)
            .map_err(|_| ReadError::Control(crate::ControlError::NotUtf8))?;
        let parsed = Control::parse(text).map_err(ReadError::Control)?;

        let data = skip_signatures(&mut ar)?;
        let data = expect(data, "data.tar.*", |m| m.name.starts_with("data.tar"))?;
        let data_compression = compression_of(&data, "data.tar")?;
        Ok(DebReader {
            ar,
            limits: TarLimits::default(),
            control: parsed,
            control_member: control.name,
            control_files,
            data,
            data_compression,
        })
    }

    /// Reads the data tree within `limits` instead of [`TarLimits::default`] (a million
    /// entries, 64 GiB of content, 64 KiB per metadata entry).
    pub fn with_limits(mut self, limits: TarLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits the data tree is read within.
    pub fn limits(&self) -> TarLimits {
        self.limits
    }

    /// The parsed `control` file, with its raw text.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// A file of the control archive (`control`, `md5sums`, `conffiles`, `postinst`…).
    pub fn control_file(&self, name: &str) -> Option<&[u8]> {
        self.control_files.get(name).map(Vec::as_slice)
    }

    /// The names of the control archive's files, sorted.
    pub fn control_file_names(&self) -> impl Iterator<Item = &str> {
        self.control_files.keys().map(String::as_str)
    }

    /// The absolute paths listed in `conffiles`.
    pub fn conffiles(&self) -> Vec<String> {
        self.control_file("conffiles")
            .map(|bytes| {
                String::from_utf8_lossy(bytes)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The control member's name (`control.tar.gz`).
    pub fn control_member(&self) -> &str {
        &self.control_member
    }

    /// The data member's name (`data.tar.xz`).
    pub fn data_member(&self) -> &str {
        &self.data.name
    }

    /// How the data member is compressed.
    pub fn data_compression(&self) -> MemberCompression {
        self.data_compression
    }

    /// Lists the data tree (the root `./` left out), reading it once.
    pub fn entries(self) -> Result<Vec<DataEntry>, ReadError> {
        self.walk(|_, _| Ok(()))
    }

    /// Extracts the data tree into `dir` (created if missing) and returns its entries.
    /// Paths with `..` or absolute paths, links leading out of `dir`, devices and anything
    /// that would write through a symlink are refused with an error; nothing is ever written
    /// outside `dir`.
    pub fn extract(
        self,
        dir: &Path,
        options: &ExtractOptions,
    ) -> Result<Vec<DataEntry>, ReadError> {
        let mut extractor = Extractor::new(dir, options, &self.data.name)?;
        let entries = self.walk(|entry, data| extractor.entry(entry, data))?;
        extractor.finish()?;
        Ok(entries)
    }

    fn walk(
        mut self,
        mut each: impl FnMut(&DataEntry, &mut dyn Read) -> Result<(), ReadError>,
    ) -> Result<Vec<DataEntry>, ReadError> {
        let member = self.data.name.clone();
        let tar_err = |entry: Option<&str>, source| tar_error(&member, entry, source);
        let data = BufReader::with_capacity(64 * 1024, self.ar.data(&self.data));
        let decoded = decoder(data, self.data_compression)
            .map_err(|e| tar_err(None, e))?
            .ok_or_else(|| ReadError::Compression {
                member: member.clone(),
            })?;
        let mut archive = tar::Archive::new(TarGuard::new(decoded, self.limits));
        let mut entries = Vec::new();
        let mut last: Option<String> = None;
        for item in archive.entries().map_err(|e| tar_err(None, e))? {
            let mut item = item.map_err(|e| tar_err(last.as_deref(), e))?;
            let entry = describe(&member, &item)?;
            last = Some(entry.path.clone());
            each(&entry, &mut item)?;
            entries.push(entry);
        }
        // Reading to the end checks the compressed stream's own trailer (CRC, sizes) and
        // that the member is as long as it claims: a cut package is an error, not a short list.
        io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| tar_err(None, e))?;
        Ok(entries.into_iter().filter(|e| !e.path.is_empty()).collect())
    }
}

fn expect(
    member: Option<Member>,
    expected: &'static str,
    ok: impl Fn(&Member) -> bool,
) -> Result<Member, ReadError> {
    match member {
        Some(m) if ok(&m) => Ok(m),
        Some(m) => Err(ReadError::MemberOrder {
            expected,
            found: m.name,
        }),
        None => Err(ReadError::MemberOrder {
            expected,
            found: "end of archive".into(),
        }),
    }
}

/// The next member that is not a signature (`_gpgbuilder` and other `_` members dpkg skips).
fn skip_signatures<R: Read>(ar: &mut ArReader<R>) -> Result<Option<Member>, ReadError> {
    loop {
        match ar.next_member()? {
            Some(m) if m.name.starts_with('_') => continue,
            other => return Ok(other),
        }
    }
}

fn compression_of(member: &Member, stem: &str) -> Result<MemberCompression, ReadError> {
    member
        .name
        .strip_prefix(stem)
        .and_then(MemberCompression::from_suffix)
        .ok_or_else(|| ReadError::Compression {
            member: member.name.clone(),
        })
}

fn read_debian_binary<R: Read>(ar: &mut ArReader<R>, member: &Member) -> Result<(), ReadError> {
    if member.size > MAX_DEBIAN_BINARY {
        return Err(ReadError::TooLarge {
            member: member.name.clone(),
            what: format!("size {}", member.size),
            limit: MAX_DEBIAN_BINARY,
        });
    }
    let mut text = Vec::new();
    ar.data(member)
        .read_to_end(&mut text)
        .map_err(|source| ReadError::Io {
            member: member.name.clone(),
            source,
        })?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let first = text.lines().next().unwrap_or_default();
    let ok = first
        .strip_prefix("2.")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(ReadError::FormatVersion { found: text });
    }
    Ok(())
}

fn read_control<R: Read>(
    ar: &mut ArReader<R>,
    member: &Member,
    compression: MemberCompression,
) -> Result<BTreeMap<String, Vec<u8>>, ReadError> {
    let name = member.name.clone();
    let fail = |entry: Option<&str>, source: io::Error| {
        if let Some(TarRefusal::TooMuchContent { .. }) = TarRefusal::find(&source) {
            ReadError::TooLarge {
                member: name.clone(),
                what: "uncompressed size".into(),
                limit: MAX_CONTROL_SIZE,
            }
        } else {
            tar_error(&name, entry, source)
        }
    };
    let data = BufReader::new(ar.data(member));
    let decoded = decoder(data, compression)
        .map_err(|e| fail(None, e))?
        .ok_or_else(|| ReadError::Compression {
            member: name.clone(),
        })?;
    let limits = TarLimits {
        max_content: MAX_CONTROL_SIZE,
        ..TarLimits::default()
    };
    let mut archive = tar::Archive::new(TarGuard::new(decoded, limits));
    let mut files = BTreeMap::new();
    for item in archive.entries().map_err(|e| fail(None, e))? {
        let mut item = item.map_err(|e| fail(None, e))?;
        let path = entry::normalize(&name, &item.path_bytes())?;
        if path.is_empty() || !item.header().entry_type().is_file() {
            continue;
        }
        let mut content = Vec::new();
        item.read_to_end(&mut content)
            .map_err(|e| fail(Some(&path), e))?;
        files.insert(path, content);
    }
    // As for the data member: the whole stream must be there and intact.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| fail(None, e))?;
    Ok(files)
}

/// A tar or decompression failure of `member`; a metadata entry over the limit becomes
/// [`ReadError::TooLarge`], the guard's other refusals [`ReadError::Refused`].
fn tar_error(member: &str, entry: Option<&str>, source: io::Error) -> ReadError {
    match TarRefusal::find(&source) {
        Some(TarRefusal::MetadataTooLarge { kind, limit, .. }) => ReadError::TooLarge {
            member: member.to_owned(),
            what: format!("tar metadata entry of type {kind:?}"),
            limit: *limit,
        },
        Some(refusal) => ReadError::Refused {
            member: member.to_owned(),
            entry: entry.map(str::to_owned),
            source: refusal.clone(),
        },
        None => ReadError::Tar {
            member: member.to_owned(),
            entry: entry.map(str::to_owned),
            source,
        },
    }
}

fn describe<R: Read>(member: &str, item: &tar::Entry<'_, R>) -> Result<DataEntry, ReadError> {
    let path = entry::normalize(member, &item.path_bytes())?;
    let header = item.header();
    let tar_err = |source| ReadError::Tar {
        member: member.to_owned(),
        entry: Some(path.clone()),
        source,
    };
    let link = || -> Result<String, ReadError> {
        let raw = item.link_name_bytes().ok_or_else(|| {
            tar_err(io::Error::new(
                io::ErrorKind::InvalidData,
                "link entry without a target",
            ))
        })?;
        String::from_utf8(raw.into_owned()).map_err(|_| ReadError::UnsafePath {
            member: member.to_owned(),
            path: path.clone(),
            problem: "link target is not UTF-8",
        })
    };
    let entry_type = header.entry_type();
    let kind = match entry_type {
        // The entry's size is the one the parser reads by (a pax record may set it); the
        // guard has made sure the header says the same.
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            DataKind::File { size: item.size() }
        }
        tar::EntryType::Directory => DataKind::Dir,
        tar::EntryType::Symlink => DataKind::Symlink { target: link()? },
        tar::EntryType::Link => DataKind::HardLink {
            target: entry::normalize(member, link()?.as_bytes())?,
        },
        other => DataKind::Special {
            kind: char::from(other.as_byte()),
        },
    };
    let name = |n: Result<Option<&str>, std::str::Utf8Error>| {
        n.ok().flatten().unwrap_or_default().to_owned()
    };
    Ok(DataEntry {
        kind,
        mode: header.mode().map_err(tar_err)? & 0o7777,
        owner: name(header.username()),
        group: name(header.groupname()),
        mtime: header.mtime().map_err(tar_err)?,
        path,
    })
}
