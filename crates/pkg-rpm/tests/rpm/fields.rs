//! What `rpm -q` shows of the packages we write.

use crate::common::*;

#[test]
pub(crate) fn rpm_shows_the_fields_modes_and_config_flags_we_wrote() {
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
        "Summary     : Cloud Native Runtime Security",
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
