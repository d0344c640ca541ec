//! The errors of this crate, with the context needed to act on them.

use std::fmt;
use std::path::PathBuf;

use crate::credentials::CredentialsError;
use crate::reference::InvalidReference;
use crate::rootfs::MissingDependency;

/// How many of a failed build's last log lines the error message shows.
const LOG_LINES_SHOWN: usize = 30;

/// Why building, pushing, indexing or copying an image failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// An image name, tag or registry address is not valid.
    #[error(transparent)]
    InvalidReference(#[from] InvalidReference),
    /// Credentials could not be loaded.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// A spec is missing something or has a bad value.
    #[error("invalid image spec for {image}: {problem}")]
    InvalidSpec {
        /// The image.
        image: String,
        /// What is wrong.
        problem: String,
    },
    /// The engine address is neither a unix socket nor plain TCP.
    #[error("engine address {host:?} is neither unix:///path/to/docker.sock nor tcp://host:port")]
    InvalidEngineHost {
        /// The address given.
        host: String,
    },
    /// The engine's unix socket does not exist.
    #[error(
        "no container engine socket at {socket}: is dockerd running, and is DOCKER_HOST right?"
    )]
    EngineSocketMissing {
        /// The socket path.
        socket: PathBuf,
    },
    /// The engine did not answer.
    #[error("cannot reach the container engine at {host}")]
    EngineUnreachable {
        /// `DOCKER_HOST`-style address.
        host: String,
        /// Why.
        #[source]
        source: bollard::errors::Error,
    },
    /// An engine API call failed.
    #[error("container engine: cannot {action}")]
    Engine {
        /// What was being done.
        action: String,
        /// Why.
        #[source]
        source: bollard::errors::Error,
    },
    /// The build context could not be prepared or read.
    #[error("build context {path}: cannot {action}")]
    Context {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The release tarball could not be unpacked into a build context.
    #[error("cannot unpack release tarball {path} into the build context")]
    Tarball {
        /// The tarball.
        path: PathBuf,
        /// Why.
        #[source]
        source: falco_artifacts_pkg_tar::ReadError,
    },
    /// The engine ran the build and it failed.
    #[error("building {image} failed: {message}{}", LogTail(log))]
    BuildFailed {
        /// The image being built.
        image: String,
        /// The engine's error message.
        message: String,
        /// The build's output lines, in order.
        log: Vec<String>,
    },
    /// The registry refused the credentials (or their absence).
    #[error("registry {registry} refused the credentials{}: {detail}", if *.had_credentials { "" } else { " (none were given)" })]
    Unauthorized {
        /// The registry.
        registry: String,
        /// Whether credentials were sent.
        had_credentials: bool,
        /// What the registry or engine said.
        detail: String,
    },
    /// Pushing through the engine failed after every attempt.
    #[error("pushing {image} failed after {attempts} attempt(s): {message}")]
    PushFailed {
        /// The reference pushed.
        image: String,
        /// Attempts made.
        attempts: u32,
        /// The engine's last error message.
        message: String,
    },
    /// The registry could not be reached (after retries).
    #[error("cannot reach registry {registry} ({request}) after {attempts} attempt(s)")]
    RegistryUnreachable {
        /// The registry.
        registry: String,
        /// The request.
        request: String,
        /// Attempts made.
        attempts: u32,
        /// Why.
        #[source]
        source: ureq::Error,
    },
    /// The registry answered with an unexpected status.
    #[error("registry {registry}: {request} answered HTTP {status}: {body}")]
    RegistryStatus {
        /// The registry.
        registry: String,
        /// The request.
        request: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The registry sent something this crate cannot use.
    #[error("registry {registry}: {request}: {problem}")]
    RegistryProtocol {
        /// The registry.
        registry: String,
        /// The request.
        request: String,
        /// What is wrong.
        problem: String,
    },
    /// HTTPS is needed but the crate was built without the `tls` feature.
    #[error("registry {registry} needs HTTPS, but falco-artifacts-images was built without its `tls` feature (or mark the registry plain HTTP)")]
    TlsDisabled {
        /// The registry.
        registry: String,
    },
    /// A manifest or image the operation needs is not in the registry.
    #[error("{reference} is not in the registry")]
    NotFound {
        /// The reference looked up.
        reference: String,
    },
    /// A manifest is not valid JSON of the expected shape.
    #[error("manifest {reference} is not a valid image manifest or index")]
    InvalidManifest {
        /// The reference.
        reference: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// An image's config says another architecture than the tag it was pushed under.
    #[error(
        "{reference} is a {found} image, not {expected}: was it built for the right platform?"
    )]
    ArchMismatch {
        /// The reference.
        reference: String,
        /// The arch the tag promises (OCI name).
        expected: String,
        /// The arch in the image config.
        found: String,
    },
    /// A `.deb` of a root filesystem could not be read or unpacked.
    #[error("package {path}")]
    Package {
        /// The package file.
        path: PathBuf,
        /// Why.
        #[source]
        source: falco_artifacts_pkg_deb::ReadError,
    },
    /// An APT repository's index or package could not be used.
    #[error("APT repository: {url} {problem}")]
    AptRepository {
        /// The URL fetched.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// An APT repository could not be reached or its answer not read.
    #[error("APT repository: cannot fetch {url}")]
    AptFetch {
        /// The URL fetched.
        url: String,
        /// Why.
        #[source]
        source: ureq::Error,
    },
    /// A paragraph of an APT repository's `Packages` index is not a valid stanza.
    #[error("APT repository: {url}: paragraph {paragraph} is not a valid package stanza")]
    AptIndex {
        /// The index.
        url: String,
        /// Which paragraph (from 1).
        paragraph: usize,
        /// Why.
        #[source]
        source: falco_artifacts_pkg_deb::ControlError,
    },
    /// A download from an APT repository broke off.
    #[error("APT repository: reading {url} failed")]
    AptRead {
        /// The URL fetched.
        url: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A downloaded package is not the one its index named.
    #[error("package {path} is {found}, its index says {expected}")]
    PackageMismatch {
        /// The package file.
        path: PathBuf,
        /// Name and version the index gave.
        expected: String,
        /// Name and version the package says.
        found: String,
    },
    /// One package is in the set twice.
    #[error("package {package} is in the set twice: {first} and {second}; keep one")]
    DuplicatePackage {
        /// The package name.
        package: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// The set of packages lacks dependencies of the packages asked for.
    #[error("the package set lacks {}: {}", if missing.len() == 1 { "a dependency" } else { "dependencies" }, Missing(missing))]
    MissingDependencies {
        /// Each relation no package satisfies, with the package that needs it.
        missing: Vec<MissingDependency>,
    },
    /// Two sources put different things at one path of a layer.
    #[error("{path} comes from both {first} and {second}")]
    RootfsConflict {
        /// The path inside the image.
        path: String,
        /// Where the first one came from.
        first: String,
        /// Where the second one came from.
        second: String,
    },
    /// A background task stopped before finishing (it panicked or the runtime shut down).
    #[error("{what} stopped before finishing")]
    Interrupted {
        /// What was running.
        what: &'static str,
    },
}

/// Missing dependencies, comma-separated.
struct Missing<'a>(&'a [MissingDependency]);

impl fmt::Display for Missing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

/// The last lines of a build log, one per line after the message.
struct LogTail<'a>(&'a [String]);

impl fmt::Display for LogTail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        let start = self.0.len().saturating_sub(LOG_LINES_SHOWN);
        f.write_str("\nbuild log")?;
        if start > 0 {
            write!(f, " (last {LOG_LINES_SHOWN} lines)")?;
        }
        f.write_str(":")?;
        for line in &self.0[start..] {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_failures_show_the_log_tail() {
        let log: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
        let err = ImageError::BuildFailed {
            image: "falco".into(),
            message: "COPY failed".into(),
            log,
        };
        let text = err.to_string();
        assert!(text.starts_with("building falco failed: COPY failed\nbuild log (last 30 lines):"));
        assert!(
            text.contains("\n  line 39") && !text.contains("line 9\n"),
            "{text}"
        );
    }
}
