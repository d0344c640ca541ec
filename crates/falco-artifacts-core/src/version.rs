//! Falco versions (stable, prerelease, development) and their renderings for each format.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pkgorder::dpkg_fragment_cmp;

/// What kind of release a [`Version`] names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionKind {
    /// A stable release: `x.y.z`.
    Stable,
    /// A prerelease tag such as `0.45.0-rc1`; it goes to the development channel.
    Prerelease,
    /// A development build: `x.y.z-<commits>+<sha>`, made on every merge to the main branch.
    Development {
        /// Commits since the merge base with the newest stable tag.
        commits: u64,
        /// Abbreviated commit hash (lowercase hex, 7 to 40 characters).
        sha: String,
    },
}

/// A Falco version, parsed strictly as semver and classified by [`VersionKind`].
///
/// [`Display`](fmt::Display) gives the canonical form used in file names
/// (`falco-0.45.0-36+1307474-x86_64.deb`); the `*_version` methods give each format's rendering.
///
/// # Ordering
///
/// `Ord` is the order package managers give our renderings, so that it agrees with
/// `dpkg --compare-versions` and `rpm.vercmp`: for the same `x.y.z`, a prerelease sorts before the
/// stable release, and a development build (`0.45.0-36+1307474`, rendered for RPM as
/// `0.45.0_36+1307474` as Falco's existing repositories do) sorts *after* it. Development builds
/// of one base compare by commit count. This is not semver precedence, which puts development
/// builds before the release; [`Version::semver`] gives that when it is wanted.
///
/// ```
/// use falco_artifacts_core::Version;
///
/// let dev: Version = "0.45.0-36+1307474".parse()?;
/// assert_eq!(dev.deb_version(), "0.45.0-36+1307474");
/// assert_eq!(dev.rpm_version(), "0.45.0_36+1307474");
/// assert_eq!(dev.rpm_release(), "1");
/// assert_eq!(dev.url_segment(), "0.45.0-36%2B1307474");
///
/// let rc: Version = "0.45.0-rc1".parse()?;
/// assert_eq!(rc.deb_version(), "0.45.0~rc1");
/// assert!(rc < "0.45.0".parse()?);
/// # Ok::<(), falco_artifacts_core::VersionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    semver: semver::Version,
    kind: VersionKind,
}

/// A string that is not a Falco version.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// Not semver at all.
    #[error(
        "{given:?} is not a semver version (expected x.y.z, x.y.z-rc1 or x.y.z-<commits>+<sha>)"
    )]
    NotSemver {
        /// The string that was given.
        given: String,
        /// Why semver refused it.
        #[source]
        source: semver::Error,
    },
    /// Build metadata on something that is not a development build.
    #[error("{given:?} has build metadata but is not a development version x.y.z-<commits>+<7..40 hex sha>")]
    UnexpectedBuildMetadata {
        /// The string that was given.
        given: String,
    },
    /// A commit hash that is not 7 to 40 lowercase hex digits.
    #[error("{sha:?} is not an abbreviated commit hash (7 to 40 lowercase hex digits)")]
    BadCommitHash {
        /// The hash that was given.
        sha: String,
    },
}

impl Version {
    /// Parses a version strictly (no leading `v`; see [`Version::from_tag`] for tags).
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let semver = semver::Version::parse(s).map_err(|source| VersionError::NotSemver {
            given: s.to_owned(),
            source,
        })?;
        let kind = classify(&semver).ok_or_else(|| VersionError::UnexpectedBuildMetadata {
            given: s.to_owned(),
        })?;
        Ok(Version { semver, kind })
    }

    /// Parses a git tag: the tag minus one leading `v`.
    pub fn from_tag(tag: &str) -> Result<Self, VersionError> {
        Self::parse(tag.strip_prefix('v').unwrap_or(tag))
    }

    /// A stable version `major.minor.patch`.
    pub fn stable(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            semver: semver::Version::new(major, minor, patch),
            kind: VersionKind::Stable,
        }
    }

    /// A development build of `major.minor.patch`, `commits` after the merge base, at `sha`.
    pub fn development(
        major: u64,
        minor: u64,
        patch: u64,
        commits: u64,
        sha: &str,
    ) -> Result<Self, VersionError> {
        if !is_commit_hash(sha) {
            return Err(VersionError::BadCommitHash {
                sha: sha.to_owned(),
            });
        }
        Self::parse(&format!("{major}.{minor}.{patch}-{commits}+{sha}"))
    }

    /// The kind of release.
    pub fn kind(&self) -> &VersionKind {
        &self.kind
    }

    /// True for `x.y.z` releases.
    pub fn is_stable(&self) -> bool {
        self.kind == VersionKind::Stable
    }

    /// True for development builds.
    pub fn is_development(&self) -> bool {
        matches!(self.kind, VersionKind::Development { .. })
    }

    /// True for prerelease tags.
    pub fn is_prerelease(&self) -> bool {
        self.kind == VersionKind::Prerelease
    }

    /// The underlying semver value (semver precedence, not package order).
    pub fn semver(&self) -> &semver::Version {
        &self.semver
    }

    /// `(major, minor, patch)`.
    pub fn base(&self) -> (u64, u64, u64) {
        (self.semver.major, self.semver.minor, self.semver.patch)
    }

    /// The prerelease part rendered for package managers: semver allows `-` inside it, but a `-`
    /// would split a DEB revision and is illegal in an RPM Version, so it becomes `.`.
    fn prerelease_fragment(&self) -> String {
        self.semver.pre.as_str().replace('-', ".")
    }

    /// DEB `Version:` field: `0.39.0`, `0.45.0~rc1`, `0.45.0-36+1307474`.
    pub fn deb_version(&self) -> String {
        let (x, y, z) = self.base();
        match &self.kind {
            VersionKind::Stable => format!("{x}.{y}.{z}"),
            VersionKind::Prerelease => format!("{x}.{y}.{z}~{}", self.prerelease_fragment()),
            VersionKind::Development { commits, sha } => format!("{x}.{y}.{z}-{commits}+{sha}"),
        }
    }

    /// RPM `Version` tag: `0.39.0`, `0.45.0~rc1`, `0.45.0_36+1307474` (no `-` allowed).
    pub fn rpm_version(&self) -> String {
        let (x, y, z) = self.base();
        match &self.kind {
            VersionKind::Stable => format!("{x}.{y}.{z}"),
            VersionKind::Prerelease => format!("{x}.{y}.{z}~{}", self.prerelease_fragment()),
            VersionKind::Development { commits, sha } => format!("{x}.{y}.{z}_{commits}+{sha}"),
        }
    }

    /// RPM `Release` tag; always `1`, the version carries everything else.
    pub fn rpm_release(&self) -> &'static str {
        "1"
    }

    /// The version as one URL path segment: `+` becomes `%2B`.
    pub fn url_segment(&self) -> String {
        crate::web::url_segment(&self.semver.to_string())
    }

    /// The form used inside file names; the canonical string.
    pub fn file_name_part(&self) -> String {
        self.semver.to_string()
    }
}

fn is_commit_hash(s: &str) -> bool {
    (7..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn classify(v: &semver::Version) -> Option<VersionKind> {
    match (v.pre.is_empty(), v.build.is_empty()) {
        (true, true) => Some(VersionKind::Stable),
        (false, true) => Some(VersionKind::Prerelease),
        (false, false) => {
            let commits = v.pre.as_str().parse::<u64>().ok()?;
            let sha = v.build.as_str();
            is_commit_hash(sha).then(|| VersionKind::Development {
                commits,
                sha: sha.to_owned(),
            })
        }
        (true, false) => None,
    }
}

fn kind_rank(kind: &VersionKind) -> u8 {
    match kind {
        VersionKind::Prerelease => 0,
        VersionKind::Stable => 1,
        VersionKind::Development { .. } => 2,
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.base()
            .cmp(&other.base())
            .then_with(|| kind_rank(&self.kind).cmp(&kind_rank(&other.kind)))
            .then_with(|| match (&self.kind, &other.kind) {
                (VersionKind::Prerelease, VersionKind::Prerelease) => {
                    dpkg_fragment_cmp(&self.prerelease_fragment(), &other.prerelease_fragment())
                }
                (
                    VersionKind::Development {
                        commits: a,
                        sha: sa,
                    },
                    VersionKind::Development {
                        commits: b,
                        sha: sb,
                    },
                ) => a.cmp(b).then_with(|| sa.cmp(sb)),
                _ => Ordering::Equal,
            })
            // Keeps Ord consistent with Eq for prereleases that render alike (`rc-1`, `rc.1`).
            .then_with(|| self.semver.pre.as_str().cmp(other.semver.pre.as_str()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Version {
    type Error = VersionError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.semver, f)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Version::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_each_kind() {
        assert_eq!(v("0.39.0").kind(), &VersionKind::Stable);
        assert_eq!(v("0.45.0-rc1").kind(), &VersionKind::Prerelease);
        assert_eq!(
            v("0.45.0-36+1307474").kind(),
            &VersionKind::Development {
                commits: 36,
                sha: "1307474".into()
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_falco_version() {
        for bad in [
            "v0.39.0",
            "0.39",
            "0.39.0+abc",
            "0.45.0-rc1+zzzzzzz",
            "",
            "latest",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Version::development(0, 45, 0, 1, "XYZ").is_err());
    }

    #[test]
    fn tags_lose_one_leading_v() {
        assert_eq!(Version::from_tag("v0.39.0").unwrap(), v("0.39.0"));
        assert_eq!(Version::from_tag("0.39.0").unwrap(), v("0.39.0"));
        assert!(Version::from_tag("vv0.39.0").is_err());
    }

    #[test]
    fn renders_every_format() {
        let rc = v("0.45.0-rc-1");
        assert_eq!(rc.deb_version(), "0.45.0~rc.1");
        assert_eq!(rc.rpm_version(), "0.45.0~rc.1");
        assert_eq!(rc.file_name_part(), "0.45.0-rc-1");
        let stable = v("0.39.2");
        assert_eq!(stable.deb_version(), "0.39.2");
        assert_eq!(stable.rpm_version(), "0.39.2");
        assert_eq!(stable.url_segment(), "0.39.2");
    }
}
