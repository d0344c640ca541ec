//! The errors of this crate: every one names what it was working on.

use std::path::PathBuf;

use falco_artifacts_core::package::SpecError;
use falco_artifacts_core::SignError;

/// What went wrong while writing, signing, reading or extracting an `.rpm`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpmError {
    /// The package description is inconsistent.
    #[error("the package description is invalid")]
    InvalidSpec(#[source] SpecError),
    /// The source date does not fit the 32-bit time fields of an rpm header.
    #[error("source date {secs} does not fit in an rpm header (after 2106-02-07)")]
    SourceDateOutOfRange {
        /// Seconds since the epoch.
        secs: u64,
    },
    /// A compression level outside what the compressor accepts.
    #[error("compression level {level} is out of range for {compressor} (expected {min}..={max})")]
    CompressionLevel {
        /// `gzip`, `xz` or `zstd`.
        compressor: &'static str,
        /// The level given.
        level: i32,
        /// The lowest level accepted.
        min: i32,
        /// The highest level accepted.
        max: i32,
    },
    /// A relation (`Requires:` …) that is not `name`, `name OP version` or `name (OP version)`.
    #[error("{field} entry {given:?} is not `name`, `name OP version` or `name (OP version)`")]
    InvalidRelation {
        /// The relation field (`requires`, `provides`, …).
        field: &'static str,
        /// The entry as written.
        given: String,
    },
    /// The `rpm` crate refused an entry of the package.
    #[error("cannot add {path} to the rpm")]
    AddEntry {
        /// The install path.
        path: String,
        /// Why.
        #[source]
        source: rpm::Error,
    },
    /// The `rpm` crate could not assemble the package.
    #[error("cannot build the rpm of {name}")]
    Build {
        /// The package name.
        name: String,
        /// Why.
        #[source]
        source: rpm::Error,
    },
    /// The `rpm` crate listed a file the description does not have (its path rules changed).
    #[error("the rpm crate listed {path}, which is not in the package description")]
    UnknownTemplateFile {
        /// The path as the crate listed it.
        path: String,
    },
    /// Signing the header failed.
    #[error("cannot sign the rpm header")]
    Sign(#[source] SignError),
    /// The signer returned something that is not one binary OpenPGP v4 signature packet.
    #[error("the signer returned an unusable OpenPGP signature ({why})")]
    BadSignature {
        /// What is wrong with it.
        why: &'static str,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done (`read`, `write`, `create`…).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file changed size while it was being packaged.
    #[error("{path} changed while it was being packaged")]
    SourceChanged {
        /// The file.
        path: PathBuf,
    },
    /// Writing the package to a stream failed.
    #[error("cannot write the rpm")]
    Write(#[source] rpm::Error),
    /// The input is not a readable rpm (truncated, corrupt or hostile).
    #[error("cannot parse the rpm {origin}")]
    Parse {
        /// Where it came from (a path, or `stream`).
        origin: String,
        /// The parser's error.
        #[source]
        source: rpm::Error,
    },
    /// Copying the payload into the package failed.
    #[error("cannot copy the payload into the rpm")]
    CopyPayload(#[source] std::io::Error),
    /// The bytes are not a well-formed rpm: a bound, magic or size check failed.
    #[error("{origin} is not a well-formed rpm: {why}{}", offset.map(|o| format!(" (at byte {o})")).unwrap_or_default())]
    Corrupt {
        /// Where it came from (a path, or `stream`).
        origin: String,
        /// Where the problem was found, when known.
        offset: Option<u64>,
        /// What is wrong.
        why: &'static str,
    },
    /// A header tag the reader needs is missing or malformed.
    #[error("the rpm header field {field} is missing or malformed")]
    Header {
        /// The field (`name`, `file list`…).
        field: &'static str,
        /// The parser's error.
        #[source]
        source: rpm::Error,
    },
    /// The payload holds a path that would land outside the extraction directory.
    #[error("refusing to extract {path:?}: {why}")]
    UnsafePath {
        /// The path in the package.
        path: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// Reading the payload failed.
    #[error("cannot read the payload entry {path:?}")]
    Payload {
        /// The entry (empty before the first one).
        path: String,
        /// Why.
        #[source]
        source: rpm::Error,
    },
}

impl RpmError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        RpmError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
