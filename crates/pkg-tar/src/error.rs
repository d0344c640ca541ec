//! Errors of building and reading tarballs.

use std::path::PathBuf;

use falco_artifacts_core::package::SpecError;
use falco_artifacts_core::SignError;

/// Why a tarball could not be built. When it is returned, nothing is left in the output
/// directory.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The package description is invalid.
    #[error("invalid package description for {package}")]
    Invalid {
        /// The package name.
        package: String,
        /// Which field and why.
        #[source]
        source: SpecError,
    },
    /// A compression level outside the codec's range.
    #[error("compression level {level} is out of range for {codec} (expected {min}..={max})")]
    Level {
        /// The codec.
        codec: &'static str,
        /// The level given.
        level: u32,
        /// Lowest accepted.
        min: u32,
        /// Highest accepted.
        max: u32,
    },
    /// A payload file could not be read.
    #[error("cannot read {path}, the source of {dst}")]
    ReadSource {
        /// The source file.
        path: PathBuf,
        /// Where it installs.
        dst: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A payload file changed size while it was packed.
    #[error("{path} changed while it was packed (expected {expected} bytes, read {actual})")]
    SourceChanged {
        /// The source file.
        path: PathBuf,
        /// Size when it was stat'ed.
        expected: u64,
        /// Bytes read.
        actual: u64,
    },
    /// An entry the tar format cannot hold as given (a link target too long, say).
    #[error("cannot write tar entry {path}")]
    Entry {
        /// The entry.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("cannot write {path}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Signing failed.
    #[error("cannot sign {path}")]
    Sign {
        /// The tarball.
        path: PathBuf,
        /// Why.
        #[source]
        source: SignError,
    },
}

/// Why a tarball could not be read or extracted. Extraction stops at the first error; what it
/// wrote before stays inside the target directory.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The archive cannot be opened or read.
    #[error("cannot read tarball {archive}")]
    Io {
        /// The archive.
        archive: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An entry's path is absolute, climbs with `..`, or is not UTF-8.
    #[error("{archive}: entry {path:?} has an unsafe path: {why}")]
    UnsafePath {
        /// The archive.
        archive: String,
        /// The entry's path as stored.
        path: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A symlink points outside the extraction root.
    #[error("{archive}: symlink {path} -> {target} points outside the extraction root")]
    SymlinkEscape {
        /// The archive.
        archive: String,
        /// The link.
        path: String,
        /// Its target.
        target: String,
    },
    /// An entry would be written through a symlink extracted earlier.
    #[error("{archive}: entry {path} would be written through the symlink {link}")]
    ThroughSymlink {
        /// The archive.
        archive: String,
        /// The entry.
        path: String,
        /// The symlink in its path.
        link: String,
    },
    /// Hard links, devices, FIFOs and other special entries are not extracted.
    #[error("{archive}: entry {path} is a {kind}, which is not accepted (only files, directories and symlinks)")]
    Unsupported {
        /// The archive.
        archive: String,
        /// The entry.
        path: String,
        /// Its type.
        kind: String,
    },
    /// An entry or the whole archive is larger than the limits allow.
    #[error("{archive}: {what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The archive.
        archive: String,
        /// Which entry, or "the archive".
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More entries than the limit allows.
    #[error("{archive}: more than {limit} entries")]
    TooManyEntries {
        /// The archive.
        archive: String,
        /// The limit.
        limit: u64,
    },
    /// The tar stream has a shape the reader refuses (a pax size override that disagrees with
    /// its header, a sparse file, a malformed pax record, too much content).
    #[error("{archive}: refused tar stream")]
    Refused {
        /// The archive.
        archive: String,
        /// What was refused.
        #[source]
        source: falco_artifacts_core::tar_guard::TarRefusal,
    },
    /// Two entries for the same path.
    #[error("{archive}: entry {path} appears twice")]
    Duplicate {
        /// The archive.
        archive: String,
        /// The path.
        path: String,
    },
    /// Writing an extracted entry failed.
    #[error("cannot extract {path} to {dest}")]
    Extract {
        /// The entry.
        path: String,
        /// Where it was going.
        dest: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
