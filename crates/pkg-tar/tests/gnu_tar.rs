//! Our tarballs, checked by the tools users run: GNU tar lists and extracts them, diff finds
//! the extracted tree equal to the source, sha256sum and gpg accept the files beside them.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::package::{load_manifest, ManifestOptions, PackageSpec};
use falco_artifacts_core::{KeyAlgorithm, PgpSigner, Signer};
use falco_artifacts_pkg_tar::{BuildError, Codec, Compression, TarballBuilder};
use falco_artifacts_testkit::{require_tool, GpgHome};

const LONG_DIR: &str = "usr/share/falco/a-directory-name-long-enough/to-need/the-gnu-longname-extension-of-tar/because-it-is-over-100";

/// A source tree laid out like the install tree, a unit outside it (DEB/RPM only), and a
/// manifest describing both.
struct Fixture {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    manifest: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let write = |rel: &str, body: &[u8], mode: u32| {
        let p = tree.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("usr/bin/falco", b"#!/bin/sh\necho falco\n", 0o755);
    write("etc/falco/falco.yaml", b"rules_files: []\n", 0o644);
    write("etc/falco/falco_rules.yaml", &vec![b'r'; 300_000], 0o644);
    write(&format!("{LONG_DIR}/file.txt"), b"long\n", 0o600);
    std::fs::create_dir_all(tree.join("usr/share/falco/plugins")).unwrap();
    std::fs::set_permissions(
        tree.join("usr/share/falco/plugins"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    std::os::unix::fs::symlink("falco", tree.join("usr/bin/falco-driver-loader")).unwrap();
    std::fs::write(dir.path().join("falco.service"), b"[Unit]\n").unwrap();
    let manifest = dir.path().join("falco.yaml");
    std::fs::write(
        &manifest,
        format!(
            "name: falco
maintainer: M <m@example.com>
description: Falco
license: Apache-2.0
contents:
  - {{ src: tree/usr/bin/falco, dst: /usr/bin/falco, mode: \"0755\" }}
  - {{ src: tree/etc/falco/falco.yaml, dst: /etc/falco/falco.yaml, type: config-noreplace }}
  - {{ src: tree/etc/falco/falco_rules.yaml, dst: /etc/falco/falco_rules.yaml }}
  - {{ src: tree/{LONG_DIR}/file.txt, dst: /{LONG_DIR}/file.txt, mode: \"0600\" }}
  - {{ dst: /usr/share/falco/plugins, type: dir, mode: \"0750\" }}
  - {{ dst: /usr/bin/falco-driver-loader, type: symlink, target: falco }}
  - {{ src: falco.service, dst: /usr/lib/systemd/system/falco.service, formats: [deb, rpm] }}
"
        ),
    )
    .unwrap();
    Fixture {
        _dir: dir,
        tree,
        manifest,
    }
}

fn spec(f: &Fixture) -> PackageSpec {
    load_manifest(
        &f.manifest,
        &ManifestOptions {
            version: Some("0.45.0-36+1307474".parse().unwrap()),
            arch: Some("amd64".parse().unwrap()),
            source_date: Some(falco_artifacts_core::package::SourceDate::from_secs(
                1_700_000_000,
            )),
        },
    )
    .unwrap()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tar_flag(c: Compression) -> &'static str {
    match c.codec {
        Codec::Gzip => "-z",
        Codec::Xz => "-J",
        Codec::Zstd => "--zstd",
        Codec::None => "--no-auto-compress",
    }
}

#[test]
fn gnu_tar_lists_exactly_our_entries_and_extracts_the_source_tree() {
    for tool in [
        ("tar", "tar"),
        ("diff", "diffutils"),
        ("sha256sum", "coreutils"),
        ("xz", "xz-utils"),
        ("zstd", "zstd"),
    ] {
        require_tool(tool.0, tool.1).expect("tool needed");
    }
    let f = fixture();
    let spec = spec(&f);
    let signer = PgpSigner::generate("Tar Test <tar@example.com>", KeyAlgorithm::Ed25519).unwrap();
    let top = "falco-0.45.0-36+1307474-x86_64";
    for compression in [
        Compression::new(Codec::Gzip, 6),
        Compression::new(Codec::Xz, 6),
        Compression::new(Codec::Zstd, 19),
        Compression::new(Codec::None, 0),
    ] {
        let out = tempfile::tempdir().unwrap();
        let tarball = TarballBuilder::new(&spec)
            .with_compression(compression)
            .with_signer(&signer)
            .build(out.path())
            .unwrap();
        let name = format!("{top}.tar{}", compression.codec.suffix());
        assert_eq!(tarball.path, out.path().join(&name));

        let listing = run(Command::new("tar")
            .arg(tar_flag(compression))
            .arg("-tvf")
            .arg(&tarball.path));
        let lines: Vec<(String, String, String)> = listing
            .lines()
            .map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols[0].to_owned(), cols[1].to_owned(), cols[5..].join(" "))
            })
            .collect();
        let expected = [
            ("drwxr-xr-x", format!("{top}/")),
            ("drwxr-xr-x", format!("{top}/etc/")),
            ("drwxr-xr-x", format!("{top}/etc/falco/")),
            ("-rw-r--r--", format!("{top}/etc/falco/falco.yaml")),
            ("-rw-r--r--", format!("{top}/etc/falco/falco_rules.yaml")),
            ("drwxr-xr-x", format!("{top}/usr/")),
            ("drwxr-xr-x", format!("{top}/usr/bin/")),
            ("-rwxr-xr-x", format!("{top}/usr/bin/falco")),
            (
                "lrwxrwxrwx",
                format!("{top}/usr/bin/falco-driver-loader -> falco"),
            ),
        ];
        for (mode, path) in &expected {
            assert!(
                lines
                    .iter()
                    .any(|(m, owner, p)| m == mode && owner == "0/0" && p == path),
                "{compression:?}: no `{mode} 0/0 {path}` in\n{listing}"
            );
        }
        assert!(
            lines
                .iter()
                .any(|(m, _, p)| m == "drwxr-x---"
                    && p == &format!("{top}/usr/share/falco/plugins/")),
            "{listing}"
        );
        assert!(
            lines
                .iter()
                .any(|(m, _, p)| m == "-rw-------" && p == &format!("{top}/{LONG_DIR}/file.txt")),
            "{listing}"
        );
        assert!(
            !listing.contains("systemd"),
            "DEB/RPM-only entries must stay out:\n{listing}"
        );
        assert!(
            lines
                .iter()
                .all(|(_, owner, p)| owner == "0/0" && p.starts_with(&format!("{top}/"))),
            "{listing}"
        );
        // Exactly the declared entries and their parents, nothing else: the 9 above, usr/share,
        // usr/share/falco, plugins, the 4 long directories and the file in them.
        assert_eq!(lines.len(), 17, "{listing}");

        let unpacked = tempfile::tempdir().unwrap();
        run(Command::new("tar")
            .arg(tar_flag(compression))
            .arg("-xf")
            .arg(&tarball.path)
            .arg("-C")
            .arg(unpacked.path()));
        let diff = Command::new("diff")
            .args(["-r", "--no-dereference"])
            .arg(unpacked.path().join(top))
            .arg(&f.tree)
            .output()
            .unwrap();
        assert!(
            diff.status.success(),
            "extracted tree differs:\n{}",
            String::from_utf8_lossy(&diff.stdout)
        );

        run(Command::new("sha256sum")
            .arg("-c")
            .arg(format!("{name}.sha256"))
            .current_dir(out.path()));
        let gpg = GpgHome::new().unwrap();
        gpg.import_key(&signer.public_key_armored().unwrap())
            .unwrap();
        let verified = gpg
            .verify_detached(tarball.signature_path.as_ref().unwrap(), &tarball.path)
            .unwrap();
        assert!(verified.good, "{}", verified.status);
    }
}

#[test]
fn two_builds_are_byte_identical_whatever_the_thread_count() {
    let f = fixture();
    let spec = spec(&f);
    for compression in [
        Compression::new(Codec::Gzip, 6),
        Compression::new(Codec::Xz, 3),
        Compression::new(Codec::Zstd, 3),
    ] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let one = TarballBuilder::new(&spec)
            .with_compression(compression)
            .with_threads(1)
            .build(a.path())
            .unwrap();
        let two = TarballBuilder::new(&spec)
            .with_compression(compression)
            .with_threads(4)
            .build(b.path())
            .unwrap();
        assert_eq!(
            std::fs::read(&one.path).unwrap(),
            std::fs::read(&two.path).unwrap(),
            "{compression:?}"
        );
        assert_eq!(one.sha256, two.sha256);
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn bad_input_is_refused_and_leaves_nothing_behind() {
    let f = fixture();
    let mut spec = spec(&f);
    let out = tempfile::tempdir().unwrap();

    let err = TarballBuilder::new(&spec)
        .with_compression(Compression::new(Codec::Gzip, 12))
        .build(out.path())
        .unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::Level {
                level: 12,
                max: 9,
                ..
            }
        ),
        "{err}"
    );

    // A payload file that disappeared after the manifest was loaded.
    std::fs::remove_file(f.tree.join("etc/falco/falco_rules.yaml")).unwrap();
    let err = TarballBuilder::new(&spec).build(out.path()).unwrap_err();
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.contains("falco_rules.yaml") && cause.contains("existing regular file"),
        "{err}: {cause}"
    );
    assert!(
        files_in(out.path()).is_empty(),
        "partial files left: {:?}",
        files_in(out.path())
    );

    // A description that was made invalid by hand.
    spec.contents
        .retain(|e| !e.dst.as_ref().ends_with("falco_rules.yaml"));
    spec.contents[0].mode = 0o17777;
    let err = TarballBuilder::new(&spec).build(out.path()).unwrap_err();
    assert!(matches!(err, BuildError::Invalid { .. }), "{err}");
    assert!(std::error::Error::source(&err)
        .unwrap()
        .to_string()
        .contains("contents[0].mode"));
    assert!(files_in(out.path()).is_empty());
}
