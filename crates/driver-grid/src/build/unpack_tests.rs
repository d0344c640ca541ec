//! Header packages unpacked into one kernel root: links checked against the whole root as it
//! stands, `.config` written without following what is in its place, and unpacking that
//! stops at the build's deadline or cancellation.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_pkg_deb::{DebBuilder, ReadError};

use super::command::CancelToken;
use super::unpack::{
    repair, unpack_package, unpack_package_until, write_kernel_config, KernelTree, UnpackError,
};

/// A `.deb` named `name` holding the symlinks `(path, target)`, written into `dir`.
fn deb_with_links(dir: &Path, name: &str, links: &[(&str, &str)]) -> PathBuf {
    let mut yaml = format!(
        "name: {name}\nversion: 1.0.0\narch: x86_64\nmaintainer: t <t@example.invalid>\n\
         description: d\nlicense: GPL-2.0\nsource_date: 1700000000\ncontents:\n"
    );
    for (path, target) in links {
        yaml.push_str(&format!(
            "  - {{ dst: {path}, type: symlink, target: \"{target}\" }}\n"
        ));
    }
    let spec = load_manifest_str(&yaml, dir, &ManifestOptions::default()).unwrap();
    let path = dir.join(format!("{name}.deb"));
    let mut file = fs::File::create(&path).unwrap();
    DebBuilder::new(&spec)
        .build()
        .unwrap()
        .write_to(&mut file)
        .unwrap();
    path
}

fn two_packages(dir: &Path) -> (PathBuf, PathBuf) {
    let first = deb_with_links(dir, "first", &[("/d1/d2/d3/r", "../../..")]);
    let second = deb_with_links(dir, "second", &[("/.config", "d1/d2/d3/r/../../../../x")]);
    (first, second)
}

#[test]
fn a_link_escaping_through_another_package_is_refused_in_either_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = two_packages(tmp.path());

    let root = tmp.path().join("root-a");
    unpack_package(&first, &root).unwrap();
    match unpack_package(&second, &root).unwrap_err() {
        UnpackError::Deb { source, .. } => {
            assert!(
                matches!(*source, ReadError::LinkEscape { ref path, .. } if path == ".config"),
                "{source}"
            );
        }
        other => panic!("{other}"),
    }

    // The other way round each package passes alone; the whole root, once both are in, does
    // not.
    let root = tmp.path().join("root-b");
    unpack_package(&second, &root).unwrap();
    unpack_package(&first, &root).unwrap();
    match repair(&root, "1.0").unwrap_err() {
        UnpackError::LinkEscape { link, target } => {
            assert_eq!(link, Path::new(".config"));
            assert_eq!(target, Path::new("d1/d2/d3/r/../../../../x"));
        }
        other => panic!("{other}"),
    }
    assert!(fs::symlink_metadata(root.join(".config")).is_err());
}

#[test]
fn kernel_config_replaces_a_link_instead_of_writing_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let build_dir = tmp.path().join("usr/src/linux-headers-1.0");
    fs::create_dir_all(&build_dir).unwrap();
    fs::write(build_dir.join("Makefile"), "all:\n").unwrap();
    std::os::unix::fs::symlink("Makefile", build_dir.join(".config")).unwrap();
    let tree = KernelTree {
        root: tmp.path().to_owned(),
        build_dir: build_dir.clone(),
        source_dir: build_dir.clone(),
    };
    let path = write_kernel_config(&tree, b"CONFIG_X=y\n").unwrap();
    assert_eq!(path, build_dir.join(".config"));
    assert_eq!(fs::read(build_dir.join("Makefile")).unwrap(), b"all:\n");
    let meta = fs::symlink_metadata(&path).unwrap();
    assert!(meta.is_file(), "the link is still there");
    assert_eq!(fs::read(&path).unwrap(), b"CONFIG_X=y\n");
}

#[test]
fn unpacking_stops_when_cancelled_or_late() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, _) = two_packages(tmp.path());
    let cancelled = CancelToken::new();
    cancelled.cancel();
    let root = tmp.path().join("root");
    let error = unpack_package_until(&first, &root, &cancelled, None).unwrap_err();
    assert!(matches!(error, UnpackError::Stopped { .. }), "{error}");
    let past = Instant::now() - Duration::from_secs(1);
    let error = unpack_package_until(&first, &root, &CancelToken::new(), Some(past)).unwrap_err();
    assert!(matches!(error, UnpackError::Stopped { .. }), "{error}");
    assert!(!root.join("d1").exists(), "unpacked although stopped");
    let later = Instant::now() + Duration::from_secs(600);
    unpack_package_until(&first, &root, &CancelToken::new(), Some(later)).unwrap();
    assert!(fs::symlink_metadata(root.join("d1/d2/d3/r")).is_ok());
}
