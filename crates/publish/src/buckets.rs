//! The bucket layout APT and YUM share: packages spread by a hash of their name over
//! [`BUCKETS`] buckets, each compressed into its own gzip member, so a publish recompresses
//! only the buckets of the packages it adds and copies the others' bytes.
//!
//! gzip readers (zlib's `gzread`, which apt, libsolv and librepo use, Python's `gzip`, `zcat`)
//! read concatenated members as one stream. Member bytes are a function of the text and the
//! level alone (no timestamp), so a repository updated one package at a time is
//! byte-identical to one built whole. Every version of a package lives in one bucket, so
//! retention, which compares a package's versions, needs only that bucket.

use std::io::Write as _;

use falco_artifacts_core::compress::available_threads;
use falco_artifacts_core::Sha256Digest;

/// Enough buckets that one of a 10,000-package index is small (about 50 KiB), few enough
/// that a small repository is not mostly gzip headers.
pub(crate) const BUCKETS: u8 = 64;

/// The bucket every version of the package called `name` goes to.
pub(crate) fn bucket(name: &str) -> u8 {
    Sha256Digest::of_bytes(name.as_bytes()).as_bytes()[0] % BUCKETS
}

/// One gzip member holding `data`, without a timestamp.
pub(crate) fn gzip_member(data: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new().write(
        Vec::with_capacity(data.len() / 3 + 64),
        flate2::Compression::new(level),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

/// One gzip member per text, on every core when there is enough to share.
pub(crate) fn compress(texts: &[(u8, String)], level: u32) -> std::io::Result<Vec<Vec<u8>>> {
    let total: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let threads = usize::try_from(available_threads())
        .unwrap_or(1)
        .min(texts.len())
        .max(1);
    if threads == 1 || total < 256 * 1024 {
        return texts
            .iter()
            .map(|(_, t)| gzip_member(t.as_bytes(), level))
            .collect();
    }
    let per = texts.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = texts
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(_, t)| gzip_member(t.as_bytes(), level))
                        .collect::<std::io::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(texts.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| std::io::Error::other("a compression thread panicked"))??;
            out.extend(part);
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(bucket("falco"), bucket("falco"));
        let used: std::collections::BTreeSet<u8> =
            (0..1000).map(|n| bucket(&format!("pkg-{n}"))).collect();
        assert_eq!(used.len(), usize::from(BUCKETS));
    }

    #[test]
    fn parallel_and_serial_compression_agree() {
        let texts: Vec<(u8, String)> = (0..8u8)
            .map(|b| (b, format!("Package: p{b}\n").repeat(10_000)))
            .collect();
        let parallel = compress(&texts, 1).unwrap();
        for ((_, text), member) in texts.iter().zip(&parallel) {
            assert_eq!(member, &gzip_member(text.as_bytes(), 1).unwrap());
        }
    }
}
