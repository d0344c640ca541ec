//! What can stop a release run, each with the file, field or repository it concerns.

use std::path::PathBuf;

use falco_artifacts_core::package::{ManifestError, SourceDateError};
use falco_artifacts_core::{
    Arch, GitVersionError, InvalidName, InvalidVariableName, ReleaseEventError, SignError,
};
use falco_artifacts_images::{CredentialsError, InvalidReference, InvalidSigningKey};
use falco_artifacts_publish::{Problem, PublishError};

use crate::drivers::DriversFailure;
use crate::package::BuildFailure;

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
    /// The configuration sets `overwrite: replace` on the stable channel.
    #[error("{}channels.stable.overwrite: stable packages are immutable (users pin versions), so its overwrite can only be `immutable`", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    StableOverwrite {
        /// The configuration file, when read from one.
        file: Option<PathBuf>,
    },
    /// A channel of the configuration has an unusable name or repository name.
    #[error("channels.{channel}: not a usable channel")]
    ChannelSetting {
        /// The channel's key in `channels:`.
        channel: String,
        /// Which name is wrong.
        #[source]
        source: InvalidName,
    },
    /// A channel was asked for by a name that neither the built-in channels nor the
    /// configuration's `channels:` define.
    #[error("unknown channel {name:?}: the channels are {}", known.join(", "))]
    UnknownChannel {
        /// The name asked for.
        name: String,
        /// The channels defined.
        known: Vec<String>,
    },
    /// The channel asked for does not accept the release's version.
    #[error("the {channel} channel does not accept version {version}")]
    ChannelRefuses {
        /// The channel.
        channel: String,
        /// The version.
        version: String,
    },
    /// The release event was refused (a non-release tag, a merge into another branch).
    #[error(transparent)]
    Event(#[from] ReleaseEventError),
    /// Neither a tag nor a merge was given.
    #[error("no release event: give a tag (--tag <TAG>) or a merge (--merge <REPO>)")]
    NoEvent,
    /// The development version of a merge could not be computed from git.
    #[error("{}: no development version from git", repo.display())]
    GitVersion {
        /// The git checkout.
        repo: PathBuf,
        /// Why.
        #[source]
        source: GitVersionError,
    },
    /// `SOURCE_DATE_EPOCH` is not usable.
    #[error("the source date")]
    SourceDate(#[from] SourceDateError),
    /// Two settings that exclude each other were both given.
    #[error("{section}: give either `{first}` or `{second}`, not both")]
    Conflict {
        /// The section (`gate`, `signing`).
        section: &'static str,
        /// One setting.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// A required setting is in neither the flags nor the configuration.
    #[error("no {what}: give {flag} or `{field}` in the configuration")]
    Missing {
        /// What is missing (`repository`, `manifest`, ...).
        what: &'static str,
        /// The flag that gives it.
        flag: &'static str,
        /// The configuration field that gives it.
        field: &'static str,
    },
    /// A `pass_env` name is not a variable name.
    #[error("pass_env")]
    PassEnv(#[source] InvalidVariableName),
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
        /// The packager's error (boxed: it is large and rare).
        #[source]
        source: Box<BuildFailure>,
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
        source: Box<falco_artifacts_core::Error>,
    },
    /// A repository refused the release while staging because an orphan of an earlier,
    /// failed publish holds one of its immutable names with other bytes: no index names that
    /// file, so deleting it loses nothing.
    #[error("{key} blocks this release: no index names it (an orphan left by a publish that failed after uploading) and this release has other bytes for that immutable name; nothing was published in any repository. List the orphans with `{command}` (a dry run, with this run's key and configuration flags), delete them by adding `--confirm`, then run the release again")]
    Orphan {
        /// The blocking object's full key (`packages/deb/stable/falco-0.45.0-x86_64.deb`).
        key: String,
        /// The command that lists the orphans.
        command: String,
        /// The repository's refusal.
        #[source]
        source: Box<falco_artifacts_core::Error>,
    },
    /// Finding or deleting a repository's orphans failed.
    #[error("pruning the orphans of packages/{repository} failed")]
    Orphans {
        /// The repository.
        repository: String,
        /// Why.
        #[source]
        source: Box<falco_artifacts_core::Error>,
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
        source: Box<falco_artifacts_core::Error>,
    },
    /// Re-signing a repository failed (the commit protocol leaves it as it was, or as the
    /// next generation whole).
    #[error("re-signing packages/{repository} failed")]
    Resign {
        /// `deb`, `rpm`, `bin-dev`, …
        repository: String,
        /// Why.
        #[source]
        source: Box<falco_artifacts_publish::PublishError>,
    },
    /// The public key bundle could not be written at the repository root.
    #[error("writing the public key bundle {key} failed")]
    KeyBundle {
        /// Its key under the repository root.
        key: String,
        /// Why.
        #[source]
        source: Box<falco_artifacts_publish::PublishError>,
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
    #[error("packages/{repository} does not verify: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Verify {
        /// The repository.
        repository: String,
        /// What is wrong, each with the file it concerns.
        problems: Vec<Problem>,
    },
    /// The drivers step failed.
    #[error("drivers: {what} failed")]
    Drivers {
        /// The step.
        what: String,
        /// Why (boxed: it is large and rare).
        #[source]
        source: Box<DriversFailure>,
    },
    /// No driverkit config directory was given.
    #[error("no driverkit configs: give --configs or `drivers.configs` in the configuration")]
    NoDriverConfigs,
    /// The drivers step ran and reported invalid configs (its report lists them).
    #[error("{count} invalid driverkit configs")]
    InvalidDriverConfigs {
        /// How many.
        count: usize,
    },
    /// Driver builds failed (the others were published; the report names each log).
    #[error("{count} driver builds failed (the others were published)")]
    DriverBuildsFailed {
        /// How many.
        count: usize,
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
    /// An `images:` setting does not parse.
    #[error("images.{field}: {value:?}")]
    ImagesSetting {
        /// The field (`name`, `registry`, `mirrors`, `runtime.variants`).
        field: &'static str,
        /// Its value.
        value: String,
        /// Why.
        #[source]
        source: InvalidReference,
    },
    /// A credentials file of `images:` does not load.
    #[error("images.{field}")]
    ImagesCredentials {
        /// `credentials` or `docker_config`.
        field: &'static str,
        /// Why (with the file).
        #[source]
        source: CredentialsError,
    },
    /// A version has no image tag (it cannot be written as one).
    #[error("images: no tag for {version}")]
    NoImageTag {
        /// The version.
        version: String,
        /// Why.
        #[source]
        source: InvalidReference,
    },
    /// The images step was asked for without a release tarball to build from.
    #[error("images: no release tarball to build an image from")]
    NoTarball,
    /// The `falco-driver-loader` preset lacks its driver source.
    #[error(
        "images.runtime: the falco-driver-loader preset needs driver_source and driver_version"
    )]
    DriverLoaderPreset,
    /// A variant preset that does not exist.
    #[error("images.runtime.variants: unknown preset {name:?} (falco, falco-driver-loader, or a full variant)")]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// The cosign signing key does not load.
    #[error("images.runtime.signing_key {}", path.display())]
    CosignKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: InvalidSigningKey,
    },
    /// A package built elsewhere was refused (nothing uploaded) or could not be signed.
    #[error(transparent)]
    Prebuilt(Box<crate::PrebuiltError>),
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

impl From<crate::PrebuiltError> for PipelineError {
    fn from(e: crate::PrebuiltError) -> Self {
        PipelineError::Prebuilt(Box::new(e))
    }
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
    pub source: Box<falco_artifacts_core::Error>,
}
