//! Pushing built images through the engine to a primary registry and its mirrors.

use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptions;
use futures::StreamExt;

use crate::credentials::CredentialStore;
use crate::engine::{BuiltImage, Engine};
use crate::error::ImageError;
use crate::reference::ImageRef;

/// How a push is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// Tries per reference (at least 1). Refused credentials are never retried.
    pub attempts: u32,
    /// The pause after the first failure; it doubles after each.
    pub backoff: Duration,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Progress of a push, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushEvent<'a> {
    /// A status line: `Preparing`, `Pushing` (with byte counts), `Pushed`,
    /// `Layer already exists`, the final `<tag>: digest: sha256:… size: N`.
    Progress {
        /// The reference being pushed.
        image: &'a ImageRef,
        /// The engine's status text.
        status: &'a str,
        /// Bytes done in the current layer, when reported.
        current: Option<u64>,
        /// Bytes of the current layer, when reported.
        total: Option<u64>,
    },
    /// An attempt failed and another follows after a pause.
    Retrying {
        /// The reference being pushed.
        image: &'a ImageRef,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Why it failed.
        error: &'a str,
    },
}

/// What one reference's push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The reference pushed.
    pub image: ImageRef,
    /// The manifest digest the registry now holds, as the engine reported it.
    pub digest: Option<String>,
    /// Layers uploaded.
    pub layers_pushed: u64,
    /// Layers the registry had already (or mounted from another repository): no bytes sent.
    pub layers_existing: u64,
    /// Attempts it took.
    pub attempts: u32,
}

/// Engine messages that mean the registry refused the credentials; retrying cannot help.
fn is_auth_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("unauthorized")
        || m.contains("authentication required")
        || m.contains("no basic auth credentials")
        || m.contains("denied")
}

/// `<tag>: digest: sha256:<hex> size: <n>` → the digest.
fn digest_in(status: &str) -> Option<String> {
    let rest = status.split("digest: ").nth(1)?;
    let digest = rest.split_whitespace().next()?;
    digest.starts_with("sha256:").then(|| digest.to_owned())
}

impl Engine {
    /// Tags `image` as each target and pushes it, one target after the other (a primary and
    /// its mirrors, or several tags), with the credentials the store holds for each target's
    /// registry. Each push is tried up to `options.attempts` times; progress goes to
    /// `on_event`. Stops at the first target that fails for good.
    ///
    /// ```no_run
    /// use falco_artifacts_images::{BuiltImage, CredentialStore, Engine, ImageRef, PushOptions};
    ///
    /// # async fn run(engine: Engine, image: BuiltImage) -> Result<(), Box<dyn std::error::Error>> {
    /// let target = ImageRef::new("127.0.0.1:5000".parse()?, "falcosecurity/falco".parse()?, "x86_64-0.39.0".parse()?);
    /// let credentials = CredentialStore::new().with_env(&target.registry, "REGISTRY_USER", "REGISTRY_PASSWORD")?;
    /// let reports = engine
    ///     .push(&image, &[target], &credentials, &PushOptions::default(), |event| println!("{event:?}"))
    ///     .await?;
    /// println!("{} layers sent", reports[0].layers_pushed);
    /// # Ok(()) }
    /// ```
    pub async fn push(
        &self,
        image: &BuiltImage,
        targets: &[ImageRef],
        credentials: &CredentialStore,
        options: &PushOptions,
        mut on_event: impl FnMut(PushEvent<'_>),
    ) -> Result<Vec<PushReport>, ImageError> {
        let mut reports = Vec::with_capacity(targets.len());
        for target in targets {
            self.tag(image, target).await?;
            let attempts = options.attempts.max(1);
            let mut attempt = 0;
            let report = loop {
                attempt += 1;
                match self.push_once(target, credentials, &mut on_event).await {
                    Ok(mut report) => {
                        report.attempts = attempt;
                        break report;
                    }
                    Err(message) if is_auth_failure(&message) => {
                        return Err(ImageError::Unauthorized {
                            registry: target.registry.to_string(),
                            had_credentials: credentials.get(&target.registry).is_some(),
                            detail: message,
                        });
                    }
                    Err(message) if attempt < attempts => {
                        on_event(PushEvent::Retrying {
                            image: target,
                            attempt,
                            error: &message,
                        });
                        tokio::time::sleep(options.backoff * 2u32.saturating_pow(attempt - 1))
                            .await;
                    }
                    Err(message) => {
                        return Err(ImageError::PushFailed {
                            image: target.to_string(),
                            attempts: attempt,
                            message,
                        })
                    }
                }
            };
            reports.push(report);
        }
        Ok(reports)
    }

    /// One push; the error is the engine's message.
    async fn push_once(
        &self,
        target: &ImageRef,
        credentials: &CredentialStore,
        on_event: &mut impl FnMut(PushEvent<'_>),
    ) -> Result<PushReport, String> {
        let auth = credentials
            .get(&target.registry)
            .map(|c| DockerCredentials {
                username: Some(c.username.clone()),
                password: Some(c.password.clone()),
                serveraddress: Some(target.registry.to_string()),
                ..DockerCredentials::default()
            });
        let options = PushImageOptions {
            tag: Some(target.tag.to_string()),
            platform: None,
        };
        let mut report = PushReport {
            image: target.clone(),
            digest: None,
            layers_pushed: 0,
            layers_existing: 0,
            attempts: 1,
        };
        let mut stream = self
            .docker
            .push_image(&target.repository(), Some(options), auth);
        while let Some(event) = stream.next().await {
            let info = event.map_err(|e| match e {
                bollard::errors::Error::DockerStreamError { error } => error,
                other => other.to_string(),
            })?;
            let status = info.status.unwrap_or_default();
            let progress = info.progress_detail.unwrap_or_default();
            match status.as_str() {
                "Pushed" => report.layers_pushed += 1,
                "Layer already exists" => report.layers_existing += 1,
                s if s.starts_with("Mounted from") => report.layers_existing += 1,
                s => {
                    if let Some(digest) = digest_in(s) {
                        report.digest = Some(digest);
                    }
                }
            }
            on_event(PushEvent::Progress {
                image: target,
                status: &status,
                current: progress.current.and_then(|n| u64::try_from(n).ok()),
                total: progress.total.and_then(|n| u64::try_from(n).ok()),
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_final_digest_line() {
        assert_eq!(
            digest_in("x86_64-0.39.0: digest: sha256:abcd size: 528").as_deref(),
            Some("sha256:abcd")
        );
        assert_eq!(digest_in("Pushing"), None);
    }

    #[test]
    fn auth_failures_are_not_retried() {
        assert!(is_auth_failure("unauthorized: authentication required"));
        assert!(is_auth_failure(
            "denied: requested access to the resource is denied"
        ));
        assert!(!is_auth_failure(
            "dial tcp 127.0.0.1:1: connect: connection refused"
        ));
    }
}
