//! One entry of `data.tar`, with its path normalized and checked.

use crate::error::ReadError;

/// What an entry of the data tree is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataKind {
    /// A regular file of `size` bytes.
    File {
        /// Size in bytes.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link, target as stored.
    Symlink {
        /// The target.
        target: String,
    },
    /// A hard link to an earlier entry (normalized path, relative to the root).
    HardLink {
        /// The earlier entry.
        target: String,
    },
    /// A device, FIFO or other special file (listed, never extracted).
    Special {
        /// The tar type flag.
        kind: char,
    },
}

/// One entry of the data tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    /// Path relative to the root, without `./` (`usr/bin/falco`).
    pub path: String,
    /// What it is.
    pub kind: DataKind,
    /// Permission bits (`0o755`).
    pub mode: u32,
    /// Owner name (empty when the archive has none).
    pub owner: String,
    /// Group name (empty when the archive has none).
    pub group: String,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// `./usr//bin/./falco` → `usr/bin/falco`; refuses absolute paths, `..` and non-UTF-8.
/// The root itself (`./`) gives an empty path.
pub(crate) fn normalize(member: &str, raw: &[u8]) -> Result<String, ReadError> {
    let unsafe_path = |problem| ReadError::UnsafePath {
        member: member.to_owned(),
        path: String::from_utf8_lossy(raw).into_owned(),
        problem,
    };
    let text = std::str::from_utf8(raw).map_err(|_| unsafe_path("not UTF-8"))?;
    if text.starts_with('/') {
        return Err(unsafe_path("absolute path"));
    }
    if text.contains('\0') {
        return Err(unsafe_path("NUL byte in path"));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path("`..` component")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses() {
        assert_eq!(
            normalize("m", b"./usr//bin/./falco").unwrap(),
            "usr/bin/falco"
        );
        assert_eq!(normalize("m", b"./").unwrap(), "");
        for bad in [&b"../etc"[..], b"/etc/passwd", b"./a/../../b", b"\xff"] {
            assert!(
                matches!(normalize("m", bad), Err(ReadError::UnsafePath { .. })),
                "{bad:?}"
            );
        }
    }
}
