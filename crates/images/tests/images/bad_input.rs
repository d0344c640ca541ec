//! Bad input gives clear errors: a missing engine socket, unreachable registries, invalid
//! names and tags, HTTPS without the `tls` feature.

use std::time::Duration;

use falco_artifacts_core::Arch;
use falco_artifacts_images::{
    BuildContext, CredentialStore, Engine, ImageError, ImageName, ImageRef, ImageSpec, PushOptions,
    RegistryAddr, RegistryClient, Tag,
};
use falco_artifacts_testkit::{free_port, DockerEngine};

use crate::common::*;

#[tokio::test]
async fn a_missing_engine_socket_names_the_path() {
    let err = Engine::connect("unix:///tmp/no-such-dir/docker.sock")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImageError::EngineSocketMissing { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("/tmp/no-such-dir/docker.sock"),
        "{err}"
    );
    let err = Engine::connect("ftp://x").await.unwrap_err();
    assert!(
        matches!(err, ImageError::InvalidEngineHost { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("ftp://x"), "{err}");
}

#[test]
fn invalid_names_and_tags_are_refused_with_the_rule() {
    let err = "Falco/Image".parse::<ImageName>().unwrap_err();
    assert!(
        err.to_string()
            .contains("\"Falco/Image\" is not a valid image name"),
        "{err}"
    );
    let err = "0.45.0-36+1307474".parse::<Tag>().unwrap_err();
    assert!(err.to_string().contains("'+' is not allowed"), "{err}");
    assert!("http://127.0.0.1:5000".parse::<RegistryAddr>().is_err());
}

#[tokio::test]
async fn an_unreachable_registry_is_reported_after_retries() {
    let port = free_port().unwrap();
    let address: RegistryAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = RegistryClient::new(address, None)
        .unwrap()
        .with_retries(2, Duration::from_millis(10));
    let err = client.list_tags(&name()).await.unwrap_err();
    let ImageError::RegistryUnreachable { attempts, .. } = &err else {
        panic!("expected RegistryUnreachable, got {err:?}");
    };
    assert_eq!(*attempts, 2);
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );

    if !cfg!(feature = "tls") {
        let https: RegistryAddr = "registry.example.invalid".parse().unwrap();
        let err = RegistryClient::new(https, None).unwrap_err();
        assert!(matches!(err, ImageError::TlsDisabled { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn pushing_to_an_unreachable_registry_fails_after_the_attempts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY a /a\n").unwrap();
    std::fs::write(dir.path().join("a"), "a").unwrap();
    let docker = DockerEngine::start().unwrap();
    let engine = connect(&docker).await;
    let spec = ImageSpec::builder(
        name(),
        Arch::X86_64,
        BuildContext::dockerfile_dir(dir.path()),
        source_date(),
    )
    .build()
    .unwrap();
    let image = engine.build(&spec, |_| {}).await.unwrap();
    let port = free_port().unwrap();
    let target = ImageRef::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
        name(),
        "x86_64-master".parse().unwrap(),
    );
    let options = PushOptions {
        attempts: 2,
        backoff: Duration::from_millis(10),
    };
    let mut retries = 0;
    let err = engine
        .push(&image, &[target], &CredentialStore::new(), &options, |e| {
            if matches!(e, falco_artifacts_images::PushEvent::Retrying { .. }) {
                retries += 1;
            }
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImageError::PushFailed { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(retries, 1);
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
