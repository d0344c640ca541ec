//! Multi-arch indexes: one tag that points at the per-arch images, written through the
//! registry API because the Engine API has none.

use falco_artifacts_core::Arch;
use ureq::http::Method;

use crate::error::ImageError;
use crate::reference::{ImageName, Tag};
use crate::registry::client::{Body, Inner, RegistryClient};
use crate::registry::media::{
    is_index, ConfigPlatform, Descriptor, ImageManifest, Index, Platform, DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST, OCI_INDEX,
};
use crate::tags::arch_tag;

/// What [`RegistryClient::update_index`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexReport {
    /// `sha256:<hex>` of the index.
    pub digest: String,
    /// Its media type (a Docker manifest list when every entry is a Docker manifest, else an
    /// OCI index).
    pub media_type: String,
    /// `os/architecture[/variant]` of each entry, in index order.
    pub platforms: Vec<String>,
    /// The exact bytes written.
    pub bytes: Vec<u8>,
}

/// The index bytes for `entries`: sorted by platform, compact JSON in a fixed field order, so
/// the same entries always give the same bytes (and digest).
fn render(mut entries: Vec<Descriptor>) -> (Index, Vec<u8>) {
    entries.sort_by(|a, b| a.platform.cmp(&b.platform).then(a.digest.cmp(&b.digest)));
    let media_type = if entries.iter().all(|e| e.media_type == DOCKER_MANIFEST) {
        DOCKER_MANIFEST_LIST
    } else {
        OCI_INDEX
    };
    let index = Index {
        schema_version: 2,
        media_type: media_type.to_owned(),
        manifests: entries,
    };
    // Serializing plain strings and integers cannot fail.
    let bytes = serde_json::to_vec(&index).unwrap_or_default();
    (index, bytes)
}

fn platform_name(p: &Option<Platform>) -> String {
    match p {
        Some(Platform {
            os,
            architecture,
            variant: Some(v),
        }) => format!("{os}/{architecture}/{v}"),
        Some(Platform {
            os, architecture, ..
        }) => format!("{os}/{architecture}"),
        None => "unknown".to_owned(),
    }
}

impl Inner {
    /// The index entry for the single-arch image `name:<arch>-<tag>`, its platform read from
    /// the image config and checked against `arch`.
    fn arch_entry(
        &self,
        name: &ImageName,
        tag: &Tag,
        arch: Arch,
    ) -> Result<Descriptor, ImageError> {
        let arch_tag = arch_tag(arch, tag);
        let reference = format!("{}/{name}:{arch_tag}", self.registry);
        let manifest = self
            .manifest_sync(name, arch_tag.as_ref())?
            .ok_or_else(|| ImageError::NotFound {
                reference: reference.clone(),
            })?;
        if is_index(&manifest.media_type) {
            return Err(self.protocol_error(
                format!("GET {reference}"),
                "is an index, expected a single-arch image manifest",
            ));
        }
        let parsed: ImageManifest = serde_json::from_slice(&manifest.bytes).map_err(|source| {
            ImageError::InvalidManifest {
                reference: reference.clone(),
                source,
            }
        })?;
        let config = self.blob_bytes_sync(name, &parsed.config.digest)?;
        let config: ConfigPlatform =
            serde_json::from_slice(&config).map_err(|source| ImageError::InvalidManifest {
                reference: format!("{reference} (config {})", parsed.config.digest),
                source,
            })?;
        if config.architecture != arch.docker_name() {
            return Err(ImageError::ArchMismatch {
                reference,
                expected: arch.docker_name().to_owned(),
                found: config.architecture,
            });
        }
        Ok(Descriptor {
            media_type: manifest.media_type,
            digest: manifest.digest,
            size: manifest.bytes.len() as u64,
            platform: Some(Platform {
                os: config.os,
                architecture: config.architecture,
                variant: config.variant.filter(|v| !v.is_empty()),
            }),
        })
    }

    fn update_index_sync(
        &self,
        name: &ImageName,
        tag: &Tag,
        arches: &[Arch],
    ) -> Result<IndexReport, ImageError> {
        let mut entries = Vec::new();
        for &arch in arches {
            entries.push(self.arch_entry(name, tag, arch)?);
        }
        // Keep the entries of the arches not updated now from the index already there.
        if let Some(existing) = self.manifest_sync(name, tag.as_ref())? {
            if is_index(&existing.media_type) {
                let index: Index = serde_json::from_slice(&existing.bytes).map_err(|source| {
                    ImageError::InvalidManifest {
                        reference: format!("{}/{name}:{tag}", self.registry),
                        source,
                    }
                })?;
                let arch = |d: &Descriptor| d.platform.as_ref().map(|p| p.architecture.clone());
                let updated: Vec<_> = entries.iter().map(arch).collect();
                entries.extend(
                    index
                        .manifests
                        .into_iter()
                        .filter(|old| !updated.contains(&arch(old))),
                );
            }
        }
        let (index, bytes) = render(entries);
        let digest =
            self.put_manifest_sync(name, tag.as_ref(), &index.media_type, bytes.clone())?;
        Ok(IndexReport {
            digest,
            media_type: index.media_type,
            platforms: index
                .manifests
                .iter()
                .map(|d| platform_name(&d.platform))
                .collect(),
            bytes,
        })
    }
}

impl RegistryClient {
    /// Creates or updates the multi-arch index `name:tag` so that it points at the images
    /// `name:<arch>-<tag>` of `arches` (which must be pushed already), keeping the entries of
    /// other arches from the index already under `name:tag`.
    ///
    /// The bytes are deterministic: the same per-arch images give the same index digest.
    ///
    /// ```no_run
    /// use falco_artifacts_core::Arch;
    /// use falco_artifacts_images::RegistryClient;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = RegistryClient::new("127.0.0.1:5000".parse()?, None)?;
    /// let report = client
    ///     .update_index(&"falcosecurity/falco".parse()?, &"0.39.0".parse()?, &[Arch::X86_64, Arch::Aarch64])
    ///     .await?;
    /// assert_eq!(report.platforms, ["linux/amd64", "linux/arm64"]);
    /// # Ok(()) }
    /// ```
    pub async fn update_index(
        &self,
        name: &ImageName,
        tag: &Tag,
        arches: &[Arch],
    ) -> Result<IndexReport, ImageError> {
        let (name, tag, arches) = (name.clone(), tag.clone(), arches.to_vec());
        self.blocking("updating an index", move |c| {
            c.update_index_sync(&name, &tag, &arches)
        })
        .await
    }

    /// Whether `name:tag` exists, as an image or an index.
    pub async fn exists(&self, name: &ImageName, tag: &Tag) -> Result<bool, ImageError> {
        let (name, tag) = (name.clone(), tag.clone());
        self.blocking("checking a tag", move |c| {
            let path = format!("/v2/{name}/manifests/{tag}");
            let request = format!("HEAD {}", c.url(&path));
            let mut response = c.send(
                Method::HEAD,
                &path,
                &[("Accept", crate::registry::media::ACCEPT_MANIFESTS)],
                Body::Empty,
            )?;
            match response.status().as_u16() {
                200 => Ok(true),
                404 => Ok(false),
                _ => Err(c.status_error(request, &mut response)),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::media::OCI_MANIFEST;

    fn entry(arch: &str, media_type: &str) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: format!("sha256:{}", arch.len()),
            size: 500,
            platform: Some(Platform {
                os: "linux".into(),
                architecture: arch.into(),
                variant: None,
            }),
        }
    }

    #[test]
    fn index_bytes_do_not_depend_on_entry_order() {
        let (index_a, a) = render(vec![
            entry("arm64", DOCKER_MANIFEST),
            entry("amd64", DOCKER_MANIFEST),
        ]);
        let (index_b, b) = render(vec![
            entry("amd64", DOCKER_MANIFEST),
            entry("arm64", DOCKER_MANIFEST),
        ]);
        assert_eq!(a, b);
        assert_eq!(index_a.media_type, DOCKER_MANIFEST_LIST);
        assert_eq!(index_a, index_b);
        let text = String::from_utf8(a).unwrap();
        assert!(
            text.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"#),
            "{text}"
        );
        assert!(text.find("amd64").unwrap() < text.find("arm64").unwrap());
    }

    #[test]
    fn oci_entries_make_an_oci_index() {
        let (index, _) = render(vec![
            entry("amd64", OCI_MANIFEST),
            entry("arm64", DOCKER_MANIFEST),
        ]);
        assert_eq!(index.media_type, OCI_INDEX);
        assert_eq!(
            platform_name(&entry("arm64", OCI_MANIFEST).platform),
            "linux/arm64"
        );
    }
}
