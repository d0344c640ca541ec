//! Retention of a JSON index: which files fall out when a channel keeps the last N versions.

use std::collections::BTreeSet;

use falco_artifacts_core::Retention;

use crate::index::IndexEntry;

/// The paths of `entries` that `retention` prunes: per architecture, every file of a version
/// older than the newest N (core's rule, which its `InMemoryPublisher` applies too). Files
/// without a version are kept.
pub(crate) fn doomed(entries: &[IndexEntry], retention: Retention) -> BTreeSet<String> {
    retention
        .expired(
            entries
                .iter()
                .map(|e| e.version.as_ref().map(|v| (e.arch, v))),
            Ord::cmp,
        )
        .into_iter()
        .map(|i| entries[i].path.clone())
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
