//! Which entries the tarball holds, in which order: the top directory, every parent directory,
//! then the package's entries, sorted by path.

use std::collections::BTreeMap;

use falco_artifacts_core::package::{ContentEntry, ContentKind, Format, PackageSpec};

/// One entry of the tarball.
pub(crate) enum Item<'a> {
    /// A directory no content entry declares (the top directory and parents).
    ImplicitDir,
    /// An entry of the package.
    Declared(&'a ContentEntry),
}

/// `path inside the archive → item`, in the order they are written. Directory paths end in
/// `/`, as GNU tar writes them. Declared directories replace implicit ones.
pub(crate) fn layout<'a>(spec: &'a PackageSpec, top: &str) -> BTreeMap<String, Item<'a>> {
    let mut items = BTreeMap::new();
    items.insert(format!("{top}/"), Item::ImplicitDir);
    for entry in spec.contents_for(Format::Tar) {
        for ancestor in entry.dst.ancestors() {
            items
                .entry(format!("{top}{ancestor}/"))
                .or_insert(Item::ImplicitDir);
        }
        let path = match entry.kind {
            ContentKind::Dir => format!("{top}{}/", entry.dst),
            _ => format!("{top}{}", entry.dst),
        };
        items.insert(path, Item::Declared(entry));
    }
    items
}
