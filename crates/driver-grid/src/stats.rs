//! Counts of configs per driver version, architecture, target, module and probe.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use falco_artifacts_core::Arch;
use serde::Serialize;

use crate::index::DriverIndex;
use crate::validate::ValidConfig;
use crate::{DriverVersion, Target};

/// The counts for one driver version and architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupStats {
    /// Configs.
    pub configs: usize,
    /// Configs requesting a kernel module.
    pub modules: usize,
    /// Configs requesting an eBPF probe.
    pub probes: usize,
    /// Configs per target.
    pub targets: BTreeMap<Target, usize>,
}

/// Module and probe presence per kernel (target, release, version) in a listing.
type Kernels<'a> = BTreeMap<(&'a str, &'a str, &'a str), [bool; 2]>;

/// One row of [`Stats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsRow {
    /// The driver version.
    pub driver_version: DriverVersion,
    /// The architecture.
    pub arch: Arch,
    /// Its counts.
    #[serde(flatten)]
    pub counts: GroupStats,
}

/// Counts over a set of configs, grouped by driver version (newest first) and architecture
/// (x86_64 first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// One row per driver version and architecture.
    pub rows: Vec<StatsRow>,
    /// Totals over every row.
    pub total: GroupStats,
}

impl Stats {
    /// Counts `configs`.
    pub fn of(configs: &[ValidConfig]) -> Stats {
        let mut groups: BTreeMap<(DriverVersion, Arch), GroupStats> = BTreeMap::new();
        let mut total = GroupStats::default();
        for config in configs {
            let key = (config.location.driver_version.clone(), config.location.arch);
            let group = groups.entry(key).or_default();
            for counts in [&mut *group, &mut total] {
                counts.configs += 1;
                counts.modules += usize::from(config.config.module_output.is_some());
                counts.probes += usize::from(config.config.probe_output.is_some());
                *counts
                    .targets
                    .entry(config.config.target.clone())
                    .or_default() += 1;
            }
        }
        let mut rows: Vec<StatsRow> = groups
            .into_iter()
            .map(|((driver_version, arch), counts)| StatsRow {
                driver_version,
                arch,
                counts,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.driver_version
                .cmp(&a.driver_version)
                .then(a.arch.cmp(&b.arch))
        });
        Stats { rows, total }
    }

    /// Counts what a repository holds, from its [`DriverIndex`] (built from a store
    /// listing): one "config" per kernel (target, release, version) with a module, a probe or
    /// both; drivers of unknown architecture or ill-named target are not counted.
    pub fn of_index(index: &DriverIndex) -> Stats {
        let mut groups: BTreeMap<(DriverVersion, Arch), Kernels<'_>> = BTreeMap::new();
        for (version, entries) in &index.versions {
            for e in entries {
                let Ok(arch) = e.arch.parse::<Arch>() else {
                    continue;
                };
                let kernel = (
                    e.target.as_str(),
                    e.kernel.as_str(),
                    e.kernel_version.as_str(),
                );
                let slot = groups
                    .entry((version.clone(), arch))
                    .or_default()
                    .entry(kernel)
                    .or_default();
                slot[usize::from(e.kind == "ebpf")] = true;
            }
        }
        let mut total = GroupStats::default();
        let mut rows: Vec<StatsRow> = groups
            .into_iter()
            .map(|((driver_version, arch), kernels)| {
                let mut counts = GroupStats::default();
                for ((target, _, _), [module, probe]) in kernels {
                    let Ok(target) = target.parse::<Target>() else {
                        continue;
                    };
                    for c in [&mut counts, &mut total] {
                        c.configs += 1;
                        c.modules += usize::from(module);
                        c.probes += usize::from(probe);
                        *c.targets.entry(target.clone()).or_default() += 1;
                    }
                }
                StatsRow {
                    driver_version,
                    arch,
                    counts,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.driver_version
                .cmp(&a.driver_version)
                .then(a.arch.cmp(&b.arch))
        });
        Stats { rows, total }
    }

    /// A text report: a line per driver version and architecture with its counts and targets.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<44} {:<8} {:>8} {:>8} {:>8}  TARGETS",
            "DRIVER VERSION", "ARCH", "CONFIGS", "MODULES", "PROBES"
        );
        let mut row = |version: &str, arch: &str, counts: &GroupStats| {
            let targets: Vec<String> = counts
                .targets
                .iter()
                .map(|(target, n)| format!("{target}={n}"))
                .collect();
            let _ = writeln!(
                out,
                "{version:<44} {arch:<8} {:>8} {:>8} {:>8}  {}",
                counts.configs,
                counts.modules,
                counts.probes,
                targets.join(",")
            );
        };
        for r in &self.rows {
            row(r.driver_version.as_str(), r.arch.file_name(), &r.counts);
        }
        row("total", "", &self.total);
        out
    }

    /// The stats as JSON: `{"rows": [{driver_version, arch, configs, modules, probes,
    /// targets}], "total": {…}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
