//! The header reader and the extractor against `rpm -q` and `rpm2cpio`.

use crate::common::*;

pub(crate) const SPEC: &str = r#"Name: peer
Epoch: 2
Version: 1.2.3
Release: 4.el9
Summary: A package rpmbuild wrote
License: MIT AND Apache-2.0
URL: https://example.invalid/peer
Vendor: Peer Vendor
Packager: Peer Packager <peer@example.invalid>
Group: Applications/System
BuildArch: noarch
Requires: bash >= 4.2
Requires(post): coreutils
Provides: peer-virtual = 9
Conflicts: oldpeer < 1.0
Obsoletes: peer-legacy <= 1:0.9-1
Recommends: peer-docs
Suggests: peer-extras

%description
First line of the description.
Second line.

%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/peer %{buildroot}/usr/share/peer
printf '#!/bin/sh\necho peer\n' > %{buildroot}/usr/bin/peer
chmod 0755 %{buildroot}/usr/bin/peer
echo 'a: 1' > %{buildroot}/etc/peer/peer.conf
ln -s peer %{buildroot}/usr/bin/peer-link

%post
true

%files
%attr(0755,root,root) /usr/bin/peer
/usr/bin/peer-link
%config(noreplace) /etc/peer/peer.conf
%dir /usr/share/peer

%changelog
* Tue Nov 14 2023 Peer Packager <peer@example.invalid> - 2:1.2.3-4.el9
- Second entry
* Mon Nov 13 2023 Peer Packager <peer@example.invalid> - 2:1.2.3-3.el9
- First entry
"#;

pub(crate) fn rpmbuild_package(dir: &Path) -> PathBuf {
    let top = dir.join("rpmbuild");
    fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/peer.spec");
    fs::write(&spec, SPEC).unwrap();
    run(Command::new(tool("rpmbuild"))
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE.to_string())
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .args(["--define", "_build_id_links none", "--quiet", "-bb"])
        .arg(&spec));
    top.join("RPMS/noarch/peer-1.2.3-4.el9.noarch.rpm")
}

/// Compares every field the reader returns with what `rpm -q --qf` says about the same file.
pub(crate) fn reader_agrees_with_rpm(path: &Path) -> RpmInfo {
    let info = RpmInfo::open(path).unwrap();
    let q = |tag: &str| qf(path, &format!("%{{{tag}}}"));
    let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    assert_eq!(info.name, q("NAME"));
    assert_eq!(
        info.epoch.map_or("(none)".into(), |e| e.to_string()),
        q("EPOCH")
    );
    assert_eq!(info.version, q("VERSION"));
    assert_eq!(info.release, q("RELEASE"));
    assert_eq!(info.arch, q("ARCH"));
    assert_eq!(info.summary, q("SUMMARY"));
    assert_eq!(info.description, q("DESCRIPTION"));
    assert_eq!(info.license, q("LICENSE"));
    assert_eq!(none(&info.url), q("URL"));
    assert_eq!(none(&info.vendor), q("VENDOR"));
    assert_eq!(none(&info.packager), q("PACKAGER"));
    assert_eq!(info.build_time.to_string(), q("BUILDTIME"));
    assert_eq!(info.installed_size.to_string(), q("LONGSIZE"));
    // rpm -q shows only the main header's archive size; older rpmbuild keeps it in the
    // signature header (PAYLOADSIZE), which the reader also reads.
    let archive = q("LONGARCHIVESIZE");
    if archive != "(none)" {
        assert_eq!(info.archive_size.map(|s| s.to_string()), Some(archive));
    }
    assert_eq!(info.package_size, Some(fs::metadata(path).unwrap().len()));
    let relations = |list: &[falco_artifacts_pkg_rpm::Relation]| {
        list.iter()
            .map(|r| match r.comparison {
                Some(c) => format!("{} {} {}\n", r.name, c.as_str(), r.evr),
                None => format!("{}\n", r.name),
            })
            .collect::<String>()
    };
    for (ours, tag) in [
        (&info.provides, "PROVIDE"),
        (&info.requires, "REQUIRE"),
        (&info.conflicts, "CONFLICT"),
        (&info.obsoletes, "OBSOLETE"),
        (&info.recommends, "RECOMMEND"),
        (&info.suggests, "SUGGEST"),
    ] {
        assert_eq!(
            relations(ours),
            qf(path, &format!("[%{{{tag}NEVRS}}\n]")),
            "{tag}"
        );
    }
    let files = info
        .files
        .iter()
        .map(|f| {
            format!(
                "{} {:o} {} {} {} {} {}\n",
                f.path,
                f.mode,
                f.user,
                f.group,
                f.size,
                f.digest.as_deref().unwrap_or(""),
                f.link_target.as_deref().unwrap_or("")
            )
        })
        .collect::<String>();
    let theirs = qf(
        path,
        "[%{FILENAMES} %{FILEMODES:octal} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILESIZES} %{FILEDIGESTS} %{FILELINKTOS}\n]",
    );
    assert_eq!(files, theirs);
    let changelog = info
        .changelog
        .iter()
        .map(|c| format!("{} {}\n{}\n", c.time, c.author, c.text))
        .collect::<String>();
    assert_eq!(
        changelog,
        qf(
            path,
            "[%{CHANGELOGTIME} %{CHANGELOGNAME}\n%{CHANGELOGTEXT}\n]"
        )
    );

    // The header range holds exactly the main header: it starts with the header magic and
    // hashes to the SHA-256 the signature header records.
    let bytes = fs::read(path).unwrap();
    let header = &bytes[usize::try_from(info.header_range.start).unwrap()
        ..usize::try_from(info.header_range.end).unwrap()];
    assert_eq!(&header[..4], &[0x8e, 0xad, 0xe8, 0x01]);
    let digest_file = path.with_extension("header");
    fs::write(&digest_file, header).unwrap();
    let sha = run(Command::new("sha256sum").arg(&digest_file));
    assert_eq!(
        Some(sha.split_whitespace().next().unwrap()),
        info.header_sha256.as_deref()
    );
    // Reading from a stream gives the same answer.
    let streamed = RpmInfo::read(&bytes[..]).unwrap();
    assert_eq!(streamed.files, info.files);
    assert_eq!(streamed.header_range, info.header_range);
    info
}

#[test]
pub(crate) fn reader_returns_what_rpm_q_shows_for_rpmbuild_and_our_packages() {
    let tmp = TempDir::new().unwrap();
    let peer = rpmbuild_package(tmp.path());
    let info = reader_agrees_with_rpm(&peer);
    assert_eq!(info.nevra(), "peer-2:1.2.3-4.el9.noarch");
    assert_eq!(info.group.as_deref(), Some("Applications/System"));
    assert_eq!(info.changelog.len(), 2);
    let conf = info
        .files
        .iter()
        .find(|f| f.path == "/etc/peer/peer.conf")
        .unwrap();
    assert!(conf.config && conf.noreplace);
    let obsolete = &info.obsoletes[0];
    assert_eq!(obsolete.split_evr(), (Some("1"), "0.9", Some("1")));
    assert_eq!(obsolete.comparison.unwrap().repodata_flag(), "LE");
    assert!(info.requires.iter().any(|r| r.name == "coreutils" && r.pre));

    // Ours, with every optional field and relation kind filled in.
    let mut spec = sample_spec("0.39.0");
    let r = &mut spec.rpm_relations;
    r.provides.push("falco-engine = 0.39.0".into());
    r.conflicts.push("sysdig < 0.30".into());
    r.replaces.push("falco-legacy (<= 0.20)".into());
    r.recommends.push("dkms".into());
    r.suggests.push("falcoctl >= 0.10".into());
    r.pre_depends.push("shadow-utils".into());
    for entry in &mut spec.contents {
        if entry.dst.as_ref() == "/usr/share/falco/plugins" {
            entry.owner = "falco".into();
            entry.group = "adm".into();
        }
    }
    let ours = RpmBuilder::new(&spec)
        .with_epoch(1)
        .with_group("Applications/System")
        .with_changelog(ChangelogEntry {
            author: "The Falco Authors <cncf-falco-dev@lists.cncf.io> - 1:0.39.0-1".into(),
            time: 1_699_900_000,
            text: "- Release 0.39.0".into(),
        })
        .build()
        .unwrap()
        .write_to_dir(tmp.path())
        .unwrap();
    let info = reader_agrees_with_rpm(&ours);
    assert_eq!(info.nevra(), "falco-1:0.39.0-1.x86_64");
    assert_eq!(info.file_digest_algorithm, 8);
    assert_eq!(info.changelog.len(), 1);
    assert!(info
        .requires
        .iter()
        .any(|r| r.name == "shadow-utils" && r.pre));
    let plugins = info
        .files
        .iter()
        .find(|f| f.path == "/usr/share/falco/plugins")
        .unwrap();
    assert_eq!(
        (plugins.user.as_str(), plugins.group.as_str(), plugins.kind),
        ("falco", "adm", FileKind::Dir)
    );
    let listing = run(Command::new(tool("rpm")).args(["-qlvp"]).arg(&ours));
    assert!(
        listing
            .lines()
            .any(|l| l.contains(" falco    adm ") && l.ends_with("/usr/share/falco/plugins")),
        "{listing}"
    );
    let link = info
        .files
        .iter()
        .find(|f| f.path == "/usr/bin/falco-driver-loader")
        .unwrap();
    assert_eq!(
        (link.kind, link.link_target.as_deref()),
        (FileKind::Symlink, Some("falco"))
    );
}

#[test]
pub(crate) fn extracts_our_package_and_rpmbuilds_like_rpm2cpio() {
    let tmp = TempDir::new().unwrap();
    for (name, path) in [
        ("ours", build(&sample_spec("0.39.0"), tmp.path(), None)),
        ("peer", rpmbuild_package(tmp.path())),
    ] {
        let ours = tmp.path().join(format!("{name}-ours"));
        let theirs = tmp.path().join(format!("{name}-theirs"));
        fs::create_dir_all(&ours).unwrap();
        fs::create_dir_all(&theirs).unwrap();
        let report = extract(&path, &ours).unwrap();
        assert!(report.files > 0 && report.symlinks == 1, "{report:?}");
        let cpio =
            require_tool("cpio", "Debian package cpio").expect("cpio unpacks rpm2cpio's output");
        run(Command::new("sh")
            .current_dir(&theirs)
            .arg("-c")
            .arg(format!(
                "{} {} | {} -idm --quiet",
                tool("rpm2cpio").display(),
                path.display(),
                cpio.display()
            )));
        let diff = Command::new("diff")
            .arg("-r")
            .arg("--no-dereference")
            .arg(&ours)
            .arg(&theirs)
            .output()
            .unwrap();
        assert!(
            diff.status.success(),
            "{}",
            String::from_utf8_lossy(&diff.stdout)
        );
    }
}
