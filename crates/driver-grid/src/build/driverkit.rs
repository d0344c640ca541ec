//! The driverkit backend: hands each config to falcosecurity's `driverkit` CLI, which builds
//! in a container (`driverkit docker`) or a Kubernetes pod (`driverkit kubernetes`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::command::{capture, find_tool};
use super::report::NotBuilt;
use super::{BuildContext, BuildError, BuildOutcome, DriverBuilder, GridJob};
use crate::kernel::DriverKind;

/// What the driverkit on `PATH` can do, read from `driverkit --version` and the build
/// command's `--help`: current driverkit has no legacy probe and no `--output-probe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverkitCapabilities {
    /// The version it reports (`0.20.1`), when it reports one.
    pub version: Option<String>,
    /// Whether it still builds the legacy eBPF probe (`--output-probe`).
    pub probe: bool,
}

impl DriverkitCapabilities {
    /// Reads the capabilities from the output of `driverkit --version` and of
    /// `driverkit <docker|kubernetes> --help`.
    pub fn from_output(version: &str, help: &str) -> Self {
        // `driverkit version 0.20.1`, `{"gitCommit": …, "gitVersion": "v0.18.0"}`, `0.19.0`.
        let version = version
            .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
            .map(|w| w.trim_start_matches('v'))
            .find(|w| {
                let mut parts = w.split('.');
                parts.next().is_some_and(|p| p.parse::<u32>().is_ok())
                    && parts.next().is_some_and(|p| p.parse::<u32>().is_ok())
            })
            .map(str::to_owned);
        DriverkitCapabilities {
            version,
            probe: help.contains("--output-probe"),
        }
    }
}

/// Where driverkit runs its builder containers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DriverkitMode {
    /// `driverkit docker`: the local Docker daemon.
    #[default]
    Docker,
    /// `driverkit kubernetes`: pods in a cluster.
    Kubernetes {
        /// `--namespace`.
        namespace: String,
        /// `--kubeconfig`, when not the default.
        kubeconfig: Option<PathBuf>,
    },
}

/// Runs `driverkit <docker|kubernetes> --config <config> --driverversion <v>
/// --output-module <file> [--output-probe <file>]` for each build, with the flags the
/// driverkit found on `PATH` has ([`DriverkitCapabilities`]): where it has no legacy probe, the
/// module is built and the probe reported as not built. Needs `driverkit` on `PATH` (and a
/// Docker daemon or a cluster); without it every build fails with
/// [`BuildError::ToolMissing`] naming what to install.
///
/// ```
/// use falco_artifacts_driver_grid::build::{BuildError, DriverBuilder, DriverkitBuilder};
/// use falco_artifacts_driver_grid::DriverKind;
///
/// let builder = DriverkitBuilder::docker().with_program("/nonexistent/driverkit");
/// let err = builder.check_tools(&[DriverKind::Module]).unwrap_err();
/// assert!(matches!(err, BuildError::ToolMissing { .. }));
/// assert!(err.to_string().contains("github.com/falcosecurity/driverkit"));
/// ```
#[derive(Debug, Clone)]
pub struct DriverkitBuilder {
    program: String,
    mode: DriverkitMode,
    extra_args: Vec<String>,
    capabilities: OnceLock<DriverkitCapabilities>,
}

/// The variables driverkit reads to find the Docker engine or the cluster.
const TOOL_VARIABLES: &[&str] = &[
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "KUBECONFIG",
];

/// What to install when driverkit is missing.
const INSTALL: &str =
    "driverkit from https://github.com/falcosecurity/driverkit/releases, with Docker or a Kubernetes cluster to run it";

impl DriverkitBuilder {
    /// `driverkit docker`.
    pub fn docker() -> Self {
        Self::new(DriverkitMode::Docker)
    }

    /// driverkit in `mode`.
    pub fn new(mode: DriverkitMode) -> Self {
        DriverkitBuilder {
            program: "driverkit".to_owned(),
            mode,
            extra_args: Vec::new(),
            capabilities: OnceLock::new(),
        }
    }

    /// Uses `capabilities` instead of asking the binary.
    pub fn with_capabilities(self, capabilities: DriverkitCapabilities) -> Self {
        let known = OnceLock::new();
        let _ = known.set(capabilities);
        DriverkitBuilder {
            capabilities: known,
            ..self
        }
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            DriverkitMode::Docker => "docker",
            DriverkitMode::Kubernetes { .. } => "kubernetes",
        }
    }

    /// What the driverkit binary can do (asked once).
    pub fn capabilities(&self) -> Result<&DriverkitCapabilities, BuildError> {
        if let Some(known) = self.capabilities.get() {
            return Ok(known);
        }
        let program = self.resolve()?;
        let mut version = Command::new(&program);
        version.arg("--version");
        let version = capture("driverkit", version)?;
        let mut help = Command::new(&program);
        help.arg(self.mode_name()).arg("--help");
        let help = capture("driverkit", help)?;
        Ok(self
            .capabilities
            .get_or_init(|| DriverkitCapabilities::from_output(&version, &help)))
    }

    /// The driverkit binary: a name looked up on `PATH`, or a path.
    pub fn with_program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
    }

    /// More arguments for every run (`--builderimage …`, `--loglevel debug`).
    pub fn with_args(mut self, args: impl IntoIterator<Item = String>) -> Self {
        self.extra_args.extend(args);
        self
    }

    fn resolve(&self) -> Result<PathBuf, BuildError> {
        let found = if self.program.contains('/') {
            let path = PathBuf::from(&self.program);
            path.is_file().then_some(path)
        } else {
            find_tool(&self.program)
        };
        found.ok_or_else(|| BuildError::missing(&self.program, INSTALL))
    }

    /// The command for `job`, writing into `work`, for a driverkit with `capabilities`; the
    /// files it will write, and the outputs it cannot make.
    pub fn command(
        &self,
        program: &Path,
        job: &GridJob,
        work: &Path,
        capabilities: &DriverkitCapabilities,
    ) -> (Command, Vec<(DriverKind, PathBuf)>, Vec<NotBuilt>) {
        let mut command = Command::new(program);
        command.arg(self.mode_name());
        if let DriverkitMode::Kubernetes {
            namespace,
            kubeconfig,
        } = &self.mode
        {
            command.arg("--namespace").arg(namespace);
            if let Some(path) = kubeconfig {
                command.arg("--kubeconfig").arg(path);
            }
        }
        command.arg("--config").arg(&job.build.config);
        command
            .arg("--driverversion")
            .arg(job.build.driver_version.as_str());
        let mut outputs = Vec::new();
        let mut not_built = Vec::new();
        for output in &job.build.outputs {
            if output.kind == DriverKind::Probe && !capabilities.probe {
                not_built.push(NotBuilt {
                    kind: DriverKind::Probe,
                    reason: format!(
                        "driverkit {} builds no legacy eBPF probe (no --output-probe)",
                        capabilities
                            .version
                            .as_deref()
                            .unwrap_or("(unknown version)")
                    ),
                });
                continue;
            }
            let file = work.join(format!("driver.{}", output.kind.extension()));
            command
                .arg(format!("--output-{}", output.kind.config_key()))
                .arg(&file);
            outputs.push((output.kind, file));
        }
        command.args(&self.extra_args);
        // What driverkit needs to reach its engine or cluster; set here explicitly so that the
        // cleared environment of BuildContext::run keeps them.
        for name in TOOL_VARIABLES {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        (command, outputs, not_built)
    }
}

impl DriverBuilder for DriverkitBuilder {
    fn name(&self) -> &str {
        "driverkit"
    }

    fn check_tools(&self, _kinds: &[DriverKind]) -> Result<(), BuildError> {
        self.resolve().map(drop)
    }

    fn build(
        &self,
        job: &GridJob,
        work: &Path,
        ctx: &mut BuildContext<'_>,
    ) -> Result<BuildOutcome, BuildError> {
        let program = self.resolve()?;
        let capabilities = self.capabilities()?.clone();
        ctx.step("driverkit");
        let (command, outputs, not_built) = self.command(&program, job, work, &capabilities);
        ctx.run("driverkit", command)?;
        for (kind, path) in &outputs {
            if !path.is_file() {
                return Err(BuildError::NoOutput {
                    kind: *kind,
                    path: path.clone(),
                });
            }
        }
        Ok(BuildOutcome {
            files: outputs,
            not_built,
        })
    }
}
