//! Turning a manifest's content entries into the package's one list of installed paths:
//! directory and glob entries expanded, the documentation files added, collisions refused.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::manifest::ManifestError;
use super::tree::{self, Found, FoundKind, TreeError};
use super::{ConfigKind, ContentEntry, ContentKind, ContentSource, FormatSet, SourceDate};

/// An entry and where it came from in the manifest.
#[derive(Debug)]
pub(crate) struct Placed {
    /// The entry.
    pub(crate) entry: ContentEntry,
    /// The manifest field that produced it (`contents[3]`, `copyright`).
    pub(crate) origin: String,
    /// Whether it was found under a directory or glob entry (an explicit entry replaces it).
    pub(crate) from_tree: bool,
}

/// What a tree entry applies to everything under it.
pub(crate) struct TreeSpec<'a> {
    /// The manifest.
    pub(crate) manifest: &'a Path,
    /// `contents[3]`.
    pub(crate) origin: String,
    /// The `src` as written.
    pub(crate) src: &'a str,
    /// The manifest's directory.
    pub(crate) base: &'a Path,
    /// The `dst` directory, without trailing `/` (empty for the root).
    pub(crate) dst: String,
    /// The `mode` override for regular files; otherwise each keeps its own.
    pub(crate) file_mode: Option<u32>,
    /// The config kind of every regular file.
    pub(crate) config: ConfigKind,
    /// Owner, group and formats of every path.
    pub(crate) owner: String,
    /// Group.
    pub(crate) group: String,
    /// Formats.
    pub(crate) formats: FormatSet,
}

impl TreeSpec<'_> {
    /// Every path under the tree as an entry, sorted by install path.
    pub(crate) fn expand(&self) -> Result<Vec<Placed>, ManifestError> {
        let field = format!("{}.src", self.origin);
        let found = if tree::is_glob(self.src) {
            tree::expand_glob(self.base, self.src)
        } else {
            let root = self.base.join(self.src);
            if !root.exists() {
                return Err(ManifestError::MissingSource {
                    path: self.manifest.to_owned(),
                    field,
                    src: root,
                });
            }
            tree::walk_dir(&root).map(|mut found| {
                if !self.dst.is_empty() {
                    found.insert(0, root_dir(&root));
                }
                found
            })
        };
        let found = found.map_err(|e| match e {
            TreeError::NoMatch => ManifestError::NoMatch {
                path: self.manifest.to_owned(),
                field: field.clone(),
                pattern: self.src.to_owned(),
            },
            TreeError::Io(file, source) => ManifestError::ReadFile {
                path: self.manifest.to_owned(),
                field: field.clone(),
                file,
                source,
            },
            TreeError::BadName(file) | TreeError::Special(file) => ManifestError::Field {
                path: self.manifest.to_owned(),
                field: field.clone(),
                expected: "regular files, directories and symlinks with UTF-8 names".to_owned(),
                found: file.display().to_string(),
            },
        })?;
        found.into_iter().map(|f| self.entry(f)).collect()
    }

    fn entry(&self, found: Found) -> Result<Placed, ManifestError> {
        let dst = if found.relative.is_empty() {
            self.dst.clone()
        } else {
            format!("{}/{}", self.dst, found.relative)
        };
        let dst = dst
            .parse()
            .map_err(|e: super::InvalidInstallPath| ManifestError::Field {
                path: self.manifest.to_owned(),
                field: format!("{}.dst", self.origin),
                expected: format!("install paths for every file under `src` ({})", e.why),
                found: found.path.display().to_string(),
            })?;
        let (kind, mode) = match found.kind {
            FoundKind::File => (
                ContentKind::File {
                    source: ContentSource::Path(found.path),
                    config: self.config,
                },
                self.file_mode.unwrap_or(found.mode),
            ),
            FoundKind::Dir => (ContentKind::Dir, found.mode),
            FoundKind::Symlink(target) => (ContentKind::Symlink { target }, 0o777),
        };
        Ok(Placed {
            entry: ContentEntry {
                dst,
                kind,
                mode,
                owner: self.owner.clone(),
                group: self.group.clone(),
                formats: self.formats,
            },
            origin: self.origin.clone(),
            from_tree: true,
        })
    }
}

/// The source directory itself, installed at `dst` with its own mode.
fn root_dir(root: &Path) -> Found {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root).map_or(0o755, |m| m.permissions().mode() & 0o7777);
    Found {
        relative: String::new(),
        path: root.to_owned(),
        kind: FoundKind::Dir,
        mode,
    }
}

/// The DEB documentation files: `/usr/share/doc/<name>/copyright` as given and the
/// changelog, compressed reproducibly (gzip 9, no file name, the source date as mtime):
/// `changelog.gz` for a native version (`0.39.0`), `changelog.Debian.gz` when the DEB version
/// has a revision (`0.45.0-36+1307474`), as Debian policy 12.7 and lintian want.
pub(crate) fn doc_entries(
    manifest: &Path,
    name: &str,
    deb_version: &str,
    copyright: Option<PathBuf>,
    changelog: Option<PathBuf>,
    date: SourceDate,
) -> Result<Vec<Placed>, ManifestError> {
    let mut out = Vec::new();
    let doc = |file: &str, source| -> Result<Placed, ManifestError> {
        let dst = format!("/usr/share/doc/{name}/{file}");
        let dst = dst.parse().map_err(|_| ManifestError::Field {
            path: manifest.to_owned(),
            field: "name".to_owned(),
            expected: "a package name that makes a /usr/share/doc path".to_owned(),
            found: name.to_owned(),
        })?;
        Ok(Placed {
            entry: ContentEntry {
                dst,
                kind: ContentKind::File {
                    source,
                    config: ConfigKind::None,
                },
                mode: 0o644,
                owner: "root".to_owned(),
                group: "root".to_owned(),
                formats: FormatSet::of(&[super::Format::Deb]),
            },
            origin: if file == "copyright" {
                "copyright".to_owned()
            } else {
                "changelog".to_owned()
            },
            from_tree: false,
        })
    };
    if let Some(file) = copyright {
        std::fs::metadata(&file).map_err(|source| ManifestError::ReadFile {
            path: manifest.to_owned(),
            field: "copyright".to_owned(),
            file: file.clone(),
            source,
        })?;
        out.push(doc("copyright", ContentSource::Path(file))?);
    }
    if let Some(file) = changelog {
        let read = |source| ManifestError::ReadFile {
            path: manifest.to_owned(),
            field: "changelog".to_owned(),
            file: file.clone(),
            source,
        };
        let text = std::fs::read(&file).map_err(read)?;
        let file_name = if deb_version.contains('-') {
            "changelog.Debian.gz"
        } else {
            "changelog.gz"
        };
        out.push(doc(
            file_name,
            ContentSource::Inline(Arc::from(gzip(&text, date).map_err(read)?)),
        )?);
    }
    Ok(out)
}

/// gzip with nothing that varies between runs: level 9, no name, mtime the source date.
pub(crate) fn gzip(bytes: &[u8], date: SourceDate) -> std::io::Result<Vec<u8>> {
    let mtime = u32::try_from(date.secs()).unwrap_or(0);
    let mut gz = flate2::GzBuilder::new()
        .mtime(mtime)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    gz.finish()
}

/// The entries in manifest order, an explicit entry replacing what a tree put at its path;
/// two explicit entries, or two trees, installing one path in a shared format are refused
/// (directories may repeat: the first explicit one wins).
pub(crate) fn merge(
    manifest: &Path,
    placed: Vec<Placed>,
) -> Result<(Vec<ContentEntry>, Vec<String>), ManifestError> {
    let mut out: Vec<Option<Placed>> = Vec::with_capacity(placed.len());
    let mut by_dst: HashMap<String, Vec<usize>> = HashMap::new();
    for next in placed {
        let slots = by_dst
            .entry(next.entry.dst.as_ref().to_owned())
            .or_default();
        let clash = slots.iter().copied().find(|&i| {
            out[i]
                .as_ref()
                .is_some_and(|p| p.entry.formats.overlaps(next.entry.formats))
        });
        let Some(i) = clash else {
            slots.push(out.len());
            out.push(Some(next));
            continue;
        };
        let Some(old) = out[i].as_ref() else { continue };
        let both_dirs = old.entry.kind == ContentKind::Dir && next.entry.kind == ContentKind::Dir;
        if both_dirs {
            if old.from_tree && !next.from_tree {
                out[i] = Some(next);
            }
        } else if old.from_tree && !next.from_tree {
            out[i] = Some(next);
        } else if !old.from_tree && next.from_tree {
            // The explicit entry overrides this one path of the tree.
        } else {
            return Err(ManifestError::Collision {
                path: manifest.to_owned(),
                field: format!("{}.dst", next.origin),
                other: old.origin.clone(),
                dst: next.entry.dst.as_ref().to_owned(),
            });
        }
    }
    Ok(out
        .into_iter()
        .flatten()
        .map(|p| (p.entry, p.origin))
        .unzip())
}

/// `text` with every `contents[N]` (an index into the expanded list) replaced by the manifest
/// entry that produced entry N, so a later check names what the user wrote.
pub(crate) fn renumber(text: &str, origins: &[String]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("contents[") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let digits = &after["contents[".len()..];
        let end = digits.find(']').unwrap_or(0);
        match digits[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| origins.get(i))
        {
            Some(origin) if end > 0 => {
                out.push_str(origin);
                rest = &digits[end + 1..];
            }
            _ => {
                out.push_str("contents[");
                rest = digits;
            }
        }
    }
    out.push_str(rest);
    out
}
