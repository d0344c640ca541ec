//! Compression of the tarball: gzip (default), xz, zstd or none, each with a level.

use std::io::{self, Write};

use crate::error::BuildError;
use crate::pgzip::ParallelGzip;

/// How the tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip at level 0–9 (default 6), parallel across cores, `.tar.gz`.
    Gzip {
        /// 0–9.
        level: u32,
    },
    /// xz at level 0–9, multi-threaded blocks, `.tar.xz`.
    Xz {
        /// 0–9.
        level: u32,
    },
    /// zstd at level 1–22, multi-threaded, `.tar.zst`.
    Zstd {
        /// 1–22.
        level: u32,
    },
    /// No compression, `.tar`.
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip { level: 6 }
    }
}

impl Compression {
    /// The file extension after the package name: `tar.gz`, `tar.xz`, `tar.zst`, `tar`.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip { .. } => "tar.gz",
            Compression::Xz { .. } => "tar.xz",
            Compression::Zstd { .. } => "tar.zst",
            Compression::None => "tar",
        }
    }

    pub(crate) fn check(self) -> Result<(), BuildError> {
        let (codec, level, min, max) = match self {
            Compression::Gzip { level } => ("gzip", level, 0, 9),
            Compression::Xz { level } => ("xz", level, 0, 9),
            Compression::Zstd { level } => ("zstd", level, 1, 22),
            Compression::None => return Ok(()),
        };
        if (min..=max).contains(&level) {
            Ok(())
        } else {
            Err(BuildError::Level {
                codec,
                level,
                min,
                max,
            })
        }
    }

    /// An encoder writing into `out` with up to `threads` threads.
    pub(crate) fn encoder<W: Write>(self, out: W, threads: usize) -> io::Result<Encoder<W>> {
        let workers = u32::try_from(threads.max(1)).unwrap_or(u32::MAX);
        Ok(match self {
            Compression::Gzip { level } => Encoder::Gzip(ParallelGzip::new(out, level, threads)),
            Compression::Xz { level } => {
                // Always the block-based multi-threaded encoder, even on one thread: its output
                // depends on the block size, not on the thread count, so it is reproducible.
                let stream = liblzma::stream::MtStreamBuilder::new()
                    .preset(level)
                    .threads(workers)
                    .check(liblzma::stream::Check::Crc64)
                    .encoder()
                    .map_err(io::Error::other)?;
                Encoder::Xz(liblzma::write::XzEncoder::new_stream(out, stream))
            }
            Compression::Zstd { level } => {
                let mut encoder =
                    zstd::stream::write::Encoder::new(out, i32::try_from(level).unwrap_or(3))?;
                // zstd's multi-threaded output does not depend on the number of workers (≥ 1).
                encoder.multithread(workers)?;
                encoder.include_checksum(true)?;
                Encoder::Zstd(encoder)
            }
            Compression::None => Encoder::None(out),
        })
    }
}

/// One of the encoders, finished uniformly.
pub(crate) enum Encoder<W: Write> {
    Gzip(ParallelGzip<W>),
    Xz(liblzma::write::XzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    None(W),
}

impl<W: Write> Encoder<W> {
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
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
