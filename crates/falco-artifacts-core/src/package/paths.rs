//! Install paths: absolute, normalized, and symlink targets that stay inside the root.

use std::fmt;
use std::str::FromStr;

/// An absolute, normalized install path such as `/usr/bin/falco`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstallPath(String);

/// A path that is not a valid install path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not an install path: {why}")]
pub struct InvalidInstallPath {
    /// The path given.
    pub given: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl FromStr for InstallPath {
    type Err = InvalidInstallPath;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| {
            Err(InvalidInstallPath {
                given: s.to_owned(),
                why,
            })
        };
        if !s.starts_with('/') {
            return bad("expected an absolute path starting with '/'");
        }
        if s == "/" {
            return bad("the root directory itself cannot be installed");
        }
        if s.ends_with('/') {
            return bad("expected no trailing '/'");
        }
        if s.chars().any(|c| c.is_control()) {
            return bad("control characters (newlines, NUL) are not allowed");
        }
        for part in s[1..].split('/') {
            match part {
                "" => return bad("expected no empty component ('//')"),
                "." | ".." => return bad("expected no '.' or '..' components"),
                _ => {}
            }
        }
        Ok(InstallPath(s.to_owned()))
    }
}

impl InstallPath {
    /// The path without its leading `/` (`usr/bin/falco`), as archives store it.
    pub fn relative(&self) -> &str {
        &self.0[1..]
    }

    /// The parent directories, outermost first (`/usr`, `/usr/bin` for `/usr/bin/falco`).
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        self.0
            .match_indices('/')
            .skip(1)
            .map(move |(i, _)| &self.0[..i])
    }

    /// Whether a symlink installed here pointing to `target` stays inside the install root.
    /// Absolute targets are resolved against the root, so they always stay inside; relative
    /// ones must not climb above it.
    pub fn link_stays_inside(&self, target: &str) -> bool {
        target.starts_with('/')
            || relative_target_stays_inside(self.0.matches('/').count() - 1, target)
    }
}

/// Whether the relative link target `target`, followed from a directory `depth` levels below
/// a root, stays inside that root: each `..` climbs one level and may never climb above it.
/// The one rule every packager's extractor and the manifest checks share.
///
/// ```
/// use falco_artifacts_core::package::relative_target_stays_inside;
///
/// assert!(relative_target_stays_inside(2, "../x"));
/// assert!(!relative_target_stays_inside(1, "../../etc/passwd"));
/// ```
pub fn relative_target_stays_inside(mut depth: usize, target: &str) -> bool {
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => depth += 1,
        }
    }
    true
}

impl AsRef<str> for InstallPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstallPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_paths_only() {
        assert!("/usr/bin/falco".parse::<InstallPath>().is_ok());
        for bad in [
            "usr/bin",
            "/",
            "/usr/../etc",
            "/usr//bin",
            "/usr/bin/",
            "/a/./b",
            "/a\nb",
        ] {
            assert!(bad.parse::<InstallPath>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn symlink_escape() {
        let p: InstallPath = "/usr/bin/falco-link".parse().unwrap();
        assert!(p.link_stays_inside("falco"));
        assert!(p.link_stays_inside("../../etc/falco"));
        assert!(!p.link_stays_inside("../../../etc/passwd"));
        assert!(p.link_stays_inside("/etc/falco/falco.yaml"));
    }

    #[test]
    fn ancestors_outermost_first() {
        let p: InstallPath = "/usr/bin/falco".parse().unwrap();
        assert_eq!(p.ancestors().collect::<Vec<_>>(), ["/usr", "/usr/bin"]);
        assert_eq!(p.relative(), "usr/bin/falco");
    }
}
