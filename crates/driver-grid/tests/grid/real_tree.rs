//! The config tree as Falco's really is (fixture `real/`): every config planned, quirks of
//! released configs as warnings with file and line, strict rules for what a pull request adds.

use std::collections::BTreeSet;
use std::path::Path;

use falco_artifacts_driver_grid::{
    changed_config_files, check_tree, check_tree_with, Plan, PlanFilter, Strictness,
};
use falco_artifacts_testkit::require_tool;

use crate::changes::{commit, git};
use crate::fixture;

fn rules(
    report: &[falco_artifacts_driver_grid::Problem],
    root: &Path,
) -> BTreeSet<(String, String)> {
    report
        .iter()
        .map(|p| {
            let rel = p.path.strip_prefix(root).unwrap_or(&p.path);
            (rel.display().to_string(), p.kind.rule().to_owned())
        })
        .collect()
}

#[test]
fn the_real_tree_is_planned_whole_with_its_quirks_as_warnings() {
    let root = fixture("real");
    let report = check_tree(&root).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    assert_eq!(report.valid.len(), report.files, "{}", report.to_text());
    assert_eq!(report.files, 22);

    let dv10 = "10.2.0+driver/x86_64";
    let old = "8.0.0+driver/x86_64";
    let sha = "2aa88dcf6243982697811df4c1b484bcbe9488a2";
    let expected: BTreeSet<(String, String)> = [
        (
            format!("{dv10}/centos_3.10.0-1160.119.1.el7.x86_64_1.yaml"),
            "kernel-minimum",
        ),
        (
            "10.2.0+driver/aarch64/amazonlinux2_4.14.355-275.582.amzn2.aarch64_1.yaml".into(),
            "kernel-minimum",
        ),
        (
            format!("{old}/flatcar_3033.2.4_1.yaml"),
            "missing-kernelconfigdata",
        ),
        (
            "8.0.0+driver/aarch64/amazonlinux2022_5.4.209-116.367.amzn2.aarch64.yaml".into(),
            "file-name",
        ),
        (
            format!("{old}/ubuntu-oem_5.10.0-1057-oem_1.yaml"),
            "final-newline",
        ),
        (
            format!("{old}/ubuntu-oem_5.14.0-1042-oem_1.yaml"),
            "final-newline",
        ),
        (
            format!("{old}/ubuntu-generic_5.4.0-42-generic_46.yaml"),
            "trailing-space",
        ),
        (
            format!("{old}/fedora_5.8.15-301.fc33.x86_64_1.yaml"),
            "output-path",
        ),
        (
            format!("{sha}/ubuntu_4.15.0-100-generic_1.yaml"),
            "file-name",
        ),
        (
            format!("{sha}/ubuntu_4.15.0-101-generic_1.yaml"),
            "file-name",
        ),
    ]
    .into_iter()
    .map(|(p, r)| (p, r.to_owned()))
    .collect();
    assert_eq!(
        rules(&report.tolerated, &root),
        expected,
        "{}",
        report.to_text()
    );
    // Every warning says where: the trailing space and the `//` sit on their lines.
    let text = report.to_text();
    assert!(
        text.contains("ubuntu-generic_5.4.0-42-generic_46.yaml:5: warning: the line ends with a space or a tab"),
        "{text}"
    );
    assert!(
        text.contains("fedora_5.8.15-301.fc33.x86_64_1.yaml:6: warning: `output.module` must be"),
        "{text}"
    );

    // Every ubuntu-<flavour> is planned, module-only as 10.x configs are; probes below the
    // minimum are left out while their modules are planned.
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    let keys: BTreeSet<&str> = plan
        .builds
        .iter()
        .flat_map(|b| b.outputs.iter().map(|o| o.key.as_str()))
        .collect();
    for flavour in [
        "gcp",
        "hwe",
        "gke",
        "ibm",
        "oracle",
        "azure",
        "gkeop",
        "intel",
        "lowlatency",
        "nvidia",
    ] {
        assert!(
            keys.iter().any(|k| k.starts_with(&format!(
                "driver/10.2.0+driver/x86_64/falco_ubuntu-{flavour}_"
            )) && k.ends_with(".ko")),
            "ubuntu-{flavour}: {keys:?}"
        );
    }
    assert!(keys.contains("driver/10.2.0+driver/x86_64/falco_debian_6.1.119-1-amd64_1.ko"));
    assert!(
        keys.contains("driver/10.2.0+driver/x86_64/falco_centos_3.10.0-1160.119.1.el7.x86_64_1.ko")
    );
    assert!(
        !keys.contains("driver/10.2.0+driver/x86_64/falco_centos_3.10.0-1160.119.1.el7.x86_64_1.o")
    );
    assert!(keys.contains(
        "driver/10.2.0+driver/aarch64/falco_amazonlinux2_4.14.355-275.582.amzn2.aarch64_1.ko"
    ));
    assert!(!keys.contains(
        "driver/10.2.0+driver/aarch64/falco_amazonlinux2_4.14.355-275.582.amzn2.aarch64_1.o"
    ));
    // Quirky released configs still build where they are published today.
    assert!(keys.contains(&*format!(
        "driver/{sha}/falco_ubuntu-generic_4.15.0-100-generic_1.ko"
    )));
    assert!(keys.contains(
        "driver/8.0.0+driver/aarch64/falco_amazonlinux2022_5.4.209-116.367.amzn2.aarch64_1.ko"
    ));

    // JSON: errors and warnings apart.
    let json = report.to_json();
    assert_eq!(json["errors"].as_array().unwrap().len(), 0);
    assert_eq!(json["warnings"].as_array().unwrap().len(), 11);

    // The same tree under the strict rules: every quirk is an error, the probes stay warnings.
    let strict = check_tree_with(&root, &Strictness::Strict).unwrap();
    let errors = rules(&strict.problems, &root);
    let quirks: BTreeSet<(String, String)> = expected
        .iter()
        .filter(|(_, rule)| rule != "kernel-minimum")
        .cloned()
        .collect();
    assert_eq!(errors, quirks, "{}", strict.to_text());
    assert_eq!(strict.tolerated.len(), 2);
}

#[test]
fn strict_since_a_commit_holds_only_the_changed_configs_of_shipped_versions() {
    require_tool("git", "Debian package git").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let config = repo.join("driverkit/config");
    std::fs::create_dir_all(&config).unwrap();
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixture("real").join("."))
        .arg(&config)
        .status()
        .unwrap();
    assert!(copy.success());
    git(repo, &["init", "-q", "-b", "master"]);
    let base = commit(repo, "the released tree");

    // A pull request adds a config without a final newline to the shipped 10.2.0+driver, one
    // to the released 8.0.0+driver, and a clean one.
    let dv = config.join("10.2.0+driver/x86_64");
    let quirky =
        "kernelversion: 1\nkernelrelease: 6.1.120-1-amd64\ntarget: debian\narchitecture: amd64\n\
                  output:\n  module: output/10.2.0+driver/x86_64/falco_debian_6.1.120-1-amd64_1.ko";
    std::fs::write(dv.join("debian_6.1.120-1-amd64_1.yaml"), quirky).unwrap();
    let clean = "kernelversion: 1\nkernelrelease: 6.1.121-1-amd64\ntarget: debian\narchitecture: amd64\n\
                 output:\n  module: output/10.2.0+driver/x86_64/falco_debian_6.1.121-1-amd64_1.ko\n";
    std::fs::write(dv.join("debian_6.1.121-1-amd64_1.yaml"), clean).unwrap();
    let old =
        "kernelversion: 1\nkernelrelease: 6.1.120-1-amd64\ntarget: debian\narchitecture: amd64\n\
               output:\n  module: output/8.0.0+driver/x86_64/falco_debian_6.1.120-1-amd64_1.ko";
    std::fs::write(
        config.join("8.0.0+driver/x86_64/debian_6.1.120-1-amd64_1.yaml"),
        old,
    )
    .unwrap();
    commit(repo, "new kernels");

    let shipped = ["10.2.0+driver".parse().unwrap()];
    let scope = changed_config_files(&config, &base, &shipped).unwrap();
    assert_eq!(scope.len(), 2, "{scope:?}");
    let report = check_tree_with(&config, &Strictness::StrictFor(scope)).unwrap();
    let errors = rules(&report.problems, &config);
    assert_eq!(
        errors,
        [(
            "10.2.0+driver/x86_64/debian_6.1.120-1-amd64_1.yaml".to_owned(),
            "final-newline".to_owned()
        )]
        .into_iter()
        .collect(),
        "{}",
        report.to_text()
    );
    // The released tree's quirks and the old version's new config stay warnings.
    assert!(report.tolerated.iter().any(|p| p
        .path
        .ends_with("8.0.0+driver/x86_64/debian_6.1.120-1-amd64_1.yaml")));
    assert_eq!(report.valid.len(), report.files - 1);
}
