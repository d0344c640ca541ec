//! The registry HTTP API: client, auth, media types, operations.

mod api;
mod auth;
#[cfg(test)]
mod auth_tests;
pub(crate) mod client;
pub(crate) mod media;

pub(crate) use api::digest_of;
pub use api::RawManifest;
pub use client::RegistryClient;
