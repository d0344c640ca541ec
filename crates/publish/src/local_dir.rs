//! `file://` requests made on the calling thread.
//!
//! `object_store`'s `LocalFileSystem` hands every request (and every chunk of a read) to
//! tokio's blocking pool. For the protocol's small, many requests — a head and a digest per
//! package when checking 10,000 packages already in place — the thread hand-offs cost more
//! than the disk: `perf` put 40% of a full APT index build in the scheduler. Local files are
//! read and written here directly instead, with the same on-disk conventions as
//! `LocalFileSystem` (which still serves listings and anything this module does not do): a
//! write goes to `<name>#<digits>` first (a name listings skip), then is renamed over the
//! destination; a create-if-absent writes an unnamed file and links it to its name
//! ([`anonymous`]), or where there are no unnamed files hard-links a staged one, so a reader
//! never sees half a file; with fsync on, the file and its directory are synced before the
//! write counts as done.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read as _, Write as _};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use falco_artifacts_core::{DigestSet, DigestingWriter, Sha256Digest};
use object_store::path::Path;
use object_store::{ObjectMeta, PutPayload};

mod anonymous;

/// The store name errors carry, as `LocalFileSystem` names itself.
const STORE: &str = "LocalFileSystem";

/// Staging names count up from a per-process start so that two processes rarely collide
/// (a collision only means trying the next number).
static NEXT_STAGE: AtomicU64 = AtomicU64::new(0);

/// Whether `payload`, possibly in several chunks, is exactly `bytes`.
pub(crate) fn same_bytes(payload: &PutPayload, bytes: &[u8]) -> bool {
    let mut rest = bytes;
    for chunk in payload.iter() {
        match rest.split_at_checked(chunk.len()) {
            Some((head, tail)) if head == chunk.as_ref() => rest = tail,
            _ => return false,
        }
    }
    rest.is_empty()
}

/// A local directory holding a store's objects.
#[derive(Debug)]
pub(crate) struct LocalDir {
    dir: PathBuf,
    fsync: bool,
}

/// What a create-if-absent found.
pub(crate) enum Put {
    Written,
    Exists,
}

fn generic(source: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(source),
    }
}

fn not_found(path: &FsPath, source: std::io::Error) -> object_store::Error {
    object_store::Error::NotFound {
        path: path.display().to_string(),
        source: Box::new(source),
    }
}

/// Maps a failed open or stat: a missing file (or a directory where a file was expected) is
/// "not found", anything else a failure.
fn read_error(path: &FsPath, source: std::io::Error) -> object_store::Error {
    match source.kind() {
        ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory => {
            not_found(path, source)
        }
        _ => generic(source),
    }
}

fn sync_dir(dir: &FsPath) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl LocalDir {
    pub(crate) fn new(dir: PathBuf, fsync: bool) -> Self {
        LocalDir { dir, fsync }
    }

    fn file(&self, location: &Path) -> PathBuf {
        let mut path = self.dir.clone();
        for part in location.parts() {
            path.push(part.as_ref());
        }
        path
    }

    fn open(&self, location: &Path) -> Result<(File, std::fs::Metadata), object_store::Error> {
        let path = self.file(location);
        let file = File::open(&path).map_err(|e| read_error(&path, e))?;
        let meta = file.metadata().map_err(generic)?;
        if meta.is_dir() {
            return Err(not_found(
                &path,
                std::io::Error::new(ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        Ok((file, meta))
    }

    /// The object's bytes.
    pub(crate) fn get(&self, location: &Path) -> Result<Bytes, object_store::Error> {
        let (mut file, meta) = self.open(location)?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(generic)?;
        Ok(Bytes::from(bytes))
    }

    /// The object's metadata, with `LocalFileSystem`'s e-tag (inode, mtime, size).
    pub(crate) fn head(&self, location: &Path) -> Result<ObjectMeta, object_store::Error> {
        let path = self.file(location);
        let meta = std::fs::metadata(&path).map_err(|e| read_error(&path, e))?;
        if meta.is_dir() {
            return Err(not_found(
                &path,
                std::io::Error::new(ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        let modified = meta.modified().ok().map(DateTime::<Utc>::from);
        let micros = modified.map_or(0, |m| m.timestamp_micros());
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        Ok(ObjectMeta {
            location: location.clone(),
            last_modified: modified.unwrap_or_default(),
            size: meta.len(),
            e_tag: Some(format!("\"{inode:x}-{micros:x}-{:x}\"", meta.len())),
            version: None,
        })
    }

    /// Streams the object through SHA-256.
    pub(crate) fn sha256(
        &self,
        location: &Path,
    ) -> Result<(Sha256Digest, u64), object_store::Error> {
        let (mut file, _) = self.open(location)?;
        let mut writer = DigestingWriter::new(std::io::sink(), DigestSet::SHA256);
        std::io::copy(&mut file, &mut writer).map_err(generic)?;
        let (_, digests) = writer.finish();
        Ok((digests.sha256, digests.size))
    }

    /// Writes `payload` to a fresh staging file next to `location`; its path.
    fn stage(&self, location: &Path, payload: &PutPayload, sync: bool) -> std::io::Result<PathBuf> {
        let dest = self.file(location);
        let mut created_dirs = false;
        loop {
            let n = NEXT_STAGE.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id());
            let mut staging = dest.clone().into_os_string();
            staging.push(format!("#{n}"));
            let staging = PathBuf::from(staging);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&staging)
            {
                Ok(mut file) => {
                    let written = payload
                        .iter()
                        .try_for_each(|chunk| file.write_all(chunk))
                        .and_then(|()| if sync { file.sync_all() } else { Ok(()) });
                    if let Err(e) = written {
                        let _ = std::fs::remove_file(&staging);
                        return Err(e);
                    }
                    return Ok(staging);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == ErrorKind::NotFound && !created_dirs => {
                    self.create_parents(&dest)?;
                    created_dirs = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates the directories above `dest`, syncing each new one's parent when fsync is on.
    fn create_parents(&self, dest: &FsPath) -> std::io::Result<()> {
        let Some(parent) = dest.parent() else {
            return Ok(());
        };
        let mut first_existing = parent;
        while !first_existing.exists() {
            match first_existing.parent() {
                Some(p) => first_existing = p,
                None => break,
            }
        }
        std::fs::create_dir_all(parent)?;
        if self.fsync {
            let mut dir = parent;
            while dir != first_existing {
                let Some(up) = dir.parent() else { break };
                sync_dir(up)?;
                dir = up;
            }
        }
        Ok(())
    }

    fn sync_parent(&self, path: &FsPath) -> std::io::Result<()> {
        match (self.fsync, path.parent()) {
            (true, Some(parent)) => sync_dir(parent),
            _ => Ok(()),
        }
    }

    /// Whether `location` already holds exactly `payload` (then a rewrite would change
    /// nothing but cost a write and a sync).
    fn holds(&self, location: &Path, payload: &PutPayload) -> bool {
        let path = self.file(location);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == payload.content_length() as u64 => {}
            _ => return false,
        }
        let Ok(existing) = std::fs::read(&path) else {
            return false;
        };
        same_bytes(payload, &existing)
    }

    /// Writes `location`, replacing what is there (nothing is written when it already holds
    /// these bytes).
    pub(crate) fn overwrite(
        &self,
        location: &Path,
        payload: &PutPayload,
    ) -> Result<(), object_store::Error> {
        if self.holds(location, payload) {
            return Ok(());
        }
        let staging = self.stage(location, payload, self.fsync).map_err(generic)?;
        let dest = self.file(location);
        if let Err(e) = std::fs::rename(&staging, &dest) {
            let _ = std::fs::remove_file(&staging);
            return Err(generic(e));
        }
        self.sync_parent(&dest).map_err(generic)
    }

    /// Makes every write to this directory's filesystem durable, unsynced creates among them
    /// (one `syncfs`: the file data, the inodes and the directory entries of all of them).
    pub(crate) fn sync(&self) -> Result<(), object_store::Error> {
        if !self.fsync {
            return Ok(());
        }
        let dir = File::open(&self.dir).map_err(generic)?;
        rustix::fs::syncfs(&dir).map_err(|e| generic(e.into()))
    }

    /// Writes `location` only if its e-tag is still `expected` (`None`: only if there is no
    /// such file); `false` when it had changed and nothing was written. The check and the
    /// rename are one step against every other conditional writer: both happen under an
    /// exclusive `flock` of the file's directory, which adds no file to the store.
    pub(crate) fn overwrite_if(
        &self,
        location: &Path,
        payload: &PutPayload,
        expected: Option<&str>,
    ) -> Result<bool, object_store::Error> {
        let dest = self.file(location);
        self.create_parents(&dest).map_err(generic)?;
        let dir = dest.parent().unwrap_or(&self.dir);
        let guard = File::open(dir).map_err(generic)?;
        guard.lock().map_err(generic)?;
        let current = match self.head(location) {
            Ok(meta) => meta.e_tag,
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if current.as_deref() != expected {
            return Ok(false);
        }
        self.overwrite(location, payload)?;
        // The lock ends with `guard`, after the rename.
        Ok(true)
    }

    /// Makes `location` a second name of the file at `from` (which must never change in
    /// place: a content-addressed object), replacing what is there. No data is written.
    pub(crate) fn link_over(&self, from: &Path, location: &Path) -> std::io::Result<()> {
        let source = self.file(from);
        let dest = self.file(location);
        let n = NEXT_STAGE.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id());
        let mut staging = dest.clone().into_os_string();
        staging.push(format!("#{n}"));
        let staging = PathBuf::from(staging);
        std::fs::hard_link(&source, &staging)?;
        if let Err(e) = std::fs::rename(&staging, &dest) {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
        self.sync_parent(&dest)
    }

    /// Creates `location` unless something is there; `durable`: synced to disk (when the
    /// store syncs at all) before it counts as done.
    pub(crate) fn create(
        &self,
        location: &Path,
        payload: &PutPayload,
        durable: bool,
    ) -> Result<Put, object_store::Error> {
        let sync = self.fsync && durable;
        let dest = self.file(location);
        // Checked first so an object already there costs a stat, not a write and a sync; the
        // link below stays the real create-if-absent test.
        if std::fs::symlink_metadata(&dest).is_ok() {
            return Ok(Put::Exists);
        }
        let linked = match anonymous::create(&dest, payload, sync) {
            Some(Err(e)) if e.kind() == ErrorKind::NotFound => {
                self.create_parents(&dest).map_err(generic)?;
                anonymous::create(&dest, payload, sync)
            }
            linked => linked,
        };
        let linked = match linked {
            Some(linked) => linked,
            None => {
                let staging = self.stage(location, payload, sync).map_err(generic)?;
                let linked = std::fs::hard_link(&staging, &dest);
                let _ = std::fs::remove_file(&staging);
                linked
            }
        };
        match linked {
            Ok(()) => {
                if sync {
                    self.sync_parent(&dest).map_err(generic)?;
                }
                Ok(Put::Written)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Put::Exists),
            Err(e) => Err(generic(e)),
        }
    }

    /// Deletes `location`, then the directories it leaves empty (as `LocalFileSystem` does
    /// with automatic cleanup); a missing file is not an error.
    pub(crate) fn delete(&self, location: &Path) -> Result<(), object_store::Error> {
        let path = self.file(location);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(generic(e)),
        }
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.dir && d.starts_with(&self.dir)) {
            // Fails, and so stops, at the first directory that still holds something.
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}
