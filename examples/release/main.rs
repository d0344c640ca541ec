//! The release pipeline as a thin command line over `falco_artifacts::release`: parse the
//! flags (the library's flag structs), call the library, print. Precedence, channels,
//! defaults and exit policy live in the library's `Settings`, which `plan` and `run` share.
//!
//! `demo` runs everything on an embedded default; `plan` prints what a release event would
//! produce; `run` gates, packages, publishes and verifies a real release (flags or a YAML
//! configuration file, see `falco_artifacts::release::PipelineConfig`); `publish` does the
//! same with packages built elsewhere (CPack's); `drivers`, `index`, `verify`, `prune` and
//! `resign` are the repository operations on their own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use falco_artifacts::release::{
    demo, publish_prebuilt_with_progress, run_release_with_progress, shell_command, DriversFlags,
    EventFlags, JobFlags, PrebuiltFlags, RepoFlags, Settings,
};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

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
        #[command(flatten)]
        event: EventFlags,
        /// The configuration file (YAML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The package manifest (default: the configuration's, else the embedded sample).
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
    Run {
        #[command(flatten)]
        event: EventFlags,
        #[command(flatten)]
        repo: RepoFlags,
        #[command(flatten)]
        job: JobFlags,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish packages built elsewhere (CPack's DEB, RPM, TGZ): read each file's name,
    /// version and arch, refuse what is not the release's, sign copies, then publish and
    /// verify like `run`.
    Publish {
        #[command(flatten)]
        event: EventFlags,
        #[command(flatten)]
        repo: RepoFlags,
        #[command(flatten)]
        job: JobFlags,
        #[command(flatten)]
        files: PrebuiltFlags,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate driverkit configs, plan what the driver repository lacks, build and publish
    /// drivers, and rewrite the index of prebuilt drivers.
    Drivers {
        #[command(flatten)]
        repo: RepoFlags,
        #[command(flatten)]
        drivers: DriversFlags,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the index of prebuilt drivers from a listing of the driver repository.
    Index {
        #[command(flatten)]
        repo: RepoFlags,
    },
    /// Verify a channel's repositories.
    Verify {
        #[command(flatten)]
        repo: RepoFlags,
        /// `stable`, `dev` or a channel of the configuration.
        #[arg(long, default_value = "stable")]
        channel: String,
    },
    /// Apply a channel's retention now; with `--orphans`, list the files a failed publish
    /// left that no index names instead (deleted only with `--confirm`).
    Prune {
        #[command(flatten)]
        repo: RepoFlags,
        /// `stable`, `dev` or a channel of the configuration.
        #[arg(long, default_value = "dev")]
        channel: String,
        /// List the orphans of the channel's repositories (a dry run) instead of applying
        /// retention.
        #[arg(long)]
        orphans: bool,
        /// Delete the orphans listed.
        #[arg(long, requires = "orphans")]
        confirm: bool,
    },
    /// Re-sign a channel's published repositories in place with its key (a key rotation:
    /// `--key-file new.asc`), stable included: every `.asc`, every rpm header signature,
    /// `InRelease`/`Release.gpg`, `repomd.xml.asc`; payloads are never rebuilt. Writes the
    /// public key bundle at the root.
    Resign {
        #[command(flatten)]
        repo: RepoFlags,
        /// `stable`, `dev` or a channel of the configuration.
        #[arg(long)]
        channel: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run everything on an embedded default: a sample payload, a generated key, a throwaway
    /// git history, and a `file://` repository under `target/`.
    Demo {
        /// Where to put the key, the history and the repository.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample")
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn print(json: bool, value: &impl serde::Serialize, text: String) -> Result {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{text}");
    }
    Ok(())
}

fn run(command: Cmd) -> Result {
    match command {
        Cmd::Plan {
            event,
            config,
            manifest,
            drivers,
            releases,
            json,
        } => {
            let settings = Settings::load(&RepoFlags {
                config,
                ..RepoFlags::default()
            })?;
            let fallback_manifest = Some(sample().join("falco.yaml"));
            let job = JobFlags {
                manifest,
                fallback_manifest,
                ..JobFlags::default()
            };
            let drivers = drivers
                .map(|configs| DriversFlags {
                    configs: Some(configs),
                    releases,
                    ..Default::default()
                })
                .map(|flags| settings.drivers_job(flags))
                .transpose()?;
            let plan = settings.plan(&event, &job, drivers.as_ref())?;
            print(json, &plan, plan.to_text())
        }
        Cmd::Run {
            event,
            repo,
            job,
            json,
        } => {
            let (job, pipeline) = Settings::load(&repo)?.release_job(&event, &job)?;
            // Publishing is idempotent: the same command completes a release stopped half-way.
            let pipeline = pipeline.with_resume_command(shell_command(std::env::args()));
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            let report = runtime()?.block_on(run_release_with_progress(&job, &pipeline, |step| {
                spinner.set_message(step.to_owned())
            }));
            spinner.finish_and_clear();
            let report = report?;
            print(json, &report, report.to_text())
        }
        Cmd::Publish {
            event,
            repo,
            job,
            files,
            json,
        } => {
            let (job, pipeline) = Settings::load(&repo)?.publish_job(&event, &job, &files)?;
            let pipeline = pipeline.with_resume_command(shell_command(std::env::args()));
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            let report =
                runtime()?.block_on(publish_prebuilt_with_progress(&job, &pipeline, |step| {
                    spinner.set_message(step.to_owned())
                }));
            spinner.finish_and_clear();
            let report = report?;
            print(json, &report, report.to_text())
        }
        Cmd::Drivers {
            repo,
            drivers,
            json,
        } => {
            let settings = Settings::load(&repo)?;
            let job = settings.drivers_job(drivers)?;
            let report = runtime()?.block_on(settings.pipeline()?.drivers(&job))?;
            print(json, &report, report.to_text())?;
            Ok(report.outcome()?)
        }
        Cmd::Index { repo } => {
            let pipeline = Settings::load(&repo)?.pipeline()?;
            let versions = runtime()?.block_on(pipeline.write_driver_index())?;
            println!("driver/site/index.json and index.html rewritten: {versions} driver versions");
            Ok(())
        }
        Cmd::Verify { repo, channel } => {
            let settings = Settings::load(&repo)?;
            let channel = settings.channel(&channel)?;
            for verified in runtime()?.block_on(settings.pipeline()?.verify(&channel))? {
                println!("verified {verified}");
            }
            Ok(())
        }
        Cmd::Prune {
            repo,
            channel,
            orphans: true,
            confirm,
        } => {
            let settings = Settings::load(&repo)?;
            let channel = settings.channel(&channel)?;
            let pipeline = settings.pipeline()?;
            let report = runtime()?.block_on(pipeline.prune_orphans(&channel, confirm))?;
            print!("{}", report.to_text());
            Ok(())
        }
        Cmd::Prune { repo, channel, .. } => {
            let settings = Settings::load(&repo)?;
            let channel = settings.channel(&channel)?;
            let pruned = runtime()?.block_on(settings.pipeline()?.prune(&channel))?;
            println!("{} files pruned", pruned.len());
            for file in pruned {
                println!("  {}/{}", file.repository, file.file_name);
            }
            Ok(())
        }
        Cmd::Resign {
            repo,
            channel,
            json,
        } => {
            let settings = Settings::load(&repo)?;
            let pipeline = settings.channel_pipeline(&channel)?;
            let channel = settings.channel(&channel)?;
            let report = runtime()?.block_on(pipeline.resign(&channel))?;
            print(json, &report, report.to_text())
        }
        Cmd::Demo { out } => {
            let out = out.unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/falco-artifacts-demo")
            });
            let sample = sample();
            let demo = demo::run_demo(&sample, &out, |line| println!("{line}"));
            Ok(runtime()?.block_on(demo)?)
        }
    }
}

fn main() -> ExitCode {
    let Err(e) = run(Cli::parse().command) else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::FAILURE
}
