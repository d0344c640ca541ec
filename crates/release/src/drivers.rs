//! The drivers step: validate the driverkit configs, keep the driver versions of the last two
//! stable Falco releases, plan what the driver repository lacks, publish what was built, and
//! rewrite the index of prebuilt drivers.

use std::path::{Path, PathBuf};

use std::time::Duration;

use falco_artifacts_core::ChildEnv;

use falco_artifacts_driver_grid::build::{
    self as grid, DriverSource, DriverkitMode, GridBuild, GridError,
};
use falco_artifacts_driver_grid::{
    changed_configs, check_tree, config_root, parse_releases, scan_built, ship, BuiltError,
    ChangesError, DriverRepository, LoadError, Plan, PlanFilter, RepositoryError, ShipError,
    ShipPolicy, CONFIG_PREFIX,
};
use serde::Serialize;

use crate::{Pipeline, PipelineError};

/// What the drivers step works on.
#[derive(Debug, Clone)]
pub struct DriversJob {
    /// The config directory (`driverkit/config`, or a checkout holding it).
    pub configs: PathBuf,
    /// The release list (`<falco version> <driver version>` per line); without it every
    /// driver version in the configs is planned.
    pub releases: Option<PathBuf>,
    /// Drivers already built, in driverkit's `output/<driverversion>/<arch>/` layout.
    pub built: Option<PathBuf>,
    /// Only configs added or changed since this commit of the git repository holding them.
    pub since: Option<String>,
    /// Build what the plan lists before publishing.
    pub build: Option<DriverBuild>,
}

/// How the drivers step builds.
#[derive(Debug, Clone)]
pub struct DriverBuild {
    /// The backend.
    pub backend: Backend,
    /// Downloads, unpacked kernels, logs and outputs (`<work_dir>/output`).
    pub work_dir: PathBuf,
    /// Builds at a time (default: every core).
    pub workers: Option<usize>,
    /// The time one build may take (default 30 minutes).
    pub timeout: Option<Duration>,
    /// The environment of make, clang, llc and driverkit: cleared, then this allow-list.
    pub env: ChildEnv,
    /// Refuse plain-`http://` kernelurls.
    pub require_https: bool,
}

/// A build backend.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The driver's own Makefiles through kbuild on this machine, against downloaded header
    /// packages, for the driver source at this path: a configured driver tree (a DKMS tree)
    /// or a falcosecurity/libs checkout or tarball, configured as driverkit does (see
    /// `DriverSource`).
    Local(PathBuf),
    /// The `driverkit` CLI.
    Driverkit(DriverkitMode),
}

/// What the drivers step found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DriversReport {
    /// Config files read.
    pub configs: usize,
    /// Of which invalid (they never reach a build).
    pub invalid: usize,
    /// Problems, one line each, with file and line.
    pub problems: Vec<String>,
    /// Driver versions shipped.
    pub shipped: Vec<String>,
    /// Builds the repository still lacks.
    pub to_build: usize,
    /// Their outputs (`.ko` and `.o`).
    pub outputs_to_build: usize,
    /// Outputs already published.
    pub already_published: usize,
    /// Builds done by the build backend: built, failed, skipped.
    pub built: (usize, usize, usize),
    /// Failed builds with the log that says why.
    pub failures: Vec<String>,
    /// Keys uploaded.
    pub uploaded: Vec<String>,
    /// Driver versions listed in the index.
    pub index_versions: usize,
}

/// Why a drivers step failed: the driver-grid error of that step.
#[derive(Debug, thiserror::Error)]
pub enum DriversFailure {
    /// Loading the config tree.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The release list or the choice of driver versions.
    #[error(transparent)]
    Ship(#[from] ShipError),
    /// The drivers already built.
    #[error(transparent)]
    Built(#[from] BuiltError),
    /// The driver repository.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// What changed between two commits.
    #[error(transparent)]
    Changes(#[from] ChangesError),
    /// Starting the build grid (its jobs or its backend).
    #[error(transparent)]
    Grid(#[from] GridError),
}

impl DriversReport {
    /// A summary for people, one line per fact, each failure and problem on its own line.
    pub fn to_text(&self) -> String {
        let shipped = if self.shipped.is_empty() {
            "every driver version".to_owned()
        } else {
            self.shipped.join(", ")
        };
        let mut out = format!(
            "  drivers  {} configs ({} invalid), shipping {shipped}: {} builds ({} outputs) to do, \
             {} outputs already published, {} uploaded, index of {} driver versions written\n",
            self.configs,
            self.invalid,
            self.to_build,
            self.outputs_to_build,
            self.already_published,
            self.uploaded.len(),
            self.index_versions
        );
        let (built, failed, skipped) = self.built;
        if built + failed + skipped > 0 {
            out.push_str(&format!(
                "  builds   {built} built, {failed} failed, {skipped} skipped\n"
            ));
        }
        for failure in &self.failures {
            out.push_str(&format!("    failed {failure}\n"));
        }
        for problem in &self.problems {
            out.push_str(&format!("    {problem}\n"));
        }
        out
    }

    /// Whether the step succeeded: invalid configs or failed builds make it fail (after the
    /// report was shown; everything that could be published was).
    pub fn outcome(&self) -> Result<(), PipelineError> {
        if self.invalid > 0 {
            return Err(PipelineError::InvalidDriverConfigs {
                count: self.invalid,
            });
        }
        if self.built.1 > 0 {
            return Err(PipelineError::DriverBuildsFailed {
                count: self.built.1,
            });
        }
        Ok(())
    }
}

pub(crate) fn failed(what: &str, source: impl Into<DriversFailure>) -> PipelineError {
    PipelineError::Drivers {
        what: what.to_owned(),
        source: Box::new(source.into()),
    }
}

fn read(path: &Path) -> Result<String, PipelineError> {
    std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
        path: path.to_owned(),
        source,
    })
}

impl Pipeline {
    /// The driver repository (`driver/`) under this pipeline's repository root.
    pub fn driver_repository(&self) -> Result<DriverRepository, PipelineError> {
        DriverRepository::new(self.store().clone()).map_err(|e| failed("the driver repository", e))
    }

    /// Rewrites the index of prebuilt drivers (`driver/site/`) from a listing of the driver
    /// repository; the number of driver versions it lists.
    pub async fn write_driver_index(&self) -> Result<usize, PipelineError> {
        let index = self
            .driver_repository()?
            .regenerate_index()
            .await
            .map_err(|e| failed("writing the index of prebuilt drivers", e))?;
        Ok(index.versions.len())
    }

    /// Runs the drivers step; built drivers are checked whole before anything is uploaded.
    pub async fn drivers(&self, job: &DriversJob) -> Result<DriversReport, PipelineError> {
        let report = check_tree(&config_root(&job.configs))
            .map_err(|e| failed("loading the driverkit configs", e))?;
        let mut out = DriversReport {
            configs: report.files,
            invalid: report.invalid_count(),
            problems: report.problems.iter().map(ToString::to_string).collect(),
            ..DriversReport::default()
        };
        let mut filter = PlanFilter::default();
        let mut shipped = Vec::new();
        if let Some(path) = &job.releases {
            let releases = parse_releases(&read(path)?)
                .map_err(|e| failed(&format!("reading {}", path.display()), e))?;
            let versions = ship(&releases, &ShipPolicy::default())
                .map_err(|e| failed("choosing the driver versions to ship", e))?;
            out.shipped = versions.iter().map(ToString::to_string).collect();
            shipped.clone_from(&versions);
            filter = filter.with_driver_versions(versions);
        }
        let mut built = match &job.built {
            Some(dir) => scan_built(dir).map_err(|e| failed("reading the built drivers", e))?,
            None => Vec::new(),
        };
        let repo = self.driver_repository()?;
        let listing = repo
            .listing()
            .await
            .map_err(|e| failed("listing the driver repository", e))?;
        let (mut plan, skipped) =
            Plan::new(&report.valid, &filter).without_existing(&listing.existing_keys());
        if let Some(commit) = &job.since {
            // The git repository holding `driverkit/config`, whichever of the two was given.
            let repo_root = job
                .configs
                .ancestors()
                .find(|p| p.join(CONFIG_PREFIX).is_dir())
                .unwrap_or(&job.configs);
            let changed = changed_configs(repo_root, commit, "HEAD", &shipped)
                .map_err(|e| failed(&format!("the configs changed since {commit}"), e))?;
            plan.builds.retain(|b| {
                changed.iter().any(|c| {
                    c.driver_version == b.driver_version
                        && c.arch == b.arch
                        && c.path.file_name() == b.config.file_name()
                })
            });
        }
        out.to_build = plan.builds.len();
        out.outputs_to_build = plan.output_count();
        out.already_published = skipped;
        if let Some(build) = &job.build {
            let grid = run_grid(build, &plan, &report.valid)?;
            out.built = grid.counts();
            out.failures = grid
                .failures()
                .map(|f| match &f.log {
                    Some(log) => format!("{}: see {}", f.config.display(), log.display()),
                    None => format!("{}: failed", f.config.display()),
                })
                .collect();
            built.extend(grid.built_drivers());
        }
        if !built.is_empty() {
            let published = repo
                .publish(&built)
                .await
                .map_err(|e| failed("publishing the built drivers", e))?;
            out.uploaded = published.uploaded;
        }
        let index = repo
            .regenerate_index()
            .await
            .map_err(|e| failed("writing the index of prebuilt drivers", e))?;
        out.index_versions = index.versions.len();
        Ok(out)
    }
}

/// Runs the plan's builds on the chosen backend; failed builds are in the report, the rest
/// still build.
fn run_grid(
    build: &DriverBuild,
    plan: &Plan,
    configs: &[falco_artifacts_driver_grid::ValidConfig],
) -> Result<falco_artifacts_driver_grid::build::GridReport, PipelineError> {
    let backend = match &build.backend {
        Backend::Local(source) => grid::Backend::Local(DriverSource::new(source)),
        Backend::Driverkit(mode) => grid::Backend::Driverkit(mode.clone()),
    };
    let mut setup = GridBuild::new(backend, build.work_dir.join("output"), &build.work_dir)
        .with_env(build.env.clone())
        .with_require_https(build.require_https);
    if let Some(workers) = build.workers {
        setup = setup.with_workers(workers);
    }
    if let Some(timeout) = build.timeout {
        setup = setup.with_timeout(timeout);
    }
    setup
        .run(plan, configs, None)
        .map_err(|e| failed("building the drivers", e))
}
