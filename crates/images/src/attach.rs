//! Artifacts attached to an image (the SBOM): an OCI 1.1 artifact manifest whose `subject` is
//! the image, found through the referrers API, or, where the registry lacks it (it does not
//! answer the upload with `OCI-Subject`), through the tag `sha256-<hex>.<suffix>` as cosign's
//! `attach sbom` does.

use serde_json::json;
use ureq::http::Method;

use crate::error::ImageError;
use crate::oci::OciImage;
use crate::reference::{ImageName, Tag};
use crate::registry::client::{Body, Inner};
use crate::registry::digest_of;
use crate::registry::media::{ImageManifest, MAX_MANIFEST_BYTES, OCI_INDEX, OCI_MANIFEST};
use crate::sbom::SPDX_MEDIA_TYPE;
use crate::RegistryClient;

/// The empty config of an artifact manifest (`{}`).
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY: &[u8] = b"{}";
/// The tag suffix of an SBOM where the registry has no referrers API.
const SBOM_SUFFIX: &str = "sbom";

/// What [`RegistryClient::attach_sbom`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachReport {
    /// `sha256:<hex>` of the artifact manifest.
    pub digest: String,
    /// Whether the registry indexed it for its referrers API.
    pub referrers_api: bool,
    /// The fallback tag, when the registry has no referrers API.
    pub tag: Option<Tag>,
}

/// `sha256:<hex>` → `sha256-<hex>.<suffix>`.
fn fallback_tag(digest: &str, suffix: &str) -> Result<Tag, ImageError> {
    Ok(format!("{}.{suffix}", digest.replace(':', "-")).parse()?)
}

impl Inner {
    fn attach_sync(
        &self,
        name: &ImageName,
        image: &OciImage,
        artifact_type: &str,
        bytes: &[u8],
        suffix: &str,
    ) -> Result<AttachReport, ImageError> {
        let (mut uploaded, mut skipped) = (Vec::new(), Vec::new());
        let blob_digest = digest_of(bytes);
        self.put_blob_bytes_sync(name, &blob_digest, bytes, &mut uploaded, &mut skipped)?;
        self.put_blob_bytes_sync(name, &digest_of(EMPTY), EMPTY, &mut uploaded, &mut skipped)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": { "mediaType": EMPTY_MEDIA_TYPE, "digest": digest_of(EMPTY), "size": EMPTY.len() },
            "layers": [{ "mediaType": artifact_type, "digest": blob_digest, "size": bytes.len() }],
            "subject": { "mediaType": OCI_MANIFEST, "digest": image.digest, "size": image.manifest.len() },
        });
        let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
        let digest = digest_of(&manifest);
        let path = format!("/v2/{name}/manifests/{digest}");
        let request = format!("PUT {}", self.url(&path));
        let mut response = self.send(
            Method::PUT,
            &path,
            &[("Content-Type", OCI_MANIFEST)],
            Body::Bytes(manifest.clone()),
        )?;
        if response.status() != 201 {
            return Err(self.status_error(request, &mut response));
        }
        let referrers_api = response.headers().contains_key("oci-subject");
        let tag = if referrers_api {
            None
        } else {
            let tag = fallback_tag(&image.digest, suffix)?;
            self.put_manifest_sync(name, tag.as_ref(), OCI_MANIFEST, manifest)?;
            Some(tag)
        };
        Ok(AttachReport {
            digest,
            referrers_api,
            tag,
        })
    }

    /// The artifact manifests of `artifact_type` attached to `subject`: from the referrers
    /// API when the registry has it, else from the fallback tag.
    fn attached_sync(
        &self,
        name: &ImageName,
        subject: &str,
        artifact_type: &str,
        suffix: &str,
    ) -> Result<Option<Vec<u8>>, ImageError> {
        let path = format!("/v2/{name}/referrers/{subject}");
        let request = format!("GET {}", self.url(&path));
        let mut response = self.send(Method::GET, &path, &[("Accept", OCI_INDEX)], Body::Empty)?;
        let manifest_digest = match response.status().as_u16() {
            200 => {
                let bytes = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_MANIFEST_BYTES)
                    .read_to_vec()
                    .map_err(|e| self.protocol_error(request.clone(), e.to_string()))?;
                #[derive(serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Referrer {
                    digest: String,
                    #[serde(default)]
                    artifact_type: Option<String>,
                }
                #[derive(serde::Deserialize)]
                struct Referrers {
                    manifests: Vec<Referrer>,
                }
                let referrers: Referrers = serde_json::from_slice(&bytes).map_err(|source| {
                    ImageError::InvalidManifest {
                        reference: format!("referrers of {name}@{subject}"),
                        source,
                    }
                })?;
                match referrers
                    .manifests
                    .into_iter()
                    .find(|r| r.artifact_type.as_deref() == Some(artifact_type))
                {
                    Some(r) => r.digest,
                    None => return Ok(None),
                }
            }
            404 => fallback_tag(subject, suffix)?.to_string(),
            _ => return Err(self.status_error(request, &mut response)),
        };
        let Some(manifest) = self.manifest_sync(name, &manifest_digest)? else {
            return Ok(None);
        };
        let parsed: ImageManifest = serde_json::from_slice(&manifest.bytes).map_err(|source| {
            ImageError::InvalidManifest {
                reference: format!("{name}@{manifest_digest}"),
                source,
            }
        })?;
        let Some(layer) = parsed.layers.iter().find(|l| l.media_type == artifact_type) else {
            return Ok(None);
        };
        let (mut reader, _) = self.blob_reader_sync(name, &layer.digest)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut bytes).map_err(|e| {
            self.protocol_error(
                format!("GET blob {}", layer.digest),
                format!("read failed: {e}"),
            )
        })?;
        if digest_of(&bytes) != layer.digest {
            return Err(self.protocol_error(
                format!("GET blob {}", layer.digest),
                "the blob's bytes do not match its digest",
            ));
        }
        Ok(Some(bytes))
    }
}

impl RegistryClient {
    /// Pushes `sbom` (SPDX JSON) as an artifact attached to the pushed `image`.
    pub async fn attach_sbom(
        &self,
        name: &ImageName,
        image: &OciImage,
        sbom: &[u8],
    ) -> Result<AttachReport, ImageError> {
        let (name, image, sbom) = (name.clone(), image.clone(), sbom.to_vec());
        self.blocking("attaching an SBOM", move |c| {
            c.attach_sync(&name, &image, SPDX_MEDIA_TYPE, &sbom, SBOM_SUFFIX)
        })
        .await
    }

    /// The SBOM attached to `name@image_digest`, if any.
    pub async fn attached_sbom(
        &self,
        name: &ImageName,
        image_digest: &str,
    ) -> Result<Option<Vec<u8>>, ImageError> {
        let (name, digest) = (name.clone(), image_digest.to_owned());
        self.blocking("reading an attached SBOM", move |c| {
            c.attached_sync(&name, &digest, SPDX_MEDIA_TYPE, SBOM_SUFFIX)
        })
        .await
    }
}
