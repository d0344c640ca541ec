//! A manifest with a directory entry of a few hundred files and a glob: `dpkg-deb -c` lists
//! every file and directory with its mode, and the package is byte-identical when the same
//! tree is generated again elsewhere (other paths, other mtimes) with the same source date.

use std::path::Path;
use std::process::Command;

use falco_artifacts_pkg_deb::core::package::{load_manifest, ManifestOptions, SourceDate};
use falco_artifacts_pkg_deb::Compression;
use falco_artifacts_testkit::trees::{ls_mode, TreeManifest};

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
    let listed: std::collections::HashMap<String, String> = listing
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let path = f.get(5)?.trim_start_matches('.').trim_end_matches('/');
            Some((path.to_owned(), f[0].to_owned()))
        })
        .collect();
    for (path, mode) in &tree.files {
        assert_eq!(
            listed.get(path),
            Some(&ls_mode(*mode, false)),
            "{path} in dpkg-deb -c:\n{listing}"
        );
    }
    for (path, mode) in &tree.dirs {
        assert_eq!(listed.get(path), Some(&ls_mode(*mode, true)), "{path}");
    }
    assert!(!listing.contains("README.md"), "the glob took only *.so");
    let files = listing.lines().filter(|l| l.starts_with('-')).count();
    assert_eq!(files, tree.files.len(), "{listing}");

    let (again_src, again_out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, again) = build_tree(again_src.path(), again_out.path());
    assert!(
        std::fs::read(&deb).unwrap() == std::fs::read(&again).unwrap(),
        "same tree and source date, different bytes"
    );
}
