//! lintian on the Falco-like sample package: no errors.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use falco_artifacts_pkg_deb::core::package::{
    ConfigKind, ContentEntry, ContentKind, ContentSource, FormatSet,
};
use falco_artifacts_pkg_deb::{Codec, Compression};

use super::support::{build, run, sample_spec, tool};

fn doc(dst: &str, bytes: Vec<u8>) -> ContentEntry {
    ContentEntry {
        dst: dst.parse().unwrap(),
        kind: ContentKind::File {
            source: ContentSource::Inline(Arc::from(bytes)),
            config: ConfigKind::None,
        },
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
        formats: FormatSet::ALL,
    }
}

#[test]
fn lintian_reports_no_errors_on_the_sample_package() {
    let lintian = tool("lintian", "lintian");
    let mut spec = sample_spec();
    // Debian policy wants a copyright file and a changelog in every package. They are content
    // of the manifest, which the sample does not ship, not something a packager may invent:
    // the test adds them as the release manifest would.
    spec.contents.push(doc(
        "/usr/share/doc/falco/copyright",
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
          Upstream-Name: falco\nSource: https://github.com/falcosecurity/falco\n\n\
          Files: *\nCopyright: The Falco Authors\nLicense: Apache-2.0\n \
          On Debian systems, the full text of the Apache License 2.0 can be found in\n \
          /usr/share/common-licenses/Apache-2.0.\n"
            .to_vec(),
    ));
    let changelog = "falco (0.39.0) stable; urgency=medium\n\n  * Release 0.39.0.\n\n \
                     -- The Falco Authors <cncf-falco-dev@lists.cncf.io>  Tue, 14 Nov 2023 22:13:20 +0000\n";
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(changelog.as_bytes()).unwrap();
    spec.contents.push(doc(
        "/usr/share/doc/falco/changelog.gz",
        gz.finish().unwrap(),
    ));

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
            // Both are choices of Falco's real packaging, kept by the sample on purpose:
            // its description starts "Falco - ...", and falco_rules.yaml is replaced on
            // every upgrade so users get new default rules (DESIGN.md: deliberately not a
            // conffile). Neither is about how the package is built.
            .args([
                "--suppress-tags",
                "description-starts-with-package-name,file-in-etc-not-marked-as-conffile",
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
    // The suppressed tags are the only errors without the test's additions, checked so the
    // suppression list cannot hide a new one.
    let dir = tempfile::tempdir().unwrap();
    let plain = build(&sample_spec(), Compression::default(), dir.path());
    let report = run(Command::new(&lintian)
        .args(["--no-cfg", "--fail-on", "none"])
        .arg(&plain));
    let mut tags: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("E:"))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        [
            "description-starts-with-package-name",
            "file-in-etc-not-marked-as-conffile",
            "no-changelog",
            "no-copyright-file"
        ],
        "{report}"
    );
}
