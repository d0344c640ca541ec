//! CPU architectures and every name they go by.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A CPU architecture Falco ships for.
///
/// Each ecosystem names the same architecture differently: file names, directories and RPM use
/// `x86_64`/`aarch64`; DEB, driverkit and Docker use `amd64`/`arm64`. [`Arch`] parses any of
/// them and renders each on request; [`Display`](fmt::Display) gives the file-name form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// 64-bit x86 (`x86_64`, `amd64`).
    X86_64,
    /// 64-bit ARM (`aarch64`, `arm64`).
    Aarch64,
}

/// Every name [`Arch::from_str`] accepts, for error messages.
pub const KNOWN_ARCH_NAMES: &[&str] = &["x86_64", "aarch64", "amd64", "arm64"];

impl Arch {
    /// Every supported architecture, in a fixed order.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// Name used in file names, repository directories and RPM headers: `x86_64`, `aarch64`.
    pub fn file_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Name used by RPM (`x86_64`, `aarch64`); the same as [`Arch::file_name`].
    pub fn rpm_name(self) -> &'static str {
        self.file_name()
    }

    /// Name used in DEB `Architecture:` fields and APT `binary-<arch>` directories.
    pub fn deb_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// Name used by driverkit's `architecture:` key.
    pub fn driverkit_name(self) -> &'static str {
        self.deb_name()
    }

    /// Name used by Docker and OCI platforms (`linux/<name>`).
    pub fn docker_name(self) -> &'static str {
        self.deb_name()
    }
}

/// An architecture name no ecosystem of ours knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown architecture {given:?}: expected one of {}", KNOWN_ARCH_NAMES.join(", "))]
pub struct UnknownArch {
    /// The name that was given.
    pub given: String,
}

impl FromStr for Arch {
    type Err = UnknownArch;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" | "amd64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            other => Err(UnknownArch {
                given: other.to_owned(),
            }),
        }
    }
}

impl TryFrom<&str> for Arch {
    type Error = UnknownArch;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

impl AsRef<str> for Arch {
    fn as_ref(&self) -> &str {
        self.file_name()
    }
}

impl Serialize for Arch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.file_name())
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_to_the_same_arch() {
        for (name, arch) in [
            ("x86_64", Arch::X86_64),
            ("amd64", Arch::X86_64),
            ("aarch64", Arch::Aarch64),
            ("arm64", Arch::Aarch64),
        ] {
            assert_eq!(name.parse::<Arch>(), Ok(arch), "{name}");
        }
    }

    #[test]
    fn renders_each_ecosystem_name() {
        assert_eq!(Arch::X86_64.deb_name(), "amd64");
        assert_eq!(Arch::Aarch64.deb_name(), "arm64");
        assert_eq!(Arch::X86_64.rpm_name(), "x86_64");
        assert_eq!(Arch::Aarch64.file_name(), "aarch64");
        assert_eq!(Arch::Aarch64.driverkit_name(), "arm64");
        assert_eq!(Arch::X86_64.docker_name(), "amd64");
        assert_eq!(Arch::Aarch64.to_string(), "aarch64");
    }

    #[test]
    fn unknown_arch_lists_the_known_ones() {
        let err = "riscv64".parse::<Arch>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("riscv64"), "{msg}");
        for known in KNOWN_ARCH_NAMES {
            assert!(msg.contains(known), "{msg} lacks {known}");
        }
    }
}
