//! The one retention rule every publisher applies: per group (a package and architecture),
//! keep the newest N distinct versions.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::channel::Retention;

impl Retention {
    /// The positions of the files that fall out: `files` gives, per file, its group and
    /// version (`None`: a file without a version, always kept), `order` compares versions
    /// the way the format does (core's [`Version`](crate::Version) order, Debian's, rpm's).
    /// Versions `order` finds equal count once, so a package and its signature go together.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use falco_artifacts_core::Retention;
    ///
    /// let files = [("falco", 1), ("falco", 3), ("falco", 2), ("other", 1)];
    /// let keep2 = Retention::KeepLast(NonZeroUsize::new(2).unwrap());
    /// let gone = keep2.expired(files.iter().map(|&(name, v)| Some((name, v))), Ord::cmp);
    /// assert_eq!(gone.into_iter().collect::<Vec<_>>(), [0]);
    /// assert!(Retention::KeepAll.expired(files.iter().map(|_| None::<(&str, u8)>), Ord::cmp).is_empty());
    /// ```
    pub fn expired<G: Ord, V>(
        self,
        files: impl IntoIterator<Item = Option<(G, V)>>,
        order: impl Fn(&V, &V) -> Ordering,
    ) -> BTreeSet<usize> {
        let Retention::KeepLast(keep) = self else {
            return BTreeSet::new();
        };
        let mut groups: BTreeMap<G, Vec<(V, usize)>> = BTreeMap::new();
        for (position, file) in files.into_iter().enumerate() {
            if let Some((group, version)) = file {
                groups.entry(group).or_default().push((version, position));
            }
        }
        let mut expired = BTreeSet::new();
        for mut list in groups.into_values() {
            list.sort_by(|(a, _), (b, _)| order(b, a));
            let mut distinct = 0;
            let mut previous: Option<&V> = None;
            for (version, position) in &list {
                if previous.is_none_or(|p| order(p, version) != Ordering::Equal) {
                    distinct += 1;
                }
                previous = Some(version);
                if distinct > keep.get() {
                    expired.insert(*position);
                }
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use crate::{Arch, Version};

    use super::*;

    #[test]
    fn keeps_the_newest_per_arch_in_version_order() {
        let files: Vec<(Arch, Version)> = [
            ("0.45.0-9+abcdef0", Arch::X86_64),
            ("0.45.0-9+abcdef0", Arch::X86_64),
            ("0.45.0-10+abcdef0", Arch::X86_64),
            ("0.45.0-2+abcdef0", Arch::Aarch64),
        ]
        .into_iter()
        .map(|(v, arch)| (arch, v.parse().unwrap()))
        .collect();
        let keep1 = Retention::KeepLast(NonZeroUsize::MIN);
        let all = || files.iter().map(|(arch, v)| Some((*arch, v)));
        // 0.45.0-10 sorts after 0.45.0-9 (not as text); a package and its signature go together.
        assert_eq!(keep1.expired(all(), Ord::cmp), [0, 1].into());
        assert!(Retention::KeepAll.expired(all(), Ord::cmp).is_empty());
    }
}
