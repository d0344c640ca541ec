//! The error kinds every publisher converts its failures into, so callers can match on them.

use crate::digest::Sha256Digest;
use crate::publisher::Occupant;

/// A boxed error from a backend or a parser, kept as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a [`Publisher`](crate::Publisher) operation.
///
/// Every backend's private failure converts into one of these kinds; the cause stays reachable
/// through [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Something asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (a repository path, a file name).
        what: String,
    },
    /// A file exists under the same immutable name with different content.
    #[error("{repository}/{name} holds sha256 {existing}; refusing different content (sha256 {new}) under that immutable name: it {occupant}")]
    AlreadyExists {
        /// The repository.
        repository: String,
        /// The file's key in the repository.
        name: String,
        /// The digest of what is stored.
        existing: Sha256Digest,
        /// The digest of what was offered.
        new: Sha256Digest,
        /// Whether an index names the stored file, which says how to get past it.
        occupant: Occupant,
    },
    /// A condition the operation relies on did not hold (a lock is held, an index changed).
    #[error("precondition failed: {what}")]
    Precondition {
        /// Which condition.
        what: String,
    },
    /// The input is invalid; nothing was changed.
    #[error("invalid input: {context}")]
    InvalidInput {
        /// Which input, which field, what was expected.
        context: String,
        /// The underlying parse or validation error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// The storage backend or a tool failed.
    #[error("{backend} failed while {action}")]
    Backend {
        /// Which backend (`file`, `s3`, `gpg`, …).
        backend: String,
        /// What it was doing.
        action: String,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// An [`Error::InvalidInput`] without a source.
    pub fn invalid_input(context: impl Into<String>) -> Self {
        Error::InvalidInput {
            context: context.into(),
            source: None,
        }
    }
}
