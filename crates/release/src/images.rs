//! The images step: an image per arch from the release tarball, tagged for the channel, pushed
//! to the primary registry and its mirrors, joined in multi-arch indexes. Built by the engine
//! `FROM scratch`, or, with `images.runtime`, assembled from Debian packages in Falco's
//! variants, with SBOMs and cosign-format signatures ([`runtime`]).

pub(super) mod runtime;

use std::path::PathBuf;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{Arch, Release};
use falco_artifacts_images::{
    BuildContext, CredentialStore, Engine, ImageError, ImageName, ImageRef, ImageSpec,
    InvalidReference, OciLabels, PushOptions, RegistryAddr, RegistryClient, TagPolicy,
};
use serde::{Deserialize, Serialize};

use crate::PipelineError;

/// The `images:` section of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesConfig {
    /// Image name (default `falcosecurity/falco`).
    #[serde(default)]
    pub name: Option<String>,
    /// The primary registry (`registry.example.com`, `127.0.0.1:5000`).
    pub registry: String,
    /// Registries that get the same tags.
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// The engine (`unix:///run/docker.sock`); default: `DOCKER_HOST` or Docker's socket.
    #[serde(default)]
    pub engine: Option<String>,
    /// A credentials file (YAML, see `falco_artifacts::images::CredentialStore::with_file`).
    #[serde(default)]
    pub credentials: Option<PathBuf>,
    /// Docker's `config.json` whose `auths` to use.
    #[serde(default)]
    pub docker_config: Option<PathBuf>,
    /// Images assembled from Debian packages (no engine needed) instead of `FROM scratch`.
    #[serde(default)]
    pub runtime: Option<runtime::RuntimeImagesConfig>,
}

/// What the images step pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImagesReport {
    /// The channel's tags (`0.45.0`, `latest`, or `master`).
    pub tags: Vec<String>,
    /// Every reference pushed, with its digest (`reg/name:x86_64-0.45.0@sha256:…`).
    pub pushed: Vec<String>,
    /// Multi-arch indexes written (`reg/name:0.45.0`).
    pub indexes: Vec<String>,
    /// SBOM artifacts attached (`reg/name@sha256:…`), with `images.runtime`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sboms: Vec<String>,
    /// Signature tags written (`reg/name:sha256-….sig`), with a signing key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<String>,
}

pub(crate) fn image_error(what: &str, source: ImageError) -> PipelineError {
    PipelineError::Images {
        what: what.to_owned(),
        source: Box::new(source),
    }
}

impl ImagesConfig {
    fn credentials(&self) -> Result<CredentialStore, PipelineError> {
        let mut store = CredentialStore::new();
        if let Some(file) = &self.credentials {
            store = store
                .with_file(file)
                .map_err(|source| PipelineError::ImagesCredentials {
                    field: "credentials",
                    source,
                })?;
        }
        if let Some(file) = &self.docker_config {
            store = store.with_docker_config(file).map_err(|source| {
                PipelineError::ImagesCredentials {
                    field: "docker_config",
                    source,
                }
            })?;
        }
        Ok(store)
    }

    fn parse<T: std::str::FromStr<Err = InvalidReference>>(
        field: &'static str,
        value: &str,
    ) -> Result<T, PipelineError> {
        value
            .parse()
            .map_err(|source| PipelineError::ImagesSetting {
                field,
                value: value.to_owned(),
                source,
            })
    }
}

/// Builds, pushes and indexes the images of `release` from its tarballs (one per arch).
/// `progress` gets build output and push steps, line by line.
pub async fn publish_images(
    release: &Release,
    tarballs: &[(Arch, PathBuf)],
    config: &ImagesConfig,
    date: SourceDate,
    mut progress: impl FnMut(&str),
) -> Result<ImagesReport, PipelineError> {
    if tarballs.is_empty() {
        return Err(PipelineError::NoTarball);
    }
    let name: ImageName = ImagesConfig::parse(
        "name",
        config.name.as_deref().unwrap_or("falcosecurity/falco"),
    )?;
    let primary: RegistryAddr = ImagesConfig::parse("registry", &config.registry)?;
    let mut registries = vec![primary.clone()];
    for mirror in &config.mirrors {
        registries.push(ImagesConfig::parse("mirrors", mirror)?);
    }
    let credentials = config.credentials()?;
    if let Some(runtime) = &config.runtime {
        return runtime::publish(
            release,
            tarballs,
            &name,
            &registries,
            &credentials,
            runtime,
            date,
            &mut progress,
        )
        .await;
    }
    let engine = match &config.engine {
        Some(host) => Engine::connect(host).await,
        None => Engine::from_env().await,
    }
    .map_err(|e| image_error("connecting to the engine", e))?;

    let client = RegistryClient::new(primary.clone(), credentials.get(&primary).cloned())
        .map_err(|e| image_error("the registry client", e))?;
    let existing = client
        .list_tags(&name)
        .await
        .map_err(|e| image_error("listing the registry's tags", e))?;
    let tags = TagPolicy::default()
        .release_tags(&release.version, &existing)
        .map_err(|source| PipelineError::NoImageTag {
            version: release.version.to_string(),
            source,
        })?;
    let mut report = ImagesReport {
        tags: tags.names().into_iter().map(str::to_owned).collect(),
        ..ImagesReport::default()
    };

    let mut arches = Vec::new();
    for (arch, tarball) in tarballs {
        let spec = ImageSpec::builder(
            name.clone(),
            *arch,
            BuildContext::release_tarball(tarball),
            date,
        )
        .with_release(release)
        .with_oci_labels(&OciLabels::new(&release.version, date).with_licenses("Apache-2.0"))
        .with_entrypoint(["/usr/bin/falco"])
        .build()
        .map_err(|e| image_error("the image spec", e))?;
        let image = engine
            .build(&spec, &mut progress)
            .await
            .map_err(|e| image_error(&format!("building the {arch} image"), e))?;
        let targets: Vec<ImageRef> = registries
            .iter()
            .flat_map(|registry| {
                tags.for_arch(*arch)
                    .into_iter()
                    .map(|tag| ImageRef::new(registry.clone(), name.clone(), tag))
            })
            .collect();
        let pushed = engine
            .push(
                &image,
                &targets,
                &credentials,
                &PushOptions::default(),
                |_| {},
            )
            .await
            .map_err(|e| image_error(&format!("pushing the {arch} image"), e))?;
        for p in pushed {
            let line = match &p.digest {
                Some(digest) => format!("{}@{digest}", p.image),
                None => p.image.to_string(),
            };
            progress(&format!("pushed {line}"));
            report.pushed.push(line);
        }
        arches.push(*arch);
    }
    for registry in &registries {
        let client = RegistryClient::new(registry.clone(), credentials.get(registry).cloned())
            .map_err(|e| image_error("the registry client", e))?;
        for tag in tags.tags() {
            client
                .update_index(&name, tag, &arches)
                .await
                .map_err(|e| image_error(&format!("the index {name}:{tag}"), e))?;
            report.indexes.push(format!("{registry}/{name}:{tag}"));
        }
    }
    Ok(report)
}
