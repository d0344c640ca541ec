//! `driver-grid build`: runs a plan's builds with the local backend (or driverkit), shows
//! progress bars, prints the report and publishes what built.
//!
//! ```text
//! driver-grid build <config-dir> --driver-source <dir|tarball|url> [--backend local|driverkit]
//!                   [--driver-name <name>] [--device-name <name>] [--shard <k>/<n>]
//!                   [--output <dir>] [--work <dir>] [--cache <dir>] [--workers <n>]
//!                   [--timeout <seconds>] [--target <t>]... [--kernel-release <glob>]
//!                   [--driver-version <v>]... [--json] [--quiet]
//!                   [--pass-env <NAME>]... [--require-https]
//!                   [--repo <url> [--base-url <url>] [--s3-endpoint <url>]]
//! ```
//!
//! `--driver-source` is a configured driver tree (a DKMS tree, `/usr/src/<name>-<version>`),
//! a falcosecurity/libs checkout, or a `.tar.gz` of one (path or URL); `{driverversion}` in
//! it is replaced by each build's driver version. A libs source is configured with cmake as
//! driverkit does, with `--driver-name`/`--device-name` (default `falco`). `--shard K/N`
//! builds only the K-th of N shards (see `driver-grid plan --matrix`).
//!
//! Outputs go to `<output>/<driverversion>/<arch>/falco_….{ko,o}` (default `output`), build
//! logs to `<work>/logs` (default work directory `driver-grid-work`), downloads to `<cache>`
//! (default `<work>/downloads`). Exits with 1 when a build failed.

use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use falco_artifacts_driver_grid::build::{
    Backend, BuildRecord, BuildStatus, DriverSource, DriverkitMode, GridBuild, GridJob, Progress,
};
use falco_artifacts_driver_grid::{check_tree, config_root, Plan, PlanFilter, Shard};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::repo;

/// One bar for the whole grid, one spinner per running build.
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    running: Mutex<HashMap<usize, ProgressBar>>,
}

impl Bars {
    fn new(builds: usize, quiet: bool) -> Bars {
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let total = multi.add(ProgressBar::new(builds as u64));
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} builds {msg}") {
            total.set_style(style);
        }
        Bars {
            multi,
            total,
            running: Mutex::new(HashMap::new()),
        }
    }
}

fn name(job: &GridJob) -> String {
    format!(
        "{} {} {}",
        job.build.target, job.build.kernel_release, job.build.kernel_version
    )
}

impl Progress for Bars {
    fn started(&self, index: usize, job: &GridJob) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_prefix(name(job));
        if let Ok(style) = ProgressStyle::with_template("  {spinner} {prefix}: {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Ok(mut running) = self.running.lock() {
            running.insert(index, bar);
        }
    }

    fn step(&self, index: usize, _job: &GridJob, step: &str) {
        if let Some(bar) = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(&index).cloned())
        {
            bar.set_message(step.to_owned());
        }
    }

    fn finished(&self, index: usize, record: &BuildRecord) {
        if let Some(bar) = self.running.lock().ok().and_then(|mut r| r.remove(&index)) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        if let BuildStatus::Failed { error } = &record.status {
            let _ = self.multi.println(format!(
                "failed {} {} {}: {}",
                record.target,
                record.kernel_release,
                record.kernel_version,
                error.chain()
            ));
        }
        self.total.inc(1);
    }
}

pub(crate) fn run(args: Vec<String>) -> Result<ExitCode, Box<dyn Error>> {
    let usage = "usage: driver-grid build <config-dir> --driver-source <dir|tarball|url> [--backend local|driverkit] \
                 [--driver-name <name>] [--device-name <name>] [--shard <k>/<n>] \
                 [--output <dir>] [--work <dir>] [--cache <dir>] [--workers <n>] [--timeout <seconds>] \
                 [--target <t>]... [--kernel-release <glob>] [--driver-version <v>]... [--json] [--quiet] \
                 [--pass-env <NAME>]... [--require-https] [--repo <url> [--base-url <url>] [--s3-endpoint <url>]]";
    let mut positional = Vec::new();
    let (mut source, mut backend, mut output, mut work, mut cache) = (
        None,
        "local".to_owned(),
        PathBuf::from("output"),
        PathBuf::from("driver-grid-work"),
        None,
    );
    let (mut workers, mut timeout, mut json, mut quiet) = (None, 1800u64, false, false);
    let (mut repo_url, mut base_url, mut s3_endpoint) = (None, String::new(), None);
    let mut filter = PlanFilter::default();
    // make, clang and driverkit see only the allow-list and the variables named here.
    let (mut env, mut require_https) = (
        falco_artifacts_driver_grid::core::ChildEnv::default(),
        false,
    );
    let (mut driver_name, mut device_name, mut shard) = (None, None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{usage}"))
        };
        match arg.as_str() {
            "--driver-source" => source = Some(value(&arg)?),
            "--driver-name" => driver_name = Some(value(&arg)?),
            "--device-name" => device_name = Some(value(&arg)?),
            "--shard" => shard = Some(value(&arg)?.parse::<Shard>()?),
            "--backend" => backend = value(&arg)?,
            "--output" => output = value(&arg)?.into(),
            "--work" => work = value(&arg)?.into(),
            "--cache" => cache = Some(PathBuf::from(value(&arg)?)),
            "--workers" => workers = Some(value(&arg)?.parse::<usize>()?),
            "--timeout" => timeout = value(&arg)?.parse()?,
            "--target" => filter = filter.with_target(value(&arg)?.parse()?),
            "--kernel-release" => filter = filter.with_kernel_release(&value(&arg)?),
            "--driver-version" => filter = filter.with_driver_version(value(&arg)?.parse()?),
            "--repo" => repo_url = Some(value(&arg)?),
            "--base-url" => base_url = value(&arg)?,
            "--s3-endpoint" => s3_endpoint = Some(value(&arg)?),
            "--pass-env" => env = env.with_pass_env(&value(&arg)?)?,
            "--require-https" => require_https = true,
            "--json" => json = true,
            "--quiet" => quiet = true,
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{usage}").into())
            }
            _ => positional.push(arg),
        }
    }
    let [dir] = positional.as_slice() else {
        return Err(usage.into());
    };
    let report = check_tree(&config_root(&PathBuf::from(dir)))?;
    if !quiet || !report.is_ok() {
        eprint!("{}", report.to_text());
    }
    let mut plan = Plan::new(&report.valid, &filter);
    if let Some(url) = &repo_url {
        // What the repository has is not built again (another shard, an earlier run).
        let args = repo::RepoArgs {
            url: url.clone(),
            s3_endpoint: s3_endpoint.clone(),
            base_url: base_url.clone(),
        };
        let (rest, published) = plan.without_existing(&repo::existing(&args)?);
        plan = rest;
        if !quiet && published > 0 {
            eprintln!("{published} outputs already published");
        }
    }
    if let Some(shard) = shard {
        plan = plan.shard(shard);
        if !quiet {
            eprintln!("shard {shard}: {} builds", plan.builds.len());
        }
    }
    let backend = match backend.as_str() {
        "local" => {
            let source =
                source.ok_or_else(|| format!("--driver-source <dir> is needed\n{usage}"))?;
            let mut source = DriverSource::parse(&source);
            if let Some(name) = driver_name {
                source = source.with_driver_name(name);
            }
            if let Some(name) = device_name {
                source = source.with_device_name(name);
            }
            Backend::Local(source)
        }
        "driverkit" => Backend::Driverkit(DriverkitMode::Docker),
        other => return Err(format!("unknown backend {other:?} (local or driverkit)").into()),
    };
    let mut setup = GridBuild::new(backend, &output, &work)
        .with_timeout(Duration::from_secs(timeout))
        .with_env(env)
        .with_require_https(require_https);
    if let Some(cache) = cache {
        setup = setup.with_cache_dir(cache);
    }
    if let Some(workers) = workers {
        setup = setup.with_workers(workers);
    }
    let bars = Bars::new(plan.builds.len(), quiet || json);
    let grid = setup.run(&plan, &report.valid, Some(&bars))?;
    bars.total.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&grid.to_json())?);
    } else {
        print!("{}", grid.to_text());
    }
    if let Some(url) = repo_url {
        let args = repo::RepoArgs {
            url,
            s3_endpoint,
            base_url,
        };
        let drivers = grid.built_drivers();
        if !drivers.is_empty() {
            let outcome = repo::runtime()?.block_on(repo::open(&args)?.publish(&drivers))?;
            eprintln!(
                "published {} drivers, {} already there",
                outcome.uploaded.len(),
                outcome.skipped.len()
            );
        }
    }
    Ok(if grid.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
