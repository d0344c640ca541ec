//! Bounded fuzzing of the tarball reader on stable: mutations of tarballs GNU tar wrote in
//! each of its formats (`tests/fuzz-seeds`, from `scripts/make-fuzz-seeds`) and of hostile
//! streams, listed and extracted. Nothing may panic, nothing may be written beside the
//! target, no link left in it may lead out, and peak memory stays within the budget.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::fs;
use std::path::Path;

use falco_artifacts_core::package::first_escaping_link;
use falco_artifacts_pkg_tar::{extract, list_entries, ExtractOptions};
use falco_artifacts_testkit::fuzz::{fuzz, seeds_in, Budget};
use falco_artifacts_testkit::hostile_tar::RawTar;

fn exercise(bytes: &[u8]) {
    let _ = list_entries(bytes, "fuzz.tar");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let options = ExtractOptions {
        max_total_size: 64 << 20,
        strip_components: 1,
        ..ExtractOptions::default()
    };
    let extracted = extract(bytes, "fuzz.tar", &dest, &options);
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
fn the_tarball_reader_survives_mutations_of_real_tarballs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-seeds");
    let mut seeds = seeds_in(&dir);
    for (i, seed) in seeds.iter().enumerate() {
        let listed = list_entries(&seed[..], "seed");
        assert!(listed.is_ok(), "seed {i} does not list: {listed:?}");
    }
    // Hostile shapes for the mutations to recombine.
    seeds.push(
        RawTar::new()
            .pax(&[("size", "4"), ("path", "top/p")])
            .file("top/a", b"data")
            .symlink("top/s", ".")
            .symlink("top/l", "s/..")
            .long_name(12, b"top/longname")
            .file("ignored", b"")
            .finish(),
    );
    fuzz("read_tar", &seeds, Budget::from_env(), exercise);
}
