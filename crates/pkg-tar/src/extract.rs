//! Extracting tarballs without letting them write outside the target directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::ReadError;
use falco_artifacts_core::package::link_escapes_root;
use falco_artifacts_core::tar_guard::TarLimits;

use crate::reader::{guarded, io_err, kind_of, EntryKind};

/// Limits and choices of an extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Largest single file, in bytes (default 8 GiB).
    pub max_entry_size: u64,
    /// Largest total of file sizes, in bytes (default 32 GiB).
    pub max_total_size: u64,
    /// Most entries (default 1,000,000).
    pub max_entries: u64,
    /// Leading path components to drop (1 drops `falco-<version>-<arch>/`).
    pub strip_components: usize,
    /// Accept symlinks with absolute targets (they are never followed while extracting, but
    /// point into the host's root if the tree is used in place). Default: refused.
    pub allow_absolute_symlinks: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            max_entry_size: 8 << 30,
            max_total_size: 32 << 30,
            max_entries: 1_000_000,
            strip_components: 0,
            allow_absolute_symlinks: false,
        }
    }
}

/// What an extraction wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractReport {
    /// Regular files written.
    pub files: u64,
    /// Directories created or updated.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// The entry's path as safe relative components, or why it is not safe. `None` means the
/// entry is the root itself or was stripped away.
fn safe_components(raw: &[u8], strip: usize) -> Result<Option<Vec<String>>, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8")?;
    if text.starts_with('/') {
        return Err("absolute path");
    }
    let mut parts = Vec::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(p) => parts.push(p.to_str().ok_or("not UTF-8")?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` component"),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path"),
        }
    }
    if parts.len() <= strip {
        return Ok(None);
    }
    Ok(Some(parts.split_off(strip)))
}

/// Whether a link whose path has `depth` components, pointing to `target`, stays inside.
fn link_inside(depth: usize, target: &str) -> bool {
    falco_artifacts_core::package::relative_target_stays_inside(depth.saturating_sub(1), target)
}

/// Creates the parent directories of `parts` under `dest`, refusing to pass through a symlink.
fn prepare_parents(
    dest: &Path,
    parts: &[String],
    archive: &str,
    path: &str,
) -> Result<PathBuf, ReadError> {
    let mut at = dest.to_owned();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(ReadError::ThroughSymlink {
                    archive: archive.to_owned(),
                    path: path.to_owned(),
                    link: at.strip_prefix(dest).unwrap_or(&at).display().to_string(),
                })
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(ReadError::Extract {
                    path: path.to_owned(),
                    dest: at,
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "a parent is not a directory",
                    ),
                })
            }
            Err(_) => fs::create_dir(&at).map_err(|source| ReadError::Extract {
                path: path.to_owned(),
                dest: at.clone(),
                source,
            })?,
        }
    }
    at.push(&parts[parts.len() - 1]);
    Ok(at)
}

/// Extracts a tarball stream (gzip, xz, zstd or plain) into `dest`, which must exist.
///
/// Refused with an error, before anything is written for that entry: absolute paths, `..`
/// components, symlinks pointing outside `dest` (and absolute ones unless allowed), entries
/// written through a symlink, hard links, devices and FIFOs, a path that appears twice,
/// anything over the size or count limits, and what core's tar guard refuses (pax size
/// overrides, sparse files, oversized metadata). At the end every link is followed through
/// the links now in `dest`; one that leads out is removed and refused. Files are created new (never opened through an
/// existing path); modes are applied without the set-id bits.
///
/// ```no_run
/// use falco_artifacts_pkg_tar::{extract, ExtractOptions};
///
/// let tarball = std::fs::File::open("falco-0.39.0-x86_64.tar.gz")?;
/// let options = ExtractOptions { strip_components: 1, ..ExtractOptions::default() };
/// let report = extract(tarball, "falco-0.39.0-x86_64.tar.gz", std::path::Path::new("rootfs"), &options)?;
/// println!("{} files", report.files);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn extract<R: Read>(
    reader: R,
    archive: &str,
    dest: &Path,
    options: &ExtractOptions,
) -> Result<ExtractReport, ReadError> {
    let limits = TarLimits {
        max_entries: options.max_entries,
        max_content: options.max_total_size,
        ..TarLimits::default()
    };
    let mut tar = tar::Archive::new(guarded(reader, archive, limits)?);
    let mut report = ExtractReport::default();
    let mut links = Vec::new();
    let mut count = 0u64;
    let mut seen = std::collections::HashSet::new();
    for entry in tar.entries().map_err(io_err(archive))? {
        let mut entry = entry.map_err(io_err(archive))?;
        count += 1;
        if count > options.max_entries {
            return Err(ReadError::TooManyEntries {
                archive: archive.to_owned(),
                limit: options.max_entries,
            });
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let parts = match safe_components(&raw, options.strip_components) {
            Ok(Some(parts)) => parts,
            Ok(None) => continue,
            Err(why) => {
                return Err(ReadError::UnsafePath {
                    archive: archive.to_owned(),
                    path: shown,
                    why,
                })
            }
        };
        let kind = kind_of(&entry);
        let key = parts.join("/");
        if !matches!(kind, EntryKind::Dir) && !seen.insert(key) {
            return Err(ReadError::Duplicate {
                archive: archive.to_owned(),
                path: shown,
            });
        }
        let mode = entry.header().mode().map_err(io_err(archive))? & 0o1777;
        let target = prepare_parents(dest, &parts, archive, &shown)?;
        let extract_err = |source| ReadError::Extract {
            path: shown.clone(),
            dest: target.clone(),
            source,
        };
        match kind {
            EntryKind::Dir => {
                match fs::symlink_metadata(&target) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        return Err(extract_err(io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "exists and is not a directory",
                        )))
                    }
                    Err(_) => fs::create_dir(&target).map_err(extract_err)?,
                }
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                    .map_err(extract_err)?;
                report.dirs += 1;
            }
            EntryKind::Symlink { target: link } => {
                let escapes = if link.starts_with('/') {
                    !options.allow_absolute_symlinks
                } else {
                    !link_inside(parts.len(), &link)
                };
                if escapes || link.is_empty() {
                    return Err(ReadError::SymlinkEscape {
                        archive: archive.to_owned(),
                        path: shown,
                        target: link,
                    });
                }
                std::os::unix::fs::symlink(&link, &target).map_err(extract_err)?;
                links.push((shown, link, parts.join("/")));
                report.symlinks += 1;
            }
            EntryKind::File => {
                let size = entry.size();
                if size > options.max_entry_size {
                    return Err(ReadError::TooLarge {
                        archive: archive.to_owned(),
                        what: shown,
                        size,
                        limit: options.max_entry_size,
                    });
                }
                if report.bytes + size > options.max_total_size {
                    return Err(ReadError::TooLarge {
                        archive: archive.to_owned(),
                        what: "the archive".into(),
                        size: report.bytes + size,
                        limit: options.max_total_size,
                    });
                }
                let mut file: File = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)
                    .map_err(extract_err)?;
                let written =
                    io::copy(&mut (&mut entry).take(size), &mut file).map_err(extract_err)?;
                if written != size {
                    return Err(ReadError::Io {
                        archive: archive.to_owned(),
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "{shown}: header says {size} bytes, the archive holds {written}"
                            ),
                        ),
                    });
                }
                file.set_permissions(fs::Permissions::from_mode(mode))
                    .map_err(extract_err)?;
                report.files += 1;
                report.bytes += size;
            }
            EntryKind::Other(kind) => {
                return Err(ReadError::Unsupported {
                    archive: archive.to_owned(),
                    path: shown,
                    kind,
                })
            }
        }
    }
    // Each link stayed inside alone; followed through the others (those already in `dest`
    // included), one may not: `a -> .` makes `b -> a/..` escape.
    for (shown, link, relative) in links {
        let escapes =
            link_escapes_root(dest, Path::new(&relative)).map_err(|source| ReadError::Extract {
                path: shown.clone(),
                dest: dest.join(&relative),
                source,
            })?;
        if escapes {
            let _ = fs::remove_file(dest.join(&relative));
            return Err(ReadError::SymlinkEscape {
                archive: archive.to_owned(),
                path: shown,
                target: link,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            safe_components(b"./a/b", 0).unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            safe_components(b"top/a", 1).unwrap(),
            Some(vec!["a".into()])
        );
        assert_eq!(safe_components(b"top/", 1).unwrap(), None);
        assert!(safe_components(b"/etc/passwd", 0).is_err());
        assert!(safe_components(b"a/../../x", 0).is_err());
    }

    #[test]
    fn links() {
        assert!(link_inside(2, "../b"));
        assert!(!link_inside(2, "../../b"));
        assert!(link_inside(1, "b/c"));
    }
}
