//! The YUM benchmark's driver (`scripts/bench.d/yum.sh`).
//!
//! ```text
//! yum-bench generate <dir> <count> [first]   write <count> small signed .rpms (falco-bench-<n> 0.<n>.0)
//! yum-bench publish <site> <rpm-dir>          publish every .rpm of <rpm-dir> into file://<site>
//! yum-bench add <site> <rpm>                  add one .rpm; prints the store requests it took
//! ```
//! `YUM_BENCH_FSYNC=0` turns off fsync, to see what the disk costs.

#[path = "bench_driver/mod.rs"]
mod bench_driver;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use bench_driver::{signer, Bench, Result};
use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{ArtifactKind, Publisher, Signer};
use falco_artifacts_pkg_rpm::RpmBuilder;
use falco_artifacts_publish::{RepoStore, YumRepository};

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

fn repository(store: RepoStore, signer: Arc<dyn Signer>) -> Result<Arc<dyn Publisher>> {
    Ok(Arc::new(
        YumRepository::builder(store).with_signer(signer).build()?,
    ))
}

fn main() -> ExitCode {
    Bench {
        name: "yum",
        kind: ArtifactKind::Rpm,
        extension: "rpm",
        generate,
        repository,
    }
    .main()
}
