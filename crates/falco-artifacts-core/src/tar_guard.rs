//! A watch on a tar stream, placed below the tar parser (feature `tar-guard`), shared by every
//! tar reader of the workspace (the `.deb` members, the release tarball).
//!
//! The parser (`tar`) reads metadata entries (GNU long names and link names, pax headers)
//! whole into memory, lets a pax `size` record override the size its header declares, and
//! reads GNU sparse maps of its own. The guard follows the same 512-byte blocks as the bytes
//! go by and refuses, before the parser acts on them:
//!
//! - a metadata entry (`L`, `K`, `x`, `g`) declaring more than [`TarLimits::max_metadata`];
//! - a pax `size` record that disagrees with the size its file's header declares (the parser
//!   would follow one and the guard the other: a hidden block, or a file extracted empty);
//! - GNU sparse entries (`S`) and pax sparse records (`GNU.sparse.*`), whose stored layout
//!   differs from what the header says;
//! - malformed pax records;
//! - more than [`TarLimits::max_entries`] entries, more than [`TarLimits::max_content`]
//!   bytes of declared content, and more than [`TRAILER_LIMIT`] bytes after the end of the
//!   archive.
//!
//! A refusal is an [`io::Error`] holding a [`TarRefusal`]; [`TarRefusal::find`] gets it back
//! from whatever error the parser or a decoder passes on.
//!
//! ```
//! use std::io::Read;
//! use falco_artifacts_core::tar_guard::{TarGuard, TarLimits, TarRefusal};
//!
//! let mut long_name = tar::Header::new_gnu();
//! long_name.set_entry_type(tar::EntryType::GNULongName);
//! long_name.set_size(10 << 30);
//! long_name.set_cksum();
//! let mut bytes = long_name.as_bytes().to_vec();
//! bytes.extend([b'a'; 512]);
//!
//! let mut archive = tar::Archive::new(TarGuard::new(&bytes[..], TarLimits::default()));
//! let Some(Err(error)) = archive.entries()?.next() else { panic!("read a 10 GiB name") };
//! assert!(matches!(TarRefusal::find(&error), Some(TarRefusal::MetadataTooLarge { .. })));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Read};

const BLOCK: usize = 512;

/// The most bytes accepted after the end-of-archive blocks: GNU tar pads to its record size
/// (10 KiB by default); anything much longer is not padding.
pub const TRAILER_LIMIT: u64 = 1 << 20;

/// The bounds a [`TarGuard`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarLimits {
    /// The most bytes one metadata entry (GNU long name or link name, pax header) may
    /// declare. Real ones hold one path (at most `PATH_MAX`, 4096) or a few records.
    pub max_metadata: u64,
    /// The most entries (files, directories, links…; metadata entries not counted).
    pub max_entries: u64,
    /// The most bytes of content the entries may declare in all.
    pub max_content: u64,
}

impl Default for TarLimits {
    /// 64 KiB of metadata per entry, a million entries, 64 GiB of content: far above any
    /// package or tarball Falco ships or builds against (a kernel's headers are about 20,000
    /// files), far below what exhausts a machine.
    fn default() -> Self {
        TarLimits {
            max_metadata: 64 << 10,
            max_entries: 1_000_000,
            max_content: 64 << 30,
        }
    }
}

/// Why a [`TarGuard`] stopped a tar stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TarRefusal {
    /// A metadata entry declares more than the limit.
    #[error("a tar metadata entry (type {kind:?}) at byte {offset} declares {size} bytes, over the limit of {limit}")]
    MetadataTooLarge {
        /// The type flag (`L`, `K`, `x`, `g`).
        kind: char,
        /// Where its header starts in the tar stream.
        offset: u64,
        /// What it declares.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A pax `size` record disagrees with the size its entry's header declares.
    #[error("the tar entry at byte {offset} declares {header} bytes in its header but a pax record says size={pax:?}")]
    PaxSizeMismatch {
        /// Where the entry's header starts.
        offset: u64,
        /// The size in the header.
        header: u64,
        /// The pax record's value, as written.
        pax: String,
    },
    /// A pax record is malformed or not accepted (a sparse record, a global `size`).
    #[error("the pax header at byte {offset} has a record that is refused: {why}")]
    PaxRecord {
        /// Where the pax header starts.
        offset: u64,
        /// What is wrong.
        why: &'static str,
    },
    /// A GNU sparse entry.
    #[error("the tar entry at byte {offset} is a GNU sparse file, which is not accepted")]
    Sparse {
        /// Where its header starts.
        offset: u64,
    },
    /// More entries than the limit.
    #[error("the tar stream has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// More content than the limit.
    #[error("the tar entries declare more than {limit} bytes of content")]
    TooMuchContent {
        /// The limit.
        limit: u64,
    },
    /// Too many bytes after the end of the archive.
    #[error("more than {limit} bytes follow the end of the tar archive")]
    TrailingData {
        /// The limit.
        limit: u64,
    },
}

impl TarRefusal {
    /// The refusal inside `error`, if a guard raised it (directly or wrapped once by a decoder
    /// or the tar parser, which keep the inner error).
    pub fn find(error: &io::Error) -> Option<&TarRefusal> {
        let inner = error.get_ref()?;
        if let Some(refusal) = inner.downcast_ref::<TarRefusal>() {
            return Some(refusal);
        }
        inner
            .downcast_ref::<io::Error>()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<TarRefusal>())
    }
}

/// What the guard expects next.
#[derive(Debug, Clone, Copy)]
enum State {
    /// A header block (partly read into `header`).
    Header,
    /// Data blocks of the current entry to pass over.
    Skip(u64),
    /// The data of a pax header, kept to check its records.
    Pax { global: bool, left: u64, pad: u64 },
    /// The end-of-archive block was seen: the rest is padding.
    Ended,
}

/// Wraps a (decompressed) tar stream and follows its headers; see the [module](self) docs.
#[derive(Debug)]
pub struct TarGuard<R> {
    inner: R,
    limits: TarLimits,
    state: State,
    header: [u8; BLOCK],
    have: usize,
    /// Offset in the tar stream of the next byte the guard sees.
    offset: u64,
    /// Where the current (or last) header started.
    header_at: u64,
    pax: Vec<u8>,
    pax_at: u64,
    /// The `size` record of the pax header that applies to the next entry.
    pending_size: Option<String>,
    entries: u64,
    content: u64,
    trailer: u64,
}

impl<R: Read> TarGuard<R> {
    /// Guards `inner` with `limits`.
    pub fn new(inner: R, limits: TarLimits) -> Self {
        TarGuard {
            inner,
            limits,
            state: State::Header,
            header: [0; BLOCK],
            have: 0,
            offset: 0,
            header_at: 0,
            pax: Vec::new(),
            pax_at: 0,
            pending_size: None,
            entries: 0,
            content: 0,
            trailer: 0,
        }
    }

    /// The stream it guards.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Entries seen so far (metadata entries not counted).
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Follows `bytes`, which come right after everything seen so far.
    fn watch(&mut self, mut bytes: &[u8]) -> Result<(), TarRefusal> {
        while !bytes.is_empty() {
            let taken = match self.state {
                State::Ended => {
                    self.trailer += bytes.len() as u64;
                    if self.trailer > TRAILER_LIMIT {
                        return Err(TarRefusal::TrailingData {
                            limit: TRAILER_LIMIT,
                        });
                    }
                    bytes.len()
                }
                State::Skip(left) => {
                    let k = up_to(left, bytes.len());
                    self.state = match left - k as u64 {
                        0 => State::Header,
                        rest => State::Skip(rest),
                    };
                    k
                }
                State::Pax { global, left, pad } => {
                    let k = up_to(left + pad, bytes.len());
                    let data = up_to(left, k);
                    self.pax.extend_from_slice(&bytes[..data]);
                    let rest = left + pad - k as u64;
                    if rest == 0 {
                        self.pax_records(global)?;
                        self.state = State::Header;
                    } else {
                        self.state = State::Pax {
                            global,
                            left: left - data as u64,
                            pad: rest - (left - data as u64),
                        };
                    }
                    k
                }
                State::Header => {
                    let k = (BLOCK - self.have).min(bytes.len());
                    self.header[self.have..self.have + k].copy_from_slice(&bytes[..k]);
                    self.have += k;
                    if self.have == BLOCK {
                        self.have = 0;
                        self.header_at = self.offset + k as u64 - BLOCK as u64;
                        self.on_header()?;
                    }
                    k
                }
            };
            bytes = &bytes[taken..];
            self.offset += taken as u64;
        }
        Ok(())
    }

    /// A whole header block has been read.
    fn on_header(&mut self) -> Result<(), TarRefusal> {
        if self.header.iter().all(|&b| b == 0) {
            // The parser stops at the first zero block; so does the watch.
            self.state = State::Ended;
            return Ok(());
        }
        let header = tar::Header::from_byte_slice(&self.header);
        // An unreadable size is the parser's to report (it stops there).
        let size = header.entry_size().unwrap_or(0);
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let at = self.header_at;
        let kind = self.header[156];
        match kind {
            b'L' | b'K' | b'x' | b'g' => {
                if size > self.limits.max_metadata {
                    return Err(TarRefusal::MetadataTooLarge {
                        kind: char::from(kind),
                        offset: at,
                        size,
                        limit: self.limits.max_metadata,
                    });
                }
                if matches!(kind, b'x' | b'g') {
                    self.pax.clear();
                    self.pax_at = at;
                    self.state = if size == 0 {
                        self.pax_records(kind == b'g')?;
                        State::Header
                    } else {
                        State::Pax {
                            global: kind == b'g',
                            left: size,
                            pad: padded - size,
                        }
                    };
                    return Ok(());
                }
            }
            b'S' => return Err(TarRefusal::Sparse { offset: at }),
            _ => {
                if let Some(pax) = self.pending_size.take() {
                    if pax.parse::<u64>().ok() != Some(size) {
                        return Err(TarRefusal::PaxSizeMismatch {
                            offset: at,
                            header: size,
                            pax,
                        });
                    }
                }
                self.entries += 1;
                if self.entries > self.limits.max_entries {
                    return Err(TarRefusal::TooManyEntries {
                        limit: self.limits.max_entries,
                    });
                }
                self.content = self.content.saturating_add(size);
                if self.content > self.limits.max_content {
                    return Err(TarRefusal::TooMuchContent {
                        limit: self.limits.max_content,
                    });
                }
            }
        }
        self.state = if padded == 0 {
            State::Header
        } else {
            State::Skip(padded)
        };
        Ok(())
    }

    /// Checks the records of the pax header just read.
    fn pax_records(&mut self, global: bool) -> Result<(), TarRefusal> {
        let refuse = |why| TarRefusal::PaxRecord {
            offset: self.pax_at,
            why,
        };
        let mut size = None;
        for record in tar::PaxExtensions::new(&self.pax) {
            let record = record.map_err(|_| refuse("a record is malformed"))?;
            let key = record
                .key()
                .map_err(|_| refuse("a record's key is not UTF-8"))?;
            if key.starts_with("GNU.sparse") {
                return Err(refuse("sparse files (GNU.sparse records) are not accepted"));
            }
            if key == "size" {
                if global {
                    return Err(refuse("a global header sets size"));
                }
                if size.is_some() {
                    return Err(refuse("two size records"));
                }
                size = Some(String::from_utf8_lossy(record.value_bytes()).into_owned());
            }
        }
        if !global {
            self.pending_size = size;
        }
        self.pax = Vec::new();
        Ok(())
    }
}

/// `n` bounded by `len`, as an index.
fn up_to(n: u64, len: usize) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).min(len)
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.watch(&buf[..n]).map_err(io::Error::other)?;
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

    fn refusal(bytes: &[u8], limits: TarLimits) -> Option<TarRefusal> {
        let mut guard = TarGuard::new(bytes, limits);
        // Odd read sizes cross every block edge.
        let mut buf = [0u8; 777];
        loop {
            match guard.read(&mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return TarRefusal::find(&e).cloned(),
            }
        }
    }

    fn pax(records: &str) -> Vec<u8> {
        let mut out = header(tar::EntryType::XHeader, records.len() as u64);
        out.extend(records.as_bytes());
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    #[test]
    fn passes_ordinary_streams() {
        let mut ok = header(tar::EntryType::Regular, 3_000_000);
        ok.extend(vec![b'x'; 3_000_000usize.div_ceil(512) * 512]);
        ok.extend(header(tar::EntryType::GNULongName, 200));
        ok.extend(vec![b'n'; 512]);
        ok.extend(pax("12 path=abc\n11 size=10\n"));
        ok.extend(header(tar::EntryType::Regular, 10));
        ok.extend([b'y'; 512]);
        ok.extend([0; 10240]);
        assert_eq!(refusal(&ok, TarLimits::default()), None);
    }

    #[test]
    fn refuses_each_hostile_shape() {
        let limits = TarLimits::default();
        let mut bomb = header(tar::EntryType::GNULongName, 10 << 30);
        bomb.extend([b'a'; 512]);
        assert!(matches!(
            refusal(&bomb, limits),
            Some(TarRefusal::MetadataTooLarge { kind: 'L', .. })
        ));

        let mut hidden = pax("10 size=0\n");
        hidden.extend(header(tar::EntryType::Regular, 512));
        assert!(matches!(
            refusal(&hidden, limits),
            Some(TarRefusal::PaxSizeMismatch { header: 512, .. })
        ));

        let mut sparse = header(tar::EntryType::GNUSparse, 0);
        sparse.extend([0; 1024]);
        assert!(matches!(
            refusal(&sparse, limits),
            Some(TarRefusal::Sparse { offset: 0 })
        ));

        let pax_sparse = pax("22 GNU.sparse.size=10\n");
        assert!(matches!(
            refusal(&pax_sparse, limits),
            Some(TarRefusal::PaxRecord { .. })
        ));
        assert!(matches!(
            refusal(&pax("99 size=1\n"), limits),
            Some(TarRefusal::PaxRecord { .. })
        ));

        let mut many = Vec::new();
        for _ in 0..3 {
            many.extend(header(tar::EntryType::Directory, 0));
        }
        let few = TarLimits {
            max_entries: 2,
            ..limits
        };
        assert_eq!(
            refusal(&many, few),
            Some(TarRefusal::TooManyEntries { limit: 2 })
        );

        let mut big = header(tar::EntryType::Regular, 5000);
        big.extend([0; 5120]);
        let small = TarLimits {
            max_content: 4096,
            ..limits
        };
        assert_eq!(
            refusal(&big, small),
            Some(TarRefusal::TooMuchContent { limit: 4096 })
        );

        let mut trailing = vec![0; 1024];
        trailing.extend(vec![1; TRAILER_LIMIT as usize + 1]);
        assert!(matches!(
            refusal(&trailing, limits),
            Some(TarRefusal::TrailingData { .. })
        ));
    }
}
