//! driverkit targets: the distribution a driver is built for.

use std::str::FromStr;

use crate::ident::{string_newtype, InvalidIdentifier};

/// Every target driverkit has a builder for by name, including the legacy `ubuntu-generic`
/// and `ubuntu-aws` that the oldest configs use. Besides these, any `ubuntu-<flavour>`
/// (`ubuntu-gcp`, `ubuntu-hwe`, `ubuntu-nvidia`, …) is known: Falco's driver loader computes
/// the flavour from the kernel release and driverkit maps every `ubuntu*` target to its
/// Ubuntu builder.
pub const KNOWN_TARGETS: &[&str] = &[
    "alinux",
    "almalinux",
    "amazonlinux",
    "amazonlinux2",
    "amazonlinux2022",
    "amazonlinux2023",
    "arch",
    "bottlerocket",
    "centos",
    "debian",
    "fedora",
    "flatcar",
    "linuxkit",
    "local",
    "minikube",
    "ol",
    "opensuse",
    "photon",
    "redhat",
    "rocky",
    "sles",
    "talos",
    "ubuntu",
    "ubuntu-aws",
    "ubuntu-generic",
    "vanilla",
];

/// Targets for which driverkit needs `kernelconfigdata` (it cannot fetch a kernel config).
pub const TARGETS_NEEDING_KERNEL_CONFIG: &[&str] = &["vanilla", "minikube", "flatcar"];

/// A driverkit target name such as `ubuntu` or `amazonlinux2`.
///
/// Parsing checks the shape (lowercase letters, digits and `-`; no `_`, which separates the
/// parts of a driver file name); [`Target::is_known`] says whether driverkit builds it.
///
/// ```
/// use falco_artifacts_driver_grid::Target;
///
/// let flatcar: Target = "flatcar".parse()?;
/// assert!(flatcar.is_known() && flatcar.needs_kernel_config());
/// assert!(!"gentoo".parse::<Target>()?.is_known());
/// assert!("ubuntu-nvidia".parse::<Target>()?.is_known());
/// assert!("my_distro".parse::<Target>().is_err());
/// # Ok::<(), falco_artifacts_driver_grid::InvalidIdentifier>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target(String);

impl Target {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether driverkit has a builder for this target: one of [`KNOWN_TARGETS`] or any
    /// `ubuntu-<flavour>`.
    pub fn is_known(&self) -> bool {
        KNOWN_TARGETS.contains(&self.0.as_str()) || self.ubuntu_flavour().is_some()
    }

    /// The flavour of an `ubuntu-<flavour>` target (`gcp` for `ubuntu-gcp`).
    pub fn ubuntu_flavour(&self) -> Option<&str> {
        self.0
            .strip_prefix("ubuntu-")
            .filter(|flavour| !flavour.is_empty() && !flavour.ends_with('-'))
    }

    /// Whether driverkit needs `kernelconfigdata` to build for this target.
    pub fn needs_kernel_config(&self) -> bool {
        TARGETS_NEEDING_KERNEL_CONFIG.contains(&self.0.as_str())
    }
}

impl FromStr for Target {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "target";
        if s.is_empty() {
            return Err(InvalidIdentifier::new(WHAT, s, "it is empty"));
        }
        let shape_ok = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !shape_ok {
            return Err(InvalidIdentifier::new(
                WHAT,
                s,
                "only lowercase letters, digits and `-` are allowed",
            ));
        }
        Ok(Target(s.to_owned()))
    }
}

string_newtype!(Target);
