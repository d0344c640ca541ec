//! A `FROM scratch` image made from a real release tarball: built, pushed with credentials,
//! read back by skopeo; wrong credentials refused; an unchanged re-push sends no layer.

use falco_artifacts_core::Arch;
use falco_artifacts_images::{
    BuildContext, CredentialStore, Credentials, ImageError, ImageSpec, OciLabels, PushEvent,
    PushOptions, RegistryClient, TagPolicy,
};
use falco_artifacts_testkit::{DockerEngine, Registry};

use crate::common::*;

#[tokio::test]
async fn tarball_image_is_built_pushed_with_credentials_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let release = release("0.39.0");
    let tarball = tarball(dir.path(), "0.39.0", Arch::X86_64, 300_000);
    let docker = DockerEngine::start().unwrap();
    let registry = Registry::start_with_auth(USER, PASSWORD).unwrap();
    // A mirror with credentials of its own, pushed in the same call.
    let mirror = Registry::start_with_auth("mirror-bot", "mirror-pass").unwrap();
    let engine = connect(&docker).await;

    let spec = ImageSpec::builder(
        name(),
        Arch::X86_64,
        BuildContext::release_tarball(&tarball),
        source_date(),
    )
    .with_release(&release)
    .with_oci_labels(
        &OciLabels::new(&release.version, source_date())
            .with_revision("1307474")
            .with_source("https://github.com/falcosecurity/falco")
            .with_licenses("Apache-2.0"),
    )
    .with_entrypoint(["/usr/bin/falco"])
    .build()
    .unwrap();
    let mut lines = Vec::new();
    let image = engine
        .build(&spec, |line| lines.push(line.to_owned()))
        .await
        .unwrap();
    assert!(image.id.starts_with("sha256:"), "{}", image.id);
    assert!(
        lines.iter().any(|l| l.contains("COPY rootfs/ /")),
        "build output streamed to the callback: {lines:?}"
    );

    // Tags from the channel and the registry's (still empty) tags.
    let address = registry.address().parse().unwrap();
    let good = Credentials::new(USER, PASSWORD);
    let client = RegistryClient::new(address, Some(good.clone())).unwrap();
    let existing = client.list_tags(&name()).await.unwrap();
    assert!(existing.is_empty());
    let tags = TagPolicy::default()
        .release_tags(&release.version, &existing)
        .unwrap();
    assert_eq!(tags.names(), ["0.39.0", "latest"]);
    let targets: Vec<_> = tags
        .for_arch(Arch::X86_64)
        .iter()
        .map(|t| image_ref(&registry, t.as_ref()))
        .collect();

    // Wrong credentials: a clear error, not retried.
    let wrong = CredentialStore::new().with(
        &targets[0].registry,
        Credentials::new(USER, "not-the-password"),
    );
    let err = engine
        .push(&image, &targets, &wrong, &PushOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::Unauthorized {
                had_credentials: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&registry.address()), "{err}");

    // Right credentials, from Docker's config.json.
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths":{{"http://{}":{{"username":"{USER}","password":"{PASSWORD}"}}}}}}"#,
            registry.address()
        ),
    )
    .unwrap();
    let mirror_creds = dir.path().join("mirror.yaml");
    std::fs::write(
        &mirror_creds,
        format!(
            "registries:\n  {}: {{ username: mirror-bot, password_env: IMAGES_TEST_MIRROR_PASSWORD }}\n",
            mirror.address()
        ),
    )
    .unwrap();
    std::env::set_var("IMAGES_TEST_MIRROR_PASSWORD", "mirror-pass");
    let store = CredentialStore::new()
        .with_docker_config(&config)
        .unwrap()
        .with_file(&mirror_creds)
        .unwrap();
    let mirror_target = image_ref(&mirror, "x86_64-0.39.0");
    let all_targets: Vec<_> = targets
        .iter()
        .cloned()
        .chain([mirror_target.clone()])
        .collect();
    let mut progress = 0;
    let reports = engine
        .push(
            &image,
            &all_targets,
            &store,
            &PushOptions::default(),
            |event| {
                if let PushEvent::Progress { .. } = event {
                    progress += 1;
                }
            },
        )
        .await
        .unwrap();
    assert!(progress > 0);
    assert_eq!(reports.len(), 3);
    assert!(reports[0].layers_pushed >= 1, "{:?}", reports[0]);
    assert!(reports[0].digest.is_some());
    // The second tag shares every layer with the first.
    assert_eq!(reports[1].layers_pushed, 0, "{:?}", reports[1]);
    // The mirror got every layer, and the same manifest.
    assert!(reports[2].layers_pushed >= 1, "{:?}", reports[2]);
    assert_eq!(reports[2].digest, reports[0].digest);
    let mirrored = skopeo_json(
        &mirror_target.to_string(),
        Some(("mirror-bot", "mirror-pass")),
    );
    assert_eq!(
        mirrored["Labels"]["org.opencontainers.image.version"],
        "0.39.0"
    );

    // From the outside: labels, layers, tags, platform.
    let creds = Some((USER, PASSWORD));
    let inspect = skopeo_json(&targets[0].to_string(), creds);
    let labels = &inspect["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], "0.39.0");
    assert_eq!(labels["org.opencontainers.image.revision"], "1307474");
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1, "{inspect}");
    assert_eq!(
        inspect["Digest"].as_str(),
        reports[0].digest.as_deref(),
        "the engine's digest is the registry's"
    );
    let mut repo_tags: Vec<&str> = inspect["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    repo_tags.sort();
    assert_eq!(repo_tags, ["x86_64-0.39.0", "x86_64-latest"]);
    let listed: Vec<String> = client
        .list_tags(&name())
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(listed, ["x86_64-0.39.0", "x86_64-latest"]);
    // The image config carries the entrypoint the tarball context asked for.
    let config: serde_json::Value =
        serde_json::from_slice(&skopeo_config(&targets[0].to_string())).unwrap();
    assert_eq!(config["config"]["Entrypoint"][0], "/usr/bin/falco");

    // The layer holds the tarball's tree without its top directory.
    let layer_files = layer_listing(&docker, &image.id);
    for path in [
        "usr/bin/falco",
        "etc/falco/falco.yaml",
        "usr/share/falco/latest",
    ] {
        assert!(
            layer_files.iter().any(|f| f == path),
            "{path} missing from {layer_files:?}"
        );
    }
    assert!(!layer_files.iter().any(|f| f.starts_with("falco-0.39.0")));

    // Pushing again unchanged sends no layer.
    let again = engine
        .push(
            &image,
            &targets[..1],
            &store,
            &PushOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(again[0].layers_pushed, 0, "{:?}", again[0]);
    assert!(again[0].layers_existing >= 1, "{:?}", again[0]);
    assert_eq!(again[0].digest, reports[0].digest);

    // Rebuilding from the same tarball (no cache) gives the same layer: nothing to send.
    let rebuilt = engine.build(&spec, |_| {}).await.unwrap();
    let pushed = engine
        .push(
            &rebuilt,
            &targets[..1],
            &store,
            &PushOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(pushed[0].layers_pushed, 0, "{:?}", pushed[0]);
    let layers = skopeo_json(&targets[0].to_string(), creds)["Layers"].clone();
    assert_eq!(
        layers, inspect["Layers"],
        "the layer digest is reproducible"
    );
}

fn skopeo_config(reference: &str) -> Vec<u8> {
    let program = falco_artifacts_testkit::require_tool("skopeo", "Debian package skopeo").unwrap();
    let output = std::process::Command::new(program)
        .args(["inspect", "--config", "--tls-verify=false"])
        .arg(format!("--creds={USER}:{PASSWORD}"))
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `tar -tf` of an archive.
fn tar_list(archive: &std::path::Path) -> Vec<String> {
    let output = std::process::Command::new("tar")
        .arg("-tf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect()
}

/// The image's files, from `docker save` through GNU tar.
fn layer_listing(docker: &DockerEngine, id: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("image.tar");
    let status = docker
        .cli()
        .unwrap()
        .args(["save", "-o"])
        .arg(&saved)
        .arg(id)
        .status()
        .unwrap();
    assert!(status.success());
    let layer = tar_list(&saved)
        .into_iter()
        .find(|m| m.ends_with("layer.tar"))
        .unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&saved)
        .arg("-C")
        .arg(dir.path())
        .arg(&layer)
        .status()
        .unwrap();
    assert!(status.success());
    tar_list(&dir.path().join(&layer))
}
