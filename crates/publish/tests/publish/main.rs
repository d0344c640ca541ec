//! The publish crate against real stores and real clients: repositories on `file://` (served
//! over loopback HTTP by Python's `http.server`), on S3 (`moto_server`), on Azure Blob Storage
//! (Azurite) and Google Cloud Storage (fake-gcs-server), downloaded with
//! `curl`, checked with `sha256sum -c` and `gpg --verify`, under concurrency and injected
//! store failures.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

mod apt;
mod aptbuckets;
mod aptclient;
#[cfg(feature = "azure")]
mod azure;
mod batch;
mod bin;
#[cfg(feature = "s3")]
mod cdn;
mod common;
mod concurrency;
mod contract;
mod deferred;
mod faults;
#[cfg(feature = "gcs")]
mod gcs;
mod generic;
#[cfg(any(feature = "s3", feature = "azure"))]
mod lockrace;
mod maintain;
mod orphans;
mod protocol;
mod resign;
#[cfg(feature = "s3")]
mod s3;
mod scenarios;
mod yum;
mod yumbuckets;
mod yumclient;
mod yumfail;
mod yumparity;
#[cfg(feature = "s3")]
mod yums3;
