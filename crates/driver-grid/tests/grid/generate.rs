//! Generating configs from a kernel-crawler list.json: they validate and round-trip.

use falco_artifacts_driver_grid::{check_tree_with, generate, DriverVersion, SkipReason, Strictness};

#[test]
fn generated_configs_validate_and_round_trip() {
    let list = serde_json::json!({
        "x86_64": {
            "Ubuntu": [
                {"kernelversion": "38~20.04.1", "kernelrelease": "5.15.0-1019-aws", "target": "ubuntu",
                 "headers": ["https://mirror.example.invalid/a.deb", "https://mirror.example.invalid/b.deb"]},
                {"kernelversion": 1, "kernelrelease": "4.4.0-21-generic", "target": "ubuntu", "headers": []},
                {"kernelversion": "38~20.04.1", "kernelrelease": "5.15.0-1019-aws", "target": "ubuntu", "headers": []}
            ],
            "Vanilla": [
                {"kernelversion": 1, "kernelrelease": "5.5.2", "target": "vanilla", "headers": ["https://cdn.example.invalid/linux-5.5.2.tar.xz"],
                 "kernelconfigdata": "Q09ORklHX01PRFVMRVM9eQo="},
                {"kernelversion": 1, "kernelrelease": "5.5.3", "target": "vanilla", "headers": []}
            ],
            "Gentoo": [{"kernelversion": 1, "kernelrelease": "6.1.0", "target": "gentoo", "headers": []}],
            "Old": [{"kernelversion": 1, "kernelrelease": "2.4.37", "target": "centos", "headers": []}],
            "Broken": [{"kernelrelease": "6.1.0", "target": "debian"}]
        },
        "aarch64": {
            "AmazonLinux2": [
                {"kernelversion": "1", "kernelrelease": "4.14.355-275.570.amzn2.aarch64", "target": "amazonlinux2",
                 "headers": ["https://mirror.example.invalid/k.rpm"]},
                {"kernelversion": "1", "kernelrelease": "3.10.0-1.el7.aarch64", "target": "amazonlinux2", "headers": []}
            ],
            "Bottlerocket": [
                {"kernelversion": "1_1.27.0", "kernelrelease": "5.15.160", "target": "bottlerocket", "headers": []}
            ]
        },
        "s390x": {"Ubuntu": [{"kernelversion": 1, "kernelrelease": "5.4.0", "target": "ubuntu"}]}
    });
    let version: DriverVersion = "10.2.0+driver".parse().unwrap();
    let generated = generate(&list.to_string(), &version).unwrap();
    let paths: Vec<String> = generated
        .configs
        .iter()
        .map(|c| c.path.display().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "10.2.0+driver/aarch64/amazonlinux2_4.14.355-275.570.amzn2.aarch64_1.yaml",
            "10.2.0+driver/aarch64/bottlerocket_5.15.160_1_1.27.0.yaml",
            "10.2.0+driver/x86_64/ubuntu_4.4.0-21-generic_1.yaml",
            "10.2.0+driver/x86_64/ubuntu_5.15.0-1019-aws_38~20.04.1.yaml",
            "10.2.0+driver/x86_64/vanilla_5.5.2_1.yaml",
        ]
    );
    let reasons: Vec<(&str, &str, &SkipReason)> = generated
        .skipped
        .iter()
        .map(|s| (s.arch.as_str(), s.distro.as_str(), &s.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "aarch64",
                "AmazonLinux2",
                &SkipReason::TooOld("3.10.0-1.el7.aarch64".to_owned())
            ),
            (
                "s390x",
                "Ubuntu",
                &SkipReason::UnknownArch("s390x".to_owned())
            ),
            (
                "x86_64",
                "Broken",
                &SkipReason::MissingField("kernelversion")
            ),
            (
                "x86_64",
                "Gentoo",
                &SkipReason::UnknownTarget("gentoo".to_owned())
            ),
            ("x86_64", "Old", &SkipReason::TooOld("2.4.37".to_owned())),
            ("x86_64", "Ubuntu", &SkipReason::Duplicate),
            (
                "x86_64",
                "Vanilla",
                &SkipReason::MissingKernelConfig("vanilla".to_owned())
            ),
        ]
    );

    // Module and probe only where the kernel is new enough.
    let find = |suffix: &str| {
        generated
            .configs
            .iter()
            .find(|c| c.path.ends_with(suffix))
            .unwrap()
    };
    let arm = find("amazonlinux2_4.14.355-275.570.amzn2.aarch64_1.yaml");
    assert!(arm.config.module_output.is_some() && arm.config.probe_output.is_none());
    let old = find("ubuntu_4.4.0-21-generic_1.yaml");
    assert!(old.config.module_output.is_some() && old.config.probe_output.is_none());
    assert_eq!(old.config.kernel_version.as_str(), "1");
    let vanilla = find("vanilla_5.5.2_1.yaml");
    assert_eq!(
        vanilla.config.kernel_urls,
        ["https://cdn.example.invalid/linux-5.5.2.tar.xz"]
    );
    assert_eq!(
        vanilla.config.kernel_config_data.as_deref(),
        Some("Q09ORklHX01PRFVMRVM9eQo=")
    );

    let root = tempfile::tempdir().unwrap();
    assert_eq!(generated.write(root.path()).unwrap(), 5);
    let report = check_tree_with(root.path(), &Strictness::Strict).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    assert!(report.warnings.is_empty() && report.tolerated.is_empty(), "{}", report.to_text());
    assert_eq!(report.valid.len(), 5);
    for valid in &report.valid {
        let original = generated
            .configs
            .iter()
            .find(|g| root.path().join(&g.path) == valid.path)
            .unwrap();
        assert_eq!(valid.config, original.config, "{}", valid.path.display());
    }
}
