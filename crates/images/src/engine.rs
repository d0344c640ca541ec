//! The container engine: connecting through the Docker Engine API and building images.

use std::collections::HashMap;
use std::path::Path;

use bollard::query_parameters::{BuildImageOptions, BuilderVersion, TagImageOptions};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures::StreamExt;

use crate::context;
use crate::error::ImageError;
use crate::reference::ImageRef;
use crate::spec::{BuildContext, ImageSpec};

/// Seconds an API request may take; builds and pushes of large images take minutes.
const API_TIMEOUT_SECS: u64 = 3600;
/// The socket dockerd listens on when `DOCKER_HOST` is not set.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A connection to a Docker-compatible engine (dockerd, or podman's API service).
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    pub(crate) host: String,
}

/// An image the engine built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The engine's image ID, `sha256:<hex>` of the image config.
    pub id: String,
    /// The build's output lines.
    pub log: Vec<String>,
}

impl Engine {
    /// Connects to `host`: `unix:///path/docker.sock` (or a bare socket path), or
    /// `tcp://host:port` / `http://host:port` without TLS. Checks that the engine answers and
    /// agrees on an API version (older engines such as Debian's dockerd 20.10 speak 1.41).
    pub async fn connect(host: &str) -> Result<Self, ImageError> {
        let docker = if let Some(path) = host
            .strip_prefix("unix://")
            .or_else(|| host.starts_with('/').then_some(host))
        {
            if !Path::new(path).exists() {
                return Err(ImageError::EngineSocketMissing {
                    socket: path.into(),
                });
            }
            Docker::connect_with_unix(path, API_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(host, API_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else {
            return Err(ImageError::InvalidEngineHost {
                host: host.to_owned(),
            });
        };
        let unreachable = |source| ImageError::EngineUnreachable {
            host: host.to_owned(),
            source,
        };
        let docker = docker.map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(Engine {
            docker,
            host: host.to_owned(),
        })
    }

    /// Connects to `DOCKER_HOST`, or to `/var/run/docker.sock` when it is not set.
    pub async fn from_env() -> Result<Self, ImageError> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_owned());
        Self::connect(&host).await
    }

    /// The address connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying bollard client, for what this crate does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Builds `spec` for its arch (`--platform linux/<arch>`), streaming the context to the
    /// engine as a tar and each line of build output to `on_output` as it arrives.
    ///
    /// A failing build returns [`ImageError::BuildFailed`] with the engine's message and the
    /// build's log lines.
    ///
    /// ```no_run
    /// use falco_artifacts_core::{package::SourceDate, Arch};
    /// use falco_artifacts_images::{BuildContext, Engine, ImageSpec};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let engine = Engine::from_env().await?;
    /// let spec = ImageSpec::builder(
    ///     "falcosecurity/falco".parse()?,
    ///     Arch::X86_64,
    ///     BuildContext::release_tarball("falco-0.39.0-x86_64.tar.gz"),
    ///     SourceDate::from_env()?,
    /// )
    /// .build()?;
    /// let image = engine.build(&spec, |line| println!("{line}")).await?;
    /// println!("built {}", image.id);
    /// # Ok(()) }
    /// ```
    pub async fn build(
        &self,
        spec: &ImageSpec,
        mut on_output: impl FnMut(&str),
    ) -> Result<BuiltImage, ImageError> {
        let dockerfile = match spec.context() {
            BuildContext::Dockerfile { dockerfile, .. } => dockerfile.display().to_string(),
            BuildContext::ReleaseTarball { .. } => "Dockerfile".to_owned(),
        };
        let to_map = |m: &std::collections::BTreeMap<String, String>| -> HashMap<String, String> {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let options = BuildImageOptions {
            dockerfile,
            rm: true,
            forcerm: true,
            nocache: !spec.use_cache(),
            buildargs: Some(to_map(spec.build_args())),
            labels: Some(to_map(spec.labels())),
            platform: format!("linux/{}", spec.arch().docker_name()),
            version: BuilderVersion::BuilderV1,
            ..BuildImageOptions::default()
        };
        let (body, writer) = context::spawn(spec.context().clone(), spec.source_date());
        let mut events =
            self.docker
                .build_image(options, None, Some(bollard::body_try_stream(body)));
        let image = spec.name().to_string();
        let mut log = Vec::new();
        let mut partial = String::new();
        let mut id = None;
        let mut failure = None;
        let mut transport = None;
        while let Some(event) = events.next().await {
            match event {
                Ok(info) => {
                    if let Some(text) = info.stream.or(info.status) {
                        partial.push_str(&text);
                        while let Some(end) = partial.find('\n') {
                            let line: String = partial.drain(..=end).collect();
                            let line = line.trim_end().to_owned();
                            on_output(&line);
                            log.push(line);
                        }
                    }
                    if let Some(aux) = info.aux {
                        id = aux.id.or(id);
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    failure = Some(error);
                    break;
                }
                Err(source) => {
                    transport = Some(source);
                    break;
                }
            }
        }
        if !partial.trim().is_empty() {
            on_output(partial.trim_end());
            log.push(partial.trim_end().to_owned());
        }
        // Dropping the request stops the writer if the engine gave up before reading it all.
        drop(events);
        let written = writer.await.map_err(|_| ImageError::Interrupted {
            what: "writing the build context",
        })?;
        if let Some(message) = failure {
            return Err(ImageError::BuildFailed {
                image,
                message: message.trim().to_owned(),
                log,
            });
        }
        written?;
        if let Some(source) = transport {
            return Err(ImageError::Engine {
                action: format!("build {image}"),
                source,
            });
        }
        let id = id.ok_or_else(|| ImageError::BuildFailed {
            image,
            message: "the engine finished without reporting an image ID".to_owned(),
            log: log.clone(),
        })?;
        Ok(BuiltImage { id, log })
    }

    /// Tags a built image as `target` in the engine (no push).
    pub async fn tag(&self, image: &BuiltImage, target: &ImageRef) -> Result<(), ImageError> {
        let options = TagImageOptions {
            repo: Some(target.repository()),
            tag: Some(target.tag.to_string()),
        };
        self.docker
            .tag_image(&image.id, Some(options))
            .await
            .map_err(|source| ImageError::Engine {
                action: format!("tag {} as {target}", image.id),
                source,
            })
    }
}
