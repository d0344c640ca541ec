//! The `channels:` section: the built-in channels' adjustments and the user's own channels,
//! and the registry every subcommand looks a channel name up in.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use falco_artifacts_core::{Accepts, Channel, ChannelConfig, Overwrite, RepoKind, Retention};
use serde::Deserialize;

use super::PipelineConfig;
use crate::PipelineError;

/// The `channels:` section: adjustments of the two built-in channels and channels of the
/// user's own, keyed by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(try_from = "BTreeMap<String, ChannelOverride>")]
pub struct ChannelsConfig {
    /// The stable channel (`stable:`).
    pub stable: ChannelOverride,
    /// The development channel (`development:` or `dev:`).
    pub development: ChannelOverride,
    /// Every other key: a channel of its own, repositories `<kind>-<name>` unless set.
    pub custom: BTreeMap<String, ChannelOverride>,
}

impl TryFrom<BTreeMap<String, ChannelOverride>> for ChannelsConfig {
    type Error = &'static str;

    fn try_from(mut map: BTreeMap<String, ChannelOverride>) -> Result<Self, Self::Error> {
        let development = match (map.remove("development"), map.remove("dev")) {
            (Some(_), Some(_)) => {
                return Err("channels: `development` and `dev` are the same channel; give one")
            }
            (one, other) => one.or(other).unwrap_or_default(),
        };
        Ok(ChannelsConfig {
            stable: map.remove("stable").unwrap_or_default(),
            development,
            custom: map,
        })
    }
}

impl ChannelsConfig {
    /// The configuration of the channel called `name` (`dev` and `development` are one).
    pub fn get(&self, name: &str) -> Option<&ChannelOverride> {
        match name {
            "stable" => Some(&self.stable),
            "dev" | "development" => Some(&self.development),
            other => self.custom.get(other),
        }
    }

    /// Every channel's configuration.
    pub(crate) fn all_mut(&mut self) -> impl Iterator<Item = &mut ChannelOverride> {
        [&mut self.stable, &mut self.development]
            .into_iter()
            .chain(self.custom.values_mut())
    }
}

/// What a channel's configuration may set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelOverride {
    /// Versions kept per repository kind (`deb`, `rpm`, `bin`): a number or `all`.
    #[serde(default)]
    pub retention: BTreeMap<RepoKindName, Keep>,
    /// Repository names per kind (`deb: deb-nightly`).
    #[serde(default)]
    pub repositories: BTreeMap<RepoKindName, String>,
    /// `immutable` or `replace`.
    #[serde(default)]
    pub overwrite: Option<OverwriteName>,
    /// `stable`, `development` or `any`.
    #[serde(default)]
    pub accepts: Option<AcceptsName>,
    /// This channel's own signing key (dev and stable may differ); the top-level `signing`
    /// key when absent.
    #[serde(default)]
    pub signing: Option<super::SigningConfig>,
}

/// `immutable` or `replace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverwriteName {
    /// Different bytes under a published name are refused.
    Immutable,
    /// Different bytes replace the published file.
    Replace,
}

impl From<OverwriteName> for Overwrite {
    fn from(name: OverwriteName) -> Overwrite {
        match name {
            OverwriteName::Immutable => Overwrite::Immutable,
            OverwriteName::Replace => Overwrite::Replace,
        }
    }
}

/// `stable`, `development` or `any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcceptsName {
    /// Stable `x.y.z` only.
    Stable,
    /// Development builds and prereleases.
    Development,
    /// Any version.
    Any,
}

impl From<AcceptsName> for Accepts {
    fn from(name: AcceptsName) -> Accepts {
        match name {
            AcceptsName::Stable => Accepts::Stable,
            AcceptsName::Development => Accepts::Development,
            AcceptsName::Any => Accepts::Any,
        }
    }
}

/// `deb`, `rpm` or `bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoKindName {
    /// The APT repository.
    Deb,
    /// The YUM repository.
    Rpm,
    /// The tarball directory.
    Bin,
}

impl RepoKindName {
    /// The key as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoKindName::Deb => "deb",
            RepoKindName::Rpm => "rpm",
            RepoKindName::Bin => "bin",
        }
    }
}

impl From<RepoKindName> for RepoKind {
    fn from(kind: RepoKindName) -> RepoKind {
        match kind {
            RepoKindName::Deb => RepoKind::Deb,
            RepoKindName::Rpm => RepoKind::Rpm,
            RepoKindName::Bin => RepoKind::Bin,
        }
    }
}

/// A retention value: `all` or a positive number of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Keep {
    /// Keep the newest N.
    Last(NonZeroUsize),
    /// `all`.
    All(AllKeyword),
}

/// The word `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllKeyword {
    /// Keep everything.
    All,
}

impl From<Keep> for Retention {
    fn from(keep: Keep) -> Retention {
        match keep {
            Keep::Last(n) => Retention::KeepLast(n),
            Keep::All(_) => Retention::KeepAll,
        }
    }
}

/// Every channel a configuration knows: `stable`, `dev` (also called `development`) and the
/// configuration's own, each with the configuration's settings applied. Every subcommand
/// that takes a channel name looks it up here.
#[derive(Debug, Clone)]
pub struct ChannelRegistry {
    channels: Vec<ChannelConfig>,
}

impl ChannelRegistry {
    /// The channel called `name` (`development` is `dev`).
    pub fn get(&self, name: &str) -> Result<&ChannelConfig, PipelineError> {
        let name = if name == "development" { "dev" } else { name };
        self.channels
            .iter()
            .find(|c| c.name().as_ref() == name)
            .ok_or_else(|| PipelineError::UnknownChannel {
                name: name.to_owned(),
                known: self.names(),
            })
    }

    /// The names of every channel.
    pub fn names(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.name().to_string()).collect()
    }
}

impl ChannelOverride {
    fn is_empty(&self) -> bool {
        self.retention.is_empty()
            && self.repositories.is_empty()
            && self.overwrite.is_none()
            && self.accepts.is_none()
    }

    fn apply(&self, channel: ChannelConfig) -> Result<ChannelConfig, PipelineError> {
        if self.is_empty() {
            return Ok(channel);
        }
        let key = channel.name().to_string();
        let mut builder = channel.to_builder();
        for (kind, keep) in &self.retention {
            builder = builder.with_retention((*kind).into(), (*keep).into());
        }
        for (kind, name) in &self.repositories {
            builder = builder.with_repository((*kind).into(), name.clone());
        }
        if let Some(overwrite) = self.overwrite {
            builder = builder.with_overwrite(overwrite.into());
        }
        if let Some(accepts) = self.accepts {
            builder = builder.with_accepts(accepts.into());
        }
        builder
            .build()
            .map_err(|source| PipelineError::ChannelSetting {
                channel: key,
                source,
            })
    }
}

impl PipelineConfig {
    /// Refuses settings on the stable channel that would break its users, who pin versions:
    /// a retention that prunes it, or `overwrite: replace`.
    pub fn check_stable_retention(&self) -> Result<(), PipelineError> {
        let stable = &self.channels.stable;
        for (kind, keep) in &stable.retention {
            if let Keep::Last(n) = keep {
                return Err(PipelineError::StableRetention {
                    file: None,
                    field: format!("channels.stable.retention.{}", kind.as_str()),
                    keep: n.get(),
                });
            }
        }
        if stable.overwrite == Some(OverwriteName::Replace) {
            return Err(PipelineError::StableOverwrite { file: None });
        }
        Ok(())
    }

    /// `channel` with this file's settings for it applied (found by the channel's name).
    pub fn apply(&self, channel: ChannelConfig) -> Result<ChannelConfig, PipelineError> {
        self.check_stable_retention()?;
        let settings = match channel.name().as_ref() {
            "stable" => &self.channels.stable,
            "dev" => &self.channels.development,
            other => match self.channels.custom.get(other) {
                Some(settings) => settings,
                None => return Ok(channel),
            },
        };
        settings.apply(channel)
    }

    /// Every channel this file knows, its settings applied.
    pub fn channels(&self) -> Result<ChannelRegistry, PipelineError> {
        let mut channels = vec![
            self.apply(ChannelConfig::stable())?,
            self.apply(ChannelConfig::development())?,
        ];
        for name in self.channels.custom.keys() {
            let base = ChannelConfig::builder(name.parse().map_err(|source| {
                PipelineError::ChannelSetting {
                    channel: name.clone(),
                    source,
                }
            })?)
            .build()
            .map_err(|source| PipelineError::ChannelSetting {
                channel: name.clone(),
                source,
            })?;
            channels.push(self.apply(base)?);
        }
        Ok(ChannelRegistry { channels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Result<PipelineConfig, serde_yaml::Error> {
        serde_yaml::from_str(yaml)
    }

    #[test]
    fn a_channel_of_ones_own_gets_its_settings_and_default_repositories() {
        let config = config(
            "channels:\n  dev:\n    retention: { bin: 2 }\n  nightly:\n    accepts: development\n",
        )
        .unwrap();
        let channels = config.channels().unwrap();
        assert_eq!(channels.names(), ["stable", "dev", "nightly"]);
        let nightly = channels.get("nightly").unwrap();
        assert_eq!(nightly.repository(RepoKind::Bin), "bin-nightly");
        assert_eq!(nightly.overwrite(), Overwrite::Immutable);
        assert!(!nightly.accepts(&"0.45.0".parse().unwrap()));
        // `dev` and `development` are one channel.
        let dev = channels.get("development").unwrap();
        assert_eq!(
            dev.retention(RepoKind::Bin),
            Retention::KeepLast(NonZeroUsize::new(2).unwrap())
        );
    }

    #[test]
    fn bad_channels_are_refused_with_the_channel_named() {
        let both = config("channels:\n  dev: {}\n  development: {}\n").unwrap_err();
        assert!(both.to_string().contains("same channel"), "{both}");
        let err = config("channels:\n  Nightly: {}\n")
            .unwrap()
            .channels()
            .unwrap_err();
        assert!(
            matches!(&err, PipelineError::ChannelSetting { channel, .. } if channel == "Nightly"),
            "{err:?}"
        );
        let err = config("channels:\n  nightly:\n    repositories: { deb: ../deb }\n")
            .unwrap()
            .channels()
            .unwrap_err();
        assert!(
            matches!(&err, PipelineError::ChannelSetting { channel, .. } if channel == "nightly"),
            "{err:?}"
        );
        let err = config("channels:\n  stable:\n    overwrite: replace\n")
            .unwrap()
            .channels()
            .unwrap_err();
        assert!(
            matches!(err, PipelineError::StableOverwrite { .. }),
            "{err:?}"
        );
    }
}
