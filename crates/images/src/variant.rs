//! Image variants: a name, the runtime packages, extra files, entrypoint, environment and
//! labels, with presets for Falco's own images (`falco`, `falco-driver-loader`), assembled into
//! an [`OciImage`] of three layers: the root filesystem, the Falco payload, the SBOM.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{Arch, Version};

use crate::error::ImageError;
use crate::layer::{LayerTree, Node};
use crate::oci::OciImage;
use crate::payload::{self, ExtraFiles, Payload};
use crate::rootfs::{DebSource, Rootfs, RootfsSpec};
use crate::sbom::{self, SbomInput, SBOM_PATH};

/// What Falco's release binary links against (glibc, libstdc++, libgcc_s, zlib) and the CA
/// roots it needs to download rules and plugins over HTTPS.
pub const FALCO_RUNTIME_PACKAGES: &[&str] = &[
    "libc6",
    "libstdc++6",
    "libgcc-s1",
    "zlib1g",
    "ca-certificates",
];
/// What building and loading drivers needs on top: the compiler, make, kmod, curl.
pub const DRIVER_LOADER_PACKAGES: &[&str] = &["make", "gcc", "kmod", "curl"];

/// One image variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageVariant {
    /// The variant's name, also its image name's last part (`falco`, `falco-driver-loader`).
    pub name: String,
    /// Debian packages of the root filesystem (their dependencies are added).
    pub packages: Vec<String>,
    /// Directories copied into the image (the driver sources under `/usr/src`).
    #[serde(default)]
    pub extra_files: Vec<ExtraFiles>,
    /// `ENTRYPOINT` (exec form).
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// `CMD` (exec form).
    #[serde(default)]
    pub cmd: Vec<String>,
    /// Environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Labels (on top of the OCI labels of the release).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ImageVariant {
    /// A variant with no packages yet.
    pub fn new(name: impl Into<String>) -> Self {
        ImageVariant {
            name: name.into(),
            packages: Vec::new(),
            extra_files: Vec::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    /// Falco's `falco` image: the runtime libraries and `/usr/bin/falco` as entrypoint.
    pub fn falco() -> Self {
        ImageVariant {
            packages: FALCO_RUNTIME_PACKAGES
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            entrypoint: vec!["/usr/bin/falco".to_owned()],
            env: BTreeMap::from([("HOST_ROOT".to_owned(), "/host".to_owned())]),
            ..ImageVariant::new("falco")
        }
    }

    /// Falco's `falco-driver-loader` image: the runtime plus make, gcc, kmod, curl, the driver
    /// sources `driver_source` at `/usr/src/falco-<driver version>`, and falcoctl's driver
    /// installer as entrypoint (what Falco's own loader image runs).
    pub fn falco_driver_loader(driver_source: impl Into<PathBuf>, driver_version: &str) -> Self {
        let mut packages: Vec<String> = FALCO_RUNTIME_PACKAGES
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        packages.extend(DRIVER_LOADER_PACKAGES.iter().map(|p| (*p).to_owned()));
        ImageVariant {
            packages,
            extra_files: vec![ExtraFiles {
                source: driver_source.into(),
                dest: format!("/usr/src/falco-{driver_version}"),
            }],
            entrypoint: vec![
                "/usr/bin/falcoctl".to_owned(),
                "driver".to_owned(),
                "install".to_owned(),
            ],
            env: BTreeMap::from([("HOST_ROOT".to_owned(), "/host".to_owned())]),
            ..ImageVariant::new("falco-driver-loader")
        }
    }

    /// Adds packages.
    pub fn with_packages<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.packages.extend(names.into_iter().map(Into::into));
        self
    }

    /// Copies the directory `source` to `dest` in the image.
    pub fn with_extra_files(mut self, source: impl Into<PathBuf>, dest: impl Into<String>) -> Self {
        self.extra_files.push(ExtraFiles {
            source: source.into(),
            dest: dest.into(),
        });
        self
    }

    /// Sets the entrypoint.
    pub fn with_entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(mut self, argv: I) -> Self {
        self.entrypoint = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Sets an environment variable.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Sets a label.
    pub fn with_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(name.into(), value.into());
        self
    }

    fn check(&self) -> Result<(), ImageError> {
        let invalid = |problem: String| ImageError::InvalidSpec {
            image: format!("variant {:?}", self.name),
            problem,
        };
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !name_ok {
            return Err(invalid(
                "the name must be lowercase letters, digits, - _ .".into(),
            ));
        }
        for extra in &self.extra_files {
            if !extra.dest.starts_with('/') || extra.dest.split('/').any(|p| p == "..") {
                return Err(invalid(format!(
                    "extra files destination {:?} must be absolute, without ..",
                    extra.dest
                )));
            }
            if !extra.source.is_dir() {
                return Err(invalid(format!(
                    "extra files source {} is not a directory",
                    extra.source.display()
                )));
            }
        }
        if self.env.keys().any(|k| k.is_empty() || k.contains('=')) {
            return Err(invalid(
                "an environment variable name is empty or holds '='".into(),
            ));
        }
        Ok(())
    }

    /// Assembles the variant for `arch` into `work_dir` (created if missing): the root
    /// filesystem from `debs`, the payload from the release `tarball` and the extra files, and
    /// the SBOM (also at [`SBOM_PATH`] in the image).
    pub fn assemble(
        &self,
        debs: &DebSource,
        arch: Arch,
        tarball: &Path,
        version: &Version,
        work_dir: &Path,
        date: SourceDate,
    ) -> Result<BuiltVariant, ImageError> {
        self.check()?;
        fs::create_dir_all(work_dir).map_err(|source| ImageError::Context {
            path: work_dir.to_owned(),
            action: "create a directory",
            source,
        })?;
        let rootfs = RootfsSpec::builder(debs.clone(), arch, self.packages.iter().cloned())
            .build()?
            .assemble(work_dir, date)?;
        let payload = payload::build(tarball, &self.extra_files, work_dir, date)?;
        let version_text = version.to_string();
        let sbom = sbom::spdx_json(&SbomInput {
            variant: &self.name,
            falco_version: &version_text,
            deb_arch: arch.deb_name(),
            packages: &rootfs.packages,
            payload: &payload.files,
            created: date,
        });
        let mut tree = LayerTree::default();
        tree.insert(
            SBOM_PATH,
            Node::Bytes {
                mode: 0o644,
                data: sbom.clone(),
            },
            "the SBOM",
        )?;
        let sbom_layer = tree.write(&work_dir.join("sbom.tar.gz"), date)?;
        let mut image = OciImage::builder(arch, date)
            .with_layer(
                rootfs.layer.clone(),
                format!(
                    "falco-artifacts: Debian packages {}",
                    self.packages.join(" ")
                ),
            )
            .with_layer(
                payload.layer.clone(),
                format!("falco-artifacts: Falco {version_text} payload"),
            )
            .with_layer(sbom_layer, format!("falco-artifacts: SBOM at {SBOM_PATH}"))
            .with_entrypoint(self.entrypoint.iter().cloned())
            .with_cmd(self.cmd.iter().cloned())
            .with_labels(&self.labels);
        for (name, value) in &self.env {
            image = image.with_env(name, value);
        }
        Ok(BuiltVariant {
            image: image.build(),
            rootfs,
            payload,
            sbom,
        })
    }
}

/// An assembled variant.
#[derive(Debug, Clone)]
pub struct BuiltVariant {
    /// The image to push.
    pub image: OciImage,
    /// Its root filesystem.
    pub rootfs: Rootfs,
    /// Its payload.
    pub payload: Payload,
    /// The SPDX 2.3 JSON SBOM (the bytes at [`SBOM_PATH`]).
    pub sbom: Vec<u8>,
}
