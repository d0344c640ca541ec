//! The one admission rule every package index shares: on an immutable channel a package
//! version, once published, keeps its file. Offering the same (name, version, arch) under
//! another file name is refused like different bytes under the same name, because APT would
//! replace the live stanza and YUM would list the version twice.

use falco_artifacts_core::Overwrite;

use crate::error::PublishError;

/// A package version as an index knows it: its identity and the file that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub(crate) name: &'a str,
    /// The version as the format spells it (`0.45.0-36+1307474`, `0:0.45.0_36+1307474-1`).
    pub(crate) version: &'a str,
    pub(crate) arch: &'a str,
    /// The file's key, relative to the repository.
    pub(crate) file: &'a str,
}

/// Refuses the first offered version that `live` already holds under another file, when
/// `overwrite` is [`Overwrite::Immutable`].
pub(crate) fn refuse_moved_versions<'a>(
    repository: &str,
    overwrite: Overwrite,
    live: impl IntoIterator<Item = Entry<'a>>,
    offered: impl IntoIterator<Item = Entry<'a>>,
) -> Result<(), PublishError> {
    if overwrite != Overwrite::Immutable {
        return Ok(());
    }
    let live: std::collections::HashMap<(&str, &str, &str), &str> = live
        .into_iter()
        .map(|e| ((e.name, e.version, e.arch), e.file))
        .collect();
    for new in offered {
        match live.get(&(new.name, new.version, new.arch)) {
            Some(existing) if *existing != new.file => {
                return Err(PublishError::VersionMoved {
                    repository: repository.to_owned(),
                    version: format!("{} {} ({})", new.name, new.version, new.arch),
                    existing: (*existing).to_owned(),
                    offered: new.file.to_owned(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(version: &'a str, file: &'a str) -> Entry<'a> {
        Entry {
            name: "falco",
            version,
            arch: "amd64",
            file,
        }
    }

    #[test]
    fn only_an_immutable_channel_refuses_a_version_under_a_new_name() {
        let live = [entry("0.45.0", "stable/falco-0.45.0-x86_64.deb")];
        let moved = [entry("0.45.0", "stable/falco_0.45.0_amd64.deb")];
        let err = refuse_moved_versions("deb", Overwrite::Immutable, live, moved).unwrap_err();
        assert!(matches!(err, PublishError::VersionMoved { .. }), "{err}");
        assert!(
            err.to_string().contains("stable/falco-0.45.0-x86_64.deb"),
            "{err}"
        );
        refuse_moved_versions("deb", Overwrite::Replace, live, moved).unwrap();
        let same = [entry("0.45.0", "stable/falco-0.45.0-x86_64.deb")];
        refuse_moved_versions("deb", Overwrite::Immutable, live, same).unwrap();
        let newer = [entry("0.45.1", "stable/falco_0.45.1_amd64.deb")];
        refuse_moved_versions("deb", Overwrite::Immutable, live, newer).unwrap();
    }
}
