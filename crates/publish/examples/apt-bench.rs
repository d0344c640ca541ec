//! The APT benchmark's driver (`scripts/bench.d/publish.sh`).
//!
//! ```text
//! apt-bench generate <dir> <count> [first]   write <count> small .debs (falco-bench-<n> 0.<n>.0)
//! apt-bench publish <site> <deb-dir>          publish every .deb of <deb-dir> into file://<site>
//! apt-bench add <site> <deb>                  add one .deb; prints the store requests it took
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{
    Artifact, ArtifactKind, ChannelConfig, KeyAlgorithm, LocalArtifact, PgpSigner, Publisher,
    Signer,
};
use falco_artifacts_pkg_deb::DebBuilder;
use falco_artifacts_publish::{AptRepository, RepoStore, StoreOptions};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn generate(dir: &Path, count: u64, first: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for n in first..first + count {
        let yaml = format!(
            "name: falco-bench-{n}\nversion: \"0.{n}.0\"\narch: x86_64\nmaintainer: Bench <b@example.invalid>\n\
             description: |\n  Falco\n  Benchmark package {n}.\nlicense: Apache-2.0\n\
             source_date: 1700000000\ncontents:\n\
             - {{ dst: /usr/bin/falco, inline: \"#!/bin/sh\\necho {n}\\n\", mode: \"0755\" }}\n"
        );
        let spec = load_manifest_str(&yaml, Path::new("."), &ManifestOptions::default())?;
        DebBuilder::new(&spec)
            .with_threads(1)
            .build()?
            .write_to_dir(dir)?;
    }
    Ok(())
}

fn artifact(path: &Path) -> Result<Arc<dyn Artifact>> {
    Ok(Arc::new(LocalArtifact::from_path(ArtifactKind::Deb, path)?))
}

fn repository(store: RepoStore) -> Result<AptRepository> {
    let signer: Arc<dyn Signer> = Arc::new(PgpSigner::generate(
        "Bench <b@example.invalid>",
        KeyAlgorithm::Ed25519,
    )?);
    Ok(AptRepository::builder(store).with_signer(signer).build()?)
}

/// `APT_BENCH_FSYNC=0` turns off fsync, to see what the disk costs.
fn site_store(site: &Path) -> Result<RepoStore> {
    std::fs::create_dir_all(site)?;
    let options = StoreOptions {
        fsync: std::env::var("APT_BENCH_FSYNC").map_or(true, |v| v != "0"),
        ..StoreOptions::default()
    };
    Ok(RepoStore::from_url_with(
        &format!("file://{}", site.canonicalize()?.display()),
        &options,
    )?)
}

async fn run(args: &[String]) -> Result<()> {
    let stable = ChannelConfig::stable();
    match args {
        [cmd, dir, count] if cmd == "generate" => generate(Path::new(dir), count.parse()?, 1),
        [cmd, dir, count, first] if cmd == "generate" => {
            generate(Path::new(dir), count.parse()?, first.parse()?)
        }
        [cmd, site, debs] if cmd == "publish" => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(debs)?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            paths.retain(|p| p.extension().is_some_and(|e| e == "deb"));
            paths.sort();
            let artifacts = paths
                .iter()
                .map(|p| artifact(p))
                .collect::<Result<Vec<_>>>()?;
            let report = repository(site_store(Path::new(site))?)?
                .publish(&stable, &artifacts)
                .await?;
            eprintln!("published {} packages", report.uploaded.len());
            Ok(())
        }
        [cmd, site, deb] if cmd == "add" => {
            let store = site_store(Path::new(site))?;
            let report = repository(store.clone())?
                .publish(&stable, &[artifact(Path::new(deb))?])
                .await?;
            println!(
                "uploaded {} in {} store requests",
                report.uploaded.len(),
                store.requests()
            );
            Ok(())
        }
        _ => Err("usage: apt-bench generate <dir> <count> [first] | publish <site> <deb-dir> | add <site> <deb>".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("apt-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apt-bench: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
