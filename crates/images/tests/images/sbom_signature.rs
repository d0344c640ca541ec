//! The SBOM of a runtime image, in the image and attached to it in the registry, lists exactly
//! the packages of its dpkg status; cosign-format signatures are checked by skopeo under a
//! a cosign-style check made of outside tools (skopeo fetches, openssl verifies): accepted with
//! our key, refused with another key or once the tag points at an unsigned manifest.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use falco_artifacts_core::{Arch, Version};
use falco_artifacts_images::{
    CosignSigner, DebSource, ImageVariant, OciImage, RegistryClient, Tag, SBOM_PATH,
};
use falco_artifacts_testkit::{require_tool, Registry};

use crate::common::*;
use crate::runtime::{compile_payload, debs, release_tarball};

/// `path` → bytes of every file in the image copied by skopeo into `dir`, reading its layers.
fn files_in(dir: &Path, wanted: &[&str]) -> Vec<Option<Vec<u8>>> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut found = vec![None; wanted.len()];
    for layer in manifest["layers"].as_array().unwrap() {
        let hex = layer["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let file = std::fs::File::open(dir.join(hex)).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            if let Some(i) = wanted
                .iter()
                .position(|w| w.trim_start_matches('/') == path)
            {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                found[i] = Some(bytes);
            }
        }
    }
    found
}

fn openssl_key(dir: &Path, name: &str) -> String {
    let openssl = require_tool("openssl", "Debian package openssl").unwrap();
    let path = dir.join(name);
    let out = Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path).unwrap()
}

/// `skopeo copy docker://<reference> dir:<out>` (accepting any image: the check is ours).
fn skopeo_copy(dir: &Path, reference: &str, out: &Path) {
    let skopeo = require_tool("skopeo", "Debian package skopeo").unwrap();
    let policy = dir.join("accept-policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(out);
    let done = Command::new(skopeo)
        .arg("--policy")
        .arg(&policy)
        .args(["copy", "--src-tls-verify=false", "--src-no-creds"])
        .arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", out.display()))
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "skopeo copy {reference}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// What `cosign verify --key` checks, done with outside tools: skopeo fetches the manifest
/// the tag points at and the `sha256-<hex>.sig` manifest of its digest; each
/// simple-signing layer's payload must name that digest and the repository, and its
/// annotation must be a signature of the payload that `openssl dgst -verify` accepts with
/// `public_key`. Returns why it was refused.
///
/// (Debian's skopeo is built with "sigstore disabled", so a `sigstoreSigned` policy cannot
/// be used here.)
fn cosign_verify(
    dir: &Path,
    registry: &Registry,
    repository: &str,
    tag: &str,
    public_key: &str,
) -> Result<(), String> {
    let skopeo = require_tool("skopeo", "Debian package skopeo").unwrap();
    let openssl = require_tool("openssl", "Debian package openssl").unwrap();
    let image = format!("{}/{repository}", registry.address());
    let raw = Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false", "--no-creds"])
        .arg(format!("docker://{image}:{tag}"))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let digest = format!(
        "sha256:{}",
        falco_artifacts_core::Sha256Digest::of_bytes(&raw.stdout).to_hex()
    );
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    let listed = Command::new(&skopeo)
        .args(["list-tags", "--tls-verify=false", "--no-creds"])
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    let tags: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    if !tags["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == sig_tag.as_str())
    {
        return Err(format!("no signature: {image}:{sig_tag} does not exist"));
    }
    let out = dir.join("signature");
    skopeo_copy(dir, &format!("{image}:{sig_tag}"), &out);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        let payload_path = out.join(
            layer["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:"),
        );
        let payload: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&payload_path).unwrap()).unwrap();
        assert_eq!(
            payload["critical"]["type"],
            "cosign container image signature"
        );
        if payload["critical"]["image"]["docker-manifest-digest"] != digest.as_str()
            || payload["critical"]["identity"]["docker-reference"] != image.as_str()
        {
            continue;
        }
        use base64::Engine as _;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(
                layer["annotations"]["dev.cosignproject.cosign/signature"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        std::fs::write(dir.join("sig.der"), signature).unwrap();
        std::fs::write(dir.join("verify.pub"), public_key).unwrap();
        let verified = Command::new(&openssl)
            .args(["dgst", "-sha256", "-verify"])
            .arg(dir.join("verify.pub"))
            .arg("-signature")
            .arg(dir.join("sig.der"))
            .arg(&payload_path)
            .output()
            .unwrap();
        if verified.status.success() {
            return Ok(());
        }
        return Err(format!(
            "signature refused by openssl: {}{}",
            String::from_utf8_lossy(&verified.stdout),
            String::from_utf8_lossy(&verified.stderr)
        ));
    }
    Err(format!("no signature layer of {image} names {digest}"))
}

#[tokio::test]
async fn the_sbom_matches_the_image_and_signatures_verify_with_outside_tools() {
    let debs = debs();
    let dir = tempfile::tempdir().unwrap();
    let binary = compile_payload(dir.path());
    let version: Version = "0.39.0".parse().unwrap();
    let tarball = release_tarball(dir.path(), "0.39.0", &binary);
    let built = ImageVariant::falco()
        .assemble(
            &DebSource::dir(&debs),
            Arch::X86_64,
            &tarball,
            &version,
            &dir.path().join("work"),
            source_date(),
        )
        .unwrap();

    let registry = Registry::start().unwrap();
    let client = RegistryClient::new(registry.address().parse().unwrap(), None).unwrap();
    let name = "falcosecurity/falco".parse().unwrap();
    let arch_tag: Tag = "x86_64-0.39.0".parse().unwrap();
    client
        .push_image(&name, &built.image, std::slice::from_ref(&arch_tag))
        .await
        .unwrap();
    let index = client
        .update_index(&name, &"0.39.0".parse().unwrap(), &[Arch::X86_64])
        .await
        .unwrap();
    let raw: serde_json::Value = serde_json::from_slice(&skopeo(
        &format!("{}/falcosecurity/falco:0.39.0", registry.address()),
        None,
        true,
    ))
    .unwrap();
    assert_eq!(
        raw["manifests"][0]["digest"],
        built.image.digest.as_str(),
        "{raw}"
    );
    assert_eq!(
        raw["manifests"][0]["platform"]["architecture"], "amd64",
        "{raw}"
    );

    // The SBOM, attached (this docker-registry has no referrers API: the tag fallback).
    let attached = client
        .attach_sbom(&name, &built.image, &built.sbom)
        .await
        .unwrap();
    assert!(!attached.referrers_api);
    let tag = attached.tag.clone().unwrap();
    assert_eq!(
        tag.as_ref(),
        format!("{}.sbom", built.image.digest.replace(':', "-"))
    );
    let fetched = client
        .attached_sbom(&name, &built.image.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fetched, built.sbom);

    // Signed: the image manifest and the index.
    let key = openssl_key(dir.path(), "cosign.key");
    let signer = CosignSigner::from_pkcs8_pem(&key).unwrap();
    client
        .sign(&name, &built.image.digest, &signer)
        .await
        .unwrap();
    client.sign(&name, &index.digest, &signer).await.unwrap();
    let reference = format!("{}/falcosecurity/falco:{arch_tag}", registry.address());
    for tag in [arch_tag.as_ref(), "0.39.0"] {
        cosign_verify(
            dir.path(),
            &registry,
            "falcosecurity/falco",
            tag,
            &signer.public_key_pem(),
        )
        .unwrap_or_else(|e| panic!("{tag} is signed: {e}"));
    }
    skopeo_copy(dir.path(), &reference, &dir.path().join("copied"));

    // What skopeo copied: the dpkg status and the SBOM in the image agree, and equal the
    // attached SBOM.
    let [status, sbom]: [Option<Vec<u8>>; 2] = files_in(
        &dir.path().join("copied"),
        &["/var/lib/dpkg/status", SBOM_PATH],
    )
    .try_into()
    .unwrap();
    let status = String::from_utf8(status.unwrap()).unwrap();
    assert_eq!(sbom.unwrap(), built.sbom);
    let in_status: BTreeSet<(String, String)> = status
        .split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|stanza| {
            let field = |f: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{f}: ")))
                    .unwrap()
                    .to_owned()
            };
            assert_eq!(field("Status"), "install ok installed");
            (field("Package"), field("Version"))
        })
        .collect();
    let doc: serde_json::Value = serde_json::from_slice(&fetched).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let packages = doc["packages"].as_array().unwrap();
    let in_sbom: BTreeSet<(String, String)> = packages
        .iter()
        .filter(|p| {
            p["SPDXID"]
                .as_str()
                .unwrap()
                .starts_with("SPDXRef-Package-deb-")
        })
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(in_sbom, in_status);
    assert!(
        in_sbom.iter().any(|(n, _)| n == "libstdc++6"),
        "{in_sbom:?}"
    );
    let zlib = packages.iter().find(|p| p["name"] == "zlib1g").unwrap();
    assert_eq!(zlib["licenseDeclared"], "Zlib", "{zlib}");
    let falco = packages.iter().find(|p| p["name"] == "falco").unwrap();
    assert_eq!(falco["versionInfo"], "0.39.0");
    let falco_file = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fileName"] == "./usr/bin/falco")
        .unwrap();
    let sha256 =
        falco_artifacts_core::Sha256Digest::of_bytes(&std::fs::read(&binary).unwrap()).to_hex();
    assert_eq!(
        falco_file["checksums"][1]["checksumValue"],
        sha256.as_str(),
        "{falco_file}"
    );

    // Another key: refused.
    let other = CosignSigner::from_pkcs8_pem(&openssl_key(dir.path(), "other.key")).unwrap();
    let err = cosign_verify(
        dir.path(),
        &registry,
        "falcosecurity/falco",
        arch_tag.as_ref(),
        &other.public_key_pem(),
    )
    .unwrap_err();
    assert!(err.contains("Verification failure"), "{err}");

    // The tag moved to an unsigned manifest: refused.
    let unsigned = OciImage::builder(Arch::X86_64, source_date())
        .with_layer(built.payload.layer.clone(), "payload only")
        .build();
    client
        .push_image(&name, &unsigned, std::slice::from_ref(&arch_tag))
        .await
        .unwrap();
    let err = cosign_verify(
        dir.path(),
        &registry,
        "falcosecurity/falco",
        arch_tag.as_ref(),
        &signer.public_key_pem(),
    )
    .unwrap_err();
    assert!(err.starts_with("no signature"), "{err}");
}
