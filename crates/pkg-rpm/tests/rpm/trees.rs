//! A manifest with a directory entry of a few hundred files and a glob: `rpm -qlp --dump`
//! lists every file and directory with its mode, and the package is byte-identical when the
//! same tree is generated again elsewhere (other paths, other mtimes) with the same source
//! date. The manifest's RPM scripts land as `%pre`, `%pretrans` and `%posttrans`.

use falco_artifacts_testkit::trees::TreeManifest;

use crate::common::*;

fn build_tree(dir: &Path, out: &Path, extra: &str) -> (TreeManifest, PathBuf) {
    let tree = TreeManifest::generate(dir, 300).unwrap();
    if !extra.is_empty() {
        for name in ["pre", "pretrans", "posttrans"] {
            fs::write(dir.join(name), format!("#!/bin/sh\necho {name}\n")).unwrap();
        }
        let mut text = fs::read_to_string(&tree.manifest).unwrap();
        text.push_str(extra);
        fs::write(&tree.manifest, text).unwrap();
    }
    let options = ManifestOptions {
        source_date: Some(SourceDate::from_secs(SOURCE_DATE)),
        ..ManifestOptions::default()
    };
    let spec = load_manifest(&tree.manifest, &options).unwrap();
    let rpm = build(&spec, out, None);
    (tree, rpm)
}

#[test]
fn rpm_lists_every_file_of_a_tree_and_glob_with_its_mode() {
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let scripts = "scripts:\n  pre_install: pre\n  pre_transaction: pretrans\n  \
                   post_transaction: posttrans\n";
    let (tree, rpm) = build_tree(src.path(), out.path(), scripts);
    // --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink
    let dump = run(Command::new(tool("rpm")).args(["-qlp", "--dump"]).arg(&rpm));
    let listed: std::collections::HashMap<&str, u32> = dump
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((*f.first()?, u32::from_str_radix(f.get(4)?, 8).ok()?))
        })
        .collect();
    for (path, mode) in &tree.files {
        assert_eq!(
            listed.get(path.as_str()),
            Some(&(0o100_000 | mode)),
            "{path} in rpm --dump:\n{dump}"
        );
    }
    for (path, mode) in &tree.dirs {
        assert_eq!(
            listed.get(path.as_str()),
            Some(&(0o040_000 | mode)),
            "{path}"
        );
    }
    assert!(!dump.contains("README.md"), "the glob took only *.so");
    let files = listed
        .values()
        .filter(|m| *m & 0o170_000 == 0o100_000)
        .count();
    assert_eq!(files, tree.files.len(), "{dump}");

    let scriptlets = run(Command::new(tool("rpm"))
        .args(["-qp", "--scripts"])
        .arg(&rpm));
    for (section, body) in [
        ("preinstall scriptlet", "echo pre"),
        ("pretrans scriptlet", "echo pretrans"),
        ("posttrans scriptlet", "echo posttrans"),
    ] {
        assert!(
            scriptlets.contains(section) && scriptlets.contains(body),
            "{section}:\n{scriptlets}"
        );
    }

    let (again_src, again_out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, again) = build_tree(again_src.path(), again_out.path(), scripts);
    assert!(
        fs::read(&rpm).unwrap() == fs::read(&again).unwrap(),
        "same tree and source date, different bytes"
    );
}
