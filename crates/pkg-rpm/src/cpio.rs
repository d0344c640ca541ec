//! The cpio entry headers of an rpm payload, written by us because the `rpm` crate keeps its
//! cpio writer private.
//!
//! Two formats, as rpm itself writes them: SVR4 "newc" (`070701`) for packages whose files
//! total less than 4 GiB, and rpm ≥ 4.12's "stripped" format (`07070X` and the file's index in
//! the header, nothing else) above that, where newc's 32-bit sizes cannot hold the files. The
//! trailer is a newc entry in both.

use std::io::{self, Write};

/// What the newc header of one entry says; everything else is zero, as rpm writes it.
pub(crate) struct NewcEntry<'a> {
    /// `./usr/bin/falco`.
    pub(crate) name: &'a str,
    pub(crate) ino: u32,
    pub(crate) mode: u32,
    pub(crate) nlink: u32,
    pub(crate) mtime: u32,
    pub(crate) size: u32,
    pub(crate) rdev_major: u32,
    pub(crate) rdev_minor: u32,
}

/// The zero bytes that pad `len` to a multiple of 4.
pub(crate) fn padding(len: u64) -> &'static [u8] {
    &[0u8; 3][..((4 - len % 4) % 4) as usize]
}

/// Writes a newc header and its name, padded; the caller writes `size` bytes and
/// [`padding`]`(size)` after it.
pub(crate) fn write_newc(out: &mut impl Write, e: &NewcEntry<'_>) -> io::Result<()> {
    let name_len = e.name.len() + 1;
    let fields = [
        e.ino,
        e.mode,
        0, // uid: rpm takes owners from the header
        0, // gid
        e.nlink,
        e.mtime,
        e.size,
        0, // devmajor
        0, // devminor
        e.rdev_major,
        e.rdev_minor,
        u32::try_from(name_len).map_err(|_| io::Error::other("cpio entry name too long"))?,
        0, // check
    ];
    let mut header = Vec::with_capacity(110 + name_len + 3);
    header.extend_from_slice(b"070701");
    for field in fields {
        header.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    header.extend_from_slice(e.name.as_bytes());
    header.push(0);
    header.extend_from_slice(padding(header.len() as u64));
    out.write_all(&header)
}

/// Writes a stripped header for the file at `index` in the header's file list; the 14 bytes
/// are padded to 16, then the caller writes the data and [`padding`] of its size.
pub(crate) fn write_stripped(out: &mut impl Write, index: u32) -> io::Result<()> {
    out.write_all(format!("07070X{index:08x}\0\0").as_bytes())
}

/// Writes the `TRAILER!!!` entry that ends the archive.
pub(crate) fn write_trailer(out: &mut impl Write) -> io::Result<()> {
    write_newc(
        out,
        &NewcEntry {
            name: "TRAILER!!!",
            ino: 0,
            mode: 0,
            nlink: 1,
            mtime: 0,
            size: 0,
            rdev_major: 0,
            rdev_minor: 0,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_aligned_like_rpms() {
        let mut out = Vec::new();
        write_trailer(&mut out).unwrap();
        // 110 bytes of header + "TRAILER!!!\0" = 121, padded to 124.
        assert_eq!(out.len(), 124);
        assert!(out.starts_with(b"070701"));
        assert_eq!(&out[110..121], b"TRAILER!!!\0");
        let mut out = Vec::new();
        write_stripped(&mut out, 0x2a).unwrap();
        assert_eq!(out, b"07070X0000002a\0\0");
        assert_eq!(padding(5), &[0, 0, 0]);
        assert_eq!(padding(8), &[] as &[u8]);
    }
}
