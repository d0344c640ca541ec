//! Writing and reading `.deb` packages that dpkg, apt and lintian accept: streaming with
//! bounded memory, byte-for-byte reproducible, hostile input refused with typed errors.
//!
//! Writing turns the format-neutral [`PackageSpec`](falco_artifacts_core::package::PackageSpec)
//! into `debian-binary`, `control.tar.*` (`control`, `md5sums`, `conffiles`, maintainer
//! scripts) and `data.tar.*` (gzip on every core, xz, zstd or none). Entries are sorted, every
//! time stamp is the source date, owners are `root` unless set, and compressed headers carry no
//! time: the same description and source date give the same bytes.
//!
//! Reading opens a `.deb` from a path or a stream, parses its control fields (raw stanza
//! kept), lists the data tree or extracts it into a directory without ever writing outside it.
//!
//! # Example
//!
//! ```
//! use falco_artifacts_pkg_deb::{Codec, Compression, DebBuilder, DebReader, DataKind};
//! use falco_artifacts_pkg_deb::core::package::{load_manifest_str, ManifestOptions};
//!
//! let yaml = r#"
//! name: falco
//! version: 0.39.0
//! arch: x86_64
//! maintainer: The Falco Authors <cncf-falco-dev@lists.cncf.io>
//! description: |
//!   Falco - Cloud Native Runtime Security
//!   Detects unexpected behaviour in hosts and containers.
//! license: Apache-2.0
//! contents:
//!   - dst: /etc/falco/falco.yaml
//!     inline: "rules_files: []\n"
//!     type: config-noreplace
//!   - dst: /usr/bin/falco-link
//!     type: symlink
//!     target: falco
//! source_date: 1700000000
//! "#;
//! let spec = load_manifest_str(yaml, std::path::Path::new("."), &ManifestOptions::default())?;
//! let deb = DebBuilder::new(&spec)
//!     .with_compression(Compression::new(Codec::Zstd, 3))
//!     .build()?;
//! let mut bytes = Vec::new();
//! deb.write_to(&mut bytes)?;
//!
//! let reader = DebReader::new(&bytes[..])?;
//! assert_eq!(reader.control().version(), "0.39.0");
//! assert_eq!(reader.control().architecture(), "amd64");
//! assert_eq!(reader.conffiles(), ["/etc/falco/falco.yaml"]);
//! assert_eq!(reader.data_member(), "data.tar.zst");
//! let entries = reader.entries()?;
//! assert!(entries.iter().any(|e| e.path == "usr/bin/falco-link"
//!     && e.kind == DataKind::Symlink { target: "falco".into() }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! None: gzip (zlib-rs), xz (liblzma, static) and zstd are always built in.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod compression;
mod control;
mod error;
mod packager;
mod read;
mod write;

/// The format-neutral package description and the vocabulary this crate builds on.
pub use falco_artifacts_core as core;

pub use compression::{Codec, Compression, MemberCompression, UnknownCodec};
pub use control::Control;
pub use error::{BuildError, ControlError, ReadError};
pub use packager::DebPackager;
pub use read::ar::TruncatedMember;
pub use read::{
    AbsoluteSymlinks, DataEntry, DataKind, DebReader, ExtractOptions, MAX_CONTROL_SIZE,
};
pub use write::{Deb, DebBuilder, DebReport, AR_MAX_MEMBER_SIZE};
