//! Any bytes: the reader returns a result (never panics), and extraction never writes outside
//! its directory.
#![no_main]

use falco_artifacts_pkg_deb::{AbsoluteSymlinks, DebReader, ExtractOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = DebReader::new(data) {
        let _ = reader.entries();
    }
    let Ok(tmp) = tempfile::tempdir() else { return };
    let inner = tmp.path().join("inner");
    let options = ExtractOptions {
        absolute_symlinks: AbsoluteSymlinks::Rebase,
        max_bytes: Some(16 << 20),
    };
    if let Ok(reader) = DebReader::new(data) {
        let _ = reader.extract(&inner, &options);
    }
    let beside = std::fs::read_dir(tmp.path())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name() != "inner")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(beside, 0, "extraction wrote outside its directory");
});
