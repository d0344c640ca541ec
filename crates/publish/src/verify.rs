//! Reading a repository the way a client does and reporting every problem.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use falco_artifacts_core::Sha256Digest;

use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::index::{by_hash_key, BY_HASH, INDEX_HTML, INDEX_JSON};
use crate::protocol::lock::{self, LOCK_PREFIX};

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

/// What [`verify`](crate::BinRepository::verify) found.
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

pub(crate) async fn verify(
    repo: &FileRepo,
    options: &VerifyOptions,
) -> Result<VerifyReport, PublishError> {
    verify_with(repo, options, None).await
}

/// [`verify`], where keys under `derived/` are the repository's own derived files (a site
/// index written by [`FileRepo::write_derived`]), not unindexed leftovers.
pub(crate) async fn verify_with(
    repo: &FileRepo,
    options: &VerifyOptions,
    derived: Option<&str>,
) -> Result<VerifyReport, PublishError> {
    let store = &repo.store;
    let mut report = VerifyReport {
        repository: store.root().to_owned(),
        ..VerifyReport::default()
    };
    let (index, bytes) = repo.read_index().await?;
    if let Some(bytes) = &bytes {
        let key = by_hash_key(&Sha256Digest::of_bytes(bytes));
        if store.get(&key).await?.as_deref() != Some(&bytes[..]) {
            report.problems.push(Problem::ByHash { path: key });
        }
    }
    let listed = store.list("").await?;
    let stored: std::collections::BTreeMap<&str, u64> =
        listed.iter().map(|(k, m)| (k.as_str(), m.size)).collect();
    for entry in &index.files {
        report.files += 1;
        let Some(&size) = stored.get(entry.path.as_str()) else {
            report.problems.push(Problem::MissingFile {
                path: entry.path.clone(),
            });
            continue;
        };
        if size != entry.size {
            report.problems.push(Problem::SizeMismatch {
                path: entry.path.clone(),
                indexed: entry.size,
                stored: size,
            });
            continue;
        }
        if options.check_hashes {
            match store.sha256(&entry.path).await? {
                None => report.problems.push(Problem::MissingFile {
                    path: entry.path.clone(),
                }),
                Some((sha, _)) if sha != entry.sha256 => {
                    report.problems.push(Problem::HashMismatch {
                        path: entry.path.clone(),
                        indexed: entry.sha256,
                        stored: sha,
                    })
                }
                Some(_) => {}
            }
        }
    }
    let indexed: BTreeSet<&str> = index.files.iter().map(|e| e.path.as_str()).collect();
    for (key, _) in &listed {
        let protocol = key == INDEX_JSON
            || key == INDEX_HTML
            || key.starts_with(&format!("{BY_HASH}/"))
            || key.starts_with(&format!("{LOCK_PREFIX}/"))
            || derived.is_some_and(|d| key.starts_with(&format!("{d}/")));
        if !protocol && !indexed.contains(key.as_str()) {
            report
                .problems
                .push(Problem::Unindexed { path: key.clone() });
        }
    }
    if let Some(state) = lock::state(store).await? {
        if state.held && state.expires < Utc::now() {
            report.problems.push(Problem::StaleLock {
                holder: state.holder,
                expired: state.expires,
            });
        }
    }
    Ok(report)
}
