//! Directory and glob entries expand into one sorted list with modes kept and per-path
//! overrides; bad trees are refused naming the manifest, the entry and what was expected.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use falco_artifacts_core::package::{
    load_manifest, ConfigKind, ContentKind, Format, ManifestError, ManifestOptions, SourceDate,
};

const HEAD: &str = "name: falco\nversion: 0.45.0\narch: x86_64\nmaintainer: M <m@x.org>\n\
                    description: Runtime security\nlicense: Apache-2.0\nsource_date: 1700000000\n";

fn put(root: &Path, rel: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, rel).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn load(
    dir: &Path,
    body: &str,
) -> Result<falco_artifacts_core::package::PackageSpec, ManifestError> {
    let manifest = dir.join("falco.yaml");
    fs::write(&manifest, format!("{HEAD}{body}")).unwrap();
    load_manifest(&manifest, &ManifestOptions::default())
}

fn mode_of(spec: &falco_artifacts_core::package::PackageSpec, dst: &str) -> u32 {
    spec.contents
        .iter()
        .find(|e| e.dst.as_ref() == dst)
        .unwrap_or_else(|| panic!("{dst} missing"))
        .mode
}

#[test]
fn directories_and_globs_expand_sorted_with_modes_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, "install/usr/bin/falco", 0o755);
    put(root, "install/etc/falco/falco.yaml", 0o640);
    put(root, "install/usr/share/falco/z.txt", 0o644);
    put(root, "plugins/libb.so", 0o755);
    put(root, "plugins/liba.so", 0o700);
    put(root, "plugins/README", 0o644);
    put(root, "dkms/Makefile", 0o644);
    put(root, "dkms/bpf/probe.c", 0o644);
    std::os::unix::fs::symlink("falco", root.join("install/usr/bin/falcoctl")).unwrap();
    let spec = load(
        root,
        "contents:\n\
         \x20 - { src: install/, dst: / }\n\
         \x20 - { src: install/etc/falco/falco.yaml, dst: /etc/falco/falco.yaml, type: config-noreplace, mode: \"0600\" }\n\
         \x20 - { src: plugins/*.so, dst: /usr/share/falco/plugins/ }\n\
         \x20 - { src: dkms, dst: \"/usr/src/{name}-{version}\", formats: [deb, rpm] }\n",
    )
    .unwrap();
    let dsts: Vec<&str> = spec
        .contents_for(Format::Deb)
        .map(|e| e.dst.as_ref())
        .collect();
    assert_eq!(
        dsts,
        [
            "/etc",
            "/etc/falco",
            "/etc/falco/falco.yaml",
            "/usr",
            "/usr/bin",
            "/usr/bin/falco",
            "/usr/bin/falcoctl",
            "/usr/share",
            "/usr/share/falco",
            "/usr/share/falco/plugins/liba.so",
            "/usr/share/falco/plugins/libb.so",
            "/usr/share/falco/z.txt",
            "/usr/src/falco-0.45.0",
            "/usr/src/falco-0.45.0/Makefile",
            "/usr/src/falco-0.45.0/bpf",
            "/usr/src/falco-0.45.0/bpf/probe.c",
        ]
    );
    assert_eq!(mode_of(&spec, "/usr/bin/falco"), 0o755);
    assert_eq!(mode_of(&spec, "/usr/share/falco/plugins/liba.so"), 0o700);
    // The explicit entry replaced the tree's copy of that one path.
    assert_eq!(mode_of(&spec, "/etc/falco/falco.yaml"), 0o600);
    let yaml = spec
        .contents
        .iter()
        .find(|e| e.dst.as_ref() == "/etc/falco/falco.yaml")
        .unwrap();
    assert!(matches!(
        yaml.kind,
        ContentKind::File {
            config: ConfigKind::ConfigNoReplace,
            ..
        }
    ));
    let link = spec
        .contents
        .iter()
        .find(|e| e.dst.as_ref() == "/usr/bin/falcoctl")
        .unwrap();
    assert_eq!(
        link.kind,
        ContentKind::Symlink {
            target: "falco".into()
        }
    );
    // The DKMS tree is not in the tarball.
    assert!(spec
        .contents_for(Format::Tar)
        .all(|e| !e.dst.as_ref().starts_with("/usr/src")));

    // A mode on a tree entry applies to its files, not its directories.
    let spec = load(
        root,
        "contents:\n  - { src: dkms/, dst: /usr/src/x, mode: \"0600\" }\n",
    )
    .unwrap();
    assert_eq!(mode_of(&spec, "/usr/src/x/bpf/probe.c"), 0o600);
    assert_ne!(mode_of(&spec, "/usr/src/x/bpf"), 0o600);
}

#[test]
fn bad_trees_name_the_manifest_the_entry_and_the_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, "a/x", 0o644);
    put(root, "b/x", 0o644);

    let e = load(root, "contents:\n  - { src: nothing/, dst: /opt }\n").unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ManifestError::MissingSource { .. }), "{e:?}");
    assert!(
        text.contains("falco.yaml") && text.contains("contents[0].src"),
        "{text}"
    );

    let e = load(root, "contents:\n  - { src: a/*.so, dst: /opt }\n").unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ManifestError::NoMatch { .. }), "{e:?}");
    assert!(
        text.contains("contents[0].src") && text.contains("a/*.so"),
        "{text}"
    );

    let e = load(
        root,
        "contents:\n  - { src: a/, dst: /opt }\n  - { src: b/, dst: /opt }\n",
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ManifestError::Collision { .. }), "{e:?}");
    assert!(
        text.contains("contents[1].dst") && text.contains("contents[0]") && text.contains("/opt/x"),
        "{text}"
    );

    let e = load(
        root,
        "contents:\n  - { src: a/x, dst: /opt/x }\n  - { src: b/x, dst: /opt/x }\n",
    )
    .unwrap_err();
    assert!(matches!(e, ManifestError::Collision { .. }), "{e:?}");

    let e = load(
        root,
        "contents:\n  - { src: a/, dst: /opt, type: symlink }\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("contents[0].type"), "{e}");

    // Checks after expansion name the manifest's entry, not a position in the expanded list.
    let e = load(
        root,
        "contents:\n  - { src: a/, dst: /opt }\n  - { src: nothing.bin, dst: /usr/bin/x }\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("contents[1].src"), "{e}");

    let e = load(root, "changelog: missing\n").unwrap_err();
    assert!(e.to_string().contains("`changelog`"), "{e}");
}

#[test]
fn copyright_and_changelog_become_deb_docs_and_scripts_load() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, "copyright", 0o644);
    put(root, "changelog", 0o644);
    put(root, "pre", 0o644);
    put(root, "pretrans", 0o644);
    put(root, "posttrans", 0o644);
    let body = "copyright: copyright\nchangelog: changelog\nscripts:\n  pre_install: pre\n  \
                pre_transaction: pretrans\n  post_transaction: posttrans\n";
    let spec = load(root, body).unwrap();
    let deb: Vec<&str> = spec
        .contents_for(Format::Deb)
        .map(|e| e.dst.as_ref())
        .collect();
    assert_eq!(
        deb,
        [
            "/usr/share/doc/falco/changelog.gz",
            "/usr/share/doc/falco/copyright"
        ]
    );
    assert_eq!(spec.contents_for(Format::Rpm).count(), 0);
    let gz = spec
        .contents
        .iter()
        .find_map(|e| match &e.kind {
            ContentKind::File {
                source: falco_artifacts_core::package::ContentSource::Inline(bytes),
                ..
            } => Some(bytes.clone()),
            _ => None,
        })
        .unwrap();
    // gzip, no file name (FLG 0), mtime the source date, best compression (XFL 2).
    assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(
        u32::from_le_bytes([gz[4], gz[5], gz[6], gz[7]]),
        1_700_000_000
    );
    assert_eq!(gz[8], 2);
    assert_eq!(spec, load(root, body).unwrap(), "reproducible");
    assert!(spec.scripts.pre_install.is_some());
    assert!(spec.scripts.pre_transaction.is_some() && spec.scripts.post_transaction.is_some());

    // A DEB version with a revision is not native: Debian wants changelog.Debian.gz.
    let options = ManifestOptions {
        version: Some("0.45.0-36+1307474".parse().unwrap()),
        source_date: Some(SourceDate::from_secs(0)),
        ..ManifestOptions::default()
    };
    let dev = load_manifest(&root.join("falco.yaml"), &options).unwrap();
    assert!(dev
        .contents
        .iter()
        .any(|e| e.dst.as_ref() == "/usr/share/doc/falco/changelog.Debian.gz"));
}
