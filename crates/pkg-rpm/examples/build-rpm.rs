//! `build-rpm <manifest> <out-dir> [--key <armored-secret-key>]`: builds the `.rpm` a YAML
//! manifest describes (optionally signed) and prints its path. `scripts/bench rpm` runs it
//! against `rpmbuild -bb`.
//!
//! `version` and `arch` come from the manifest or `--version`/`--arch`; the source date from
//! the manifest, `--source-date` or `SOURCE_DATE_EPOCH`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use falco_artifacts_pkg_rpm::core::package::{load_manifest, ManifestOptions, SourceDate};
use falco_artifacts_pkg_rpm::core::{Arch, PgpSigner, Version};
use falco_artifacts_pkg_rpm::{Compression, RpmBuilder};

#[derive(Parser)]
#[command(about = "Build an .rpm from a falco-artifacts YAML manifest")]
struct Args {
    /// The package manifest.
    manifest: PathBuf,
    /// Where to write `<name>-<version>-<arch>.rpm`.
    out_dir: PathBuf,
    /// An ASCII-armored OpenPGP secret key to sign the header with.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Overrides the manifest's version.
    #[arg(long)]
    version: Option<Version>,
    /// Overrides the manifest's architecture.
    #[arg(long)]
    arch: Option<Arch>,
    /// Overrides the source date (seconds since the epoch).
    #[arg(long)]
    source_date: Option<u64>,
    /// Payload compression: gzip, xz, zstd or none.
    #[arg(long, default_value = "gzip")]
    compression: String,
    /// Compression level (default: gzip 6, xz 6, zstd 19).
    #[arg(long)]
    level: Option<i32>,
    /// Compression threads (default: every core; the package is the same whatever the number).
    #[arg(long)]
    threads: Option<u32>,
}

fn run(args: Args) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let options = ManifestOptions {
        version: args.version,
        arch: args.arch,
        source_date: args.source_date.map(SourceDate::from_secs),
    };
    let spec = load_manifest(&args.manifest, &options)?;
    let mut compression = Compression::from_name(&args.compression)
        .ok_or_else(|| format!("unknown compression {:?}", args.compression))?;
    if let Some(level) = args.level {
        compression = compression.with_level(level);
    }
    let signer = match &args.key {
        Some(path) => Some(PgpSigner::from_armored_file(path, None)?),
        None => None,
    };
    let mut builder = RpmBuilder::new(&spec).with_compression(compression);
    if let Some(threads) = args.threads {
        builder = builder.with_threads(threads);
    }
    if let Some(signer) = &signer {
        builder = builder.with_signer(signer);
    }
    let package = builder.build()?;
    std::fs::create_dir_all(&args.out_dir)?;
    Ok(package.write_to_dir(&args.out_dir)?)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
