//! Same description and source date, same bytes: whatever the thread count, the output
//! route, the build directory or the payload files' own time stamps.

use std::fs;
use std::time::{Duration, SystemTime};

use falco_artifacts_pkg_deb::{Codec, Compression, DebBuilder};

use super::support::{sample_spec, spec_from};

#[test]
fn two_builds_are_byte_identical_in_every_compression() {
    let spec = sample_spec();
    for codec in [Codec::Gzip, Codec::Xz, Codec::Zstd, Codec::None] {
        let compression = Compression::default_for(codec);
        let one = tempfile::tempdir().unwrap();
        let first = DebBuilder::new(&spec)
            .with_compression(compression)
            .with_threads(1)
            .build()
            .unwrap()
            .write_to_dir(one.path())
            .unwrap();
        let mut second = Vec::new();
        let report = DebBuilder::new(&spec)
            .with_compression(compression)
            .with_threads(4)
            .build()
            .unwrap()
            .write_to(&mut second)
            .unwrap();
        let first_bytes = fs::read(first.path.unwrap()).unwrap();
        assert!(first_bytes == second, "{codec}: builds differ");
        assert_eq!(report.size, second.len() as u64);
    }
}

#[test]
fn payload_time_stamps_do_not_leak_into_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    // Larger than a gzip chunk, so parallel compression really cuts it.
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&big, &bytes).unwrap();
    let yaml = "name: stamp\nversion: 1.0.0\narch: aarch64\nmaintainer: A <a@b.c>\n\
                description: d\nlicense: MIT\nsource_date: 1600000000\n\
                contents:\n  - src: big.bin\n    dst: /usr/lib/stamp/big.bin\n";
    let spec = spec_from(yaml, dir.path());
    let build = || {
        let mut out = Vec::new();
        DebBuilder::new(&spec)
            .with_compression(Compression::new(Codec::Gzip, 6))
            .build()
            .unwrap()
            .write_to(&mut out)
            .unwrap();
        out
    };
    let before = build();
    let file = fs::File::options().write(true).open(&big).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(86_400 * 400))
        .unwrap();
    let after = build();
    assert!(before == after);
}
