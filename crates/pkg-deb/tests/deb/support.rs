//! Shared helpers: the sample package, the tools, running commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_pkg_deb::core::package::{
    load_manifest, load_manifest_str, ManifestOptions, PackageSpec, SourceDate,
};
use falco_artifacts_pkg_deb::{Compression, DebBuilder};

pub(crate) const SOURCE_DATE: u64 = 1_700_000_000;

/// The workspace's sample manifest (a Falco-like package).
pub(crate) fn sample_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/falco.yaml")
}

/// The sample package as the release would build it.
pub(crate) fn sample_spec() -> PackageSpec {
    let options = ManifestOptions {
        version: Some("0.39.0".parse().unwrap()),
        arch: Some("x86_64".parse().unwrap()),
        source_date: Some(SourceDate::from_secs(SOURCE_DATE)),
    };
    load_manifest(&sample_manifest(), &options).unwrap()
}

/// A spec from YAML text, relative paths resolved against `base`.
pub(crate) fn spec_from(yaml: &str, base: &Path) -> PackageSpec {
    load_manifest_str(yaml, base, &ManifestOptions::default()).unwrap()
}

/// Writes `spec` into `dir` and returns the package path.
pub(crate) fn build(spec: &PackageSpec, compression: Compression, dir: &Path) -> PathBuf {
    let deb = DebBuilder::new(spec)
        .with_compression(compression)
        .build()
        .unwrap();
    deb.write_to_dir(dir).unwrap().path.unwrap()
}

/// The path of `tool`; fails naming the Debian package when it is missing.
pub(crate) fn tool(tool: &str, package: &str) -> PathBuf {
    falco_artifacts_testkit::require_tool(tool, &format!("Debian package {package}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `cmd`, fails with its output unless it succeeds, returns its stdout.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
