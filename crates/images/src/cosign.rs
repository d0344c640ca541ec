//! Key-based image signatures in cosign's format: a "simple signing" JSON payload naming the
//! repository and the manifest digest, signed with ECDSA P-256 (SHA-256, DER, base64) and
//! pushed as a layer of the manifest tagged `sha256-<hex>.sig`, the signature in the layer's
//! `dev.cosignproject.cosign/signature` annotation. `cosign verify --key` and containers/image
//! (`sigstoreSigned` policies with `use-sigstore-attachments: true`) read it.
//!
//! Keyless signing (Fulcio certificates, Rekor transparency log entries) needs those services
//! and is out of scope; signatures carry no certificate and no Rekor bundle.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;

use crate::error::ImageError;
use crate::reference::{ImageName, Tag};
use crate::registry::client::Inner;
use crate::registry::digest_of;
use crate::registry::media::OCI_MANIFEST;
use crate::RegistryClient;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// An ECDSA P-256 signing key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct CosignSigner {
    key: SigningKey,
}

impl std::fmt::Debug for CosignSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosignSigner").finish_non_exhaustive()
    }
}

/// Why a signing key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("not an unencrypted PKCS#8 PEM ECDSA P-256 private key (`BEGIN PRIVATE KEY`; cosign's encrypted `SIGSTORE PRIVATE KEY` files must be converted first)")]
pub struct InvalidSigningKey {
    #[source]
    source: p256::pkcs8::Error,
}

impl CosignSigner {
    /// Loads a PKCS#8 PEM key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, InvalidSigningKey> {
        SigningKey::from_pkcs8_pem(pem)
            .map(|key| CosignSigner { key })
            .map_err(|source| InvalidSigningKey { source })
    }

    /// The public key as SPKI PEM (`BEGIN PUBLIC KEY`), what `cosign verify --key` and
    /// policy.json's `keyPath` take.
    pub fn public_key_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The base64 DER signature of `payload` (deterministic, RFC 6979).
    pub fn sign_base64(&self, payload: &[u8]) -> String {
        use base64::Engine as _;
        let signature: Signature = self.key.sign(payload);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }
}

/// The simple-signing payload for `docker_reference` (`registry/repository`, no tag) at
/// `manifest_digest`, as cosign writes it.
pub fn simple_signing_payload(docker_reference: &str, manifest_digest: &str) -> Vec<u8> {
    let payload = json!({
        "critical": {
            "identity": { "docker-reference": docker_reference },
            "image": { "docker-manifest-digest": manifest_digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The tag of the signature of `digest` (`sha256:<hex>` → `sha256-<hex>.sig`).
pub fn signature_tag(digest: &str) -> Result<Tag, ImageError> {
    Ok(format!("{}.sig", digest.replace(':', "-")).parse()?)
}

/// What [`RegistryClient::sign`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    /// The tag of the signature manifest.
    pub tag: Tag,
    /// `sha256:<hex>` of the signature manifest.
    pub digest: String,
    /// The payload signed.
    pub payload: Vec<u8>,
}

impl Inner {
    fn sign_sync(
        &self,
        name: &ImageName,
        manifest_digest: &str,
        signer: &CosignSigner,
    ) -> Result<SignatureReport, ImageError> {
        let reference = format!("{}/{name}", self.registry);
        let payload = simple_signing_payload(&reference, manifest_digest);
        let signature = signer.sign_base64(&payload);
        let payload_digest = digest_of(&payload);
        let config = json!({
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{ "created": "0001-01-01T00:00:00Z" }],
            "os": "",
            "rootfs": { "type": "layers", "diff_ids": [payload_digest] },
            "config": {},
        });
        let config = serde_json::to_vec(&config).unwrap_or_default();
        let config_digest = digest_of(&config);
        let (mut uploaded, mut skipped) = (Vec::new(), Vec::new());
        self.put_blob_bytes_sync(name, &payload_digest, &payload, &mut uploaded, &mut skipped)?;
        self.put_blob_bytes_sync(name, &config_digest, &config, &mut uploaded, &mut skipped)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": [{
                "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
                "size": payload.len(),
                "digest": payload_digest,
                "annotations": { SIGNATURE_ANNOTATION: signature },
            }],
        });
        let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
        let tag = signature_tag(manifest_digest)?;
        let digest = self.put_manifest_sync(name, tag.as_ref(), OCI_MANIFEST, manifest)?;
        Ok(SignatureReport {
            tag,
            digest,
            payload,
        })
    }
}

impl RegistryClient {
    /// Signs the manifest or index `name@manifest_digest` with `signer`, in cosign's format,
    /// replacing any earlier signature manifest of that digest.
    pub async fn sign(
        &self,
        name: &ImageName,
        manifest_digest: &str,
        signer: &CosignSigner,
    ) -> Result<SignatureReport, ImageError> {
        let (name, digest, signer) = (name.clone(), manifest_digest.to_owned(), signer.clone());
        self.blocking("signing an image", move |c| {
            c.sign_sync(&name, &digest, &signer)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::VerifyingKey;
    use p256::pkcs8::DecodePublicKey;

    // A throwaway test key (PKCS#8 PEM), generated with openssl for this test only.
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXqwqvy91gvP2ABKo
AibwKnU86+6eMBuO++9gzropsnOhRANCAASoTaMgpaKlZJ91jZ89Y8h63qENA4d6
Nx36lM/hNzIGhSEtoj1+1mEbeSWgEaCFpjYcwdcBClPG7/iPxM43BaNu
-----END PRIVATE KEY-----
";

    #[test]
    fn signatures_verify_with_the_public_key_and_the_payload_is_cosigns() {
        let signer = CosignSigner::from_pkcs8_pem(KEY).unwrap();
        let payload = simple_signing_payload("127.0.0.1:5000/falcosecurity/falco", "sha256:ab");
        assert_eq!(
            String::from_utf8(payload.clone()).unwrap(),
            "{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5000/falcosecurity/falco\"},\
             \"image\":{\"docker-manifest-digest\":\"sha256:ab\"},\"type\":\"cosign container image signature\"},\
             \"optional\":null}"
        );
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(signer.sign_base64(&payload))
            .unwrap();
        let public = VerifyingKey::from_public_key_pem(&signer.public_key_pem()).unwrap();
        public
            .verify(&payload, &Signature::from_der(&der).unwrap())
            .unwrap();
        assert_eq!(
            signature_tag("sha256:ab").unwrap().as_ref(),
            "sha256-ab.sig"
        );
        assert!(CosignSigner::from_pkcs8_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
    }
}
