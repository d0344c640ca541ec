//! Payload compression and its level.

use std::fmt;

use falco_artifacts_core::compress::{self, Codec};

use crate::RpmError;

/// How the cpio payload is compressed, with the level.
///
/// The default is gzip at level 6: every rpm since EL5 reads it, and it is the level where
/// gzip's size gain stops paying for its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression.
    None,
    /// gzip, levels 0–9.
    Gzip(u32),
    /// xz, levels 0–9 (rpm ≥ 4.7, every EL release this crate targets).
    Xz(u32),
    /// zstd, levels 1–22 (rpm ≥ 4.14: EL8 and later, not EL7).
    Zstd(i32),
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip(6)
    }
}

impl Compression {
    /// The compressor's name as rpm's `PAYLOADCOMPRESSOR` tag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip(_) => "gzip",
            Compression::Xz(_) => "xz",
            Compression::Zstd(_) => "zstd",
        }
    }

    /// The default level of the named compressor (`none`, `gzip`, `xz`, `zstd`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip(6)),
            "xz" => Some(Compression::Xz(6)),
            "zstd" | "zst" => Some(Compression::Zstd(19)),
            _ => None,
        }
    }

    /// The same compressor at `level`.
    pub fn with_level(self, level: i32) -> Self {
        let unsigned = u32::try_from(level).unwrap_or(u32::MAX);
        match self {
            Compression::None => Compression::None,
            Compression::Gzip(_) => Compression::Gzip(unsigned),
            Compression::Xz(_) => Compression::Xz(unsigned),
            Compression::Zstd(_) => Compression::Zstd(level),
        }
    }

    pub(crate) fn checked(self) -> Result<rpm::CompressionWithLevel, RpmError> {
        let out_of_range = |compressor, level: i64, min, max| RpmError::CompressionLevel {
            compressor,
            level: i32::try_from(level).unwrap_or(i32::MAX),
            min,
            max,
        };
        Ok(match self {
            Compression::None => rpm::CompressionWithLevel::None,
            Compression::Gzip(l) if l <= 9 => rpm::CompressionWithLevel::Gzip(l),
            Compression::Gzip(l) => return Err(out_of_range("gzip", l.into(), 0, 9)),
            Compression::Xz(l) if l <= 9 => rpm::CompressionWithLevel::Xz(l),
            Compression::Xz(l) => return Err(out_of_range("xz", l.into(), 0, 9)),
            Compression::Zstd(l) if (1..=22).contains(&l) => rpm::CompressionWithLevel::Zstd(l),
            Compression::Zstd(l) => return Err(out_of_range("zstd", l.into(), 1, 22)),
        })
    }
}

impl Compression {
    /// The settings of core's streaming encoder for this compressor, once
    /// [`checked`](Self::checked).
    pub(crate) fn encoder(self) -> compress::Compression {
        let (codec, level) = match self {
            Compression::None => (Codec::None, 0),
            Compression::Gzip(l) => (Codec::Gzip, l),
            Compression::Xz(l) => (Codec::Xz, l),
            Compression::Zstd(l) => (Codec::Zstd, u32::try_from(l).unwrap_or(1)),
        };
        compress::Compression::new(codec, level)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Gzip(l) | Compression::Xz(l) => write!(f, "{} level {l}", self.name()),
            Compression::Zstd(l) => write!(f, "zstd level {l}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_checked() {
        assert!(Compression::Gzip(9).checked().is_ok());
        assert!(matches!(
            Compression::Gzip(10).checked(),
            Err(RpmError::CompressionLevel { level: 10, .. })
        ));
        assert!(Compression::Zstd(0).checked().is_err());
        assert!(Compression::Xz(6).checked().is_ok());
        assert_eq!(
            Compression::from_name("xz").map(|c| c.with_level(3)),
            Some(Compression::Xz(3))
        );
        assert_eq!(Compression::default().to_string(), "gzip level 6");
    }
}
