//! Coverage: which kernels of kernel-crawler's list have no prebuilt driver, per driver
//! version and architecture, from a store listing alone. The answer to "no prebuilt driver
//! for my kernel".

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::index::PublishedObject;
use crate::kernel::DriverKind;
use crate::kernel_list::KernelList;
use crate::load::{Layout, Location};
use crate::plan::driver_key;
use crate::DriverVersion;

/// A kernel of the list without one of the drivers expected for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingDriver {
    /// The driverkit target.
    pub target: String,
    /// The kernel release.
    pub kernelrelease: String,
    /// The kernel version.
    pub kernelversion: String,
    /// What is missing: `kmod`, `ebpf` or both.
    pub missing: Vec<&'static str>,
}

/// The coverage of one driver version on one architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArchCoverage {
    /// How many kernels of the list a driver is expected for.
    pub kernels: usize,
    /// The kernels lacking a driver, in list order.
    pub missing: Vec<MissingDriver>,
}

impl ArchCoverage {
    /// Kernels without a module.
    pub fn missing_modules(&self) -> usize {
        self.count("kmod")
    }

    /// Kernels without a probe where one is expected.
    pub fn missing_probes(&self) -> usize {
        self.count("ebpf")
    }

    fn count(&self, kind: &str) -> usize {
        self.missing
            .iter()
            .filter(|m| m.missing.contains(&kind))
            .count()
    }
}

/// Per driver version and architecture, the kernels of kernel-crawler's list that have no
/// module (and no probe where the driver version has the legacy probe and the kernel is new
/// enough for one) in a repository.
///
/// ```
/// use falco_artifacts_driver_grid::{Coverage, KernelList, PublishedObject};
/// use falco_artifacts_driver_grid::core::Arch;
///
/// let list = KernelList::parse(
///     r#"{"Debian": [{"kernelversion": 1, "kernelrelease": "6.1.119-1-amd64", "target": "debian", "headers": []},
///                   {"kernelversion": 1, "kernelrelease": "6.1.123-1-amd64", "target": "debian", "headers": []}]}"#,
///     Some(Arch::X86_64),
/// )?;
/// let published = [PublishedObject {
///     key: "driver/10.2.0+driver/x86_64/falco_debian_6.1.119-1-amd64_1.ko".into(),
///     size: 1,
///     last_modified: String::new(),
/// }];
/// let coverage = Coverage::of(&list, &published, &["10.2.0+driver".parse()?], "2026-12-02T00:00:00Z");
/// let x86 = &coverage.versions.values().next().unwrap()["x86_64"];
/// assert_eq!((x86.kernels, x86.missing_modules()), (2, 1));
/// assert_eq!(x86.missing[0].kernelrelease, "6.1.123-1-amd64");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// When the report was made (as the caller says, RFC 3339).
    pub generated: String,
    /// Per driver version, per architecture.
    pub versions: BTreeMap<DriverVersion, BTreeMap<String, ArchCoverage>>,
}

impl Coverage {
    /// The coverage of `versions` by the objects of `listing` (keys `driver/…`) for the
    /// kernels of `list`. Entries driverkit cannot build (unknown architecture or target,
    /// missing fields, kernels below every minimum) are not counted.
    pub fn of(
        list: &KernelList,
        listing: &[PublishedObject],
        versions: &[DriverVersion],
        generated: &str,
    ) -> Coverage {
        let published: HashSet<&str> = listing.iter().map(|o| o.key.as_str()).collect();
        let mut coverage = Coverage {
            generated: generated.to_owned(),
            versions: BTreeMap::new(),
        };
        for version in versions {
            let by_arch = coverage.versions.entry(version.clone()).or_default();
            for entry in &list.entries {
                let (Ok(arch), Ok((target, release, kernel_version))) =
                    (entry.arch(), entry.identity())
                else {
                    continue;
                };
                if !target.is_known() {
                    continue;
                }
                let layout = match version.kind() {
                    crate::DriverVersionKind::GitCommit => Layout::Legacy,
                    _ => Layout::ByArch,
                };
                if layout == Layout::Legacy && arch != falco_artifacts_core::Arch::X86_64 {
                    continue;
                }
                let location = Location {
                    driver_version: version.clone(),
                    arch,
                    layout,
                };
                let kernel = release.major_minor();
                let expected: Vec<DriverKind> = DriverKind::ALL
                    .into_iter()
                    .filter(|kind| *kind == DriverKind::Module || version.has_legacy_probe())
                    .filter(|kind| kernel.is_some_and(|k| k >= kind.minimum_kernel(arch)))
                    .collect();
                if expected.is_empty() {
                    continue;
                }
                let missing: Vec<&'static str> = expected
                    .into_iter()
                    .filter(|kind| {
                        let key = driver_key(&location, &target, &release, &kernel_version, *kind);
                        !published.contains(key.as_str())
                    })
                    .map(DriverKind::index_name)
                    .collect();
                let arch_coverage = by_arch.entry(arch.file_name().to_owned()).or_default();
                arch_coverage.kernels += 1;
                if !missing.is_empty() {
                    arch_coverage.missing.push(MissingDriver {
                        target: target.to_string(),
                        kernelrelease: release.to_string(),
                        kernelversion: kernel_version.to_string(),
                        missing,
                    });
                }
            }
        }
        coverage
    }

    /// The report as JSON (the shape `driver/site/coverage.json` has):
    /// `{"generated", "versions": {"<dv>": {"<arch>": {"kernels", "missing": [{target,
    /// kernelrelease, kernelversion, missing: ["kmod", "ebpf"]}]}}}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A summary row per driver version and architecture, then one line per kernel missing
    /// a driver.
    pub fn to_table(&self) -> String {
        let mut out = String::from("DRIVER VERSION       ARCH      KERNELS  NO MODULE  NO PROBE\n");
        for (version, arches) in self.versions.iter().rev() {
            for (arch, c) in arches {
                let _ = writeln!(
                    out,
                    "{:<20} {:<8} {:>8} {:>10} {:>9}",
                    version.as_str(),
                    arch,
                    c.kernels,
                    c.missing_modules(),
                    c.missing_probes()
                );
            }
        }
        for (version, arches) in self.versions.iter().rev() {
            for (arch, c) in arches {
                for m in &c.missing {
                    let _ = writeln!(
                        out,
                        "missing {} {version} {arch}: {} {} {}",
                        m.missing.join("+"),
                        m.target,
                        m.kernelrelease,
                        m.kernelversion
                    );
                }
            }
        }
        out
    }
}
