//! Our packages as dpkg sees them: `dpkg-deb --info/--contents`, and `dpkg` installing,
//! upgrading, removing and purging on a throwaway root with the maintainer scripts running.

use std::fs;
use std::path::Path;
use std::process::Command;

use falco_artifacts_pkg_deb::core::package::Script;
use falco_artifacts_pkg_deb::{Codec, Compression, DebBuilder};

use super::support::{build, run, sample_spec, spec_from, tool};

/// `dpkg-deb --contents` as (type+mode, owner/group, size, path, link target).
fn contents(deb: &Path) -> Vec<(String, String, String, String)> {
    let out = run(Command::new(tool("dpkg-deb", "dpkg"))
        .arg("--contents")
        .arg(deb));
    out.lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // perms owner size date time path [-> target]
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[5].to_owned(),
                f[6..].join(" "),
            )
        })
        .map(|(perms, owner, path, rest)| {
            let link = rest.strip_prefix("-> ").unwrap_or_default().to_owned();
            (perms, owner, path, link)
        })
        .collect()
}

#[test]
fn dpkg_deb_sees_what_the_sample_describes_in_every_compression() {
    let spec = sample_spec();
    for codec in [Codec::Gzip, Codec::Xz, Codec::Zstd, Codec::None] {
        let dir = tempfile::tempdir().unwrap();
        let deb = build(&spec, Compression::default_for(codec), dir.path());
        assert_eq!(deb.file_name().unwrap(), "falco-0.39.0-x86_64.deb");
        let dpkg_deb = tool("dpkg-deb", "dpkg");

        let fields = run(Command::new(&dpkg_deb).arg("--field").arg(&deb).args([
            "Package",
            "Version",
            "Architecture",
            "Maintainer",
            "Suggests",
            "Section",
            "Priority",
            "Homepage",
        ]));
        assert_eq!(
            fields,
            "Package: falco\nVersion: 0.39.0\nArchitecture: amd64\n\
             Maintainer: The Falco Authors <cncf-falco-dev@lists.cncf.io>\nSuggests: dkms\n\
             Section: utils\nPriority: optional\nHomepage: https://falco.org\n"
        );
        let description = run(Command::new(&dpkg_deb)
            .arg("--field")
            .arg(&deb)
            .arg("Description"));
        assert_eq!(
            description,
            "Cloud Native Runtime Security\n Falco is a cloud native runtime security tool that detects unexpected behaviour,\n intrusions and data theft in real time. This is a sample payload.\n"
        );
        let info = run(Command::new(&dpkg_deb).arg("--info").arg(&deb));
        assert!(info.contains("new Debian package, version 2.0."), "{info}");
        for script in ["postinst", "prerm", "postrm"] {
            let line = info.lines().find(|l| l.contains(script)).unwrap();
            assert!(line.contains('*'), "{script} must be executable: {line}");
        }
        let conffiles = run(Command::new(&dpkg_deb)
            .arg("--info")
            .arg(&deb)
            .arg("conffiles"));
        assert_eq!(
            conffiles,
            "/etc/falco/falco.yaml\n/etc/falco/falco_rules.local.yaml\n"
        );
        let md5sums = run(Command::new(&dpkg_deb)
            .arg("--info")
            .arg(&deb)
            .arg("md5sums"));
        assert!(md5sums.contains("  usr/bin/falco\n"), "{md5sums}");
        assert!(
            md5sums.contains("  etc/falco/falco_rules.yaml\n"),
            "{md5sums}"
        );
        assert!(
            !md5sums.contains("etc/falco/falco.yaml"),
            "conffiles are not in md5sums"
        );

        let listed = contents(&deb);
        let find = |path: &str| {
            listed
                .iter()
                .find(|(_, _, p, _)| p == path)
                .unwrap_or_else(|| panic!("{path} missing from {listed:?} ({codec})"))
        };
        assert_eq!(listed[0].2, "./");
        assert!(listed.iter().all(|(_, owner, _, _)| owner == "root/root"));
        assert_eq!(find("./usr/bin/falco").0, "-rwxr-xr-x");
        assert_eq!(find("./etc/falco/falco.yaml").0, "-rw-r--r--");
        assert_eq!(find("./usr/share/falco/plugins/").0, "drwxr-xr-x");
        let link = find("./usr/bin/falco-driver-loader");
        assert_eq!((link.0.as_str(), link.3.as_str()), ("lrwxrwxrwx", "falco"));
        assert_eq!(
            find("./usr/lib/systemd/system/falco-kmod.service").0,
            "-rw-r--r--"
        );
        // Parents come before children: the order dpkg unpacks in.
        let paths: Vec<&str> = listed.iter().map(|(_, _, p, _)| p.as_str()).collect();
        for (i, path) in paths.iter().enumerate() {
            let parent = match path.trim_end_matches('/').rsplit_once('/') {
                Some((parent, _)) => format!("{parent}/"),
                None => continue,
            };
            assert!(
                paths[..i].contains(&parent.as_str()),
                "{path} before its parent"
            );
        }
    }
}

const INSTALL_MANIFEST: &str = r##"
name: falco-install-test
maintainer: Test <test@example.invalid>
description: |
  install test package
  Exercises conffiles, symlinks, directories and maintainer scripts.
license: Apache-2.0
contents:
  - dst: /usr/bin/falco-install-test
    inline: "#!/bin/sh\necho hello\n"
    mode: "0755"
  - dst: /etc/falco-install-test/config.yaml
    inline: "setting: default\n"
    type: config-noreplace
  - dst: /etc/falco-install-test/rules.yaml
    inline: "rules: []\n"
  - dst: /usr/bin/falco-install-test-link
    type: symlink
    target: falco-install-test
  - dst: /var/lib/falco-install-test
    type: dir
    mode: "0750"
scripts:
  post_install: postinst
  pre_remove: prerm
  post_remove: postrm
"##;

/// A script that appends its name and arguments to a log inside the dpkg root.
fn logging_script(name: &str) -> String {
    format!(
        "#!/bin/sh\nset -e\nmkdir -p \"$DPKG_ROOT/var/log\"\necho \"{name} $*\" >> \"$DPKG_ROOT/var/log/falco-install-test.log\"\n"
    )
}

#[test]
fn dpkg_installs_upgrades_removes_and_purges_on_a_throwaway_root() {
    let dpkg = tool("dpkg", "dpkg");
    let host_status = fs::read("/var/lib/dpkg/status").unwrap_or_default();

    let work = tempfile::tempdir().unwrap();
    let scripts = work.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    for name in ["postinst", "prerm", "postrm"] {
        fs::write(scripts.join(name), logging_script(name)).unwrap();
    }
    let preinst = Script {
        interpreter: "/bin/sh".into(),
        body: logging_script("preinst"),
    };
    let package = |version: &str| {
        let yaml = format!(
            "{INSTALL_MANIFEST}version: {version}\narch: x86_64\nsource_date: 1700000000\n"
        );
        let spec = spec_from(&yaml, &scripts);
        let out = work.path().join(version);
        fs::create_dir(&out).unwrap();
        DebBuilder::new(&spec)
            .with_compression(Compression::new(Codec::Xz, 6))
            .with_preinst(preinst.clone())
            .build()
            .unwrap()
            .write_to_dir(&out)
            .unwrap()
            .path
            .unwrap()
    };
    let v1 = package("0.39.0");
    let v2 = package("0.40.0");

    let root = work.path().join("root");
    let admin = root.join("var/lib/dpkg");
    for dir in ["info", "updates", "triggers"] {
        fs::create_dir_all(admin.join(dir)).unwrap();
    }
    fs::write(admin.join("status"), "").unwrap();
    fs::write(admin.join("available"), "").unwrap();
    // Chrootless: the scripts run on the host with DPKG_ROOT set (they only write under it),
    // so the throwaway root needs no shell of its own.
    let dpkg_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&dpkg);
        cmd.arg(format!("--root={}", root.display()))
            .arg("--force-not-root")
            .arg("--force-script-chrootless")
            .arg("--log=/dev/null")
            .args(args);
        cmd
    };
    let log =
        || fs::read_to_string(root.join("var/log/falco-install-test.log")).unwrap_or_default();

    run(dpkg_cmd(&["-i"]).arg(&v1));
    assert_eq!(
        log(),
        "preinst install\npostinst configure \n",
        "scripts run in order with dpkg's arguments"
    );
    let status = run(&mut dpkg_cmd(&["-s", "falco-install-test"]));
    assert!(status.contains("Status: install ok installed"), "{status}");
    assert!(status.contains("Version: 0.39.0"), "{status}");
    assert!(
        status.contains("Conffiles:\n /etc/falco-install-test/config.yaml "),
        "{status}"
    );
    let bin = root.join("usr/bin/falco-install-test");
    assert_eq!(fs::read_to_string(&bin).unwrap(), "#!/bin/sh\necho hello\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&bin).unwrap().permissions().mode() & 0o7777,
        0o755
    );
    assert_eq!(
        fs::read_link(root.join("usr/bin/falco-install-test-link")).unwrap(),
        Path::new("falco-install-test")
    );
    let state = root.join("var/lib/falco-install-test");
    assert!(state.is_dir());
    assert_eq!(
        fs::metadata(&state).unwrap().permissions().mode() & 0o7777,
        0o750
    );

    // The user edits the conffile; an upgrade keeps the edit, and the scripts see the upgrade.
    let config = root.join("etc/falco-install-test/config.yaml");
    fs::write(&config, "setting: mine\n").unwrap();
    fs::remove_file(root.join("var/log/falco-install-test.log")).unwrap();
    run(dpkg_cmd(&["-i"]).arg(&v2));
    assert_eq!(
        log(),
        "prerm upgrade 0.40.0\npreinst upgrade 0.39.0 0.40.0\npostrm upgrade 0.40.0\npostinst configure 0.39.0\n"
    );
    assert_eq!(fs::read_to_string(&config).unwrap(), "setting: mine\n");

    // Remove keeps conffiles; purge deletes them.
    fs::remove_file(root.join("var/log/falco-install-test.log")).unwrap();
    run(&mut dpkg_cmd(&["-r", "falco-install-test"]));
    assert_eq!(log(), "prerm remove\npostrm remove\n");
    assert!(!bin.exists());
    assert!(config.exists(), "remove keeps the conffile");
    run(&mut dpkg_cmd(&["-P", "falco-install-test"]));
    assert!(log().ends_with("postrm purge\n"), "{}", log());
    assert!(!config.exists(), "purge removes the conffile");

    assert_eq!(
        fs::read("/var/lib/dpkg/status").unwrap_or_default(),
        host_status,
        "the host's dpkg database must not change"
    );
}
