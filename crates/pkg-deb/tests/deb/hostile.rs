//! Malformed, truncated and hostile archives: a clear error naming what is wrong, never a
//! panic, never a write outside the extraction directory. The same inputs a fuzz target
//! (`fuzz/`) explores, run here deterministically on the stable toolchain.

use std::fs;
use std::io::Write;
use std::path::Path;

use falco_artifacts_pkg_deb::{
    AbsoluteSymlinks, Compression, DebReader, ExtractOptions, ReadError,
};

use super::support::{build, sample_spec};

// ---- crafting ----------------------------------------------------------------------------

pub(super) fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        out.extend(ar_header(name, &data.len().to_string()));
        out.extend(*data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

fn ar_header(name: &str, size: &str) -> Vec<u8> {
    format!(
        "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
        0, 0, 0, 100644
    )
    .into_bytes()
}

/// One raw tar entry; the name is written as given, `..` and all.
enum T<'a> {
    File(&'a str, &'a [u8]),
    SizedFile(&'a str, u64, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Fifo(&'a str),
}

fn tar(entries: &[T<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1);
        h.set_size(0);
        let (name, data): (&str, &[u8]) = match entry {
            T::File(name, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                (name, data)
            }
            T::SizedFile(name, size, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(*size);
                (name, data)
            }
            T::Dir(name) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (name, &[])
            }
            T::Symlink(name, target) | T::HardLink(name, target) => {
                h.set_entry_type(if matches!(entry, T::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
                (name, &[])
            }
            T::Fifo(name) => {
                h.set_entry_type(tar::EntryType::Fifo);
                (name, &[])
            }
        };
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        out.extend(h.as_bytes());
        out.extend(data);
        out.extend(vec![0; (512 - data.len() % 512) % 512]);
    }
    out.extend([0; 1024]);
    out
}

pub(super) fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub(super) fn control_tar() -> Vec<u8> {
    gz(&tar(&[T::File(
        "./control",
        b"Package: evil\nVersion: 1\nArchitecture: all\n",
    )]))
}

fn deb_with_data(data: &[T<'_>]) -> Vec<u8> {
    ar(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control_tar()),
        ("data.tar.gz", &gz(&tar(data))),
    ])
}

/// Extracts into `<tmp>/root/inner` and checks nothing appeared beside `inner`.
fn extract(bytes: &[u8], options: &ExtractOptions) -> Result<(), ReadError> {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let inner = root.join("inner");
    let result = DebReader::new(bytes).and_then(|r| r.extract(&inner, options));
    let beside: Vec<_> = fs::read_dir(&root)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        beside.iter().all(|n| n == "inner"),
        "written outside the target: {beside:?}"
    );
    result.map(|_| ())
}

fn reject(bytes: &[u8]) -> ReadError {
    extract(bytes, &ExtractOptions::default()).unwrap_err()
}

// ---- the container -------------------------------------------------------------------------

#[test]
fn bad_container_errors_name_member_and_field() {
    let e = DebReader::new(&b"PK\x03\x04 not an ar"[..]).unwrap_err();
    assert!(matches!(e, ReadError::BadMagic { .. }), "{e}");
    assert!(e.to_string().contains("PK"), "{e}");

    let data_first = ar(&[("debian-binary", b"2.0\n"), ("data.tar.gz", &gz(&tar(&[])))]);
    match DebReader::new(&data_first[..]).unwrap_err() {
        ReadError::MemberOrder { expected, found } => {
            assert_eq!((expected, found.as_str()), ("control.tar.*", "data.tar.gz"))
        }
        other => panic!("{other}"),
    }
    let control_first = ar(&[("control.tar.gz", &control_tar())]);
    assert!(matches!(
        DebReader::new(&control_first[..]).unwrap_err(),
        ReadError::MemberOrder {
            expected: "debian-binary",
            ..
        }
    ));
    let no_data = ar(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control_tar()),
    ]);
    match DebReader::new(&no_data[..]).unwrap_err() {
        ReadError::MemberOrder { found, .. } => assert_eq!(found, "end of archive"),
        other => panic!("{other}"),
    }
    let v3 = ar(&[("debian-binary", b"3.0\n")]);
    assert!(matches!(
        DebReader::new(&v3[..]).unwrap_err(),
        ReadError::FormatVersion { .. }
    ));
    let bz2 = ar(&[("debian-binary", b"2.0\n"), ("control.tar.bz2", b"BZh9")]);
    match DebReader::new(&bz2[..]).unwrap_err() {
        ReadError::Compression { member } => assert_eq!(member, "control.tar.bz2"),
        other => panic!("{other}"),
    }
    let no_control_file = ar(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &gz(&tar(&[T::File("./md5sums", b"")]))),
        ("data.tar.gz", &gz(&tar(&[]))),
    ]);
    assert!(matches!(
        DebReader::new(&no_control_file[..]).unwrap_err(),
        ReadError::NoControlFile { .. }
    ));
    let bad_control = ar(&[
        ("debian-binary", b"2.0\n"),
        (
            "control.tar.gz",
            &gz(&tar(&[T::File("./control", b"Package: x\nno colon\n")])),
        ),
        ("data.tar.gz", &gz(&tar(&[]))),
    ]);
    let e = DebReader::new(&bad_control[..]).unwrap_err();
    assert!(matches!(e, ReadError::Control(_)), "{e}");
    // Signature members dpkg skips are skipped.
    let signed = ar(&[
        ("debian-binary", b"2.0\n"),
        ("_gpgbuilder", b"sig"),
        ("control.tar.gz", &control_tar()),
        ("data.tar.gz", &gz(&tar(&[]))),
    ]);
    assert_eq!(
        DebReader::new(&signed[..]).unwrap().control().package(),
        "evil"
    );
}

#[test]
fn a_10_gb_member_in_a_1_kb_file_is_refused() {
    let mut bytes = b"!<arch>\n".to_vec();
    bytes.extend(ar_header("debian-binary", "4"));
    bytes.extend(b"2.0\n");
    bytes.extend(ar_header("control.tar.gz", "9999999999"));
    bytes.extend(vec![0u8; 1000]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.deb");
    fs::write(&path, &bytes).unwrap();
    // From a path: refused from the header alone.
    match DebReader::open(&path).unwrap_err() {
        ReadError::Truncated {
            member,
            declared,
            available,
        } => {
            assert_eq!(member, "control.tar.gz");
            assert_eq!(declared, 9_999_999_999);
            assert_eq!(available, 1000);
        }
        other => panic!("{other}"),
    }
    // From a stream: refused when the data runs out.
    let e = DebReader::new(&bytes[..]).unwrap_err();
    assert!(matches!(e, ReadError::Tar { .. }), "{e}");

    // A tar entry declaring 10 GB inside a small data member.
    let lying = deb_with_data(&[T::SizedFile("./big", 10_000_000_000, b"tiny")]);
    let e = reject(&lying);
    assert!(matches!(e, ReadError::Tar { .. }), "{e}");
    let e = DebReader::new(&lying[..]).unwrap().entries().unwrap_err();
    assert!(matches!(e, ReadError::Tar { .. }), "{e}");
}

#[test]
fn a_control_bomb_is_refused() {
    let zeros = vec![0u8; (falco_artifacts_pkg_deb::MAX_CONTROL_SIZE + 1024 * 1024) as usize];
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&tar(&[T::SizedFile(
        "./control",
        zeros.len() as u64,
        &zeros,
    )]))
    .unwrap();
    let bomb = e.finish().unwrap();
    let bytes = ar(&[("debian-binary", b"2.0\n"), ("control.tar.gz", &bomb)]);
    match DebReader::new(&bytes[..]).unwrap_err() {
        ReadError::TooLarge { member, .. } => assert_eq!(member, "control.tar.gz"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_long_name_bomb_is_refused_before_it_is_read() {
    // A GNU long-name entry declaring 256 MiB. A real bomb is about 250 KiB gzipped; the
    // guard refuses on the header, so the test ships only its first MiB.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(256 << 20);
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(h.as_bytes()).unwrap();
    e.write_all(&vec![b'a'; 1 << 20]).unwrap();
    let data = e.finish().unwrap();
    let bytes = ar(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control_tar()),
        ("data.tar.gz", &data),
    ]);
    match DebReader::new(&bytes[..]).unwrap().entries().unwrap_err() {
        ReadError::TooLarge { member, what, .. } => {
            assert_eq!(member, "data.tar.gz");
            assert!(what.contains("'L'"), "{what}");
        }
        other => panic!("{other}"),
    }
}

// ---- the data tree -------------------------------------------------------------------------

#[test]
fn traversal_and_absolute_paths_are_refused() {
    for path in [
        "./../escape",
        "../../etc/cron.d/evil",
        "/etc/passwd",
        "./a/../../b",
    ] {
        let e = reject(&deb_with_data(&[T::File(path, b"x")]));
        match &e {
            ReadError::UnsafePath {
                member, path: p, ..
            } => {
                assert_eq!(member, "data.tar.gz");
                assert_eq!(p, path);
            }
            other => panic!("{path}: {other}"),
        }
        // Listing refuses too: a caller never sees such a path.
        assert!(DebReader::new(&deb_with_data(&[T::File(path, b"x")])[..])
            .unwrap()
            .entries()
            .is_err());
    }
}

#[test]
fn links_out_of_the_tree_are_refused() {
    let absolute = deb_with_data(&[
        T::Dir("./etc/"),
        T::Symlink("./etc/passwd-link", "/etc/passwd"),
    ]);
    match reject(&absolute) {
        ReadError::LinkEscape { path, target, .. } => {
            assert_eq!(
                (path.as_str(), target.as_str()),
                ("etc/passwd-link", "/etc/passwd")
            )
        }
        other => panic!("{other}"),
    }
    // Rebased on request: the link points to the same path inside the tree.
    let tmp = tempfile::tempdir().unwrap();
    let options = ExtractOptions {
        absolute_symlinks: AbsoluteSymlinks::Rebase,
        ..ExtractOptions::default()
    };
    DebReader::new(&absolute[..])
        .unwrap()
        .extract(tmp.path(), &options)
        .unwrap();
    assert_eq!(
        fs::read_link(tmp.path().join("etc/passwd-link")).unwrap(),
        Path::new("../etc/passwd")
    );

    let relative = deb_with_data(&[T::Symlink("./up", "../../..")]);
    assert!(matches!(reject(&relative), ReadError::LinkEscape { .. }));

    // Each link harmless alone, escaping together.
    let chained = deb_with_data(&[T::Symlink("./here", "."), T::Symlink("./out", "here/..")]);
    match reject(&chained) {
        ReadError::LinkEscape { path, .. } => assert_eq!(path, "out"),
        other => panic!("{other}"),
    }

    let hard_out = deb_with_data(&[T::HardLink("./shadow", "../../../etc/shadow")]);
    assert!(matches!(reject(&hard_out), ReadError::UnsafePath { .. }));
    let hard_missing = deb_with_data(&[T::HardLink("./h", "./nothing")]);
    assert!(matches!(
        reject(&hard_missing),
        ReadError::LinkEscape { .. }
    ));
}

#[test]
fn nothing_is_written_through_a_symlink() {
    // `dir` is a link to a directory inside; a later entry under it must not follow it.
    let through_parent = deb_with_data(&[
        T::Dir("./real/"),
        T::Symlink("./dir", "real"),
        T::File("./dir/file", b"x"),
    ]);
    match reject(&through_parent) {
        ReadError::Conflict { path, .. } => assert_eq!(path, "dir/file"),
        other => panic!("{other}"),
    }
    // A file entry replacing a symlink replaces the link, never writes to its target.
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::write(&outside, "untouched").unwrap();
    let over_link = deb_with_data(&[
        T::Symlink("./f", "g"),
        T::File("./g", b"g"),
        T::File("./f", b"new"),
    ]);
    let root = tmp.path().join("root");
    DebReader::new(&over_link[..])
        .unwrap()
        .extract(&root, &ExtractOptions::default())
        .unwrap();
    assert_eq!(fs::read(root.join("f")).unwrap(), b"new");
    assert_eq!(fs::read(root.join("g")).unwrap(), b"g");
    assert!(!fs::symlink_metadata(root.join("f"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&outside).unwrap(), "untouched");

    let fifo = deb_with_data(&[T::Fifo("./pipe")]);
    assert!(matches!(
        reject(&fifo),
        ReadError::UnsupportedEntry { kind: '6', .. }
    ));

    let limited = ExtractOptions {
        max_bytes: Some(3),
        ..ExtractOptions::default()
    };
    let big = deb_with_data(&[T::File("./a", b"abcd")]);
    assert!(matches!(
        extract(&big, &limited).unwrap_err(),
        ReadError::TooLarge { .. }
    ));
}

// ---- mutation: truncation and bit flips ------------------------------------------------------

/// A small xorshift generator: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn valid_packages() -> Vec<Vec<u8>> {
    let spec = sample_spec();
    let dir = tempfile::tempdir().unwrap();
    [
        falco_artifacts_pkg_deb::Codec::Gzip,
        falco_artifacts_pkg_deb::Codec::Xz,
        falco_artifacts_pkg_deb::Codec::Zstd,
        falco_artifacts_pkg_deb::Codec::None,
    ]
    .into_iter()
    .map(|codec| {
        let path = build(&spec, Compression::default_for(codec), dir.path());
        fs::read(path).unwrap()
    })
    .collect()
}

/// Reads, lists and extracts `bytes` every way; any outcome but a panic or an escape is fine.
fn exercise(bytes: &[u8]) {
    if let Ok(reader) = DebReader::new(bytes) {
        let _ = reader.entries();
    }
    let _ = extract(bytes, &ExtractOptions::default());
    let _ = extract(
        bytes,
        &ExtractOptions {
            absolute_symlinks: AbsoluteSymlinks::Rebase,
            max_bytes: Some(1 << 20),
        },
    );
}

#[test]
fn truncations_give_an_error() {
    for deb in valid_packages() {
        // The last member's padding byte may be missing: dpkg-deb accepts that too.
        let padded = deb.ends_with(b"\n") && (deb.len() - 8) % 2 == 0;
        let end = if padded { deb.len() - 1 } else { deb.len() };
        // Every cut in the ar and control headers and near the end; every third in between
        // (each cut decodes the whole package again, slow in a debug build).
        let cuts = (0..end).filter(|&len| len < 1024 || end - len < 256 || len % 3 == 0);
        for len in cuts {
            let cut = &deb[..len];
            let listed = DebReader::new(cut).and_then(DebReader::entries);
            assert!(
                listed.is_err(),
                "a package cut at {len} of {} read fine",
                deb.len()
            );
        }
    }
}

#[test]
fn bit_flips_never_panic_or_escape() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for deb in valid_packages() {
        for _ in 0..250 {
            let mut bytes = deb.clone();
            for _ in 0..(1 + rng.next() % 3) {
                let at = (rng.next() % bytes.len() as u64) as usize;
                bytes[at] ^= 1 << (rng.next() % 8);
            }
            exercise(&bytes);
        }
    }
    // Hostile trees under mutation too.
    let hostile = deb_with_data(&[
        T::Dir("./real/"),
        T::Symlink("./dir", "real"),
        T::Symlink("./abs", "/etc"),
        T::File("./real/f", b"data"),
        T::HardLink("./real/h", "./real/f"),
    ]);
    for _ in 0..400 {
        let mut bytes = hostile.clone();
        let at = (rng.next() % bytes.len() as u64) as usize;
        bytes[at] ^= 1 << (rng.next() % 8);
        exercise(&bytes);
    }
}
