//! Building drivers: the [`DriverBuilder`] contract, a local backend that compiles against
//! downloaded header packages ([`LocalBuilder`]), a backend that runs driverkit
//! ([`DriverkitBuilder`]) and the grid runner ([`GridRunner`]) that executes a plan with
//! bounded parallelism, per-build timeouts and logs, and a final [`GridReport`].
//! [`GridBuild`] wires a backend, its directories and limits into a runner from options: the
//! one setup that command-line tools and release pipelines share.

mod command;
mod configure;
mod copy;
mod driverkit;
mod fetch;
mod grid;
mod kbuild;
mod report;
mod runner;
mod scratch;
mod source;
mod unpack;
#[cfg(test)]
mod unpack_tests;

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

pub use command::{BuildContext, CancelToken};
pub use driverkit::{DriverkitBuilder, DriverkitCapabilities, DriverkitMode};
pub use fetch::{FetchError, Fetched, Fetcher};
pub use grid::{Backend, GridBuild, GridError};
pub use kbuild::LocalBuilder;
pub use report::{BuildRecord, BuildStatus, GridReport, NotBuilt};
pub use runner::{GridJob, GridRunner, JobsError, Progress};
pub use source::{DriverSource, DriverTree, DEFAULT_DRIVER_NAME, DRIVER_VERSION_PLACEHOLDER};
pub use unpack::{KernelTree, UnpackError};

use crate::kernel::DriverKind;

/// Builds the drivers of one config. Implementations must:
///
/// - write only inside the `work` directory they are given (it is private to the build and
///   removed after it), never into the output directory: the runner moves the files they
///   return into place, under their final names, only when every output of the build exists;
/// - run external programs through [`BuildContext::run`], so that their output lands in the
///   build's log and a build past its deadline or a cancelled run kills them;
/// - return one file per output the job requests, or an error; never a partial list. An output
///   the backend or the driver version cannot make at all (a legacy probe for a driver version
///   without one) is listed in [`BuildOutcome::not_built`] with the reason instead: the build
///   still succeeds with the rest.
pub trait DriverBuilder: Send + Sync {
    /// A short name for reports (`local`, `driverkit`).
    fn name(&self) -> &str;

    /// Checks that the programs this backend runs are installed, for the kinds wanted; the
    /// error names what to install.
    fn check_tools(&self, kinds: &[DriverKind]) -> Result<(), BuildError>;

    /// Builds every output of `job`, returning each file (inside `work`) with its kind.
    fn build(
        &self,
        job: &GridJob,
        work: &Path,
        ctx: &mut BuildContext<'_>,
    ) -> Result<BuildOutcome, BuildError>;
}

/// What one build made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOutcome {
    /// Each file built (inside the build's work directory), with its kind.
    pub files: Vec<(DriverKind, PathBuf)>,
    /// The outputs requested that this driver version or backend cannot make, and why.
    pub not_built: Vec<NotBuilt>,
}

/// Why one build failed. The grid records it and goes on with the other builds.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The config lists no header package to download.
    #[error("the config has no kernelurls: no headers to build against")]
    NoKernelUrls,
    /// A header package could not be downloaded.
    #[error("cannot download the header package {url}")]
    Download {
        /// The URL, from `kernelurls`.
        url: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// The digests the config pins for its header packages are wrong.
    #[error("the config's header package digests are wrong")]
    KernelDigest(#[source] crate::KernelDigestError),
    /// The header packages could not be unpacked into a kernel build directory.
    #[error("cannot prepare the kernel headers")]
    Unpack(#[source] Box<UnpackError>),
    /// `kernelconfigdata` is not base64.
    #[error("kernelconfigdata is not valid base64")]
    KernelConfig(#[source] base64::DecodeError),
    /// A program the backend needs is not installed.
    #[error("{tool} is not installed (install {install})")]
    ToolMissing {
        /// The program looked for on `PATH`.
        tool: String,
        /// What provides it.
        install: String,
    },
    /// A program could not be started or watched.
    #[error("cannot run {program} ({step})")]
    Spawn {
        /// The build step.
        step: &'static str,
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A step's program failed (a compile error); its output is in the log.
    #[error("{step} failed ({status}); its output is in the build log")]
    Failed {
        /// The build step (`module`, `probe`, `driverkit`).
        step: &'static str,
        /// How it exited.
        status: ExitStatus,
        /// The build's log.
        log: PathBuf,
    },
    /// The build ran past its timeout; the step running then was killed.
    #[error("timed out after {timeout:?} during {step}")]
    TimedOut {
        /// The step running at the deadline.
        step: &'static str,
        /// The timeout.
        timeout: Duration,
    },
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A step succeeded but the file it should have made is not there.
    #[error("the {kind} was not produced: {} is missing", path.display())]
    NoOutput {
        /// Module or probe.
        kind: DriverKind,
        /// Where it was expected.
        path: PathBuf,
    },
    /// The driver source is neither a configured driver tree nor a libs checkout or tarball.
    #[error("{} is not a driver source: expected a configured driver tree (a Makefile or Kbuild with obj-m, as in /usr/src/<name>-<version>/), a falcosecurity/libs checkout (driver/CMakeLists.txt) or a .tar.gz of one", path.display())]
    NotADriverSource {
        /// The path given (or the downloaded file).
        path: PathBuf,
    },
    /// The driver tree's `Makefile`/`Kbuild` names no module.
    #[error("{}: neither Kbuild nor Makefile has an `obj-m += <name>.o` line", dir.display())]
    NoModuleInSource {
        /// The tree.
        dir: PathBuf,
    },
    /// A configured tree was given a name it was not configured with.
    #[error("{}: the {what} {wanted:?} was asked for, but this configured tree has {found:?} (only a libs source can be configured with another name)", dir.display())]
    NameMismatch {
        /// The tree.
        dir: PathBuf,
        /// `driver name` or `device name`.
        what: &'static str,
        /// The option.
        wanted: String,
        /// What the tree has.
        found: String,
    },
    /// The driver source could not be downloaded.
    #[error("cannot download the driver source {url}")]
    SourceDownload {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// The driver source tarball is damaged or unsafe.
    #[error("cannot unpack the driver source {}", path.display())]
    SourceUnpack {
        /// The tarball.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file or directory of the build could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl BuildError {
    pub(crate) fn io<'p>(
        action: &'static str,
        path: &'p Path,
    ) -> impl Fn(io::Error) -> BuildError + 'p {
        move |source| BuildError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn unpack(error: UnpackError) -> BuildError {
        BuildError::Unpack(Box::new(error))
    }

    pub(crate) fn missing(tool: &str, install: &str) -> BuildError {
        BuildError::ToolMissing {
            tool: tool.to_owned(),
            install: install.to_owned(),
        }
    }

    /// A one-line description with every cause, for reports.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
