//! `images.runtime`: images assembled from Debian packages without an engine (the variants'
//! root filesystems, the release tarball as payload, the SBOM), pushed through the registry
//! API to the primary registry and its mirrors, SBOMs attached, manifests and indexes signed
//! in cosign's format.

use std::path::PathBuf;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{Arch, Release};
use falco_artifacts_images::{
    CosignSigner, CredentialStore, DebSource, ImageName, ImageVariant, OciLabels, RegistryAddr,
    RegistryClient, TagPolicy,
};
use serde::Deserialize;

use super::{image_error, ImagesReport};
use crate::PipelineError;

/// The `images.runtime:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeImagesConfig {
    /// A directory of `.deb` files (any arch: each image takes its own and `all`).
    pub debs: PathBuf,
    /// The variants: preset names (`falco`, `falco-driver-loader`) or full descriptions
    /// (`name`, `packages`, `extra_files`, `entrypoint`, `cmd`, `env`, `labels`). Default:
    /// `[falco]`.
    #[serde(default)]
    pub variants: Vec<VariantConfig>,
    /// The driver sources of the `falco-driver-loader` preset.
    #[serde(default)]
    pub driver_source: Option<PathBuf>,
    /// Their driver version (`8.0.0+driver`), which names `/usr/src/falco-<version>`.
    #[serde(default)]
    pub driver_version: Option<String>,
    /// A PKCS#8 PEM ECDSA P-256 key: every manifest and index is signed in cosign's format.
    #[serde(default)]
    pub signing_key: Option<PathBuf>,
    /// Where layers are written (default: a temporary directory).
    #[serde(default)]
    pub work_dir: Option<PathBuf>,
}

/// A variant in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum VariantConfig {
    /// `falco` or `falco-driver-loader`.
    Preset(String),
    /// A variant described in full.
    Custom(ImageVariant),
}

impl RuntimeImagesConfig {
    fn variants(&self) -> Result<Vec<ImageVariant>, PipelineError> {
        let presets = if self.variants.is_empty() {
            vec![VariantConfig::Preset("falco".to_owned())]
        } else {
            self.variants.clone()
        };
        presets
            .into_iter()
            .map(|v| match v {
                VariantConfig::Custom(variant) => Ok(variant),
                VariantConfig::Preset(name) if name == "falco" => Ok(ImageVariant::falco()),
                VariantConfig::Preset(name) if name == "falco-driver-loader" => {
                    match (&self.driver_source, &self.driver_version) {
                        (Some(source), Some(version)) => {
                            Ok(ImageVariant::falco_driver_loader(source, version))
                        }
                        _ => Err(PipelineError::DriverLoaderPreset),
                    }
                }
                VariantConfig::Preset(name) => Err(PipelineError::UnknownPreset { name }),
            })
            .collect()
    }
}

/// The repository of `variant`: `name` itself for `falco`, else `name`'s namespace plus the
/// variant's name (`falcosecurity/falco-driver-loader`).
fn repository(name: &ImageName, variant: &ImageVariant) -> Result<ImageName, PipelineError> {
    if variant.name == "falco" {
        return Ok(name.clone());
    }
    let text = name.to_string();
    let repo = match text.rsplit_once('/') {
        Some((namespace, _)) => format!("{namespace}/{}", variant.name),
        None => variant.name.clone(),
    };
    repo.parse().map_err(|source| PipelineError::ImagesSetting {
        field: "runtime.variants",
        value: variant.name.clone(),
        source,
    })
}

/// Assembles, pushes, attaches and signs every variant for every arch of `tarballs`.
#[allow(
    clippy::too_many_arguments,
    reason = "the step's inputs, each used once"
)]
pub(crate) async fn publish(
    release: &Release,
    tarballs: &[(Arch, PathBuf)],
    name: &ImageName,
    registries: &[RegistryAddr],
    credentials: &CredentialStore,
    config: &RuntimeImagesConfig,
    date: SourceDate,
    progress: &mut impl FnMut(&str),
) -> Result<ImagesReport, PipelineError> {
    let signer = match &config.signing_key {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
                path: path.clone(),
                source,
            })?;
            Some(
                CosignSigner::from_pkcs8_pem(&pem).map_err(|source| PipelineError::CosignKey {
                    path: path.clone(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let variants = config.variants()?;
    let scratch = tempfile::tempdir().map_err(|source| PipelineError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let work_root = config
        .work_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_owned());
    let debs = DebSource::dir(&config.debs);
    let clients = registries
        .iter()
        .map(|r| RegistryClient::new(r.clone(), credentials.get(r).cloned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| image_error("the registry client", e))?;
    let mut report = ImagesReport::default();
    for variant in &variants {
        let repo = repository(name, variant)?;
        let existing = clients[0]
            .list_tags(&repo)
            .await
            .map_err(|e| image_error("listing the registry's tags", e))?;
        let tags = TagPolicy::default()
            .release_tags(&release.version, &existing)
            .map_err(|source| PipelineError::NoImageTag {
                version: release.version.to_string(),
                source,
            })?;
        for tag in tags.names() {
            if !report.tags.iter().any(|t| t == tag) {
                report.tags.push(tag.to_owned());
            }
        }
        let mut arches = Vec::new();
        for (arch, tarball) in tarballs {
            progress(&format!("assembling the {} image for {arch}", variant.name));
            let labelled = variant
                .clone()
                .with_label("org.opencontainers.image.title", &variant.name);
            let mut labelled = labelled;
            labelled.labels.extend(
                OciLabels::new(&release.version, date)
                    .with_licenses("Apache-2.0")
                    .to_map(),
            );
            let work = work_root.join(format!("{}-{arch}", variant.name));
            let built = labelled
                .assemble(&debs, *arch, tarball, &release.version, &work, date)
                .map_err(|e| {
                    image_error(&format!("assembling the {} {arch} image", variant.name), e)
                })?;
            for client in &clients {
                let pushed = client
                    .push_image(&repo, &built.image, &tags.for_arch(*arch))
                    .await
                    .map_err(|e| {
                        image_error(&format!("pushing the {} {arch} image", variant.name), e)
                    })?;
                for tag in &pushed.tags {
                    let line = format!("{}/{repo}:{tag}@{}", client.registry(), pushed.digest);
                    progress(&format!("pushed {line}"));
                    report.pushed.push(line);
                }
                let sbom = client
                    .attach_sbom(&repo, &built.image, &built.sbom)
                    .await
                    .map_err(|e| image_error("attaching the SBOM", e))?;
                report
                    .sboms
                    .push(format!("{}/{repo}@{}", client.registry(), sbom.digest));
                if let Some(signer) = &signer {
                    let signed = client
                        .sign(&repo, &built.image.digest, signer)
                        .await
                        .map_err(|e| image_error("signing the image", e))?;
                    report
                        .signatures
                        .push(format!("{}/{repo}:{}", client.registry(), signed.tag));
                }
            }
            let _ = std::fs::remove_dir_all(&work);
            arches.push(*arch);
        }
        for client in &clients {
            for tag in tags.tags() {
                let index = client
                    .update_index(&repo, tag, &arches)
                    .await
                    .map_err(|e| image_error(&format!("the index {repo}:{tag}"), e))?;
                report
                    .indexes
                    .push(format!("{}/{repo}:{tag}", client.registry()));
                if let Some(signer) = &signer {
                    let signed = client
                        .sign(&repo, &index.digest, signer)
                        .await
                        .map_err(|e| image_error("signing the index", e))?;
                    report
                        .signatures
                        .push(format!("{}/{repo}:{}", client.registry(), signed.tag));
                }
            }
        }
    }
    Ok(report)
}
