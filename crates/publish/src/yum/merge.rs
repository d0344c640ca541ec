//! Merging new packages into the live metadata, and retention.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use falco_artifacts_core::Retention;

use super::record::Record;
use super::stage::RpmStaged;
use super::state::Live;

/// The result of merging new packages into the live state.
pub(super) struct Merged {
    /// The next generation's packages, by key.
    pub(super) records: BTreeMap<String, Record>,
    /// Packages retention drops.
    pub(super) pruned: Vec<Record>,
}

impl Merged {
    /// The packages in document order: by name, arch, then rpm version order.
    pub(super) fn ordered(&self) -> Vec<&Record> {
        let mut list: Vec<&Record> = self.records.values().collect();
        list.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.arch.cmp(&b.arch))
                .then_with(|| a.evr().cmp(&b.evr()))
                .then_with(|| a.href.cmp(&b.href))
        });
        list
    }
}

/// Keeps the newest `retention` versions of each package name and architecture.
pub(super) fn merge(live: &Live, rpms: &[RpmStaged], retention: Retention) -> Merged {
    let mut records = live.records.clone();
    for rpm in rpms {
        records.insert(rpm.record.href.clone(), rpm.record.clone());
    }
    let Retention::KeepLast(keep) = retention else {
        return Merged {
            records,
            pruned: Vec::new(),
        };
    };
    let mut groups: BTreeMap<(&str, &str), Vec<&Record>> = BTreeMap::new();
    for r in records.values() {
        groups.entry((&r.name, &r.arch)).or_default().push(r);
    }
    let mut doomed = BTreeSet::new();
    for list in groups.values_mut() {
        list.sort_by(|a, b| b.evr().cmp(&a.evr()));
        let mut distinct = 0;
        let mut previous: Option<&Record> = None;
        for r in list.iter() {
            if previous.is_none_or(|p| p.evr().cmp(&r.evr()) != Ordering::Equal) {
                distinct += 1;
            }
            previous = Some(r);
            if distinct > keep.get() {
                doomed.insert(r.href.clone());
            }
        }
    }
    let pruned = doomed
        .iter()
        .filter_map(|href| records.remove(href))
        .collect();
    Merged { records, pruned }
}
