//! Streaming digests: SHA-256 everywhere, MD5 and SHA-1 only where a format requires them.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use md5::Md5;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest; displayed and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Streams `reader` to its end; returns the digest and the number of bytes read.
    pub fn of_reader(reader: impl Read) -> io::Result<(Self, u64)> {
        let digests = Digests::of_reader(reader, DigestSet::SHA256)?;
        Ok((digests.sha256, digests.size))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl From<[u8; 32]> for Sha256Digest {
    fn from(bytes: [u8; 32]) -> Self {
        Sha256Digest(bytes)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

/// Text that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a SHA-256 digest (expected 64 hex digits)")]
pub struct InvalidDigest {
    /// The text given.
    pub given: String,
}

impl FromStr for Sha256Digest {
    type Err = InvalidDigest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| InvalidDigest {
            given: s.to_owned(),
        })?;
        Ok(Sha256Digest(out))
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Which digests to compute besides SHA-256 (always computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DigestSet {
    /// MD5, for DEB `md5sums` and APT `Packages`.
    pub md5: bool,
    /// SHA-1, for formats that still list it.
    pub sha1: bool,
}

impl DigestSet {
    /// SHA-256 only.
    pub const SHA256: DigestSet = DigestSet {
        md5: false,
        sha1: false,
    };
    /// SHA-256 and MD5.
    pub const WITH_MD5: DigestSet = DigestSet {
        md5: true,
        sha1: false,
    };
}

/// Digests of one stream, computed in a single pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256.
    pub sha256: Sha256Digest,
    /// MD5, when asked for.
    pub md5: Option<[u8; 16]>,
    /// SHA-1, when asked for.
    pub sha1: Option<[u8; 20]>,
    /// Bytes hashed.
    pub size: u64,
}

impl Digests {
    /// Streams `reader` to its end in 64 KiB blocks, computing `set` in one pass.
    pub fn of_reader(reader: impl Read, set: DigestSet) -> io::Result<Self> {
        let mut hashing = DigestingReader::new(reader, set);
        io::copy(&mut hashing, &mut io::sink())?;
        Ok(hashing.finish())
    }
}

/// A reader that hashes what passes through it, so a packager can hash a file while copying it
/// into an archive instead of reading it twice.
///
/// ```
/// use std::io::Read;
/// use falco_artifacts_core::{DigestSet, DigestingReader};
///
/// let mut reader = DigestingReader::new(&b"hello"[..], DigestSet::WITH_MD5);
/// let mut copy = Vec::new();
/// reader.read_to_end(&mut copy)?;
/// let digests = reader.finish();
/// assert_eq!(digests.size, 5);
/// assert_eq!(
///     digests.sha256.to_hex(),
///     "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DigestingReader<R> {
    inner: R,
    sha256: Sha256,
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    size: u64,
}

impl<R: Read> DigestingReader<R> {
    /// Wraps `inner`, computing SHA-256 and whatever `set` adds.
    pub fn new(inner: R, set: DigestSet) -> Self {
        DigestingReader {
            inner,
            sha256: Sha256::new(),
            md5: set.md5.then(Md5::new),
            sha1: set.sha1.then(Sha1::new),
            size: 0,
        }
    }

    /// The digests of everything read so far.
    pub fn finish(self) -> Digests {
        Digests {
            sha256: Sha256Digest(self.sha256.finalize().into()),
            md5: self.md5.map(|h| h.finalize().into()),
            sha1: self.sha1.map(|h| h.finalize().into()),
            size: self.size,
        }
    }
}

impl<R: Read> Read for DigestingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.sha256.update(chunk);
        if let Some(h) = &mut self.md5 {
            h.update(chunk);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(chunk);
        }
        self.size += n as u64;
        Ok(n)
    }
}

/// A writer that hashes what passes through it, so an archive can be digested while it is
/// written instead of being read back.
///
/// ```
/// use std::io::Write;
/// use falco_artifacts_core::{DigestSet, DigestingWriter};
///
/// let mut out = DigestingWriter::new(Vec::new(), DigestSet::SHA256);
/// out.write_all(b"hello")?;
/// let (bytes, digests) = out.finish();
/// assert_eq!(bytes, b"hello");
/// assert_eq!(digests.size, 5);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DigestingWriter<W> {
    inner: W,
    sha256: Sha256,
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    size: u64,
}

impl<W: Write> DigestingWriter<W> {
    /// Wraps `inner`, computing SHA-256 and whatever `set` adds.
    pub fn new(inner: W, set: DigestSet) -> Self {
        DigestingWriter {
            inner,
            sha256: Sha256::new(),
            md5: set.md5.then(Md5::new),
            sha1: set.sha1.then(Sha1::new),
            size: 0,
        }
    }

    /// The inner writer and the digests of everything written.
    pub fn finish(self) -> (W, Digests) {
        let digests = Digests {
            sha256: Sha256Digest(self.sha256.finalize().into()),
            md5: self.md5.map(|h| h.finalize().into()),
            sha1: self.sha1.map(|h| h.finalize().into()),
            size: self.size,
        };
        (self.inner, digests)
    }
}

impl<W: Write> Write for DigestingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let chunk = &buf[..n];
        self.sha256.update(chunk);
        if let Some(h) = &mut self.md5 {
            h.update(chunk);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(chunk);
        }
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let d = Digests::of_reader(
            &b"abc"[..],
            DigestSet {
                md5: true,
                sha1: true,
            },
        )
        .unwrap();
        assert_eq!(
            d.sha256.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(d.md5.unwrap()),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex::encode(d.sha1.unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(d.size, 3);
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let d = Sha256Digest::of_bytes(b"x");
        assert_eq!(d.to_string().parse::<Sha256Digest>().unwrap(), d);
        assert!("abc".parse::<Sha256Digest>().is_err());
    }
}
