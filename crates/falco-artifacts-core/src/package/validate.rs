//! Checks every [`PackageSpec`] must pass before a packager writes it, however it was made.

use std::collections::HashMap;

use super::{ContentEntry, ContentKind, ContentSource, PackageSpec, Relations};

/// A package description that must not be packed: which field, what was expected, what was
/// found. [`load_manifest`](super::load_manifest) adds the manifest's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: expected {expected}, found {found}")]
pub struct SpecError {
    /// The field, as a path (`contents[3].dst`).
    pub field: String,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

fn err(
    field: impl Into<String>,
    expected: impl Into<String>,
    found: impl std::fmt::Debug,
) -> SpecError {
    SpecError {
        field: field.into(),
        expected: expected.into(),
        found: format!("{found:?}"),
    }
}

impl PackageSpec {
    /// Checks the description: name, required texts, relations, and every content entry
    /// (sources exist, modes, owners, formats, symlinks inside the root, no two entries for one
    /// path, no file where a directory must be). Packagers call it before writing anything.
    pub fn validate(&self) -> Result<(), SpecError> {
        let name_ok = self.name.len() >= 2
            && self.name.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || (i > 0 && matches!(b, b'+' | b'-' | b'.'))
            });
        if !name_ok {
            return Err(err(
                "name",
                "a package name of lowercase letters, digits, '+', '-', '.' (at least 2 characters)",
                &self.name,
            ));
        }
        for (field, value) in [
            ("maintainer", &self.maintainer),
            ("description", &self.summary),
            ("license", &self.license),
        ] {
            if value.trim().is_empty() {
                return Err(err(field, "a non-empty text", value));
            }
        }
        check_relations("relations", &self.relations)?;
        check_relations("overrides.deb", &self.deb_relations)?;
        check_relations("overrides.rpm", &self.rpm_relations)?;
        for (i, entry) in self.contents.iter().enumerate() {
            check_entry(i, entry)?;
        }
        check_conflicts(&self.contents)
    }
}

fn check_relations(field: &str, relations: &Relations) -> Result<(), SpecError> {
    let all = [
        &relations.depends,
        &relations.pre_depends,
        &relations.recommends,
        &relations.suggests,
        &relations.conflicts,
        &relations.breaks,
        &relations.replaces,
        &relations.provides,
    ];
    match all
        .iter()
        .flat_map(|list| list.iter())
        .find(|r| r.trim().is_empty() || r.contains(['\n', ',']))
    {
        Some(bad) => Err(err(
            field,
            "one relation per list item, not empty, without ',' or newlines",
            bad,
        )),
        None => Ok(()),
    }
}

fn check_entry(i: usize, entry: &ContentEntry) -> Result<(), SpecError> {
    let at = |name: &str| format!("contents[{i}].{name}");
    match &entry.kind {
        ContentKind::File {
            source: ContentSource::Path(path),
            ..
        } => {
            if !std::fs::metadata(path)
                .map(|m| m.is_file())
                .unwrap_or(false)
            {
                return Err(err(
                    at("src"),
                    format!("an existing regular file (looked for {})", path.display()),
                    path,
                ));
            }
        }
        ContentKind::File { .. } | ContentKind::Dir => {}
        ContentKind::Symlink { target } => {
            if target.is_empty() || target.contains(['\0', '\n']) {
                return Err(err(at("target"), "a non-empty link target", target));
            }
            if !entry.dst.link_stays_inside(target) {
                return Err(err(
                    at("target"),
                    format!(
                        "a link target that stays inside the install root from {}",
                        entry.dst
                    ),
                    target,
                ));
            }
        }
    }
    if entry.mode > 0o7777 {
        return Err(err(
            at("mode"),
            "permission bits up to 0o7777",
            format!("{:o}", entry.mode),
        ));
    }
    for (name, value) in [("owner", &entry.owner), ("group", &entry.group)] {
        if value.is_empty() || value.contains([':', ' ', '\n', '/']) {
            return Err(err(
                at(name),
                "a user or group name without ':', '/' or spaces",
                value,
            ));
        }
    }
    if entry.formats.is_empty() {
        return Err(err(at("formats"), "at least one of deb, rpm, tar", "[]"));
    }
    Ok(())
}

/// Two entries for one path in a shared format, or a non-directory where a directory must be.
fn check_conflicts(contents: &[ContentEntry]) -> Result<(), SpecError> {
    let mut seen: HashMap<&str, Vec<(usize, &ContentEntry)>> = HashMap::new();
    for (i, entry) in contents.iter().enumerate() {
        let same = seen.entry(entry.dst.as_ref()).or_default();
        if let Some((j, _)) = same.iter().find(|(_, e)| e.formats.overlaps(entry.formats)) {
            return Err(err(
                format!("contents[{i}].dst"),
                format!("a destination not already used by contents[{j}] in the same formats"),
                entry.dst.as_ref(),
            ));
        }
        same.push((i, entry));
    }
    for (i, entry) in contents.iter().enumerate() {
        for ancestor in entry.dst.ancestors() {
            let blocking = seen.get(ancestor).and_then(|list| {
                list.iter()
                    .find(|(_, e)| e.kind != ContentKind::Dir && e.formats.overlaps(entry.formats))
            });
            if let Some((j, _)) = blocking {
                return Err(err(
                    format!("contents[{i}].dst"),
                    format!("a path whose parent {ancestor} is a directory, but contents[{j}] installs a non-directory there"),
                    entry.dst.as_ref(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{load_manifest_str, FormatSet, ManifestOptions};

    fn spec() -> PackageSpec {
        let yaml = "name: falco\nversion: 0.39.0\narch: x86_64\nmaintainer: m\ndescription: d\nlicense: l\nsource_date: 1\n";
        load_manifest_str(yaml, std::path::Path::new("."), &ManifestOptions::default()).unwrap()
    }

    #[test]
    fn hand_built_specs_are_checked_too() {
        let mut s = spec();
        s.contents.push(ContentEntry {
            dst: "/usr/bin/x".parse().unwrap(),
            kind: ContentKind::Symlink {
                target: "../../../../etc/shadow".into(),
            },
            mode: 0o777,
            owner: "root".into(),
            group: "root".into(),
            formats: FormatSet::ALL,
        });
        let e = s.validate().unwrap_err();
        assert_eq!(e.field, "contents[0].target");

        let mut s = spec();
        s.name = "Falco".into();
        assert_eq!(s.validate().unwrap_err().field, "name");

        let mut s = spec();
        s.rpm_relations.depends.push("a, b".into());
        assert_eq!(s.validate().unwrap_err().field, "overrides.rpm");
    }
}
