//! The registry operations this crate needs: tags, manifests, blobs.

use std::io::Read;

use falco_artifacts_core::Sha256Digest;
use ureq::http::Method;

use crate::error::ImageError;
use crate::reference::{ImageName, Tag};
use crate::registry::client::{Body, Inner, RegistryClient};
use crate::registry::media::{ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES};

/// A manifest or index exactly as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    /// Its `Content-Type`, e.g. `application/vnd.oci.image.index.v1+json`.
    pub media_type: String,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", Sha256Digest::of_bytes(bytes).to_hex())
}

/// Follows `Link: </v2/...>; rel="next"` pagination.
fn next_link(response: &ureq::http::Response<ureq::Body>) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    let (target, rest) = link.trim().strip_prefix('<')?.split_once('>')?;
    rest.contains("rel=\"next\"").then(|| target.to_owned())
}

impl Inner {
    pub(crate) fn tags_sync(&self, name: &ImageName) -> Result<Vec<Tag>, ImageError> {
        let mut tags = Vec::new();
        let mut next = Some(format!("/v2/{name}/tags/list?n=1000"));
        while let Some(path) = next.take() {
            let request = format!("GET {}", self.url(&path));
            let mut response = self.send(Method::GET, &path, &[], Body::Empty)?;
            match response.status().as_u16() {
                200 => {}
                // A repository that was never pushed has no tags.
                404 => return Ok(Vec::new()),
                _ => return Err(self.status_error(request, &mut response)),
            }
            next = next_link(&response);
            #[derive(serde::Deserialize)]
            struct TagList {
                tags: Option<Vec<String>>,
            }
            let bytes = response
                .body_mut()
                .with_config()
                .limit(MAX_MANIFEST_BYTES)
                .read_to_vec()
                .map_err(|e| self.protocol_error(request.clone(), e.to_string()))?;
            let list: TagList = serde_json::from_slice(&bytes).map_err(|e| {
                self.protocol_error(request.clone(), format!("not a tag list: {e}"))
            })?;
            // A registry may hold tags other tools wrote under rules looser than ours; they
            // cannot be ours, so they are left out rather than failing the listing.
            tags.extend(
                list.tags
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|t| t.parse().ok()),
            );
        }
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    pub(crate) fn manifest_sync(
        &self,
        name: &ImageName,
        reference: &str,
    ) -> Result<Option<RawManifest>, ImageError> {
        let path = format!("/v2/{name}/manifests/{reference}");
        let request = format!("GET {}", self.url(&path));
        let mut response = self.send(
            Method::GET,
            &path,
            &[("Accept", ACCEPT_MANIFESTS)],
            Body::Empty,
        )?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.status_error(request, &mut response)),
        }
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .unwrap_or_default();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST_BYTES)
            .read_to_vec()
            .map_err(|e| self.protocol_error(request, e.to_string()))?;
        Ok(Some(RawManifest {
            media_type,
            digest: digest_of(&bytes),
            bytes,
        }))
    }

    pub(crate) fn put_manifest_sync(
        &self,
        name: &ImageName,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<String, ImageError> {
        let digest = digest_of(&bytes);
        let path = format!("/v2/{name}/manifests/{reference}");
        let request = format!("PUT {}", self.url(&path));
        let mut response = self.send(
            Method::PUT,
            &path,
            &[("Content-Type", media_type)],
            Body::Bytes(bytes),
        )?;
        if response.status() != 201 {
            return Err(self.status_error(request, &mut response));
        }
        Ok(digest)
    }

    pub(crate) fn blob_exists_sync(
        &self,
        name: &ImageName,
        digest: &str,
    ) -> Result<bool, ImageError> {
        let path = format!("/v2/{name}/blobs/{digest}");
        let request = format!("HEAD {}", self.url(&path));
        let mut response = self.send(Method::HEAD, &path, &[], Body::Empty)?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(request, &mut response)),
        }
    }

    /// The blob's bytes as a stream, and its length.
    pub(crate) fn blob_reader_sync(
        &self,
        name: &ImageName,
        digest: &str,
    ) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        let path = format!("/v2/{name}/blobs/{digest}");
        let request = format!("GET {}", self.url(&path));
        let mut response = self.send(Method::GET, &path, &[], Body::Empty)?;
        if response.status() != 200 {
            return Err(self.status_error(request, &mut response));
        }
        let len = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| self.protocol_error(request, "a blob without Content-Length"))?;
        let reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        Ok((Box::new(reader), len))
    }

    /// A small blob (an image config) read whole.
    pub(crate) fn blob_bytes_sync(
        &self,
        name: &ImageName,
        digest: &str,
    ) -> Result<Vec<u8>, ImageError> {
        let (mut reader, _) = self.blob_reader_sync(name, digest)?;
        let mut bytes = Vec::new();
        reader
            .by_ref()
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                self.protocol_error(format!("GET blob {digest}"), format!("read failed: {e}"))
            })?;
        Ok(bytes)
    }

    /// Uploads a blob in one streamed `PUT` (after the `POST` that opens the upload). The
    /// registry checks the bytes against `digest` and refuses a mismatch.
    pub(crate) fn upload_blob_sync(
        &self,
        name: &ImageName,
        digest: &str,
        reader: Box<dyn Read + Send>,
        len: u64,
    ) -> Result<(), ImageError> {
        let path = format!("/v2/{name}/blobs/uploads/");
        let request = format!("POST {}", self.url(&path));
        let mut response = self.send(Method::POST, &path, &[], Body::Empty)?;
        if response.status() != 202 {
            return Err(self.status_error(request, &mut response));
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol_error(request, "an upload without Location"))?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{separator}digest={digest}");
        let request = format!("PUT {}", self.url(&target));
        let mut response = self.send(
            Method::PUT,
            &target,
            &[("Content-Type", "application/octet-stream")],
            Body::Stream(reader, len),
        )?;
        if response.status() != 201 {
            return Err(self.status_error(request, &mut response));
        }
        Ok(())
    }
}

impl RegistryClient {
    /// Every tag of `name`, sorted; empty when the repository does not exist. Tags that are
    /// not valid under this crate's [`Tag`] rules are left out.
    pub async fn list_tags(&self, name: &ImageName) -> Result<Vec<Tag>, ImageError> {
        let name = name.clone();
        self.blocking("listing tags", move |c| c.tags_sync(&name))
            .await
    }

    /// The manifest or index `name:reference` (a tag or a digest), exactly as stored, or
    /// `None` if there is none.
    pub async fn manifest(
        &self,
        name: &ImageName,
        reference: &str,
    ) -> Result<Option<RawManifest>, ImageError> {
        let (name, reference) = (name.clone(), reference.to_owned());
        self.blocking("reading a manifest", move |c| {
            c.manifest_sync(&name, &reference)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_links_are_followed() {
        let response = ureq::http::Response::builder()
            .header("Link", "</v2/a/tags/list?last=b&n=1000>; rel=\"next\"")
            .body(())
            .unwrap();
        let (parts, ()) = response.into_parts();
        let response = ureq::http::Response::from_parts(parts, ureq::Body::builder().data(""));
        assert_eq!(
            next_link(&response).as_deref(),
            Some("/v2/a/tags/list?last=b&n=1000")
        );
    }
}
