//! Driver versions: `master`, a git commit or a semver version such as `7.0.0+driver`.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::ident::{has_forbidden_char, string_newtype, InvalidIdentifier};

/// The version of Falco's kernel drivers a config is built for: the name of its directory
/// under `driverkit/config/`.
///
/// Three shapes exist: `master`, a git commit hash (7 to 40 lowercase hex digits; the oldest
/// configs, whose directories have no `<arch>/` level) and semver, usually with `+driver` build
/// metadata (`7.0.0+driver`). Versions order oldest first: commits, then semver by precedence,
/// then `master`.
///
/// ```
/// use falco_artifacts_driver_grid::{DriverVersion, DriverVersionKind};
///
/// let v: DriverVersion = "7.0.0+driver".parse()?;
/// assert_eq!(v.kind(), DriverVersionKind::Semver);
/// assert_eq!(v.url_segment(), "7.0.0%2Bdriver");
/// assert!("master".parse::<DriverVersion>()? > v);
/// # Ok::<(), falco_artifacts_driver_grid::InvalidIdentifier>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DriverVersion {
    text: String,
    semver: Option<semver::Version>,
}

/// Which of the three shapes a [`DriverVersion`] has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriverVersionKind {
    /// A git commit hash: the old, x86_64-only layout without `<arch>/` directories.
    GitCommit,
    /// A semver version such as `7.0.0+driver`.
    Semver,
    /// The `master` branch.
    Master,
}

impl DriverVersion {
    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its shape.
    pub fn kind(&self) -> DriverVersionKind {
        if self.semver.is_some() {
            DriverVersionKind::Semver
        } else if self.text == "master" {
            DriverVersionKind::Master
        } else {
            DriverVersionKind::GitCommit
        }
    }

    /// The semver version, when it is one.
    pub fn semver(&self) -> Option<&semver::Version> {
        self.semver.as_ref()
    }

    /// Whether the driver source of this version still has the legacy eBPF probe (`bpf/`):
    /// every commit and every semver version before 10.0.0 (Falco 0.44 dropped it; `master`
    /// follows the newest source, which has none). Configs of the others are module-only.
    ///
    /// ```
    /// use falco_artifacts_driver_grid::DriverVersion;
    ///
    /// assert!("9.1.0+driver".parse::<DriverVersion>()?.has_legacy_probe());
    /// assert!(!"10.2.0+driver".parse::<DriverVersion>()?.has_legacy_probe());
    /// # Ok::<(), falco_artifacts_driver_grid::InvalidIdentifier>(())
    /// ```
    pub fn has_legacy_probe(&self) -> bool {
        match (&self.semver, self.kind()) {
            (Some(version), _) => version.major < 10,
            (None, kind) => kind == DriverVersionKind::GitCommit,
        }
    }

    /// The version as a URL path segment: `+` is `%2B`, as the driver loader requests it.
    pub fn url_segment(&self) -> String {
        falco_artifacts_core::web::url_segment(&self.text)
    }
}

impl FromStr for DriverVersion {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "driver version";
        if s.is_empty() {
            return Err(InvalidIdentifier::new(WHAT, s, "it is empty"));
        }
        if has_forbidden_char(s) {
            return Err(InvalidIdentifier::new(
                WHAT,
                s,
                "it contains a slash, a space or a control character",
            ));
        }
        if s == "master" {
            return Ok(DriverVersion {
                text: s.to_owned(),
                semver: None,
            });
        }
        let is_commit = (7..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if is_commit {
            return Ok(DriverVersion {
                text: s.to_owned(),
                semver: None,
            });
        }
        match semver::Version::parse(s) {
            Ok(version) => Ok(DriverVersion {
                text: s.to_owned(),
                semver: Some(version),
            }),
            Err(_) => Err(InvalidIdentifier::new(
                WHAT,
                s,
                "expected `master`, a git commit (7 to 40 lowercase hex digits) or semver such as 7.0.0+driver",
            )),
        }
    }
}

string_newtype!(DriverVersion);

impl Ord for DriverVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.kind()
            .cmp(&other.kind())
            .then_with(|| match (&self.semver, &other.semver) {
                (Some(a), Some(b)) => a.cmp(b),
                _ => Ordering::Equal,
            })
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for DriverVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let sha: DriverVersion = "2aa88dcf6243982697811df4c1b484bcbe9488a2".parse().unwrap();
        assert_eq!(sha.kind(), DriverVersionKind::GitCommit);
        let semver: DriverVersion = "10.2.0+driver".parse().unwrap();
        assert_eq!(semver.kind(), DriverVersionKind::Semver);
        assert!(sha < semver);
        assert!("9.1.0+driver".parse::<DriverVersion>().unwrap() < semver);
        for bad in ["", "7.0", "dev", "7.0.0 driver", "../x", "ABCDEF1234"] {
            assert!(bad.parse::<DriverVersion>().is_err(), "{bad}");
        }
    }
}
