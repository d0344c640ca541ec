//! The build context as a tar stream: written on a blocking thread into a bounded channel
//! that the engine request reads, so the context is never held whole in memory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use falco_artifacts_core::package::SourceDate;
use falco_artifacts_pkg_tar::{extract, ExtractOptions};
use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::ImageError;
use crate::spec::BuildContext;

/// Chunks in flight between the tar writer and the engine request.
const CHANNEL_DEPTH: usize = 8;
const CHUNK: usize = 256 * 1024;
/// Where the tarball's tree goes inside a generated context.
const ROOTFS: &str = "rootfs";

/// A `Write` that hands full chunks to the channel, blocking while the engine is behind.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// What the context writer sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ContextSummary {
    pub(crate) entries: u64,
    pub(crate) file_bytes: u64,
}

/// Starts writing the context; returns the byte stream for the request and the writer's task
/// (whose error explains a stream that ended early).
pub(crate) fn spawn(
    context: BuildContext,
    source_date: SourceDate,
) -> (
    impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    JoinHandle<Result<ContextSummary, ImageError>>,
) {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let task = tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write_context(&context, source_date, writer);
        if let Err(err) = &result {
            // Make the request fail instead of sending a truncated tar as if it were whole.
            let _ = tx.blocking_send(Err(io::Error::other(err.to_string())));
        }
        result
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (stream, task)
}

fn write_context(
    context: &BuildContext,
    source_date: SourceDate,
    writer: ChannelWriter,
) -> Result<ContextSummary, ImageError> {
    let mut out = ContextTar::new(writer, source_date);
    match context {
        BuildContext::Dockerfile { dir, .. } => {
            out.append_tree(dir, "")?;
            out.finish(dir)
        }
        BuildContext::ReleaseTarball { path, entrypoint } => {
            let unpacked = tempfile::Builder::new()
                .prefix("falco-image-context-")
                .tempdir()
                .map_err(|source| ImageError::Context {
                    path: std::env::temp_dir(),
                    action: "create a temporary directory",
                    source,
                })?;
            let rootfs = unpacked.path().join(ROOTFS);
            fs::create_dir(&rootfs).map_err(|source| ImageError::Context {
                path: rootfs.clone(),
                action: "create a directory",
                source,
            })?;
            let file = File::open(path).map_err(|source| ImageError::Context {
                path: path.clone(),
                action: "open",
                source,
            })?;
            let options = ExtractOptions {
                // Drops `falco-<version>-<arch>/`.
                strip_components: 1,
                // Absolute links point inside the image's own root once copied there; the
                // unpacked tree is only read here, never used in place.
                allow_absolute_symlinks: true,
                ..ExtractOptions::default()
            };
            extract(file, &path.display().to_string(), &rootfs, &options).map_err(|source| {
                ImageError::Tarball {
                    path: path.clone(),
                    source,
                }
            })?;
            out.append_bytes(
                "Dockerfile",
                scratch_dockerfile(entrypoint).as_bytes(),
                path,
            )?;
            out.append_tree(&rootfs, ROOTFS)?;
            out.finish(path)
        }
    }
}

/// `FROM scratch` plus the tree; JSON exec form for the entrypoint.
fn scratch_dockerfile(entrypoint: &[String]) -> String {
    let mut text = format!("FROM scratch\nCOPY {ROOTFS}/ /\n");
    if !entrypoint.is_empty() {
        // Serializing strings cannot fail.
        let json = serde_json::to_string(entrypoint).unwrap_or_default();
        text.push_str(&format!("ENTRYPOINT {json}\n"));
    }
    text
}

/// A reproducible tar: entries sorted by name, mtime the source date, owner root.
struct ContextTar {
    tar: tar::Builder<ChannelWriter>,
    source_date: SourceDate,
    summary: ContextSummary,
}

impl ContextTar {
    fn new(writer: ChannelWriter, source_date: SourceDate) -> Self {
        let mut tar = tar::Builder::new(writer);
        tar.follow_symlinks(false);
        ContextTar {
            tar,
            source_date,
            summary: ContextSummary::default(),
        }
    }

    fn header(&self, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode & 0o7777);
        header.set_size(size);
        header.set_mtime(self.source_date.secs());
        header.set_uid(0);
        header.set_gid(0);
        header
    }

    fn append_bytes(&mut self, name: &str, data: &[u8], origin: &Path) -> Result<(), ImageError> {
        let mut header = self.header(tar::EntryType::Regular, 0o644, data.len() as u64);
        self.tar
            .append_data(&mut header, name, data)
            .map_err(|source| send_err(origin, source))?;
        self.summary.entries += 1;
        Ok(())
    }

    /// Appends `dir`'s contents under `prefix` (`""` for the context root), depth first,
    /// each directory's entries sorted by name.
    fn append_tree(&mut self, dir: &Path, prefix: &str) -> Result<(), ImageError> {
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
            let path: PathBuf = dir.join(&name);
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
                format!("{prefix}/{name}")
            };
            let meta = fs::symlink_metadata(&path).map_err(|e| read_err(&path, "stat", e))?;
            let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
            let kind = meta.file_type();
            if kind.is_dir() {
                let mut header = self.header(tar::EntryType::Directory, mode, 0);
                self.tar
                    .append_data(&mut header, format!("{inner}/"), io::empty())
                    .map_err(|e| send_err(&path, e))?;
                self.summary.entries += 1;
                self.append_tree(&path, &inner)?;
            } else if kind.is_symlink() {
                let target =
                    fs::read_link(&path).map_err(|e| read_err(&path, "read the link", e))?;
                let mut header = self.header(tar::EntryType::Symlink, 0o777, 0);
                self.tar
                    .append_link(&mut header, &inner, &target)
                    .map_err(|e| send_err(&path, e))?;
                self.summary.entries += 1;
            } else if kind.is_file() {
                let file = File::open(&path).map_err(|e| read_err(&path, "open", e))?;
                let mut header = self.header(tar::EntryType::Regular, mode, meta.len());
                self.tar
                    .append_data(&mut header, &inner, file)
                    .map_err(|e| send_err(&path, e))?;
                self.summary.entries += 1;
                self.summary.file_bytes += meta.len();
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

    fn finish(self, origin: &Path) -> Result<ContextSummary, ImageError> {
        let summary = self.summary;
        let mut writer = self.tar.into_inner().map_err(|e| send_err(origin, e))?;
        writer.flush().map_err(|e| send_err(origin, e))?;
        Ok(summary)
    }
}

fn send_err(path: &Path, source: io::Error) -> ImageError {
    ImageError::Context {
        path: path.to_owned(),
        action: "send it to the engine",
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn scratch_dockerfile_copies_the_tree() {
        assert_eq!(scratch_dockerfile(&[]), "FROM scratch\nCOPY rootfs/ /\n");
        let with = scratch_dockerfile(&["/usr/bin/falco".into(), "-o".into()]);
        assert!(
            with.ends_with("ENTRYPOINT [\"/usr/bin/falco\",\"-o\"]\n"),
            "{with}"
        );
    }

    #[tokio::test]
    async fn a_directory_context_is_a_sorted_reproducible_tar() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b.txt"), "b").unwrap();
        fs::create_dir(dir.path().join("a")).unwrap();
        fs::write(dir.path().join("a/x"), "xx").unwrap();
        std::os::unix::fs::symlink("a/x", dir.path().join("link")).unwrap();
        let collect = || async {
            let context = BuildContext::dockerfile_dir(dir.path());
            let (stream, task) = spawn(context, SourceDate::from_secs(1_700_000_000));
            let chunks: Vec<io::Result<Bytes>> = stream.collect().await;
            let bytes: Vec<u8> = chunks
                .into_iter()
                .flat_map(|c| c.unwrap().to_vec())
                .collect();
            (bytes, task.await.unwrap().unwrap())
        };
        let (first, summary) = collect().await;
        let (second, _) = collect().await;
        assert_eq!(first, second);
        assert_eq!(summary.entries, 4);
        let mut archive = tar::Archive::new(first.as_slice());
        let entries: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mtime().unwrap(),
                )
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a/", "a/x", "b.txt", "link"]);
        assert!(entries.iter().all(|(_, mtime)| *mtime == 1_700_000_000));
    }
}
