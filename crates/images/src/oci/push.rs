//! Pushing an [`OciImage`] through the registry API: blobs the registry lacks, then the
//! manifest under each tag.

use std::fs::File;

use crate::error::ImageError;
use crate::oci::OciImage;
use crate::reference::{ImageName, Tag};
use crate::registry::client::Inner;
use crate::registry::media::OCI_MANIFEST;
use crate::RegistryClient;

/// What [`RegistryClient::push_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    /// Digests of the blobs (layers and config) uploaded.
    pub uploaded: Vec<String>,
    /// Digests of the blobs the registry had already.
    pub skipped: Vec<String>,
    /// The tags now pointing at the manifest.
    pub tags: Vec<Tag>,
}

impl Inner {
    fn push_image_sync(
        &self,
        name: &ImageName,
        image: &OciImage,
        tags: &[Tag],
    ) -> Result<PushedImage, ImageError> {
        let mut uploaded = Vec::new();
        let mut skipped = Vec::new();
        // Layers first, the config last: a manifest never names a blob that is not there.
        for layer in &image.layers {
            if self.blob_exists_sync(name, &layer.digest)? {
                skipped.push(layer.digest.clone());
                continue;
            }
            let file = File::open(&layer.path).map_err(|source| ImageError::Context {
                path: layer.path.clone(),
                action: "open the layer",
                source,
            })?;
            self.upload_blob_sync(name, &layer.digest, Box::new(file), layer.size)?;
            uploaded.push(layer.digest.clone());
        }
        self.put_blob_bytes_sync(
            name,
            &image.config_digest,
            &image.config,
            &mut uploaded,
            &mut skipped,
        )?;
        let mut digest = image.digest.clone();
        for tag in tags {
            digest =
                self.put_manifest_sync(name, tag.as_ref(), OCI_MANIFEST, image.manifest.clone())?;
        }
        if tags.is_empty() {
            digest =
                self.put_manifest_sync(name, &image.digest, OCI_MANIFEST, image.manifest.clone())?;
        }
        Ok(PushedImage {
            digest,
            uploaded,
            skipped,
            tags: tags.to_vec(),
        })
    }

    /// Uploads a small blob held in memory unless the registry has it.
    pub(crate) fn put_blob_bytes_sync(
        &self,
        name: &ImageName,
        digest: &str,
        bytes: &[u8],
        uploaded: &mut Vec<String>,
        skipped: &mut Vec<String>,
    ) -> Result<(), ImageError> {
        if self.blob_exists_sync(name, digest)? {
            skipped.push(digest.to_owned());
            return Ok(());
        }
        let len = bytes.len() as u64;
        self.upload_blob_sync(
            name,
            digest,
            Box::new(std::io::Cursor::new(bytes.to_vec())),
            len,
        )?;
        uploaded.push(digest.to_owned());
        Ok(())
    }
}

impl RegistryClient {
    /// Pushes `image` as `name` under each of `tags` (by digest only when `tags` is empty),
    /// uploading only the blobs the registry lacks: re-pushing an unchanged image uploads
    /// nothing.
    pub async fn push_image(
        &self,
        name: &ImageName,
        image: &OciImage,
        tags: &[Tag],
    ) -> Result<PushedImage, ImageError> {
        let (name, image, tags) = (name.clone(), image.clone(), tags.to_vec());
        self.blocking("pushing an image", move |c| {
            c.push_image_sync(&name, &image, &tags)
        })
        .await
    }
}
