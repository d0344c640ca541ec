//! Expanding a manifest entry whose `src` is a directory or a glob into one entry per path,
//! once for every packager: the DEB, RPM and tarball writers all see the same sorted list.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One path found under a tree entry, before the entry's overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// Install path relative to the entry's `dst` (`lib/x.so`, never empty).
    pub(crate) relative: String,
    /// The file on disk.
    pub(crate) path: PathBuf,
    /// What it is on disk.
    pub(crate) kind: FoundKind,
    /// Its permission bits on disk.
    pub(crate) mode: u32,
}

/// What a found path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FoundKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target, copied as a link (never followed).
    Symlink(String),
}

/// Why a tree cannot be expanded.
#[derive(Debug)]
pub(crate) enum TreeError {
    /// Reading the disk failed at `path`.
    Io(PathBuf, io::Error),
    /// A glob matched nothing.
    NoMatch,
    /// A name on disk is not UTF-8 or holds a control character, so it cannot be installed.
    BadName(PathBuf),
    /// Something other than a file, directory or symlink (a socket, a device).
    Special(PathBuf),
}

/// Whether `src` is a glob pattern (has `*`, `?` or `[`).
pub(crate) fn is_glob(src: &str) -> bool {
    src.contains(['*', '?', '['])
}

/// Every path under the directory `root`, sorted by install path (the directories themselves
/// included, `root` excluded).
pub(crate) fn walk_dir(root: &Path) -> Result<Vec<Found>, TreeError> {
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    Ok(out)
}

/// The paths `pattern` (relative to `base`) matches, each placed under its own file name, a
/// matched directory copied whole; sorted. `*` and `?` never match `/` or a leading `.`.
pub(crate) fn expand_glob(base: &Path, pattern: &str) -> Result<Vec<Found>, TreeError> {
    let (start, rest) = match pattern.strip_prefix('/') {
        Some(rest) => (PathBuf::from("/"), rest),
        None => (base.to_owned(), pattern),
    };
    let mut candidates = vec![start];
    for part in rest.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let mut next = Vec::new();
        for dir in &candidates {
            if !is_glob(part) {
                let path = dir.join(part);
                if fs::symlink_metadata(&path).is_ok() {
                    next.push(path);
                }
                continue;
            }
            let Ok(names) = sorted_names(dir) else {
                continue;
            };
            for name in names {
                if matches(part, &name) {
                    next.push(dir.join(name));
                }
            }
        }
        candidates = next;
    }
    let mut out = Vec::new();
    for path in candidates {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| TreeError::BadName(path.clone()))?
            .to_owned();
        let found = describe(&path, name.clone())?;
        let is_dir = found.kind == FoundKind::Dir;
        out.push(found);
        if is_dir {
            walk(&path, &name, &mut out)?;
        }
    }
    if out.is_empty() {
        return Err(TreeError::NoMatch);
    }
    out.sort_by(|a, b| a.relative.cmp(&b.relative));
    out.dedup_by(|a, b| a.relative == b.relative);
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Found>) -> Result<(), TreeError> {
    for name in sorted_names(dir)? {
        let path = dir.join(&name);
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let found = describe(&path, relative.clone())?;
        let is_dir = found.kind == FoundKind::Dir;
        out.push(found);
        if is_dir {
            walk(&path, &relative, out)?;
        }
    }
    Ok(())
}

fn sorted_names(dir: &Path) -> Result<Vec<String>, TreeError> {
    let io_err = |e| TreeError::Io(dir.to_owned(), e);
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        match entry.file_name().into_string() {
            Ok(name) if !name.chars().any(char::is_control) => names.push(name),
            _ => return Err(TreeError::BadName(entry.path())),
        }
    }
    // Byte order, whatever the file system returns: the archive is the same on every disk.
    names.sort_unstable();
    Ok(names)
}

fn describe(path: &Path, relative: String) -> Result<Found, TreeError> {
    let meta = fs::symlink_metadata(path).map_err(|e| TreeError::Io(path.to_owned(), e))?;
    let kind = if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(|e| TreeError::Io(path.to_owned(), e))?;
        let target = target
            .into_os_string()
            .into_string()
            .map_err(|_| TreeError::BadName(path.to_owned()))?;
        FoundKind::Symlink(target)
    } else if meta.is_dir() {
        FoundKind::Dir
    } else if meta.is_file() {
        FoundKind::File
    } else {
        return Err(TreeError::Special(path.to_owned()));
    };
    Ok(Found {
        relative,
        path: path.to_owned(),
        kind,
        mode: meta.permissions().mode() & 0o7777,
    })
}

/// Whether `name` matches the one-component `pattern`: `*` any run, `?` one character,
/// `[abc]`/`[a-z]`/`[!a]` one of a set. Hidden names match only a pattern starting with `.`.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = name.chars().collect();
    match_from(&p, &t)
}

fn match_from(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|skip| match_from(&p[1..], &t[skip..])),
        Some('?') => !t.is_empty() && match_from(&p[1..], &t[1..]),
        Some('[') => match (t.first(), class(&p[1..])) {
            (Some(&c), Some((set, negated, used))) => {
                set.contains(c) != negated && match_from(&p[1 + used..], &t[1..])
            }
            (Some(&c), None) => c == '[' && match_from(&p[1..], &t[1..]),
            (None, _) => false,
        },
        Some(&c) => t.first() == Some(&c) && match_from(&p[1..], &t[1..]),
    }
}

/// A character class after its `[`: the set, whether negated, and how many pattern
/// characters it used (the closing `]` included). `None` when it is not closed.
fn class(p: &[char]) -> Option<(Class, bool, usize)> {
    let negated = matches!(p.first(), Some('!' | '^'));
    let mut i = usize::from(negated);
    let mut ranges = Vec::new();
    let mut first = true;
    while let Some(&c) = p.get(i) {
        if c == ']' && !first {
            return Some((Class(ranges), negated, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            ranges.push((c, p[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

struct Class(Vec<(char, char)>);

impl Class {
    fn contains(&self, c: char) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= c && c <= hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_one_component() {
        assert!(matches("*.so", "libx.so"));
        assert!(!matches("*.so", "libx.so.1"));
        assert!(!matches("*.so", ".hidden.so"));
        assert!(matches(".*", ".hidden"));
        assert!(matches("lib?.so", "liba.so"));
        assert!(matches("lib[a-c].so", "libb.so"));
        assert!(!matches("lib[!a-c].so", "libb.so"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(is_glob("plugins/*.so") && !is_glob("build/install/"));
    }

    #[test]
    fn trees_are_walked_sorted_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/c")).unwrap();
        fs::write(root.join("b/c/z"), "z").unwrap();
        fs::write(root.join("a"), "a").unwrap();
        fs::set_permissions(root.join("a"), fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("a", root.join("l")).unwrap();
        let found = walk_dir(root).unwrap();
        let names: Vec<_> = found.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(names, ["a", "b", "b/c", "b/c/z", "l"]);
        assert_eq!(found[0].mode, 0o750);
        assert_eq!(found[4].kind, FoundKind::Symlink("a".into()));

        let globbed = expand_glob(root, "b/*").unwrap();
        let names: Vec<_> = globbed.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(names, ["c", "c/z"]);
        assert!(matches!(
            expand_glob(root, "*.none"),
            Err(TreeError::NoMatch)
        ));
    }
}
