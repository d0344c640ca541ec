//! The APT benchmark's driver (`scripts/bench.d/publish.sh`).
//!
//! ```text
//! apt-bench generate <dir> <count> [first]   write <count> small .debs (falco-bench-<n> 0.<n>.0)
//! apt-bench publish <site> <deb-dir>          publish every .deb of <deb-dir> into file://<site>
//! apt-bench add <site> <deb>                  add one .deb; prints the store requests it took
//! ```
//! `APT_BENCH_FSYNC=0` turns off fsync, to see what the disk costs.

#[path = "bench_driver/mod.rs"]
mod bench_driver;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use bench_driver::{Bench, Result};
use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{ArtifactKind, Publisher, Signer};
use falco_artifacts_pkg_deb::DebBuilder;
use falco_artifacts_publish::{AptRepository, RepoStore};

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

fn repository(store: RepoStore, signer: Arc<dyn Signer>) -> Result<Arc<dyn Publisher>> {
    Ok(Arc::new(
        AptRepository::builder(store).with_signer(signer).build()?,
    ))
}

fn main() -> ExitCode {
    Bench {
        name: "apt",
        kind: ArtifactKind::Deb,
        extension: "deb",
        generate,
        repository,
    }
    .main()
}
