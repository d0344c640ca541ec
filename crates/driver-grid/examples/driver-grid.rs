//! `validate`, `plan`, `stats` and `generate` on a driverkit config directory.
//!
//! ```text
//! driver-grid validate <config-dir> [--json]
//! driver-grid plan <config-dir> [--json] [--existing <listing>] [--target <t>]...
//!                  [--kernel-release <glob>] [--arch <arch>] [--driver-version <v>]...
//!                  [--releases <file>] [--ship <n>]
//! driver-grid stats <config-dir> [--json]
//! driver-grid generate <list.json> <driver-version> <config-dir>
//! ```
//!
//! `<config-dir>` is `driverkit/config` or a checkout holding it. `validate` exits with 1 when
//! any config is invalid, so it can check a contributor's pull request. `--existing` reads a
//! store listing (one key per line, or a JSON array) and plans only what is missing.
//! `--releases` reads `<falco version> <driver version>` lines and keeps the driver versions
//! of the last `--ship` (default 2) stable releases.

use std::error::Error;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use falco_artifacts_driver_grid::core::Arch;
use falco_artifacts_driver_grid::{
    check_tree, config_root, generate, parse_releases, ship, ExistingKeys, Glob, Plan, PlanFilter,
    ShipPolicy, Stats,
};

const USAGE: &str = "usage: driver-grid validate|plan|stats <config-dir> [--json] [options]\n       driver-grid generate <list.json> <driver-version> <config-dir>";

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

struct Options {
    json: bool,
    existing: Option<PathBuf>,
    releases: Option<PathBuf>,
    ship: usize,
    filter: PlanFilter,
    positional: Vec<String>,
}

fn parse_options(args: Vec<String>) -> Result<Options, Box<dyn Error>> {
    let mut options = Options {
        json: false,
        existing: None,
        releases: None,
        ship: 2,
        filter: PlanFilter::default(),
        positional: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--json" => options.json = true,
            "--existing" => options.existing = Some(value("--existing")?.into()),
            "--releases" => options.releases = Some(value("--releases")?.into()),
            "--ship" => options.ship = value("--ship")?.parse()?,
            "--target" => options.filter = options.filter.with_target(value("--target")?.parse()?),
            "--kernel-release" => {
                options.filter = options
                    .filter
                    .with_kernel_release(Glob::new(&value("--kernel-release")?))
            }
            "--arch" => {
                options.filter = options.filter.with_arch(value("--arch")?.parse::<Arch>()?)
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

fn run(args: Vec<String>) -> Result<ExitCode, Box<dyn Error>> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    let mut options = parse_options(rest.to_vec())?;
    if command == "generate" {
        let [list, version, dir] = options.positional.as_slice() else {
            return Err(USAGE.into());
        };
        let generated = generate(&std::fs::read_to_string(list)?, &version.parse()?)?;
        let written = generated.write(&PathBuf::from(dir))?;
        for skipped in &generated.skipped {
            eprintln!(
                "skipped {}/{}[{}]: {}",
                skipped.arch, skipped.distro, skipped.index, skipped.reason
            );
        }
        println!(
            "{written} configs written, {} entries skipped",
            generated.skipped.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let [dir] = options.positional.as_slice() else {
        return Err(USAGE.into());
    };
    let root = config_root(&PathBuf::from(dir));
    let started = Instant::now();
    let report = check_tree(&root)?;
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
            if let Some(path) = &options.existing {
                let existing = ExistingKeys::from_listing(&std::fs::read_to_string(path)?)?;
                listed = existing.len();
                (plan, skipped) = plan.without_existing(&existing);
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
