//! Several packages extracted into one directory (a kernel's header packages, an image's root
//! filesystem): each package's links are checked against the directory as it stands, the
//! links of the packages before it included.

use falco_artifacts_pkg_deb::{DebReader, ExtractOptions, ReadError};
use falco_artifacts_testkit::hostile_tar::RawTar;

use super::tar_stream::deb;

#[test]
fn a_link_escaping_through_an_earlier_package_is_refused_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let first = deb(&RawTar::new()
        .dir("./d1/")
        .dir("./d1/d2/")
        .dir("./d1/d2/d3/")
        .symlink("./d1/d2/d3/r", "../../..")
        .finish());
    let second = deb(&RawTar::new()
        .symlink("./.config", "d1/d2/d3/r/../../../../x")
        .finish());
    let options = ExtractOptions::default();
    DebReader::new(&first[..])
        .unwrap()
        .extract(&root, &options)
        .unwrap();
    let error = DebReader::new(&second[..])
        .unwrap()
        .extract(&root, &options)
        .unwrap_err();
    match error {
        ReadError::LinkEscape { path, target, .. } => {
            assert_eq!(path, ".config");
            assert_eq!(target, "d1/d2/d3/r/../../../../x");
        }
        other => panic!("{other}"),
    }
    assert!(
        std::fs::symlink_metadata(root.join(".config")).is_err(),
        "the escaping link was left in place"
    );
}
