//! Images built by a real dockerd, pushed to a real docker-registry (both started by testkit on
//! loopback), and read back from the outside with `skopeo inspect`.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

mod bad_input;
mod common;
mod index_mirror;
mod runtime;
mod sbom_signature;
mod tarball_image;
mod user_dockerfile;
