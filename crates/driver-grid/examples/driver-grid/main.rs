//! `validate`, `plan`, `stats` and `generate` on a driverkit config directory; `publish`,
//! `index`, `cleanup` and `stats` on a repository of prebuilt drivers.
//!
//! ```text
//! driver-grid validate <config-dir> [--json] [--strict [--since <commit>] [--keep <v>... | --releases <file>]]
//! driver-grid plan <config-dir> [--json] [--existing <listing> | --repo <url>] [--target <t>]...
//!                  [--kernel-release <glob>] [--arch <arch>] [--driver-version <v>]...
//!                  [--releases <file>] [--ship <n>] [--shard <k>/<n>] [--matrix <n> --format github]
//! driver-grid stats <config-dir> [--json]
//! driver-grid generate <list.json> <driver-version> <config-dir> [--arch <arch>] [--prune [--confirm]]
//! driver-grid build <config-dir> --driver-source <dir|tarball|url> [--shard <k>/<n>] [--workers <n>] [--timeout <s>] [--repo <url>] [--json]
//! driver-grid publish <built-dir> --repo <url> [--base-url <url>] [--json]
//! driver-grid index --repo <url> [--base-url <url>]
//! driver-grid cleanup --repo <url> (--versions <v>[,<v>]... | --older-than <v>) [--keep <v>... | --releases <file> [--ship <n>]] [--confirm] [--json]
//! driver-grid stats --repo <url> [--json]
//! driver-grid coverage --kernels <list.json> --repo <url> [--arch <arch>] [--keep <v>... | --releases <file>] [--json] [--site]
//! ```
//!
//! `<config-dir>` is `driverkit/config` or a checkout holding it. `validate` exits with 1 when
//! any config is invalid. Released configs' quirks are warnings; `--strict` refuses them, in
//! every config or, with `--since <commit>`, only in the configs changed since that commit (of
//! the driver versions `--keep`/`--releases` name, all when none): the pull-request check. `--existing` reads a
//! store listing (one key per line, or a JSON array) and plans only what is missing;
//! `--repo` lists the repository instead. `--releases` reads `<falco version> <driver
//! version>` lines and keeps the driver versions of the last `--ship` (default 2) stable
//! releases.
//!
//! `generate` reads kernel-crawler's per-architecture `list.json` (the architecture from
//! `--arch` or the file's path, e.g. `aarch64/list.json`) or the combined one. With `--prune`
//! it also lists the configs of that driver version whose kernel the list no longer holds, and
//! changes nothing (no config written, none removed) unless `--confirm` is given.
//!
//! `coverage` lists, per driver version (`--keep`/`--releases`, else every version the
//! repository holds) and architecture, the kernels of kernel-crawler's list without a module
//! (or without a probe where one is expected); `--site` also publishes it as
//! `driver/site/coverage.json`, which the drivers page shows.
//!
//! `<built-dir>` is driverkit's `output/<driverversion>/<arch>/falco_….{ko,o}` (or the
//! directory holding `output/`). `--repo` is `file:///srv/www` or `s3://bucket/prefix`
//! (credentials from `AWS_*`; `--s3-endpoint http://127.0.0.1:9000` for an S3-compatible
//! server); drivers go under `driver/`, the index under `driver/site/`. `cleanup` keeps
//! every driver version unless named by `--versions` or `--older-than`, refuses to delete a
//! version `--keep`/`--releases` ships, and only lists what it would delete unless
//! `--confirm` is given.

// With the default (pure) features the example validates, plans, counts and generates; the
// commands that build drivers or touch a store need the features that compile them.
#[cfg(all(feature = "build", feature = "publish"))]
mod build;
#[cfg(feature = "publish")]
mod repo;

use std::error::Error;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use falco_artifacts_driver_grid::core::Arch;
#[cfg(feature = "publish")]
use falco_artifacts_driver_grid::CleanupSelection;
use falco_artifacts_driver_grid::{
    arch_of_path, changed_config_files, check_tree_with, config_root, generate_list,
    parse_releases, ship, DriverVersion, ExistingKeys, KernelList, Plan, PlanFilter, Prune, Shard,
    ShipPolicy, Stats, Strictness,
};

const USAGE: &str = "usage: driver-grid validate|plan|stats <config-dir> [--json] [options]\n       \
driver-grid validate <config-dir> --strict [--since <commit>] [--keep <v>... | --releases <file>]\n       \
driver-grid generate <list.json> <driver-version> <config-dir> [--arch <arch>] [--prune [--confirm]]\n       \
driver-grid build <config-dir> --driver-source <dir|tarball|url> [--shard <k>/<n>] [--workers <n>] [--timeout <s>] [--repo <url>] [--json]\n       \
driver-grid publish <built-dir> --repo <url> [--base-url <url>] [--json]\n       \
driver-grid index --repo <url> [--base-url <url>]\n       \
driver-grid cleanup --repo <url> (--versions <v>[,<v>]... | --older-than <v>) [--keep <v>... | --releases <file>] [--confirm] [--json]\n       \
driver-grid stats --repo <url> [--json]\n       \
driver-grid coverage --kernels <list.json> --repo <url> [--arch <arch>] [--keep <v>... | --releases <file>] [--json] [--site]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(error)
            if error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            let mut text = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("driver-grid: {text}");
            ExitCode::from(2)
        }
    }
}

#[cfg_attr(
    not(feature = "publish"),
    allow(dead_code, reason = "the repository commands read the rest")
)]
struct Options {
    json: bool,
    existing: Option<PathBuf>,
    releases: Option<PathBuf>,
    ship: usize,
    filter: PlanFilter,
    positional: Vec<String>,
    repo: Option<String>,
    s3_endpoint: Option<String>,
    base_url: String,
    keep: Vec<DriverVersion>,
    confirm: bool,
    strict: bool,
    since: Option<String>,
    arch: Option<Arch>,
    prune: bool,
    versions: Vec<DriverVersion>,
    older_than: Option<DriverVersion>,
    kernels: Option<PathBuf>,
    site: bool,
    shard: Option<Shard>,
    matrix: Option<usize>,
    format: Option<String>,
}

fn parse_options(args: Vec<String>) -> Result<Options, Box<dyn Error>> {
    let mut options = Options {
        json: false,
        existing: None,
        releases: None,
        ship: 2,
        filter: PlanFilter::default(),
        positional: Vec::new(),
        repo: None,
        s3_endpoint: None,
        base_url: String::new(),
        keep: Vec::new(),
        confirm: false,
        strict: false,
        since: None,
        arch: None,
        prune: false,
        versions: Vec::new(),
        older_than: None,
        kernels: None,
        site: false,
        shard: None,
        matrix: None,
        format: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--json" => options.json = true,
            "--confirm" => options.confirm = true,
            "--strict" => options.strict = true,
            "--since" => options.since = Some(value("--since")?),
            "--repo" => options.repo = Some(value("--repo")?),
            "--s3-endpoint" => options.s3_endpoint = Some(value("--s3-endpoint")?),
            "--base-url" => options.base_url = value("--base-url")?,
            "--keep" => options.keep.push(value("--keep")?.parse()?),
            "--existing" => options.existing = Some(value("--existing")?.into()),
            "--releases" => options.releases = Some(value("--releases")?.into()),
            "--ship" => options.ship = value("--ship")?.parse()?,
            "--shard" => options.shard = Some(value("--shard")?.parse()?),
            "--matrix" => options.matrix = Some(value("--matrix")?.parse()?),
            "--format" => options.format = Some(value("--format")?),
            "--target" => options.filter = options.filter.with_target(value("--target")?.parse()?),
            "--kernel-release" => {
                options.filter = options
                    .filter
                    .with_kernel_release(&value("--kernel-release")?)
            }
            "--prune" => options.prune = true,
            "--site" => options.site = true,
            "--kernels" => options.kernels = Some(value("--kernels")?.into()),
            "--versions" => {
                for version in value("--versions")?.split(',').filter(|v| !v.is_empty()) {
                    options.versions.push(version.parse()?);
                }
            }
            "--older-than" => options.older_than = Some(value("--older-than")?.parse()?),
            "--arch" => {
                let arch = value("--arch")?.parse::<Arch>()?;
                options.arch = Some(arch);
                options.filter = options.filter.with_arch(arch)
            }
            "--driver-version" => {
                options.filter = options
                    .filter
                    .with_driver_version(value("--driver-version")?.parse()?)
            }
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}").into())
            }
            _ => options.positional.push(arg),
        }
    }
    Ok(options)
}

/// The error for a command this build of the example leaves out.
#[cfg(not(all(feature = "build", feature = "publish")))]
fn needs(features: &str, command: &str) -> Box<dyn Error> {
    format!(
        "`{command}` needs the example built with its features {features}: \
         cargo run -p falco-artifacts-driver-grid --features {features} --example driver-grid -- {command} ..."
    )
    .into()
}

/// What the repository at `--repo` already has.
#[cfg(feature = "publish")]
fn repo_existing(options: &Options) -> Result<ExistingKeys, Box<dyn Error>> {
    repo::existing(&repo_args(options)?)
}

#[cfg(not(feature = "publish"))]
fn repo_existing(_options: &Options) -> Result<ExistingKeys, Box<dyn Error>> {
    Err(needs("publish", "plan --repo"))
}

#[cfg(feature = "publish")]
fn repo_args(options: &Options) -> Result<repo::RepoArgs, Box<dyn Error>> {
    let url = options
        .repo
        .clone()
        .ok_or_else(|| format!("--repo <url> is needed\n{USAGE}"))?;
    Ok(repo::RepoArgs {
        url,
        s3_endpoint: options.s3_endpoint.clone(),
        base_url: options.base_url.clone(),
    })
}

/// The driver versions to keep: `--keep` and those `--releases` ships.
fn shipped(options: &Options) -> Result<Vec<DriverVersion>, Box<dyn Error>> {
    let mut versions = options.keep.clone();
    if let Some(path) = &options.releases {
        let releases = parse_releases(&std::fs::read_to_string(path)?)?;
        versions.extend(ship(
            &releases,
            &ShipPolicy::default().with_releases(options.ship),
        )?);
    }
    Ok(versions)
}

/// What `cleanup` deletes: only what is named.
#[cfg(feature = "publish")]
fn selection(options: &Options) -> Result<CleanupSelection, Box<dyn Error>> {
    match (&options.older_than, options.versions.is_empty()) {
        (Some(limit), true) => Ok(CleanupSelection::OlderThan(limit.clone())),
        (None, false) => Ok(CleanupSelection::Versions(options.versions.clone())),
        (Some(_), false) => Err(format!("give --versions or --older-than, not both\n{USAGE}").into()),
        (None, true) => Err(format!(
            "cleanup keeps every driver version unless named: give --versions <v>[,<v>] or --older-than <v>\n{USAGE}"
        )
        .into()),
    }
}

/// The commands on a repository; `None` when `command` is about a config directory.
#[cfg(not(feature = "publish"))]
fn run_repo(command: &str, options: &mut Options) -> Result<Option<ExitCode>, Box<dyn Error>> {
    match command {
        "publish" | "index" | "cleanup" | "coverage" => Err(needs("publish", command)),
        "stats" if options.positional.is_empty() => Err(needs("publish", "stats --repo")),
        _ => Ok(None),
    }
}

/// The commands on a repository; `None` when `command` is about a config directory.
#[cfg(feature = "publish")]
fn run_repo(command: &str, options: &mut Options) -> Result<Option<ExitCode>, Box<dyn Error>> {
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    match (command, options.positional.as_slice()) {
        ("publish", [built]) => repo::publish(
            &repo_args(options)?,
            &PathBuf::from(built),
            options.json,
            &mut stdout,
        )?,
        ("index", []) => repo::index(&repo_args(options)?, &mut stdout)?,
        ("cleanup", []) => repo::cleanup(
            &repo_args(options)?,
            &selection(options)?,
            &shipped(options)?,
            options.confirm,
            options.json,
            &mut stdout,
        )?,
        ("stats", []) => repo::stats(&repo_args(options)?, options.json, &mut stdout)?,
        ("coverage", []) => {
            let path = options
                .kernels
                .clone()
                .ok_or_else(|| format!("--kernels <list.json> is needed\n{USAGE}"))?;
            let arch = options.arch.or_else(|| arch_of_path(&path));
            let list = KernelList::parse(&std::fs::read_to_string(&path)?, arch)?;
            repo::coverage(
                &repo_args(options)?,
                &list,
                &shipped(options)?,
                options.site,
                options.json,
                &mut stdout,
            )?
        }
        ("publish" | "index" | "cleanup" | "coverage", _) => return Err(USAGE.into()),
        _ => return Ok(None),
    }
    stdout.flush()?;
    Ok(Some(ExitCode::SUCCESS))
}

fn run(args: Vec<String>) -> Result<ExitCode, Box<dyn Error>> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    if command == "build" {
        #[cfg(all(feature = "build", feature = "publish"))]
        return build::run(rest.to_vec());
        #[cfg(not(all(feature = "build", feature = "publish")))]
        return Err(needs("build,publish", command));
    }
    let mut options = parse_options(rest.to_vec())?;
    if command == "generate" {
        return run_generate(&options);
    }
    if let Some(code) = run_repo(command, &mut options)? {
        return Ok(code);
    }
    let [dir] = options.positional.as_slice() else {
        return Err(USAGE.into());
    };
    let root = config_root(&PathBuf::from(dir));
    let started = Instant::now();
    let strictness = match (options.strict, &options.since) {
        (true, Some(since)) => {
            Strictness::StrictFor(changed_config_files(&root, since, &shipped(&options)?)?)
        }
        (true, None) => Strictness::Strict,
        (false, Some(_)) => return Err(format!("--since needs --strict\n{USAGE}").into()),
        (false, None) => Strictness::Lenient,
    };
    let report = check_tree_with(&root, &strictness)?;
    let checked = report.files;
    let mut stdout = io::BufWriter::new(io::stdout().lock());

    match command.as_str() {
        "validate" => {
            if options.json {
                writeln!(
                    stdout,
                    "{}",
                    serde_json::to_string_pretty(&report.to_json())?
                )?;
            } else {
                write!(stdout, "{}", report.to_text())?;
            }
            stdout.flush()?;
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "plan" => {
            if let Some(path) = &options.releases {
                let releases = parse_releases(&std::fs::read_to_string(path)?)?;
                let versions = ship(
                    &releases,
                    &ShipPolicy::default().with_releases(options.ship),
                )?;
                options.filter = options.filter.with_driver_versions(versions);
            }
            let mut plan = Plan::new(&report.valid, &options.filter);
            let mut skipped = 0;
            let mut listed = 0;
            let existing = match (&options.existing, &options.repo) {
                (Some(path), _) => {
                    Some(ExistingKeys::from_listing(&std::fs::read_to_string(path)?)?)
                }
                (None, Some(_)) => Some(repo_existing(&options)?),
                (None, None) => None,
            };
            if let Some(existing) = existing {
                listed = existing.len();
                (plan, skipped) = plan.without_existing(&existing);
            }
            if let Some(count) = options.matrix {
                match options.format.as_deref() {
                    Some("github") | None => {}
                    Some(other) => {
                        return Err(format!("unknown --format {other:?} (github)").into())
                    }
                }
                // One line, for `echo "matrix=$(driver-grid plan … --matrix 4)" >> $GITHUB_OUTPUT`.
                writeln!(stdout, "{}", plan.github_matrix(count))?;
                stdout.flush()?;
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(shard) = options.shard {
                plan = plan.shard(shard);
            }
            if options.json {
                writeln!(stdout, "{}", serde_json::to_string(&plan.to_json())?)?;
            } else {
                write!(stdout, "{}", plan.to_table())?;
            }
            stdout.flush()?;
            for problem in &report.problems {
                eprintln!("{problem}");
            }
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "{checked} config files ({} valid, {} invalid): {} builds, {} outputs to build, {skipped} already published \
                 ({listed} keys listed; a store serves that in {} listing pages of 1000)",
                report.valid.len(),
                report.invalid_count(),
                plan.builds.len(),
                plan.output_count(),
                listed.div_ceil(1000)
            );
            eprintln!(
                "load + validate + plan: {seconds:.3} s, {:.0} configs/s",
                checked as f64 / seconds.max(1e-9)
            );
            Ok(ExitCode::SUCCESS)
        }
        "stats" => {
            let stats = Stats::of(&report.valid);
            if options.json {
                writeln!(
                    stdout,
                    "{}",
                    serde_json::to_string_pretty(&stats.to_json())?
                )?;
            } else {
                write!(stdout, "{}", stats.to_table())?;
            }
            stdout.flush()?;
            if !report.is_ok() {
                eprintln!("{} invalid configs not counted", report.invalid_count());
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.into()),
    }
}

/// `generate <list.json> <driver-version> <config-dir> [--arch <a>] [--prune [--confirm]]`.
fn run_generate(options: &Options) -> Result<ExitCode, Box<dyn Error>> {
    let [list, version, dir] = options.positional.as_slice() else {
        return Err(USAGE.into());
    };
    let version: DriverVersion = version.parse()?;
    let arch = options
        .arch
        .or_else(|| arch_of_path(std::path::Path::new(list)));
    let kernels = KernelList::parse(&std::fs::read_to_string(list)?, arch)?;
    let generated = generate_list(&kernels, &version);
    for skipped in &generated.skipped {
        eprintln!(
            "skipped {}/{}[{}]: {}",
            skipped.arch, skipped.distro, skipped.index, skipped.reason
        );
    }
    let root = config_root(&PathBuf::from(dir));
    if options.prune {
        let prune = Prune::of(&root, &kernels, &version)?;
        let verb = if options.confirm {
            "removed"
        } else {
            "would remove"
        };
        for path in &prune.remove {
            println!("{verb} {}", path.display());
        }
        if !options.confirm {
            println!(
                "dry run: {} configs would be written, {} removed; nothing changed (add --confirm)",
                generated.configs.len(),
                prune.remove.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let written = generated.write(&root)?;
        let removed = prune.apply()?;
        println!(
            "{written} configs written, {removed} removed, {} entries skipped",
            generated.skipped.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let written = generated.write(&root)?;
    println!(
        "{written} configs written, {} entries skipped",
        generated.skipped.len()
    );
    Ok(ExitCode::SUCCESS)
}
