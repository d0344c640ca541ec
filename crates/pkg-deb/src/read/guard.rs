//! A watch on the tar stream below the tar parser: metadata entries (GNU long names and link
//! names, pax headers) are read whole into memory by the parser, so one declaring gigabytes
//! (a few KiB once compressed) is refused before it is read.

use std::io::{self, Read};

/// The most bytes one metadata entry may declare; real ones hold a path or a few records.
pub(crate) const MAX_METADATA: u64 = 1 << 20;

const BLOCK: usize = 512;

/// A metadata entry over [`MAX_METADATA`].
#[derive(Debug, thiserror::Error)]
#[error("a tar metadata entry (type {kind:?}) declares {size} bytes, over {MAX_METADATA}")]
pub(crate) struct MetadataTooLarge {
    pub(crate) kind: char,
    pub(crate) size: u64,
}

pub(crate) struct TarGuard<R> {
    inner: R,
    header: [u8; BLOCK],
    have: usize,
    skip: u64,
}

impl<R: Read> TarGuard<R> {
    pub(crate) fn new(inner: R) -> Self {
        TarGuard {
            inner,
            header: [0; BLOCK],
            have: 0,
            skip: 0,
        }
    }

    /// Follows the headers in `bytes`, which come right after everything seen so far.
    fn watch(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let k = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.skip -= k as u64;
                bytes = &bytes[k..];
                continue;
            }
            let k = (BLOCK - self.have).min(bytes.len());
            self.header[self.have..self.have + k].copy_from_slice(&bytes[..k]);
            self.have += k;
            bytes = &bytes[k..];
            if self.have < BLOCK {
                continue;
            }
            self.have = 0;
            let header = tar::Header::from_byte_slice(&self.header);
            // An unreadable size is the parser's to report; zero blocks have none.
            let size = header.entry_size().unwrap_or(0);
            let kind = self.header[156];
            if matches!(kind, b'L' | b'K' | b'x' | b'g') && size > MAX_METADATA {
                return Err(io::Error::other(MetadataTooLarge {
                    kind: char::from(kind),
                    size,
                }));
            }
            self.skip = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        }
        Ok(())
    }
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.watch(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: tar::EntryType, size: u64) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    #[test]
    fn refuses_huge_metadata_and_passes_the_rest() {
        let mut ok = header(tar::EntryType::Regular, 3_000_000);
        ok.extend(vec![b'x'; 3_000_000usize.div_ceil(512) * 512]);
        ok.extend(header(tar::EntryType::GNULongName, 200));
        ok.extend(vec![b'n'; 512]);
        ok.extend(header(tar::EntryType::Regular, 0));
        ok.extend([0; 1024]);
        // Odd read sizes cross every block edge.
        let mut guard = TarGuard::new(&ok[..]);
        let mut buf = [0u8; 777];
        while guard.read(&mut buf).unwrap() > 0 {}

        let mut bomb = header(tar::EntryType::GNULongName, 10 << 30);
        bomb.extend([b'a'; 512]);
        let err = io::copy(&mut TarGuard::new(&bomb[..]), &mut io::sink()).unwrap_err();
        assert!(err.get_ref().is_some_and(|e| e.is::<MetadataTooLarge>()));
    }
}
