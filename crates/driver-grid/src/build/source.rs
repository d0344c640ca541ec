//! Driver sources as Falco ships them: an already configured driver tree (a DKMS tree such as
//! Debian's `falcosecurity-scap-dkms`, `/usr/src/<name>-<version>/`), or a falcosecurity/libs
//! checkout or source tarball that [`configure`](super::configure) turns into one with cmake,
//! as driverkit does.

use std::fs;
use std::path::{Path, PathBuf};

use super::BuildError;
use crate::DriverVersion;

/// The placeholder a source path or URL may hold for the build's driver version, so that one
/// grid builds each driver version from its own source:
/// `https://github.com/falcosecurity/libs/archive/{driverversion}.tar.gz`.
pub const DRIVER_VERSION_PLACEHOLDER: &str = "{driverversion}";

/// The name driverkit gives the module, its device and the probe when not told otherwise
/// (`--moduledrivername`, `--moduledevicename`): what Falco's driver loader looks for.
pub const DEFAULT_DRIVER_NAME: &str = "falco";

/// Where the driver source of a [`LocalBuilder`](super::LocalBuilder) comes from, and the names
/// a libs source is configured with.
///
/// - a directory holding a `Makefile` or `Kbuild` (with `obj-m`): an already configured driver
///   tree, built as it is; its probe, when it has one, is `bpf/Makefile`;
/// - a falcosecurity/libs checkout (`driver/CMakeLists.txt`), or its `driver/` directory, or a
///   `.tar.gz` of it (a path or an `http(s)://` URL, e.g. GitHub's
///   `https://github.com/falcosecurity/libs/archive/{driverversion}.tar.gz`): configured with
///   cmake once per driver version, as driverkit does, and cached.
///
/// [`DRIVER_VERSION_PLACEHOLDER`] in the path or URL is replaced by each build's driver version.
///
/// ```
/// use falco_artifacts_driver_grid::build::DriverSource;
///
/// let dkms = DriverSource::parse("/usr/src/scap-0.1.1dev+git20220316.e5c53d64");
/// let libs = DriverSource::parse("https://github.com/falcosecurity/libs/archive/{driverversion}.tar.gz")
///     .with_driver_name("falco")
///     .with_device_name("falco");
/// assert_eq!(libs.driver_name(), "falco");
/// assert!(dkms.location_for(&"9.0.0+driver".parse()?).ends_with("e5c53d64"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverSource {
    location: String,
    driver_name: Option<String>,
    device_name: Option<String>,
}

impl DriverSource {
    /// A source at the local path `path` (a directory or a tarball).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DriverSource {
            location: path.into().to_string_lossy().into_owned(),
            driver_name: None,
            device_name: None,
        }
    }

    /// A source at `text`: an `http://` or `https://` URL, otherwise a local path.
    pub fn parse(text: &str) -> Self {
        DriverSource {
            location: text.to_owned(),
            driver_name: None,
            device_name: None,
        }
    }

    /// The module and probe name a libs source is configured with (cmake `-DDRIVER_NAME`,
    /// `-DPROBE_NAME`; default [`DEFAULT_DRIVER_NAME`]). A configured tree has its own; a
    /// different name given here is an error rather than a silently ignored option.
    pub fn with_driver_name(mut self, name: impl Into<String>) -> Self {
        self.driver_name = Some(name.into());
        self
    }

    /// The device name a libs source is configured with (`-DDRIVER_DEVICE_NAME`,
    /// `-DPROBE_DEVICE_NAME`; default: the driver name).
    pub fn with_device_name(mut self, name: impl Into<String>) -> Self {
        self.device_name = Some(name.into());
        self
    }

    /// The driver name to configure a libs source with.
    pub fn driver_name(&self) -> &str {
        self.driver_name.as_deref().unwrap_or(DEFAULT_DRIVER_NAME)
    }

    /// The device name to configure a libs source with.
    pub fn device_name(&self) -> &str {
        self.device_name
            .as_deref()
            .unwrap_or_else(|| self.driver_name())
    }

    /// The driver name asked for explicitly, if any.
    pub(crate) fn requested_driver_name(&self) -> Option<&str> {
        self.driver_name.as_deref()
    }

    /// The device name asked for explicitly, if any.
    pub(crate) fn requested_device_name(&self) -> Option<&str> {
        self.device_name.as_deref()
    }

    /// The path or URL of the source of `version`.
    pub fn location_for(&self, version: &DriverVersion) -> String {
        self.location
            .replace(DRIVER_VERSION_PLACEHOLDER, version.as_str())
    }

    /// The source with a relative local path made absolute from the current directory.
    pub(crate) fn absolute(mut self) -> Self {
        if !Self::is_url(&self.location) {
            if let Ok(path) = std::path::absolute(&self.location) {
                self.location = path.to_string_lossy().into_owned();
            }
        }
        self
    }

    /// Whether the source is downloaded.
    pub(crate) fn is_url(location: &str) -> bool {
        location.starts_with("http://") || location.starts_with("https://")
    }
}

/// A configured driver tree, ready for kbuild: what the grid builds, and what it found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverTree {
    /// The directory holding the module's `Makefile` or `Kbuild`.
    pub dir: PathBuf,
    /// The module kbuild makes, from the `obj-m` line (`scap` for `scap.ko`).
    pub module_name: String,
    /// `DRIVER_NAME` of `driver_config.h`, when there is one.
    pub driver_name: Option<String>,
    /// `DRIVER_DEVICE_NAME` of `driver_config.h`.
    pub device_name: Option<String>,
    /// `DRIVER_VERSION` of `driver_config.h`.
    pub version: Option<String>,
    /// Whether the tree has a legacy eBPF probe (`bpf/Makefile`).
    pub has_probe: bool,
}

impl DriverTree {
    /// Reads the configured tree at `dir`; fails when it has no `Makefile` or `Kbuild` with an
    /// `obj-m` module.
    pub fn read(dir: &Path) -> Result<DriverTree, BuildError> {
        let mut module_name = None;
        // kbuild reads Kbuild before Makefile.
        for name in ["Kbuild", "Makefile"] {
            let path = dir.join(name);
            if !path.is_file() {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(BuildError::io("read", &path))?;
            if let Some(found) = obj_m(&text) {
                module_name = Some(found);
                break;
            }
        }
        let module_name = module_name.ok_or_else(|| BuildError::NoModuleInSource {
            dir: dir.to_owned(),
        })?;
        let config = dir.join("driver_config.h");
        let config = if config.is_file() {
            fs::read_to_string(&config).map_err(BuildError::io("read", &config))?
        } else {
            String::new()
        };
        Ok(DriverTree {
            dir: dir.to_owned(),
            module_name,
            driver_name: define(&config, "DRIVER_NAME"),
            device_name: define(&config, "DRIVER_DEVICE_NAME"),
            version: define(&config, "DRIVER_VERSION"),
            has_probe: dir.join("bpf/Makefile").is_file(),
        })
    }

    /// Fails when `source` asks for names this tree was not configured with.
    pub(crate) fn check_names(&self, source: &DriverSource) -> Result<(), BuildError> {
        let checks = [
            (
                "driver name",
                source.requested_driver_name(),
                &self.driver_name,
            ),
            (
                "device name",
                source.requested_device_name(),
                &self.device_name,
            ),
        ];
        for (what, wanted, found) in checks {
            if let Some(wanted) = wanted {
                let found = found.as_deref().unwrap_or(&self.module_name);
                if wanted != found {
                    return Err(BuildError::NameMismatch {
                        dir: self.dir.clone(),
                        what,
                        wanted: wanted.to_owned(),
                        found: found.to_owned(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// What a source directory is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// A configured tree, built as it is.
    Configured,
    /// A libs checkout: its `driver/` directory and `cmake/modules`.
    Libs {
        /// `driver/` (holding `CMakeLists.txt`, `Makefile.in`, `driver_config.h.in`).
        driver: PathBuf,
        /// `cmake/modules` of the checkout, when present.
        modules: Option<PathBuf>,
    },
}

/// Tells a configured tree from a libs checkout (or its `driver/`); anything else is an error
/// naming what was looked for.
pub(crate) fn classify(dir: &Path) -> Result<SourceKind, BuildError> {
    let is_libs_driver =
        |d: &Path| d.join("CMakeLists.txt").is_file() && d.join("Makefile.in").is_file();
    let modules = |root: &Path| {
        let m = root.join("cmake/modules");
        m.is_dir().then_some(m)
    };
    if is_libs_driver(&dir.join("driver")) {
        return Ok(SourceKind::Libs {
            driver: dir.join("driver"),
            modules: modules(dir),
        });
    }
    if is_libs_driver(dir) {
        return Ok(SourceKind::Libs {
            driver: dir.to_owned(),
            modules: dir.parent().and_then(modules),
        });
    }
    if dir.join("Makefile").is_file() || dir.join("Kbuild").is_file() {
        return Ok(SourceKind::Configured);
    }
    Err(BuildError::NotADriverSource {
        path: dir.to_owned(),
    })
}

/// The module of an `obj-m += name.o` (or `:=`, `=`) line.
fn obj_m(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("obj-m")?;
        let rest = rest.trim_start();
        let rest = ["+=", ":=", "="]
            .iter()
            .find_map(|op| rest.strip_prefix(op))?;
        let object = rest.split_whitespace().next()?;
        let name = object.strip_suffix(".o")?;
        (!name.is_empty() && !name.contains('$')).then(|| name.to_owned())
    })
}

/// The string of `#define <name> "<value>"`.
fn define(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("#define")?;
        let rest = rest.trim_start().strip_prefix(name)?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let value = rest.trim();
        let value = value.strip_prefix('"')?.strip_suffix('"')?;
        Some(value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_makefiles() {
        assert_eq!(
            obj_m("scap-y += main.o\nobj-m += scap.o\n").as_deref(),
            Some("scap")
        );
        assert_eq!(obj_m("obj-m := falco.o other.o").as_deref(), Some("falco"));
        assert_eq!(obj_m("obj-m += @DRIVER_NAME@"), None);
        assert_eq!(obj_m("obj-m += $(NAME).o"), None);
    }

    #[test]
    fn defines_from_driver_config() {
        let text = "#define DRIVER_VERSION \"0.1\"\n#define DRIVER_NAME \"scap\"\n\
                    #define DRIVER_NAME_X \"no\"\n#define DRIVER_DEVICE_NAME \"scapdev\"\n";
        assert_eq!(define(text, "DRIVER_NAME").as_deref(), Some("scap"));
        assert_eq!(
            define(text, "DRIVER_DEVICE_NAME").as_deref(),
            Some("scapdev")
        );
        assert_eq!(define(text, "DRIVER_VERSION").as_deref(), Some("0.1"));
        assert_eq!(define(text, "DRIVER_COMMIT"), None);
    }

    #[test]
    fn placeholder_and_names() {
        let source = DriverSource::parse("https://x.invalid/libs/{driverversion}.tar.gz");
        let v: DriverVersion = "9.0.0+driver".parse().unwrap();
        assert_eq!(
            source.location_for(&v),
            "https://x.invalid/libs/9.0.0+driver.tar.gz"
        );
        assert_eq!(source.driver_name(), "falco");
        let named = source.with_driver_name("mydrv");
        assert_eq!(named.device_name(), "mydrv");
        assert_eq!(named.with_device_name("dev").device_name(), "dev");
    }
}
