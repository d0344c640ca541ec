//! The release pipeline as a thin binary over the falco-artifacts libraries: argument parsing
//! here, everything else in `falco_artifacts::release` and the crates.
//!
//! `demo` runs everything on an embedded default; `plan` prints what a release event would
//! produce; `run` gates, packages, publishes and verifies a real release (flags or a YAML
//! configuration file, see `falco_artifacts::release::PipelineConfig`); `verify` and `prune`
//! are the repository operations on their own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use falco_artifacts::core::package::SourceDate;
use falco_artifacts::core::{version_from_git, Arch, PgpSigner, ReleaseEvent, ReleasePolicy};
use std::sync::Arc;

use falco_artifacts::driver_grid::build::DriverkitMode;

mod demo;
use falco_artifacts::release::{
    plan_release, run_release_with_progress, Backend, DriverBuild, DriversJob, DriversReport, Gate,
    Pipeline, PipelineConfig, ReleaseJob, ReleasePlan,
};

#[derive(Parser)]
#[command(about = "Build and publish Falco's release artifacts")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print what a release event would build and where it would go.
    Plan {
        /// A tag event (`0.39.0`, `v0.39.0`, `0.45.0-rc1`).
        #[arg(long, conflicts_with = "merge")]
        tag: Option<String>,
        /// A merge event: the version is computed from the git repository at this path.
        #[arg(long, value_name = "REPO")]
        merge: Option<PathBuf>,
        /// The branch the merge went into.
        #[arg(long, default_value = "master")]
        branch: String,
        /// The package manifest (default: the embedded sample).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Also plan the driver builds of this driverkit config directory.
        #[arg(long, value_name = "DIR")]
        drivers: Option<PathBuf>,
        /// The release list that picks the driver versions to ship.
        #[arg(long, value_name = "FILE", requires = "drivers")]
        releases: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Gate, package, publish and verify a release.
    Run(RunArgs),
    /// Validate driverkit configs, plan what the driver repository lacks, publish drivers
    /// already built, and rewrite the index of prebuilt drivers.
    Drivers {
        #[command(flatten)]
        repo: RepoArgs,
        /// The driverkit config directory (default: the configuration's `drivers.configs`).
        #[arg(long, value_name = "DIR")]
        configs: Option<PathBuf>,
        /// The release list (`<falco version> <driver version>` per line): only the driver
        /// versions of the last two stable releases are planned.
        #[arg(long, value_name = "FILE")]
        releases: Option<PathBuf>,
        /// Drivers built by driverkit or the local builder (`output/<driverversion>/<arch>/`).
        #[arg(long, value_name = "DIR")]
        built: Option<PathBuf>,
        /// Only configs added or changed since this commit (the configs' git repository).
        #[arg(long, value_name = "COMMIT")]
        since: Option<String>,
        /// Build with kbuild and clang here, from this driver source (Falco's `driver/`).
        #[arg(long, value_name = "DIR", conflicts_with = "build_driverkit")]
        build_local: Option<PathBuf>,
        /// Build with the `driverkit docker` CLI.
        #[arg(long)]
        build_driverkit: bool,
        /// Downloads, kernels, logs and outputs of the builds (default: `build/drivers`).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Builds at a time (default: every core).
        #[arg(long)]
        workers: Option<usize>,
        /// Refuse plain-`http://` kernelurls (header packages are code the build runs).
        #[arg(long)]
        require_https: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the index of prebuilt drivers from a listing of the driver repository.
    Index {
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Verify a channel's repositories.
    Verify {
        #[command(flatten)]
        repo: RepoArgs,
        /// `stable` or `dev`.
        #[arg(long, default_value = "stable")]
        channel: String,
    },
    /// Apply a channel's retention now.
    Prune {
        #[command(flatten)]
        repo: RepoArgs,
        /// `stable` or `dev`.
        #[arg(long, default_value = "dev")]
        channel: String,
    },
    /// Run everything that exists on an embedded default: a sample payload, a generated key,
    /// a throwaway git history, and a `file://` repository under `target/`.
    Demo {
        /// Where to put the key, the history and the repository.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// What `run` takes.
#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    event: EventArgs,
    #[command(flatten)]
    repo: RepoArgs,
    /// The package manifest (overrides the configuration file).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// The test command, run before anything else (`"make test"`; split on spaces).
    #[arg(long, value_name = "COMMAND", conflicts_with = "evidence")]
    gate_command: Option<String>,
    /// A test evidence file written by CI: `{"passed": true, "commit": "<sha>"}`.
    #[arg(long, value_name = "FILE")]
    evidence: Option<PathBuf>,
    /// The commit released, checked against the evidence's.
    #[arg(long)]
    commit: Option<String>,
    /// Where packages are built (default: `build/release`).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The release event of `run`.
#[derive(clap::Args)]
struct EventArgs {
    /// A tag event (`0.39.0`, `v0.39.0`, `0.45.0-rc1`).
    #[arg(long, conflicts_with = "merge")]
    tag: Option<String>,
    /// A merge event: the version is computed from the git repository at this path.
    #[arg(long, value_name = "REPO")]
    merge: Option<PathBuf>,
    /// The branch the merge went into (default: the configuration's, else `master`).
    #[arg(long)]
    branch: Option<String>,
}

/// Where the repositories are and how they are signed; flags override the configuration.
#[derive(clap::Args)]
struct RepoArgs {
    /// The configuration file (YAML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The repository root URL (`file:///srv/falco`, `s3://bucket/prefix`).
    #[arg(long, value_name = "URL")]
    repo: Option<String>,
    /// An armored secret key file.
    #[arg(long, value_name = "FILE", conflicts_with = "key_env")]
    key_file: Option<PathBuf>,
    /// An environment variable holding the armored secret key.
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
    /// Let the programs the run starts (the gate command, make, clang, driverkit) see this
    /// variable too; every variable not passed (secrets included) is withheld. Repeatable.
    #[arg(long, value_name = "NAME")]
    pass_env: Vec<String>,
}

impl RepoArgs {
    /// The configuration file (or an empty one) with these flags applied.
    fn config(&self) -> Result<PipelineConfig, Box<dyn std::error::Error>> {
        let mut config = match &self.config {
            Some(path) => PipelineConfig::load(path)?,
            None => PipelineConfig::default(),
        };
        if let Some(repo) = &self.repo {
            config.repository = Some(repo.clone());
        }
        if self.key_file.is_some() || self.key_env.is_some() {
            config.signing.key_file = self.key_file.clone();
            config.signing.key_env = self.key_env.clone();
        }
        config.pass_env.extend(self.pass_env.iter().cloned());
        Ok(config)
    }
}

/// The signing key and repositories a configuration names; both are required. Indexes are
/// signed at the time they are made.
fn pipeline_of(
    config: &PipelineConfig,
) -> Result<(PgpSigner, Pipeline), Box<dyn std::error::Error>> {
    let key = config
        .signer()?
        .ok_or("no signing key: give --key-file or --key-env (or signing: in the configuration)")?;
    let url = config
        .repository
        .as_deref()
        .ok_or("no repository: give --repo or repository: in the configuration")?;
    let pipeline = Pipeline::with_options(url, &config.store.options(), Arc::new(key.clone()))?;
    Ok((key, pipeline))
}

fn channel_named(
    config: &PipelineConfig,
    name: &str,
) -> Result<falco_artifacts::core::ChannelConfig, Box<dyn std::error::Error>> {
    let channel = match name {
        "stable" => falco_artifacts::core::ChannelConfig::stable(),
        "dev" | "development" => falco_artifacts::core::ChannelConfig::development(),
        other => return Err(format!("unknown channel {other:?}: use stable or dev").into()),
    };
    Ok(config.apply(channel)?)
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn run_run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let RunArgs {
        event,
        repo,
        manifest,
        gate_command,
        evidence,
        commit,
        work_dir,
        json,
    } = args;
    let config = repo.config()?;
    let policy = ReleasePolicy::new(
        event
            .branch
            .clone()
            .or_else(|| config.main_branch.clone())
            .unwrap_or_else(|| "master".into()),
    );
    let event = match (event.tag, event.merge) {
        (Some(name), _) => ReleaseEvent::Tag { name },
        (None, Some(repo)) => ReleaseEvent::Merge {
            branch: policy.main_branch().to_owned(),
            version: version_from_git(&repo)?,
        },
        (None, None) => return Err("give --tag <TAG> or --merge <REPO>".into()),
    };
    let mut release = event.resolve(&policy)?;
    release.channel = config.apply(release.channel)?;
    let gate = match (gate_command, evidence) {
        (Some(command), _) => Some(Gate::command(
            &command
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )?),
        (None, Some(file)) => Some(Gate::Evidence(file)),
        (None, None) => config.gate()?,
    };
    let manifest = manifest
        .or_else(|| config.manifest.clone())
        .ok_or("no manifest: give --manifest or manifest: in the configuration")?;
    let (key, pipeline) = pipeline_of(&config)?;
    // Publishing is idempotent: the same command completes a release that stopped half-way.
    let pipeline = pipeline.with_resume_command(this_command());
    let source_date = SourceDate::from_env()?;
    let job = ReleaseJob {
        release,
        manifest,
        arches: if config.arches.is_empty() {
            Arch::ALL.to_vec()
        } else {
            config.arches.clone()
        },
        source_date,
        gate,
        commit,
        env: config.child_env()?,
        work_dir: work_dir
            .or_else(|| config.work_dir.clone())
            .unwrap_or_else(|| PathBuf::from("build/release")),
        images: config.images.clone(),
        // Packages are signed at the source date: the same release gives the same bytes, so
        // publishing it again finds everything unchanged.
        signer: Arc::new(key.with_signature_time(source_date.system_time())),
    };
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = runtime()?.block_on(run_release_with_progress(&job, &pipeline, |step| {
        spinner.set_message(step.to_owned())
    }));
    spinner.finish_and_clear();
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

fn print_drivers(report: &DriversReport) {
    println!(
        "  drivers  {} configs ({} invalid), shipping {}: {} builds ({} outputs) to do, {} outputs already published, {} uploaded, index of {} driver versions written",
        report.configs,
        report.invalid,
        if report.shipped.is_empty() {
            "every driver version".to_owned()
        } else {
            report.shipped.join(", ")
        },
        report.to_build,
        report.outputs_to_build,
        report.already_published,
        report.uploaded.len(),
        report.index_versions
    );
    let (built, failed, skipped) = report.built;
    if built + failed + skipped > 0 {
        println!("  builds   {built} built, {failed} failed, {skipped} skipped");
    }
    for failure in &report.failures {
        println!("    failed {failure}");
    }
    for problem in &report.problems {
        println!("    {problem}");
    }
}

fn run_drivers(
    repo: RepoArgs,
    job: DriversJob,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = repo.config()?;
    let (_, pipeline) = pipeline_of(&config)?;
    let report = runtime()?.block_on(pipeline.drivers(&job))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_drivers(&report);
    }
    if report.invalid > 0 {
        return Err(format!("{} invalid driverkit configs", report.invalid).into());
    }
    if report.built.1 > 0 {
        return Err(format!(
            "{} driver builds failed (the others were published)",
            report.built.1
        )
        .into());
    }
    Ok(())
}

fn run_index(repo: RepoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = repo.config()?;
    let (_, pipeline) = pipeline_of(&config)?;
    let drivers = pipeline.driver_repository()?;
    let index = runtime()?.block_on(drivers.regenerate_index())?;
    println!(
        "driver/site/index.json and index.html rewritten: {} driver versions",
        index.versions.len()
    );
    Ok(())
}

fn run_verify(repo: RepoArgs, channel: String) -> Result<(), Box<dyn std::error::Error>> {
    let config = repo.config()?;
    let channel = channel_named(&config, &channel)?;
    let (_, pipeline) = pipeline_of(&config)?;
    for verified in runtime()?.block_on(pipeline.verify(&channel))? {
        println!("verified {verified}");
    }
    Ok(())
}

fn run_prune(repo: RepoArgs, channel: String) -> Result<(), Box<dyn std::error::Error>> {
    let config = repo.config()?;
    let channel = channel_named(&config, &channel)?;
    let (_, pipeline) = pipeline_of(&config)?;
    let pruned = runtime()?.block_on(pipeline.prune(&channel))?;
    println!("{} files pruned", pruned.len());
    for file in pruned {
        println!("  {}/{}", file.repository, file.file_name);
    }
    Ok(())
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample")
}

fn sample_manifest() -> PathBuf {
    sample_dir().join("falco.yaml")
}

fn print_plan(plan: &ReleasePlan) {
    print!("{}", plan.to_text());
}

fn source_date() -> Result<SourceDate, Box<dyn std::error::Error>> {
    match SourceDate::from_env() {
        Ok(date) => Ok(date),
        Err(falco_artifacts::core::package::SourceDateError::Missing) => {
            // The demo's own fixed date, so two demo runs give the same plan.
            Ok(SourceDate::from_secs(1_700_000_000))
        }
        Err(e) => Err(e.into()),
    }
}

fn run_plan(
    tag: Option<String>,
    merge: Option<PathBuf>,
    branch: String,
    manifest: Option<PathBuf>,
    drivers: Option<DriversJob>,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let event = match (tag, merge) {
        (Some(name), _) => ReleaseEvent::Tag { name },
        (None, Some(repo)) => ReleaseEvent::Merge {
            branch,
            version: version_from_git(&repo)?,
        },
        (None, None) => return Err("give --tag <TAG> or --merge <REPO>".into()),
    };
    let release = event.resolve(&ReleasePolicy::default())?;
    let plan = plan_release(
        &release,
        &manifest.unwrap_or_else(sample_manifest),
        source_date()?,
        drivers.as_ref(),
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print_plan(&plan);
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Plan {
            tag,
            merge,
            branch,
            manifest,
            drivers,
            releases,
            json,
        } => run_plan(
            tag,
            merge,
            branch,
            manifest,
            drivers.map(|configs| DriversJob {
                configs,
                releases,
                built: None,
                since: None,
                build: None,
            }),
            json,
        ),
        Cmd::Run(args) => run_run(args),
        Cmd::Drivers {
            repo,
            configs,
            releases,
            built,
            since,
            build_local,
            build_driverkit,
            work_dir,
            workers,
            require_https,
            json,
        } => {
            let config = repo.config().unwrap_or_default();
            let env = match config.child_env() {
                Ok(env) => env,
                Err(e) => return report_error(&e),
            };
            let defaults = config.drivers;
            let backend = match (build_local, build_driverkit) {
                (Some(source), _) => Some(Backend::Local(source)),
                (None, true) => Some(Backend::Driverkit(DriverkitMode::Docker)),
                (None, false) => defaults.driver_source.clone().map(Backend::Local),
            };
            let build = backend.map(|backend| DriverBuild {
                backend,
                work_dir: work_dir
                    .or(defaults.work_dir.clone())
                    .unwrap_or_else(|| PathBuf::from("build/drivers")),
                workers: workers.or(defaults.workers),
                timeout: None,
                env,
                require_https: require_https || defaults.require_https,
            });
            match configs.or(defaults.configs) {
                Some(configs) => run_drivers(
                    repo,
                    DriversJob {
                        configs,
                        releases: releases.or(defaults.releases),
                        built,
                        since,
                        build,
                    },
                    json,
                ),
                None => Err(
                    "no driverkit configs: give --configs or drivers.configs in the configuration"
                        .into(),
                ),
            }
        }
        Cmd::Index { repo } => run_index(repo),
        Cmd::Verify { repo, channel } => run_verify(repo, channel),
        Cmd::Prune { repo, channel } => run_prune(repo, channel),
        Cmd::Demo { out } => demo::run_demo(out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report_error(e.as_ref()),
    }
}

/// This process's command line, quoted for a POSIX shell.
fn this_command() -> String {
    std::env::args()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./:=+-@,%".contains(&b));
            if plain {
                arg
            } else {
                format!("'{}'", arg.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn report_error(e: &dyn std::error::Error) -> ExitCode {
    eprintln!("error: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::FAILURE
}
