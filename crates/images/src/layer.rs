//! Reproducible image layers: a tree of files gathered from several directories, written as
//! one `tar` sorted by path, every entry owned by root with the same mtime, gzip-compressed
//! with fixed settings, so that the same inputs always give the same layer digest.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use falco_artifacts_core::package::SourceDate;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::error::ImageError;

/// Media type of a gzip-compressed layer.
pub(crate) const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// One entry of a layer tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Dir {
        mode: u32,
    },
    /// A file whose bytes are read from `source` when the layer is written.
    File {
        mode: u32,
        source: PathBuf,
    },
    /// A file whose bytes are given.
    Bytes {
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        target: PathBuf,
    },
}

/// Where each entry came from, to name both sides of a conflict.
#[derive(Debug, Clone)]
struct Placed {
    node: Node,
    origin: String,
}

/// The files of one layer, keyed by their path inside the image (no leading `/`).
#[derive(Debug, Default)]
pub(crate) struct LayerTree {
    entries: BTreeMap<String, Placed>,
}

impl LayerTree {
    /// Adds `node` at `path` (relative, `/`-separated), creating missing parent directories
    /// (mode 0755). Two directories merge; anything else placed twice is refused unless both
    /// are the same symlink, since silently keeping one package's file over another's would
    /// make an image whose contents depend on the order packages are named.
    pub(crate) fn insert(
        &mut self,
        path: &str,
        node: Node,
        origin: &str,
    ) -> Result<(), ImageError> {
        let path = path.trim_matches('/');
        if path.is_empty() {
            return Ok(());
        }
        let mut parent = String::new();
        for part in path.split('/').take(path.split('/').count() - 1) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.entries.get(&parent) {
                None => {
                    self.entries.insert(
                        parent.clone(),
                        Placed {
                            node: Node::Dir { mode: 0o755 },
                            origin: origin.to_owned(),
                        },
                    );
                }
                Some(Placed {
                    node: Node::Dir { .. },
                    ..
                }) => {}
                Some(other) => return Err(conflict(&parent, &other.origin, origin)),
            }
        }
        match (self.entries.get(path), &node) {
            (None, _) => {}
            (
                Some(Placed {
                    node: Node::Dir { .. },
                    ..
                }),
                Node::Dir { .. },
            ) => return Ok(()),
            (
                Some(Placed {
                    node: Node::Symlink { target: a },
                    ..
                }),
                Node::Symlink { target: b },
            ) if a == b => return Ok(()),
            (Some(other), _) => return Err(conflict(path, &other.origin, origin)),
        }
        self.entries.insert(
            path.to_owned(),
            Placed {
                node,
                origin: origin.to_owned(),
            },
        );
        Ok(())
    }

    /// Replaces whatever is at `path` (for files this crate writes itself, such as the dpkg
    /// status, which override nothing a package ships).
    pub(crate) fn set(&mut self, path: &str, node: Node, origin: &str) -> Result<(), ImageError> {
        self.entries.remove(path.trim_matches('/'));
        self.insert(path, node, origin)
    }

    /// Whether `path` is in the tree.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path.trim_matches('/'))
    }

    /// Adds every file, directory and symlink below `dir` under `prefix` (`""` for the image
    /// root). Devices, FIFOs and sockets are refused.
    pub(crate) fn add_dir(
        &mut self,
        dir: &Path,
        prefix: &str,
        origin: &str,
    ) -> Result<(), ImageError> {
        let read_err = |path: &Path, action, source| ImageError::Context {
            path: path.to_owned(),
            action,
            source,
        };
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(|e| read_err(dir, "list the directory", e))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| read_err(dir, "list the directory", e))?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let Some(name) = name.to_str() else {
                return Err(read_err(
                    &path,
                    "add a file whose name is not UTF-8",
                    io::Error::new(io::ErrorKind::InvalidData, "file name is not UTF-8"),
                ));
            };
            let inner = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{}/{name}", prefix.trim_matches('/'))
            };
            let meta = fs::symlink_metadata(&path).map_err(|e| read_err(&path, "stat", e))?;
            let mode = meta.permissions().mode() & 0o7777;
            let kind = meta.file_type();
            if kind.is_dir() {
                self.insert(&inner, Node::Dir { mode }, origin)?;
                self.add_dir(&path, &inner, origin)?;
            } else if kind.is_symlink() {
                let target =
                    fs::read_link(&path).map_err(|e| read_err(&path, "read the link", e))?;
                self.insert(&inner, Node::Symlink { target }, origin)?;
            } else if kind.is_file() {
                self.insert(&inner, Node::File { mode, source: path }, origin)?;
            } else {
                return Err(read_err(
                    &path,
                    "add a device, FIFO or socket (only files, directories and symlinks)",
                    io::Error::new(io::ErrorKind::Unsupported, "special file"),
                ));
            }
        }
        Ok(())
    }

    /// Paths of the regular files, sorted.
    pub(crate) fn files(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries
            .iter()
            .filter(|(_, p)| matches!(p.node, Node::File { .. } | Node::Bytes { .. }))
            .map(|(path, p)| (path.as_str(), &p.node))
    }

    /// Writes the layer to `out` and returns its description.
    pub(crate) fn write(&self, out: &Path, date: SourceDate) -> Result<Layer, ImageError> {
        let write_err = |source| ImageError::Context {
            path: out.to_owned(),
            action: "write the layer",
            source,
        };
        let file = File::create(out).map_err(write_err)?;
        let compressed = HashingWriter::new(BufWriter::new(file));
        // No name and a zero mtime in the gzip header; fixed level: same tar, same bytes.
        let gzip = GzBuilder::new()
            .mtime(0)
            .write(compressed, Compression::new(6));
        let mut tar = tar::Builder::new(HashingWriter::new(gzip));
        tar.mode(tar::HeaderMode::Deterministic);
        for (path, placed) in &self.entries {
            self.append(&mut tar, path, &placed.node, date)
                .map_err(|source| ImageError::Context {
                    path: match &placed.node {
                        Node::File { source, .. } => source.clone(),
                        _ => PathBuf::from(path),
                    },
                    action: "add to the layer",
                    source,
                })?;
        }
        let uncompressed = tar.into_inner().map_err(write_err)?;
        let (gzip, diff_id, tar_size) = uncompressed.finish();
        let compressed = gzip.finish().map_err(write_err)?;
        let (mut file, digest, size) = compressed.finish();
        file.flush().map_err(write_err)?;
        Ok(Layer {
            path: out.to_owned(),
            digest: format!("sha256:{digest}"),
            diff_id: format!("sha256:{diff_id}"),
            size,
            tar_size,
        })
    }

    fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        path: &str,
        node: &Node,
        date: SourceDate,
    ) -> io::Result<()> {
        let header = |kind: tar::EntryType, mode: u32, size: u64| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_size(size);
            header.set_mtime(date.secs());
            header.set_uid(0);
            header.set_gid(0);
            // Infallible for these short ASCII names.
            let _ = header.set_username("root");
            let _ = header.set_groupname("root");
            header
        };
        match node {
            Node::Dir { mode } => {
                let mut h = header(tar::EntryType::Directory, *mode, 0);
                tar.append_data(&mut h, format!("{path}/"), io::empty())
            }
            Node::Symlink { target } => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                tar.append_link(&mut h, path, target)
            }
            Node::Bytes { mode, data } => {
                let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64);
                tar.append_data(&mut h, path, data.as_slice())
            }
            Node::File { mode, source } => {
                let file = File::open(source)?;
                let len = file.metadata()?.len();
                let mut h = header(tar::EntryType::Regular, *mode, len);
                // `take` guards against a file growing while it is read.
                tar.append_data(&mut h, path, file.take(len))
            }
        }
    }
}

fn conflict(path: &str, first: &str, second: &str) -> ImageError {
    ImageError::RootfsConflict {
        path: format!("/{path}"),
        first: first.to_owned(),
        second: second.to_owned(),
    }
}

/// A layer written to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The compressed layer file.
    pub path: PathBuf,
    /// `sha256:<hex>` of the compressed bytes (the blob digest in the manifest).
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar (the `diff_id` in the image config).
    pub diff_id: String,
    /// Compressed size in bytes.
    pub size: u64,
    /// Size of the uncompressed tar in bytes.
    pub tar_size: u64,
}

/// A writer that hashes and counts what passes through.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hash: Sha256::new(),
            len: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        let hex: String = self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (self.inner, hex, self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.hash.update(&data[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_tree_gives_the_same_digests_and_sorted_root_owned_entries() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("usr/bin")).unwrap();
        fs::write(src.join("usr/bin/b"), "b").unwrap();
        fs::write(src.join("usr/bin/a"), "a").unwrap();
        std::os::unix::fs::symlink("a", src.join("usr/bin/c")).unwrap();
        let date = SourceDate::from_secs(1_700_000_000);
        let layer = |name: &str| {
            let mut tree = LayerTree::default();
            tree.add_dir(&src, "", "src").unwrap();
            tree.insert(
                "etc/passwd",
                Node::Bytes {
                    mode: 0o644,
                    data: b"root\n".to_vec(),
                },
                "skeleton",
            )
            .unwrap();
            tree.write(&dir.path().join(name), date).unwrap()
        };
        let (one, two) = (layer("one.tar.gz"), layer("two.tar.gz"));
        assert_eq!((&one.digest, &one.diff_id), (&two.digest, &two.diff_id));
        let bytes = fs::read(&one.path).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let entries: Vec<(String, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "etc/",
                "etc/passwd",
                "usr/",
                "usr/bin/",
                "usr/bin/a",
                "usr/bin/b",
                "usr/bin/c"
            ]
        );
        assert!(entries.iter().all(|e| e.1 == 0 && e.2 == 1_700_000_000));
    }

    #[test]
    fn two_packages_shipping_one_file_is_a_conflict_naming_both() {
        let mut tree = LayerTree::default();
        let file = |d: &str| Node::Bytes {
            mode: 0o644,
            data: d.as_bytes().to_vec(),
        };
        tree.insert("usr/lib/x.so", file("1"), "libone").unwrap();
        tree.insert("usr/lib", Node::Dir { mode: 0o755 }, "libtwo")
            .unwrap();
        let err = tree
            .insert("usr/lib/x.so", file("2"), "libtwo")
            .unwrap_err();
        assert!(
            matches!(&err, ImageError::RootfsConflict { path, first, second }
                if path == "/usr/lib/x.so" && first == "libone" && second == "libtwo"),
            "{err}"
        );
        let err = tree
            .insert("usr/lib/x.so/y", file("3"), "libthree")
            .unwrap_err();
        assert!(matches!(err, ImageError::RootfsConflict { .. }), "{err}");
    }
}
