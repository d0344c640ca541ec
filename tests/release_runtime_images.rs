//! `release run` with `images.runtime`: the `falco` variant assembled from real Debian
//! packages (no engine), pushed to a real docker-registry with its SBOM attached and its
//! manifest and index signed in cosign's format; skopeo reads everything back.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_testkit::{require_tool, Registry};

mod common;
use common::{run_with, write_test_key};

fn skopeo_raw(reference: &str) -> serde_json::Value {
    let skopeo = require_tool("skopeo", "Debian package skopeo").unwrap();
    let out = Command::new(skopeo)
        .args(["inspect", "--raw", "--tls-verify=false", "--no-creds"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn debs() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("FALCO_TEST_IMAGE_DEBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target/test-image-debs"));
    let script = workspace.join("scripts/fetch-test-image-debs");
    let status = Command::new(&script).arg(&dir).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "cannot fetch the Debian packages of the image tests: run {} ({status:?})",
        script.display()
    );
    dir
}

#[test]
fn a_dev_release_pushes_runtime_images_with_sboms_and_signatures() {
    let debs = debs();
    let registry = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_test_key(dir.path());
    let openssl = require_tool("openssl", "Debian package openssl").unwrap();
    let key = dir.path().join("cosign.key");
    let out = Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::create_dir(dir.path().join("repo")).unwrap();
    let config = dir.path().join("release.yaml");
    std::fs::write(
        &config,
        format!(
            "repository: file://{repo}\nmanifest: {manifest}\nwork_dir: work\narches: [x86_64]\n\
             signing:\n  key_file: key.asc\ngate:\n  command: [\"true\"]\n\
             images:\n  registry: \"{registry}\"\n  runtime:\n    debs: {debs}\n    variants: [falco]\n    signing_key: {key}\n",
            repo = dir.path().join("repo").display(),
            manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample/falco.yaml"),
            registry = registry.address(),
            debs = debs.display(),
            key = key.display(),
        ),
    )
    .unwrap();
    let out = run_with(
        &[
            "run",
            "--tag",
            "0.45.0",
            "--config",
            config.to_str().unwrap(),
            "--json",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let images = &report["images"];
    assert_eq!(
        images["tags"],
        serde_json::json!(["0.45.0", "latest"]),
        "{images}"
    );
    assert_eq!(images["pushed"].as_array().unwrap().len(), 2, "{images}");
    assert_eq!(images["sboms"].as_array().unwrap().len(), 1, "{images}");
    // One per-arch manifest and two indexes.
    assert_eq!(
        images["signatures"].as_array().unwrap().len(),
        3,
        "{images}"
    );

    let name = format!("{}/falcosecurity/falco", registry.address());
    let index = skopeo_raw(&format!("{name}:0.45.0"));
    assert_eq!(
        index["manifests"][0]["platform"]["architecture"], "amd64",
        "{index}"
    );
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let image = skopeo_raw(&format!("{name}:x86_64-0.45.0"));
    assert_eq!(image["layers"].as_array().unwrap().len(), 3, "{image}");
    let hex = digest.trim_start_matches("sha256:");
    let sbom = skopeo_raw(&format!("{name}:sha256-{hex}.sbom"));
    assert_eq!(sbom["artifactType"], "application/spdx+json", "{sbom}");
    assert_eq!(sbom["subject"]["digest"], digest, "{sbom}");
    let sig = skopeo_raw(&format!("{name}:sha256-{hex}.sig"));
    let layer = &sig["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert!(
        layer["annotations"]["dev.cosignproject.cosign/signature"].is_string(),
        "{sig}"
    );
}
