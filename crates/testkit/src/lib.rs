//! Starts the real services falco-artifacts' tests talk to — an S3 server, Azure Blob Storage
//! (Azurite) and Google Cloud Storage (fake-gcs-server) emulators, a container engine,
//! a container registry, a static HTTP server — on 127.0.0.1 and free ports, plus a throwaway
//! GnuPG home and a headless `chromium` ([`Chromium`]) for pages, and stops them again on drop.
//!
//! Each helper runs the program users would run (`moto_server`, `azurite-blob`,
//! `fake-gcs-server`, `dockerd`, `docker-registry`,
//! `python3 -m http.server`, `gpg`), waits until it answers, and checks the behaviour tests rely
//! on. When a program is missing the helper returns [`TestkitError::MissingTool`] naming the
//! Debian or PyPI package to install; it never skips. Each service's output goes to a log file
//! whose tail is part of the error when it fails to start.
//!
//! # Example
//!
//! ```no_run
//! use falco_artifacts_testkit::{GpgHome, MotoS3, TestkitError};
//!
//! fn publish_round_trip() -> Result<(), TestkitError> {
//!     let s3 = MotoS3::start()?; // stopped when dropped
//!     s3.create_bucket("falco-artifacts")?;
//!     s3.put_object("falco-artifacts", "deb/stable/falco.deb", b"...")?;
//!     assert!(s3.get_object("falco-artifacts", "deb/stable/falco.deb")?.is_some());
//!
//!     let signer = GpgHome::new()?;
//!     let fingerprint = signer.generate_key("Test <test@example.invalid>", "ed25519")?;
//!     let verifier = GpgHome::new()?;
//!     verifier.import_key(&signer.export_public_key(&fingerprint)?)?;
//!     Ok(())
//! }
//! ```
//!
//! # Features
//!
//! None.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::Duration;

mod apt;
mod azurite;
mod chromium;
mod client;
mod dnf;
mod docker;
mod error;
mod fake_gcs;
pub mod fuzz;
mod gpg;
pub mod hostile_tar;
mod http;
mod moto;
mod port;
mod process;
mod registry;
mod rpmkeys;
mod tool;
pub mod trees;

pub use apt::AptSandbox;
pub use azurite::Azurite;
pub use chromium::Chromium;
pub use dnf::DnfSandbox;
pub use docker::{ApiResponse, DockerEngine};
pub use error::TestkitError;
pub use fake_gcs::FakeGcs;
pub use gpg::{GpgHome, GpgVerification};
pub use http::HttpServer;
pub use moto::MotoS3;
pub use port::free_port;
pub use registry::Registry;
pub use rpmkeys::{RpmCheck, RpmKeyring};
pub use tool::require_tool;

/// How long a service (other than dockerd) gets to start answering.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
