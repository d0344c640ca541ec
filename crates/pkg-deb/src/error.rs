//! What can go wrong writing or reading a `.deb`, with the file, member and field at fault.

use std::io;
use std::path::PathBuf;

use falco_artifacts_core::package::{InstallPath, SpecError};

use crate::compression::Codec;

/// A `.deb` that cannot be built. Nothing is left at the destination.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The package description fails its own checks.
    #[error("the package description is invalid")]
    Spec(#[source] SpecError),
    /// A value cannot go into a control file.
    #[error("control field `{field}`: {problem} (found {value:?})")]
    ControlField {
        /// The control field (`Maintainer`).
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An owner or group name that tar cannot record.
    #[error("{dst}: {field} {value:?} is longer than the 31 bytes a tar header holds")]
    OwnerName {
        /// The entry.
        dst: InstallPath,
        /// `owner` or `group`.
        field: &'static str,
        /// The name.
        value: String,
    },
    /// A compression level outside the codec's range.
    #[error("{codec} level {level} is out of range {min}..={max}")]
    Level {
        /// The codec.
        codec: Codec,
        /// The level given.
        level: u32,
        /// Lowest level.
        min: u32,
        /// Highest level.
        max: u32,
    },
    /// A payload file cannot be read.
    #[error("cannot read {path} (for {dst})")]
    ReadSource {
        /// Where it is installed.
        dst: InstallPath,
        /// The file on disk.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A payload file changed size between planning and packing.
    #[error("{path} (for {dst}) changed while being packed: {expected} bytes expected, {found}")]
    SourceChanged {
        /// Where it is installed.
        dst: InstallPath,
        /// The file on disk.
        path: PathBuf,
        /// The size seen when the build started.
        expected: u64,
        /// What was found instead.
        found: String,
    },
    /// A member is larger than an ar header's 10-digit size field can state.
    #[error("ar member {member} is {size} bytes, over the {max} bytes an ar header can state")]
    MemberTooLarge {
        /// The member (`data.tar.xz`).
        member: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The temporary file holding the compressed `data.tar` cannot be made.
    #[error("cannot create a temporary file in {dir}")]
    TempFile {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing a member (`data.tar.gz`, `control.tar.gz`) failed.
    #[error("cannot write {member}")]
    Member {
        /// The member.
        member: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing the package failed.
    #[error("cannot write the package to {}", path.as_ref().map_or("the output".into(), |p| p.display().to_string()))]
    Output {
        /// The destination, when it is a file.
        path: Option<PathBuf>,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A `.deb` that cannot be read, or a data tree that cannot be extracted safely.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The package file cannot be opened.
    #[error("cannot open {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The first 8 bytes are not the ar magic `!<arch>\n`.
    #[error("not a .deb: expected the ar magic \"!<arch>\\n\", found {found:?}")]
    BadMagic {
        /// What was there instead.
        found: String,
    },
    /// An ar member header is malformed.
    #[error("ar header at offset {offset}: bad {field} {value:?}")]
    ArHeader {
        /// Offset of the header in the file.
        offset: u64,
        /// The header field (`name`, `size`, `terminator`).
        field: &'static str,
        /// Its raw value.
        value: String,
    },
    /// A member states a size larger than what follows it.
    #[error("ar member {member} declares {declared} bytes but only {available} remain")]
    Truncated {
        /// The member.
        member: String,
        /// The size in its header.
        declared: u64,
        /// What the file has left.
        available: u64,
    },
    /// Reading the ar container failed.
    #[error("cannot read {member}")]
    Io {
        /// The member being read, or `ar header`.
        member: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Members are missing or out of order.
    #[error("expected ar member {expected}, found {found}")]
    MemberOrder {
        /// The member expected here.
        expected: &'static str,
        /// What was found (`end of archive` if nothing).
        found: String,
    },
    /// `debian-binary` says a format other than 2.x.
    #[error("debian-binary: unsupported format version {found:?} (expected 2.x)")]
    FormatVersion {
        /// Its content.
        found: String,
    },
    /// A member's compression is unknown or not decoded here.
    #[error("ar member {member}: unsupported compression")]
    Compression {
        /// The member.
        member: String,
    },
    /// A member or entry is over a limit.
    #[error("{member}: {what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The member.
        member: String,
        /// What (`uncompressed size`, `entry ./control`).
        what: String,
        /// The limit.
        limit: u64,
    },
    /// Decompressing or un-tarring a member failed.
    #[error("{member}: malformed archive{}", entry.as_ref().map(|e| format!(" at entry {e}")).unwrap_or_default())]
    Tar {
        /// The member.
        member: String,
        /// The tar entry, when known.
        entry: Option<String>,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The tar stream has a shape the reader refuses: a pax size override that disagrees with
    /// the header, a sparse file, a malformed pax record, too many entries or too much content.
    #[error("{member}: refused tar stream{}", entry.as_ref().map(|e| format!(" after entry {e}")).unwrap_or_default())]
    Refused {
        /// The member.
        member: String,
        /// The last entry read before the refusal, when there is one.
        entry: Option<String>,
        /// What was refused.
        #[source]
        source: falco_artifacts_core::tar_guard::TarRefusal,
    },
    /// The control archive has no `control` file.
    #[error("{member} has no control file")]
    NoControlFile {
        /// The member.
        member: String,
    },
    /// The control file is malformed.
    #[error("control file is malformed")]
    Control(#[source] ControlError),
    /// An entry path is absolute, climbs out with `..`, or is not UTF-8.
    #[error("{member}: unsafe path {path:?}: {problem}")]
    UnsafePath {
        /// The member.
        member: String,
        /// The path as stored.
        path: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A symlink or hard link would point outside the extraction directory.
    #[error("{path}: link target {target:?} {problem}")]
    LinkEscape {
        /// The link, relative to the root.
        path: String,
        /// Its target.
        target: String,
        /// Why it is refused.
        problem: &'static str,
    },
    /// An entry's place in the tree is taken by something that cannot be replaced safely.
    #[error("{path}: cannot extract: {problem}")]
    Conflict {
        /// The entry, relative to the root.
        path: String,
        /// What is in the way.
        problem: &'static str,
    },
    /// An entry type that is not extracted (device, FIFO).
    #[error("{path}: unsupported entry type {kind:?}")]
    UnsupportedEntry {
        /// The entry.
        path: String,
        /// The tar type flag.
        kind: char,
    },
    /// Writing into the extraction directory failed.
    #[error("cannot extract to {path}")]
    Extract {
        /// The path being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A control stanza that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// A line breaks the `Field: value` syntax.
    #[error("line {line}: {problem}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// A field appears twice.
    #[error("line {line}: field {field} appears twice")]
    Duplicate {
        /// 1-based line number of the second one.
        line: usize,
        /// The field.
        field: String,
    },
    /// A required field is missing.
    #[error("required field {field} is missing")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A field's value does not parse.
    #[error("field {field}: {problem} (found {value:?})")]
    Value {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
        /// What was expected.
        problem: &'static str,
    },
    /// The file is not UTF-8.
    #[error("not UTF-8 text")]
    NotUtf8,
}
