//! Which tags a release gets: the channel's rules as a pure function.

use falco_artifacts_core::{Arch, Version, VersionKind};

use crate::reference::{InvalidReference, Tag};

/// The tagging rules of a release channel.
///
/// - a development build gets the moving development tag (`master`); its version, which holds
///   a `+`, lives in the `org.opencontainers.image.version` label only;
/// - a prerelease (`0.45.0-rc1`) gets its version as tag, never `latest`;
/// - a stable release gets `x.y.z`, plus `latest` when no stable version among the registry's
///   existing tags is newer.
///
/// ```
/// use falco_artifacts_images::{Tag, TagPolicy};
/// use falco_artifacts_core::{Arch, Version};
///
/// let existing: Vec<Tag> = ["0.38.2", "latest", "master"].iter().map(|t| t.parse().unwrap()).collect();
/// let tags = TagPolicy::default().release_tags(&"0.39.0".parse::<Version>()?, &existing)?;
/// assert_eq!(tags.names(), ["0.39.0", "latest"]);
/// assert_eq!(tags.for_arch(Arch::Aarch64)[0].as_ref(), "aarch64-0.39.0");
///
/// let dev = TagPolicy::default().release_tags(&"0.40.0-12+abcdef1".parse::<Version>()?, &existing)?;
/// assert_eq!(dev.names(), ["master"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPolicy {
    development: Tag,
    latest: Tag,
}

impl Default for TagPolicy {
    /// Falco's rules: development builds are `master`, the newest stable is `latest`.
    fn default() -> Self {
        TagPolicy {
            development: Tag("master".to_owned()),
            latest: Tag("latest".to_owned()),
        }
    }
}

/// The tags of one release, before the per-arch prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTags {
    tags: Vec<Tag>,
}

impl ReleaseTags {
    /// The multi-arch tags (what the index is pushed under), in a fixed order.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    /// The tags as strings.
    pub fn names(&self) -> Vec<&str> {
        self.tags.iter().map(AsRef::as_ref).collect()
    }

    /// The per-arch tags `<arch>-<tag>` (`x86_64-0.39.0`), the single-arch images the index joins.
    pub fn for_arch(&self, arch: Arch) -> Vec<Tag> {
        self.tags.iter().map(|tag| arch_tag(arch, tag)).collect()
    }
}

/// `<arch>-<tag>`, e.g. `aarch64-master`. Always a valid tag: the arch names are valid tag
/// characters and tags are at most 128 characters, so only the length can grow past the limit,
/// which the caller's tags of Falco versions never reach; an over-long result is cut to 128.
pub fn arch_tag(arch: Arch, tag: &Tag) -> Tag {
    let mut text = format!("{}-{}", arch.file_name(), tag);
    text.truncate(128);
    Tag(text)
}

impl TagPolicy {
    /// A policy with another development tag (e.g. `main`).
    pub fn with_development_tag(mut self, tag: Tag) -> Self {
        self.development = tag;
        self
    }

    /// The tags `version` gets, given the tags the registry already holds for the image.
    ///
    /// Fails only if the version cannot be written as a tag, which a Falco [`Version`] that is
    /// not a development build always can.
    pub fn release_tags(
        &self,
        version: &Version,
        existing: &[Tag],
    ) -> Result<ReleaseTags, InvalidReference> {
        let tags = match version.kind() {
            VersionKind::Development { .. } => vec![self.development.clone()],
            VersionKind::Prerelease => vec![version.to_string().parse()?],
            VersionKind::Stable => {
                let mut tags = vec![version.to_string().parse()?];
                if is_newest_stable(version, existing) {
                    tags.push(self.latest.clone());
                }
                tags
            }
        };
        Ok(ReleaseTags { tags })
    }
}

/// No existing tag is a stable version newer than `version`. Per-arch and other tags are not
/// versions and are ignored.
fn is_newest_stable(version: &Version, existing: &[Tag]) -> bool {
    existing
        .iter()
        .filter_map(|tag| tag.as_ref().parse::<Version>().ok())
        .filter(Version::is_stable)
        .all(|other| &other <= version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<Tag> {
        list.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn names(version: &str, existing: &[&str]) -> Vec<String> {
        let v: Version = version.parse().unwrap();
        TagPolicy::default()
            .release_tags(&v, &tags(existing))
            .unwrap()
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn development_builds_are_master_and_never_carry_a_plus() {
        assert_eq!(names("0.45.0-36+1307474", &["0.44.0"]), ["master"]);
        assert_eq!(names("0.45.0-36+1307474", &[]), ["master"]);
        let custom = TagPolicy::default().with_development_tag("main".parse().unwrap());
        let v: Version = "0.45.0-1+abcdef0".parse().unwrap();
        assert_eq!(custom.release_tags(&v, &[]).unwrap().names(), ["main"]);
    }

    #[test]
    fn the_newest_stable_is_latest() {
        assert_eq!(names("0.39.0", &[]), ["0.39.0", "latest"]);
        assert_eq!(
            names("0.39.0", &["0.38.2", "latest", "master"]),
            ["0.39.0", "latest"]
        );
        // Re-publishing the newest keeps `latest`.
        assert_eq!(names("0.39.0", &["0.39.0", "0.38.2"]), ["0.39.0", "latest"]);
        // A newer prerelease or development tag does not take `latest` away.
        assert_eq!(
            names("0.39.0", &["0.40.0-rc1", "master"]),
            ["0.39.0", "latest"]
        );
    }

    #[test]
    fn a_backport_is_not_latest() {
        assert_eq!(names("0.38.3", &["0.39.0", "0.38.2"]), ["0.38.3"]);
        // Versions compare numerically, not as strings.
        assert_eq!(names("0.9.0", &["0.10.0"]), ["0.9.0"]);
        assert_eq!(names("0.10.0", &["0.9.0"]), ["0.10.0", "latest"]);
    }

    #[test]
    fn prereleases_get_their_version_and_never_latest() {
        assert_eq!(names("0.45.0-rc1", &[]), ["0.45.0-rc1"]);
        assert_eq!(names("0.45.0-rc1", &["0.44.0"]), ["0.45.0-rc1"]);
    }

    #[test]
    fn per_arch_tags_prefix_the_file_name_arch() {
        let v: Version = "0.39.0".parse().unwrap();
        let release = TagPolicy::default().release_tags(&v, &[]).unwrap();
        let x86: Vec<String> = release
            .for_arch(Arch::X86_64)
            .iter()
            .map(Tag::to_string)
            .collect();
        assert_eq!(x86, ["x86_64-0.39.0", "x86_64-latest"]);
        let arm = arch_tag(Arch::Aarch64, &"master".parse().unwrap());
        assert_eq!(arm.as_ref(), "aarch64-master");
        // Per-arch tags are not versions, so they never count as newer stables.
        assert_eq!(names("0.39.0", &["x86_64-0.40.0"]), ["0.39.0", "latest"]);
    }
}
