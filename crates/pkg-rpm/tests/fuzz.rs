//! Bounded fuzzing of the rpm reader on stable (`cargo fuzz` in `fuzz/` goes deeper on
//! nightly): mutations of packages `rpmbuild` wrote (`tests/fuzz-seeds`, from
//! `scripts/make-fuzz-seeds`), their headers read and their payloads extracted. Nothing may
//! panic or reach the reader's panic backstop (which would mean a bounds check is missing),
//! nothing may be written beside the target, and peak memory stays within the budget.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::fs;
use std::path::Path;

use falco_artifacts_core::package::first_escaping_link;
use falco_artifacts_pkg_rpm::{extract_from, RpmError, RpmInfo};
use falco_artifacts_testkit::fuzz::{fuzz, seeds_in, Budget};

fn exercise(bytes: &[u8]) {
    if let Err(RpmError::Corrupt {
        offset: None, why, ..
    }) = RpmInfo::read(bytes)
    {
        panic!("the rpm crate panicked behind the bounds checks: {why}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let extracted = extract_from(std::io::Cursor::new(bytes.to_vec()), "fuzz.rpm", &dest);
    if let Err(RpmError::Corrupt {
        offset: None, why, ..
    }) = &extracted
    {
        panic!("the rpm crate panicked behind the bounds checks while extracting: {why}");
    }
    let beside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["dest"], "written beside the target");
    if extracted.is_ok() {
        assert_eq!(
            first_escaping_link(&dest).unwrap(),
            None,
            "a link leads out"
        );
    }
}

#[test]
fn the_rpm_reader_survives_mutations_of_real_packages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-seeds");
    let seeds = seeds_in(&dir);
    for (i, seed) in seeds.iter().enumerate() {
        let info = RpmInfo::read(&seed[..]);
        assert!(info.is_ok(), "seed {i} does not read: {info:?}");
    }
    fuzz("read_rpm", &seeds, Budget::from_env(), exercise);
}
