//! A deterministic GNU tar writer, laid out as `dpkg-deb -b` does: `./` first, paths as
//! `./usr/bin/falco`, directories with a trailing `/`, GNU long-name entries past 99 bytes and
//! base-256 sizes past 8 GiB.

use std::io::{self, Read, Write};

use tar::{EntryType, Header};

const BLOCK: usize = 512;
/// Longest name stored in the header itself; longer ones get a GNU `././@LongLink` entry.
const NAME_MAX: usize = 99;

/// Owner, group, mode and time of one entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta<'a> {
    pub(crate) mode: u32,
    pub(crate) owner: &'a str,
    pub(crate) group: &'a str,
}

impl Meta<'_> {
    pub(crate) const ROOT_DIR: Meta<'static> = Meta {
        mode: 0o755,
        owner: "root",
        group: "root",
    };
}

pub(crate) struct TarWriter<W: Write> {
    out: W,
    mtime: u64,
    copy_buf: Vec<u8>,
}

/// How many bytes a file entry's reader actually gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copied {
    /// Exactly the declared size.
    Exact,
    /// Fewer bytes (the file shrank); the entry was padded with zeros to stay well-formed.
    Short(u64),
    /// More bytes were available (the file grew); only the declared size was written.
    Long,
}

impl<W: Write> TarWriter<W> {
    /// Every entry is stamped with `mtime`.
    pub(crate) fn new(out: W, mtime: u64) -> Self {
        TarWriter {
            out,
            mtime,
            copy_buf: Vec::new(),
        }
    }

    fn header(&self, kind: EntryType, meta: Meta<'_>, size: u64) -> io::Result<Header> {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(meta.mode);
        // Numeric ids are unknown for named users; dpkg resolves the names on install and
        // falls back to these ids only when a name does not exist there.
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h.set_size(size);
        h.set_username(meta.owner)?;
        h.set_groupname(meta.group)?;
        Ok(h)
    }

    /// Puts `name` in the header, preceded by a GNU long-name entry of type `long` if needed.
    fn set_name(&mut self, h: &mut Header, name: &[u8], long: EntryType) -> io::Result<()> {
        let field = if long == EntryType::GNULongName {
            &mut h.as_old_mut().name
        } else {
            &mut h.as_old_mut().linkname
        };
        let stored = &name[..name.len().min(NAME_MAX)];
        field[..stored.len()].copy_from_slice(stored);
        if name.len() > NAME_MAX {
            let mut l = self.header(long, Meta::ROOT_DIR, name.len() as u64 + 1)?;
            l.set_mode(0o644);
            l.set_mtime(0);
            let ll = b"././@LongLink";
            l.as_old_mut().name[..ll.len()].copy_from_slice(ll);
            l.set_cksum();
            self.out.write_all(l.as_bytes())?;
            self.out.write_all(name)?;
            self.out.write_all(&[0])?;
            self.pad(name.len() as u64 + 1)?;
        }
        Ok(())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rest = (size % BLOCK as u64) as usize;
        if rest != 0 {
            self.out.write_all(&[0; BLOCK][..BLOCK - rest])?;
        }
        Ok(())
    }

    /// A directory; `path` is `./` or `./usr/` (trailing slash included).
    pub(crate) fn dir(&mut self, path: &str, meta: Meta<'_>) -> io::Result<()> {
        let mut h = self.header(EntryType::Directory, meta, 0)?;
        self.set_name(&mut h, path.as_bytes(), EntryType::GNULongName)?;
        h.set_cksum();
        self.out.write_all(h.as_bytes())
    }

    /// A symbolic link to `target`.
    pub(crate) fn symlink(&mut self, path: &str, target: &str, meta: Meta<'_>) -> io::Result<()> {
        let mut h = self.header(EntryType::Symlink, meta, 0)?;
        self.set_name(&mut h, target.as_bytes(), EntryType::GNULongLink)?;
        self.set_name(&mut h, path.as_bytes(), EntryType::GNULongName)?;
        h.set_cksum();
        self.out.write_all(h.as_bytes())
    }

    /// A regular file of `size` bytes read from `data`. Exactly `size` bytes are written
    /// whatever `data` gives, so the archive stays well-formed; the caller decides what a
    /// mismatch means.
    pub(crate) fn file(
        &mut self,
        path: &str,
        meta: Meta<'_>,
        size: u64,
        mut data: impl Read,
    ) -> io::Result<Copied> {
        let mut h = self.header(EntryType::Regular, meta, size)?;
        self.set_name(&mut h, path.as_bytes(), EntryType::GNULongName)?;
        h.set_cksum();
        self.out.write_all(h.as_bytes())?;
        if self.copy_buf.is_empty() {
            self.copy_buf = vec![0; 256 * 1024];
        }
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.copy_buf.len());
            let n = match data.read(&mut self.copy_buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            self.out.write_all(&self.copy_buf[..n])?;
            left -= n as u64;
        }
        let copied = if left > 0 {
            let mut zeros = left;
            while zeros > 0 {
                let n = usize::try_from(zeros).unwrap_or(BLOCK).min(BLOCK);
                self.out.write_all(&[0; BLOCK][..n])?;
                zeros -= n as u64;
            }
            Copied::Short(size - left)
        } else {
            let mut probe = [0u8; 1];
            if data.read(&mut probe)? > 0 {
                Copied::Long
            } else {
                Copied::Exact
            }
        };
        self.pad(size)?;
        Ok(copied)
    }

    /// Writes the end-of-archive blocks and hands back the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0; 2 * BLOCK])?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_links_and_big_sizes_read_back() {
        let long = format!("./usr/share/{}/file", "d".repeat(150));
        let target = format!("../{}", "t".repeat(120));
        let mut w = TarWriter::new(Vec::new(), 1_700_000_000);
        w.dir("./", Meta::ROOT_DIR).unwrap();
        w.file(&long, Meta::ROOT_DIR, 3, &b"abc"[..]).unwrap();
        w.symlink("./usr/link", &target, Meta::ROOT_DIR).unwrap();
        assert_eq!(
            w.file("./short", Meta::ROOT_DIR, 5, &b"ab"[..]).unwrap(),
            Copied::Short(2)
        );
        let bytes = w.finish().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let entries: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path_bytes().into_owned(),
                    e.link_name_bytes().map(|l| l.into_owned()),
                    e.header().mtime().unwrap(),
                    e.header().username().unwrap().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(entries[0].0, b"./");
        assert_eq!(entries[1].0, long.as_bytes());
        assert_eq!(entries[2].1.as_deref(), Some(target.as_bytes()));
        assert!(entries.iter().all(|e| e.2 == 1_700_000_000));
        assert_eq!(entries[1].3.as_deref(), Some("root"));
    }

    #[test]
    fn sizes_past_8_gib_use_base_256() {
        let w = TarWriter::new(Vec::new(), 0);
        let h = w
            .header(EntryType::Regular, Meta::ROOT_DIR, 10 << 30)
            .unwrap();
        assert_eq!(h.size().unwrap(), 10 << 30);
        assert_eq!(h.as_old().size[0] & 0x80, 0x80);
    }
}
