//! The one error type every helper returns.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

/// Why a service or throwaway environment could not be provided.
///
/// Every variant names what was being done in typed fields, so a failing test says which
/// package to install, which service hung (with the tail of its log) or which command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// A program the helper drives is not on `PATH`.
    #[error("`{tool}` not found on PATH: install the {package} (scripts/install-test-deps does)")]
    MissingTool {
        /// The program looked for, e.g. `moto_server`.
        tool: String,
        /// Where it comes from, e.g. `PyPI package moto[server]` or `Debian package docker.io`.
        package: String,
    },
    /// The program exists but could not be started.
    #[error("could not start `{tool}`")]
    Spawn {
        /// The program that failed to start.
        tool: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The service was started but did not answer in time.
    #[error("{service} did not become ready within {waited:?}; last lines of its log:\n{log}")]
    NotReady {
        /// Which service, e.g. `moto_server`.
        service: String,
        /// How long we waited.
        waited: Duration,
        /// The tail of the service's combined stdout and stderr.
        log: String,
    },
    /// The service exited while we waited for it to become ready.
    #[error("{service} exited ({status}) before becoming ready; last lines of its log:\n{log}")]
    Exited {
        /// Which service.
        service: String,
        /// How it exited.
        status: ExitStatus,
        /// The tail of the service's combined stdout and stderr.
        log: String,
    },
    /// A local file-system or process operation failed.
    #[error("could not {action}")]
    Io {
        /// What was being done, e.g. `create a temporary directory`.
        action: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// An HTTP request to a started service failed at the transport level.
    #[error("HTTP request {request} failed")]
    Http {
        /// The request, e.g. `PUT http://127.0.0.1:4000/bucket`.
        request: String,
        /// The client's reason.
        #[source]
        source: ureq::Error,
    },
    /// A service answered a request with a status the helper did not expect.
    #[error("HTTP request {request} answered {status}: {body}")]
    UnexpectedStatus {
        /// The request, e.g. `PUT http://127.0.0.1:4000/bucket`.
        request: String,
        /// The HTTP status code received.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// A started service does not behave the way the tests rely on.
    #[error("self-check failed: {what}: {detail}")]
    Check {
        /// The property checked, e.g. `S3 conditional create`.
        what: String,
        /// What was observed instead.
        detail: String,
    },
    /// A headless browser run exited unsuccessfully.
    #[error("chromium {} exited ({status}); last lines of its log:\n{log}", args.join(" "))]
    Browser {
        /// The arguments chromium was run with.
        args: Vec<String>,
        /// How it exited.
        status: ExitStatus,
        /// The tail of what it wrote to stderr.
        log: String,
    },
    /// A `gpg` (or `gpgconf`) invocation exited unsuccessfully.
    #[error("gpg {} failed: {stderr}", args.join(" "))]
    Gpg {
        /// The arguments gpg was run with.
        args: Vec<String>,
        /// What gpg wrote to stderr.
        stderr: String,
    },
}

impl TestkitError {
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}
