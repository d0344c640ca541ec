//! Create-if-absent through an unnamed file: `O_TMPFILE` in the destination's directory,
//! written (and synced), then given its name by one `linkat`.
//!
//! The staged way (`<name>#<digits>`, a hard link, an unlink) changes the directory three
//! times per file; ten thousand uploads into one pool directory then queue on its lock, and
//! `perf` showed that lock's contention as the largest part of a publish into an empty store.
//! An unnamed file changes the directory once, and a crash leaves no staging file behind.

use std::fs::File;
use std::io::{ErrorKind, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::Path;

use object_store::PutPayload;
use rustix::fs::{AtFlags, Mode, OFlags, CWD};

/// Creates `dest` holding `payload` unless it exists (`AlreadyExists`); `sync`: the data is
/// on disk before the name is. `None` when this filesystem or system has no unnamed files
/// (no `O_TMPFILE`, no `/proc`): the caller stages a named file instead. A missing directory
/// is `NotFound`.
pub(super) fn create(dest: &Path, payload: &PutPayload, sync: bool) -> Option<std::io::Result<()>> {
    let dir = dest.parent()?;
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(0o666)) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Some(Err(ErrorKind::NotFound.into())),
        // No `O_TMPFILE` here (an old kernel, a filesystem without it).
        Err(_) => return None,
    };
    let mut file = File::from(fd);
    let written = payload
        .iter()
        .try_for_each(|chunk| file.write_all(chunk))
        .and_then(|()| if sync { file.sync_all() } else { Ok(()) });
    if let Err(e) = written {
        return Some(Err(e));
    }
    // `linkat` of an unnamed file goes through its `/proc` name (linking by descriptor with
    // `AT_EMPTY_PATH` needs a privilege).
    let proc_name = format!("/proc/self/fd/{}", file.as_raw_fd());
    match rustix::fs::linkat(CWD, proc_name.as_str(), CWD, dest, AtFlags::SYMLINK_FOLLOW) {
        Ok(()) => Some(Ok(())),
        Err(rustix::io::Errno::EXIST) => Some(Err(ErrorKind::AlreadyExists.into())),
        // No `/proc` mounted: the directory was there a moment ago, so a missing path is the
        // `/proc` name.
        Err(rustix::io::Errno::NOENT) if dir.is_dir() => None,
        Err(e) => Some(Err(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_once_and_leaves_no_other_name() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("pool").join("a.deb");
        let payload = PutPayload::from_static(b"first");
        // The directory is missing: said as `NotFound`, for the caller to create it.
        let missing = create(&dest, &payload, true).expect("O_TMPFILE on the test filesystem");
        assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        create(&dest, &payload, true).unwrap().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        let again = create(&dest, &PutPayload::from_static(b"second"), false).unwrap();
        assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        assert_eq!(names(dest.parent().unwrap()), ["a.deb"]);
    }
}
