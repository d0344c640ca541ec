//! Installing into a root with scriptlets, and reproducible builds.

use crate::common::*;

/// A root directory with a working `/bin/sh`, so rpm can run scriptlets chrooted into it.
pub(crate) fn root_with_shell(root: &Path) {
    let sh = fs::canonicalize("/bin/sh").unwrap();
    let ldd = run(Command::new(require_tool("ldd", "Debian package libc-bin").unwrap()).arg(&sh));
    let libs = ldd
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect::<Vec<_>>();
    for file in libs.iter().chain([&sh]) {
        let inside = root.join(file.strip_prefix("/").unwrap());
        fs::create_dir_all(inside.parent().unwrap()).unwrap();
        fs::copy(file, &inside).unwrap();
    }
    fs::create_dir_all(root.join("bin")).unwrap();
    let inside_sh = Path::new("/").join(sh.strip_prefix("/").unwrap());
    if inside_sh != Path::new("/bin/sh") {
        std::os::unix::fs::symlink(&inside_sh, root.join("bin/sh")).unwrap();
    }
    for dir in ["tmp", "var/tmp"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
}

pub(crate) fn spec_with_marker_scripts(version: &str, config_text: &str) -> PackageSpec {
    let mut spec = sample_spec(version);
    let marker = |name: &str| Script {
        interpreter: "/bin/sh".into(),
        body: format!("#!/bin/sh\nset -e\necho \"$1\" >> /var/tmp/{name}\n"),
    };
    spec.scripts.post_install = Some(marker("post"));
    spec.scripts.pre_remove = Some(marker("preun"));
    spec.scripts.post_remove = Some(marker("postun"));
    for entry in &mut spec.contents {
        if entry.dst.as_ref() == "/etc/falco/falco.yaml" {
            if let falco_artifacts_core::package::ContentKind::File { source, .. } = &mut entry.kind
            {
                *source = falco_artifacts_core::package::ContentSource::Inline(
                    config_text.as_bytes().into(),
                );
            }
        }
    }
    spec
}

#[test]
pub(crate) fn installs_into_a_root_runs_scriptlets_and_keeps_edited_noreplace_config() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    root_with_shell(&root);
    let v1 = build(
        &spec_with_marker_scripts("0.39.0", "version: 1\n"),
        tmp.path(),
        None,
    );
    let v2 = build(
        &spec_with_marker_scripts("0.39.1", "version: 2\n"),
        tmp.path(),
        None,
    );
    // --nodeps: the root's rpm database is empty, so `systemd` and `/bin/sh` are not
    // provided by any installed package even though a shell is there.
    let rpm_in_root = || {
        let mut c = Command::new(tool("rpm"));
        c.arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm"]);
        c
    };
    run(rpm_in_root().args(["-i", "--nodeps"]).arg(&v1));

    let mode = |p: &str| {
        fs::symlink_metadata(root.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("usr/bin/falco"), 0o755);
    assert_eq!(mode("etc/falco/falco.yaml"), 0o644);
    assert!(root.join("usr/share/falco/plugins").is_dir());
    assert_eq!(
        fs::read_link(root.join("usr/bin/falco-driver-loader")).unwrap(),
        Path::new("falco")
    );
    assert!(root
        .join("usr/lib/systemd/system/falco-kmod.service")
        .is_file());
    assert_eq!(
        fs::read_to_string(root.join("var/tmp/post")).unwrap(),
        "1\n",
        "%post ran"
    );
    let q = run(rpm_in_root().args(["-q", "falco"]));
    assert_eq!(q.trim(), "falco-0.39.0-1.x86_64");
    run(rpm_in_root().args(["-V", "--nodeps", "falco"]));

    // The user edits a noreplace config and a non-config file; the upgrade keeps the first
    // (new version beside it as .rpmnew) and replaces the second.
    fs::write(root.join("etc/falco/falco.yaml"), "edited: true\n").unwrap();
    fs::write(root.join("etc/falco/falco_rules.yaml"), "edited: true\n").unwrap();
    run(rpm_in_root().args(["-U", "--nodeps"]).arg(&v2));
    assert_eq!(
        fs::read_to_string(root.join("etc/falco/falco.yaml")).unwrap(),
        "edited: true\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/falco/falco.yaml.rpmnew")).unwrap(),
        "version: 2\n"
    );
    assert_ne!(
        fs::read_to_string(root.join("etc/falco/falco_rules.yaml")).unwrap(),
        "edited: true\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("var/tmp/post")).unwrap(),
        "1\n2\n",
        "%post on upgrade"
    );
    assert_eq!(
        fs::read_to_string(root.join("var/tmp/preun")).unwrap(),
        "1\n",
        "old %preun on upgrade"
    );

    run(rpm_in_root().args(["-e", "--nodeps", "falco"]));
    assert!(!root.join("usr/bin/falco").exists());
    assert_eq!(
        fs::read_to_string(root.join("var/tmp/postun")).unwrap(),
        "1\n0\n"
    );
}

#[test]
pub(crate) fn two_builds_with_the_same_source_date_are_identical_and_name_no_host() {
    let tmp = TempDir::new().unwrap();
    let spec = sample_spec("0.39.0");
    for compression in [
        Compression::Gzip(6),
        Compression::Xz(6),
        Compression::Zstd(3),
        Compression::None,
    ] {
        let bytes = |_| {
            let mut out = Vec::new();
            RpmBuilder::new(&spec)
                .with_compression(compression)
                .build()
                .unwrap()
                .write(&mut out)
                .unwrap();
            out
        };
        let (a, b) = (bytes(1), bytes(2));
        assert!(a == b, "{compression} builds differ");
        let path = tmp.path().join(format!("{}.rpm", compression.name()));
        fs::write(&path, &a).unwrap();
        if compression != Compression::None {
            assert_eq!(qf(&path, "%{PAYLOADCOMPRESSOR}"), compression.name());
        }
        run(Command::new(tool("rpm")).args(["-Kv"]).arg(&path));
        let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let host = host.trim();
        assert!(
            host.len() < 3 || !a.windows(host.len()).any(|w| w == host.as_bytes()),
            "host name {host} leaked"
        );
        assert_eq!(qf(&path, "%{BUILDHOST}"), "(none)");
    }
}
