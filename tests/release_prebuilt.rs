//! `release publish` of packages built elsewhere: a DEB by `dpkg-deb -b`, an RPM by
//! `rpmbuild -bb` and a tarball by GNU tar (standing in for CPack) are published on
//! `file://`, then `apt-get download`, `dnf install` (gpgcheck) and `rpm -K` take them; bad
//! input is refused naming the file, with the repository byte-identical after.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use falco_artifacts::core::{Arch, ReleaseEvent, ReleasePolicy, Signer};
use falco_artifacts::release::{
    publish_prebuilt, Gate, Pipeline, PipelineError, PrebuiltError, PrebuiltFiles, PublishJob,
    RpmSignature,
};
use falco_artifacts_testkit::{AptSandbox, DnfSandbox, GpgHome};

mod common;
use common::prebuilt::{dpkg_deb, gnu_tar, rpm_checksig, rpmbuild, tree, SCRIPT};
use common::site::{entry, sha256_hex, ReleaseSite};

/// `release publish --tag <tag> --config … --json <args>` at a fixed source date.
fn publish(site: &ReleaseSite, tag: &str, args: &[&Path], extra: &[&str]) -> Output {
    let config = site.config();
    let mut all: Vec<String> = ["publish", "--tag", tag, "--config"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    all.push(config.to_str().unwrap().to_owned());
    all.push("--json".into());
    all.extend(extra.iter().map(|s| s.to_string()));
    for path in args {
        let flag = match path.to_str().unwrap() {
            p if p.ends_with(".deb") => "--deb",
            p if p.ends_with(".rpm") => "--rpm",
            _ => "--tarball",
        };
        all.push(flag.into());
        all.push(path.to_str().unwrap().to_owned());
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    common::run_with(&all, &[("SOURCE_DATE_EPOCH", "1700000000")])
}

fn report(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "publish: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

/// The refusal of a publish that must fail: its stderr.
fn refusal(out: &Output) -> String {
    assert!(!out.status.success(), "publish succeeded: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn packages_built_elsewhere_publish_then_install_with_apt_and_dnf() {
    let repo = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let site = ReleaseSite::new(&url, "arches: [x86_64]\n");
    let built = tempfile::tempdir().unwrap();
    let deb = dpkg_deb(built.path(), "0.45.0", "amd64");
    let rpm = rpmbuild(built.path(), "0.45.0");
    let tarball = gnu_tar(built.path(), "falco-0.45.0-x86_64");
    let inputs = tree(built.path());

    let first = report(&publish(&site, "0.45.0", &[&deb, &rpm, &tarball], &[]));
    assert_eq!(first["channel"], "stable");
    for name in [
        "falco-0.45.0-x86_64.deb",
        "falco-0.45.0-x86_64.deb.asc",
        "falco-0.45.0-x86_64.rpm",
        "falco-0.45.0-x86_64.rpm.asc",
        "falco-0.45.0-x86_64.tar.gz",
        "falco-0.45.0-x86_64.tar.gz.sha256",
        "falco-0.45.0-x86_64.tar.gz.asc",
    ] {
        assert_eq!(entry(&first, name)["status"], "uploaded", "{name}");
    }
    // The files given are left as they were (the RPM is signed in a copy).
    assert_eq!(tree(built.path()), inputs);
    // The DEB and the tarball are published as built; the RPM gained our header signature.
    assert_eq!(
        entry(&first, "falco-0.45.0-x86_64.deb")["sha256"],
        sha256_hex(&std::fs::read(&deb).unwrap())
    );
    assert_eq!(
        entry(&first, "falco-0.45.0-x86_64.tar.gz")["sha256"],
        sha256_hex(&std::fs::read(&tarball).unwrap())
    );

    let apt = AptSandbox::new(&format!("{url}/packages/deb"), "stable", &site.public_key).unwrap();
    apt.update().unwrap();
    let bytes = apt.download("falco", "0.45.0").unwrap();
    assert_eq!(bytes, std::fs::read(&deb).unwrap());

    let dnf = DnfSandbox::new(&format!("{url}/packages/rpm"), &site.public_key).unwrap();
    dnf.must(&["install", "falco"]).unwrap();
    assert_eq!(
        dnf.installed("falco").unwrap().as_deref(),
        Some("falco-0.45.0-1")
    );
    assert_eq!(
        std::fs::read_to_string(dnf.root().join("usr/bin/falco")).unwrap(),
        SCRIPT
    );
    let downloaded = built.path().join("downloaded.rpm");
    std::fs::write(&downloaded, dnf.download("falco", "0.45.0").unwrap()).unwrap();
    let checked = rpm_checksig(&downloaded, &site.public_key);
    assert!(checked.contains("signatures OK"), "{checked}");

    let dir = repo.path().join("packages/bin/x86_64");
    let sum = Command::new("sha256sum")
        .args(["-c", "falco-0.45.0-x86_64.tar.gz.sha256"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(sum.status.success(), "{sum:?}");
    let gpg = GpgHome::new().unwrap();
    gpg.import_key(&site.public_key).unwrap();
    for file in ["falco-0.45.0-x86_64.tar.gz", "falco-0.45.0-x86_64.deb"] {
        let signed = match file.ends_with(".deb") {
            true => repo.path().join("packages/deb").join(
                entry(&first, file)["url"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(&format!("{url}/packages/deb/")),
            ),
            false => dir.join(file),
        };
        let asc = signed.with_file_name(format!("{file}.asc"));
        let verified = gpg.verify_detached(&asc, &signed).unwrap();
        assert!(verified.good, "{file}: {}", verified.status);
    }

    // The same files again: everything is already there, nothing is uploaded.
    let again = report(&publish(&site, "0.45.0", &[&deb, &rpm, &tarball], &[]));
    assert!(
        again["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] != "uploaded"),
        "{again}"
    );

    // A 0.45.0 tag does not publish 0.44.1 packages, and the repository stays byte for byte.
    let before = tree(repo.path());
    let old = tempfile::tempdir().unwrap();
    let old_deb = dpkg_deb(old.path(), "0.44.1", "amd64");
    let err = refusal(&publish(&site, "0.45.0", &[&old_deb], &[]));
    assert!(err.contains(&old_deb.display().to_string()), "{err}");
    assert!(
        err.contains("\"0.44.1\"") && err.contains("\"0.45.0\""),
        "{err}"
    );
    let old_rpm = rpmbuild(old.path(), "0.44.1");
    let err = refusal(&publish(&site, "0.45.0", &[&deb, &old_rpm], &[]));
    assert!(err.contains(&old_rpm.display().to_string()), "{err}");
    let old_tar = gnu_tar(old.path(), "falco-0.44.1-x86_64");
    let err = refusal(&publish(&site, "0.45.0", &[&old_tar], &[]));
    assert!(err.contains(&old_tar.display().to_string()), "{err}");
    assert!(
        tree(repo.path()) == before,
        "a refused publish changed the repository"
    );
}

#[test]
fn bad_input_is_refused_naming_the_file_before_anything_is_uploaded() {
    let repo = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let site = ReleaseSite::new(&url, "arches: [x86_64]\n");
    let built = tempfile::tempdir().unwrap();
    let deb = dpkg_deb(built.path(), "0.45.0", "amd64");
    let rpm = rpmbuild(built.path(), "0.45.0");
    let before = tree(repo.path());

    let junk = built.path().join("notes.deb");
    std::fs::write(&junk, "not a package\n").unwrap();
    let junk_rpm = built.path().join("notes.rpm");
    std::fs::write(&junk_rpm, "not a package\n").unwrap();
    let junk_tar = built.path().join("notes.tar.gz");
    std::fs::write(&junk_tar, "not a package\n").unwrap();
    for bad in [&junk, &junk_rpm, &junk_tar] {
        let err = refusal(&publish(&site, "0.45.0", &[&deb, bad], &[]));
        assert!(err.contains(&bad.display().to_string()), "{err}");
        assert!(err.contains("not a"), "{err}");
    }

    // An architecture the configuration does not release, and one Falco never releases.
    let arm = dpkg_deb(built.path(), "0.45.0", "arm64");
    let err = refusal(&publish(&site, "0.45.0", &[&deb, &arm], &[]));
    assert!(err.contains(&arm.display().to_string()), "{err}");
    assert!(err.contains("architecture aarch64"), "{err}");
    let i386 = dpkg_deb(built.path(), "0.45.0", "i386");
    let err = refusal(&publish(&site, "0.45.0", &[&i386], &[]));
    assert!(err.contains(&i386.display().to_string()), "{err}");
    assert!(err.contains("\"i386\""), "{err}");

    // rpmbuild leaves its RPM unsigned: refused where a signature is required.
    let err = refusal(&publish(
        &site,
        "0.45.0",
        &[&deb, &rpm],
        &["--rpm-signature", "require"],
    ));
    assert!(err.contains(&rpm.display().to_string()), "{err}");
    assert!(err.contains("no header signature"), "{err}");

    // The same package twice.
    let copy = built.path().join("copy.deb");
    std::fs::copy(&deb, &copy).unwrap();
    let err = refusal(&publish(&site, "0.45.0", &[&deb, &copy], &[]));
    assert!(
        err.contains("both publish as falco-0.45.0-x86_64.deb"),
        "{err}"
    );

    // Nothing named at all.
    let err = refusal(&publish(&site, "0.45.0", &[], &[]));
    assert!(err.contains("no packages to publish"), "{err}");

    assert!(
        tree(repo.path()) == before,
        "a refused publish changed the repository"
    );
}

/// A development build as CPack renders it (`0.45.0-36+1307474` in the DEB,
/// `0.45.0_36+1307474` in the RPM, the canonical string in the tarball's directory), through
/// the library call, with the packages' signatures kept or replaced by option.
#[test]
fn a_development_build_as_cpack_renders_it_is_published() {
    let repo = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let work = tempfile::tempdir().unwrap();
    let built = tempfile::tempdir().unwrap();
    let (key, _) = common::write_test_key(work.path());
    let signer: Arc<dyn Signer> = Arc::new(key.clone().with_signature_time(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
    ));
    let release = ReleaseEvent::Merge {
        branch: "master".into(),
        version: "0.45.0-36+1307474".parse().unwrap(),
    }
    .resolve(&ReleasePolicy::default())
    .unwrap();
    let files = PrebuiltFiles {
        deb: vec![dpkg_deb(built.path(), "0.45.0-36+1307474", "amd64")],
        rpm: vec![rpmbuild(built.path(), "0.45.0_36+1307474")],
        tarball: vec![gnu_tar(built.path(), "falco-0.45.0-36+1307474-x86_64")],
    };
    let job = |files: PrebuiltFiles, rpm_signature| PublishJob {
        release: release.clone(),
        files,
        rpm_signature,
        arches: vec![Arch::X86_64],
        gate: Some(Gate::command(&["true".into()]).unwrap()),
        commit: None,
        env: Default::default(),
        work_dir: work.path().join("work"),
        signer: Arc::clone(&signer),
    };
    let pipeline = Pipeline::new(&url, Arc::clone(&signer)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // `keep` signs an unsigned RPM, like `replace`.
    let report = rt
        .block_on(publish_prebuilt(
            &job(files.clone(), RpmSignature::Keep),
            &pipeline,
        ))
        .unwrap();
    assert_eq!(report.channel, "dev");
    let names: Vec<&str> = report.files.iter().map(|f| f.file_name.as_str()).collect();
    for name in [
        "falco-0.45.0-36+1307474-x86_64.deb",
        "falco-0.45.0-36+1307474-x86_64.rpm",
        "falco-0.45.0-36+1307474-x86_64.tar.gz",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let public = key.public_key_armored().unwrap();
    let dnf = DnfSandbox::new(&format!("{url}/packages/rpm-dev"), &public).unwrap();
    dnf.must(&["install", "falco"]).unwrap();
    assert_eq!(
        dnf.installed("falco").unwrap().as_deref(),
        Some("falco-0.45.0_36+1307474-1")
    );
    let apt = AptSandbox::new(&format!("{url}/packages/deb-dev"), "stable", &public).unwrap();
    apt.update().unwrap();
    assert_eq!(
        apt.download("falco", "0.45.0-36+1307474").unwrap(),
        std::fs::read(&files.deb[0]).unwrap()
    );

    // `require` takes the RPM signed above as it is: nothing changes, nothing is uploaded.
    let signed = work
        .path()
        .join("work/0.45.0-36+1307474/falco-0.45.0-36+1307474-x86_64.rpm");
    let again = PrebuiltFiles {
        rpm: vec![signed],
        ..files.clone()
    };
    let report = rt
        .block_on(publish_prebuilt(
            &job(again, RpmSignature::Require),
            &pipeline,
        ))
        .unwrap();
    assert!(report.is_noop(), "{}", report.to_text());

    // An RPM signed by another key: `keep` publishes it as it is, `replace` signs it with ours.
    let foreign = built.path().join("foreign.rpm");
    std::fs::copy(&files.rpm[0], &foreign).unwrap();
    let other = falco_artifacts::core::PgpSigner::generate(
        "Other <o@example.com>",
        falco_artifacts::core::KeyAlgorithm::Ed25519,
    )
    .unwrap();
    falco_artifacts::rpm::resign_file(&foreign, &other).unwrap();
    let only_rpm = PrebuiltFiles {
        rpm: vec![foreign.clone()],
        ..PrebuiltFiles::default()
    };
    for (mode, kept) in [(RpmSignature::Keep, true), (RpmSignature::Replace, false)] {
        let elsewhere = tempfile::tempdir().unwrap();
        let url = format!("file://{}", elsewhere.path().display());
        let pipeline = Pipeline::new(&url, Arc::clone(&signer)).unwrap();
        let report = rt
            .block_on(publish_prebuilt(&job(only_rpm.clone(), mode), &pipeline))
            .unwrap();
        let published = report
            .files
            .iter()
            .find(|f| f.file_name == "falco-0.45.0-36+1307474-x86_64.rpm")
            .unwrap();
        let same = published.sha256 == sha256_hex(&std::fs::read(&foreign).unwrap());
        assert_eq!(same, kept, "{mode:?}");
        let path = published
            .url
            .trim_start_matches("file://")
            .replace("%2B", "+");
        let checked = rpm_checksig(Path::new(&path), &public);
        assert_eq!(
            checked.contains("signatures OK"),
            !kept,
            "{mode:?}: {checked}"
        );
    }

    // The 0.45.0 release's packages are not this build's: refused before the repository is read.
    let stable = PrebuiltFiles {
        deb: vec![dpkg_deb(built.path(), "0.45.0", "amd64")],
        ..PrebuiltFiles::default()
    };
    let before = tree(repo.path());
    let err = rt
        .block_on(publish_prebuilt(
            &job(stable, RpmSignature::Replace),
            &pipeline,
        ))
        .unwrap_err();
    let PipelineError::Prebuilt(refused) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            &**refused,
            PrebuiltError::VersionMismatch { expected, found, .. }
                if expected == "0.45.0-36+1307474" && found == "0.45.0"
        ),
        "{err:?}"
    );
    assert!(tree(repo.path()) == before);
}

/// The configuration's `prebuilt:` section names the files (relative to it) and the RPM
/// signature mode; flags override both.
#[test]
fn the_configuration_lists_the_files_and_flags_override_it() {
    let repo = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let site = ReleaseSite::new(
        &url,
        "arches: [x86_64]\nprebuilt:\n  deb: [falco.deb]\n  rpm: [falco.rpm]\n  \
         rpm_signature: require\n",
    );
    let built = tempfile::tempdir().unwrap();
    std::fs::rename(
        dpkg_deb(built.path(), "0.45.0", "amd64"),
        site.path("falco.deb"),
    )
    .unwrap();
    std::fs::rename(rpmbuild(built.path(), "0.45.0"), site.path("falco.rpm")).unwrap();
    let before = tree(repo.path());

    let err = refusal(&publish(&site, "0.45.0", &[], &[]));
    assert!(
        err.contains(&site.path("falco.rpm").display().to_string()),
        "{err}"
    );
    assert!(err.contains("no header signature"), "{err}");
    assert!(tree(repo.path()) == before);

    // Files given as flags replace the configuration's list.
    let arm = dpkg_deb(built.path(), "0.45.0", "arm64");
    let err = refusal(&publish(&site, "0.45.0", &[&arm], &[]));
    assert!(err.contains(&arm.display().to_string()), "{err}");
    assert!(tree(repo.path()) == before);

    let done = report(&publish(
        &site,
        "0.45.0",
        &[],
        &["--rpm-signature", "replace"],
    ));
    assert_eq!(
        entry(&done, "falco-0.45.0-x86_64.deb")["status"],
        "uploaded"
    );
    assert_eq!(
        entry(&done, "falco-0.45.0-x86_64.rpm")["status"],
        "uploaded"
    );
}
