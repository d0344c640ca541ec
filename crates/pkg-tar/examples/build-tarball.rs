//! Builds the release tarball from a YAML manifest:
//!
//! `cargo run -p falco-artifacts-pkg-tar --example build-tarball -- <manifest> <out-dir>
//!  [--version V] [--arch A] [--compression gzip|xz|zstd|none] [--level N] [--threads N]
//!  [--key <armored-secret-key>]`
//!
//! The source date comes from the manifest or `SOURCE_DATE_EPOCH`.

use std::path::PathBuf;
use std::process::ExitCode;

use falco_artifacts_core::package::{load_manifest, ManifestOptions};
use falco_artifacts_core::PgpSigner;
use falco_artifacts_pkg_tar::{Codec, Compression, TarballBuilder};

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut options = ManifestOptions::default();
    let (mut codec, mut level, mut threads, mut key) = ("gzip".to_owned(), None, None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--version" => options.version = Some(value()?.parse()?),
            "--arch" => options.arch = Some(value()?.parse()?),
            "--compression" => codec = value()?,
            "--level" => level = Some(value()?.parse::<u32>()?),
            "--threads" => threads = Some(value()?.parse::<usize>()?),
            "--key" => key = Some(PathBuf::from(value()?)),
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [manifest, out_dir] = positional.as_slice() else {
        return Err("usage: build-tarball <manifest> <out-dir> [--version V] [--arch A] [--compression gzip|xz|zstd|none] [--level N] [--threads N] [--key FILE]".into());
    };
    let codec: Codec = codec.parse()?;
    // gzip 6 is what `tar | gzip` gives; zstd 19 and xz 6 are the usual release levels.
    let default_level = match codec {
        Codec::Gzip | Codec::Xz => 6,
        Codec::Zstd => 19,
        Codec::None => 0,
    };
    let compression = Compression::new(codec, level.unwrap_or(default_level));
    let spec = load_manifest(manifest, &options)?;
    let signer = key
        .map(|k| {
            PgpSigner::from_armored_file(
                &k,
                std::env::var("SIGNING_KEY_PASSPHRASE").ok().as_deref(),
            )
        })
        .transpose()?;
    let mut builder = TarballBuilder::new(&spec).with_compression(compression);
    if let Some(n) = threads {
        builder = builder.with_threads(n);
    }
    if let Some(s) = &signer {
        builder = builder.with_signer(s);
    }
    let tarball = builder.build(out_dir)?;
    println!("{}  {}", tarball.sha256, tarball.path.display());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
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
