//! Kernel identifiers: the release (`uname -r`) and the version (`uname -v`'s build number).

use std::str::FromStr;

use falco_artifacts_core::Arch;

use crate::ident::{has_forbidden_char, string_newtype, InvalidIdentifier};

/// A kernel release as `uname -r` prints it, e.g. `5.15.0-1019-aws`.
///
/// ```
/// use falco_artifacts_driver_grid::KernelRelease;
///
/// let release: KernelRelease = "4.14.35-1902.300.11.el7uek.x86_64".parse()?;
/// assert_eq!(release.major_minor(), Some((4, 14)));
/// # Ok::<(), falco_artifacts_driver_grid::InvalidIdentifier>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelRelease(String);

impl KernelRelease {
    /// The release as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The leading `major.minor`, when the release starts with one.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        let (major, rest) = self.0.split_once('.')?;
        if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let minor_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let minor = rest.get(..minor_len).filter(|m| !m.is_empty())?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }
}

impl FromStr for KernelRelease {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "kernel release";
        if s.is_empty() {
            return Err(InvalidIdentifier::new(WHAT, s, "it is empty"));
        }
        if has_forbidden_char(s) {
            return Err(InvalidIdentifier::new(
                WHAT,
                s,
                "it contains a slash, a space or a control character",
            ));
        }
        Ok(KernelRelease(s.to_owned()))
    }
}

string_newtype!(KernelRelease);

/// A kernel version as driverkit names it: the build number from `uname -v` (`1`, `38~20.04.1`,
/// `1_1.27.0`). Configs write it as an integer or a string; it is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelVersion(String);

impl KernelVersion {
    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KernelVersion {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "kernel version";
        if s.is_empty() {
            return Err(InvalidIdentifier::new(WHAT, s, "it is empty"));
        }
        if has_forbidden_char(s) {
            return Err(InvalidIdentifier::new(
                WHAT,
                s,
                "it contains a slash, a space or a control character",
            ));
        }
        Ok(KernelVersion(s.to_owned()))
    }
}

string_newtype!(KernelVersion);

/// What a driver file is: a kernel module or an eBPF probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// The kernel module, `falco_<…>.ko` (`kind: "kmod"` in the index).
    Module,
    /// The eBPF probe, `falco_<…>.o` (`kind: "ebpf"` in the index).
    Probe,
}

impl DriverKind {
    /// Both kinds, module first.
    pub const ALL: [DriverKind; 2] = [DriverKind::Module, DriverKind::Probe];

    /// The file extension without the dot: `ko` or `o`.
    pub fn extension(self) -> &'static str {
        match self {
            DriverKind::Module => "ko",
            DriverKind::Probe => "o",
        }
    }

    /// The config key under `output:`: `module` or `probe`.
    pub fn config_key(self) -> &'static str {
        match self {
            DriverKind::Module => "module",
            DriverKind::Probe => "probe",
        }
    }

    /// The name in the index of prebuilt drivers: `kmod` or `ebpf`.
    pub fn index_name(self) -> &'static str {
        match self {
            DriverKind::Module => "kmod",
            DriverKind::Probe => "ebpf",
        }
    }

    /// The oldest kernel `major.minor` this kind of driver builds for on `arch`.
    pub fn minimum_kernel(self, arch: Arch) -> (u32, u32) {
        match (self, arch) {
            (DriverKind::Module, Arch::X86_64) => (2, 6),
            (DriverKind::Module, Arch::Aarch64) => (3, 16),
            (DriverKind::Probe, Arch::X86_64) => (4, 14),
            (DriverKind::Probe, Arch::Aarch64) => (4, 17),
        }
    }
}

impl std::fmt::Display for DriverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.config_key())
    }
}

/// The file name of a driver: `falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`.
pub fn driver_file_name(
    target: &crate::Target,
    release: &KernelRelease,
    version: &KernelVersion,
    kind: DriverKind,
) -> String {
    format!("falco_{target}_{release}_{version}.{}", kind.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_minor() {
        let mm = |s: &str| s.parse::<KernelRelease>().unwrap().major_minor();
        assert_eq!(mm("5.15.0-1019-aws"), Some((5, 15)));
        assert_eq!(mm("2.6.32-754.el6.x86_64"), Some((2, 6)));
        assert_eq!(mm("4.17"), Some((4, 17)));
        assert_eq!(mm("v5.4"), None);
        assert_eq!(mm("5-4"), None);
        assert_eq!(mm("5"), None);
    }
}
