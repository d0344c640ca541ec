//! Pulling an image into the engine and running it once: the smoke test that a built image
//! starts (a dynamically linked binary in an image without its libraries does not).

use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, LogsOptions, RemoveContainerOptions,
    WaitContainerOptions,
};
use futures::StreamExt;

use crate::engine::Engine;
use crate::error::ImageError;
use crate::reference::ImageRef;

/// How a container ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// Its exit code.
    pub exit_code: i64,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
}

impl Engine {
    /// Pulls `reference` into the engine (a loopback registry needs no `--insecure-registry`:
    /// dockerd trusts 127.0.0.0/8 over plain HTTP).
    pub async fn pull(&self, reference: &ImageRef) -> Result<(), ImageError> {
        let options = CreateImageOptions {
            from_image: Some(reference.repository()),
            tag: Some(reference.tag.to_string()),
            ..CreateImageOptions::default()
        };
        let mut events = self.docker.create_image(Some(options), None, None);
        while let Some(event) = events.next().await {
            event.map_err(|source| ImageError::Engine {
                action: format!("pull {reference}"),
                source,
            })?;
        }
        Ok(())
    }

    /// Runs `image` (a reference or an ID the engine has) to completion, with `entrypoint`
    /// replacing the image's when given and `cmd` as its arguments, and removes the container.
    /// A container that cannot start (its entrypoint cannot be executed) is an
    /// [`ImageError::Engine`] error naming the image.
    ///
    /// ```no_run
    /// # async fn run(engine: falco_artifacts_images::Engine) -> Result<(), Box<dyn std::error::Error>> {
    /// let out = engine.run("127.0.0.1:5000/falcosecurity/falco:master", None, &["--version"]).await?;
    /// assert_eq!(out.exit_code, 0, "{}", out.stderr);
    /// # Ok(()) }
    /// ```
    pub async fn run(
        &self,
        image: &str,
        entrypoint: Option<&[&str]>,
        cmd: &[&str],
    ) -> Result<RunOutput, ImageError> {
        let engine_err = |action: String| move |source| ImageError::Engine { action, source };
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            entrypoint: entrypoint.map(strings),
            cmd: (!cmd.is_empty()).then(|| strings(cmd)),
            network_disabled: Some(true),
            ..ContainerCreateBody::default()
        };
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(engine_err(format!("create a container of {image}")))?;
        let id = created.id;
        let outcome = self.run_created(&id, image).await;
        let _ = self
            .docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..RemoveContainerOptions::default()
                }),
            )
            .await;
        outcome
    }

    async fn run_created(&self, id: &str, image: &str) -> Result<RunOutput, ImageError> {
        let engine_err = |action: String| move |source| ImageError::Engine { action, source };
        self.docker
            .start_container(id, None)
            .await
            .map_err(engine_err(format!("start a container of {image}")))?;
        let mut exit_code = 0;
        let mut waits = self.docker.wait_container(id, None::<WaitContainerOptions>);
        while let Some(wait) = waits.next().await {
            match wait {
                Ok(response) => exit_code = response.status_code,
                Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => {
                    exit_code = code
                }
                Err(source) => {
                    return Err(engine_err(format!("wait for a container of {image}"))(
                        source,
                    ))
                }
            }
        }
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            ..LogsOptions::default()
        };
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let mut logs = self.docker.logs(id, Some(options));
        while let Some(chunk) = logs.next().await {
            match chunk.map_err(engine_err(format!(
                "read the output of a container of {image}"
            )))? {
                LogOutput::StdOut { message } => {
                    stdout.push_str(&String::from_utf8_lossy(&message))
                }
                LogOutput::StdErr { message } => {
                    stderr.push_str(&String::from_utf8_lossy(&message))
                }
                _ => {}
            }
        }
        Ok(RunOutput {
            exit_code,
            stdout,
            stderr,
        })
    }
}
