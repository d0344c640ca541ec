//! SHA-256 over a stream of chunks, through core's digesting writer.
use std::io::Write as _;

use falco_artifacts_core::{DigestSet, DigestingWriter, Sha256Digest};

pub(super) struct Hasher(DigestingWriter<std::io::Sink>);

impl Default for Hasher {
    fn default() -> Self {
        Hasher(DigestingWriter::new(std::io::sink(), DigestSet::SHA256))
    }
}

impl Hasher {
    pub(super) fn update(&mut self, chunk: &[u8]) {
        // Writing to a sink cannot fail.
        let _ = self.0.write_all(chunk);
    }

    pub(super) fn finish(self) -> (Sha256Digest, u64) {
        let (_, digests) = self.0.finish();
        (digests.sha256, digests.size)
    }
}
