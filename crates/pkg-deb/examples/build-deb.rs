//! Builds a `.deb` from a YAML manifest.
//!
//! ```text
//! SOURCE_DATE_EPOCH=1700000000 cargo run -p falco-artifacts-pkg-deb --example build-deb -- \
//!     examples/sample/falco.yaml out/ --version 0.39.0 --arch x86_64 --compression xz --level 6
//! ```
//!
//! `--version` and `--arch` override the manifest's; the source date comes from the manifest
//! or `SOURCE_DATE_EPOCH`. Prints the package path and size.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use falco_artifacts_pkg_deb::core::package::{load_manifest, ManifestOptions};
use falco_artifacts_pkg_deb::core::{Arch, Version};
use falco_artifacts_pkg_deb::{Codec, Compression, DebBuilder};

#[derive(Parser)]
#[command(about = "Build a .deb from a falco-artifacts YAML manifest")]
struct Args {
    /// The manifest.
    manifest: PathBuf,
    /// Where the package is written (created if missing).
    out_dir: PathBuf,
    /// Package version (overrides the manifest's).
    #[arg(long)]
    version: Option<Version>,
    /// Architecture: x86_64/amd64 or aarch64/arm64 (overrides the manifest's).
    #[arg(long)]
    arch: Option<Arch>,
    /// data.tar compression: gzip, xz, zstd or none.
    #[arg(long, default_value = "gzip")]
    compression: Codec,
    /// Compression level (default: dpkg-deb's for the codec).
    #[arg(long)]
    level: Option<u32>,
    /// Compression threads (default: every core).
    #[arg(long)]
    threads: Option<u32>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("build-deb: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let options = ManifestOptions {
        version: args.version,
        arch: args.arch,
        source_date: None,
    };
    let spec = load_manifest(&args.manifest, &options)?;
    let level = args
        .level
        .unwrap_or_else(|| args.compression.default_level());
    let mut builder =
        DebBuilder::new(&spec).with_compression(Compression::new(args.compression, level));
    if let Some(threads) = args.threads {
        builder = builder.with_threads(threads);
    }
    let deb = builder.build()?;
    std::fs::create_dir_all(&args.out_dir)?;
    let report = deb.write_to_dir(&args.out_dir)?;
    println!(
        "{} {} bytes ({} files, {} KiB installed, {})",
        report.path.unwrap_or_default().display(),
        report.size,
        report.files,
        report.installed_size_kib,
        report.data_member
    );
    Ok(())
}
