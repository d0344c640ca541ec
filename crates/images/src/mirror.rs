//! Copying a pushed tag (index, images, blobs) from one registry to another without the
//! engine, as `crane copy` does for Falco's mirrors.

use crate::error::ImageError;
use crate::reference::{ImageName, Tag};
use crate::registry::client::{Inner, RegistryClient};
use crate::registry::media::{is_index, ImageManifest, Index};
use crate::registry::RawManifest;

/// What [`copy_tag`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// `sha256:<hex>` of the top manifest or index, the same in both registries.
    pub digest: String,
    /// Manifests written (the index and each image).
    pub manifests: u64,
    /// Blobs uploaded.
    pub blobs_copied: u64,
    /// Blobs the destination held already (not transferred).
    pub blobs_present: u64,
    /// Bytes of the uploaded blobs.
    pub bytes_copied: u64,
}

fn parse<T: serde::de::DeserializeOwned>(
    manifest: &RawManifest,
    reference: &str,
) -> Result<T, ImageError> {
    serde_json::from_slice(&manifest.bytes).map_err(|source| ImageError::InvalidManifest {
        reference: reference.to_owned(),
        source,
    })
}

/// Copies one image's blobs, then its manifest under `reference` (its digest, or the tag).
fn copy_image(
    src: &Inner,
    src_name: &ImageName,
    dst: &Inner,
    dst_name: &ImageName,
    manifest: &RawManifest,
    reference: &str,
    report: &mut CopyReport,
) -> Result<(), ImageError> {
    let image: ImageManifest = parse(
        manifest,
        &format!("{}/{src_name}@{}", src.registry, manifest.digest),
    )?;
    for blob in std::iter::once(&image.config).chain(&image.layers) {
        if dst.blob_exists_sync(dst_name, &blob.digest)? {
            report.blobs_present += 1;
            continue;
        }
        let (reader, len) = src.blob_reader_sync(src_name, &blob.digest)?;
        dst.upload_blob_sync(dst_name, &blob.digest, reader, len)?;
        report.blobs_copied += 1;
        report.bytes_copied += len;
    }
    dst.put_manifest_sync(
        dst_name,
        reference,
        &manifest.media_type,
        manifest.bytes.clone(),
    )?;
    report.manifests += 1;
    Ok(())
}

fn copy_tag_sync(
    src: &Inner,
    src_name: &ImageName,
    dst: &Inner,
    dst_name: &ImageName,
    tag: &Tag,
) -> Result<CopyReport, ImageError> {
    let top_ref = format!("{}/{src_name}:{tag}", src.registry);
    let top = src
        .manifest_sync(src_name, tag.as_ref())?
        .ok_or_else(|| ImageError::NotFound {
            reference: top_ref.clone(),
        })?;
    let mut report = CopyReport {
        digest: top.digest.clone(),
        ..CopyReport::default()
    };
    if !is_index(&top.media_type) {
        copy_image(
            src,
            src_name,
            dst,
            dst_name,
            &top,
            tag.as_ref(),
            &mut report,
        )?;
        return Ok(report);
    }
    let index: Index = parse(&top, &top_ref)?;
    for child in &index.manifests {
        let child_ref = format!("{}/{src_name}@{}", src.registry, child.digest);
        let manifest =
            src.manifest_sync(src_name, &child.digest)?
                .ok_or_else(|| ImageError::NotFound {
                    reference: child_ref.clone(),
                })?;
        if is_index(&manifest.media_type) {
            return Err(
                src.protocol_error(format!("GET {child_ref}"), "nested indexes are not copied")
            );
        }
        copy_image(
            src,
            src_name,
            dst,
            dst_name,
            &manifest,
            &child.digest,
            &mut report,
        )?;
    }
    // The index goes last, so the destination never holds an index with missing images.
    dst.put_manifest_sync(dst_name, tag.as_ref(), &top.media_type, top.bytes.clone())?;
    report.manifests += 1;
    Ok(report)
}

/// Copies `src_name:tag` from the `src` registry to `dst_name:tag` in `dst`, byte for byte
/// (index, image manifests, configs, layers), so the digests are equal in both. Blobs the
/// destination already has are not transferred; layers are streamed, never held in memory.
/// The destination checks every blob against its digest.
///
/// ```no_run
/// use falco_artifacts_images::{copy_tag, RegistryClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let primary = RegistryClient::new("127.0.0.1:5000".parse()?, None)?;
/// let mirror = RegistryClient::new("127.0.0.1:5001".parse()?, None)?;
/// let name = "falcosecurity/falco".parse()?;
/// let report = copy_tag(&primary, &name, &mirror, &name, &"0.39.0".parse()?).await?;
/// println!("copied {} bytes, digest {}", report.bytes_copied, report.digest);
/// # Ok(()) }
/// ```
pub async fn copy_tag(
    src: &RegistryClient,
    src_name: &ImageName,
    dst: &RegistryClient,
    dst_name: &ImageName,
    tag: &Tag,
) -> Result<CopyReport, ImageError> {
    let dst_inner = std::sync::Arc::clone(&dst.inner);
    let (src_name, dst_name, tag) = (src_name.clone(), dst_name.clone(), tag.clone());
    src.blocking("copying an image", move |src| {
        copy_tag_sync(src, &src_name, &dst_inner, &dst_name, &tag)
    })
    .await
}
