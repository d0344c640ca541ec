//! Compression shared by the packagers (feature `compress`): the codec and level of a
//! `.deb` member, a tarball or a payload, and streaming encoders that use every core while
//! writing the same bytes whatever the number of threads.
//!
//! ```
//! use std::io::Write;
//! use falco_artifacts_core::compress::{Codec, Compression, Encoder};
//!
//! let mut encoder = Encoder::new(Vec::new(), Compression::new(Codec::Gzip, 6), 2)?;
//! encoder.write_all(b"falco")?;
//! let gz = encoder.finish()?;
//! assert_eq!(&gz[..2], &[0x1f, 0x8b]);
//! # Ok::<(), std::io::Error>(())
//! ```

mod pgzip;

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::str::FromStr;

use pgzip::ParallelGzEncoder;

/// A compression codec (all of them readable by dpkg, rpm and GNU tar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// gzip (`.gz`): every dpkg reads it; the default.
    Gzip,
    /// xz (`.xz`): smaller, slower; dpkg ≥ 1.15.6.
    Xz,
    /// Zstandard (`.zst`): fast; dpkg ≥ 1.21.18 (Debian 12, Ubuntu 21.10).
    Zstd,
    /// No compression (`data.tar`).
    None,
}

impl Codec {
    /// The member name suffix: `.gz`, `.xz`, `.zst` or nothing.
    pub fn suffix(self) -> &'static str {
        match self {
            Codec::Gzip => ".gz",
            Codec::Xz => ".xz",
            Codec::Zstd => ".zst",
            Codec::None => "",
        }
    }

    /// The levels the codec accepts.
    pub fn levels(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Codec::Gzip => 1..=9,
            Codec::Xz => 0..=9,
            Codec::Zstd => 1..=22,
            Codec::None => 0..=0,
        }
    }

    /// The level dpkg-deb uses when none is given (gzip 9, xz 6, zstd 3).
    pub fn default_level(self) -> u32 {
        match self {
            Codec::Gzip => 9,
            Codec::Xz => 6,
            Codec::Zstd => 3,
            Codec::None => 0,
        }
    }

    /// The name dpkg-deb's `-Z` option takes.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Xz => "xz",
            Codec::Zstd => "zstd",
            Codec::None => "none",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl AsRef<str> for Codec {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// A codec name that is not `gzip`, `xz`, `zstd` or `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression {given:?}: expected gzip, xz, zstd or none")]
pub struct UnknownCodec {
    /// The name given.
    pub given: String,
}

impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gzip" | "gz" => Ok(Codec::Gzip),
            "xz" => Ok(Codec::Xz),
            "zstd" | "zst" => Ok(Codec::Zstd),
            "none" => Ok(Codec::None),
            other => Err(UnknownCodec {
                given: other.to_owned(),
            }),
        }
    }
}

/// A codec and its level. The level is checked when the package is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Compression {
    /// The codec.
    pub codec: Codec,
    /// The level, within [`Codec::levels`].
    pub level: u32,
}

impl Compression {
    /// `codec` at `level`.
    pub fn new(codec: Codec, level: u32) -> Self {
        Compression { codec, level }
    }

    /// `codec` at the level dpkg-deb uses by default.
    pub fn default_for(codec: Codec) -> Self {
        Compression::new(codec, codec.default_level())
    }

    /// Whether the level is within [`Codec::levels`].
    pub fn level_ok(self) -> bool {
        self.codec.levels().contains(&self.level)
    }
}

impl Default for Compression {
    /// gzip level 9, what dpkg-deb writes by default: every dpkg reads it.
    fn default() -> Self {
        Compression::default_for(Codec::Gzip)
    }
}

/// The xz block size for a preset: twice its dictionary. liblzma's default is three times,
/// which for a package of a few hundred MiB leaves one of two threads idle for most of the
/// last round (64 MiB at level 6: blocks of 24, 24 and 17 MiB); twice keeps both threads busy
/// (16 MiB blocks), costs about 0.25% of output size and less memory per thread. Fixed per
/// level, so the output never depends on the thread count.
fn xz_block_size(level: u32) -> u64 {
    const MIB: u64 = 1024 * 1024;
    let dictionary = match level {
        0 => MIB / 4,
        1 => MIB,
        2 => 2 * MIB,
        3 | 4 => 4 * MIB,
        5 | 6 => 8 * MIB,
        7 => 16 * MIB,
        8 => 32 * MIB,
        _ => 64 * MIB,
    };
    2 * dictionary
}

/// The most memory a [`decoder`] may take: enough for `xz -9e` (which needs 65 MiB to decode)
/// and for zstd's default window limit (128 MiB), not for a hostile header asking for
/// gigabytes.
pub const DECODER_MEMLIMIT: u64 = 256 << 20;

/// A streaming decoder for `codec` whose memory stays under [`DECODER_MEMLIMIT`] whatever the
/// stream's headers ask for; concatenated gzip members and xz streams are read as one.
pub fn decoder<'a, R: BufRead + 'a>(reader: R, codec: Codec) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match codec {
        Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Codec::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                DECODER_MEMLIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(reader, stream))
        }
        Codec::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(reader)?;
            // 2^27 = 128 MiB, zstd's own default limit, said explicitly.
            decoder.window_log_max(27)?;
            Box::new(decoder)
        }
        Codec::None => Box::new(reader),
    })
}

/// The codec whose magic bytes start `head` (`None` when none does: a plain stream).
pub fn sniff(head: &[u8]) -> Option<Codec> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Codec::Gzip)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Codec::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Codec::Zstd)
    } else {
        None
    }
}

/// How many threads an [`Encoder`] gets by default: every core the process may use.
pub fn available_threads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// A streaming compressor writing into `W`; the output depends on the codec and level only.
pub struct Encoder<W: Write>(Inner<W>);

enum Inner<W: Write> {
    Gzip(ParallelGzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    None(W),
}

impl<W: Write> std::fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codec = match self.0 {
            Inner::Gzip(_) => Codec::Gzip,
            Inner::Xz(_) => Codec::Xz,
            Inner::Zstd(_) => Codec::Zstd,
            Inner::None(_) => Codec::None,
        };
        f.debug_struct("Encoder")
            .field("codec", &codec)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Encoder<W> {
    /// Starts compressing into `out` with up to `threads` threads. The output depends on the
    /// codec and level only, never on `threads`: xz and zstd always use their multi-threaded
    /// formats (fixed block sizes) and gzip always cuts the same chunks, so builds on machines
    /// of any size are byte-identical.
    pub fn new(out: W, compression: Compression, threads: u32) -> io::Result<Self> {
        let threads = threads.max(1);
        Ok(Encoder(match compression.codec {
            Codec::Gzip => Inner::Gzip(ParallelGzEncoder::new(out, compression.level, threads)),
            Codec::Xz => {
                let stream = liblzma::stream::MtStreamBuilder::new()
                    .preset(compression.level)
                    .block_size(xz_block_size(compression.level))
                    .threads(threads)
                    .check(liblzma::stream::Check::Crc64)
                    .encoder()
                    .map_err(io::Error::other)?;
                Inner::Xz(liblzma::write::XzEncoder::new_stream(out, stream))
            }
            Codec::Zstd => {
                let level = i32::try_from(compression.level).unwrap_or(i32::MAX);
                let mut encoder = zstd::stream::write::Encoder::new(out, level)?;
                encoder.multithread(threads)?;
                encoder.include_checksum(true)?;
                Inner::Zstd(encoder)
            }
            Codec::None => Inner::None(out),
        }))
    }

    /// Ends the stream and hands back the writer.
    pub fn finish(self) -> io::Result<W> {
        match self.0 {
            Inner::Gzip(e) => e.finish(),
            Inner::Xz(e) => e.finish(),
            Inner::Zstd(e) => e.finish(),
            Inner::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Inner::Gzip(e) => e.write(buf),
            Inner::Xz(e) => e.write(buf),
            Inner::Zstd(e) => e.write(buf),
            Inner::None(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Inner::Gzip(e) => e.flush(),
            Inner::Xz(e) => e.flush(),
            Inner::Zstd(e) => e.flush(),
            Inner::None(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn names_round_trip_and_levels() {
        for codec in [Codec::Gzip, Codec::Xz, Codec::Zstd, Codec::None] {
            assert_eq!(codec.name().parse::<Codec>(), Ok(codec));
            assert!(Compression::default_for(codec).level_ok());
        }
        assert!(!Compression::new(Codec::Gzip, 10).level_ok());
        assert!(!Compression::new(Codec::None, 1).level_ok());
        assert!("bzip2".parse::<Codec>().is_err());
    }

    #[test]
    fn xz_blocks_are_twice_the_dictionary_and_xz_reads_them() {
        assert_eq!(xz_block_size(6), 16 * 1024 * 1024);
        assert_eq!(xz_block_size(9), 128 * 1024 * 1024);
        // Level 0: 256 KiB dictionary, 512 KiB blocks; 3 MiB of input makes 6 blocks.
        let data: Vec<u8> = (0..3 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut enc = Encoder::new(Vec::new(), Compression::new(Codec::Xz, 0), 2).unwrap();
        enc.write_all(&data).unwrap();
        let packed = enc.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.xz");
        std::fs::write(&path, &packed).unwrap();
        falco_artifacts_testkit::require_tool("xz", "xz-utils").unwrap();
        let list = std::process::Command::new("xz")
            .args(["--robot", "--list"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&list.stdout);
        // `totals <streams> <blocks> …`
        let blocks = text
            .lines()
            .find_map(|l| l.strip_prefix("totals\t"))
            .and_then(|l| l.split('\t').nth(1))
            .and_then(|b| b.parse::<u32>().ok());
        assert_eq!(blocks, Some(6), "{text}");
        let unpacked = std::process::Command::new("xz")
            .args(["-dc"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(unpacked.stdout == data);
    }

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in [Codec::Gzip, Codec::Xz, Codec::Zstd, Codec::None] {
            let mut enc = Encoder::new(Vec::new(), Compression::default_for(codec), 2).unwrap();
            enc.write_all(&data).unwrap();
            let packed = enc.finish().unwrap();
            let mut out = Vec::new();
            let mut reader: Box<dyn Read> = match codec {
                Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&packed[..])),
                Codec::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(&packed[..])),
                Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(&packed[..]).unwrap()),
                Codec::None => Box::new(&packed[..]),
            };
            reader.read_to_end(&mut out).unwrap();
            assert!(out == data, "{codec}");
        }
    }
}
