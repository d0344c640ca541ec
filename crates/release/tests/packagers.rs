//! The three packagers share core's `Packager` shape: one generic function packs DEB, RPM and
//! the tarball, and the files it gets back are described alike and accepted by the real tools
//! (dpkg-deb, rpm, GNU tar, gpg).
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::io::Read;
use std::path::Path;
use std::process::Command;

use falco_artifacts_core::package::{
    load_manifest, Format, ManifestOptions, PackageSpec, Packager, SourceDate,
};
use falco_artifacts_core::{Arch, ArtifactKind, KeyAlgorithm, PgpSigner, Signer};
use falco_artifacts_pkg_deb::DebPackager;
use falco_artifacts_pkg_rpm::RpmPackager;
use falco_artifacts_pkg_tar::TarballPackager;
use falco_artifacts_testkit::{require_tool, GpgHome};

/// What a release script does with any packager: pack, then write each file it got back.
fn pack_and_check<P: Packager>(
    packager: &P,
    spec: &PackageSpec,
    signer: &dyn Signer,
    gpg: &GpgHome,
    out: &Path,
) -> Vec<(ArtifactKind, String)> {
    let dir = out.join(format!("{:?}", packager.format()));
    let artifacts = packager.package(spec, Some(signer), &dir).unwrap();
    let package = &artifacts[0];
    assert_eq!(package.file_name(), spec.file_name(packager.format()));
    for artifact in &artifacts {
        assert_eq!(artifact.version(), Some(&spec.version));
        assert_eq!(artifact.arch(), Some(spec.arch));
        assert_eq!(artifact.repository(), Some(packager.format().repository()));
        // Every artifact's bytes are there and match its digest, on disk or in memory.
        let mut bytes = Vec::new();
        artifact.open().unwrap().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, artifact.size());
        let copy = out.join("check").join(artifact.file_name());
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::write(&copy, &bytes).unwrap();
    }
    let signature = artifacts
        .iter()
        .find(|a| a.kind() == ArtifactKind::Signature)
        .expect("a detached signature with a signer");
    assert_eq!(
        signature.file_name(),
        format!("{}.asc", package.file_name())
    );
    let check = out.join("check");
    let verified = gpg
        .verify_detached(
            &check.join(signature.file_name()),
            &check.join(package.file_name()),
        )
        .unwrap();
    assert!(verified.good, "{}", verified.status);
    artifacts
        .iter()
        .map(|a| (a.kind(), a.file_name().to_owned()))
        .collect()
}

fn accepted(tool: &str, package: &str, args: &[&str], file: &Path) {
    let program = require_tool(tool, package).unwrap();
    let output = Command::new(program).args(args).arg(file).output().unwrap();
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn deb_rpm_and_tarball_pack_through_one_trait() {
    let out = tempfile::tempdir().unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample/falco.yaml");
    let spec = load_manifest(
        &manifest,
        &ManifestOptions {
            version: Some("0.45.0".parse().unwrap()),
            arch: Some(Arch::Aarch64),
            source_date: Some(SourceDate::from_secs(1_700_000_000)),
        },
    )
    .unwrap();
    let signer = PgpSigner::generate("T <t@example.com>", KeyAlgorithm::Ed25519).unwrap();
    let gpg = GpgHome::new().unwrap();
    gpg.import_key(&signer.public_key_armored().unwrap())
        .unwrap();

    let deb = pack_and_check(&DebPackager::new(), &spec, &signer, &gpg, out.path());
    let rpm = pack_and_check(&RpmPackager::new(), &spec, &signer, &gpg, out.path());
    let tar = pack_and_check(&TarballPackager::new(), &spec, &signer, &gpg, out.path());
    let names = |list: &[(ArtifactKind, String)]| -> Vec<String> {
        list.iter().map(|(_, n)| n.clone()).collect()
    };
    assert_eq!(
        names(&deb),
        ["falco-0.45.0-aarch64.deb", "falco-0.45.0-aarch64.deb.asc"]
    );
    assert_eq!(
        names(&rpm),
        ["falco-0.45.0-aarch64.rpm", "falco-0.45.0-aarch64.rpm.asc"]
    );
    assert_eq!(
        names(&tar),
        [
            "falco-0.45.0-aarch64.tar.gz",
            "falco-0.45.0-aarch64.tar.gz.sha256",
            "falco-0.45.0-aarch64.tar.gz.asc"
        ]
    );
    assert_eq!(tar[1].0, ArtifactKind::Checksum);

    let check = out.path().join("check");
    accepted(
        "dpkg-deb",
        "Debian package dpkg",
        &["--info"],
        &check.join(&deb[0].1),
    );
    accepted(
        "rpm",
        "Debian package rpm",
        &["-qip"],
        &check.join(&rpm[0].1),
    );
    accepted(
        "tar",
        "Debian package tar",
        &["-tzf"],
        &check.join(&tar[0].1),
    );
    assert_eq!(
        Format::Tar.repository(),
        falco_artifacts_core::RepoKind::Bin
    );
}
