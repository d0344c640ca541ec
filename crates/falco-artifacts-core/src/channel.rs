//! Channels: where a release goes and under which rules.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

use crate::version::Version;

/// The kind of repository an artifact is published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RepoKind {
    /// APT repository of `.deb` packages.
    Deb,
    /// YUM/DNF repository of `.rpm` packages.
    Rpm,
    /// Plain directory of release tarballs.
    Bin,
}

impl RepoKind {
    /// Every repository kind, in a fixed order.
    pub const ALL: [RepoKind; 3] = [RepoKind::Deb, RepoKind::Rpm, RepoKind::Bin];

    /// The base name of this kind's repository: `deb`, `rpm`, `bin`.
    pub fn base_name(self) -> &'static str {
        match self {
            RepoKind::Deb => "deb",
            RepoKind::Rpm => "rpm",
            RepoKind::Bin => "bin",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RepoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_name())
    }
}

/// How many versions a repository keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Never prune.
    KeepAll,
    /// Keep the newest N versions of each package and architecture.
    KeepLast(NonZeroUsize),
}

/// Whether an existing file may be replaced by different bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Published files never change; different bytes under an existing name are refused.
    Immutable,
    /// Different bytes replace the published file.
    Replace,
}

/// Which versions a channel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// Stable `x.y.z` releases only.
    Stable,
    /// Development builds and prereleases.
    Development,
    /// Any version.
    Any,
}

impl Accepts {
    fn accepts(self, version: &Version) -> bool {
        match self {
            Accepts::Stable => version.is_stable(),
            Accepts::Development => !version.is_stable(),
            Accepts::Any => true,
        }
    }
}

/// A name that is not usable as a channel or repository name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a valid {what}: expected 1 to 64 characters of a-z, 0-9, '-', '_' or '.', not starting with '.'")]
pub struct InvalidName {
    /// What the name was for.
    pub what: &'static str,
    /// The name that was given.
    pub given: String,
}

fn check_name(what: &'static str, s: &str) -> Result<(), InvalidName> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(InvalidName {
            what,
            given: s.to_owned(),
        })
    }
}

/// The name of a channel: `stable`, `dev`, or a user's own (`nightly`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

impl FromStr for ChannelName {
    type Err = InvalidName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_name("channel name", s)?;
        Ok(ChannelName(s.to_owned()))
    }
}

impl TryFrom<&str> for ChannelName {
    type Error = InvalidName;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl AsRef<str> for ChannelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a release goes and under which rules.
///
/// Implementers must return the same answers for the lifetime of the value: publishers read
/// them once per operation and rely on them not changing midway.
pub trait Channel: Send + Sync + fmt::Debug {
    /// The channel's name.
    fn name(&self) -> &ChannelName;
    /// The repository (a directory under `packages/`) that holds `kind` artifacts.
    fn repository(&self, kind: RepoKind) -> &str;
    /// How many versions the `kind` repository keeps.
    fn retention(&self, kind: RepoKind) -> Retention;
    /// Whether published files may be replaced.
    fn overwrite(&self) -> Overwrite;
    /// Whether `version` may be published here.
    fn accepts(&self, version: &Version) -> bool;
}

/// A channel defined by values: the two standard ones or a user's own.
///
/// ```
/// use std::num::NonZeroUsize;
/// use falco_artifacts_core::{Channel, ChannelConfig, RepoKind, Retention};
///
/// let dev = ChannelConfig::development();
/// assert_eq!(dev.repository(RepoKind::Deb), "deb-dev");
/// assert_eq!(dev.retention(RepoKind::Bin), Retention::KeepLast(NonZeroUsize::new(10).unwrap()));
///
/// let nightly = ChannelConfig::builder("nightly".parse()?)
///     .with_retention(RepoKind::Deb, Retention::KeepLast(NonZeroUsize::new(5).unwrap()))
///     .build()?;
/// assert_eq!(nightly.repository(RepoKind::Rpm), "rpm-nightly");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    name: ChannelName,
    repositories: [String; 3],
    retention: [Retention; 3],
    overwrite: Overwrite,
    accepts: Accepts,
}

fn keep_last(n: usize) -> Retention {
    NonZeroUsize::new(n).map_or(Retention::KeepAll, Retention::KeepLast)
}

impl ChannelConfig {
    /// Stable releases: repositories `deb`, `rpm`, `bin`; keeps everything; immutable.
    pub fn stable() -> Self {
        ChannelConfig {
            name: ChannelName("stable".into()),
            repositories: ["deb".into(), "rpm".into(), "bin".into()],
            retention: [Retention::KeepAll; 3],
            overwrite: Overwrite::Immutable,
            accepts: Accepts::Stable,
        }
    }

    /// Development releases and prereleases: repositories `deb-dev`, `rpm-dev`, `bin-dev`;
    /// keeps the last 50 DEB and RPM versions and the last 10 tarball versions; replaceable.
    pub fn development() -> Self {
        ChannelConfig {
            name: ChannelName("dev".into()),
            repositories: ["deb-dev".into(), "rpm-dev".into(), "bin-dev".into()],
            retention: [keep_last(50), keep_last(50), keep_last(10)],
            overwrite: Overwrite::Replace,
            accepts: Accepts::Development,
        }
    }

    /// A user's own channel named `name`, with repositories `<kind>-<name>`, keeping all
    /// versions, immutable, accepting any version until told otherwise.
    pub fn builder(name: ChannelName) -> ChannelBuilder {
        let repositories = RepoKind::ALL.map(|k| format!("{}-{}", k.base_name(), name));
        ChannelBuilder {
            config: ChannelConfig {
                name,
                repositories,
                retention: [Retention::KeepAll; 3],
                overwrite: Overwrite::Immutable,
                accepts: Accepts::Any,
            },
        }
    }

    /// A builder starting from this channel's settings, to adjust one of the standard channels.
    pub fn to_builder(&self) -> ChannelBuilder {
        ChannelBuilder {
            config: self.clone(),
        }
    }
}

impl Channel for ChannelConfig {
    fn name(&self) -> &ChannelName {
        &self.name
    }

    fn repository(&self, kind: RepoKind) -> &str {
        &self.repositories[kind.index()]
    }

    fn retention(&self, kind: RepoKind) -> Retention {
        self.retention[kind.index()]
    }

    fn overwrite(&self) -> Overwrite {
        self.overwrite
    }

    fn accepts(&self, version: &Version) -> bool {
        self.accepts.accepts(version)
    }
}

/// Builds a [`ChannelConfig`]; names are checked in [`ChannelBuilder::build`].
#[derive(Debug, Clone)]
pub struct ChannelBuilder {
    config: ChannelConfig,
}

impl ChannelBuilder {
    /// Sets the repository name for `kind`.
    pub fn with_repository(mut self, kind: RepoKind, name: impl Into<String>) -> Self {
        self.config.repositories[kind.index()] = name.into();
        self
    }

    /// Sets the retention for `kind`.
    pub fn with_retention(mut self, kind: RepoKind, retention: Retention) -> Self {
        self.config.retention[kind.index()] = retention;
        self
    }

    /// Sets the overwrite policy.
    pub fn with_overwrite(mut self, overwrite: Overwrite) -> Self {
        self.config.overwrite = overwrite;
        self
    }

    /// Sets which versions the channel accepts.
    pub fn with_accepts(mut self, accepts: Accepts) -> Self {
        self.config.accepts = accepts;
        self
    }

    /// Checks the repository names and returns the channel.
    pub fn build(self) -> Result<ChannelConfig, InvalidName> {
        for name in &self.config.repositories {
            check_name("repository name", name)?;
        }
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_channels_follow_falco() {
        let stable = ChannelConfig::stable();
        let dev = ChannelConfig::development();
        for (kind, s, d) in [
            (RepoKind::Deb, "deb", "deb-dev"),
            (RepoKind::Rpm, "rpm", "rpm-dev"),
            (RepoKind::Bin, "bin", "bin-dev"),
        ] {
            assert_eq!(stable.repository(kind), s);
            assert_eq!(dev.repository(kind), d);
            assert_eq!(stable.retention(kind), Retention::KeepAll);
        }
        assert_eq!(dev.retention(RepoKind::Deb), keep_last(50));
        assert_eq!(dev.retention(RepoKind::Rpm), keep_last(50));
        assert_eq!(dev.retention(RepoKind::Bin), keep_last(10));
        assert_eq!(stable.overwrite(), Overwrite::Immutable);
        let stable_v: Version = "0.39.0".parse().unwrap();
        let dev_v: Version = "0.40.0-2+abcdef0".parse().unwrap();
        assert!(stable.accepts(&stable_v) && !stable.accepts(&dev_v));
        assert!(dev.accepts(&dev_v) && !dev.accepts(&stable_v));
    }

    #[test]
    fn development_retention_is_configurable() {
        let dev = ChannelConfig::development()
            .to_builder()
            .with_retention(RepoKind::Bin, keep_last(3))
            .build()
            .unwrap();
        assert_eq!(dev.retention(RepoKind::Bin), keep_last(3));
        assert_eq!(dev.repository(RepoKind::Bin), "bin-dev");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!("Nightly".parse::<ChannelName>().is_err());
        assert!("".parse::<ChannelName>().is_err());
        assert!("a/b".parse::<ChannelName>().is_err());
        let err = ChannelConfig::builder("nightly".parse().unwrap())
            .with_repository(RepoKind::Deb, "../deb")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("../deb"));
    }

    #[test]
    fn channel_is_object_safe() {
        let channels: Vec<Box<dyn Channel>> = vec![
            Box::new(ChannelConfig::stable()),
            Box::new(ChannelConfig::development()),
        ];
        assert_eq!(channels[1].name().as_ref(), "dev");
    }
}
