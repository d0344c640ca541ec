//! Merging new packages into the live metadata, and retention.

use std::collections::BTreeMap;

use falco_artifacts_core::{Overwrite, Retention};

use crate::error::PublishError;
use crate::protocol::admission::{self, Entry};

use super::record::Record;
use super::stage::RpmStaged;
use super::state::Live;

/// The result of merging new packages into the live state.
pub(crate) struct Merged {
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

fn entry<'a>((r, version): &'a (&'a Record, String)) -> Entry<'a> {
    Entry {
        name: &r.name,
        version,
        arch: &r.arch,
        file: &r.href,
    }
}

/// Refuses, on an immutable channel, a package version `live` holds under another file.
pub(super) fn refuse_moved(
    repository: &str,
    overwrite: Overwrite,
    live: &Live,
    rpms: &[RpmStaged],
) -> Result<(), PublishError> {
    let evr = |r: &Record| format!("{}:{}-{}", r.epoch, r.version, r.release);
    let live: Vec<(&Record, String)> = live.records.values().map(|r| (r, evr(r))).collect();
    let offered: Vec<(&Record, String)> =
        rpms.iter().map(|r| (&r.record, evr(&r.record))).collect();
    admission::refuse_moved_versions(
        repository,
        overwrite,
        live.iter().map(entry),
        offered.iter().map(entry),
    )
}

/// Keeps the newest `retention` versions of each package name and architecture.
pub(super) fn merge(live: &Live, rpms: &[RpmStaged], retention: Retention) -> Merged {
    let mut records = live.records.clone();
    for rpm in rpms {
        records.insert(rpm.record.href.clone(), rpm.record.clone());
    }
    let expired = retention.expired(
        records
            .values()
            .map(|r| Some(((r.name.as_str(), r.arch.as_str()), r.evr()))),
        |a, b| a.cmp(b),
    );
    let doomed: Vec<String> = records
        .keys()
        .enumerate()
        .filter(|(i, _)| expired.contains(i))
        .map(|(_, href)| href.clone())
        .collect();
    let pruned = doomed
        .iter()
        .filter_map(|href| records.remove(href))
        .collect();
    Merged { records, pruned }
}
