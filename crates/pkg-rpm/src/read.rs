//! Reading an `.rpm`'s headers: everything a YUM repository's `primary.xml`, `filelists.xml`
//! and `other.xml` need, without touching the payload.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rpm::{DependencyFlags, FileFlags, FileType, IndexSignatureTag, IndexTag, PackageMetadata};

use crate::validate::{read_headers, Problem, RawHeaders};
use crate::RpmError;

/// Runs `f`, turning a panic inside the `rpm` crate into [`RpmError::Corrupt`]. The bounds
/// checks of [`read_headers`] are the real guard; this is the backstop for anything they miss.
pub(crate) fn guarded<T>(
    origin: &str,
    f: impl FnOnce() -> Result<T, RpmError>,
) -> Result<T, RpmError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(RpmError::Corrupt {
            origin: origin.to_owned(),
            offset: None,
            why: "its headers are inconsistent (the rpm crate's parser panicked)",
        })
    })
}

/// Reads and checks the lead and headers from `r` (left at the payload) and parses them.
pub(crate) fn parse_headers(
    r: &mut impl Read,
    origin: &str,
) -> Result<(PackageMetadata, RawHeaders), RpmError> {
    let raw = read_headers(r).map_err(|problem| match problem {
        Problem::Corrupt { offset, why } => RpmError::Corrupt {
            origin: origin.to_owned(),
            offset: Some(offset),
            why,
        },
        Problem::Io(e) => RpmError::io("read", origin, e),
    })?;
    let meta = guarded(origin, || {
        PackageMetadata::parse(&mut &raw.bytes[..]).map_err(|source| RpmError::Parse {
            origin: origin.to_owned(),
            source,
        })
    })?;
    Ok((meta, raw))
}

/// A version comparison in a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Comparison {
    /// The spelling of `primary.xml`'s `flags` attribute (`LT`, `LE`, `EQ`, `GE`, `GT`).
    pub fn repodata_flag(self) -> &'static str {
        match self {
            Comparison::Lt => "LT",
            Comparison::Le => "LE",
            Comparison::Eq => "EQ",
            Comparison::Ge => "GE",
            Comparison::Gt => "GT",
        }
    }

    /// The spelling in a spec file (`<`, `<=`, `=`, `>=`, `>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Eq => "=",
            Comparison::Ge => ">=",
            Comparison::Gt => ">",
        }
    }
}

/// One `Provides`/`Requires`/… entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The capability (`systemd`, `/bin/sh`, `rpmlib(PayloadIsXz)`).
    pub name: String,
    /// The comparison, when the relation names a version.
    pub comparison: Option<Comparison>,
    /// The version as stored: `[epoch:]version[-release]`, empty when there is none.
    pub evr: String,
    /// A `Requires(pre)`/`Requires(post)`/… prerequisite (`pre="1"` in `primary.xml`).
    pub pre: bool,
    /// rpm's raw `*FLAGS` value.
    pub raw_flags: u32,
}

impl Relation {
    /// `evr` split as `primary.xml` wants it: epoch (when given), version, release (when given).
    pub fn split_evr(&self) -> (Option<&str>, &str, Option<&str>) {
        split_evr(&self.evr)
    }

    fn from_rpm(d: rpm::Dependency) -> Self {
        let f = d.flags;
        let cmp = f & (DependencyFlags::LESS | DependencyFlags::GREATER | DependencyFlags::EQUAL);
        let comparison = match cmp {
            c if c == DependencyFlags::LESS => Some(Comparison::Lt),
            c if c == DependencyFlags::LE => Some(Comparison::Le),
            c if c == DependencyFlags::EQUAL => Some(Comparison::Eq),
            c if c == DependencyFlags::GE => Some(Comparison::Ge),
            c if c == DependencyFlags::GREATER => Some(Comparison::Gt),
            _ => None,
        };
        // What createrepo_c marks `pre="1"`.
        let pre_bits =
            DependencyFlags::PREREQ | DependencyFlags::SCRIPT_PRE | DependencyFlags::SCRIPT_POST;
        Relation {
            name: d.name,
            comparison,
            evr: d.version,
            pre: f.intersects(pre_bits),
            raw_flags: f.bits(),
        }
    }
}

/// Splits `[epoch:]version[-release]`.
pub fn split_evr(evr: &str) -> (Option<&str>, &str, Option<&str>) {
    let (epoch, rest) = match evr.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(e), rest)
        }
        _ => (None, evr),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

/// What a file entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// One file of the package, from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Absolute install path.
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// The whole `st_mode` (type and permission bits).
    pub mode: u16,
    /// Owner name.
    pub user: String,
    /// Group name.
    pub group: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u32,
    /// The content digest in hex (regular files only), with the algorithm of
    /// [`RpmInfo::file_digest_algorithm`].
    pub digest: Option<String>,
    /// The symlink target.
    pub link_target: Option<String>,
    /// `%config`.
    pub config: bool,
    /// `%config(noreplace)`.
    pub noreplace: bool,
    /// `%ghost` (listed, not in the payload).
    pub ghost: bool,
    /// `%doc`.
    pub doc: bool,
}

/// A `%changelog` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changelog {
    /// `Name <email> - version-release`.
    pub author: String,
    /// Seconds since the epoch.
    pub time: u64,
    /// The text.
    pub text: String,
}

/// Everything the headers of an `.rpm` say, read without decompressing the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RpmInfo {
    /// `Name`.
    pub name: String,
    /// `Epoch`, when the package has one.
    pub epoch: Option<u32>,
    /// `Version`.
    pub version: String,
    /// `Release`.
    pub release: String,
    /// `Arch` (`x86_64`, `aarch64`, `noarch`, `src` …).
    pub arch: String,
    /// `Summary`.
    pub summary: String,
    /// `Description`.
    pub description: String,
    /// `License`.
    pub license: String,
    /// `URL`.
    pub url: Option<String>,
    /// `Vendor`.
    pub vendor: Option<String>,
    /// `Packager`.
    pub packager: Option<String>,
    /// `Group`.
    pub group: Option<String>,
    /// `BuildHost`.
    pub build_host: Option<String>,
    /// `SourceRPM`.
    pub source_rpm: Option<String>,
    /// `BuildTime`, seconds since the epoch.
    pub build_time: u64,
    /// Installed size: the sum of the file sizes.
    pub installed_size: u64,
    /// The uncompressed payload (cpio archive) size, when recorded.
    pub archive_size: Option<u64>,
    /// The size of the `.rpm` file, when read from a path.
    pub package_size: Option<u64>,
    /// The byte range of the main header in the file (`primary.xml`'s `header-range`).
    pub header_range: Range<u64>,
    /// The payload compressor (`gzip`, `xz`, `zstd`, `bzip2`, `none`).
    pub payload_compressor: String,
    /// `Provides`.
    pub provides: Vec<Relation>,
    /// `Requires`.
    pub requires: Vec<Relation>,
    /// `Conflicts`.
    pub conflicts: Vec<Relation>,
    /// `Obsoletes`.
    pub obsoletes: Vec<Relation>,
    /// `Recommends`.
    pub recommends: Vec<Relation>,
    /// `Suggests`.
    pub suggests: Vec<Relation>,
    /// `Supplements`.
    pub supplements: Vec<Relation>,
    /// `Enhances`.
    pub enhances: Vec<Relation>,
    /// Files, directories and links, in header order.
    pub files: Vec<FileInfo>,
    /// The file digest algorithm's OpenPGP id (8 = SHA-256; 1 = MD5 in old packages).
    pub file_digest_algorithm: u32,
    /// `%changelog`, newest first as rpm stores it.
    pub changelog: Vec<Changelog>,
    /// The SHA-256 digest of the main header from the signature header, in hex.
    pub header_sha256: Option<String>,
    /// The raw OpenPGP signature packets over the header (`RSAHEADER`, `DSAHEADER`, `OPENPGP`).
    pub signatures: Vec<Vec<u8>>,
}

fn optional<T>(field: &'static str, r: Result<T, rpm::Error>) -> Result<Option<T>, RpmError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(rpm::Error::TagNotFound(_)) => Ok(None),
        Err(source) => Err(RpmError::Header { field, source }),
    }
}

fn required<T>(field: &'static str, r: Result<T, rpm::Error>) -> Result<T, RpmError> {
    r.map_err(|source| RpmError::Header { field, source })
}

impl RpmInfo {
    /// Reads the headers of the `.rpm` at `path`.
    pub fn open(path: &Path) -> Result<Self, RpmError> {
        let file = fs::File::open(path).map_err(|e| RpmError::io("open", path, e))?;
        let size = file.metadata().ok().map(|m| m.len());
        let mut info = Self::read_from(BufReader::new(file), &path.display().to_string())?;
        info.package_size = size;
        Ok(info)
    }

    /// Reads the headers from a stream positioned at the start of an `.rpm`. Only the lead
    /// and the two headers are consumed.
    pub fn read(reader: impl Read) -> Result<Self, RpmError> {
        Self::read_from(BufReader::new(reader), "stream")
    }

    fn read_from(mut reader: impl BufRead, origin: &str) -> Result<Self, RpmError> {
        let (meta, raw) = parse_headers(&mut reader, origin)?;
        guarded(origin, || Self::from_metadata(&meta, &raw))
    }

    fn from_metadata(meta: &PackageMetadata, raw: &RawHeaders) -> Result<Self, RpmError> {
        let (header_start, header_end) = (raw.header_start, raw.header_end());
        let text = |field, r: Result<&str, rpm::Error>| -> Result<Option<String>, RpmError> {
            Ok(optional(field, r)?.map(str::to_owned))
        };
        let deps = |field, r: Result<Vec<rpm::Dependency>, rpm::Error>| {
            optional(field, r).map(|v| {
                v.unwrap_or_default()
                    .into_iter()
                    .map(Relation::from_rpm)
                    .collect::<Vec<_>>()
            })
        };
        let h = &meta.header;
        let archive_size = match optional(
            "archive size",
            h.get_entry_data_as_u64(IndexTag::RPMTAG_LONGARCHIVESIZE),
        )? {
            Some(v) => Some(v),
            None => optional(
                "archive size",
                h.get_entry_data_as_u32(IndexTag::RPMTAG_ARCHIVESIZE),
            )?
            .map(u64::from)
            .or(optional(
                "archive size",
                meta.signature
                    .get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE),
            )?
            .map(u64::from)),
        };
        let mut signatures = Vec::new();
        for tag in [
            IndexSignatureTag::RPMSIGTAG_RSA,
            IndexSignatureTag::RPMSIGTAG_DSA,
        ] {
            if let Some(sig) = optional("signature", meta.signature.get_entry_data_as_binary(tag))?
            {
                signatures.push(sig.to_vec());
            }
        }
        if signatures.is_empty() {
            let raw = optional("signature", meta.raw_signatures())?.unwrap_or_default();
            signatures.extend(raw.into_iter().map(|s| s.into_owned()));
        }
        Ok(RpmInfo {
            name: required("name", meta.get_name())?.to_owned(),
            epoch: optional("epoch", meta.get_epoch())?,
            version: required("version", meta.get_version())?.to_owned(),
            release: required("release", meta.get_release())?.to_owned(),
            arch: required("arch", meta.get_arch())?.to_owned(),
            summary: text("summary", meta.get_summary())?.unwrap_or_default(),
            description: text("description", meta.get_description())?.unwrap_or_default(),
            license: text("license", meta.get_license())?.unwrap_or_default(),
            url: text("url", meta.get_url())?,
            vendor: text("vendor", meta.get_vendor())?,
            packager: text("packager", meta.get_packager())?,
            group: text("group", meta.get_group())?,
            build_host: text("build host", meta.get_build_host())?,
            source_rpm: text("source rpm", meta.get_source_rpm())?,
            build_time: optional("build time", meta.get_build_time())?.unwrap_or(0),
            installed_size: optional("installed size", meta.get_installed_size())?.unwrap_or(0),
            archive_size,
            package_size: None,
            header_range: header_start..header_end,
            payload_compressor: required("payload compressor", meta.get_payload_compressor())?
                .to_string(),
            provides: deps("provides", meta.get_provides())?,
            requires: deps("requires", meta.get_requires())?,
            conflicts: deps("conflicts", meta.get_conflicts())?,
            obsoletes: deps("obsoletes", meta.get_obsoletes())?,
            recommends: deps("recommends", meta.get_recommends())?,
            suggests: deps("suggests", meta.get_suggests())?,
            supplements: deps("supplements", meta.get_supplements())?,
            enhances: deps("enhances", meta.get_enhances())?,
            files: files(meta)?,
            file_digest_algorithm: optional(
                "file digest algorithm",
                h.get_entry_data_as_u32(IndexTag::RPMTAG_FILEDIGESTALGO),
            )?
            .unwrap_or(1),
            changelog: optional("changelog", meta.get_changelog_entries())?
                .unwrap_or_default()
                .into_iter()
                .map(|c| Changelog {
                    author: c.name,
                    time: c.timestamp,
                    text: c.description,
                })
                .collect(),
            header_sha256: text(
                "header SHA-256",
                meta.signature
                    .get_entry_data_as_string(IndexSignatureTag::RPMSIGTAG_SHA256),
            )?,
            signatures,
        })
    }

    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        match self.epoch {
            Some(e) => format!(
                "{}-{e}:{}-{}.{}",
                self.name, self.version, self.release, self.arch
            ),
            None => format!(
                "{}-{}-{}.{}",
                self.name, self.version, self.release, self.arch
            ),
        }
    }
}

fn files(meta: &PackageMetadata) -> Result<Vec<FileInfo>, RpmError> {
    let entries = optional("file list", meta.get_file_entries())?.unwrap_or_default();
    Ok(entries
        .into_iter()
        .map(|e| {
            let flags = e.flags();
            let kind = match e.file_type() {
                FileType::Regular => FileKind::File,
                FileType::Dir => FileKind::Dir,
                FileType::SymbolicLink => FileKind::Symlink,
                _ => FileKind::Other,
            };
            FileInfo {
                path: e.path().to_string_lossy().into_owned(),
                kind,
                mode: e.mode().raw_mode(),
                user: e.user().to_owned(),
                group: e.group().to_owned(),
                size: e.size() as u64,
                mtime: e.modified_at().into(),
                digest: e
                    .digest()
                    .map(|d| d.as_hex().to_owned())
                    .filter(|d| !d.is_empty()),
                link_target: e.linkto().filter(|l| !l.is_empty()).map(str::to_owned),
                config: flags.contains(FileFlags::CONFIG),
                noreplace: flags.contains(FileFlags::NOREPLACE),
                ghost: flags.contains(FileFlags::GHOST),
                doc: flags.contains(FileFlags::DOC),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_split() {
        assert_eq!(split_evr("1:2.3-4.el9"), (Some("1"), "2.3", Some("4.el9")));
        assert_eq!(split_evr("2.3"), (None, "2.3", None));
        assert_eq!(
            split_evr("0.45.0_36+1307474-1"),
            (None, "0.45.0_36+1307474", Some("1"))
        );
    }
}
