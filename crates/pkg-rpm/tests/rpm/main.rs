//! The packages this crate writes, checked by the real `rpm` tools, and its reader and
//! extractor checked against packages `rpmbuild` writes and against hostile input.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

mod common;
mod fields;
mod header_cost;
mod hostile;
mod install;
mod reader;
mod signing;
mod stream;
mod trees;
