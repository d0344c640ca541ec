//! kernel-crawler's `list.json`: the kernels of every distribution it crawls.

use falco_artifacts_core::Arch;
use serde_json::Value;

use crate::generate::{GenerateError, SkipReason};
use crate::{KernelRelease, KernelVersion, Target};

/// One kernel of a `list.json`, as kernel-crawler wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelEntry {
    /// The architecture (`x86_64`, `aarch64`, or whatever the combined shape names).
    pub arch: String,
    /// The distribution key (`Ubuntu`, `AmazonLinux2`, …).
    pub distro: String,
    /// The entry's index in the distribution's list.
    pub index: usize,
    /// The entry: `{kernelversion, kernelrelease, target, headers: [urls], kernelconfigdata?}`.
    pub value: Value,
}

impl KernelEntry {
    /// The architecture, when it is one we build for.
    pub fn arch(&self) -> Result<Arch, SkipReason> {
        Arch::ALL
            .into_iter()
            .find(|a| a.file_name() == self.arch)
            .ok_or_else(|| SkipReason::UnknownArch(self.arch.clone()))
    }

    /// `target`, `kernelrelease` and `kernelversion` (an integer or a string in the file).
    pub fn identity(&self) -> Result<(Target, KernelRelease, KernelVersion), SkipReason> {
        let text = |key: &'static str| match self.value.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(SkipReason::MissingField(key)),
        };
        Ok((
            text("target")?.parse().map_err(SkipReason::Invalid)?,
            text("kernelrelease")?
                .parse()
                .map_err(SkipReason::Invalid)?,
            text("kernelversion")?
                .parse()
                .map_err(SkipReason::Invalid)?,
        ))
    }
}

/// Every kernel of one `list.json`, in file order.
///
/// kernel-crawler publishes one file per architecture, `{"<Distro>": [entries]}`; the
/// combined shape `{"<arch>": {"<Distro>": [entries]}}` is read too.
///
/// ```
/// use falco_artifacts_driver_grid::KernelList;
/// use falco_artifacts_driver_grid::core::Arch;
///
/// let per_arch = r#"{"Ubuntu": [{"kernelversion": "26~22.04.1", "kernelrelease": "6.5.0-1025-gcp",
///                    "target": "ubuntu-gcp", "headers": []}]}"#;
/// let list = KernelList::parse(per_arch, Some(Arch::Aarch64))?;
/// assert_eq!((list.entries[0].arch.as_str(), list.entries[0].distro.as_str()), ("aarch64", "Ubuntu"));
/// assert!(KernelList::parse(per_arch, None).is_err()); // which architecture?
/// # Ok::<(), falco_artifacts_driver_grid::GenerateError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelList {
    /// The kernels.
    pub entries: Vec<KernelEntry>,
}

impl KernelList {
    /// Reads `text` in either shape. A per-architecture file needs `arch`; with the combined
    /// shape, `arch` keeps only that architecture.
    pub fn parse(text: &str, arch: Option<Arch>) -> Result<KernelList, GenerateError> {
        let list: Value =
            serde_json::from_str(text).map_err(|source| GenerateError::Json { source })?;
        let Value::Object(top) = list else {
            return Err(GenerateError::Shape);
        };
        let per_arch = top.values().all(Value::is_array);
        let mut entries = Vec::new();
        let mut push = |arch: &str, distros: &serde_json::Map<String, Value>| {
            for (distro, kernels) in distros {
                let Value::Array(kernels) = kernels else {
                    return Err(GenerateError::Shape);
                };
                entries.extend(
                    kernels
                        .iter()
                        .enumerate()
                        .map(|(index, value)| KernelEntry {
                            arch: arch.to_owned(),
                            distro: distro.clone(),
                            index,
                            value: value.clone(),
                        }),
                );
            }
            Ok(())
        };
        if per_arch && !top.is_empty() {
            let arch = arch.ok_or(GenerateError::NoArch)?;
            push(arch.file_name(), &top)?;
        } else {
            for (name, distros) in &top {
                let Value::Object(distros) = distros else {
                    return Err(GenerateError::Shape);
                };
                if arch.is_none_or(|a| a.file_name() == name) {
                    push(name, distros)?;
                }
            }
        }
        Ok(KernelList { entries })
    }
}

/// The architecture a per-architecture `list.json` is for, from its path
/// (`…/x86_64/list.json`, `aarch64.json`, `list-aarch64.json`).
pub fn arch_of_path(path: &std::path::Path) -> Option<Arch> {
    let text = path.to_string_lossy();
    let mut found = Arch::ALL
        .into_iter()
        .filter(|a| text.contains(a.file_name()));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}
