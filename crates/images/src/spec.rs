//! What to build: image name, arch, build context, build args and labels.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{Arch, Channel, Release, RepoKind, Version};

use crate::error::ImageError;
use crate::reference::ImageName;

/// Where the files of an image come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildContext {
    /// A user's directory and the Dockerfile inside it (e.g. `FROM debian:12-slim`); the whole
    /// directory is sent (`.dockerignore` is not applied).
    Dockerfile {
        /// The context directory.
        dir: PathBuf,
        /// The Dockerfile, relative to `dir`.
        dockerfile: PathBuf,
    },
    /// The release tarball (`falco-<version>-<arch>.tar.gz`), unpacked below its top
    /// directory and copied into a `FROM scratch` image: what works with no base image.
    ReleaseTarball {
        /// The tarball.
        path: PathBuf,
        /// `ENTRYPOINT` of the image (exec form), if any.
        entrypoint: Vec<String>,
    },
}

impl BuildContext {
    /// `dir` with `dir/Dockerfile`.
    pub fn dockerfile_dir(dir: impl Into<PathBuf>) -> Self {
        BuildContext::Dockerfile {
            dir: dir.into(),
            dockerfile: PathBuf::from("Dockerfile"),
        }
    }

    /// A `FROM scratch` image holding the release tarball's tree.
    pub fn release_tarball(path: impl Into<PathBuf>) -> Self {
        BuildContext::ReleaseTarball {
            path: path.into(),
            entrypoint: Vec::new(),
        }
    }
}

/// The `org.opencontainers.image.*` labels of a release image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciLabels {
    version: String,
    created: SourceDate,
    revision: Option<String>,
    source: Option<String>,
    licenses: Option<String>,
}

impl OciLabels {
    /// `version` (the full version, `+` included) and `created` (the source date, so that
    /// rebuilding gives the same labels).
    pub fn new(version: &Version, created: SourceDate) -> Self {
        OciLabels {
            version: version.to_string(),
            created,
            revision: None,
            source: None,
            licenses: None,
        }
    }

    /// The commit the image was built from.
    pub fn with_revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = Some(revision.into());
        self
    }

    /// The source repository URL.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// An SPDX license expression.
    pub fn with_licenses(mut self, licenses: impl Into<String>) -> Self {
        self.licenses = Some(licenses.into());
        self
    }

    /// The labels as `key → value`.
    ///
    /// ```
    /// use falco_artifacts_core::package::SourceDate;
    /// use falco_artifacts_images::OciLabels;
    ///
    /// let labels = OciLabels::new(&"0.45.0-36+1307474".parse()?, SourceDate::from_secs(1_700_000_000))
    ///     .with_licenses("Apache-2.0")
    ///     .to_map();
    /// assert_eq!(labels["org.opencontainers.image.version"], "0.45.0-36+1307474");
    /// assert_eq!(labels["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    /// assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let key = |k: &str| format!("org.opencontainers.image.{k}");
        let mut map = BTreeMap::new();
        map.insert(key("version"), self.version.clone());
        map.insert(key("created"), rfc3339(self.created));
        for (k, v) in [
            ("revision", &self.revision),
            ("source", &self.source),
            ("licenses", &self.licenses),
        ] {
            if let Some(v) = v {
                map.insert(key(k), v.clone());
            }
        }
        map
    }
}

pub(crate) fn rfc3339(date: SourceDate) -> String {
    let secs = i64::try_from(date.secs()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned())
}

/// One image to build: checked by [`ImageSpecBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub(crate) name: ImageName,
    pub(crate) arch: Arch,
    pub(crate) context: BuildContext,
    pub(crate) source_date: SourceDate,
    pub(crate) build_args: BTreeMap<String, String>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) use_cache: bool,
}

impl ImageSpec {
    /// Starts a spec: the image `name` for `arch`, from `context`. `source_date` stamps the
    /// context files (and so the layers) for reproducible builds.
    pub fn builder(
        name: ImageName,
        arch: Arch,
        context: BuildContext,
        source_date: SourceDate,
    ) -> ImageSpecBuilder {
        ImageSpecBuilder {
            spec: ImageSpec {
                name,
                arch,
                context,
                source_date,
                build_args: BTreeMap::new(),
                labels: BTreeMap::new(),
                use_cache: false,
            },
        }
    }

    /// The image name.
    pub fn name(&self) -> &ImageName {
        &self.name
    }

    /// The target architecture (`linux/<docker name>` is the build platform).
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The build context.
    pub fn context(&self) -> &BuildContext {
        &self.context
    }

    /// Build args, sorted by name.
    pub fn build_args(&self) -> &BTreeMap<String, String> {
        &self.build_args
    }

    /// Labels, sorted by key.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The source date.
    pub fn source_date(&self) -> SourceDate {
        self.source_date
    }

    /// Whether the engine's build cache may be used.
    pub fn use_cache(&self) -> bool {
        self.use_cache
    }
}

/// Builds an [`ImageSpec`]; everything is checked in [`ImageSpecBuilder::build`].
///
/// ```
/// use falco_artifacts_core::package::SourceDate;
/// use falco_artifacts_core::{Arch, ReleaseEvent, ReleasePolicy};
/// use falco_artifacts_images::{BuildContext, ImageSpec, OciLabels};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("falco-0.39.0-x86_64.tar.gz"), b"")?;
/// let release = ReleaseEvent::tag("0.39.0").resolve(&ReleasePolicy::default())?;
/// let date = SourceDate::from_secs(1_700_000_000);
/// let spec = ImageSpec::builder(
///     "falcosecurity/falco".parse()?,
///     Arch::X86_64,
///     BuildContext::release_tarball(dir.path().join("falco-0.39.0-x86_64.tar.gz")),
///     date,
/// )
/// .with_release(&release)
/// .with_oci_labels(&OciLabels::new(&release.version, date).with_revision("abc1234"))
/// .build()?;
/// assert_eq!(spec.build_args()["VERSION_BUCKET"], "bin");
/// assert_eq!(spec.build_args()["TARGETARCH"], "amd64");
/// assert_eq!(spec.labels()["org.opencontainers.image.revision"], "abc1234");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImageSpecBuilder {
    spec: ImageSpec,
}

impl ImageSpecBuilder {
    /// Adds (or replaces) a build arg.
    pub fn with_build_arg(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.build_args.insert(name.into(), value.into());
        self
    }

    /// Adds (or replaces) a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.labels.insert(key.into(), value.into());
        self
    }

    /// Adds the OCI labels.
    pub fn with_oci_labels(mut self, labels: &OciLabels) -> Self {
        self.spec.labels.extend(labels.to_map());
        self
    }

    /// Falco's build args for a release: `VERSION_BUCKET` (the channel's tarball repository,
    /// `bin` or `bin-dev`), `FALCO_VERSION` and `TARGETARCH` (`amd64`/`arm64`).
    pub fn with_release(self, release: &Release) -> Self {
        let arch = self.spec.arch;
        self.with_build_arg("VERSION_BUCKET", release.channel.repository(RepoKind::Bin))
            .with_build_arg("FALCO_VERSION", release.version.to_string())
            .with_build_arg("TARGETARCH", arch.docker_name())
    }

    /// The `ENTRYPOINT` of an image made from a release tarball (ignored for Dockerfiles,
    /// which say their own).
    pub fn with_entrypoint<I, S>(mut self, entrypoint: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let BuildContext::ReleaseTarball { entrypoint: e, .. } = &mut self.spec.context {
            *e = entrypoint.into_iter().map(Into::into).collect();
        }
        self
    }

    /// Lets the engine reuse cached build steps (off by default). dockerd's classic builder
    /// keys a `FROM scratch` step's cache without the platform, so with the cache on, an
    /// aarch64 build of the same files reuses the x86_64 image, config arch included; turn it
    /// on only for single-arch builds with slow `RUN` steps.
    pub fn with_cache(mut self, use_cache: bool) -> Self {
        self.spec.use_cache = use_cache;
        self
    }

    /// Checks names, keys and that the context's files exist.
    pub fn build(self) -> Result<ImageSpec, ImageError> {
        let spec = self.spec;
        let invalid = |problem: String| ImageError::InvalidSpec {
            image: spec.name.to_string(),
            problem,
        };
        for name in spec.build_args.keys() {
            let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(invalid(format!(
                    "build arg {name:?} is not a name of A-Z, a-z, 0-9 and '_' starting with a letter or '_'"
                )));
            }
        }
        for key in spec.labels.keys() {
            if key.is_empty() || key.contains(['=', '\n']) {
                return Err(invalid(format!(
                    "label key {key:?} is empty or holds '=' or a newline"
                )));
            }
        }
        match &spec.context {
            BuildContext::Dockerfile { dir, dockerfile } => {
                if !dir.is_dir() {
                    return Err(invalid(format!(
                        "context {} is not a directory",
                        dir.display()
                    )));
                }
                if !is_plain_relative(dockerfile) {
                    return Err(invalid(format!(
                        "Dockerfile path {} must be relative to the context, without `..`",
                        dockerfile.display()
                    )));
                }
                if !dir.join(dockerfile).is_file() {
                    return Err(invalid(format!(
                        "no Dockerfile at {}",
                        dir.join(dockerfile).display()
                    )));
                }
            }
            BuildContext::ReleaseTarball { path, .. } => {
                if !path.is_file() {
                    return Err(invalid(format!(
                        "release tarball {} is not a file",
                        path.display()
                    )));
                }
            }
        }
        Ok(spec)
    }
}

fn is_plain_relative(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && path.components().next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(context: BuildContext) -> ImageSpecBuilder {
        ImageSpec::builder(
            "falco".parse().unwrap(),
            Arch::Aarch64,
            context,
            SourceDate::from_secs(0),
        )
    }

    #[test]
    fn bad_specs_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let err = builder(BuildContext::dockerfile_dir(dir.path()))
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("no Dockerfile at"), "{err}");
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert!(builder(BuildContext::dockerfile_dir(dir.path()))
            .build()
            .is_ok());
        let err = builder(BuildContext::dockerfile_dir(dir.path()))
            .with_build_arg("1BAD", "x")
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"1BAD\""), "{err}");
        let escaping = BuildContext::Dockerfile {
            dir: dir.path().to_owned(),
            dockerfile: "../Dockerfile".into(),
        };
        assert!(builder(escaping).build().is_err());
        let err = builder(BuildContext::release_tarball(
            dir.path().join("none.tar.gz"),
        ))
        .build()
        .unwrap_err()
        .to_string();
        assert!(err.contains("none.tar.gz"), "{err}");
    }

    #[test]
    fn dev_releases_use_the_dev_bucket_and_keep_the_plus_in_the_label() {
        let version: Version = "0.45.0-36+1307474".parse().unwrap();
        let release = Release {
            version: version.clone(),
            channel: falco_artifacts_core::ChannelConfig::development(),
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let spec = builder(BuildContext::dockerfile_dir(dir.path()))
            .with_release(&release)
            .with_oci_labels(&OciLabels::new(&version, SourceDate::from_secs(0)))
            .build()
            .unwrap();
        assert_eq!(spec.build_args()["VERSION_BUCKET"], "bin-dev");
        assert_eq!(spec.build_args()["TARGETARCH"], "arm64");
        assert_eq!(spec.build_args()["FALCO_VERSION"], "0.45.0-36+1307474");
        assert_eq!(
            spec.labels()["org.opencontainers.image.created"],
            "1970-01-01T00:00:00Z"
        );
    }
}
