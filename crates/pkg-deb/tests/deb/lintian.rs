//! lintian on the sample package exactly as the demo packs it: no errors, nothing suppressed.

use std::process::Command;

use falco_artifacts_pkg_deb::{Codec, Compression};

use super::support::{build, sample_spec, tool};

#[test]
fn lintian_reports_no_errors_on_the_sample_package() {
    let lintian = tool("lintian", "lintian");
    // The manifest ships its copyright, changelog and lintian override (falco_rules.yaml is
    // deliberately not a conffile); the test adds nothing and suppresses nothing.
    let spec = sample_spec();
    // Not zstd: lintian 2.116 (Debian 12) calls a data.tar.zst member malformed although
    // dpkg reads it since 1.21.18 (the dpkg tests prove that); newer lintian accepts it.
    for codec in [Codec::Gzip, Codec::Xz] {
        let dir = tempfile::tempdir().unwrap();
        let deb = build(&spec, Compression::default_for(codec), dir.path());
        let out = Command::new(&lintian)
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
            "lintian errors ({codec}):\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "lintian failed ({codec}):\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
