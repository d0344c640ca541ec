//! The YUM benchmark's driver (`scripts/bench.d/yum.sh`).
//!
//! ```text
//! yum-bench generate <dir> <count> [first]   write <count> small signed .rpms (falco-bench-<n> 0.<n>.0)
//! yum-bench publish <site> <rpm-dir>          publish every .rpm of <rpm-dir> into file://<site>
//! yum-bench add <site> <rpm>                  add one .rpm; prints the store requests it took
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{
    Artifact, ArtifactKind, ChannelConfig, KeyAlgorithm, LocalArtifact, PgpSigner, Publisher,
    Signer,
};
use falco_artifacts_pkg_rpm::RpmBuilder;
use falco_artifacts_publish::{RepoStore, StoreOptions, YumRepository};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn signer() -> Result<Arc<dyn Signer>> {
    Ok(Arc::new(PgpSigner::generate(
        "Bench <b@example.invalid>",
        KeyAlgorithm::Ed25519,
    )?))
}

/// Packages are signed when generated, so publishing them measures indexing, not signing.
fn generate(dir: &Path, count: u64, first: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let signer = signer()?;
    for n in first..first + count {
        let yaml = format!(
            "name: falco-bench-{n}\nversion: \"0.{n}.0\"\narch: x86_64\nmaintainer: Bench <b@example.invalid>\n\
             description: |\n  Falco\n  Benchmark package {n}.\nlicense: Apache-2.0\n\
             source_date: 1700000000\ncontents:\n\
             - {{ dst: /etc/falco/falco.yaml, inline: \"n: {n}\\n\", type: config-noreplace }}\n\
             - {{ dst: /usr/bin/falco, inline: \"#!/bin/sh\\necho {n}\\n\", mode: \"0755\" }}\n"
        );
        let spec = load_manifest_str(&yaml, Path::new("."), &ManifestOptions::default())?;
        RpmBuilder::new(&spec)
            .with_signer(signer.as_ref())
            .build()?
            .write_to_dir(dir)?;
    }
    Ok(())
}

fn artifact(path: &Path) -> Result<Arc<dyn Artifact>> {
    Ok(Arc::new(LocalArtifact::from_path(ArtifactKind::Rpm, path)?))
}

fn repository(store: RepoStore) -> Result<YumRepository> {
    Ok(YumRepository::builder(store)
        .with_signer(signer()?)
        .build()?)
}

/// `YUM_BENCH_FSYNC=0` turns off fsync, to see what the disk costs.
fn site_store(site: &Path) -> Result<RepoStore> {
    std::fs::create_dir_all(site)?;
    let options = StoreOptions {
        fsync: std::env::var("YUM_BENCH_FSYNC").map_or(true, |v| v != "0"),
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
        [cmd, site, rpms] if cmd == "publish" => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(rpms)?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            paths.retain(|p| p.extension().is_some_and(|e| e == "rpm"));
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
        [cmd, site, rpm] if cmd == "add" => {
            let store = site_store(Path::new(site))?;
            let report = repository(store.clone())?
                .publish(&stable, &[artifact(Path::new(rpm))?])
                .await?;
            println!(
                "uploaded {} in {} store requests",
                report.uploaded.len(),
                store.requests()
            );
            Ok(())
        }
        _ => Err("usage: yum-bench generate <dir> <count> [first] | publish <site> <rpm-dir> | add <site> <rpm>".into()),
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
            eprintln!("yum-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("yum-bench: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
