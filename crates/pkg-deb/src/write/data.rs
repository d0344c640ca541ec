//! The data tree: which entries `data.tar` holds and in which order, its streaming write, and
//! what the control archive needs from it (`md5sums`, `conffiles`, `Installed-Size`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use falco_artifacts_core::package::{
    ConfigKind, ContentEntry, ContentKind, ContentSource, Format, PackageSpec,
};
use md5::{Digest, Md5};

use super::feed::Feed;
use super::tar::{Copied, Meta, TarWriter};
use crate::error::BuildError;

/// One entry of `data.tar`: a declared entry, or a parent directory nobody declared.
#[derive(Debug, Clone)]
pub(crate) enum Node<'a> {
    Implicit,
    Declared { entry: &'a ContentEntry, size: u64 },
}

/// The data tree in archive order (parents before children, siblings sorted byte-wise).
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// Keyed by path components so that the order is a depth-first walk.
    nodes: BTreeMap<Vec<&'a str>, Node<'a>>,
}

/// What packing the data tree produced for the control archive.
#[derive(Debug, Default)]
pub(crate) struct DataSummary {
    /// `md5  path` lines for regular files that are not conffiles, in archive order.
    pub(crate) md5sums: String,
    /// Regular files packed.
    pub(crate) files: u64,
    /// Bytes of file content packed.
    pub(crate) bytes: u64,
}

impl<'a> Plan<'a> {
    /// Collects the DEB entries of `spec` and the size of every file (from disk for files on
    /// disk, so `Installed-Size` is known before anything is packed).
    pub(crate) fn new(spec: &'a PackageSpec) -> Result<Self, BuildError> {
        let mut nodes = BTreeMap::new();
        for entry in spec.contents_for(Format::Deb) {
            for (field, value) in [("owner", &entry.owner), ("group", &entry.group)] {
                if value.len() > 31 {
                    return Err(BuildError::OwnerName {
                        dst: entry.dst.clone(),
                        field,
                        value: value.clone(),
                    });
                }
            }
            let parts: Vec<&str> = entry.dst.relative().split('/').collect();
            for depth in 1..parts.len() {
                nodes
                    .entry(parts[..depth].to_vec())
                    .or_insert(Node::Implicit);
            }
            let size = match &entry.kind {
                ContentKind::File {
                    source: ContentSource::Path(path),
                    ..
                } => std::fs::metadata(path)
                    .map_err(|source| read_error(entry, path, source))?
                    .len(),
                ContentKind::File {
                    source: ContentSource::Inline(bytes),
                    ..
                } => bytes.len() as u64,
                ContentKind::Dir | ContentKind::Symlink { .. } => 0,
            };
            nodes.insert(parts, Node::Declared { entry, size });
        }
        Ok(Plan { nodes })
    }

    /// `Installed-Size` in KiB: each file rounded up to a KiB, one KiB per other entry, as
    /// `dpkg-gencontrol` counts.
    pub(crate) fn installed_size_kib(&self) -> u64 {
        self.nodes
            .values()
            .map(|node| match node {
                Node::Declared {
                    entry:
                        ContentEntry {
                            kind: ContentKind::File { .. },
                            ..
                        },
                    size,
                } => size.div_ceil(1024),
                _ => 1,
            })
            .sum()
    }

    /// `conffiles`: absolute paths of configuration files, sorted.
    pub(crate) fn conffiles(&self) -> String {
        self.nodes
            .values()
            .filter_map(|node| match node {
                Node::Declared {
                    entry:
                        ContentEntry {
                            dst,
                            kind:
                                ContentKind::File {
                                    config: ConfigKind::Config | ConfigKind::ConfigNoReplace,
                                    ..
                                },
                            ..
                        },
                    ..
                } => Some(format!("{dst}\n")),
                _ => None,
            })
            .collect()
    }

    /// Streams the tree as tar into `out` (already compressing), hashing each file on the way.
    /// Files on disk are read and hashed on a second thread (see [`feed`](super::feed)).
    pub(crate) fn write<W: Write>(
        &self,
        out: W,
        mtime: u64,
    ) -> Result<(W, DataSummary), BuildError> {
        let on_disk: Vec<&std::path::Path> = self
            .nodes
            .values()
            .filter_map(|node| match node {
                Node::Declared {
                    entry:
                        ContentEntry {
                            kind:
                                ContentKind::File {
                                    source: ContentSource::Path(path),
                                    ..
                                },
                            ..
                        },
                    ..
                } => Some(path.as_path()),
                _ => None,
            })
            .collect();
        std::thread::scope(|scope| {
            let mut feed = super::feed::spawn(scope, on_disk);
            self.write_with(out, mtime, &mut feed)
        })
    }

    fn write_with<W: Write>(
        &self,
        out: W,
        mtime: u64,
        feed: &mut Feed,
    ) -> Result<(W, DataSummary), BuildError> {
        let member = |source| BuildError::Member {
            member: "data.tar".into(),
            source,
        };
        let mut tar = TarWriter::new(out, mtime);
        let mut summary = DataSummary::default();
        tar.dir("./", Meta::ROOT_DIR).map_err(member)?;
        for (parts, node) in &self.nodes {
            let path = format!("./{}", parts.join("/"));
            let Node::Declared { entry, size } = node else {
                tar.dir(&format!("{path}/"), Meta::ROOT_DIR)
                    .map_err(member)?;
                continue;
            };
            let meta = Meta {
                mode: entry.mode,
                owner: &entry.owner,
                group: &entry.group,
            };
            match &entry.kind {
                ContentKind::Dir => tar.dir(&format!("{path}/"), meta).map_err(member)?,
                ContentKind::Symlink { target } => {
                    tar.symlink(&path, target, meta).map_err(member)?
                }
                ContentKind::File { source, config } => {
                    let (copied, md5, disk_path) = match source {
                        ContentSource::Path(disk) => {
                            let mut source = feed.next_file();
                            let copied = tar.file(&path, meta, *size, &mut source).map_err(
                                |e| match source.error.take() {
                                    Some(read) => read_error(entry, disk, read),
                                    None => member(e),
                                },
                            )?;
                            (copied, source.md5(), Some(disk))
                        }
                        ContentSource::Inline(bytes) => {
                            let copied =
                                tar.file(&path, meta, *size, &bytes[..]).map_err(member)?;
                            (copied, Some(Md5::digest(bytes).into()), None)
                        }
                    };
                    if copied != Copied::Exact {
                        return Err(BuildError::SourceChanged {
                            dst: entry.dst.clone(),
                            path: disk_path.cloned().unwrap_or_default(),
                            expected: *size,
                            found: match copied {
                                Copied::Short(n) => format!("only {n} bytes"),
                                _ => "more bytes".into(),
                            },
                        });
                    }
                    summary.files += 1;
                    summary.bytes += size;
                    if *config == ConfigKind::None {
                        if let Some(md5) = md5 {
                            summary.md5sums.push_str(&hex::encode(md5));
                            summary.md5sums.push_str("  ");
                            summary.md5sums.push_str(entry.dst.relative());
                            summary.md5sums.push('\n');
                        }
                    }
                }
            }
        }
        let out = tar.finish().map_err(member)?;
        Ok((out, summary))
    }
}

fn read_error(entry: &ContentEntry, path: &std::path::Path, source: std::io::Error) -> BuildError {
    BuildError::ReadSource {
        dst: entry.dst.clone(),
        path: PathBuf::from(path),
        source,
    }
}
