//! Retention: which files fall out when a channel keeps the last N versions.

use std::collections::{BTreeMap, BTreeSet};

use falco_artifacts_core::{Retention, Version};

use crate::index::IndexEntry;

/// The paths of `entries` that `retention` prunes: per architecture, every file of a version
/// older than the newest N (core's [`Version`] order). Files without a version are kept.
/// This is the rule of core's `InMemoryPublisher`.
pub(crate) fn doomed(entries: &[IndexEntry], retention: Retention) -> BTreeSet<String> {
    let Retention::KeepLast(keep) = retention else {
        return BTreeSet::new();
    };
    let mut versions: BTreeMap<_, BTreeSet<&Version>> = BTreeMap::new();
    for entry in entries {
        if let Some(version) = &entry.version {
            versions.entry(entry.arch).or_default().insert(version);
        }
    }
    let old: BTreeMap<_, BTreeSet<&Version>> = versions
        .into_iter()
        .map(|(arch, set)| (arch, set.into_iter().rev().skip(keep.get()).collect()))
        .collect();
    entries
        .iter()
        .filter(|e| {
            e.version
                .as_ref()
                .is_some_and(|v| old.get(&e.arch).is_some_and(|o| o.contains(v)))
        })
        .map(|e| e.path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use chrono::Utc;
    use falco_artifacts_core::{Arch, Sha256Digest};

    use super::*;
    use crate::index::FileKind;

    fn entry(path: &str, version: &str, arch: Arch) -> IndexEntry {
        IndexEntry {
            path: path.into(),
            name: path.into(),
            kind: FileKind::Tarball,
            version: Some(version.parse().unwrap()),
            arch: Some(arch),
            size: 1,
            sha256: Sha256Digest::of_bytes(b""),
            time: Utc::now(),
        }
    }

    #[test]
    fn keeps_the_newest_per_arch_in_version_order() {
        let entries = vec![
            entry("a", "0.45.0-9+abcdef0", Arch::X86_64),
            entry("a.asc", "0.45.0-9+abcdef0", Arch::X86_64),
            entry("b", "0.45.0-10+abcdef0", Arch::X86_64),
            entry("c", "0.45.0-2+abcdef0", Arch::Aarch64),
        ];
        let keep1 = Retention::KeepLast(NonZeroUsize::MIN);
        let gone = doomed(&entries, keep1);
        assert_eq!(gone, ["a".to_owned(), "a.asc".to_owned()].into());
        assert!(doomed(&entries, Retention::KeepAll).is_empty());
    }
}
