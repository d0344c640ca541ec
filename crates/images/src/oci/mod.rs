//! OCI images written by this crate (no engine, no base image): an image config and a manifest
//! over layers made by [`crate::layer`], in a fixed JSON field order, so that the same layers
//! and settings always give the same manifest digest.

mod push;

use std::collections::BTreeMap;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::Arch;
use serde::Serialize;

pub use push::PushedImage;

use crate::layer::{Layer, LAYER_MEDIA_TYPE};
use crate::registry::digest_of;
use crate::registry::media::OCI_MANIFEST;

/// Media type of an OCI image config.
pub(crate) const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// An image ready to push: its layers on disk, its config and manifest bytes.
#[derive(Debug, Clone)]
pub struct OciImage {
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
    /// The image config bytes.
    pub config: Vec<u8>,
    /// `sha256:<hex>` of the config (the image ID engines show).
    pub config_digest: String,
    /// The manifest bytes (`application/vnd.oci.image.manifest.v1+json`).
    pub manifest: Vec<u8>,
    /// `sha256:<hex>` of the manifest: what the registry stores it under and what is signed.
    pub digest: String,
    /// The arch.
    pub arch: Arch,
}

/// Builds an [`OciImage`].
#[derive(Debug, Clone)]
pub struct OciImageBuilder {
    arch: Arch,
    created: SourceDate,
    layers: Vec<(Layer, String)>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    labels: BTreeMap<String, String>,
    working_dir: Option<String>,
}

impl OciImage {
    /// An image for `arch` created at `created` (the source date, so rebuilding gives the
    /// same config).
    pub fn builder(arch: Arch, created: SourceDate) -> OciImageBuilder {
        OciImageBuilder {
            arch,
            created,
            layers: Vec::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: Vec::new(),
            labels: BTreeMap::new(),
            working_dir: None,
        }
    }
}

impl OciImageBuilder {
    /// Adds a layer on top, with the history line that says what it holds.
    pub fn with_layer(mut self, layer: Layer, created_by: impl Into<String>) -> Self {
        self.layers.push((layer, created_by.into()));
        self
    }

    /// `ENTRYPOINT` (exec form).
    pub fn with_entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(mut self, argv: I) -> Self {
        self.entrypoint = argv.into_iter().map(Into::into).collect();
        self
    }

    /// `CMD` (exec form): default arguments to the entrypoint.
    pub fn with_cmd<I: IntoIterator<Item = S>, S: Into<String>>(mut self, argv: I) -> Self {
        self.cmd = argv.into_iter().map(Into::into).collect();
        self
    }

    /// An environment variable.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(format!("{}={}", name.into(), value.into()));
        self
    }

    /// Labels (merged; later values win).
    pub fn with_labels(mut self, labels: &BTreeMap<String, String>) -> Self {
        self.labels
            .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// The working directory.
    pub fn with_working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Renders the config and the manifest.
    pub fn build(self) -> OciImage {
        let created = crate::spec::rfc3339(self.created);
        let mut env = self.env;
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        let config = ImageConfig {
            created: created.clone(),
            architecture: self.arch.docker_name(),
            os: "linux",
            config: RuntimeConfig {
                env,
                entrypoint: non_empty(self.entrypoint),
                cmd: non_empty(self.cmd),
                working_dir: self.working_dir,
                labels: (!self.labels.is_empty()).then_some(self.labels),
            },
            rootfs: RootFs {
                kind: "layers",
                diff_ids: self.layers.iter().map(|(l, _)| l.diff_id.clone()).collect(),
            },
            history: self
                .layers
                .iter()
                .map(|(_, created_by)| History {
                    created: created.clone(),
                    created_by: created_by.clone(),
                })
                .collect(),
        };
        // Plain strings, maps and vectors: serializing cannot fail.
        let config = serde_json::to_vec(&config).unwrap_or_default();
        let config_digest = digest_of(&config);
        let manifest = Manifest {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            config: Descriptor {
                media_type: CONFIG_MEDIA_TYPE,
                digest: config_digest.clone(),
                size: config.len() as u64,
            },
            layers: self
                .layers
                .iter()
                .map(|(l, _)| Descriptor {
                    media_type: LAYER_MEDIA_TYPE,
                    digest: l.digest.clone(),
                    size: l.size,
                })
                .collect(),
        };
        let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
        OciImage {
            layers: self.layers.into_iter().map(|(l, _)| l).collect(),
            digest: digest_of(&manifest),
            config,
            config_digest,
            manifest,
            arch: self.arch,
        }
    }
}

/// Debian's default `PATH` for root.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn non_empty(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

#[derive(Serialize)]
struct ImageConfig {
    created: String,
    architecture: &'static str,
    os: &'static str,
    config: RuntimeConfig,
    rootfs: RootFs,
    history: Vec<History>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RuntimeConfig {
    env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
struct History {
    created: String,
    created_by: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest<'a> {
    pub(crate) schema_version: u32,
    pub(crate) media_type: &'a str,
    pub(crate) config: Descriptor<'a>,
    pub(crate) layers: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor<'a> {
    pub(crate) media_type: &'a str,
    pub(crate) digest: String,
    pub(crate) size: u64,
}
