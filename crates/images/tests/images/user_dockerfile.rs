//! A user's Dockerfile and directory with build args; a failing build's log in its error.

use falco_artifacts_core::Arch;
use falco_artifacts_images::{BuildContext, ImageError, ImageSpec};
use falco_artifacts_testkit::DockerEngine;

use crate::common::*;

#[tokio::test]
async fn dockerfile_context_gets_build_args_and_failures_carry_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    std::fs::create_dir_all(context.join("docker/falco")).unwrap();
    std::fs::create_dir_all(context.join("files")).unwrap();
    std::fs::write(context.join("files/hello.txt"), "hello\n").unwrap();
    std::fs::write(
        context.join("docker/falco/Dockerfile"),
        "FROM scratch\nARG FALCO_VERSION\nARG VERSION_BUCKET\nARG TARGETARCH\n\
         LABEL from.args=\"${FALCO_VERSION} ${VERSION_BUCKET} ${TARGETARCH}\"\n\
         COPY files/ /srv/\n",
    )
    .unwrap();
    let docker = DockerEngine::start().unwrap();
    let engine = connect(&docker).await;
    let release = release("0.45.0-rc1");
    let spec = ImageSpec::builder(
        name(),
        Arch::X86_64,
        BuildContext::Dockerfile {
            dir: context.clone(),
            dockerfile: "docker/falco/Dockerfile".into(),
        },
        source_date(),
    )
    .with_release(&release)
    .with_label("org.example.extra", "yes")
    .build()
    .unwrap();
    let image = engine.build(&spec, |_| {}).await.unwrap();
    let inspect = engine.docker().inspect_image(&image.id).await.unwrap();
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(labels["from.args"], "0.45.0-rc1 bin-dev amd64");
    assert_eq!(labels["org.example.extra"], "yes");

    // A build that fails: its message and log lines are in the error.
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY does-not-exist /\n",
    )
    .unwrap();
    let failing = ImageSpec::builder(
        name(),
        Arch::X86_64,
        BuildContext::dockerfile_dir(&context),
        source_date(),
    )
    .build()
    .unwrap();
    let mut streamed = Vec::new();
    let err = engine
        .build(&failing, |l| streamed.push(l.to_owned()))
        .await
        .unwrap_err();
    let ImageError::BuildFailed { message, log, .. } = &err else {
        panic!("expected BuildFailed, got {err:?}");
    };
    assert!(message.contains("does-not-exist"), "{message}");
    assert!(
        log.iter()
            .any(|l| l.contains("Step 2/2 : COPY does-not-exist /")),
        "{log:?}"
    );
    assert_eq!(&streamed, log);
    let text = err.to_string();
    assert!(
        text.contains("build log") && text.contains("Step 2/2"),
        "{text}"
    );
}
