//! Which driver versions get prebuilt drivers: those of the latest stable Falco releases.

use falco_artifacts_core::{Version, VersionError};

use crate::ident::InvalidIdentifier;
use crate::DriverVersion;

/// A Falco release and the driver version it ships with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FalcoRelease {
    /// The Falco version.
    pub falco: Version,
    /// Its driver version.
    pub driver: DriverVersion,
}

/// How many stable Falco releases get prebuilt drivers (default 2: the last and the
/// penultimate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShipPolicy {
    releases: usize,
}

impl Default for ShipPolicy {
    fn default() -> Self {
        ShipPolicy { releases: 2 }
    }
}

impl ShipPolicy {
    /// Ships the driver versions of the last `releases` stable Falco releases.
    pub fn with_releases(mut self, releases: usize) -> Self {
        self.releases = releases;
        self
    }

    /// How many stable releases are covered.
    pub fn releases(&self) -> usize {
        self.releases
    }
}

/// Why no driver versions could be chosen, or a release list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    /// The release list is empty.
    #[error("the list of Falco releases is empty: no driver version to ship")]
    NoReleases,
    /// Every release is a prerelease or a development build.
    #[error("none of the {count} Falco releases is stable: no driver version to ship")]
    NoStableRelease {
        /// How many releases were given.
        count: usize,
    },
    /// The policy covers no release at all.
    #[error("the policy ships the drivers of 0 releases")]
    ZeroReleases,
    /// A line of a release list is not `<falco version> <driver version>`.
    #[error("line {line} of the release list is not `<falco version> <driver version>`: {text:?}")]
    Syntax {
        /// The 1-based line.
        line: usize,
        /// Its text.
        text: String,
    },
    /// A Falco version in the list is invalid.
    #[error("line {line} of the release list has an invalid Falco version")]
    FalcoVersion {
        /// The 1-based line.
        line: usize,
        /// Why.
        #[source]
        source: VersionError,
    },
    /// A driver version in the list is invalid.
    #[error("line {line} of the release list has an invalid driver version")]
    DriverVersion {
        /// The 1-based line.
        line: usize,
        /// Why.
        #[source]
        source: InvalidIdentifier,
    },
}

/// Reads a release list: one `<falco version> <driver version>` per line (`v` prefixes
/// accepted, `#` comments and blank lines ignored).
///
/// ```
/// let releases = falco_artifacts_driver_grid::parse_releases("0.44.0 10.2.0+driver\n# old\nv0.43.0 9.1.0+driver\n")?;
/// assert_eq!(releases.len(), 2);
/// # Ok::<(), falco_artifacts_driver_grid::ShipError>(())
/// ```
pub fn parse_releases(text: &str) -> Result<Vec<FalcoRelease>, ShipError> {
    let mut releases = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        let (Some(falco), Some(driver), None) = (words.next(), words.next(), words.next()) else {
            return Err(ShipError::Syntax {
                line,
                text: raw.to_owned(),
            });
        };
        releases.push(FalcoRelease {
            falco: Version::from_tag(falco)
                .map_err(|source| ShipError::FalcoVersion { line, source })?,
            driver: driver
                .parse()
                .map_err(|source| ShipError::DriverVersion { line, source })?,
        });
    }
    Ok(releases)
}

/// The driver versions to ship: those of the last `policy.releases()` stable Falco releases
/// (prereleases and development builds excluded), newest first, duplicates merged.
///
/// ```
/// use falco_artifacts_driver_grid::{parse_releases, ship, ShipPolicy};
///
/// let releases = parse_releases(
///     "0.38.0 7.2.0+driver\n0.38.2 7.2.1+driver\n0.39.0 7.3.0+driver\n0.40.0-rc1 8.0.0+driver\n",
/// )?;
/// let versions = ship(&releases, &ShipPolicy::default())?;
/// let names: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
/// assert_eq!(names, ["7.3.0+driver", "7.2.1+driver"]);
/// # Ok::<(), falco_artifacts_driver_grid::ShipError>(())
/// ```
pub fn ship(
    releases: &[FalcoRelease],
    policy: &ShipPolicy,
) -> Result<Vec<DriverVersion>, ShipError> {
    if releases.is_empty() {
        return Err(ShipError::NoReleases);
    }
    if policy.releases == 0 {
        return Err(ShipError::ZeroReleases);
    }
    let mut stable: Vec<&FalcoRelease> = releases.iter().filter(|r| r.falco.is_stable()).collect();
    if stable.is_empty() {
        return Err(ShipError::NoStableRelease {
            count: releases.len(),
        });
    }
    stable.sort_by(|a, b| b.falco.cmp(&a.falco));
    stable.dedup_by(|a, b| a.falco == b.falco);
    let mut versions: Vec<DriverVersion> = Vec::new();
    for release in stable.into_iter().take(policy.releases) {
        if !versions.contains(&release.driver) {
            versions.push(release.driver.clone());
        }
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(versions: &[DriverVersion]) -> Vec<&str> {
        versions.iter().map(DriverVersion::as_str).collect()
    }

    #[test]
    fn last_two_stable_releases_with_duplicates_merged() {
        // The design's table of Falco releases and their driver versions.
        let releases = parse_releases(
            "0.37.0 7.0.0+driver\n0.38.0 7.2.0+driver\n0.38.2 7.2.1+driver\n0.39.0 7.3.0+driver\n\
             0.40.0 8.0.0+driver\n0.41.0 8.1.0+driver\n0.42.0 9.0.0+driver\n0.43.0 9.1.0+driver\n\
             0.44.0 10.2.0+driver\n0.45.0-rc1 11.0.0+driver\n",
        )
        .unwrap();
        let policy = ShipPolicy::default();
        assert_eq!(
            names(&ship(&releases, &policy).unwrap()),
            ["10.2.0+driver", "9.1.0+driver"]
        );
        assert_eq!(
            names(&ship(&releases, &policy.with_releases(3)).unwrap()),
            ["10.2.0+driver", "9.1.0+driver", "9.0.0+driver"]
        );

        // Two patch releases on the same driver: one driver version, listed once.
        let same =
            parse_releases("0.39.0 7.3.0+driver\n0.39.1 7.3.0+driver\n0.38.2 7.2.1+driver\n")
                .unwrap();
        assert_eq!(names(&ship(&same, &policy).unwrap()), ["7.3.0+driver"]);
        // The same release listed twice counts once.
        let twice =
            parse_releases("0.44.0 10.2.0+driver\n0.44.0 10.2.0+driver\n0.43.0 9.1.0+driver\n")
                .unwrap();
        assert_eq!(
            names(&ship(&twice, &policy).unwrap()),
            ["10.2.0+driver", "9.1.0+driver"]
        );
    }

    #[test]
    fn clear_errors() {
        let policy = ShipPolicy::default();
        let err = ship(&[], &policy).unwrap_err();
        assert!(matches!(err, ShipError::NoReleases));
        assert_eq!(
            err.to_string(),
            "the list of Falco releases is empty: no driver version to ship"
        );

        let pre =
            parse_releases("0.45.0-rc1 11.0.0+driver\n0.45.0-36+1307474 11.0.0+driver\n").unwrap();
        assert!(matches!(
            ship(&pre, &policy),
            Err(ShipError::NoStableRelease { count: 2 })
        ));
        let one = parse_releases("0.44.0 10.2.0+driver").unwrap();
        assert!(matches!(
            ship(&one, &policy.with_releases(0)),
            Err(ShipError::ZeroReleases)
        ));

        assert!(matches!(
            parse_releases("0.44.0\n"),
            Err(ShipError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            parse_releases("\n0.44 10.2.0+driver\n"),
            Err(ShipError::FalcoVersion { line: 2, .. })
        ));
        assert!(matches!(
            parse_releases("0.44.0 10.2\n"),
            Err(ShipError::DriverVersion { line: 1, .. })
        ));
    }
}
