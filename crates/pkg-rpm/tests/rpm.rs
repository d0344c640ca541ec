//! The packages this crate writes, checked by the real `rpm` tools, and its reader and
//! extractor checked against packages `rpmbuild` writes and against hostile input.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::package::{
    load_manifest, ManifestOptions, PackageSpec, Script, SourceDate,
};
use falco_artifacts_core::{Arch, KeyAlgorithm, PgpSigner, Signer, Version};
use falco_artifacts_pkg_rpm::{
    extract, resign_file, ChangelogEntry, Compression, FileKind, RpmBuilder, RpmError, RpmInfo,
};
use falco_artifacts_testkit::require_tool;
use tempfile::TempDir;

const SOURCE_DATE: u64 = 1_700_000_000;

fn tool(name: &str) -> PathBuf {
    require_tool(name, "Debian package rpm").expect("the rpm tools are needed")
}

fn sample_spec(version: &str) -> PackageSpec {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/falco.yaml");
    let options = ManifestOptions {
        version: Some(version.parse::<Version>().unwrap()),
        arch: Some(Arch::X86_64),
        source_date: Some(SourceDate::from_secs(SOURCE_DATE)),
    };
    load_manifest(&manifest, &options).unwrap()
}

fn build(spec: &PackageSpec, dir: &Path, signer: Option<&dyn Signer>) -> PathBuf {
    let mut builder = RpmBuilder::new(spec);
    if let Some(signer) = signer {
        builder = builder.with_signer(signer);
    }
    builder.build().unwrap().write_to_dir(dir).unwrap()
}

/// Runs `cmd`, asserts it succeeded, returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn qf(rpm: &Path, format: &str) -> String {
    run(Command::new(tool("rpm"))
        .args(["-qp", "--nosignature", "--qf", format])
        .arg(rpm))
}

#[test]
fn rpm_shows_the_fields_modes_and_config_flags_we_wrote() {
    let tmp = TempDir::new().unwrap();
    let path = build(&sample_spec("0.45.0-36+1307474"), tmp.path(), None);
    assert_eq!(
        path.file_name().unwrap(),
        "falco-0.45.0-36+1307474-x86_64.rpm"
    );

    let info = run(Command::new(tool("rpm")).arg("-qip").arg(&path));
    for line in [
        "Name        : falco",
        "Version     : 0.45.0_36+1307474",
        "Release     : 1",
        "Architecture: x86_64",
        "License     : Apache-2.0",
        "Summary     : Falco - Cloud Native Runtime Security",
        "Vendor      : Falco Project",
        "URL         : https://falco.org",
        "Packager    : The Falco Authors <cncf-falco-dev@lists.cncf.io>",
        "Build Host  : (none)",
    ] {
        assert!(info.contains(line), "rpm -qip lacks {line:?}:\n{info}");
    }
    assert_eq!(qf(&path, "%{BUILDTIME}"), SOURCE_DATE.to_string());
    // SHA-256 for file digests (8) and the payload digest.
    assert_eq!(qf(&path, "%{FILEDIGESTALGO} %{PAYLOADDIGESTALGO}"), "8 8");
    assert_eq!(qf(&path, "%{PAYLOADCOMPRESSOR}"), "gzip");

    let requires = run(Command::new(tool("rpm"))
        .args(["-qp", "--requires"])
        .arg(&path));
    assert!(requires.lines().any(|l| l == "systemd"), "{requires}");
    assert!(
        requires.lines().any(|l| l == "/bin/sh"),
        "scriptlet interpreter: {requires}"
    );

    let config = run(Command::new(tool("rpm"))
        .args(["-qp", "--configfiles"])
        .arg(&path));
    assert_eq!(
        config.lines().collect::<Vec<_>>(),
        ["/etc/falco/falco.yaml", "/etc/falco/falco_rules.local.yaml"]
    );
    let flags = qf(&path, "[%{FILENAMES} %{FILEFLAGS:fflags}\n]");
    assert!(flags.contains("/etc/falco/falco.yaml cn\n"), "{flags}");
    assert!(
        flags.contains("/etc/falco/falco_rules.yaml \n"),
        "not config: {flags}"
    );

    let listing = run(Command::new(tool("rpm")).args(["-qlvp"]).arg(&path));
    let line = |p: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(p) || l.contains(&format!("{p} ->")))
            .unwrap_or_else(|| panic!("{p} missing:\n{listing}"))
            .to_owned()
    };
    assert!(line("/usr/bin/falco").starts_with("-rwxr-xr-x    1 root     root"));
    assert!(line("/etc/falco/falco.yaml").starts_with("-rw-r--r--    1 root     root"));
    assert!(line("/usr/share/falco/plugins").starts_with("drwxr-xr-x"));
    assert!(line("/usr/bin/falco-driver-loader").starts_with("lrwxrwxrwx"));
    assert!(line("/usr/bin/falco-driver-loader").ends_with("-> falco"));
    let scripts = run(Command::new(tool("rpm"))
        .args(["-qp", "--scripts"])
        .arg(&path));
    for which in ["postinstall", "preuninstall", "postuninstall"] {
        assert!(
            scripts.contains(&format!("{which} scriptlet (using /bin/sh)")),
            "{scripts}"
        );
    }
    // Digests verify without any key.
    let k = run(Command::new(tool("rpm")).args(["-Kv"]).arg(&path));
    assert!(
        k.contains("Header SHA256 digest: OK") && k.contains("Payload SHA256 digest: OK"),
        "{k}"
    );
}

/// An rpm database in a temporary directory holding only `signer`'s public key.
fn keyring(dir: &Path, signer: &dyn Signer) -> PathBuf {
    let db = dir.join("rpmdb");
    fs::create_dir_all(&db).unwrap();
    let key = dir.join("key.asc");
    fs::write(&key, signer.public_key_armored().unwrap()).unwrap();
    run(Command::new(tool("rpm"))
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(&key));
    db
}

/// `rpm -Kv` output, asserting that the header signature is present and good and every
/// digest is OK.
fn check_signature(db: &Path, rpm: &Path) -> String {
    let out = run(Command::new(tool("rpm"))
        .arg("--dbpath")
        .arg(db)
        .arg("-Kv")
        .arg(rpm));
    assert!(!out.contains("NOT OK") && !out.contains("NOKEY"), "{out}");
    assert!(out.contains("Header SHA256 digest: OK"), "{out}");
    assert!(out.contains("Payload SHA256 digest: OK"), "{out}");
    out
}

#[test]
fn ed25519_and_rsa_signatures_pass_rpm_k() {
    for (algorithm, expected) in [
        (KeyAlgorithm::Ed25519, "Header V4 EdDSA/SHA256 Signature"),
        (KeyAlgorithm::Rsa(2048), "Header V4 RSA/SHA256 Signature"),
    ] {
        let tmp = TempDir::new().unwrap();
        let signer = PgpSigner::generate("Falco Test <test@example.invalid>", algorithm).unwrap();
        let db = keyring(tmp.path(), &signer);
        let path = build(&sample_spec("0.39.0"), tmp.path(), Some(&signer));
        let out = check_signature(&db, &path);
        assert!(out.contains(&format!("{expected}, key ID")), "{out}");
        assert!(
            out.contains("Signature, key ID") && out.contains(": OK"),
            "{out}"
        );
        let info = RpmInfo::open(&path).unwrap();
        assert_eq!(info.signatures.len(), 1);
        // Without the key rpm sees the signature but cannot check it.
        let empty = tmp.path().join("empty-db");
        fs::create_dir_all(&empty).unwrap();
        let out = Command::new(tool("rpm"))
            .arg("--dbpath")
            .arg(&empty)
            .arg("-Kv")
            .arg(&path)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("NOKEY"));
    }
}

#[test]
fn resigning_rotates_the_key_without_touching_header_or_payload() {
    let tmp = TempDir::new().unwrap();
    let old = PgpSigner::generate("Old <old@example.invalid>", KeyAlgorithm::Ed25519).unwrap();
    let new = PgpSigner::generate("New <new@example.invalid>", KeyAlgorithm::Rsa(2048)).unwrap();
    let path = build(&sample_spec("0.39.0"), tmp.path(), Some(&old));
    let before = fs::read(&path).unwrap();
    let range = RpmInfo::open(&path).unwrap().header_range;

    resign_file(&path, &new).unwrap();
    let after = fs::read(&path).unwrap();
    assert_eq!(before.len(), after.len(), "re-signed in place");
    let start = usize::try_from(range.start).unwrap();
    assert_eq!(
        before[start..],
        after[start..],
        "header and payload untouched"
    );
    let new_db = keyring(&tmp.path().join("new"), &new);
    check_signature(&new_db, &path);
    let old_db = keyring(&tmp.path().join("old"), &old);
    let out = Command::new(tool("rpm"))
        .arg("--dbpath")
        .arg(&old_db)
        .arg("-Kv")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NOKEY"),
        "the old signature is gone"
    );

    // A package rpmbuild wrote is signed in place too, its own digests kept.
    let peer = rpmbuild_package(tmp.path());
    let len = fs::metadata(&peer).unwrap().len();
    resign_file(&peer, &new).unwrap();
    assert_eq!(fs::metadata(&peer).unwrap().len(), len);
    let out = check_signature(&new_db, &peer);
    assert!(out.contains("Header V4 RSA/SHA256 Signature"), "{out}");

    // A package with no room in its signature header is rewritten instead.
    let mut b = rpm::PackageBuilder::new("tight", "1.0", "MIT", "noarch", "no reserved space");
    b.using_config(
        rpm::BuildConfig::v4()
            .source_date(1_700_000_000u32)
            .reserved_space(None),
    );
    b.with_file_contents("x", rpm::FileOptions::new("/usr/share/tight/x"))
        .unwrap();
    let tight = tmp.path().join("tight.rpm");
    b.build().unwrap().write_file(&tight).unwrap();
    let len = fs::metadata(&tight).unwrap().len();
    resign_file(&tight, &new).unwrap();
    assert!(fs::metadata(&tight).unwrap().len() > len);
    check_signature(&new_db, &tight);
}

/// A root directory with a working `/bin/sh`, so rpm can run scriptlets chrooted into it.
fn root_with_shell(root: &Path) {
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

fn spec_with_marker_scripts(version: &str, config_text: &str) -> PackageSpec {
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
fn installs_into_a_root_runs_scriptlets_and_keeps_edited_noreplace_config() {
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
fn two_builds_with_the_same_source_date_are_identical_and_name_no_host() {
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

const SPEC: &str = r#"Name: peer
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

fn rpmbuild_package(dir: &Path) -> PathBuf {
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
fn reader_agrees_with_rpm(path: &Path) -> RpmInfo {
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
fn reader_returns_what_rpm_q_shows_for_rpmbuild_and_our_packages() {
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
fn extracts_our_package_and_rpmbuilds_like_rpm2cpio() {
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

/// Rewrites every occurrence of `from` in an uncompressed package, header and payload alike.
fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
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

fn hostile(dir: &Path, name: &str, add: impl FnOnce(&mut rpm::PackageBuilder)) -> Vec<u8> {
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
fn extraction_refuses_traversal_and_symlink_escapes() {
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
fn no_panic<T>(result: Result<T, RpmError>) {
    if let Err(RpmError::Corrupt {
        offset: None, why, ..
    }) = &result
    {
        panic!("the rpm crate panicked and the backstop caught it: {why}");
    }
}

#[test]
fn corrupt_input_gives_errors_not_panics() {
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
