//! Parsing and loading configs as they exist in the wild.

use std::collections::BTreeSet;

use falco_artifacts_driver_grid::core::Arch;
use falco_artifacts_driver_grid::{
    check_tree, check_tree_with, load_tree, DriverConfig, Layout, Strictness, WarningKind,
    KNOWN_TARGETS,
};

use crate::fixture;

#[test]
fn every_known_target_has_a_valid_fixture() {
    let report = check_tree_with(&fixture("good"), &Strictness::Strict).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    let targets: BTreeSet<&str> = report
        .valid
        .iter()
        .map(|c| c.config.target.as_str())
        .collect();
    let known: BTreeSet<&str> = KNOWN_TARGETS.iter().copied().collect();
    assert_eq!(targets, known);
    assert_eq!(report.valid.len(), 30);
}

#[test]
fn quirks_parse_as_written() {
    let tree = load_tree(&fixture("good")).unwrap();
    assert!(tree.problems.is_empty(), "{:?}", tree.problems);
    let find = |name: &str| {
        tree.configs
            .iter()
            .find(|c| c.path.file_name().unwrap() == name)
            .unwrap()
    };

    let ubuntu = find("ubuntu_5.15.0-1019-aws_38~20.04.1.yaml");
    assert_eq!(ubuntu.config.kernel_version.as_str(), "38~20.04.1");
    assert_eq!(ubuntu.config.kernel_urls.len(), 2, "flow list");

    let bottlerocket = find("bottlerocket_5.15.160_1_1.27.0.yaml");
    assert_eq!(bottlerocket.config.kernel_version.as_str(), "1_1.27.0");

    let ol = find("ol_5.4.17-2136.307.3.1.el8uek.x86_64_2.yaml");
    assert_eq!(ol.config.kernel_version.as_str(), "2", "integer");
    let alma = find("almalinux_4.18.0-513.5.1.el8_9.x86_64_1.yaml");
    assert_eq!(alma.config.kernel_version.as_str(), "1", "double-quoted");
    let centos = find("centos_4.18.0-348.7.1.el8_5.x86_64_1.yaml");
    assert_eq!(centos.config.kernel_version.as_str(), "1", "single-quoted");
    assert_eq!(centos.config.kernel_urls.len(), 2, "block list");
    assert!(
        find("arch_6.6.8-arch1-1_1.yaml")
            .config
            .kernel_urls
            .is_empty(),
        "absent"
    );

    assert!(
        find("amazonlinux2022_5.15.73-45.135.amzn2022.x86_64_1.yaml")
            .config
            .probe_output
            .is_none(),
        "\"\""
    );
    assert!(
        find("amazonlinux2023_6.1.115-126.197.amzn2023.x86_64_1.yaml")
            .config
            .probe_output
            .is_none(),
        "absent"
    );
    assert!(ubuntu.config.probe_output.is_some());

    let crlf = find("amazonlinux2_5.10.228-219.884.amzn2.x86_64_1.yaml");
    assert_eq!(
        crlf.config.kernel_release.as_str(),
        "5.10.228-219.884.amzn2.x86_64"
    );
    assert_eq!(crlf.config.line_of("target"), Some(3));

    let legacy = find("ubuntu-generic_4.15.0-1001-aws_1.yaml");
    assert_eq!(legacy.location.layout, Layout::Legacy);
    assert_eq!(legacy.location.arch, Arch::X86_64);
    assert_eq!(legacy.config.architecture, None);

    let arm = tree
        .configs
        .iter()
        .find(|c| {
            c.path
                .ends_with("aarch64/ubuntu_5.15.0-1034-aws_38~20.04.1.yaml")
        })
        .unwrap();
    assert_eq!(arm.location.arch, Arch::Aarch64);
    assert_eq!(arm.config.architecture, Some(Arch::Aarch64));
}

#[test]
fn unknown_keys_are_kept_with_a_warning() {
    let report = check_tree(&fixture("good")).unwrap();
    let debian = report
        .valid
        .iter()
        .find(|c| c.config.target.as_str() == "debian" && c.location.arch == Arch::X86_64)
        .unwrap();
    assert_eq!(
        debian.config.extra["builderimage"],
        serde_yaml::Value::from("docker.io/falcosecurity/driverkit-builder:latest")
    );
    let unknown: Vec<_> = report
        .warnings
        .iter()
        .filter(|w| matches!(&w.kind, WarningKind::UnknownKey { key } if key == "builderimage"))
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].line, Some(9));
    assert!(report
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::IgnoredFile && w.path.ends_with("README.md")));
    let yaml = debian.config.to_yaml();
    assert!(
        yaml.contains("builderimage: docker.io/falcosecurity/driverkit-builder:latest"),
        "{yaml}"
    );
}

#[test]
fn every_fixture_round_trips() {
    let tree = load_tree(&fixture("good")).unwrap();
    for loaded in &tree.configs {
        let text = loaded.config.to_yaml();
        let again = DriverConfig::parse(&text).unwrap();
        assert_eq!(again, loaded.config, "{}:\n{text}", loaded.path.display());
    }
}

#[test]
fn large_base64_kernel_config_parses_and_validates() {
    // A kernel .config is ~200 KB once base64-encoded; build one line by line.
    let mut kconfig = String::new();
    let mut n = 0;
    while kconfig.len() < 150_000 {
        kconfig.push_str(&format!("CONFIG_OPTION_{n}=y\n"));
        n += 1;
    }
    let data = encode(kconfig.as_bytes());
    assert!(data.len() > 200_000);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("10.2.0+driver/x86_64");
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "kernelversion: 1\r\nkernelrelease: 6.1.0\r\ntarget: vanilla\r\narchitecture: amd64\r\n\
         output:\r\n  module: output/10.2.0+driver/x86_64/falco_vanilla_6.1.0_1.ko\r\n\
         kernelconfigdata: {data}\r\n"
    );
    std::fs::write(dir.join("vanilla_6.1.0_1.yaml"), text).unwrap();
    let report = check_tree(root.path()).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    assert_eq!(
        report.valid[0].config.kernel_config_data.as_deref(),
        Some(data.as_str())
    );
}

/// Standard base64, written here so the test does not trust the crate's own checker.
fn encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
