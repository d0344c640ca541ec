//! Turning a [`DriverSource`] into a configured [`DriverTree`] for one driver version: a
//! configured tree is used as it is; a libs checkout or tarball is copied (or unpacked) into
//! the sources cache and configured with cmake the way driverkit does, once per driver
//! version, then laid out like a DKMS tree (module sources, `Makefile`, `driver_config.h`,
//! and `bpf/` when the version still has the legacy probe).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use falco_artifacts_core::Sha256Digest;

use super::copy::copy_tree;
use super::source::{classify, DriverSource, DriverTree, SourceKind};
use super::{BuildContext, BuildError, Fetcher};
use crate::DriverVersion;

/// Configures and caches driver sources; shared by the builds of one builder.
#[derive(Debug)]
pub(crate) struct Sources {
    source: DriverSource,
    dir: PathBuf,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl Sources {
    /// Sources from `source`, configured ones cached under `dir`.
    pub(crate) fn new(source: DriverSource, dir: PathBuf) -> Self {
        Sources {
            source,
            dir,
            locks: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn source(&self) -> &DriverSource {
        &self.source
    }

    /// The configured tree of `version`, configuring it on first use.
    pub(crate) fn tree(
        &self,
        version: &DriverVersion,
        fetcher: &Fetcher,
        ctx: &mut BuildContext<'_>,
    ) -> Result<DriverTree, BuildError> {
        let location = self.source.location_for(version);
        let key = Sha256Digest::of_bytes(
            format!(
                "{location}\n{}\n{}\n{version}",
                self.source.driver_name(),
                self.source.device_name()
            )
            .as_bytes(),
        )
        .to_hex();
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(locks.entry(key.clone()).or_default())
        };
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let cache = self.dir.join(&key);
        let tree_dir = cache.join("tree");
        if cache.join("complete").is_file() {
            ctx.note(&format!(
                "reusing the configured driver source {}",
                tree_dir.display()
            ));
            return DriverTree::read(&tree_dir);
        }
        let local = if DriverSource::is_url(&location) {
            ctx.step("source");
            let fetched =
                fetcher
                    .fetch(&location)
                    .map_err(|source| BuildError::SourceDownload {
                        url: location.clone(),
                        source,
                    })?;
            ctx.note(&format!(
                "{location}: {} bytes, sha256 {}{}",
                fetched.size,
                fetched.sha256,
                if fetched.cached { " (cached)" } else { "" }
            ));
            fetched.path
        } else {
            std::path::absolute(&location)
                .map_err(BuildError::io("resolve", Path::new(&location)))?
        };
        if local.is_dir() {
            if classify(&local)? == SourceKind::Configured {
                let tree = DriverTree::read(&local)?;
                tree.check_names(&self.source)?;
                return Ok(tree);
            }
        } else if !local.is_file() {
            return Err(BuildError::NotADriverSource { path: local });
        }
        if cache.exists() {
            fs::remove_dir_all(&cache).map_err(BuildError::io("remove", &cache))?;
        }
        let result = self.configure(&local, &cache, version, ctx);
        if result.is_err() {
            let _ = fs::remove_dir_all(&cache);
        }
        result
    }

    /// Copies or unpacks the libs source at `local` into `cache`, configures it and lays out
    /// the tree.
    fn configure(
        &self,
        local: &Path,
        cache: &Path,
        version: &DriverVersion,
        ctx: &mut BuildContext<'_>,
    ) -> Result<DriverTree, BuildError> {
        ctx.step("configure");
        let libs = cache.join("libs");
        if local.is_file() {
            unpack_tarball(local, &libs)?;
        } else {
            copy_tree(local, &libs)?;
        }
        let SourceKind::Libs { driver, modules } = classify(&libs)? else {
            // A tarball of a configured tree: use it as it is.
            let tree = DriverTree::read(&libs)?;
            tree.check_names(&self.source)?;
            fs::write(cache.join("complete"), "").map_err(BuildError::io("write", cache))?;
            return Ok(tree);
        };
        let build = cache.join("build");
        ctx.run(
            "configure",
            cmake_command(&driver, &build, modules.as_deref(), &self.source, version),
        )?;
        let configured = build.join("src");
        let config = configured.join("driver_config.h");
        // driverkit's last configure step: the commit the module reports.
        let text = fs::read_to_string(&config).map_err(BuildError::io("read", &config))?;
        let text = text.replace(
            "DRIVER_COMMIT \"\"",
            &format!("DRIVER_COMMIT \"{}\"", version.as_str()),
        );
        fs::write(&config, text).map_err(BuildError::io("write", &config))?;
        let tree_dir = cache.join("tree");
        copy_tree(&configured, &tree_dir)?;
        let bpf = driver.join("bpf");
        if bpf.join("Makefile").is_file() {
            copy_tree(&bpf, &tree_dir.join("bpf"))?;
        }
        let tree = DriverTree::read(&tree_dir)?;
        ctx.note(&format!(
            "configured {} as {} (module {}.ko{})",
            driver.display(),
            tree_dir.display(),
            tree.module_name,
            if tree.has_probe { ", probe bpf/" } else { "" }
        ));
        fs::write(cache.join("complete"), "").map_err(BuildError::io("write", cache))?;
        Ok(tree)
    }
}

/// driverkit's cmake command (`pkg/driverbuilder/builder/builders.go`), run on the libs
/// `driver/` directory alone with the checkout's `cmake/modules`: configuring the whole libs
/// project would fetch the userspace dependencies.
pub(crate) fn cmake_command(
    driver: &Path,
    build: &Path,
    modules: Option<&Path>,
    source: &DriverSource,
    version: &DriverVersion,
) -> Command {
    let mut command = Command::new("cmake");
    command
        .arg("-Wno-dev")
        .arg("-S")
        .arg(driver)
        .arg("-B")
        .arg(build);
    if let Some(modules) = modules {
        let mut arg = OsString::from("-DCMAKE_MODULE_PATH=");
        arg.push(modules);
        command.arg(arg);
    }
    let (name, device, v) = (source.driver_name(), source.device_name(), version.as_str());
    command.args([
        "-DUSE_BUNDLED_DEPS=On".to_owned(),
        "-DCREATE_TEST_TARGETS=Off".to_owned(),
        "-DBUILD_LIBSCAP_GVISOR=Off".to_owned(),
        "-DBUILD_LIBSCAP_MODERN_BPF=Off".to_owned(),
        "-DENABLE_DRIVERS_TESTS=Off".to_owned(),
        format!("-DDRIVER_NAME={name}"),
        format!("-DPROBE_NAME={name}"),
        "-DBUILD_BPF=On".to_owned(),
        format!("-DDRIVER_VERSION={v}"),
        format!("-DPROBE_VERSION={v}"),
        format!("-DGIT_COMMIT={v}"),
        format!("-DDRIVER_DEVICE_NAME={device}"),
        format!("-DPROBE_DEVICE_NAME={device}"),
    ]);
    command
}

/// Unpacks a `.tar.gz` source archive into `dest`, without its single top directory
/// (`libs-9.0.0-driver/` in GitHub's archives). Entries that would land outside `dest` are
/// refused.
fn unpack_tarball(tarball: &Path, dest: &Path) -> Result<(), BuildError> {
    let bad = |source: std::io::Error| BuildError::SourceUnpack {
        path: tarball.to_owned(),
        source,
    };
    let file = fs::File::open(tarball).map_err(BuildError::io("open", tarball))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    fs::create_dir_all(dest).map_err(BuildError::io("create", dest))?;
    let mut top: Option<OsString> = None;
    let mut entries = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let mut parts = path.components();
        let first = match parts.next() {
            Some(Component::Normal(first)) => first.to_owned(),
            _ => return Err(bad(outside(&path))),
        };
        // GitHub's archives start with a pax global header naming the commit.
        if entry.header().entry_type() == tar::EntryType::XGlobalHeader {
            continue;
        }
        if top.get_or_insert_with(|| first.clone()) != &first {
            return Err(bad(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is not under the archive's top directory",
                    path.display()
                ),
            )));
        }
        let rest: PathBuf = parts.collect();
        if rest.as_os_str().is_empty() {
            continue;
        }
        if rest
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(bad(outside(&path)));
        }
        let target = dest.join(&rest);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(BuildError::io("create", parent))?;
        }
        entry.set_preserve_mtime(false);
        entry.unpack(&target).map_err(bad)?;
        entries.push(rest);
    }
    if entries.is_empty() {
        return Err(bad(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the archive is empty",
        )));
    }
    Ok(())
}

fn outside(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "{} would be written outside the source directory",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmake_is_called_as_driverkit_calls_it() {
        let source = DriverSource::parse("/src/libs").with_driver_name("falco");
        let version: DriverVersion = "9.0.0+driver".parse().unwrap();
        let command = cmake_command(
            Path::new("/c/libs/driver"),
            Path::new("/c/build"),
            Some(Path::new("/c/libs/cmake/modules")),
            &source,
            &version,
        );
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-Wno-dev",
                "-S",
                "/c/libs/driver",
                "-B",
                "/c/build",
                "-DCMAKE_MODULE_PATH=/c/libs/cmake/modules",
                "-DUSE_BUNDLED_DEPS=On",
                "-DCREATE_TEST_TARGETS=Off",
                "-DBUILD_LIBSCAP_GVISOR=Off",
                "-DBUILD_LIBSCAP_MODERN_BPF=Off",
                "-DENABLE_DRIVERS_TESTS=Off",
                "-DDRIVER_NAME=falco",
                "-DPROBE_NAME=falco",
                "-DBUILD_BPF=On",
                "-DDRIVER_VERSION=9.0.0+driver",
                "-DPROBE_VERSION=9.0.0+driver",
                "-DGIT_COMMIT=9.0.0+driver",
                "-DDRIVER_DEVICE_NAME=falco",
                "-DPROBE_DEVICE_NAME=falco",
            ]
        );
    }

    #[test]
    fn tarballs_lose_their_top_directory_and_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let tarball = dir.path().join("libs.tar.gz");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            fs::File::create(&tarball).unwrap(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "libs-9.0.0/driver/Makefile.in", &b"abc"[..])
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let out = dir.path().join("out");
        unpack_tarball(&tarball, &out).unwrap();
        assert_eq!(fs::read(out.join("driver/Makefile.in")).unwrap(), b"abc");

        let evil = dir.path().join("evil.tar.gz");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            fs::File::create(&evil).unwrap(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        // `append_data` refuses `..`; write the name into the header directly.
        header.as_old_mut().name[..17].copy_from_slice(b"libs/../../escape");
        header.set_cksum();
        builder.append(&header, &b"abc"[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let err = unpack_tarball(&evil, &dir.path().join("out2")).unwrap_err();
        assert!(matches!(err, BuildError::SourceUnpack { .. }), "{err:?}");
        assert!(!dir.path().join("escape").exists());
    }
}
