//! The driverkit backend: hands each config to falcosecurity's `driverkit` CLI, which builds
//! in a container (`driverkit docker`) or a Kubernetes pod (`driverkit kubernetes`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::command::find_tool;
use super::{BuildContext, BuildError, DriverBuilder, GridJob};
use crate::kernel::DriverKind;

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
/// --output-module <file> --output-probe <file>` for each build. Needs `driverkit` on
/// `PATH` (and a Docker daemon or a cluster); without it every build fails with
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
        }
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

    /// The command for `job`, writing into `work`.
    fn command(
        &self,
        program: &Path,
        job: &GridJob,
        work: &Path,
    ) -> (Command, Vec<(DriverKind, PathBuf)>) {
        let mut command = Command::new(program);
        match &self.mode {
            DriverkitMode::Docker => {
                command.arg("docker");
            }
            DriverkitMode::Kubernetes {
                namespace,
                kubeconfig,
            } => {
                command.arg("kubernetes").arg("--namespace").arg(namespace);
                if let Some(path) = kubeconfig {
                    command.arg("--kubeconfig").arg(path);
                }
            }
        }
        command.arg("--config").arg(&job.build.config);
        command
            .arg("--driverversion")
            .arg(job.build.driver_version.as_str());
        let mut outputs = Vec::new();
        for output in &job.build.outputs {
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
        (command, outputs)
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
    ) -> Result<Vec<(DriverKind, PathBuf)>, BuildError> {
        let program = self.resolve()?;
        ctx.step("driverkit");
        let (command, outputs) = self.command(&program, job, work);
        ctx.run("driverkit", command)?;
        for (kind, path) in &outputs {
            if !path.is_file() {
                return Err(BuildError::NoOutput {
                    kind: *kind,
                    path: path.clone(),
                });
            }
        }
        Ok(outputs)
    }
}
