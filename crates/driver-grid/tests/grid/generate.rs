//! Generating configs from a kernel-crawler list.json: they validate and round-trip.

use falco_artifacts_driver_grid::{
    check_tree_with, generate, DriverVersion, SkipReason, Strictness,
};

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
    assert!(
        report.warnings.is_empty() && report.tolerated.is_empty(),
        "{}",
        report.to_text()
    );
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

/// kernel-crawler's per-architecture files, as published.
fn crawler_list(arch: &str) -> (std::path::PathBuf, String) {
    let path = crate::fixture("kernel-crawler")
        .join(arch)
        .join("list.json");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn per_arch_lists_give_strictly_valid_module_only_configs_for_10x() {
    use falco_artifacts_driver_grid::core::Arch;
    use falco_artifacts_driver_grid::{arch_of_path, generate_list, GenerateError, KernelList};

    let (path, x86) = crawler_list("x86_64");
    let (arm_path, arm) = crawler_list("aarch64");
    // The arch comes from the file's path, or must be given.
    assert_eq!(arch_of_path(&path), Some(Arch::X86_64));
    assert_eq!(arch_of_path(&arm_path), Some(Arch::Aarch64));
    assert!(matches!(
        KernelList::parse(&x86, None),
        Err(GenerateError::NoArch)
    ));

    let root = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for (text, arch) in [(&x86, Arch::X86_64), (&arm, Arch::Aarch64)] {
        let list = KernelList::parse(text, Some(arch)).unwrap();
        for version in ["10.2.0+driver", "9.1.0+driver"] {
            let generated = generate_list(&list, &version.parse().unwrap());
            assert!(generated.skipped.is_empty(), "{:?}", generated.skipped);
            generated.write(root.path()).unwrap();
            written.extend(generated.configs);
        }
    }
    assert_eq!(written.len(), 2 * 8);
    let find = |dv: &str, name: &str| {
        written
            .iter()
            .find(|g| g.path.starts_with(dv) && g.path.ends_with(name))
            .unwrap_or_else(|| panic!("{dv} {name}"))
    };
    // Integer and string kernel versions are kept as written; ubuntu-<flavour> targets pass.
    let gcp = find("10.2.0+driver", "ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.yaml");
    assert_eq!(gcp.config.kernel_version.as_str(), "26~22.04.1");
    assert!(
        gcp.config.probe_output.is_none(),
        "10.x configs are module-only"
    );
    let debian = find("10.2.0+driver", "debian_6.1.119-1-amd64_1.yaml");
    assert_eq!(debian.config.kernel_urls.len(), 2);
    // A driver version with the legacy probe gets one where the kernel allows it.
    let old = find("9.1.0+driver", "debian_6.1.119-1-amd64_1.yaml");
    assert_eq!(
        old.config.probe_output.as_deref(),
        Some("output/9.1.0+driver/x86_64/falco_debian_6.1.119-1-amd64_1.o")
    );
    let centos = find("9.1.0+driver", "centos_3.10.0-1160.119.1.el7.x86_64_1.yaml");
    assert!(centos.config.module_output.is_some() && centos.config.probe_output.is_none());
    let amzn = find(
        "9.1.0+driver",
        "amazonlinux2_4.14.355-275.582.amzn2.aarch64_1.yaml",
    );
    assert!(amzn.path.starts_with("9.1.0+driver/aarch64") && amzn.config.probe_output.is_none());

    // Everything generated passes the strict rules and round-trips.
    let report = check_tree_with(root.path(), &Strictness::Strict).unwrap();
    assert!(
        report.is_ok() && report.tolerated.is_empty() && report.warnings.is_empty(),
        "{}",
        report.to_text()
    );
    assert_eq!(report.valid.len(), written.len());
    for valid in &report.valid {
        let original = written
            .iter()
            .find(|g| root.path().join(&g.path) == valid.path)
            .unwrap();
        assert_eq!(valid.config, original.config);
    }
}

#[test]
fn prune_lists_configs_whose_kernel_left_the_list_and_removes_only_when_asked() {
    use falco_artifacts_driver_grid::core::Arch;
    use falco_artifacts_driver_grid::{generate_list, KernelList, Prune};

    let (_, x86) = crawler_list("x86_64");
    let list = KernelList::parse(&x86, Some(Arch::X86_64)).unwrap();
    let dv: DriverVersion = "10.2.0+driver".parse().unwrap();
    let root = tempfile::tempdir().unwrap();
    generate_list(&list, &dv).write(root.path()).unwrap();
    // A kernel the list no longer holds, one of another architecture and one of another
    // driver version: only the first is pruned.
    let gone = root
        .path()
        .join("10.2.0+driver/x86_64/debian_6.1.100-1-amd64_1.yaml");
    let text =
        "kernelversion: 1\nkernelrelease: 6.1.100-1-amd64\ntarget: debian\narchitecture: amd64\n\
                output:\n  module: output/10.2.0+driver/x86_64/falco_debian_6.1.100-1-amd64_1.ko\n";
    std::fs::write(&gone, text).unwrap();
    let arm = root
        .path()
        .join("10.2.0+driver/aarch64/debian_6.1.100-1-arm64_1.yaml");
    std::fs::create_dir_all(arm.parent().unwrap()).unwrap();
    std::fs::write(
        &arm,
        text.replace("amd64", "arm64").replace("x86_64", "aarch64"),
    )
    .unwrap();
    let other = root
        .path()
        .join("9.1.0+driver/x86_64/debian_6.1.100-1-amd64_1.yaml");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, text.replace("10.2.0+driver", "9.1.0+driver")).unwrap();

    let before = snapshot(root.path());
    let prune = Prune::of(root.path(), &list, &dv).unwrap();
    assert_eq!(prune.remove, std::slice::from_ref(&gone));
    // The dry run (computing the prune) changed nothing.
    assert_eq!(snapshot(root.path()), before);
    assert_eq!(prune.apply().unwrap(), 1);
    assert!(!gone.exists() && arm.exists() && other.exists());
    assert_eq!(snapshot(root.path()).len(), before.len() - 1);
}

fn snapshot(root: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}
