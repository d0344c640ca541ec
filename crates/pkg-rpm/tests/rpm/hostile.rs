//! Hostile and corrupt packages give errors, never panics or escapes.

use crate::common::*;

/// Rewrites every occurrence of `from` in an uncompressed package, header and payload alike.
pub(crate) fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

pub(crate) fn hostile(
    dir: &Path,
    name: &str,
    add: impl FnOnce(&mut rpm::PackageBuilder),
) -> Vec<u8> {
    let mut b = rpm::PackageBuilder::new(name, "1.0", "MIT", "noarch", "hostile");
    b.using_config(
        rpm::BuildConfig::v4()
            .source_date(1_700_000_000u32)
            .compression(rpm::CompressionType::None),
    );
    add(&mut b);
    let path = dir.join(format!("{name}.rpm"));
    b.build().unwrap().write_file(&path).unwrap();
    fs::read(&path).unwrap()
}

#[test]
pub(crate) fn extraction_refuses_traversal_and_symlink_escapes() {
    let tmp = TempDir::new().unwrap();
    let try_extract = |name: &str, bytes: &[u8]| {
        let path = tmp.path().join(format!("{name}-final.rpm"));
        fs::write(&path, bytes).unwrap();
        let dest = tmp.path().join(format!("{name}-out"));
        fs::create_dir_all(&dest).unwrap();
        extract(&path, &dest)
    };
    // `/XX/evil` becomes `/../evil` in both the header and the cpio archive.
    let bytes = hostile(tmp.path(), "dotdot", |b| {
        b.with_file_contents("evil", rpm::FileOptions::new("/XX/evil"))
            .unwrap();
    });
    let err = try_extract("dotdot", &patched(&bytes, b"/XX/", b"/../")).unwrap_err();
    assert!(matches!(err, RpmError::UnsafePath { .. }), "{err:?}");
    assert!(!tmp.path().join("evil").exists());

    let bytes = hostile(tmp.path(), "climb", |b| {
        b.with_symlink(rpm::FileOptions::symlink("/usr/up", "../../../../etc"))
            .unwrap();
    });
    let err = try_extract("climb", &bytes).unwrap_err();
    assert!(
        matches!(err, RpmError::UnsafePath { why, .. } if why.contains("climbs")),
        "{err:?}"
    );

    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let target = outside.display().to_string();
    let bytes = hostile(tmp.path(), "through", |b| {
        b.with_symlink(rpm::FileOptions::symlink("/usr/link", target.as_str()))
            .unwrap();
        b.with_file_contents("evil", rpm::FileOptions::new("/usr/link/evil"))
            .unwrap();
    });
    let err = try_extract("through", &bytes).unwrap_err();
    assert!(
        matches!(err, RpmError::UnsafePath { why, .. } if why.contains("symbolic link")),
        "{err:?}"
    );
    assert!(!outside.join("evil").exists());
}

/// The reader's bounds checks must stop hostile input before the `rpm` crate could panic:
/// its panics are caught as a backstop and reported as `Corrupt` without an offset.
pub(crate) fn no_panic<T>(result: Result<T, RpmError>) {
    if let Err(RpmError::Corrupt {
        offset: None, why, ..
    }) = &result
    {
        panic!("the rpm crate panicked and the backstop caught it: {why}");
    }
}

#[test]
pub(crate) fn corrupt_input_gives_errors_not_panics() {
    let tmp = TempDir::new().unwrap();
    let signer = PgpSigner::generate("T <t@example.invalid>", KeyAlgorithm::Ed25519).unwrap();
    let path = build(&sample_spec("0.39.0"), tmp.path(), Some(&signer));
    let bytes = fs::read(&path).unwrap();
    let end = usize::try_from(RpmInfo::open(&path).unwrap().header_range.end).unwrap();

    assert!(matches!(
        RpmInfo::read(&b""[..]),
        Err(RpmError::Corrupt { .. })
    ));
    let err = RpmInfo::read(&b"not an rpm at all, just some text to fill a lead of 96 bytes......................................"[..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "stream is not a well-formed rpm: it does not start with the rpm magic (at byte 0)"
    );
    for cut in (0..end).step_by(7) {
        assert!(
            RpmInfo::read(&bytes[..cut]).is_err(),
            "truncated at {cut} parsed"
        );
    }
    // Found by the fuzz target: a NULL-typed entry whose offset is negative as an i32.
    for entry in 0..3 {
        let mut bad = bytes.clone();
        let at = 96 + 16 + 16 * entry;
        bad[at + 4..at + 8].copy_from_slice(&0u32.to_be_bytes());
        bad[at + 8..at + 12].copy_from_slice(&0xfff0_0000u32.to_be_bytes());
        let err = RpmInfo::read(&bad[..]).unwrap_err();
        assert!(
            matches!(
                err,
                RpmError::Corrupt {
                    offset: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
    }
    // Flip every byte of the lead and headers in turn, then smash runs of them.
    for i in 0..end {
        for value in [0x00, 0xff, bytes[i] ^ 0x80] {
            let mut bad = bytes.clone();
            bad[i] = value;
            no_panic(RpmInfo::read(&bad[..]));
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..2000 {
        let mut bad = bytes.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = usize::try_from(seed % end as u64).unwrap();
            bad[at] = (seed >> 32) as u8;
        }
        no_panic(RpmInfo::read(&bad[..]));
    }
    // Corrupt payloads, compressed and not, are errors (or harmless) for extraction too.
    let plain = RpmBuilder::new(&sample_spec("0.39.0"))
        .with_compression(Compression::None)
        .build()
        .unwrap();
    let mut plain_bytes = Vec::new();
    plain.write(&mut plain_bytes).unwrap();
    for (n, original) in [&bytes, &plain_bytes].into_iter().enumerate() {
        let start =
            usize::try_from(RpmInfo::read(&original[..]).unwrap().header_range.end).unwrap();
        for i in 0..200 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bad = original.clone();
            let at = start + usize::try_from(seed % (original.len() - start) as u64).unwrap();
            bad[at] ^= 1 << (seed % 8);
            let path = tmp.path().join(format!("payload-{n}-{i}.rpm"));
            fs::write(&path, &bad).unwrap();
            let dest = tmp.path().join(format!("payload-{n}-{i}"));
            fs::create_dir_all(&dest).unwrap();
            no_panic(extract(&path, &dest));
        }
    }
    // A corrupt payload is an error from extraction too.
    let mut bad = bytes.clone();
    for b in &mut bad[end + 20..] {
        *b = 0x5a;
    }
    let bad_path = tmp.path().join("bad.rpm");
    fs::write(&bad_path, &bad).unwrap();
    let dest = tmp.path().join("out");
    fs::create_dir_all(&dest).unwrap();
    assert!(extract(&bad_path, &dest).is_err());
}
