//! Writing, signing and reading `.rpm` packages that rpm and dnf accept, on the `rpm` crate.
//!
//! - [`RpmBuilder`] turns core's format-neutral [`PackageSpec`](core::package::PackageSpec)
//!   into an `.rpm`: `%config`/`%config(noreplace)`, directories, symlinks, modes and owners,
//!   `%post`/`%preun`/`%postun` with their interpreter, Requires/Provides/Conflicts/Obsoletes/
//!   Recommends/Suggests, gzip (default, level 6), xz, zstd or no payload compression.
//!   Reproducible: the source date is the build time and clamps every mtime, and no host
//!   name is written.
//! - Signing goes through core's object-safe [`Signer`](core::Signer) (RSA or Ed25519,
//!   SHA-256): [`RpmBuilder::with_signer`] while building, [`resign_file`] to sign or rotate the
//!   key of an existing file without rebuilding it.
//! - [`RpmInfo`] reads the headers (everything `primary.xml`, `filelists.xml` and `other.xml`
//!   need) without decompressing the payload; [`extract`] unpacks the payload with
//!   path-traversal and symlink-escape protection.
//!
//! # Compatibility
//!
//! Packages are rpm v4 format. Checked here with Debian's rpm 4.18 (`rpm -K`, `rpm -i`/`-U`/
//! `-e` into a temporary root, `rpm -qp --qf`) and against packages `rpmbuild` 4.18 writes.
//! By construction, for older releases: file digests and header/payload digests are SHA-256
//! (rpm ≥ 4.6); the header also keeps the SHA-1 header digest that EL7's rpm 4.11 checks, but
//! no signature relies on SHA-1. Signatures go into `RSAHEADER`/`DSAHEADER`, the header-only
//! tags every rpm since 4.x verifies and that yum/dnf check. EL7 (rpm 4.11) verifies RSA keys
//! only: use RSA for repositories EL7 machines read; Ed25519 needs rpm ≥ 4.14 (EL8+). zstd
//! payloads need rpm ≥ 4.14 (EL8+); gzip and xz work everywhere.
//!
//! # Memory and threads
//!
//! The payload is never held in memory: [`RpmBuilder::build`] writes the cpio archive file by
//! file through core's streaming encoders (pigz-style parallel gzip, multi-threaded xz and
//! zstd, the same bytes whatever the thread count) into an unnamed temporary file, computing
//! each file's SHA-256, the archive's and the compressed payload's in the same pass; the
//! headers, which need those digests and sizes, are assembled afterwards and the payload is
//! copied after them when the package is written. The `rpm` crate builds the header from the
//! description with empty placeholder files; the sizes and digests are then put in (it keeps
//! its own payload writer and compressors private, and holds the payload in memory).
//! Memory: a 1 MiB copy buffer plus the encoder's state (a few 256 KiB chunks per thread for
//! gzip; about 130 MiB per thread for liblzma at xz level 6).
//!
//! # Example
//!
//! ```
//! use falco_artifacts_pkg_rpm::core::package::{load_manifest_str, ManifestOptions};
//! use falco_artifacts_pkg_rpm::core::{KeyAlgorithm, PgpSigner};
//! use falco_artifacts_pkg_rpm::{Compression, RpmBuilder, RpmInfo};
//!
//! let yaml = r#"
//! name: falco
//! version: 0.45.0-36+1307474
//! arch: x86_64
//! maintainer: The Falco Authors <cncf-falco-dev@lists.cncf.io>
//! description: Falco - Cloud Native Runtime Security
//! license: Apache-2.0
//! overrides:
//!   rpm: { requires: [systemd] }
//! contents:
//!   - dst: /etc/falco/falco.yaml
//!     inline: "rules_files: []\n"
//!     type: config-noreplace
//! source_date: 1700000000
//! "#;
//! let spec = load_manifest_str(yaml, std::path::Path::new("."), &ManifestOptions::default())?;
//! let signer = PgpSigner::generate("Falco Test <test@example.com>", KeyAlgorithm::Ed25519)?;
//! let package = RpmBuilder::new(&spec)
//!     .with_compression(Compression::Xz(6))
//!     .with_signer(&signer)
//!     .build()?;
//! assert_eq!(package.file_name(), "falco-0.45.0-36+1307474-x86_64.rpm");
//!
//! let mut bytes = Vec::new();
//! package.write(&mut bytes)?;
//! let info = RpmInfo::read(&bytes[..])?;
//! assert_eq!(info.version, "0.45.0_36+1307474");
//! assert_eq!(info.release, "1");
//! assert!(info.requires.iter().any(|r| r.name == "systemd"));
//! assert!(info.files[0].noreplace);
//! assert_eq!(info.signatures.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! None: gzip, xz and zstd are always available.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod compression;
mod cpio;
mod error;
mod extract;
mod header;
mod package;
mod packager;
mod payload;
mod read;
mod relation;
mod sign;
mod validate;
mod write;

/// The format-neutral package description and the vocabulary this crate builds on.
pub use falco_artifacts_core as core;

pub use compression::Compression;
pub use error::RpmError;
pub use extract::{extract, extract_from, ExtractReport};
pub use package::RpmPackage;
pub use packager::RpmPackager;
pub use read::{split_evr, Changelog, Comparison, FileInfo, FileKind, Relation, RpmInfo};
pub use sign::resign_file;
pub use write::{ChangelogEntry, RpmBuilder};
