//! The source date that makes builds reproducible.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time stamped on every archive entry and header, in seconds since the epoch.
///
/// It never defaults silently to "now": it comes from the manifest, from `SOURCE_DATE_EPOCH`,
/// or from an explicit [`SourceDate::now`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceDate(u64);

/// `SOURCE_DATE_EPOCH` is missing or not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceDateError {
    /// Not set.
    #[error("SOURCE_DATE_EPOCH is not set and the manifest has no source_date: set one of them for reproducible output")]
    Missing,
    /// Not an integer.
    #[error("SOURCE_DATE_EPOCH={given:?} is not a number of seconds since 1970-01-01")]
    Invalid {
        /// The value given.
        given: String,
    },
}

impl SourceDate {
    /// Seconds since the epoch.
    pub fn from_secs(secs: u64) -> Self {
        SourceDate(secs)
    }

    /// `SOURCE_DATE_EPOCH` from the environment.
    pub fn from_env() -> Result<Self, SourceDateError> {
        match std::env::var("SOURCE_DATE_EPOCH") {
            Err(_) => Err(SourceDateError::Missing),
            Ok(text) => text
                .trim()
                .parse()
                .map(SourceDate)
                .map_err(|_| SourceDateError::Invalid { given: text }),
        }
    }

    /// The current time, chosen explicitly (output will differ from build to build).
    pub fn now() -> Self {
        SourceDate(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }

    /// Seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0
    }

    /// As a [`SystemTime`].
    pub fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0)
    }

    /// `mtime` clamped to the source date, as reproducible-builds.org recommends.
    pub fn clamp(self, mtime: u64) -> u64 {
        mtime.min(self.0)
    }
}

impl fmt::Display for SourceDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
