//! What validation reports: problems (the config is refused) and warnings (it is kept).

use std::error::Error as _;
use std::fmt;
use std::path::PathBuf;

use falco_artifacts_core::Arch;
use serde::Serialize;

use crate::ident::InvalidIdentifier;
use crate::kernel::DriverKind;
use crate::parse::ParseError;
use crate::{DriverVersion, KernelRelease, Target};

/// A config file (or directory) that cannot be built, with where and why.
#[derive(Debug)]
pub struct Problem {
    /// The file or directory.
    pub path: PathBuf,
    /// The 1-based line, when the problem sits on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// Every reason validation refuses a config.
#[derive(Debug, thiserror::Error)]
pub enum ProblemKind {
    /// The file could not be read.
    #[error("cannot read the file")]
    Read {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a driverkit config.
    #[error("cannot parse the config")]
    Parse {
        /// Why.
        #[source]
        source: ParseError,
    },
    /// A directory under the config root is not a driver version.
    #[error("the directory name is not a driver version")]
    DriverVersionDirectory {
        /// Why.
        #[source]
        source: InvalidIdentifier,
    },
    /// A directory under a driver version is not `x86_64` or `aarch64`.
    #[error("directory {name:?} is not an architecture directory (x86_64 or aarch64)")]
    ArchDirectory {
        /// The directory name.
        name: String,
    },
    /// The file name does not follow `<target>_<kernelrelease>_<kernelversion>.yaml`.
    #[error("the file name must be {expected:?}, found {found:?}")]
    FileName {
        /// What the keys say it must be.
        expected: String,
        /// What it is.
        found: String,
    },
    /// `architecture` disagrees with the directory.
    #[error("`architecture: {}` disagrees with the {directory} directory", config.driverkit_name())]
    ArchMismatch {
        /// The directory's architecture.
        directory: Arch,
        /// The config's.
        config: Arch,
    },
    /// `driverversion` disagrees with the directory.
    #[error("`driverversion: {config}` disagrees with the directory {directory}")]
    DriverVersionMismatch {
        /// The directory's driver version.
        directory: DriverVersion,
        /// The config's.
        config: DriverVersion,
    },
    /// An output path is not where the grid expects it.
    #[error("`output.{kind}` must be {expected:?}, found {found:?}")]
    OutputPath {
        /// Which output.
        kind: DriverKind,
        /// The expected path.
        expected: String,
        /// The path in the config.
        found: String,
    },
    /// Neither a module nor a probe is requested.
    #[error("neither `output.module` nor `output.probe` is set: nothing to build")]
    NoOutput,
    /// driverkit has no builder for the target.
    #[error("target \"{target}\" is not known to driverkit")]
    UnknownTarget {
        /// The target.
        target: Target,
    },
    /// The target needs `kernelconfigdata` and the config has none.
    #[error("target {target} needs `kernelconfigdata` and the config has none")]
    MissingKernelConfig {
        /// The target.
        target: Target,
    },
    /// `kernelconfigdata` is not base64.
    #[error("`kernelconfigdata` is not valid base64")]
    KernelConfigBase64 {
        /// Why.
        #[source]
        source: base64::DecodeError,
    },
    /// The kernel release does not start with `major.minor`, so no minimum can be checked.
    #[error("kernel release {release} does not start with a major.minor version")]
    KernelReleaseVersion {
        /// The release.
        release: KernelRelease,
    },
    /// A driver is requested for a kernel older than its minimum.
    #[error("a {kind} is requested for kernel {release} but {arch} needs at least {}.{}", minimum.0, minimum.1)]
    BelowMinimum {
        /// Which output.
        kind: DriverKind,
        /// The architecture.
        arch: Arch,
        /// The kernel release.
        release: KernelRelease,
        /// The oldest supported `major.minor`.
        minimum: (u32, u32),
    },
    /// A `#sha256=` fragment of `kernelurls` or the `kernelsha256` list is wrong.
    #[error("the header package digests are wrong")]
    KernelDigest {
        /// Which and why.
        #[source]
        source: crate::KernelDigestError,
    },
    /// The last line has no line end.
    #[error("the file does not end with a line end")]
    MissingFinalNewline,
    /// A line ends in a space or a tab.
    #[error("the line ends with a space or a tab")]
    TrailingSpace,
    /// Another config already produces the same output.
    #[error("output {output:?} is also produced by {}", first.display())]
    DuplicateOutput {
        /// The output path or destination key both configs produce.
        output: String,
        /// The config that claimed it first.
        first: PathBuf,
    },
}

impl ProblemKind {
    /// A short stable name for the rule, for JSON reports and filtering.
    pub fn rule(&self) -> &'static str {
        match self {
            ProblemKind::Read { .. } => "read",
            ProblemKind::Parse { .. } => "parse",
            ProblemKind::DriverVersionDirectory { .. } => "driver-version",
            ProblemKind::ArchDirectory { .. } => "arch-directory",
            ProblemKind::FileName { .. } => "file-name",
            ProblemKind::ArchMismatch { .. } => "arch-mismatch",
            ProblemKind::DriverVersionMismatch { .. } => "driver-version-mismatch",
            ProblemKind::OutputPath { .. } => "output-path",
            ProblemKind::NoOutput => "no-output",
            ProblemKind::UnknownTarget { .. } => "unknown-target",
            ProblemKind::MissingKernelConfig { .. } => "missing-kernelconfigdata",
            ProblemKind::KernelConfigBase64 { .. } => "kernelconfigdata-base64",
            ProblemKind::KernelReleaseVersion { .. } => "kernel-release",
            ProblemKind::BelowMinimum { .. } => "kernel-minimum",
            ProblemKind::DuplicateOutput { .. } => "duplicate-output",
            ProblemKind::KernelDigest { .. } => "kernel-digest",
            ProblemKind::MissingFinalNewline => "final-newline",
            ProblemKind::TrailingSpace => "trailing-space",
        }
    }

    /// Whether this is a quirk of the kind released configs have (a file name, an output path
    /// or a text layout off the canonical shape, a missing `kernelconfigdata`): refused by
    /// strict validation, only a warning otherwise, since driverkit still builds the config.
    pub fn is_quirk(&self) -> bool {
        matches!(
            self,
            ProblemKind::FileName { .. }
                | ProblemKind::OutputPath { .. }
                | ProblemKind::MissingKernelConfig { .. }
                | ProblemKind::MissingFinalNewline
                | ProblemKind::TrailingSpace
        )
    }
}

/// The message of an error followed by each of its sources, joined by `: `.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl fmt::Display for Problem {
    /// `path:line: reason: cause…`, the shape editors and CI annotations understand.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", chain(&self.kind))
    }
}

impl Problem {
    /// The problem's message with its causes, without the location.
    pub fn message(&self) -> String {
        chain(&self.kind)
    }

    /// The first cause, if any (for callers that walk errors themselves).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Problem", 4)?;
        s.serialize_field("path", &self.path)?;
        s.serialize_field("line", &self.line)?;
        s.serialize_field("rule", self.kind.rule())?;
        s.serialize_field("message", &self.message())?;
        s.end()
    }
}

/// Something worth telling that does not stop a config from being built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The file or directory.
    pub path: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What was noticed.
    pub kind: WarningKind,
}

/// Every kind of [`Warning`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum WarningKind {
    /// A key driverkit configs do not have here; it is kept as it is.
    #[error("unknown key `{key}` (kept as it is)")]
    UnknownKey {
        /// The key (`output.<key>` when nested).
        key: String,
    },
    /// A file in a config directory that is not a `.yaml` config.
    #[error("not a .yaml config, ignored")]
    IgnoredFile,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": warning: {}", self.kind)
    }
}
