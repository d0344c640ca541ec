//! A manifest with a directory entry of a few hundred files and a glob: `dpkg-deb -c` lists
//! every file and directory with its mode, and the package is byte-identical when the same
//! tree is generated again elsewhere (other paths, other mtimes) with the same source date.

use std::path::Path;
use std::process::Command;

use falco_artifacts_pkg_deb::core::package::{load_manifest, ManifestOptions, SourceDate};
use falco_artifacts_pkg_deb::Compression;
use falco_artifacts_testkit::trees::TreeManifest;

use super::support::{build, run, tool, SOURCE_DATE};

fn build_tree(dir: &Path, out: &Path) -> (TreeManifest, std::path::PathBuf) {
    let tree = TreeManifest::generate(dir, 300).unwrap();
    let options = ManifestOptions {
        source_date: Some(SourceDate::from_secs(SOURCE_DATE)),
        ..ManifestOptions::default()
    };
    let spec = load_manifest(&tree.manifest, &options).unwrap();
    let deb = build(&spec, Compression::default(), out);
    (tree, deb)
}

#[test]
fn dpkg_deb_lists_every_file_of_a_tree_and_glob_with_its_mode() {
    let dpkg_deb = tool("dpkg-deb", "dpkg");
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (tree, deb) = build_tree(src.path(), out.path());
    let listing = run(Command::new(&dpkg_deb).arg("-c").arg(&deb));
    let path_of = |name: &str| {
        Some(
            name.trim_start_matches('.')
                .trim_end_matches('/')
                .to_owned(),
        )
    };
    if let Err(wrong) = tree.check_listing(&listing, path_of) {
        panic!("dpkg-deb -c: {wrong}\n{listing}");
    }

    let (again_src, again_out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, again) = build_tree(again_src.path(), again_out.path());
    assert!(
        std::fs::read(&deb).unwrap() == std::fs::read(&again).unwrap(),
        "same tree and source date, different bytes"
    );
}
