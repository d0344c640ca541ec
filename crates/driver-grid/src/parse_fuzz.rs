//! Bounded fuzzing of the driverkit config readers on stable: mutations of the real-shaped
//! configs under `tests/fixtures` (from `make-fixtures.py`). The fast reader and the YAML
//! parser must agree: whatever the fast reader accepts, serde_yaml reads the same way (or the
//! fast reader was wrong to accept it); nothing panics.

use std::path::Path;

use falco_artifacts_testkit::fuzz::{fuzz, Budget};

use crate::parse::read_yaml;
use crate::DriverConfig;

fn configs(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the fixtures are there")
        .map(|e| e.expect("a fixture entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            configs(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(std::fs::read(&path).expect("a readable fixture"));
        }
    }
}

fn agree(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let parsed = DriverConfig::parse(&text);
    let Some(fast) = crate::fast_parse::read(&text) else {
        return;
    };
    let slow = match read_yaml(&text) {
        Ok(slow) => slow,
        // Both errors is agreement (an empty file: no mapping for serde_yaml, no keys for the
        // fast reader).
        Err(_) if parsed.is_err() => return,
        Err(e) => panic!(
            "the fast reader accepted what serde_yaml refuses ({e}: {:?}):\n{text}",
            std::error::Error::source(&e).map(ToString::to_string)
        ),
    };
    assert_eq!(fast.kernel_version, slow.kernel_version, "{text}");
    assert_eq!(fast.kernel_release, slow.kernel_release, "{text}");
    assert_eq!(fast.target, slow.target, "{text}");
    assert_eq!(fast.architecture, slow.architecture, "{text}");
    assert_eq!(fast.driver_version, slow.driver_version, "{text}");
    assert_eq!(fast.kernel_config_data, slow.kernel_config_data, "{text}");
    assert_eq!(fast.kernel_urls, slow.kernel_urls, "{text}");
    assert_eq!(fast.module_output, slow.module_output, "{text}");
    assert_eq!(fast.probe_output, slow.probe_output, "{text}");
    assert!(
        slow.extra.is_empty(),
        "the fast reader dropped keys:\n{text}"
    );
    for entry in &fast.lines {
        assert!(slow.lines.contains(entry), "{entry:?} in\n{text}");
    }
}

/// Inputs the fuzzing found, kept as regressions.
#[test]
fn found_by_fuzzing() {
    // NUL bytes in a plain scalar: the fast reader took them, serde_yaml refuses the stream.
    agree(
        b"kernelversion: 1\nkernelrelease: 5.4\ntarget: fedora\noutput:\n  probe: output/\0\0x.o\n",
    );
    agree(b"kernelversion: 1\x7f\nkernelrelease: 5.4\ntarget: fedora\n");
    agree(b"");
    // An integer past 64 bits: serde_yaml refuses the document, the fast reader kept text.
    agree(b"kernelversion: 1\nkernelrelease: 5.14.21-150500.53-default\ntarget: 177777777777777777777764\n");
    agree(b"kernelversion: 0x1ffffffffffffffff\nkernelrelease: 5.4\ntarget: sles\n");
    // NEL (U+0085) inside a plain scalar: a line break to libyaml, which then finds a key
    // without its `:` on the next line.
    agree("kernelversion: 1\nkernelrelease: 5.4\ntarget: fedora\noutput:\n  probe: output/10.\u{85}n2.0/x.o\n".as_bytes());
}

#[test]
fn the_fast_reader_and_serde_yaml_agree_under_mutation() {
    let mut seeds = Vec::new();
    configs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut seeds,
    );
    assert!(seeds.len() >= 40, "{} fixtures", seeds.len());
    fuzz("driverkit_config", &seeds, Budget::from_env(), agree);
}
