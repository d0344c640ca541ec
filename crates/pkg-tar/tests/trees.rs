//! A manifest with a directory entry of a few hundred files and a glob: GNU `tar -tvzf` lists
//! every file and directory with its mode under the top directory, and the tarball is
//! byte-identical when the same tree is generated again elsewhere (other paths, other
//! mtimes) with the same source date.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::package::{load_manifest, ManifestOptions, SourceDate};
use falco_artifacts_pkg_tar::TarballBuilder;
use falco_artifacts_testkit::require_tool;
use falco_artifacts_testkit::trees::TreeManifest;

fn build_tree(dir: &Path, out: &Path) -> (TreeManifest, PathBuf) {
    let tree = TreeManifest::generate(dir, 300).unwrap();
    let options = ManifestOptions {
        source_date: Some(SourceDate::from_secs(1_700_000_000)),
        ..ManifestOptions::default()
    };
    let spec = load_manifest(&tree.manifest, &options).unwrap();
    let tarball = TarballBuilder::new(&spec).build(out).unwrap();
    (tree, tarball.path)
}

#[test]
fn gnu_tar_lists_every_file_of_a_tree_and_glob_with_its_mode() {
    let tar = require_tool("tar", "Debian package tar").unwrap();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (tree, tarball) = build_tree(src.path(), out.path());
    let output = Command::new(&tar)
        .arg("-tvzf")
        .arg(&tarball)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listing = String::from_utf8(output.stdout).unwrap();
    let top = "falco-0.45.0-x86_64";
    let path_of = |name: &str| Some(name.strip_prefix(top)?.trim_end_matches('/').to_owned());
    if let Err(wrong) = tree.check_listing(&listing, path_of) {
        panic!("tar -tvzf: {wrong}\n{listing}");
    }

    let (again_src, again_out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, again) = build_tree(again_src.path(), again_out.path());
    assert!(
        std::fs::read(&tarball).unwrap() == std::fs::read(&again).unwrap(),
        "same tree and source date, different bytes"
    );
}
