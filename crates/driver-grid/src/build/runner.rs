//! The grid runner: executes a plan's builds with bounded parallelism, a timeout and a log
//! per build, and moves finished outputs into place atomically.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::report::{BuildRecord, BuildStatus, GridReport, NotBuilt};
use super::{BuildContext, BuildError, CancelToken, DriverBuilder};
use crate::kernel::{driver_file_name, DriverKind};
use crate::load::Location;
use crate::{Build, BuiltDriver, DriverConfig, Plan, ValidConfig};

/// One build of the grid: the planned outputs and the config they come from.
#[derive(Debug, Clone)]
pub struct GridJob {
    /// The build, from a [`Plan`].
    pub build: Build,
    /// Its config (`kernelurls`, `kernelconfigdata`).
    pub config: DriverConfig,
}

/// A planned build whose config is not among the configs given.
#[derive(Debug, thiserror::Error)]
#[error("the plan builds {}, which is not among the validated configs", config.display())]
pub struct JobsError {
    /// The config file the plan names.
    pub config: PathBuf,
}

impl GridJob {
    /// The jobs of `plan`, each with its config from `configs` (those the plan was made from).
    pub fn from_plan(plan: &Plan, configs: &[ValidConfig]) -> Result<Vec<GridJob>, JobsError> {
        let by_path: HashMap<&Path, &DriverConfig> = configs
            .iter()
            .map(|c| (c.path.as_path(), &c.config))
            .collect();
        plan.builds
            .iter()
            .map(|build| {
                let config = by_path
                    .get(build.config.as_path())
                    .ok_or_else(|| JobsError {
                        config: build.config.clone(),
                    })?;
                Ok(GridJob {
                    build: build.clone(),
                    config: (*config).clone(),
                })
            })
            .collect()
    }

    fn location(&self) -> Location {
        Location {
            driver_version: self.build.driver_version.clone(),
            arch: self.build.arch,
            layout: self.build.layout,
        }
    }

    /// `<target>_<kernelrelease>_<kernelversion>`, unique within a driver version and arch.
    fn stem(&self) -> String {
        format!(
            "{}_{}_{}",
            self.build.target, self.build.kernel_release, self.build.kernel_version
        )
    }
}

/// Hears about a run as it goes (e.g. to draw progress bars); called from worker threads.
pub trait Progress: Send + Sync {
    /// Build `index` of the plan started.
    fn started(&self, index: usize, job: &GridJob) {
        let _ = (index, job);
    }
    /// Build `index` entered `step` (`download`, `unpack`, `module`, `probe`, `driverkit`).
    fn step(&self, index: usize, job: &GridJob, step: &str) {
        let _ = (index, job, step);
    }
    /// Build `index` ended.
    fn finished(&self, index: usize, record: &BuildRecord) {
        let _ = (index, record);
    }
}

/// Runs a grid of builds with one [`DriverBuilder`]:
///
/// - up to `workers` builds at a time (default: the number of cores);
/// - each build gets a private work directory (removed after it), a log file
///   `<log dir>/<driverversion>/<arch>/<target>_<kernelrelease>_<kernelversion>.log` and a
///   timeout (default 30 minutes) past which its running step is killed with its process group;
/// - a failed build is recorded and the others go on;
/// - outputs go to `<output dir>/<driverversion>/<arch>/falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`
///   (driverkit's `output/` layout, which [`scan_built`](crate::scan_built) reads), written
///   under a temporary name and renamed only once every output of the build is complete; a
///   build whose outputs are all there already is skipped, so a rerun after an interruption
///   continues where it stopped;
/// - [`CancelToken::cancel`] stops the run: running steps are killed, builds not started are
///   skipped, and the report publishes nothing ([`GridReport::built_drivers`] is empty).
///
/// ```
/// use falco_artifacts_driver_grid::build::{DriverkitBuilder, GridRunner};
///
/// let dir = tempfile::tempdir()?;
/// let builder = DriverkitBuilder::docker().with_program("/nonexistent/driverkit");
/// let runner = GridRunner::new(&builder, dir.path().join("output"), dir.path().join("work"))
///     .with_workers(2);
/// // No builds, nothing to check: an empty report.
/// let report = runner.run(&[])?;
/// assert_eq!(report.counts(), (0, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GridRunner<'a> {
    builder: &'a dyn DriverBuilder,
    output_dir: PathBuf,
    work_dir: PathBuf,
    log_dir: PathBuf,
    workers: usize,
    timeout: Duration,
    cancel: CancelToken,
    progress: Option<&'a dyn Progress>,
    env: falco_artifacts_core::ChildEnv,
}

impl std::fmt::Debug for GridRunner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridRunner")
            .field("builder", &self.builder.name())
            .field("output_dir", &self.output_dir)
            .field("workers", &self.workers)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<'a> GridRunner<'a> {
    /// A runner writing outputs under `output_dir` and scratch files (and, unless
    /// [`GridRunner::with_log_dir`], logs in `<work_dir>/logs`) under `work_dir`. Relative
    /// paths are taken from the current directory now: builds run in other directories.
    pub fn new(
        builder: &'a dyn DriverBuilder,
        output_dir: impl Into<PathBuf>,
        work_dir: impl Into<PathBuf>,
    ) -> Self {
        let work_dir = absolute(work_dir.into());
        GridRunner {
            builder,
            output_dir: absolute(output_dir.into()),
            log_dir: work_dir.join("logs"),
            work_dir,
            workers: std::thread::available_parallelism()
                .map(NonZeroUsize::get)
                .unwrap_or(1),
            timeout: Duration::from_secs(30 * 60),
            cancel: CancelToken::new(),
            progress: None,
            env: falco_artifacts_core::ChildEnv::default(),
        }
    }

    /// The environment every program of every build gets: cleared, then this allow-list
    /// (default [`falco_artifacts_core::BASE_VARIABLES`]).
    pub fn with_env(mut self, env: falco_artifacts_core::ChildEnv) -> Self {
        self.env = env;
        self
    }

    /// At most `workers` builds at a time (at least one).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The time one build may take, downloads included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where the build logs go.
    pub fn with_log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = absolute(dir.into());
        self
    }

    /// Stops the run when `token` is cancelled.
    pub fn with_cancel(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    /// Reports each build's start, steps and end to `progress`.
    pub fn with_progress(mut self, progress: &'a dyn Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Runs every job and reports each one. Fails before building anything only when the
    /// backend's programs are missing ([`BuildError::ToolMissing`]).
    pub fn run(&self, jobs: &[GridJob]) -> Result<GridReport, BuildError> {
        let kinds: BTreeSet<DriverKind> = jobs
            .iter()
            .flat_map(|j| j.build.outputs.iter().map(|o| o.kind))
            .collect();
        if !kinds.is_empty() {
            self.builder
                .check_tools(&kinds.into_iter().collect::<Vec<_>>())?;
        }
        let records: Mutex<Vec<Option<BuildRecord>>> = Mutex::new(vec![None; jobs.len()]);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..self.workers.min(jobs.len()) {
                scope.spawn(|| loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(index) else { break };
                    let record = self.one(index, job);
                    if let Some(progress) = self.progress {
                        progress.finished(index, &record);
                    }
                    let mut records = records.lock().unwrap_or_else(PoisonError::into_inner);
                    records[index] = Some(record);
                });
            }
        });
        let builds = records
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .flatten()
            .collect();
        Ok(GridReport {
            backend: self.builder.name().to_owned(),
            cancelled: self.cancel.is_cancelled(),
            builds,
        })
    }

    /// Where `job`'s output of `kind` goes, and the driver it is once there.
    fn destination(&self, job: &GridJob, kind: DriverKind) -> BuiltDriver {
        let b = &job.build;
        let location = job.location();
        let name = driver_file_name(&b.target, &b.kernel_release, &b.kernel_version, kind);
        BuiltDriver {
            path: self.output_dir.join(location.directory()).join(&name),
            key: crate::plan::driver_key(
                &location,
                &b.target,
                &b.kernel_release,
                &b.kernel_version,
                kind,
            ),
            driver_version: b.driver_version.clone(),
            arch: b.arch,
            kind,
            target: b.target.clone(),
            kernel_release: b.kernel_release.clone(),
            kernel_version: b.kernel_version.clone(),
        }
    }

    fn one(&self, index: usize, job: &GridJob) -> BuildRecord {
        let started = Instant::now();
        let wanted: Vec<BuiltDriver> = job
            .build
            .outputs
            .iter()
            .map(|o| self.destination(job, o.kind))
            .collect();
        let mut record = BuildRecord {
            config: job.build.config.clone(),
            driver_version: job.build.driver_version.clone(),
            arch: job.build.arch,
            target: job.build.target.clone(),
            kernel_release: job.build.kernel_release.clone(),
            kernel_version: job.build.kernel_version.clone(),
            status: BuildStatus::Built,
            log: None,
            seconds: 0.0,
            outputs: Vec::new(),
            not_built: Vec::new(),
        };
        if self.cancel.is_cancelled() {
            record.status = BuildStatus::Skipped {
                reason: "the run was cancelled".to_owned(),
            };
            return record;
        }
        if wanted.iter().all(|d| d.path.is_file()) {
            record.status = BuildStatus::Skipped {
                reason: "already built in the output directory".to_owned(),
            };
            record.outputs = wanted;
            return record;
        }
        if let Some(progress) = self.progress {
            progress.started(index, job);
        }
        let directory = job.location().directory();
        let log = self
            .log_dir
            .join(&directory)
            .join(format!("{}.log", job.stem()));
        let work = self
            .work_dir
            .join("builds")
            .join(format!("{index}-{}", job.stem()));
        record.log = Some(log.clone());
        let result = self.build(index, job, &log, &work, &wanted);
        let _ = fs::remove_dir_all(&work);
        record.seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(not_built) => {
                record.outputs = wanted
                    .into_iter()
                    .filter(|d| !not_built.iter().any(|n| n.kind == d.kind))
                    .collect();
                record.not_built = not_built;
            }
            Err(error) => {
                record.status = BuildStatus::Failed {
                    error: Arc::new(error),
                }
            }
        }
        record
    }

    fn build(
        &self,
        index: usize,
        job: &GridJob,
        log: &Path,
        work: &Path,
        wanted: &[BuiltDriver],
    ) -> Result<Vec<NotBuilt>, BuildError> {
        let on_step = |step: &str| {
            if let Some(progress) = self.progress {
                progress.step(index, job, step);
            }
        };
        let mut ctx = BuildContext::new(log, self.timeout, self.cancel.clone(), &on_step)?
            .with_env(self.env.clone());
        if work.exists() {
            fs::remove_dir_all(work).map_err(BuildError::io("remove", work))?;
        }
        fs::create_dir_all(work).map_err(BuildError::io("create", work))?;
        let result = self.builder.build(job, work, &mut ctx);
        if let Err(error) = &result {
            ctx.note(&format!("build failed: {}", error.chain()));
        }
        let outcome = result?;
        ctx.check("install")?;
        let wanted: Vec<BuiltDriver> = wanted
            .iter()
            .filter(|d| !outcome.not_built.iter().any(|n| n.kind == d.kind))
            .cloned()
            .collect();
        install(&outcome.files, &wanted)?;
        ctx.note("outputs installed");
        Ok(outcome.not_built)
    }
}

/// `path` from the current directory when it is relative.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// Copies each built file next to its destination under a temporary name, then renames them
/// all: a destination name only ever holds a complete file, and a build's outputs appear
/// together (or, on an error, the temporary files are removed and none appears).
fn install(files: &[(DriverKind, PathBuf)], wanted: &[BuiltDriver]) -> Result<(), BuildError> {
    let mut staged = Vec::new();
    let result = (|| {
        for driver in wanted {
            let Some((_, file)) = files.iter().find(|(kind, _)| *kind == driver.kind) else {
                return Err(BuildError::NoOutput {
                    kind: driver.kind,
                    path: driver.path.clone(),
                });
            };
            let dir = driver.path.parent().unwrap_or(Path::new("."));
            fs::create_dir_all(dir).map_err(BuildError::io("create", dir))?;
            let name = driver
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let temp = dir.join(format!(".{name}.partial"));
            fs::copy(file, &temp).map_err(BuildError::io("copy", file))?;
            fs::File::open(&temp)
                .and_then(|f| f.sync_all())
                .map_err(BuildError::io("sync", &temp))?;
            staged.push((temp, driver.path.clone()));
        }
        Ok(())
    })();
    if let Err(error) = result {
        for (temp, _) in &staged {
            let _ = fs::remove_file(temp);
        }
        return Err(error);
    }
    for (temp, dest) in &staged {
        fs::rename(temp, dest).map_err(BuildError::io("rename into place", dest))?;
    }
    Ok(())
}
