//! Release events (a merge or a tag) and what they release: a version into a channel.

use crate::channel::{Channel, ChannelConfig};
use crate::version::{Version, VersionError};

/// What triggered a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseEvent {
    /// A git tag was pushed.
    Tag {
        /// The tag name, e.g. `0.39.0`, `v0.39.0` or `0.45.0-rc1`.
        name: String,
    },
    /// A pull request was merged into `branch`; `version` was computed from git
    /// (see [`version_from_git`](crate::version_from_git)).
    Merge {
        /// The branch merged into.
        branch: String,
        /// The version of the merge commit.
        version: Version,
    },
}

/// The rules that turn an event into a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasePolicy {
    main_branch: String,
}

impl Default for ReleasePolicy {
    /// Falco's rules: merges into `master` make development releases.
    fn default() -> Self {
        ReleasePolicy {
            main_branch: "master".into(),
        }
    }
}

impl ReleasePolicy {
    /// A policy whose development releases come from merges into `main_branch`.
    pub fn new(main_branch: impl Into<String>) -> Self {
        ReleasePolicy {
            main_branch: main_branch.into(),
        }
    }

    /// The branch whose merges make development releases.
    pub fn main_branch(&self) -> &str {
        &self.main_branch
    }
}

/// A version and the channel it is published to.
#[derive(Debug, Clone)]
pub struct Release {
    /// The version released.
    pub version: Version,
    /// Where it goes.
    pub channel: ChannelConfig,
}

/// An event that must not publish anything.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseEventError {
    /// The tag is not a semver version.
    #[error("tag {tag:?} is not a release tag: nothing is published")]
    TagNotSemver {
        /// The tag.
        tag: String,
        /// Why it is not a version.
        #[source]
        source: VersionError,
    },
    /// The tag names a development build, which is computed, never tagged.
    #[error("tag {tag:?} looks like a development build; tag stable (x.y.z) or prerelease (x.y.z-rc1) versions only")]
    TagIsDevelopmentBuild {
        /// The tag.
        tag: String,
    },
    /// A merge into a branch that does not release.
    #[error("a merge into {branch:?} does not release: only merges into {main_branch:?} make development releases")]
    NotMainBranch {
        /// The branch merged into.
        branch: String,
        /// The branch that releases.
        main_branch: String,
    },
    /// The channel picked for the event refuses its version.
    #[error("the {channel} channel does not accept version {version} (a merge of a tagged commit is released by its tag)")]
    NotAccepted {
        /// The channel.
        channel: String,
        /// The version.
        version: Version,
    },
}

impl ReleaseEvent {
    /// A tag event.
    pub fn tag(name: impl Into<String>) -> Self {
        ReleaseEvent::Tag { name: name.into() }
    }

    /// Decides the version and channel of this event.
    ///
    /// ```
    /// use falco_artifacts_core::{Channel, ReleaseEvent, ReleasePolicy};
    ///
    /// let release = ReleaseEvent::tag("v0.39.0").resolve(&ReleasePolicy::default())?;
    /// assert_eq!(release.version.to_string(), "0.39.0");
    /// assert_eq!(release.channel.name().as_ref(), "stable");
    ///
    /// let rc = ReleaseEvent::tag("0.45.0-rc1").resolve(&ReleasePolicy::default())?;
    /// assert_eq!(rc.channel.name().as_ref(), "dev");
    ///
    /// assert!(ReleaseEvent::tag("nightly").resolve(&ReleasePolicy::default()).is_err());
    /// # Ok::<(), falco_artifacts_core::ReleaseEventError>(())
    /// ```
    pub fn resolve(&self, policy: &ReleasePolicy) -> Result<Release, ReleaseEventError> {
        let (version, channel) = match self {
            ReleaseEvent::Tag { name } => {
                let version =
                    Version::from_tag(name).map_err(|source| ReleaseEventError::TagNotSemver {
                        tag: name.clone(),
                        source,
                    })?;
                if version.is_development() {
                    return Err(ReleaseEventError::TagIsDevelopmentBuild { tag: name.clone() });
                }
                let channel = if version.is_stable() {
                    ChannelConfig::stable()
                } else {
                    ChannelConfig::development()
                };
                (version, channel)
            }
            ReleaseEvent::Merge { branch, version } => {
                if branch != &policy.main_branch {
                    return Err(ReleaseEventError::NotMainBranch {
                        branch: branch.clone(),
                        main_branch: policy.main_branch.clone(),
                    });
                }
                (version.clone(), ChannelConfig::development())
            }
        };
        if !channel.accepts(&version) {
            return Err(ReleaseEventError::NotAccepted {
                channel: channel.name().to_string(),
                version,
            });
        }
        Ok(Release { version, channel })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(event: ReleaseEvent) -> Result<Release, ReleaseEventError> {
        event.resolve(&ReleasePolicy::default())
    }

    #[test]
    fn stable_tag_goes_to_stable() {
        let r = resolve(ReleaseEvent::tag("0.39.0")).unwrap();
        assert_eq!(r.channel.name().as_ref(), "stable");
        assert_eq!(r.channel.repository(crate::RepoKind::Deb), "deb");
    }

    #[test]
    fn prerelease_tag_goes_to_dev() {
        let r = resolve(ReleaseEvent::tag("v0.45.0-rc1")).unwrap();
        assert_eq!(r.channel.name().as_ref(), "dev");
        assert_eq!(r.channel.repository(crate::RepoKind::Rpm), "rpm-dev");
    }

    #[test]
    fn merge_to_master_goes_to_dev() {
        let version: Version = "0.45.0-36+1307474".parse().unwrap();
        let r = resolve(ReleaseEvent::Merge {
            branch: "master".into(),
            version: version.clone(),
        })
        .unwrap();
        assert_eq!(r.version, version);
        assert_eq!(r.channel.repository(crate::RepoKind::Bin), "bin-dev");
    }

    #[test]
    fn refuses_what_must_not_publish() {
        let err = resolve(ReleaseEvent::tag("release-candidate")).unwrap_err();
        assert!(err.to_string().contains("release-candidate"), "{err}");
        assert!(matches!(
            resolve(ReleaseEvent::tag("0.45.0-3+abcdef0")),
            Err(ReleaseEventError::TagIsDevelopmentBuild { .. })
        ));
        let version: Version = "0.45.0-36+1307474".parse().unwrap();
        assert!(matches!(
            resolve(ReleaseEvent::Merge {
                branch: "feature/x".into(),
                version
            }),
            Err(ReleaseEventError::NotMainBranch { .. })
        ));
        assert!(matches!(
            resolve(ReleaseEvent::Merge {
                branch: "master".into(),
                version: "0.39.0".parse().unwrap()
            }),
            Err(ReleaseEventError::NotAccepted { .. })
        ));
    }
}
