//! `release run` with an `images:` section: after the packages, a `FROM scratch` image per
//! arch is built from the release tarball by a real dockerd, pushed with credentials to a
//! real docker-registry, and joined in a multi-arch index that skopeo reads back.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::process::Command;

use falco_artifacts_testkit::{require_tool, DockerEngine, Registry};

mod common;
use common::{run_with, write_test_key};

const USER: &str = "falco-ci";
const PASSWORD: &str = "s3cret-pass";

fn skopeo_raw(reference: &str) -> serde_json::Value {
    let skopeo = require_tool("skopeo", "Debian package skopeo").unwrap();
    let out = Command::new(skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("--creds={USER}:{PASSWORD}"))
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

#[test]
fn a_stable_release_pushes_tagged_images_and_a_multi_arch_index() {
    let docker = DockerEngine::start().unwrap();
    let registry = Registry::start_with_auth(USER, PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_test_key(dir.path());
    std::fs::write(
        dir.path().join("credentials.yaml"),
        format!(
            "registries:\n  {}: {{ username: {USER}, password: {PASSWORD} }}\n",
            registry.address()
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("repo")).unwrap();
    let config = dir.path().join("release.yaml");
    std::fs::write(
        &config,
        format!(
            "repository: file://{repo}\nmanifest: {manifest}\nwork_dir: work\n\
             signing:\n  key_file: key.asc\ngate:\n  command: [\"true\"]\n\
             images:\n  registry: \"{registry}\"\n  engine: \"{engine}\"\n  credentials: credentials.yaml\n",
            repo = dir.path().join("repo").display(),
            manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample/falco.yaml"),
            registry = registry.address(),
            engine = docker.docker_host(),
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
    assert_eq!(images["tags"], serde_json::json!(["0.45.0", "latest"]));
    assert_eq!(images["pushed"].as_array().unwrap().len(), 4, "{images}");

    for tag in ["0.45.0", "latest"] {
        let index = skopeo_raw(&format!("{}/falcosecurity/falco:{tag}", registry.address()));
        let platforms: Vec<String> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{index}");
    }
    let arm = skopeo_raw(&format!(
        "{}/falcosecurity/falco:aarch64-0.45.0",
        registry.address()
    ));
    assert_eq!(arm["layers"].as_array().unwrap().len(), 1, "{arm}");
}
