//! Bad input: each rule reported with file, line and reason; valid configs still planned.

use std::collections::BTreeSet;

use falco_artifacts_driver_grid::{check_tree, check_tree_with, Plan, PlanFilter, Strictness};

use crate::fixture;

#[test]
fn every_rule_names_file_and_reason_and_valid_configs_are_still_planned() {
    let root = fixture("bad");
    let report = check_tree_with(&root, &Strictness::Strict).unwrap();
    let found: BTreeSet<(String, &str, Option<usize>)> = report
        .problems
        .iter()
        .map(|p| {
            let rel = p.path.strip_prefix(&root).unwrap().display().to_string();
            (rel, p.kind.rule(), p.line)
        })
        .collect();
    let dir = "10.2.0+driver/x86_64";
    let expected: BTreeSet<(String, &str, Option<usize>)> = [
        ("10.2.0+driver/amd64".to_owned(), "arch-directory", None),
        ("not-a-version".to_owned(), "driver-version", None),
        (format!("{dir}/broken_yaml.yaml"), "parse", Some(3)),
        (
            format!("{dir}/debian_4.9.228-1-amd64_1.yaml"),
            "output-path",
            Some(7),
        ),
        (format!("{dir}/debian_wrong-name_1.yaml"), "file-name", None),
        (format!("{dir}/fedora_dup_a.yaml"), "file-name", None),
        (format!("{dir}/fedora_dup_b.yaml"), "file-name", None),
        (
            format!("{dir}/fedora_dup_b.yaml"),
            "duplicate-output",
            Some(6),
        ),
        (
            format!("{dir}/fedora_dup_b.yaml"),
            "duplicate-output",
            Some(7),
        ),
        (
            format!("{dir}/gentoo_6.1.0_1.yaml"),
            "unknown-target",
            Some(3),
        ),
        (
            format!("{dir}/minikube_5.10.57_1.yaml"),
            "missing-kernelconfigdata",
            None,
        ),
        (format!("{dir}/nothing_5.10.0-1_1.yaml"), "file-name", None),
        (format!("{dir}/nothing_5.10.0-1_1.yaml"), "no-output", None),
        (
            format!("{dir}/ubuntu_5.15.0-1020-aws_1.yaml"),
            "arch-mismatch",
            Some(4),
        ),
        (
            format!("{dir}/vanilla_5.5.3_1.yaml"),
            "kernelconfigdata-base64",
            Some(9),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(found, expected, "{}", report.to_text());

    // A probe below its minimum is a warning, even under the strict rules: driverkit builds
    // the module and skips the probe.
    let tolerated: BTreeSet<(String, &str, Option<usize>)> = report
        .tolerated
        .iter()
        .map(|p| {
            let rel = p.path.strip_prefix(&root).unwrap().display().to_string();
            (rel, p.kind.rule(), p.line)
        })
        .collect();
    let below: BTreeSet<(String, &str, Option<usize>)> = [
        (
            format!("{dir}/centos_3.10.0-1160.el7.x86_64_1.yaml"),
            "kernel-minimum",
            Some(7),
        ),
        (
            format!("{dir}/debian_4.9.228-1-amd64_1.yaml"),
            "kernel-minimum",
            Some(7),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(tolerated, below, "{}", report.to_text());

    // The good config and the module of the centos one survive, and are planned.
    assert_eq!(report.valid.len(), 2);
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    let keys: Vec<Vec<&str>> = plan
        .builds
        .iter()
        .map(|b| b.outputs.iter().map(|o| o.key.as_str()).collect())
        .collect();
    assert_eq!(
        keys,
        [
            vec!["driver/10.2.0+driver/x86_64/falco_centos_3.10.0-1160.el7.x86_64_1.ko"],
            vec![
                "driver/10.2.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.ko",
                "driver/10.2.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.o"
            ],
        ]
    );
    assert!(!report.is_ok());
}

#[test]
fn messages_say_where_and_why() {
    let root = fixture("bad");
    let report = check_tree_with(&root, &Strictness::Strict).unwrap();
    let text = report.to_text();
    let arch = format!(
        "{}:4: `architecture: arm64` disagrees with the x86_64 directory",
        root.join("10.2.0+driver/x86_64/ubuntu_5.15.0-1020-aws_1.yaml")
            .display()
    );
    assert!(text.contains(&arch), "{text}");
    assert!(text.contains("the file name must be \"fedora_6.5.6-300.fc39.x86_64_1.yaml\", found \"fedora_dup_a.yaml\""), "{text}");
    // The file, the field and the bad byte ('!' is 33), in the base64 crate's words.
    assert!(
        text.lines().any(|l| l.contains("vanilla_5.5.3_1.yaml:")
            && l.contains("`kernelconfigdata` is not valid base64: Invalid symbol 33, offset 14")),
        "{text}"
    );
    assert!(
        text.contains("cannot parse the config: not valid YAML: "),
        "{text}"
    );
    assert!(
        text.contains(
            "centos_3.10.0-1160.el7.x86_64_1.yaml:7: warning: a probe is requested for kernel 3.10.0-1160.el7.x86_64 but x86_64 needs at least 4.14"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("12 config files: 2 valid, 12 invalid, 15 problems, 2 warnings\n"),
        "{text}"
    );

    let json = report.to_json();
    assert_eq!(json["files"], 12);
    assert_eq!(json["valid"], 2);
    assert_eq!(json["invalid"], 12);
    assert_eq!(json["errors"].as_array().unwrap().len(), 15);
    let warnings = json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2);
    assert_eq!(warnings[0]["rule"], "kernel-minimum");
    assert_eq!(warnings[0]["line"], 7);
    let first = &json["errors"][0];
    assert_eq!(first["rule"], "arch-directory");
    assert!(first["path"]
        .as_str()
        .unwrap()
        .ends_with("10.2.0+driver/amd64"));
    assert!(first["line"].is_null());
}

#[test]
fn a_config_with_unparsable_fields_is_a_problem_not_a_panic() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("master/aarch64");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("a.yaml", "- just\n- a list\n", "parse"),
        ("b.yaml", "", "parse"),
        ("c.yaml", "kernelversion: 1\nkernelrelease: 5.4\n", "parse"),
        (
            "d.yaml",
            "kernelversion: 1\nkernelrelease: 5.4 0\ntarget: debian\n",
            "parse",
        ),
        (
            "e.yaml",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: Debian\n",
            "parse",
        ),
        (
            "f.yaml",
            "kernelversion: [1]\nkernelrelease: 5.4\ntarget: debian\n",
            "parse",
        ),
        (
            "g.yaml",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\narchitecture: s390x\n",
            "parse",
        ),
        (
            "h.yaml",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\noutput: 3\n",
            "parse",
        ),
        (
            "i.yaml",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\nkernelurls: http://x\n",
            "parse",
        ),
        (
            "j.yaml",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\ndriverversion: 9.9.9+driver\n\
                    output:\n  module: output/master/aarch64/falco_debian_5.4_1.ko\n",
            "driver-version-mismatch",
        ),
    ];
    for (name, text, _) in &cases {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join("k.yaml"), [0xff, 0xfe, 0x00]).unwrap();
    let report = check_tree(root.path()).unwrap();
    for (name, _, rule) in &cases {
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.path.ends_with(name) && p.kind.rule() == *rule),
            "{name}: {}",
            report.to_text()
        );
    }
    assert!(report
        .problems
        .iter()
        .any(|p| p.path.ends_with("k.yaml") && p.kind.rule() == "read"));
    assert!(report.valid.is_empty());
    // The type error is located.
    let f = report
        .problems
        .iter()
        .find(|p| p.path.ends_with("f.yaml"))
        .unwrap();
    assert_eq!(f.line, Some(1));
    assert!(f
        .to_string()
        .contains("`kernelversion` must be a string or a number"));
}
