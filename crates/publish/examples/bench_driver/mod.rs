//! What the APT and YUM benchmark drivers share: the command line, the `file://` site, and
//! publishing a directory of packages or one package through core's `Publisher`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use falco_artifacts_core::{
    Artifact, ArtifactKind, ChannelConfig, KeyAlgorithm, LocalArtifact, PgpSigner, Publisher,
    Signer,
};
use falco_artifacts_publish::{RepoStore, StoreOptions};

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Makes the repository over a store, signing with the given key.
pub(crate) type MakeRepository = fn(RepoStore, Arc<dyn Signer>) -> Result<Arc<dyn Publisher>>;

/// One package format's benchmark: its name (`apt`), package kind, and how to make packages
/// and the repository.
pub(crate) struct Bench {
    pub(crate) name: &'static str,
    pub(crate) kind: ArtifactKind,
    /// The package files' extension (`deb`).
    pub(crate) extension: &'static str,
    /// Writes `count` small packages numbered from `first` into a directory.
    pub(crate) generate: fn(&Path, u64, u64) -> Result<()>,
    /// The repository.
    pub(crate) repository: MakeRepository,
}

/// A fresh Ed25519 key.
pub(crate) fn signer() -> Result<Arc<dyn Signer>> {
    Ok(Arc::new(PgpSigner::generate(
        "Bench <b@example.invalid>",
        KeyAlgorithm::Ed25519,
    )?))
}

impl Bench {
    /// `<NAME>_BENCH_FSYNC=0` turns off fsync, to see what the disk costs.
    fn site_store(&self, site: &Path) -> Result<RepoStore> {
        std::fs::create_dir_all(site)?;
        let variable = format!("{}_BENCH_FSYNC", self.name.to_uppercase());
        let options = StoreOptions {
            fsync: std::env::var(variable).map_or(true, |v| v != "0"),
            ..StoreOptions::default()
        };
        Ok(RepoStore::from_url_with(
            &format!("file://{}", site.canonicalize()?.display()),
            &options,
        )?)
    }

    fn artifact(&self, path: &Path) -> Result<Arc<dyn Artifact>> {
        Ok(Arc::new(LocalArtifact::from_path(self.kind, path)?))
    }

    async fn run(&self, args: &[String]) -> Result<()> {
        let stable = ChannelConfig::stable();
        match args {
            [cmd, dir, count] if cmd == "generate" => {
                (self.generate)(Path::new(dir), count.parse()?, 1)
            }
            [cmd, dir, count, first] if cmd == "generate" => {
                (self.generate)(Path::new(dir), count.parse()?, first.parse()?)
            }
            [cmd, site, packages] if cmd == "publish" => {
                let mut paths: Vec<PathBuf> = std::fs::read_dir(packages)?
                    .map(|e| e.map(|e| e.path()))
                    .collect::<std::io::Result<_>>()?;
                paths.retain(|p| p.extension().is_some_and(|e| e == self.extension));
                paths.sort();
                let artifacts = paths
                    .iter()
                    .map(|p| self.artifact(p))
                    .collect::<Result<Vec<_>>>()?;
                let store = self.site_store(Path::new(site))?;
                let report = (self.repository)(store, signer()?)?
                    .publish(&stable, &artifacts)
                    .await?;
                eprintln!("published {} packages", report.uploaded.len());
                Ok(())
            }
            [cmd, site, package] if cmd == "add" => {
                let store = self.site_store(Path::new(site))?;
                let report = (self.repository)(store.clone(), signer()?)?
                    .publish(&stable, &[self.artifact(Path::new(package))?])
                    .await?;
                println!(
                    "uploaded {} in {} store requests",
                    report.uploaded.len(),
                    store.requests()
                );
                Ok(())
            }
            _ => Err(format!(
                "usage: {0}-bench generate <dir> <count> [first] | publish <site> <{1}-dir> | add <site> <{1}>",
                self.name, self.extension
            )
            .into()),
        }
    }

    /// Runs the command line on a multi-threaded runtime, printing the error chain on failure.
    pub(crate) fn main(&self) -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("{}-bench: {e}", self.name);
                return ExitCode::FAILURE;
            }
        };
        match runtime.block_on(self.run(&args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}-bench: {e}", self.name);
                let mut source = e.source();
                while let Some(cause) = source {
                    eprintln!("  caused by: {cause}");
                    source = cause.source();
                }
                ExitCode::FAILURE
            }
        }
    }
}
