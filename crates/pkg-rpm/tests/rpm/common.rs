//! Imports and helpers every test module shares.

pub(crate) use std::fs;
pub(crate) use std::os::unix::fs::PermissionsExt;
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::Command;

pub(crate) use falco_artifacts_core::package::{
    load_manifest, ManifestOptions, PackageSpec, Script, SourceDate,
};
pub(crate) use falco_artifacts_core::{Arch, KeyAlgorithm, PgpSigner, Signer, Version};
pub(crate) use falco_artifacts_pkg_rpm::{
    extract, resign_file, ChangelogEntry, Compression, FileKind, RpmBuilder, RpmError, RpmInfo,
};
pub(crate) use falco_artifacts_testkit::require_tool;
pub(crate) use tempfile::TempDir;
pub(crate) const SOURCE_DATE: u64 = 1_700_000_000;

pub(crate) fn tool(name: &str) -> PathBuf {
    require_tool(name, "Debian package rpm").expect("the rpm tools are needed")
}

pub(crate) fn sample_spec(version: &str) -> PackageSpec {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/falco.yaml");
    let options = ManifestOptions {
        version: Some(version.parse::<Version>().unwrap()),
        arch: Some(Arch::X86_64),
        source_date: Some(SourceDate::from_secs(SOURCE_DATE)),
    };
    load_manifest(&manifest, &options).unwrap()
}

pub(crate) fn build(spec: &PackageSpec, dir: &Path, signer: Option<&dyn Signer>) -> PathBuf {
    let mut builder = RpmBuilder::new(spec);
    if let Some(signer) = signer {
        builder = builder.with_signer(signer);
    }
    builder.build().unwrap().write_to_dir(dir).unwrap()
}

/// Runs `cmd`, asserts it succeeded, returns stdout.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn qf(rpm: &Path, format: &str) -> String {
    run(Command::new(tool("rpm"))
        .args(["-qp", "--nosignature", "--qf", format])
        .arg(rpm))
}
