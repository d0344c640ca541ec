//! Bounded fuzzing of the `.deb` reader on stable (`cargo fuzz` in `fuzz/` goes deeper on
//! nightly): mutations of packages `dpkg-deb` built (`tests/fuzz-seeds`, from
//! `scripts/make-fuzz-seeds`) and of hostile tar streams, read, listed and extracted. Nothing
//! may panic, nothing may be written beside the extraction directory, no link left in it may
//! lead out, and peak memory stays within the budget.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::fs;
use std::path::Path;

use falco_artifacts_core::package::first_escaping_link;
use falco_artifacts_pkg_deb::{AbsoluteSymlinks, DebReader, ExtractOptions};
use falco_artifacts_testkit::fuzz::{fuzz, seeds_in, Budget};

fn exercise(bytes: &[u8]) {
    if let Ok(reader) = DebReader::new(bytes) {
        let _ = reader.entries();
    }
    let tmp = tempfile::tempdir().unwrap();
    let inner = tmp.path().join("inner");
    let options = ExtractOptions {
        absolute_symlinks: AbsoluteSymlinks::Rebase,
        max_bytes: Some(64 << 20),
    };
    let extracted = DebReader::new(bytes).and_then(|r| r.extract(&inner, &options));
    let beside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        beside.iter().all(|name| name == "inner"),
        "written beside the extraction directory: {beside:?}"
    );
    if extracted.is_ok() {
        assert_eq!(
            first_escaping_link(&inner).unwrap(),
            None,
            "a link leads out of the extracted tree"
        );
    }
}

#[test]
fn the_deb_reader_survives_mutations_of_real_packages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-seeds");
    let seeds = seeds_in(&dir);
    for (i, seed) in seeds.iter().enumerate() {
        let entries = DebReader::new(&seed[..]).and_then(DebReader::entries);
        assert!(entries.is_ok(), "seed {i} does not read: {entries:?}");
    }
    fuzz("read_deb", &seeds, Budget::from_env(), exercise);
}
