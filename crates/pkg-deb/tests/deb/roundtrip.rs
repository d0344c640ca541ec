//! Our reader on packages built by `dpkg-deb -b` in every compression dpkg-deb writes, and on
//! our own packages, from a path and from a stream.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use falco_artifacts_pkg_deb::{
    Codec, Compression, DataKind, DebReader, ExtractOptions, MemberCompression,
};

use super::support::{build, run, sample_spec, tool};

/// A tree for `dpkg-deb -b`: nested dirs, a long path, a symlink, a hard link, a conffile,
/// a script, a file larger than any buffer.
fn dpkg_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut add = |path: &str, bytes: Vec<u8>, mode: u32| {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, &bytes).unwrap();
        fs::set_permissions(&full, fs::Permissions::from_mode(mode)).unwrap();
        files.insert(path.to_owned(), bytes);
    };
    add("usr/bin/tool", b"#!/bin/sh\necho tool\n".to_vec(), 0o755);
    add("etc/tool/tool.conf", b"key = value\n".to_vec(), 0o644);
    let long = format!("usr/share/tool/{}/{}.txt", "a".repeat(80), "b".repeat(60));
    add(&long, b"long path\n".to_vec(), 0o644);
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    add("usr/lib/tool/big.bin", big, 0o644);
    symlink("tool", root.join("usr/bin/tool-link")).unwrap();
    fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool-hard")).unwrap();
    files.insert(
        "usr/bin/tool-hard".into(),
        b"#!/bin/sh\necho tool\n".to_vec(),
    );

    let debian = root.join("DEBIAN");
    fs::create_dir(&debian).unwrap();
    fs::write(
        debian.join("control"),
        "Package: tool\nVersion: 1.2.3-1\nArchitecture: arm64\nMaintainer: T <t@example.invalid>\n\
         Depends: libc6 (>= 2.28), zlib1g\nDescription: a tool\n It does things.\n .\n More.\n",
    )
    .unwrap();
    fs::write(debian.join("conffiles"), "/etc/tool/tool.conf\n").unwrap();
    fs::write(debian.join("postinst"), "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(debian.join("postinst"), fs::Permissions::from_mode(0o755)).unwrap();
    files
}

#[test]
fn reads_what_dpkg_deb_builds_in_every_compression() {
    let dpkg_deb = tool("dpkg-deb", "dpkg");
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    let files = dpkg_tree(&tree);
    for (z, member, compression) in [
        ("gzip", "data.tar.gz", MemberCompression::Gzip),
        ("xz", "data.tar.xz", MemberCompression::Xz),
        ("zstd", "data.tar.zst", MemberCompression::Zstd),
        ("none", "data.tar", MemberCompression::None),
    ] {
        let deb = work.path().join(format!("tool-{z}.deb"));
        run(Command::new(&dpkg_deb)
            .args(["--root-owner-group", "-Z", z, "-b"])
            .arg(&tree)
            .arg(&deb));

        let reader = DebReader::open(&deb).unwrap();
        assert_eq!(reader.data_member(), member);
        assert_eq!(reader.data_compression(), compression);
        let control = reader.control();
        assert_eq!(
            (control.package(), control.version(), control.architecture()),
            ("tool", "1.2.3-1", "arm64")
        );
        assert_eq!(control.relation("Depends"), ["libc6 (>= 2.28)", "zlib1g"]);
        assert_eq!(control.summary(), Some("a tool"));
        assert_eq!(
            control.long_description().unwrap(),
            "It does things.\n\nMore."
        );
        assert!(control.raw().starts_with("Package: tool\n"));
        assert_eq!(reader.conffiles(), ["/etc/tool/tool.conf"]);
        assert_eq!(
            reader.control_file("postinst"),
            Some(&b"#!/bin/sh\nexit 0\n"[..])
        );

        // From a stream too (no length known up front).
        let stream = DebReader::new(fs::File::open(&deb).unwrap()).unwrap();
        let listed = stream.entries().unwrap();
        let kinds: BTreeMap<&str, &DataKind> =
            listed.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        assert_eq!(
            kinds.get("usr/bin/tool-link"),
            Some(&&DataKind::Symlink {
                target: "tool".into()
            })
        );
        assert_eq!(kinds.get("usr/share"), Some(&&DataKind::Dir));
        assert!(listed
            .iter()
            .all(|e| e.owner == "root" && e.group == "root"));

        let out = work.path().join(format!("out-{z}"));
        let extracted = DebReader::open(&deb)
            .unwrap()
            .extract(&out, &ExtractOptions::default())
            .unwrap();
        assert_eq!(extracted, listed, "{z}");
        for (path, bytes) in &files {
            assert!(fs::read(out.join(path)).unwrap() == *bytes, "{z}: {path}");
        }
        assert_eq!(
            fs::read_link(out.join("usr/bin/tool-link")).unwrap(),
            Path::new("tool")
        );
        let mode = fs::metadata(out.join("usr/bin/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(!out.join("DEBIAN").exists());
    }
}

#[test]
fn reads_back_our_own_packages() {
    let spec = sample_spec();
    for codec in [Codec::Gzip, Codec::Xz, Codec::Zstd, Codec::None] {
        let dir = tempfile::tempdir().unwrap();
        let deb = build(&spec, Compression::default_for(codec), dir.path());
        let reader = DebReader::open(&deb).unwrap();
        // 18 KiB of payload, plus copyright, changelog.gz and the lintian override and their
        // four new directories, 1 KiB each as dpkg counts them.
        assert_eq!(reader.control().installed_size().unwrap(), Some(25));
        let names: Vec<&str> = reader.control_file_names().collect();
        assert_eq!(
            names,
            [
                "conffiles",
                "control",
                "md5sums",
                "postinst",
                "postrm",
                "prerm"
            ]
        );
        let md5sums = String::from_utf8(reader.control_file("md5sums").unwrap().to_vec()).unwrap();
        let out = dir.path().join("out");
        let entries = reader.extract(&out, &ExtractOptions::default()).unwrap();
        assert_eq!(entries.len(), 25, "{entries:#?}");
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/payload");
        assert_eq!(
            fs::read(out.join("usr/bin/falco")).unwrap(),
            fs::read(sample.join("usr/bin/falco")).unwrap()
        );
        assert_eq!(
            fs::read(out.join("usr/lib/systemd/system/falco-kmod.service")).unwrap(),
            fs::read(sample.join("systemd/falco-kmod.service")).unwrap()
        );
        // md5sums lines match the extracted bytes.
        for line in md5sums.lines() {
            let (sum, path) = line.split_once("  ").unwrap();
            let got = falco_artifacts_pkg_deb::core::Digests::of_reader(
                fs::File::open(out.join(path)).unwrap(),
                falco_artifacts_pkg_deb::core::DigestSet::WITH_MD5,
            )
            .unwrap();
            assert_eq!(hex::encode(got.md5.unwrap()), sum, "{path}");
        }
        assert!(entries
            .iter()
            .all(|e| e.mtime == super::support::SOURCE_DATE));
    }
}
