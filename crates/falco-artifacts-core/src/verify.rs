//! What verifying a repository (reading it the way a client does) reports.

use std::fmt;

use crate::digest::Sha256Digest;
use chrono::{DateTime, Utc};

/// How thoroughly to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Read every indexed file and compare its SHA-256 (otherwise sizes only).
    pub check_hashes: bool,
}

impl Default for VerifyOptions {
    /// Hashes everything.
    fn default() -> Self {
        VerifyOptions { check_hashes: true }
    }
}

/// One thing wrong with a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The index names a file that is not there.
    MissingFile {
        /// Its key in the repository.
        path: String,
    },
    /// The file's size is not the indexed one.
    SizeMismatch {
        /// Its key.
        path: String,
        /// The size in the index.
        indexed: u64,
        /// The size stored.
        stored: u64,
    },
    /// The file's SHA-256 is not the indexed one.
    HashMismatch {
        /// Its key.
        path: String,
        /// The digest in the index.
        indexed: Sha256Digest,
        /// The digest of the stored bytes.
        stored: Sha256Digest,
    },
    /// An index's canonical name is ahead of the live top file: a publish stopped between
    /// the canonical names and the top file. Clients reading by hash are unaffected; the next
    /// publish rewrites it.
    CanonicalAhead {
        /// Its key.
        path: String,
    },
    /// A file no index names.
    Unindexed {
        /// Its key.
        path: String,
    },
    /// The content-addressed copy of the live index is missing or differs.
    ByHash {
        /// Its key.
        path: String,
    },
    /// A signature file the repository should have is missing.
    MissingSignature {
        /// Its key.
        path: String,
    },
    /// A signed file signs an older top file: a publish stopped between `Release` and its
    /// signatures. apt reads `InRelease` (still consistent with the kept `by-hash` files) and
    /// is unaffected; the next publish rewrites both.
    SignatureBehind {
        /// Its key.
        path: String,
    },
    /// The lock is held past its lease: a publisher died holding it.
    StaleLock {
        /// Who held it.
        holder: String,
        /// When its lease ended.
        expired: DateTime<Utc>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingFile { path } => write!(f, "{path}: indexed but missing"),
            Problem::SizeMismatch {
                path,
                indexed,
                stored,
            } => write!(f, "{path}: {stored} bytes stored, {indexed} indexed"),
            Problem::HashMismatch {
                path,
                indexed,
                stored,
            } => write!(f, "{path}: sha256 {stored} stored, {indexed} indexed"),
            Problem::Unindexed { path } => write!(f, "{path}: in no index"),
            Problem::CanonicalAhead { path } => {
                write!(
                    f,
                    "{path}: differs from the live top file's digest (an unfinished publish)"
                )
            }
            Problem::ByHash { path } => {
                write!(
                    f,
                    "{path}: content-addressed copy of the live index missing or wrong"
                )
            }
            Problem::MissingSignature { path } => write!(f, "{path}: signature missing"),
            Problem::SignatureBehind { path } => write!(f, "{path}: signs an older Release"),
            Problem::StaleLock { holder, expired } => {
                write!(f, "lock held by {holder}, lease ended {expired}")
            }
        }
    }
}

/// What [`Publisher::verify`](crate::Publisher::verify) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The repository's path in the store.
    pub repository: String,
    /// How many indexed files were checked.
    pub files: usize,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}
