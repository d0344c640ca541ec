//! A grid build from options: the backend, its directories and limits wired into a
//! [`GridRunner`] in one place, for every front end (the `driver-grid` example's `build`, the
//! release pipeline's drivers step), so they cannot lay out their work differently.

use std::path::{Path, PathBuf};
use std::time::Duration;

use falco_artifacts_core::ChildEnv;

use super::{
    BuildError, DriverBuilder, DriverSource, DriverkitBuilder, DriverkitMode, Fetcher, GridJob,
    GridReport, GridRunner, JobsError, LocalBuilder, Progress,
};
use crate::{Plan, ValidConfig};

/// Which backend builds the drivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The driver's own Makefiles through kbuild on this machine ([`LocalBuilder`]), against
    /// the downloaded header packages, for this driver source.
    Local(DriverSource),
    /// The `driverkit` CLI ([`DriverkitBuilder`]).
    Driverkit(DriverkitMode),
}

/// A grid run set up from options. Work layout, under the work directory:
/// `downloads/` (header packages and driver sources, unless [`GridBuild::with_cache_dir`]),
/// `kernels/` (unpacked kernel trees, shared by later runs), `logs/<driverversion>/<arch>/`
/// (one log per build) and `builds/` (each build's scratch directory, removed after it).
/// Outputs land in driverkit's layout under the output directory.
///
/// ```
/// use falco_artifacts_driver_grid::build::{Backend, GridBuild};
/// use falco_artifacts_driver_grid::{Plan, PlanFilter};
///
/// let dir = tempfile::tempdir()?;
/// let grid = GridBuild::new(
///     Backend::Driverkit(Default::default()),
///     dir.path().join("output"),
///     dir.path().join("work"),
/// )
/// .with_workers(2);
/// // An empty plan builds nothing and checks no tool.
/// let report = grid.run(&Plan::new(&[], &PlanFilter::default()), &[], None)?;
/// assert_eq!(report.counts(), (0, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GridBuild {
    backend: Backend,
    output_dir: PathBuf,
    work_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    workers: Option<usize>,
    timeout: Option<Duration>,
    env: ChildEnv,
    require_https: bool,
}

/// Why a grid run could not start. A failed build is not an error: it is in the report.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// The plan names a config that is not among the validated configs given.
    #[error("cannot make the build jobs")]
    Jobs(#[source] JobsError),
    /// The backend's programs are missing, or the run could not start.
    #[error("cannot run the builds")]
    Run(#[source] BuildError),
}

impl GridBuild {
    /// A run on `backend` writing outputs under `output_dir` and everything else under
    /// `work_dir`; defaults: every core, 30 minutes a build, the base environment only,
    /// `http://` kernelurls allowed.
    pub fn new(
        backend: Backend,
        output_dir: impl Into<PathBuf>,
        work_dir: impl Into<PathBuf>,
    ) -> Self {
        GridBuild {
            backend,
            output_dir: output_dir.into(),
            work_dir: work_dir.into(),
            cache_dir: None,
            workers: None,
            timeout: None,
            env: ChildEnv::default(),
            require_https: false,
        }
    }

    /// Downloads go (and are found again, by URL) here instead of `<work_dir>/downloads`.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// At most `workers` builds at a time.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// The time one build may take, downloads included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The environment of make, clang, llc and driverkit: cleared, then this allow-list.
    pub fn with_env(mut self, env: ChildEnv) -> Self {
        self.env = env;
        self
    }

    /// Refuses plain-`http://` kernelurls.
    pub fn with_require_https(mut self, require: bool) -> Self {
        self.require_https = require;
        self
    }

    /// The work directory.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// Builds every build of `plan` (made from `configs`), telling `progress` as it goes;
    /// failed builds are in the report, the others still build.
    pub fn run(
        &self,
        plan: &Plan,
        configs: &[ValidConfig],
        progress: Option<&dyn Progress>,
    ) -> Result<GridReport, GridError> {
        let jobs = GridJob::from_plan(plan, configs).map_err(GridError::Jobs)?;
        let backend: Box<dyn DriverBuilder> = match &self.backend {
            Backend::Local(source) => {
                let cache = self
                    .cache_dir
                    .clone()
                    .unwrap_or_else(|| self.work_dir.join("downloads"));
                Box::new(LocalBuilder::new(
                    Fetcher::new(cache).with_require_https(self.require_https),
                    self.work_dir.join("kernels"),
                    source.clone(),
                ))
            }
            Backend::Driverkit(mode) => Box::new(DriverkitBuilder::new(mode.clone())),
        };
        let mut runner = GridRunner::new(backend.as_ref(), &self.output_dir, &self.work_dir)
            .with_env(self.env.clone());
        if let Some(workers) = self.workers {
            runner = runner.with_workers(workers);
        }
        if let Some(timeout) = self.timeout {
            runner = runner.with_timeout(timeout);
        }
        if let Some(progress) = progress {
            runner = runner.with_progress(progress);
        }
        runner.run(&jobs).map_err(GridError::Run)
    }
}
