//! Unpacking the payload into a directory, refusing anything that would land outside it.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use falco_artifacts_core::package::link_escapes_root;

use crate::read::{guarded, parse_headers, FileKind};
use crate::RpmError;

/// What [`extract`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractReport {
    /// Regular files written.
    pub files: usize,
    /// Directories created or found.
    pub dirs: usize,
    /// Symbolic links created.
    pub symlinks: usize,
    /// Entries not written: `%ghost` files, devices, FIFOs and sockets.
    pub skipped: usize,
}

/// The path of `entry` relative to the extraction root, or why it is refused.
fn relative_path(entry: &str) -> Result<PathBuf, RpmError> {
    let unsafe_path = |why| RpmError::UnsafePath {
        path: entry.to_owned(),
        why,
    };
    let mut out = PathBuf::new();
    for c in Path::new(entry).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir => return Err(unsafe_path("it contains '..'")),
            Component::Prefix(_) => return Err(unsafe_path("it has a path prefix")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(unsafe_path("it names the root itself"));
    }
    Ok(out)
}

/// Whether a link at `relative` (inside the root) to the relative `target` stays inside.
fn link_stays_inside(relative: &Path, target: &str) -> bool {
    let depth = relative.components().count().saturating_sub(1);
    falco_artifacts_core::package::relative_target_stays_inside(depth, target)
}

/// Creates the directories between `root` and `target`'s parent one by one, refusing to go
/// through a symbolic link or a file.
fn make_parents(root: &Path, relative: &Path, entry: &str) -> Result<(), RpmError> {
    let mut dir = root.to_path_buf();
    let parents: Vec<_> = relative.components().collect();
    for part in parents.iter().take(parents.len().saturating_sub(1)) {
        dir.push(part);
        ensure_dir(&dir, entry)?;
    }
    Ok(())
}

fn ensure_dir(dir: &Path, entry: &str) -> Result<(), RpmError> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(RpmError::UnsafePath {
            path: entry.to_owned(),
            why: "it goes through a symbolic link",
        }),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(RpmError::UnsafePath {
            path: entry.to_owned(),
            why: "a parent of it is not a directory",
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(dir).map_err(|e| RpmError::io("create directory", dir, e))
        }
        Err(e) => Err(RpmError::io("inspect", dir, e)),
    }
}

/// Extracts the payload of the `.rpm` at `package` into the existing directory `dest`,
/// streaming it (one file in memory at a time is never needed: contents are copied through).
///
/// Every path is checked: `..` components are refused, no entry is written through a symbolic
/// link (links are created only after being checked, and parents are created one by one
/// without following links), files are created with `create_new` so nothing existing is
/// overwritten, relative link targets must stay inside `dest`, and absolute ones are kept as
/// written (they name the install root, not the host: nothing here follows them).
/// Permission bits are applied without setuid/setgid; owners are not changed.
pub fn extract(package: &Path, dest: &Path) -> Result<ExtractReport, RpmError> {
    let file = fs::File::open(package).map_err(|e| RpmError::io("open", package, e))?;
    extract_from(file, &package.display().to_string(), dest)
}

/// [`extract`] from a stream; `origin` names it in errors. A reader that fails (one that stops
/// at a deadline, say) stops the extraction at once, with what it wrote inside `dest`.
pub fn extract_from(
    package: impl Read + 'static,
    origin: &str,
    dest: &Path,
) -> Result<ExtractReport, RpmError> {
    let origin = origin.to_owned();
    let mut file = io::BufReader::new(package);
    // Check the headers' bounds first, then hand the same bytes and the rest of the file to
    // the rpm crate's streaming reader.
    let (_, raw) = parse_headers(&mut file, &origin)?;
    let stream = io::Cursor::new(raw.bytes).chain(file);
    let mut reader = guarded(&origin, || {
        rpm::PackageReader::parse(stream).map_err(|source| RpmError::Parse {
            origin: origin.clone(),
            source,
        })
    })?;
    let mut report = ExtractReport::default();
    let mut dirs = Vec::new();
    let mut links = Vec::new();
    let mut last = String::new();
    loop {
        let next = guarded(&origin, || {
            reader.next_file().map_err(|source| RpmError::Payload {
                path: last.clone(),
                source,
            })
        })?;
        let Some(mut file) = next else { break };
        let entry = file.metadata.path().to_string_lossy().into_owned();
        last.clone_from(&entry);
        let relative = relative_path(&entry)?;
        let target = dest.join(&relative);
        let kind = match file.metadata.file_type() {
            rpm::FileType::Regular => FileKind::File,
            rpm::FileType::Dir => FileKind::Dir,
            rpm::FileType::SymbolicLink => FileKind::Symlink,
            _ => FileKind::Other,
        };
        if file.metadata.flags().contains(rpm::FileFlags::GHOST) || kind == FileKind::Other {
            report.skipped += 1;
            continue;
        }
        make_parents(dest, &relative, &entry)?;
        let perms = u32::from(file.metadata.permissions()) & 0o1777;
        match kind {
            FileKind::Dir => {
                ensure_dir(&target, &entry)?;
                dirs.push((target, perms));
                report.dirs += 1;
            }
            FileKind::Symlink => {
                let link = file.metadata.linkto().unwrap_or_default().to_owned();
                if link.is_empty() {
                    return Err(RpmError::UnsafePath {
                        path: entry,
                        why: "it is a symbolic link without a target",
                    });
                }
                if !link.starts_with('/') && !link_stays_inside(&relative, &link) {
                    return Err(RpmError::UnsafePath {
                        path: entry,
                        why: "its symbolic link target climbs out of the extraction directory",
                    });
                }
                symlink(&link, &target).map_err(|e| RpmError::io("create link", &target, e))?;
                links.push((entry, relative));
                report.symlinks += 1;
            }
            _ => {
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(|e| RpmError::io("create", &target, e))?;
                guarded(&origin, || {
                    io::copy(&mut file, &mut out).map_err(|e| RpmError::io("write", &target, e))?;
                    file.finish()
                        .map_err(|e| RpmError::io("read the payload for", &target, e))
                })?;
                let mtime = u32::from(file.metadata.modified_at());
                out.set_modified(UNIX_EPOCH + Duration::from_secs(mtime.into()))
                    .and_then(|()| out.set_permissions(fs::Permissions::from_mode(perms & 0o777)))
                    .map_err(|e| RpmError::io("set attributes of", &target, e))?;
                report.files += 1;
            }
        }
    }
    // Each link stayed inside alone; followed through the others (those of packages unpacked
    // into `dest` before included), one may not. Absolute targets count from `dest`.
    for (entry, relative) in links {
        let escapes = link_escapes_root(dest, &relative)
            .map_err(|e| RpmError::io("resolve link", dest.join(&relative), e))?;
        if escapes {
            let _ = fs::remove_file(dest.join(&relative));
            return Err(RpmError::UnsafePath {
                path: entry,
                why: "its symbolic link resolves outside the extraction directory through other links",
            });
        }
    }
    // Modes last, deepest first, so a read-only directory does not block its own contents.
    for (dir, perms) in dirs.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(perms | 0o700))
            .map_err(|e| RpmError::io("set the mode of", dir, e))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_traversal_and_escaping_links() {
        assert_eq!(
            relative_path("/usr/bin/falco").unwrap(),
            Path::new("usr/bin/falco")
        );
        assert!(relative_path("/usr/../../etc/passwd").is_err());
        assert!(relative_path("/").is_err());
        let at = Path::new("usr/bin/link");
        assert!(link_stays_inside(at, "falco"));
        assert!(link_stays_inside(at, "../../etc/x"));
        assert!(!link_stays_inside(at, "../../../etc/x"));
    }
}
