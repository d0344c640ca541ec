//! Merging new packages into the live indexes, and retention.

use std::collections::{BTreeMap, BTreeSet};

use falco_artifacts_core::{Overwrite, Retention};

use crate::error::PublishError;
use crate::protocol::admission::{self, Entry};

use super::packages::Stanza;
use super::stage::DebInfo;
use super::state::Live;
use super::{version, AptRepository};

/// Keeps the newest `retention` versions per package (of one architecture); returns the rest.
fn prune(stanzas: &mut Vec<Stanza>, retention: Retention) -> Vec<Stanza> {
    let expired = retention.expired(
        stanzas
            .iter()
            .map(|s| Some((s.package.as_str(), s.version.as_str()))),
        |a, b| version::compare(a, b),
    );
    if expired.is_empty() {
        return Vec::new();
    }
    let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(stanzas)
        .into_iter()
        .enumerate()
        .partition(|(i, _)| expired.contains(i));
    *stanzas = kept.into_iter().map(|(_, s)| s).collect();
    gone.into_iter().map(|(_, s)| s).collect()
}

/// The result of merging new packages into the live state.
pub(crate) struct Merged {
    pub(super) stanzas: BTreeMap<String, Vec<Stanza>>,
    /// Pool files no stanza names any more.
    pub(super) pruned_files: Vec<(String, Stanza)>,
}

fn entry(s: &Stanza) -> Entry<'_> {
    Entry {
        name: &s.package,
        version: &s.version,
        arch: &s.architecture,
        file: &s.filename,
    }
}

impl AptRepository {
    /// Refuses, on an immutable channel, a package version `live` holds under another file.
    pub(super) fn refuse_moved(
        repository: &str,
        overwrite: Overwrite,
        live: &Live,
        debs: &[DebInfo],
    ) -> Result<(), PublishError> {
        admission::refuse_moved_versions(
            repository,
            overwrite,
            live.stanzas.values().flatten().map(entry),
            debs.iter().map(|d| entry(&d.stanza)),
        )
    }

    pub(super) fn merge(&self, live: &Live, debs: &[DebInfo], retention: Retention) -> Merged {
        let mut stanzas: BTreeMap<String, Vec<Stanza>> = self
            .deb_arches()
            .into_iter()
            .map(|a| {
                let existing = live.stanzas.get(&a).cloned().unwrap_or_default();
                (a, existing)
            })
            .collect();
        // One pass per architecture, not one per package: a full rebuild adds every package
        // of the pool at once.
        let mut added: BTreeMap<&str, Vec<&Stanza>> = BTreeMap::new();
        for deb in debs {
            for arch in &deb.arches {
                added.entry(arch).or_default().push(&deb.stanza);
            }
        }
        for (arch, new) in added {
            let replaced: BTreeSet<(&str, &str, &str)> = new.iter().map(|s| s.key()).collect();
            let list = stanzas.entry(arch.to_owned()).or_default();
            list.retain(|s| !replaced.contains(&s.key()));
            // A package given twice in one call: the last one wins, as before.
            let mut seen = BTreeSet::new();
            let mut fresh: Vec<Stanza> = new
                .into_iter()
                .rev()
                .filter(|s| seen.insert(s.key()))
                .cloned()
                .collect();
            fresh.reverse();
            list.extend(fresh);
        }
        let mut gone = Vec::new();
        for list in stanzas.values_mut() {
            gone.extend(prune(list, retention));
            list.sort_by(|a, b| {
                a.package
                    .cmp(&b.package)
                    .then_with(|| version::compare(&a.version, &b.version))
            });
        }
        let named: BTreeSet<&str> = stanzas
            .values()
            .flatten()
            .map(|s| s.filename.as_str())
            .collect();
        let mut pruned_files: BTreeMap<String, Stanza> = BTreeMap::new();
        for s in gone {
            if !named.contains(s.filename.as_str()) {
                pruned_files.insert(s.filename.clone(), s);
            }
        }
        Merged {
            stanzas,
            pruned_files: pruned_files.into_iter().collect(),
        }
    }
}
