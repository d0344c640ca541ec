//! Extracting the data tree into a directory without ever writing outside it.
//!
//! Nothing is written through a symlink: every parent directory is checked with `lstat`, an
//! existing file or link in the way is removed (never opened) before the new entry is created
//! with `O_EXCL`, and link targets are checked before the link exists.

use falco_artifacts_core::package::{
    link_escapes_root, relative_target_stays_inside as stays_inside,
};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::entry::{DataEntry, DataKind};
use crate::error::ReadError;

/// What to do with a symlink whose target is absolute (`/usr/lib/x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AbsoluteSymlinks {
    /// Refuse the package: in the extracted tree such a link points outside it.
    #[default]
    Reject,
    /// Rewrite the target relative to the link, so it points to the same path inside the
    /// extracted tree (`/usr/lib/x` from `usr/bin/y` becomes `../lib/x`).
    Rebase,
}

/// Options of [`DebReader::extract`](crate::DebReader::extract).
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Absolute symlink targets: refused (default) or rebased inside the tree.
    pub absolute_symlinks: AbsoluteSymlinks,
    /// The most bytes of file content to write; `None` for no limit.
    pub max_bytes: Option<u64>,
}

pub(crate) struct Extractor<'a> {
    root: PathBuf,
    options: &'a ExtractOptions,
    member: String,
    files: HashSet<String>,
    links: HashMap<String, String>,
    written: u64,
}

impl<'a> Extractor<'a> {
    pub(crate) fn new(
        root: &Path,
        options: &'a ExtractOptions,
        member: &str,
    ) -> Result<Self, ReadError> {
        fs::create_dir_all(root).map_err(|source| ReadError::Extract {
            path: root.to_owned(),
            source,
        })?;
        Ok(Extractor {
            root: root.to_owned(),
            options,
            member: member.to_owned(),
            files: HashSet::new(),
            links: HashMap::new(),
            written: 0,
        })
    }

    pub(crate) fn entry(
        &mut self,
        entry: &DataEntry,
        data: &mut dyn Read,
    ) -> Result<(), ReadError> {
        if entry.path.is_empty() {
            return Ok(());
        }
        let parts: Vec<&str> = entry.path.split('/').collect();
        let dest = self.parents(&entry.path, &parts)?;
        let extract = |source| ReadError::Extract {
            path: dest.clone(),
            source,
        };
        let conflict = |problem| ReadError::Conflict {
            path: entry.path.clone(),
            problem,
        };
        let existing = match fs::symlink_metadata(&dest) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(extract(e)),
        };
        let is_dir = existing.as_ref().is_some_and(fs::Metadata::is_dir);
        if !matches!(entry.kind, DataKind::Dir) {
            if is_dir {
                return Err(conflict("a directory is in the way"));
            }
            if existing.is_some() {
                // Removing, not opening: an earlier symlink here must not be written through.
                fs::remove_file(&dest).map_err(extract)?;
                self.files.remove(&entry.path);
                self.links.remove(&entry.path);
            }
        }
        match &entry.kind {
            DataKind::Dir => {
                if !is_dir {
                    if existing.is_some() {
                        fs::remove_file(&dest).map_err(extract)?;
                        self.files.remove(&entry.path);
                        self.links.remove(&entry.path);
                    }
                    fs::create_dir(&dest).map_err(extract)?;
                }
                // Owner-writable, so that the entries inside can be created.
                let mode = entry.mode & 0o777 | 0o700;
                fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).map_err(extract)?;
            }
            DataKind::File { size } => {
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dest)
                    .map_err(extract)?;
                let limit = self
                    .options
                    .max_bytes
                    .map(|max| max.saturating_sub(self.written));
                if limit.is_some_and(|left| *size > left) {
                    return Err(ReadError::TooLarge {
                        member: self.member.clone(),
                        what: format!("extracted content at {}", entry.path),
                        limit: self.options.max_bytes.unwrap_or_default(),
                    });
                }
                let copied = io::copy(&mut data.take(*size), &mut file).map_err(|source| {
                    ReadError::Tar {
                        member: self.member.clone(),
                        entry: Some(entry.path.clone()),
                        source,
                    }
                })?;
                if copied != *size {
                    return Err(ReadError::Tar {
                        member: self.member.clone(),
                        entry: Some(entry.path.clone()),
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "entry data ends before its declared size",
                        ),
                    });
                }
                self.written += copied;
                // Set-id bits are dropped: an extracted tree is data to look at, not to run as root.
                file.set_permissions(fs::Permissions::from_mode(entry.mode & 0o777))
                    .map_err(extract)?;
                file.set_modified(UNIX_EPOCH + Duration::from_secs(entry.mtime))
                    .map_err(extract)?;
                self.files.insert(entry.path.clone());
            }
            DataKind::Symlink { target } => {
                let target = self.link_target(entry, &parts, target)?;
                std::os::unix::fs::symlink(&target, &dest).map_err(extract)?;
                self.links.insert(entry.path.clone(), target);
            }
            DataKind::HardLink { target } => {
                let escape = |problem| ReadError::LinkEscape {
                    path: entry.path.clone(),
                    target: target.clone(),
                    problem,
                };
                if !self.files.contains(target) {
                    return Err(escape("is not a regular file extracted earlier"));
                }
                let source = self.root.join(target);
                let is_file = fs::symlink_metadata(&source).is_ok_and(|m| m.is_file());
                if !is_file {
                    return Err(escape("is no longer a regular file"));
                }
                fs::hard_link(&source, &dest).map_err(extract)?;
                self.files.insert(entry.path.clone());
            }
            DataKind::Special { kind } => {
                return Err(ReadError::UnsupportedEntry {
                    path: entry.path.clone(),
                    kind: *kind,
                })
            }
        }
        Ok(())
    }

    /// Checks, once every link exists, that each resolves inside the tree when followed
    /// through the others (`a -> .` makes `b -> a/..` escape although each looks harmless),
    /// those already in the directory included (another package unpacked there before).
    /// A link that escapes is removed and reported.
    pub(crate) fn finish(self) -> Result<(), ReadError> {
        let mut paths: Vec<&String> = self.links.keys().collect();
        paths.sort();
        for path in paths {
            let escapes = link_escapes_root(&self.root, Path::new(path)).map_err(|source| {
                ReadError::Extract {
                    path: self.root.join(path),
                    source,
                }
            })?;
            if escapes {
                let dest = self.root.join(path);
                fs::remove_file(&dest).map_err(|source| ReadError::Extract {
                    path: dest.clone(),
                    source,
                })?;
                return Err(ReadError::LinkEscape {
                    path: path.clone(),
                    target: self.links.get(path).cloned().unwrap_or_default(),
                    problem: "resolves outside the extraction directory through other links",
                });
            }
        }
        Ok(())
    }

    /// Creates missing parents (never following a symlink) and returns the entry's path.
    fn parents(&self, path: &str, parts: &[&str]) -> Result<PathBuf, ReadError> {
        let mut at = self.root.clone();
        for part in &parts[..parts.len() - 1] {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(m) => {
                    return Err(ReadError::Conflict {
                        path: path.to_owned(),
                        problem: if m.file_type().is_symlink() {
                            "a parent is a symlink; writing through it is refused"
                        } else {
                            "a parent is not a directory"
                        },
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&at).map_err(|source| ReadError::Extract {
                        path: at.clone(),
                        source,
                    })?;
                }
                Err(source) => return Err(ReadError::Extract { path: at, source }),
            }
        }
        if let Some(last) = parts.last() {
            at.push(last);
        }
        Ok(at)
    }

    /// The target to create: relative ones must stay inside, absolute ones are refused or
    /// rebased.
    fn link_target(
        &self,
        entry: &DataEntry,
        parts: &[&str],
        target: &str,
    ) -> Result<String, ReadError> {
        let escape = |problem| ReadError::LinkEscape {
            path: entry.path.clone(),
            target: target.to_owned(),
            problem,
        };
        if target.is_empty() || target.contains('\0') {
            return Err(escape("is empty or holds a NUL byte"));
        }
        let depth = parts.len() - 1;
        if let Some(absolute) = target.strip_prefix('/') {
            if self.options.absolute_symlinks == AbsoluteSymlinks::Reject {
                return Err(escape(
                    "is absolute: it would point outside the extraction directory",
                ));
            }
            if !stays_inside(0, absolute) {
                return Err(escape("climbs above the root with `..`"));
            }
            return Ok(format!("{}{absolute}", "../".repeat(depth)));
        }
        if !stays_inside(depth, target) {
            return Err(escape("climbs out of the extraction directory with `..`"));
        }
        Ok(target.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_depth() {
        assert!(stays_inside(2, "../../etc"));
        assert!(!stays_inside(2, "../../../etc"));
        assert!(!stays_inside(0, ".."));
        assert!(stays_inside(1, "a/../../b"));
    }
}
