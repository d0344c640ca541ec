//! lintian on the sample package exactly as the demo packs it: no errors, nothing suppressed.

use std::process::Command;

use falco_artifacts_pkg_deb::{Codec, Compression};

use falco_artifacts_pkg_deb::core::package::{load_manifest, ManifestOptions, SourceDate};

use super::support::{build, sample_manifest, tool, SOURCE_DATE};

#[test]
fn lintian_reports_no_errors_on_the_sample_package() {
    let lintian = tool("lintian", "lintian");
    // The manifest ships its copyright, changelog and lintian override (falco_rules.yaml is
    // deliberately not a conffile); the test adds nothing and suppresses nothing.
    // A stable version and a development one as the demo renders it.
    for version in ["0.39.0", "0.45.0-36+1307474"] {
        let options = ManifestOptions {
            version: Some(version.parse().unwrap()),
            arch: Some("x86_64".parse().unwrap()),
            source_date: Some(SourceDate::from_secs(SOURCE_DATE)),
        };
        let spec = load_manifest(&sample_manifest(), &options).unwrap();
        check(&lintian, &spec, version);
    }
}

fn check(
    lintian: &std::path::Path,
    spec: &falco_artifacts_pkg_deb::core::package::PackageSpec,
    version: &str,
) {
    // Not zstd: lintian 2.116 (Debian 12) calls a data.tar.zst member malformed although
    // dpkg reads it since 1.21.18 (the dpkg tests prove that); newer lintian accepts it.
    for codec in [Codec::Gzip, Codec::Xz] {
        let dir = tempfile::tempdir().unwrap();
        let deb = build(spec, Compression::default_for(codec), dir.path());
        let out = Command::new(lintian)
            .args([
                "--no-cfg",
                "--fail-on",
                "error",
                "--display-level",
                ">=warning",
            ])
            .arg(&deb)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
        assert!(
            errors.is_empty(),
            "lintian errors ({version}, {codec}):\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "lintian failed ({version}, {codec}):\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
