//! Running the release example from the top-level tests.
#![allow(dead_code, reason = "each test binary uses part of these helpers")]

pub(crate) mod prebuilt;
pub(crate) mod site;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The example binary cargo built beside this test (`cargo test` builds examples).
pub(crate) fn release_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = debug_dir.join("examples/release");
    assert!(
        bin.exists(),
        "{} missing: run through cargo test, which builds examples",
        bin.display()
    );
    bin
}

/// Runs the example with `args`, without the caller's `SOURCE_DATE_EPOCH`.
pub(crate) fn run(args: &[&str]) -> Output {
    run_with(args, &[])
}

/// Runs the example with `args` and extra environment variables.
pub(crate) fn run_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(release_bin())
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .envs(env.iter().copied())
        .output()
        .expect("run the release example")
}

/// Generates a signing key and writes its armored secret to `<dir>/key.asc`; the key and
/// that path.
pub(crate) fn write_test_key(dir: &std::path::Path) -> (falco_artifacts::core::PgpSigner, PathBuf) {
    use falco_artifacts::core::{KeyAlgorithm, PgpSigner};
    let key = PgpSigner::generate("Test <test@example.com>", KeyAlgorithm::Ed25519).unwrap();
    let path = dir.join("key.asc");
    std::fs::write(&path, key.secret_key_armored().unwrap()).unwrap();
    (key, path)
}
