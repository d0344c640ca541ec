//! The local backend: downloads the header packages, unpacks them with our own readers and
//! compiles the module with kbuild and the probe with clang, on this machine.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use falco_artifacts_core::{Arch, Sha256Digest};

use super::bpf::{clang_command, kernel_arch, llc_command};
use super::command::find_tool;
use super::copy::copy_tree;
use super::unpack::{repair, unpack_package_until, write_kernel_config, KernelTree};
use super::{BuildContext, BuildError, DriverBuilder, Fetcher, GridJob};
use crate::kernel::DriverKind;

/// The driver source a [`LocalBuilder`] compiles (Falco's `driver/` from falcosecurity/libs
/// at the driver version, configured): a directory kbuild builds as an external module, and
/// the probe's C file inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverSource {
    /// The directory holding the module's `Makefile`/`Kbuild`.
    pub dir: PathBuf,
    /// The module kbuild makes, without `.ko` (Falco's is `falco`).
    pub module_name: String,
    /// The probe's C source, relative to `dir` (Falco's is `bpf/probe.c`).
    pub probe_source: PathBuf,
}

impl DriverSource {
    /// Falco's layout in `dir`: module `falco.ko`, probe `bpf/probe.c`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DriverSource {
            dir: dir.into(),
            module_name: "falco".to_owned(),
            probe_source: PathBuf::from("bpf/probe.c"),
        }
    }

    /// The module kbuild makes, without `.ko`.
    pub fn with_module_name(mut self, name: impl Into<String>) -> Self {
        self.module_name = name.into();
        self
    }

    /// The probe's C source, relative to the directory.
    pub fn with_probe_source(mut self, path: impl Into<PathBuf>) -> Self {
        self.probe_source = path.into();
        self
    }
}

/// Compiles drivers on this machine, without containers: the config's `kernelurls` are
/// downloaded through a [`Fetcher`] (cached by URL), unpacked into one root per kernel
/// (shared by the builds of that kernel, and kept in `kernels_dir` for later runs), repaired
/// ([`repair`]), `kernelconfigdata` written to the build directory's `.config`; then
/// `make -C <build dir> M=<copy of the driver source> modules` makes the module and
/// clang + `llc -march=bpf` the probe (see the `bpf` notes).
///
/// Needs `make` and `gcc` (the compiler the headers were made with, e.g. `gcc-12` for
/// Debian 12's kernels) for modules, `clang` and `llc` for probes.
///
/// ```
/// use falco_artifacts_driver_grid::build::{DriverBuilder, DriverSource, Fetcher, LocalBuilder};
/// use falco_artifacts_driver_grid::DriverKind;
///
/// let dir = tempfile::tempdir()?;
/// let builder = LocalBuilder::new(
///     Fetcher::new(dir.path().join("downloads")),
///     dir.path().join("kernels"),
///     DriverSource::new("/src/libs/driver"),
/// );
/// assert_eq!(builder.name(), "local");
/// if let Err(missing) = builder.check_tools(&DriverKind::ALL) {
///     println!("{missing}"); // e.g. "clang is not installed (install the Debian package clang)"
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LocalBuilder {
    fetcher: Arc<Fetcher>,
    kernels_dir: PathBuf,
    source: DriverSource,
    make_jobs: Option<usize>,
    trees: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl LocalBuilder {
    /// A builder downloading through `fetcher`, unpacking kernels under `kernels_dir`, and
    /// compiling `source`.
    pub fn new(fetcher: Fetcher, kernels_dir: impl Into<PathBuf>, source: DriverSource) -> Self {
        Self::with_shared_fetcher(Arc::new(fetcher), kernels_dir, source)
    }

    /// Like [`LocalBuilder::new`] with a fetcher shared with other builders.
    pub fn with_shared_fetcher(
        fetcher: Arc<Fetcher>,
        kernels_dir: impl Into<PathBuf>,
        source: DriverSource,
    ) -> Self {
        LocalBuilder {
            fetcher,
            kernels_dir: kernels_dir.into(),
            source,
            make_jobs: None,
            trees: Mutex::new(HashMap::new()),
        }
    }

    /// Runs each module build with `make -j<jobs>` (default: no `-j`, one job per build;
    /// the grid runs builds in parallel instead).
    pub fn with_make_jobs(mut self, jobs: usize) -> Self {
        self.make_jobs = Some(jobs.max(1));
        self
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Downloads and unpacks the kernel of `job`, or reuses the tree an earlier build made
    /// from the same packages and kernel config.
    pub fn prepare_kernel(
        &self,
        job: &GridJob,
        ctx: &mut BuildContext<'_>,
    ) -> Result<KernelTree, BuildError> {
        let config = &job.config;
        if config.kernel_urls.is_empty() {
            return Err(BuildError::NoKernelUrls);
        }
        ctx.step("download");
        let mut packages = Vec::new();
        let downloads = config
            .kernel_downloads()
            .map_err(BuildError::KernelDigest)?;
        for download in &downloads {
            let url = &download.url;
            ctx.check("download")?;
            let fetched = self
                .fetcher
                .fetch_expecting(url, download.sha256)
                .map_err(|source| BuildError::Download {
                    url: url.clone(),
                    source,
                })?;
            ctx.note(&format!(
                "{url}: {} bytes, sha256 {}{}",
                fetched.size,
                fetched.sha256,
                if fetched.cached { " (cached)" } else { "" }
            ));
            packages.push(fetched);
        }
        let kernel_config = config
            .kernel_config_data
            .as_deref()
            .map(|data| {
                let compact: String = data.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(BuildError::KernelConfig)
            })
            .transpose()?;
        // One tree per set of packages and kernel config.
        let mut key = String::new();
        for package in &packages {
            key.push_str(&package.sha256.to_hex());
        }
        if let Some(data) = &kernel_config {
            key.push_str(&Sha256Digest::of_bytes(data).to_hex());
        }
        let key = Sha256Digest::of_bytes(key.as_bytes()).to_hex();
        let lock = {
            let mut trees = self.trees.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(trees.entry(key.clone()).or_default())
        };
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        ctx.step("unpack");
        ctx.check("unpack")?;
        let dir = self.kernels_dir.join(&key);
        let root = dir.join("root");
        let complete = dir.join("complete");
        let release = config.kernel_release.as_str();
        // `complete` names the build and source directories of a finished tree; reading it
        // instead of walking the tree again keeps this locked section short.
        if let Some(tree) = read_complete(&complete, &root) {
            ctx.note(&format!("reusing the kernel tree {}", root.display()));
            return Ok(tree);
        }
        // A tree left by an interrupted run is incomplete: start over.
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(BuildError::io("remove", &dir))?;
        }
        fs::create_dir_all(&root).map_err(BuildError::io("create", &root))?;
        let unpacked = (|| {
            for package in &packages {
                ctx.check("unpack")?;
                let (cancel, deadline) = (&ctx.cancel, Some(ctx.deadline));
                let format =
                    unpack_package_until(&package.path, &root, cancel, deadline).map_err(|e| {
                        ctx.check("unpack")
                            .err()
                            .unwrap_or_else(|| BuildError::unpack(e))
                    })?;
                ctx.note(&format!("unpacked {} ({format:?})", package.path.display()));
            }
            let tree = repair(&root, release).map_err(BuildError::unpack)?;
            if let Some(data) = &kernel_config {
                let path = write_kernel_config(&tree, data).map_err(BuildError::unpack)?;
                ctx.note(&format!("wrote kernelconfigdata to {}", path.display()));
            }
            Ok(tree)
        })();
        match unpacked {
            Ok(tree) => {
                let text = format!(
                    "{}\n{}\n",
                    tree.build_dir.display(),
                    tree.source_dir.display()
                );
                fs::write(&complete, text).map_err(BuildError::io("write", &complete))?;
                ctx.note(&format!(
                    "kernel build directory {}, sources {}",
                    tree.build_dir.display(),
                    tree.source_dir.display()
                ));
                Ok(tree)
            }
            Err(error) => {
                let _ = fs::remove_dir_all(&dir);
                Err(error)
            }
        }
    }

    fn module(
        &self,
        job: &GridJob,
        tree: &KernelTree,
        src: &Path,
        ctx: &mut BuildContext<'_>,
    ) -> Result<PathBuf, BuildError> {
        ctx.step("module");
        let mut make = Command::new("make");
        make.arg("-C").arg(&tree.build_dir);
        make.arg(format!("M={}", src.display()));
        if let Some(jobs) = self.make_jobs {
            make.arg(format!("-j{jobs}"));
        }
        if job.build.arch != host_arch() {
            make.arg(format!("ARCH={}", kernel_arch(job.build.arch)));
            make.arg(format!(
                "CROSS_COMPILE={}-linux-gnu-",
                job.build.arch.rpm_name()
            ));
        }
        make.arg(format!(
            "KCFLAGS=-fdebug-prefix-map={}=/driver -fdebug-prefix-map={}=/",
            src.display(),
            tree.root.display()
        ));
        make.arg("modules");
        ctx.run("module", make)?;
        let module = src.join(format!("{}.ko", self.source.module_name));
        if !module.is_file() {
            return Err(BuildError::NoOutput {
                kind: DriverKind::Module,
                path: module,
            });
        }
        Ok(module)
    }

    fn probe(
        &self,
        job: &GridJob,
        tree: &KernelTree,
        src: &Path,
        work: &Path,
        ctx: &mut BuildContext<'_>,
    ) -> Result<PathBuf, BuildError> {
        ctx.step("probe");
        let source = src.join(&self.source.probe_source);
        let bitcode = work.join("probe.bc");
        let object = work.join("probe.o");
        ctx.run(
            "probe",
            clang_command(tree, job.build.arch, src, &source, &bitcode),
        )?;
        ctx.run("probe", llc_command(&bitcode, &object))?;
        if !object.is_file() {
            return Err(BuildError::NoOutput {
                kind: DriverKind::Probe,
                path: object,
            });
        }
        Ok(object)
    }
}

/// The tree recorded in `complete` when both its directories still exist.
fn read_complete(complete: &Path, root: &Path) -> Option<KernelTree> {
    let text = fs::read_to_string(complete).ok()?;
    let mut lines = text.lines().map(PathBuf::from);
    let (build_dir, source_dir) = (lines.next()?, lines.next()?);
    (build_dir.join("Makefile").is_file() && source_dir.is_dir()).then(|| KernelTree {
        root: root.to_owned(),
        build_dir,
        source_dir,
    })
}

fn host_arch() -> Arch {
    if cfg!(target_arch = "aarch64") {
        Arch::Aarch64
    } else {
        Arch::X86_64
    }
}

impl DriverBuilder for LocalBuilder {
    fn name(&self) -> &str {
        "local"
    }

    fn check_tools(&self, kinds: &[DriverKind]) -> Result<(), BuildError> {
        for kind in kinds {
            let tools: &[(&str, &str)] = match kind {
                DriverKind::Module => &[
                    ("make", "the Debian package make"),
                    ("gcc", "the Debian package gcc"),
                ],
                DriverKind::Probe => &[
                    ("clang", "the Debian package clang"),
                    ("llc", "the Debian package llvm"),
                ],
            };
            for (tool, install) in tools {
                if find_tool(tool).is_none() {
                    return Err(BuildError::missing(tool, install));
                }
            }
        }
        Ok(())
    }

    fn build(
        &self,
        job: &GridJob,
        work: &Path,
        ctx: &mut BuildContext<'_>,
    ) -> Result<Vec<(DriverKind, PathBuf)>, BuildError> {
        let tree = self.prepare_kernel(job, ctx)?;
        let src = work.join("driver");
        copy_tree(&self.source.dir, &src)?;
        let mut files = Vec::new();
        for output in &job.build.outputs {
            let file = match output.kind {
                DriverKind::Module => self.module(job, &tree, &src, ctx)?,
                DriverKind::Probe => self.probe(job, &tree, &src, work, ctx)?,
            };
            files.push((output.kind, file));
        }
        Ok(files)
    }
}
