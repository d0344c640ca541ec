//! Unpacking header packages into one root and repairing what their layout assumes about
//! being installed at `/`: the tree becomes a kernel build directory that kbuild accepts.
//!
//! All packages of a kernel are unpacked into the same root, so the relative links between
//! them (Debian's `linux-headers-<v>-amd64/scripts -> ../../lib/linux-kbuild-<x.y>/scripts`)
//! resolve as they do when installed. Absolute links (`lib/modules/<v>/build ->
//! /usr/src/…`) are rebased inside the root, and a `Makefile` that includes an absolute
//! path (`include /usr/src/linux-headers-<v>-common/Makefile`) is pointed into the root.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use falco_artifacts_core::package::first_escaping_link;
use falco_artifacts_pkg_deb::{AbsoluteSymlinks, DebReader, ExtractOptions, ReadError};
use falco_artifacts_pkg_rpm::RpmError;

use super::command::CancelToken;

/// What a header package is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PackageFormat {
    /// A Debian package (`!<arch>\n`).
    Deb,
    /// An RPM package (lead magic `ed ab ee db`).
    Rpm,
}

/// Why header packages could not become a kernel build directory.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The file is neither a `.deb` nor an `.rpm`.
    #[error("{}: not a .deb or .rpm header package (its first bytes are neither `!<arch>` nor the RPM lead)", path.display())]
    UnknownFormat {
        /// The package.
        path: PathBuf,
    },
    /// The `.deb` is damaged or unsafe.
    #[error("cannot unpack the Debian package {}", path.display())]
    Deb {
        /// The package.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<ReadError>,
    },
    /// The `.rpm` is damaged or unsafe.
    #[error("cannot unpack the RPM package {}", path.display())]
    Rpm {
        /// The package.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<RpmError>,
    },
    /// No kernel build directory for the release was found among the packages.
    #[error("no kernel build directory for {release} in the header packages (looked for {})", looked.join(", "))]
    NoKernelDir {
        /// The kernel release.
        release: String,
        /// The paths tried, relative to the root.
        looked: Vec<String>,
    },
    /// A link the kernel build directory needs points to nothing: a package is missing from
    /// `kernelurls` (for Debian, usually `linux-kbuild-<x.y>` or `linux-headers-<v>-common`).
    #[error("{link} points to {target}, which none of the header packages provides (is a package missing from kernelurls?)")]
    DanglingLink {
        /// The link, relative to the root.
        link: String,
        /// Its target.
        target: String,
    },
    /// A link leads out of the root when followed through the links of every package
    /// unpacked there (each package's links stay inside alone).
    #[error("{} -> {} resolves outside the kernel root through the links of the header packages", link.display(), target.display())]
    LinkEscape {
        /// The link, relative to the root.
        link: PathBuf,
        /// Its target.
        target: PathBuf,
    },
    /// Unpacking was stopped (the build's deadline passed or the run was cancelled).
    #[error("unpacking {} was stopped", path.display())]
    Stopped {
        /// The package being unpacked.
        path: PathBuf,
    },
    /// A file of the tree could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl Fn(io::Error) -> UnpackError + 'p {
    move |source| UnpackError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// The format of the package at `path`, from its magic bytes.
pub(crate) fn package_format(path: &Path) -> Result<PackageFormat, UnpackError> {
    let mut magic = [0u8; 8];
    let mut file = fs::File::open(path).map_err(io_err("open", path))?;
    let n = read_up_to(&mut file, &mut magic).map_err(io_err("read", path))?;
    match &magic[..n] {
        b"!<arch>\n" => Ok(PackageFormat::Deb),
        [0xed, 0xab, 0xee, 0xdb, ..] => Ok(PackageFormat::Rpm),
        _ => Err(UnpackError::UnknownFormat {
            path: path.to_owned(),
        }),
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Unpacks one header package into `root` with our own readers (pkg-deb, pkg-rpm); absolute
/// links of a `.deb` are rebased inside `root` on the way, those of an `.rpm` by
/// [`repair`].
#[cfg(test)]
pub(crate) fn unpack_package(package: &Path, root: &Path) -> Result<PackageFormat, UnpackError> {
    unpack_package_until(package, root, &CancelToken::new(), None)
}

/// [`unpack_package`] that stops, with [`UnpackError::Stopped`], once `cancel` is cancelled
/// or `deadline` has passed: both are checked before every read of the package, so a build's
/// deadline and cancellation cover the unpacking as they cover the build's commands.
pub(crate) fn unpack_package_until(
    package: &Path,
    root: &Path,
    cancel: &CancelToken,
    deadline: Option<Instant>,
) -> Result<PackageFormat, UnpackError> {
    let format = package_format(package)?;
    let file = fs::File::open(package).map_err(io_err("open", package))?;
    let len = file.metadata().map_err(io_err("inspect", package))?.len();
    let stop = Stop {
        cancel: cancel.clone(),
        deadline,
    };
    let stoppable = Stoppable {
        inner: file,
        stop: stop.clone(),
    };
    let reader = io::BufReader::with_capacity(64 * 1024, stoppable);
    let stopped = || UnpackError::Stopped {
        path: package.to_owned(),
    };
    match format {
        PackageFormat::Deb => {
            let options = ExtractOptions {
                absolute_symlinks: AbsoluteSymlinks::Rebase,
                max_bytes: None,
            };
            let result =
                DebReader::with_len(reader, len).and_then(|reader| reader.extract(root, &options));
            if let Err(source) = result {
                return Err(if stop.now() {
                    stopped()
                } else {
                    UnpackError::Deb {
                        path: package.to_owned(),
                        source: Box::new(source),
                    }
                });
            }
        }
        PackageFormat::Rpm => {
            fs::create_dir_all(root).map_err(io_err("create", root))?;
            let origin = package.display().to_string();
            if let Err(source) = falco_artifacts_pkg_rpm::extract_from(reader, &origin, root) {
                return Err(if stop.now() {
                    stopped()
                } else {
                    UnpackError::Rpm {
                        path: package.to_owned(),
                        source: Box::new(source),
                    }
                });
            }
        }
    }
    Ok(format)
}

/// When unpacking stops: a cancelled token or a passed deadline.
#[derive(Clone)]
struct Stop {
    cancel: CancelToken,
    deadline: Option<Instant>,
}

impl Stop {
    fn now(&self) -> bool {
        self.cancel.is_cancelled() || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// A reader that fails once it should [`Stop`].
struct Stoppable<R> {
    inner: R,
    stop: Stop,
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.now() {
            // Not `Interrupted`: readers retry that kind.
            return Err(io::Error::other("unpacking stopped"));
        }
        self.inner.read(buf)
    }
}

/// Writes `kernelconfigdata` as the build directory's `.config`, never through what is there:
/// a `.config` the packages shipped (a file or a link) is removed, and the new file is created
/// with `O_CREAT | O_EXCL`, which never follows a link in its place (`EEXIST`, even for a
/// dangling one). The build directory is the canonical path [`repair`] found: no link above.
pub(crate) fn write_kernel_config(tree: &KernelTree, data: &[u8]) -> Result<PathBuf, UnpackError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = tree.build_dir.join(".config");
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            return Err(UnpackError::Io {
                action: "replace",
                path,
                source: io::Error::new(io::ErrorKind::IsADirectory, "`.config` is a directory"),
            })
        }
        Ok(_) => fs::remove_file(&path).map_err(io_err("remove", &path))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("inspect", &path)(e)),
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&path)
        .map_err(io_err("create", &path))?;
    file.write_all(data).map_err(io_err("write", &path))?;
    Ok(path)
}

/// A kernel build directory inside an unpacked root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelTree {
    /// The root every package was unpacked into.
    pub root: PathBuf,
    /// The directory to run `make -C` in (kbuild's `objtree`: generated headers, `.config`,
    /// `Module.symvers`).
    pub build_dir: PathBuf,
    /// kbuild's `srctree`: the headers proper. Debian splits them into
    /// `linux-headers-<v>-common`; elsewhere it is `build_dir` itself.
    pub source_dir: PathBuf,
}

/// Makes the unpacked `root` usable at its own path: absolute links become relative links
/// inside it, `include /abs/path` lines of Makefiles under `usr/src/*/` point into it; then
/// checks that no link leads out of the root through the others ([`UnpackError::LinkEscape`]),
/// finds the build directory of `release` and checks that its top-level links resolve.
pub(crate) fn repair(root: &Path, release: &str) -> Result<KernelTree, UnpackError> {
    rebase_links(root, root)?;
    // Every package's links were checked alone and against those unpacked before it; a later
    // package can still complete an earlier link's path. Now the whole root stands.
    if let Some((link, target)) =
        first_escaping_link(root).map_err(io_err("resolve the links of", root))?
    {
        let _ = fs::remove_file(root.join(&link));
        return Err(UnpackError::LinkEscape { link, target });
    }
    let src = root.join("usr/src");
    if src.is_dir() {
        for entry in fs::read_dir(&src).map_err(io_err("list", &src))? {
            let dir = entry.map_err(io_err("list", &src))?.path();
            let makefile = dir.join("Makefile");
            if dir.is_dir() && !dir.is_symlink() && makefile.is_file() {
                rewrite_includes(root, &makefile)?;
            }
        }
    }
    let build_dir = find_build_dir(root, release)?;
    check_links(root, &build_dir)?;
    let source_dir = source_dir(&build_dir)?;
    Ok(KernelTree {
        root: root.to_owned(),
        build_dir,
        source_dir,
    })
}

/// Replaces every absolute link under `dir` by the relative link to the same path in `root`.
fn rebase_links(root: &Path, dir: &Path) -> Result<(), UnpackError> {
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err("inspect", &path))?;
        if kind.is_dir() {
            rebase_links(root, &path)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(io_err("read the link", &path))?;
            if target.is_absolute() {
                let depth = path
                    .strip_prefix(root)
                    .map(|p| p.components().count().saturating_sub(1))
                    .unwrap_or_default();
                let inside: PathBuf = target
                    .components()
                    .filter(|c| matches!(c, Component::Normal(_)))
                    .collect();
                let relative = Path::new(&"../".repeat(depth)).join(inside);
                let tmp = path.with_file_name(".rebase.tmp");
                std::os::unix::fs::symlink(&relative, &tmp).map_err(io_err("create", &tmp))?;
                fs::rename(&tmp, &path).map_err(io_err("replace", &path))?;
            }
        }
    }
    Ok(())
}

/// Points `include /abs/…` lines of `makefile` into `root` when the file exists there.
fn rewrite_includes(root: &Path, makefile: &Path) -> Result<(), UnpackError> {
    let text = fs::read_to_string(makefile).map_err(io_err("read", makefile))?;
    let mut changed = false;
    let mut out = String::with_capacity(text.len() + 128);
    for line in text.split_inclusive('\n') {
        let rewritten = line
            .strip_prefix("include /")
            .map(|rest| rest.trim_end())
            .filter(|rest| root.join(rest).is_file())
            .map(|rest| format!("include {}\n", root.join(rest).display()));
        match rewritten {
            Some(new) => {
                out.push_str(&new);
                changed = true;
            }
            None => out.push_str(line),
        }
    }
    if changed {
        let tmp = makefile.with_file_name(".Makefile.tmp");
        fs::write(&tmp, out).map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, makefile).map_err(io_err("replace", makefile))?;
    }
    Ok(())
}

/// The build directory of `release`: where `lib/modules/<release>/build` points, else
/// `usr/src/kernels/<release>` (RPM `kernel-devel`), else `usr/src/linux-headers-<release>`.
fn find_build_dir(root: &Path, release: &str) -> Result<PathBuf, UnpackError> {
    let candidates = [
        format!("lib/modules/{release}/build"),
        format!("usr/lib/modules/{release}/build"),
        format!("usr/src/kernels/{release}"),
        format!("usr/src/linux-headers-{release}"),
    ];
    let canonical_root = root.canonicalize().map_err(io_err("resolve", root))?;
    for candidate in &candidates {
        if let Ok(dir) = root.join(candidate).canonicalize() {
            if dir.starts_with(&canonical_root) && dir.join("Makefile").is_file() {
                return Ok(dir);
            }
        }
    }
    Err(UnpackError::NoKernelDir {
        release: release.to_owned(),
        looked: candidates.to_vec(),
    })
}

/// Every link directly in the build directory must resolve (`scripts`, `tools`, `source`).
fn check_links(root: &Path, build_dir: &Path) -> Result<(), UnpackError> {
    for entry in fs::read_dir(build_dir).map_err(io_err("list", build_dir))? {
        let path = entry.map_err(io_err("list", build_dir))?.path();
        if path.is_symlink() && !path.exists() {
            let target = fs::read_link(&path).map_err(io_err("read the link", &path))?;
            let link = path.strip_prefix(root).unwrap_or(&path);
            return Err(UnpackError::DanglingLink {
                link: link.display().to_string(),
                target: target.display().to_string(),
            });
        }
    }
    Ok(())
}

/// kbuild's `srctree`: the directory a one-line Debian `Makefile` includes, else the build
/// directory itself.
fn source_dir(build_dir: &Path) -> Result<PathBuf, UnpackError> {
    let makefile = build_dir.join("Makefile");
    let text = fs::read_to_string(&makefile).map_err(io_err("read", &makefile))?;
    let included = text
        .lines()
        .find_map(|line| line.strip_prefix("include "))
        .map(|path| PathBuf::from(path.trim()))
        .filter(|path| path.is_absolute() && path.ends_with("Makefile"))
        .and_then(|path| path.parent().map(Path::to_owned))
        .filter(|dir| dir.join("include/linux").is_dir());
    Ok(included.unwrap_or_else(|| build_dir.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_format_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.deb");
        fs::write(&path, b"<html>404</html>").unwrap();
        let err = package_format(&path).unwrap_err();
        assert!(err.to_string().contains("x.deb"), "{err}");
    }

    #[test]
    fn absolute_links_and_includes_point_into_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let common = root.join("usr/src/linux-headers-1.0-common");
        let arch = root.join("usr/src/linux-headers-1.0-amd64");
        fs::create_dir_all(common.join("include/linux")).unwrap();
        fs::create_dir_all(&arch).unwrap();
        fs::create_dir_all(root.join("lib/modules/1.0-amd64")).unwrap();
        fs::write(common.join("Makefile"), "all:\n").unwrap();
        fs::write(
            arch.join("Makefile"),
            "include /usr/src/linux-headers-1.0-common/Makefile\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "/usr/src/linux-headers-1.0-amd64",
            root.join("lib/modules/1.0-amd64/build"),
        )
        .unwrap();
        let tree = repair(root, "1.0-amd64").unwrap();
        assert_eq!(tree.build_dir, arch.canonicalize().unwrap());
        assert_eq!(tree.source_dir, common);
        assert_eq!(
            fs::read_link(root.join("lib/modules/1.0-amd64/build")).unwrap(),
            Path::new("../../../usr/src/linux-headers-1.0-amd64")
        );

        std::os::unix::fs::symlink("../../lib/linux-kbuild-1.0/scripts", arch.join("scripts"))
            .unwrap();
        let err = repair(root, "1.0-amd64").unwrap_err();
        assert!(matches!(err, UnpackError::DanglingLink { .. }), "{err}");
    }
}
