//! Two arch variants pushed, joined in an index through the registry API, the index updated
//! for one arch, then the tag copied to a second registry without the engine.

use falco_artifacts_core::Arch;
use falco_artifacts_images::{
    copy_tag, media_types, BuildContext, CredentialStore, Credentials, ImageSpec, OciLabels,
    PushOptions, RegistryClient, Tag, TagPolicy,
};
use falco_artifacts_testkit::{DockerEngine, Registry};

use crate::common::*;

#[tokio::test]
async fn two_arches_make_an_index_that_survives_updates_and_mirrors_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let release = release("0.39.0");
    let docker = DockerEngine::start().unwrap();
    let primary = Registry::start().unwrap();
    let mirror = Registry::start_with_auth(USER, PASSWORD).unwrap();
    let engine = connect(&docker).await;
    let tag: Tag = "0.39.0".parse().unwrap();
    let credentials = CredentialStore::new();

    let mut images = Vec::new();
    for arch in Arch::ALL {
        let tarball = tarball(dir.path(), "0.39.0", arch, 50_000);
        let spec = ImageSpec::builder(
            name(),
            arch,
            BuildContext::release_tarball(&tarball),
            source_date(),
        )
        .with_release(&release)
        .with_oci_labels(&OciLabels::new(&release.version, source_date()))
        .build()
        .unwrap();
        let image = engine.build(&spec, |_| {}).await.unwrap();
        let target = image_ref(
            &primary,
            falco_artifacts_images::arch_tag(arch, &tag).as_ref(),
        );
        engine
            .push(
                &image,
                &[target],
                &credentials,
                &PushOptions::default(),
                |_| {},
            )
            .await
            .unwrap();
        images.push(image);
    }

    let client = RegistryClient::new(primary.address().parse().unwrap(), None).unwrap();
    // First only x86_64, then aarch64 alone: the update keeps x86_64.
    let first = client
        .update_index(&name(), &tag, &[Arch::X86_64])
        .await
        .unwrap();
    assert_eq!(first.platforms, ["linux/amd64"]);
    let second = client
        .update_index(&name(), &tag, &[Arch::Aarch64])
        .await
        .unwrap();
    assert_eq!(second.platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(second.media_type, media_types::DOCKER_MANIFEST_LIST);
    // Deterministic: both arches at once give the same bytes.
    let both = client
        .update_index(&name(), &tag, &Arch::ALL)
        .await
        .unwrap();
    assert_eq!(both.bytes, second.bytes);
    assert_eq!(both.digest, second.digest);

    // From the outside: the raw index lists both platforms, pointing at the per-arch images.
    let reference = image_ref(&primary, "0.39.0").to_string();
    let raw = skopeo(&reference, None, true);
    assert_eq!(raw, both.bytes, "skopeo reads the bytes we wrote");
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    let arches: Vec<&str> = manifests
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"]);
    for (arch, entry) in Arch::ALL.iter().zip(manifests) {
        let per_arch = image_ref(&primary, &format!("{arch}-0.39.0")).to_string();
        let inspect = skopeo_json(&per_arch, None);
        assert_eq!(entry["digest"], inspect["Digest"]);
        assert_eq!(inspect["Architecture"], arch.docker_name());
    }

    // Tags now seen in the registry drive the next release's tags.
    let existing = client.list_tags(&name()).await.unwrap();
    let backport: falco_artifacts_core::Version = "0.38.3".parse().unwrap();
    let tags = TagPolicy::default()
        .release_tags(&backport, &existing)
        .unwrap();
    assert_eq!(
        tags.names(),
        ["0.38.3"],
        "an older stable never takes latest"
    );

    // The registry API refuses wrong credentials with a clear error.
    let intruder = RegistryClient::new(
        mirror.address().parse().unwrap(),
        Some(Credentials::new(USER, "wrong")),
    )
    .unwrap();
    let err = intruder.list_tags(&name()).await.unwrap_err();
    assert!(
        matches!(
            err,
            falco_artifacts_images::ImageError::Unauthorized {
                had_credentials: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&mirror.address()), "{err}");
    let err = copy_tag(&client, &name(), &intruder, &name(), &tag)
        .await
        .unwrap_err();
    assert!(
        matches!(err, falco_artifacts_images::ImageError::Unauthorized { .. }),
        "{err:?}"
    );

    // Mirror copy, with credentials on the destination only.
    let dst = RegistryClient::new(
        mirror.address().parse().unwrap(),
        Some(Credentials::new(USER, PASSWORD)),
    )
    .unwrap();
    let report = copy_tag(&client, &name(), &dst, &name(), &tag)
        .await
        .unwrap();
    assert_eq!(report.digest, both.digest);
    assert_eq!(report.manifests, 3);
    // Two configs and one layer: both arches hold the same files, so they share it (and the
    // second arch finds it already there).
    assert_eq!(
        (report.blobs_copied, report.blobs_present),
        (3, 1),
        "{report:?}"
    );
    let mirrored = image_ref(&mirror, "0.39.0").to_string();
    let creds = Some((USER, PASSWORD));
    assert_eq!(skopeo(&mirrored, creds, true), raw, "same index bytes");
    for arch in Arch::ALL {
        let digest = |registry: &Registry, c| {
            let r = image_ref(registry, "0.39.0").to_string();
            let index: serde_json::Value = serde_json::from_slice(&skopeo(&r, c, true)).unwrap();
            index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["platform"]["architecture"] == arch.docker_name())
                .unwrap()["digest"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let by_digest = format!("{}/{}@{}", mirror.address(), name(), digest(&mirror, creds));
        let copied = skopeo_json(&by_digest, creds);
        assert_eq!(copied["Digest"].as_str().unwrap(), digest(&primary, None));
        assert_eq!(copied["Architecture"], arch.docker_name());
        assert_eq!(
            copied["Labels"]["org.opencontainers.image.version"],
            "0.39.0"
        );
    }
    // Copying again transfers nothing.
    let again = copy_tag(&client, &name(), &dst, &name(), &tag)
        .await
        .unwrap();
    assert_eq!(again.blobs_copied, 0);
    assert_eq!(again.digest, report.digest);
    drop(images);
}
