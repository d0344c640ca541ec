//! Reading the compressed members of a `.deb`; the codecs and encoders that write them live in
//! core's `compress` module, shared with the tarball.

use std::io::{self, BufRead, Read};

pub(crate) use falco_artifacts_core::compress::Encoder;
use falco_artifacts_core::compress::DECODER_MEMLIMIT;
pub use falco_artifacts_core::compress::{Codec, Compression, UnknownCodec};

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

/// A streaming decoder for `compression`, its memory bounded (core's shared decoders);
/// `None` for bzip2, which is not decoded.
pub(crate) fn decoder<'a, R: BufRead + 'a>(
    reader: R,
    compression: MemberCompression,
) -> io::Result<Option<Box<dyn Read + 'a>>> {
    let codec = match compression {
        MemberCompression::Gzip => Codec::Gzip,
        MemberCompression::Xz => Codec::Xz,
        MemberCompression::Zstd => Codec::Zstd,
        MemberCompression::None => Codec::None,
        MemberCompression::Lzma => {
            let stream = liblzma::stream::Stream::new_lzma_decoder(DECODER_MEMLIMIT)
                .map_err(io::Error::other)?;
            return Ok(Some(Box::new(liblzma::bufread::XzDecoder::new_stream(
                reader, stream,
            ))));
        }
        MemberCompression::Bzip2 => return Ok(None),
    };
    falco_artifacts_core::compress::decoder(reader, codec).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
