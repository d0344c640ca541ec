//! The `Depends`/`Pre-Depends` closure of the named packages inside one set of packages.
//!
//! Like distroless or apko, nothing outside the given set is looked up: a dependency the set
//! cannot satisfy is reported (with the package that needs it), never fetched on the side.
//! Alternatives (`a | b`) take the first one the set has; virtual packages are satisfied by a
//! package that `Provides` them. Version constraints are not compared: the set is one
//! distribution release's packages, which apt already made consistent.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use falco_artifacts_pkg_deb::Control;

/// A dependency no package of the set satisfies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissingDependency {
    /// The relation as written (`libssl3 (>= 3.0.0)`, `debconf (>= 0.5) | debconf-2.0`), or the
    /// package name when it was asked for directly.
    pub needed: String,
    /// The package that needs it; `None` when the caller named it.
    pub by: Option<String>,
}

impl std::fmt::Display for MissingDependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.by {
            Some(by) => write!(f, "{} (needed by {by})", self.needed),
            None => write!(f, "{} (asked for)", self.needed),
        }
    }
}

/// `libssl3:any (>= 3.0.0)` → `libssl3`.
fn relation_name(alternative: &str) -> &str {
    let name = alternative
        .trim()
        .split(|c: char| c == '(' || c == '[' || c == '<' || c.is_whitespace())
        .next()
        .unwrap_or("");
    name.split(':').next().unwrap_or(name).trim()
}

/// Picks, for each name in `wanted`, the package and everything it depends on. Returns the
/// chosen names in sorted order, or every missing dependency (sorted, each once).
pub(crate) fn closure(
    available: &BTreeMap<String, Control>,
    wanted: &[String],
) -> Result<BTreeSet<String>, Vec<MissingDependency>> {
    let mut provides: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, control) in available {
        for provided in control.relation("Provides") {
            provides
                .entry(relation_name(provided))
                .or_default()
                .push(name.as_str());
        }
    }
    let mut chosen = BTreeSet::new();
    let mut missing = BTreeSet::new();
    let mut queue: VecDeque<(String, Option<String>)> =
        wanted.iter().map(|w| (w.clone(), None)).collect();
    while let Some((name, by)) = queue.pop_front() {
        if chosen.contains(&name) {
            continue;
        }
        let Some(control) = available.get(&name) else {
            missing.insert(MissingDependency { needed: name, by });
            continue;
        };
        chosen.insert(name.clone());
        for field in ["Pre-Depends", "Depends"] {
            for relation in control.relation(field) {
                let pick = relation.split('|').map(relation_name).find_map(|alt| {
                    if available.contains_key(alt) {
                        Some(alt)
                    } else {
                        // A provider already chosen first, else the first by name.
                        let providers = provides.get(alt)?;
                        providers
                            .iter()
                            .find(|p| chosen.contains(**p))
                            .or_else(|| providers.first())
                            .copied()
                    }
                });
                match pick {
                    Some(pick) => queue.push_back((pick.to_owned(), Some(name.clone()))),
                    None => {
                        missing.insert(MissingDependency {
                            needed: relation.to_owned(),
                            by: Some(name.clone()),
                        });
                    }
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(chosen)
    } else {
        Err(missing.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(stanzas: &[&str]) -> BTreeMap<String, Control> {
        stanzas
            .iter()
            .map(|s| {
                let c = Control::parse(&format!("Architecture: amd64\nVersion: 1\n{s}\n")).unwrap();
                (c.package().to_owned(), c)
            })
            .collect()
    }

    #[test]
    fn the_closure_follows_depends_pre_depends_alternatives_and_provides() {
        let available = set(&[
            "Package: libstdc++6\nDepends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.36), libgcc-s1 (>= 4.2)",
            "Package: libc6\nDepends: libgcc-s1",
            "Package: libgcc-s1\nPre-Depends: libc6:any\nDepends: gcc-12-base",
            "Package: gcc-12-base",
            "Package: ca-certificates\nDepends: openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0",
            "Package: openssl\nDepends: libc6",
            "Package: cdebconf\nProvides: debconf-2.0",
            "Package: unrelated",
        ]);
        let got = closure(&available, &["libstdc++6".into(), "ca-certificates".into()]).unwrap();
        let got: Vec<&str> = got.iter().map(String::as_str).collect();
        assert_eq!(
            got,
            [
                "ca-certificates",
                "cdebconf",
                "gcc-12-base",
                "libc6",
                "libgcc-s1",
                "libstdc++6",
                "openssl"
            ]
        );
    }

    #[test]
    fn what_the_set_lacks_is_reported_with_who_needs_it() {
        let available = set(&["Package: libstdc++6\nDepends: libc6 (>= 2.36), libgcc-s1"]);
        let missing = closure(&available, &["libstdc++6".into(), "zlib1g".into()]).unwrap_err();
        let text: Vec<String> = missing.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "libc6 (>= 2.36) (needed by libstdc++6)",
                "libgcc-s1 (needed by libstdc++6)",
                "zlib1g (asked for)"
            ]
        );
    }
}
