//! What can stop a release run, each with the file, field or repository it concerns.

use std::path::PathBuf;

use falco_artifacts_core::package::ManifestError;
use falco_artifacts_core::{Arch, SignError};
use falco_artifacts_publish::PublishError;

/// Why a release run stopped. Everything up to [`PipelineError::Publish`] happens before the
/// first upload.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// No test command or evidence was given.
    #[error("the tests were not run: give a gate command or an evidence file; nothing is published without one")]
    GateNotRun,
    /// The gate's command could not start.
    #[error("gate command `{command}` could not start")]
    GateStart {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The tests failed: nothing is published.
    #[error("the tests failed ({what}: {status}); nothing is published; log: {log}\n{tail}", log = log.display())]
    GateFailed {
        /// The command or evidence file.
        what: String,
        /// Exit status or the evidence's verdict.
        status: String,
        /// The full log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// The evidence file is not the JSON expected.
    #[error("{path}: not a test evidence file (expected {{\"passed\": true|false, \"commit\": \"<sha>\"}})", path = path.display())]
    Evidence {
        /// The file.
        path: PathBuf,
        /// The parse error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The evidence does not vouch for the commit released.
    #[error("{path}: the evidence does not vouch for the release's commit {expected:?}: {reason} (evidence commit {found:?})", path = path.display())]
    EvidenceCommit {
        /// The file.
        path: PathBuf,
        /// The release's commit (`--commit`, or the git HEAD).
        expected: String,
        /// The evidence's commit (empty when it names none).
        found: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Evidence was given, but no commit to check it against (no `--commit`, no git HEAD).
    #[error("{path}: give --commit (the released commit) to check the evidence against; the current directory has no git HEAD", path = path.display())]
    NoReleaseCommit {
        /// The evidence file.
        path: PathBuf,
        /// Why git gave no HEAD.
        #[source]
        source: falco_artifacts_core::GitVersionError,
    },
    /// The configuration file does not parse.
    #[error("{path}: invalid configuration", path = path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// With line, column and the field.
        #[source]
        source: serde_yaml::Error,
    },
    /// The configuration sets a retention on the stable channel that would prune it.
    #[error("{}{field}: keep {keep} would delete stable releases; stable keeps every release (users pin versions), so its retention can only be `all`", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    StableRetention {
        /// The configuration file, when read from one.
        file: Option<PathBuf>,
        /// `channels.stable.retention.<deb|rpm|bin>`.
        field: String,
        /// The number of versions it asked to keep.
        keep: usize,
    },
    /// A setting is contradictory or missing.
    #[error("{0}")]
    Invalid(String),
    /// The signing key is not where the configuration says.
    #[error("no signing key: {source_name} is not set or does not exist")]
    MissingKey {
        /// The variable or file named (never its content).
        source_name: String,
    },
    /// The key does not load or sign.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The manifest is wrong or a payload file is missing.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A packager failed.
    #[error("building the {format} for {arch} failed")]
    Build {
        /// `deb`, `rpm`, `tarball`.
        format: &'static str,
        /// The architecture.
        arch: Arch,
        /// The packager's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The repository URL is not usable.
    #[error("repository {url}")]
    Repository {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: Box<PublishError>,
    },
    /// The repository does not answer.
    #[error("repository {url} is unreachable; nothing was built or uploaded")]
    Unreachable {
        /// The URL.
        url: String,
        /// The store's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// A repository refused the release while staging, before anything was written
    /// anywhere.
    #[error("packages/{repository} refuses this release; nothing was published in any repository")]
    Preflight {
        /// `deb`, `rpm-dev`, …
        repository: String,
        /// Why.
        #[source]
        source: Box<PublishError>,
    },
    /// A repository failed after others were already live: the release is only partly out.
    #[error(transparent)]
    PartialRelease(Box<PartialRelease>),
    /// Publishing into a repository failed (the commit protocol leaves it as it was).
    #[error("publishing into packages/{repository} failed")]
    Publish {
        /// `deb`, `bin-dev`, …
        repository: String,
        /// Why.
        #[source]
        source: Box<PublishError>,
    },
    /// A repository's retention failed.
    #[error("retention of packages/{repository} failed")]
    Retention {
        /// The repository.
        repository: String,
        /// Why.
        #[source]
        source: Box<falco_artifacts_core::Error>,
    },
    /// Verification found problems.
    #[error("packages/{repository} does not verify: {problems}")]
    Verify {
        /// The repository.
        repository: String,
        /// What is wrong.
        problems: String,
    },
    /// The drivers step failed.
    #[error("drivers: {what} failed")]
    Drivers {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The images step failed.
    #[error("images: {what} failed")]
    Images {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: Box<falco_artifacts_images::ImageError>,
    },
    /// A file could not be read or written.
    #[error("{path}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A release live in some repositories and not in others, and how to complete it.
#[derive(Debug, thiserror::Error)]
#[error("PARTIAL RELEASE: {version} is live in {} but not in {}: publishing into packages/{failed} failed; \
         complete it by running {resume}", live.join(", "), missing.join(", "))]
pub struct PartialRelease {
    /// The version released.
    pub version: String,
    /// Repositories where it is live.
    pub live: Vec<String>,
    /// Repositories where it is not.
    pub missing: Vec<String>,
    /// The repository that failed.
    pub failed: String,
    /// The command that completes the release.
    pub resume: String,
    /// Why it failed (the commit protocol left that repository as it was).
    #[source]
    pub source: Box<PublishError>,
}
