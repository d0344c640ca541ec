//! A strict reader of the ar container of a `.deb`: common format only (what dpkg writes),
//! every header field checked, member sizes checked against what is left when it is known.

use std::io::{self, Read};

use crate::error::ReadError;

const MAGIC: &[u8; 8] = b"!<arch>\n";
const HEADER: usize = 60;

/// One member's header.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) size: u64,
}

/// The error a member reader gives when its data ends before its declared size.
#[derive(Debug, thiserror::Error)]
#[error("member data ends after {read} of {declared} declared bytes")]
pub struct TruncatedMember {
    /// Bytes read.
    pub read: u64,
    /// Bytes declared.
    pub declared: u64,
}

pub(crate) struct ArReader<R> {
    inner: R,
    /// Offset of the next unread byte.
    offset: u64,
    /// The file's length, when known, to refuse impossible sizes before reading.
    len: Option<u64>,
    /// Bytes of the current member (and its padding) not consumed yet.
    skip: u64,
}

impl<R: Read> ArReader<R> {
    pub(crate) fn new(mut inner: R, len: Option<u64>) -> Result<Self, ReadError> {
        let mut magic = [0u8; 8];
        let got = read_full(&mut inner, &mut magic).map_err(|source| ReadError::Io {
            member: "ar magic".into(),
            source,
        })?;
        if got < 8 || &magic != MAGIC {
            return Err(ReadError::BadMagic {
                found: String::from_utf8_lossy(&magic[..got]).into_owned(),
            });
        }
        Ok(ArReader {
            inner,
            offset: 8,
            len,
            skip: 0,
        })
    }

    /// The next member's header, or `None` at the end of the archive. Whatever was left of
    /// the previous member is skipped.
    pub(crate) fn next_member(&mut self) -> Result<Option<Member>, ReadError> {
        let io_err = |source| ReadError::Io {
            member: "ar header".into(),
            source,
        };
        if self.skip > 0 {
            let skipped = io::copy(&mut (&mut self.inner).take(self.skip), &mut io::sink())
                .map_err(io_err)?;
            self.offset += skipped;
            // A missing final padding byte is tolerated, as dpkg does.
            self.skip = 0;
        }
        let at = self.offset;
        let mut header = [0u8; HEADER];
        let got = read_full(&mut self.inner, &mut header).map_err(io_err)?;
        if got == 0 {
            return Ok(None);
        }
        if got < HEADER {
            return Err(ReadError::ArHeader {
                offset: at,
                field: "header length",
                value: format!("{got} bytes"),
            });
        }
        self.offset += HEADER as u64;
        let field = |range: std::ops::Range<usize>| {
            String::from_utf8_lossy(&header[range])
                .trim_end()
                .to_owned()
        };
        let bad = |field, value| ReadError::ArHeader {
            offset: at,
            field,
            value,
        };
        if &header[58..60] != b"`\n" {
            return Err(bad("terminator", field(58..60)));
        }
        let raw_name = field(0..16);
        let name = raw_name.strip_suffix('/').unwrap_or(&raw_name).to_owned();
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\');
        if !name_ok {
            return Err(bad("name", raw_name));
        }
        let size_text = field(48..58);
        let size: u64 = size_text
            .parse()
            .ok()
            .filter(|_| size_text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad("size", size_text.clone()))?;
        if let Some(len) = self.len {
            let available = len.saturating_sub(self.offset);
            if size > available {
                return Err(ReadError::Truncated {
                    member: name,
                    declared: size,
                    available,
                });
            }
        }
        self.skip = size + size % 2;
        Ok(Some(Member { name, size }))
    }

    /// The current member's data; reading past its end gives nothing, ending early gives an
    /// [`io::ErrorKind::UnexpectedEof`] error holding a [`TruncatedMember`].
    pub(crate) fn data(&mut self, member: &Member) -> MemberReader<'_, R> {
        MemberReader {
            ar: self,
            left: member.size,
            declared: member.size,
        }
    }
}

pub(crate) struct MemberReader<'a, R> {
    ar: &'a mut ArReader<R>,
    left: u64,
    declared: u64,
}

impl<R: Read> Read for MemberReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.ar.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                TruncatedMember {
                    read: self.declared - self.left,
                    declared: self.declared,
                },
            ));
        }
        self.left -= n as u64;
        self.ar.offset += n as u64;
        self.ar.skip -= n as u64;
        Ok(n)
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: &str) -> Vec<u8> {
        format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
            0, 0, 0, 100644
        )
        .into_bytes()
    }

    #[test]
    fn checks_every_field() {
        let mut ok = MAGIC.to_vec();
        ok.extend(header("debian-binary", "4"));
        ok.extend(b"2.0\n");
        let mut ar = ArReader::new(&ok[..], Some(ok.len() as u64)).unwrap();
        let m = ar.next_member().unwrap().unwrap();
        assert_eq!((m.name.as_str(), m.size), ("debian-binary", 4));
        assert!(ar.next_member().unwrap().is_none());

        let mut bad_size = MAGIC.to_vec();
        bad_size.extend(header("data.tar.gz", "12x"));
        assert!(matches!(
            ArReader::new(&bad_size[..], None).unwrap().next_member(),
            Err(ReadError::ArHeader { field: "size", .. })
        ));

        let mut huge = MAGIC.to_vec();
        huge.extend(header("data.tar.gz", "9999999999"));
        huge.extend([0; 1000]);
        let len = huge.len() as u64;
        assert!(matches!(
            ArReader::new(&huge[..], Some(len)).unwrap().next_member(),
            Err(ReadError::Truncated {
                declared: 9_999_999_999,
                available: 1000,
                ..
            })
        ));

        // Unknown length: the shortfall shows when the data is read.
        let mut ar = ArReader::new(&huge[..], None).unwrap();
        let m = ar.next_member().unwrap().unwrap();
        let err = io::copy(&mut ar.data(&m), &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

        assert!(matches!(
            ArReader::new(&b"!<arch>"[..], None),
            Err(ReadError::BadMagic { .. })
        ));
    }
}
