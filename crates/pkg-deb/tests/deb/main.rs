//! Integration tests of falco-artifacts-pkg-deb against the real tools: `dpkg-deb`, `dpkg` on a
//! throwaway root, `lintian`; packages from `dpkg-deb -b` read back; hostile archives refused.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

mod dpkg;
mod errors;
mod hostile;
mod lintian;
mod reproducible;
mod roundtrip;
mod shared_root;
mod support;
mod tar_stream;
mod trees;
