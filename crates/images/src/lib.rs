//! Container images of a release: build through the Docker Engine API (`bollard`), tag per
//! channel, push with credentials to a primary registry and its mirrors, join per-arch images
//! in a multi-arch index, and copy tags between registries without the engine.
//!
//! - [`ImageSpec`]: name, arch, [`BuildContext`] (a user's Dockerfile and directory, or a
//!   `FROM scratch` image made from the release tarball), build args and [`OciLabels`].
//! - [`Engine::build`] streams the context as a tar (never whole in memory) and the build
//!   output to a callback; a failing build's log lines are in its error.
//! - [`TagPolicy`]: `master` for development builds, `x.y.z` (+ `latest` when newest) for
//!   stable, the version for prereleases; per-arch `x86_64-<tag>`/`aarch64-<tag>`.
//! - [`Engine::push`] with a [`CredentialStore`] (environment, a YAML file, Docker's
//!   `config.json`), with retries and progress events.
//! - [`RegistryClient`]: the registry HTTP API — tags, manifests,
//!   [`update_index`](RegistryClient::update_index) for multi-arch indexes, and
//!   [`copy_tag`] for mirrors.
//! - Images that run Falco without a base image or an engine: [`RootfsSpec`] assembles a
//!   runtime root filesystem from Debian `.deb` files (dependency closure inside the given
//!   set, pkg-deb's hardened extraction, users, `/etc/os-release`, dpkg status) as one
//!   reproducible [`Layer`]; [`ImageVariant`] (presets [`ImageVariant::falco`] and
//!   [`ImageVariant::falco_driver_loader`]) adds the release tarball's payload and an SPDX 2.3
//!   SBOM at [`SBOM_PATH`] into an [`OciImage`]; [`RegistryClient::push_image`] uploads only
//!   missing blobs, [`RegistryClient::attach_sbom`] attaches the SBOM (referrers API or the
//!   `sha256-<hex>.sbom` tag), [`RegistryClient::sign`] signs in cosign's key-based format
//!   ([`CosignSigner`], ECDSA P-256; keyless signing is out of scope), and
//!   [`Engine::pull`]/[`Engine::run`] smoke-test an image.
//!
//! # Example
//!
//! ```no_run
//! use falco_artifacts_core::{package::SourceDate, Arch, ReleaseEvent, ReleasePolicy};
//! use falco_artifacts_images::{
//!     BuildContext, CredentialStore, Engine, ImageRef, ImageSpec, OciLabels, PushOptions,
//!     RegistryClient, TagPolicy,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let release = ReleaseEvent::tag("0.39.0").resolve(&ReleasePolicy::default())?;
//! let date = SourceDate::from_env()?;
//! let name = "falcosecurity/falco".parse()?;
//! let registry = "127.0.0.1:5000".parse()?;
//! let credentials = CredentialStore::new();
//!
//! // Tags come from the channel and what the registry holds already.
//! let client = RegistryClient::new(registry, None)?;
//! let existing = client.list_tags(&name).await?;
//! let tags = TagPolicy::default().release_tags(&release.version, &existing)?;
//!
//! let engine = Engine::from_env().await?;
//! for arch in Arch::ALL {
//!     let tarball = format!("falco-{}-{arch}.tar.gz", release.version);
//!     let spec = ImageSpec::builder(name.clone(), arch, BuildContext::release_tarball(tarball), date)
//!         .with_release(&release)
//!         .with_oci_labels(&OciLabels::new(&release.version, date))
//!         .build()?;
//!     let image = engine.build(&spec, |line| println!("{line}")).await?;
//!     let targets: Vec<ImageRef> = tags
//!         .for_arch(arch)
//!         .into_iter()
//!         .map(|tag| ImageRef::new(client.registry().clone(), name.clone(), tag))
//!         .collect();
//!     engine.push(&image, &targets, &credentials, &PushOptions::default(), |_| {}).await?;
//! }
//! for tag in tags.tags() {
//!     client.update_index(&name, tag, &Arch::ALL).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `tls`: HTTPS to registries through rustls (webpki roots). Without it the registry client
//!   speaks plain HTTP only (loopback registries, or those marked
//!   [`RegistryAddr::with_plain_http`]) and refuses HTTPS registries with
//!   [`ImageError::TlsDisabled`]. Pushes go through the engine, which has its own TLS.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attach;
mod context;
mod cosign;
mod credentials;
mod engine;
mod error;
mod index;
mod layer;
mod mirror;
mod oci;
mod payload;
mod push;
mod reference;
mod registry;
mod rootfs;
mod run;
mod sbom;
mod spec;
mod tags;
mod variant;

/// The vocabulary this crate builds on.
pub use falco_artifacts_core as core;

pub use attach::AttachReport;
pub use cosign::{
    signature_tag, simple_signing_payload, CosignSigner, InvalidSigningKey, SignatureReport,
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
};
pub use credentials::{CredentialStore, Credentials, CredentialsError};
pub use engine::{BuiltImage, Engine};
pub use error::ImageError;
pub use index::IndexReport;
pub use layer::Layer;
pub use mirror::{copy_tag, CopyReport};
pub use oci::{OciImage, OciImageBuilder, PushedImage};
pub use payload::{ExtraFiles, Payload, PayloadFile};
pub use push::{PushEvent, PushOptions, PushReport};
pub use reference::{ImageName, ImageRef, InvalidReference, RegistryAddr, Tag};
pub use registry::{RawManifest, RegistryClient};
pub use rootfs::{
    AptRepository, DebSource, InstalledPackage, MissingDependency, Rootfs, RootfsSpec,
    RootfsSpecBuilder,
};
pub use run::RunOutput;
pub use sbom::{SBOM_PATH, SPDX_MEDIA_TYPE};
pub use spec::{BuildContext, ImageSpec, ImageSpecBuilder, OciLabels};
pub use tags::{arch_tag, ReleaseTags, TagPolicy};
pub use variant::{BuiltVariant, ImageVariant, DRIVER_LOADER_PACKAGES, FALCO_RUNTIME_PACKAGES};

/// Manifest media types.
pub mod media_types {
    pub use crate::registry::media::{
        DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
    };
}
