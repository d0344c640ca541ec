//! The compressors of `control.tar` and `data.tar`: which codec, which level, and the streaming
//! encoders and decoders behind them.

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::str::FromStr;

use crate::pgzip::ParallelGzEncoder;

/// A compression codec dpkg reads.
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

    pub(crate) fn level_ok(self) -> bool {
        self.codec.levels().contains(&self.level)
    }
}

impl Default for Compression {
    /// gzip level 9, what dpkg-deb writes by default: every dpkg reads it.
    fn default() -> Self {
        Compression::default_for(Codec::Gzip)
    }
}

/// A streaming compressor writing into `W`.
pub(crate) enum Encoder<W: Write> {
    Gzip(ParallelGzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    None(W),
}

impl<W: Write> Encoder<W> {
    /// Starts compressing into `out`. The output depends on the codec and level only, never on
    /// `threads`: xz and zstd always use their multi-threaded formats (fixed block sizes) and
    /// gzip always cuts the same chunks, so builds on machines of any size are byte-identical.
    pub(crate) fn new(out: W, compression: Compression, threads: u32) -> io::Result<Self> {
        let threads = threads.max(1);
        Ok(match compression.codec {
            Codec::Gzip => Encoder::Gzip(ParallelGzEncoder::new(out, compression.level, threads)),
            Codec::Xz => {
                let stream = liblzma::stream::MtStreamBuilder::new()
                    .preset(compression.level)
                    .threads(threads)
                    .check(liblzma::stream::Check::Crc64)
                    .encoder()
                    .map_err(io::Error::other)?;
                Encoder::Xz(liblzma::write::XzEncoder::new_stream(out, stream))
            }
            Codec::Zstd => {
                let level = i32::try_from(compression.level).unwrap_or(i32::MAX);
                let mut encoder = zstd::stream::write::Encoder::new(out, level)?;
                encoder.multithread(threads)?;
                encoder.include_checksum(true)?;
                Encoder::Zstd(encoder)
            }
            Codec::None => Encoder::None(out),
        })
    }

    /// Ends the stream and hands back the writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::None(w) => Ok(w),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::None(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::None(w) => w.flush(),
        }
    }
}

/// How a member of a `.deb` read back is compressed, from its name's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberCompression {
    /// `.gz`
    Gzip,
    /// `.xz`
    Xz,
    /// `.zst`
    Zstd,
    /// `.lzma` (legacy, read only)
    Lzma,
    /// `.bz2` (legacy; recognised, not decoded)
    Bzip2,
    /// No suffix.
    None,
}

impl MemberCompression {
    /// The compression of a member called `<stem><suffix>`, if the suffix is one dpkg knows.
    pub(crate) fn from_suffix(suffix: &str) -> Option<Self> {
        Some(match suffix {
            ".gz" => MemberCompression::Gzip,
            ".xz" => MemberCompression::Xz,
            ".zst" => MemberCompression::Zstd,
            ".lzma" => MemberCompression::Lzma,
            ".bz2" => MemberCompression::Bzip2,
            "" => MemberCompression::None,
            _ => return None,
        })
    }
}

/// The most memory a decoder may take: enough for `xz -9e` (674 MiB needs 65 MiB to decode)
/// and for zstd's default window limit, not for a hostile header asking for gigabytes.
const DECODER_MEMLIMIT: u64 = 256 << 20;

/// A streaming decoder for `compression`; `None` for bzip2, which is not decoded.
pub(crate) fn decoder<'a, R: BufRead + 'a>(
    reader: R,
    compression: MemberCompression,
) -> io::Result<Option<Box<dyn Read + 'a>>> {
    Ok(Some(match compression {
        MemberCompression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        MemberCompression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                DECODER_MEMLIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(reader, stream))
        }
        MemberCompression::Lzma => {
            let stream = liblzma::stream::Stream::new_lzma_decoder(DECODER_MEMLIMIT)
                .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(reader, stream))
        }
        MemberCompression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(reader)?;
            decoder.window_log_max(27)?;
            Box::new(decoder)
        }
        MemberCompression::None => Box::new(reader),
        MemberCompression::Bzip2 => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for (codec, member) in [
            (Codec::Gzip, MemberCompression::Gzip),
            (Codec::Xz, MemberCompression::Xz),
            (Codec::Zstd, MemberCompression::Zstd),
            (Codec::None, MemberCompression::None),
        ] {
            let mut enc = Encoder::new(Vec::new(), Compression::default_for(codec), 2).unwrap();
            enc.write_all(&data).unwrap();
            let packed = enc.finish().unwrap();
            let mut out = Vec::new();
            decoder(&packed[..], member)
                .unwrap()
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert!(out == data, "{codec}");
        }
    }
}
