//! Symlinks resolved against a whole tree as it stands on disk, the way the kernel follows
//! them, so that links that each look harmless cannot combine into an escape: one package adds
//! `d1/d2/d3/r -> ../../..`, another `.config -> d1/d2/d3/r/../../../../x`; each stays inside
//! when read alone, the second resolves above the root through the first.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// How many links one resolution follows before giving up, as Linux does (`ELOOP`): a loop
/// goes nowhere, so it does not escape.
const MAX_HOPS: usize = 40;

/// Whether the symlink at `root/link` (`link` relative to `root`), followed through every link
/// now under `root`, leads above `root`. Absolute targets are taken relative to `root` (the
/// tree is used as a root of its own: its absolute links are rebased into it). A part of the
/// path that does not exist (yet) is followed by name.
///
/// ```
/// use falco_artifacts_core::package::link_escapes_root;
/// use std::os::unix::fs::symlink;
///
/// let root = tempfile::tempdir()?;
/// std::fs::create_dir_all(root.path().join("d1/d2/d3"))?;
/// symlink("../../..", root.path().join("d1/d2/d3/r"))?;
/// symlink("d1/d2/d3/r/../../../../x", root.path().join(".config"))?;
/// assert!(!link_escapes_root(root.path(), "d1/d2/d3/r".as_ref())?);
/// assert!(link_escapes_root(root.path(), ".config".as_ref())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn link_escapes_root(root: &Path, link: &Path) -> io::Result<bool> {
    let target = fs::read_link(root.join(link))?;
    let mut dir: Vec<OsString> = link
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_owned()),
            _ => None,
        })
        .collect();
    // The targets met so far, and a stack of (target, next component) still to follow.
    let mut owned: Vec<PathBuf> = vec![target];
    let mut queue: VecDeque<(usize, usize)> = VecDeque::from([(0, 0)]);
    let mut hops = 0;
    loop {
        let Some((which, at)) = queue.pop_front() else {
            return Ok(false);
        };
        let Some(component) = owned[which].components().nth(at) else {
            continue;
        };
        queue.push_front((which, at + 1));
        match component {
            Component::RootDir | Component::Prefix(_) => dir.clear(),
            Component::CurDir => {}
            Component::ParentDir => {
                if dir.pop().is_none() {
                    return Ok(true);
                }
            }
            Component::Normal(name) => {
                dir.push(name.to_owned());
                let here: PathBuf = dir.iter().collect();
                match fs::symlink_metadata(root.join(&here)) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        hops += 1;
                        if hops > MAX_HOPS {
                            return Ok(false);
                        }
                        let next = fs::read_link(root.join(&here))?;
                        dir.pop();
                        owned.push(next);
                        queue.push_front((owned.len() - 1, 0));
                    }
                    Ok(_) => {}
                    // Not there (yet), or under a file: followed by name.
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                        ) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// The first symlink under `root` (a directory's links before its subdirectories, names
/// sorted; `root` itself not included) that
/// [escapes](link_escapes_root) it, with its target; directories are walked without following
/// links.
pub fn first_escaping_link(root: &Path) -> io::Result<Option<(PathBuf, PathBuf)>> {
    let mut stack = vec![PathBuf::new()];
    while let Some(dir) = stack.pop() {
        let mut names: Vec<OsString> = fs::read_dir(root.join(&dir))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names.into_iter().rev() {
            let relative = dir.join(name);
            let kind = fs::symlink_metadata(root.join(&relative))?.file_type();
            if kind.is_symlink() {
                if link_escapes_root(root, &relative)? {
                    let target = fs::read_link(root.join(&relative))?;
                    return Ok(Some((relative, target)));
                }
            } else if kind.is_dir() {
                stack.push(relative);
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn follows_links_on_disk() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path();
        fs::create_dir_all(root.join("a/b"))?;
        symlink(".", root.join("s"))?;
        symlink("s/..", root.join("l"))?;
        symlink("../s/x", root.join("a/ok"))?;
        symlink("loop", root.join("loop"))?;
        symlink("/a/b/../..", root.join("a/abs"))?;
        symlink("/..", root.join("a/abs_up"))?;
        symlink("missing/../../x", root.join("a/b/dangling"))?;
        let escapes = |p: &str| link_escapes_root(root, Path::new(p));
        assert!(escapes("l")?);
        assert!(!escapes("s")?);
        assert!(!escapes("a/ok")?);
        assert!(!escapes("loop")?);
        assert!(!escapes("a/abs")?);
        assert!(escapes("a/abs_up")?);
        assert!(!escapes("a/b/dangling")?);
        let first = first_escaping_link(root)?.map(|(link, _)| link);
        assert_eq!(first, Some(PathBuf::from("l")));
        fs::remove_file(root.join("l"))?;
        let first = first_escaping_link(root)?.map(|(link, _)| link);
        assert_eq!(first, Some(PathBuf::from("a/abs_up")));
        Ok(())
    }
}
