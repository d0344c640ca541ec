//! The local backend: downloads the header packages, unpacks them with our own readers and
//! builds the driver with its own Makefiles through kbuild, on this machine: the module with
//! `make -C <kernel build dir> M=<driver tree> modules` (the driver's configure checks run in
//! that kbuild pass) and `strip -g`, as driverkit does; the legacy probe with
//! `make -C <driver tree>/bpf KERNELDIR=<kernel build dir>`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use falco_artifacts_core::{Arch, Sha256Digest};

use super::command::find_tool;
use super::configure::Sources;
use super::copy::copy_tree;
use super::report::NotBuilt;
use super::scratch::{kbuild_dir, kbuild_safe};
use super::source::{DriverSource, DriverTree};
use super::unpack::{repair, unpack_package_until, write_kernel_config, KernelTree};
use super::{BuildContext, BuildError, BuildOutcome, DriverBuilder, Fetcher, GridJob};
use crate::kernel::DriverKind;

/// Why a probe is not built from a tree without `bpf/`.
pub(crate) const NO_PROBE: &str = "probe not supported by this driver version";

/// Compiles drivers on this machine, without containers: the config's `kernelurls` are
/// downloaded through a [`Fetcher`] (cached by URL), unpacked into one root per kernel
/// (shared, read-only, by every build of that kernel whatever its driver version, and kept in
/// `kernels_dir` for later runs), made usable at its own path (absolute links and Makefile
/// `include`s pointed inside it, no link leading out), `kernelconfigdata` written to the
/// build directory's `.config`. The [`DriverSource`] of the build's driver version is
/// configured once (see [`DriverSource`]) and copied into the build's own directory, where
/// `make -C <build dir> M=<copy> modules` makes the module, `strip -g` strips it, and
/// `make -C <copy>/bpf KERNELDIR=<build dir>` makes the probe. A driver version whose tree has
/// no `bpf/` gets no probe: the build reports it ([`NotBuilt`]) and still ships the module.
///
/// Needs `make`, `gcc` (the compiler the headers were made with, e.g. `gcc-12` for Debian
/// 12's kernels) and `strip` for modules, `clang` and `llc` for probes, `cmake` for libs
/// sources.
///
/// ```
/// use falco_artifacts_driver_grid::build::{DriverBuilder, DriverSource, Fetcher, LocalBuilder};
/// use falco_artifacts_driver_grid::DriverKind;
///
/// let dir = tempfile::tempdir()?;
/// let builder = LocalBuilder::new(
///     Fetcher::new(dir.path().join("downloads")),
///     dir.path().join("kernels"),
///     DriverSource::new("/usr/src/scap-0.1.1dev+git20220316.e5c53d64"),
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
    sources: Sources,
    make_jobs: Option<usize>,
    trees: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl LocalBuilder {
    /// A builder downloading through `fetcher`, unpacking kernels under `kernels_dir`, and
    /// compiling `source` (configured sources are cached in `sources` next to `kernels_dir`).
    /// Relative paths are taken from the current directory now.
    pub fn new(fetcher: Fetcher, kernels_dir: impl Into<PathBuf>, source: DriverSource) -> Self {
        Self::with_shared_fetcher(Arc::new(fetcher), kernels_dir, source)
    }

    /// Like [`LocalBuilder::new`] with a fetcher shared with other builders.
    pub fn with_shared_fetcher(
        fetcher: Arc<Fetcher>,
        kernels_dir: impl Into<PathBuf>,
        source: DriverSource,
    ) -> Self {
        let kernels_dir = absolute(kernels_dir.into());
        let sources_dir = kernels_dir
            .parent()
            .map(|p| p.join("sources"))
            .unwrap_or_else(|| kernels_dir.join("sources"));
        LocalBuilder {
            fetcher,
            kernels_dir,
            sources: Sources::new(absolute_source(source), sources_dir),
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

    /// Caches configured libs sources in `dir` (default: `sources` beside the kernels
    /// directory).
    pub fn with_sources_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        let source = self.sources.source().clone();
        self.sources = Sources::new(source, absolute(dir.into()));
        self
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The configured driver tree of `job`'s driver version (configuring a libs source the
    /// first time).
    pub fn driver_tree(
        &self,
        job: &GridJob,
        ctx: &mut BuildContext<'_>,
    ) -> Result<DriverTree, BuildError> {
        self.sources
            .tree(&job.build.driver_version, &self.fetcher, ctx)
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
            .decoded_kernel_config()
            .transpose()
            .map_err(BuildError::KernelConfig)?;
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
        let kernels = kbuild_dir(&self.kernels_dir);
        if kernels != self.kernels_dir {
            ctx.note(&format!(
                "kbuild cannot use {} (a space or colon in the path): kernel trees go to {}",
                self.kernels_dir.display(),
                kernels.display()
            ));
        }
        let dir = kernels.join(&key);
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
        kernel: &KernelTree,
        tree: &DriverTree,
        src: &Path,
        ctx: &mut BuildContext<'_>,
    ) -> Result<PathBuf, BuildError> {
        ctx.step("module");
        let mut make = Command::new("make");
        make.arg("-C").arg(&kernel.build_dir);
        make.arg(format!("M={}", src.display()));
        if let Some(jobs) = self.make_jobs {
            make.arg(format!("-j{jobs}"));
        }
        cross(&mut make, job.build.arch);
        // Debug info names the sources; the build directories are temporary, so name them by
        // what they are, which keeps the module reproducible.
        make.arg(format!(
            "KCFLAGS=-fdebug-prefix-map={}=/driver -fdebug-prefix-map={}=/",
            src.display(),
            kernel.root.display()
        ));
        make.arg("modules");
        ctx.run("module", make)?;
        let module = src.join(format!("{}.ko", tree.module_name));
        if !module.is_file() {
            return Err(BuildError::NoOutput {
                kind: DriverKind::Module,
                path: module,
            });
        }
        // As driverkit does: the debug sections are most of an unstripped module.
        let mut strip = Command::new(strip_program(job.build.arch));
        strip.arg("-g").arg(&module);
        ctx.run("strip", strip)?;
        Ok(module)
    }

    fn probe(
        &self,
        job: &GridJob,
        kernel: &KernelTree,
        src: &Path,
        ctx: &mut BuildContext<'_>,
    ) -> Result<PathBuf, BuildError> {
        ctx.step("probe");
        let bpf = src.join("bpf");
        let mut make = Command::new("make");
        make.arg("-C").arg(&bpf).current_dir(&bpf);
        make.arg(format!("KERNELDIR={}", kernel.build_dir.display()));
        if let Some(jobs) = self.make_jobs {
            make.arg(format!("-j{jobs}"));
        }
        cross(&mut make, job.build.arch);
        // Falco's bpf/Makefile passes KBUILD_EXTRA_CPPFLAGS to clang: the same prefix maps as
        // the module's, for the same reason.
        make.arg(format!(
            "KBUILD_EXTRA_CPPFLAGS=-fdebug-prefix-map={}=/driver -fdebug-prefix-map={}=/",
            src.display(),
            kernel.root.display()
        ));
        ctx.run("probe", make)?;
        let object = bpf.join("probe.o");
        if !object.is_file() {
            return Err(BuildError::NoOutput {
                kind: DriverKind::Probe,
                path: object,
            });
        }
        Ok(object)
    }
}

/// `ARCH=` and `CROSS_COMPILE=` when building for another architecture than this machine's.
fn cross(make: &mut Command, arch: Arch) {
    if arch != host_arch() {
        make.arg(format!("ARCH={}", kernel_arch(arch)));
        make.arg(format!("CROSS_COMPILE={}-linux-gnu-", arch.rpm_name()));
    }
}

/// The `strip` that understands `arch`'s objects.
fn strip_program(arch: Arch) -> String {
    if arch == host_arch() {
        "strip".to_owned()
    } else {
        format!("{}-linux-gnu-strip", arch.rpm_name())
    }
}

/// The kernel's name for `arch` (`ARCH=`).
fn kernel_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86",
        Arch::Aarch64 => "arm64",
    }
}

/// `path` from the current directory when it is relative: kbuild runs in other directories.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// The source with a relative local path made absolute now, so that a later change of
/// directory (or kbuild's) does not change what it names.
fn absolute_source(source: DriverSource) -> DriverSource {
    source.absolute()
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
                    ("strip", "the Debian package binutils"),
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
    ) -> Result<BuildOutcome, BuildError> {
        let tree = self.driver_tree(job, ctx)?;
        let mut outcome = BuildOutcome::default();
        if !tree.has_probe {
            let reason = format!("{NO_PROBE} ({} has no bpf/Makefile)", tree.dir.display());
            for output in &job.build.outputs {
                if output.kind == DriverKind::Probe {
                    ctx.note(&reason);
                    outcome.not_built.push(NotBuilt {
                        kind: DriverKind::Probe,
                        reason: reason.clone(),
                    });
                }
            }
        }
        let buildable: Vec<DriverKind> = job
            .build
            .outputs
            .iter()
            .map(|o| o.kind)
            .filter(|kind| !outcome.not_built.iter().any(|n| n.kind == *kind))
            .collect();
        if buildable.is_empty() {
            return Ok(outcome);
        }
        let kernel = self.prepare_kernel(job, ctx)?;
        // kbuild writes its objects next to the sources: each build compiles its own copy.
        let scratch = if kbuild_safe(work) {
            None
        } else {
            let dir = kbuild_dir(work);
            ctx.note(&format!(
                "kbuild cannot use {} (a space or colon in the path): building in {}",
                work.display(),
                dir.display()
            ));
            Some(ScratchDir(dir))
        };
        let base = scratch.as_ref().map_or(work, |s| s.0.as_path());
        let name = work
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let src = match &scratch {
            // The build directory's name keeps the job's stem, which the test driver reads.
            Some(_) => base.join(name).join("driver"),
            None => base.join("driver"),
        };
        copy_tree(&tree.dir, &src)?;
        for kind in buildable {
            let file = match kind {
                DriverKind::Module => self.module(job, &kernel, &tree, &src, ctx)?,
                DriverKind::Probe => self.probe(job, &kernel, &src, ctx)?,
            };
            outcome.files.push((kind, file));
        }
        if scratch.is_some() {
            // The runner removes `work` only: keep the outputs, drop the rest with the guard.
            for (_, file) in &mut outcome.files {
                let name = file
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                let kept = work.join(name);
                fs::copy(&*file, &kept).map_err(BuildError::io("copy", file))?;
                *file = kept;
            }
        }
        Ok(outcome)
    }
}

/// A scratch build directory, removed when the build ends however it ends.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
