//! The Falco release tarball: `falco-<version>-<arch>.tar.gz` with the single top directory
//! `falco-<version>-<arch>/` holding the install tree, a `.sha256` in `sha256sum` format and,
//! with a signer, an armored `.asc`; and a reader that lists and safely extracts tarballs.
//!
//! The tarball is streamed (payload files are never held in memory), compressed on every core,
//! and reproducible: entries sorted by path, mtimes clamped to the source date, uid/gid 0 and
//! empty owner names unless set, no timestamp in the gzip header; the same description and
//! source date give the same bytes whatever the machine. Entries marked for DEB/RPM only
//! (systemd units) are left out.
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
//! use falco_artifacts_pkg_tar::{list_file, TarballBuilder};
//!
//! let yaml = "name: falco\nversion: 0.39.0\narch: x86_64\nmaintainer: m\ndescription: d\n\
//!             license: Apache-2.0\nsource_date: 1700000000\ncontents:\n\
//!             - { dst: /etc/falco/falco.yaml, inline: \"a: 1\\n\", type: config-noreplace }\n";
//! let spec = load_manifest_str(yaml, Path::new("."), &ManifestOptions::default())?;
//! let out = tempfile::tempdir()?;
//! let tarball = TarballBuilder::new(&spec).build(out.path())?;
//! assert!(tarball.path.ends_with("falco-0.39.0-x86_64.tar.gz"));
//! let names: Vec<String> = list_file(&tarball.path)?.into_iter().map(|e| e.path).collect();
//! assert_eq!(names, [
//!     "falco-0.39.0-x86_64/",
//!     "falco-0.39.0-x86_64/etc/",
//!     "falco-0.39.0-x86_64/etc/falco/",
//!     "falco-0.39.0-x86_64/etc/falco/falco.yaml",
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! None: gzip, xz and zstd are always available (core's `compress` encoders, shared with
//! pkg-deb: gzip is compressed pigz-style on every core into one ordinary gzip member).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod extract;
mod layout;
mod packager;
mod reader;
mod writer;

pub use error::{BuildError, ReadError};
pub use extract::{extract, ExtractOptions, ExtractReport};
pub use falco_artifacts_core::compress::{Codec, Compression, UnknownCodec};
pub use packager::TarballPackager;
pub use reader::{list_entries, list_file, EntryKind, TarEntry};
pub use writer::{sha256sum_line, Tarball, TarballBuilder};
