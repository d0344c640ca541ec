//! What a publish asked a CDN to forget once its commit was live.

use std::fmt;
use std::sync::Arc;

/// A CDN invalidation issued after a commit ([`PublishReport::invalidation`]).
///
/// It never undoes the commit: the repository is published either way, and a failure only
/// means the CDN may serve the old mutable names (`InRelease`, `repomd.xml`, `index.json`, …)
/// until their short cache lifetime ends.
///
/// ```
/// use falco_artifacts_core::Invalidation;
///
/// let asked = Invalidation {
///     target: "cloudfront:E2EXAMPLE".into(),
///     paths: vec!["/packages/bin/index.json".into()],
///     attempts: 1,
///     id: Some("I2J0I21PCUYOIK".into()),
///     failure: None,
/// };
/// assert!(asked.succeeded());
/// ```
///
/// [`PublishReport::invalidation`]: crate::PublishReport::invalidation
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalidation {
    /// The CDN and what in it (`cloudfront:<distribution id>`).
    pub target: String,
    /// The paths asked for, each `/`-prefixed and percent-encoded as clients request them.
    pub paths: Vec<String>,
    /// Requests made, retries included.
    pub attempts: u32,
    /// The CDN's id of the invalidation once accepted.
    pub id: Option<String>,
    /// Why the last attempt failed, when every attempt did.
    pub failure: Option<InvalidationFailure>,
}

impl Invalidation {
    /// Whether the CDN accepted the invalidation.
    pub fn succeeded(&self) -> bool {
        self.id.is_some() && self.failure.is_none()
    }
}

/// The error of a failed invalidation, kept typed (downcast it to the publisher's own error).
///
/// Two failures compare equal when they say the same thing: a report is compared by what it
/// tells its reader.
#[derive(Debug, Clone)]
pub struct InvalidationFailure(pub Arc<dyn std::error::Error + Send + Sync>);

impl fmt::Display for InvalidationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl PartialEq for InvalidationFailure {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for InvalidationFailure {}
