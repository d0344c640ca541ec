//! Packages built the way CPack builds them, by the tools it drives: `dpkg-deb -b`,
//! `rpmbuild -bb` and GNU tar, each with one script at `/usr/bin/falco`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_testkit::require_tool;

/// What `/usr/bin/falco` holds in every package built here.
pub(crate) const SCRIPT: &str = "#!/bin/sh\necho falco built elsewhere\n";

fn must(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn payload(root: &Path) {
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/bin/falco"), SCRIPT).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        root.join("usr/bin/falco"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

/// `dpkg-deb -b` of `falco` `version` for DEB `arch` (`amd64`), into `out`.
pub(crate) fn dpkg_deb(out: &Path, version: &str, arch: &str) -> PathBuf {
    let dpkg_deb = require_tool("dpkg-deb", "Debian package dpkg").unwrap();
    let tree = tempfile::tempdir().unwrap();
    payload(tree.path());
    std::fs::create_dir_all(tree.path().join("DEBIAN")).unwrap();
    std::fs::write(
        tree.path().join("DEBIAN/control"),
        format!(
            "Package: falco\nVersion: {version}\nArchitecture: {arch}\n\
             Maintainer: Test <t@example.invalid>\nDescription: Falco built elsewhere\n"
        ),
    )
    .unwrap();
    let deb = out.join(format!("falco-{version}-{arch}.deb"));
    must(
        Command::new(dpkg_deb)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["--root-owner-group", "-Zgzip", "-b"])
            .arg(tree.path())
            .arg(&deb),
    );
    deb
}

/// `rpmbuild -bb` of `falco` with RPM Version `version` for x86_64 (unsigned, as rpmbuild
/// leaves it), into `out`.
pub(crate) fn rpmbuild(out: &Path, version: &str) -> PathBuf {
    let rpmbuild = require_tool("rpmbuild", "Debian package rpm").unwrap();
    let top = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(top.path().join("SPECS")).unwrap();
    let spec = top.path().join("SPECS/falco.spec");
    std::fs::write(
        &spec,
        format!(
            "Name: falco\nVersion: {version}\nRelease: 1\nSummary: Falco built elsewhere\n\
             License: Apache-2.0\nBuildArch: x86_64\nAutoReqProv: no\n\n\
             %description\nFalco built elsewhere.\n\n\
             %install\nmkdir -p %{{buildroot}}/usr/bin\n\
             printf '#!/bin/sh\\necho falco built elsewhere\\n' > %{{buildroot}}/usr/bin/falco\n\
             chmod 0755 %{{buildroot}}/usr/bin/falco\n\n\
             %files\n%attr(0755,root,root) /usr/bin/falco\n"
        ),
    )
    .unwrap();
    must(
        Command::new(rpmbuild)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .arg("--define")
            .arg(format!("_topdir {}", top.path().display()))
            .args(["--define", "_build_id_links none"])
            .args(["--define", "debug_package %{nil}"])
            .args(["--define", "__os_install_post %{nil}"])
            .args(["--quiet", "-bb"])
            .arg(&spec),
    );
    let built = top
        .path()
        .join(format!("RPMS/x86_64/falco-{version}-1.x86_64.rpm"));
    let rpm = out.join(format!("falco-{version}-1.x86_64.rpm"));
    std::fs::copy(built, &rpm).unwrap();
    rpm
}

/// GNU tar of `<top>/usr/bin/falco`, gzip, into `out/<top>.tar.gz`.
pub(crate) fn gnu_tar(out: &Path, top: &str) -> PathBuf {
    let tar = require_tool("tar", "Debian package tar").unwrap();
    let tree = tempfile::tempdir().unwrap();
    payload(&tree.path().join(top));
    let tarball = out.join(format!("{top}.tar.gz"));
    must(
        Command::new(tar)
            .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner"])
            .args(["--mtime=@1700000000", "-czf"])
            .arg(&tarball)
            .arg("-C")
            .arg(tree.path())
            .arg(top),
    );
    tarball
}

/// Every file under `root` with its bytes: two equal trees are byte-identical.
pub(crate) fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(root).unwrap().to_owned(), bytes);
            }
        }
    }
    out
}

/// `rpm -K` of `rpm` in a throwaway rpm database holding only `public_key`; its output
/// (`digests signatures OK` when the signature is good and by that key).
pub(crate) fn rpm_checksig(rpm: &Path, public_key: &str) -> String {
    let rpm_tool = require_tool("rpm", "Debian package rpm").unwrap();
    let db = tempfile::tempdir().unwrap();
    let key = db.path().join("key.asc");
    std::fs::write(&key, public_key).unwrap();
    let dbpath = format!("--dbpath={}", db.path().join("db").display());
    must(Command::new(&rpm_tool).arg(&dbpath).arg("--initdb"));
    must(
        Command::new(&rpm_tool)
            .arg(&dbpath)
            .arg("--import")
            .arg(&key),
    );
    let out = Command::new(&rpm_tool)
        .arg(&dbpath)
        .arg("-K")
        .arg(rpm)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.success(),
        text.contains("signatures OK"),
        "rpm -K {}: {text}",
        rpm.display()
    );
    text
}
