//! Plans, filters, what is missing from the repository, and stats.

use falco_artifacts_driver_grid::core::Arch;
use falco_artifacts_driver_grid::{
    check_tree, download_path, DriverKind, ExistingKeys, Layout, Plan, PlanFilter, Stats,
};

use crate::fixture;

#[test]
fn builds_carry_outputs_and_destination_keys() {
    let report = check_tree(&fixture("good")).unwrap();
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    assert_eq!(plan.builds.len(), 30);
    // 30 configs; 4 with no probe: amazonlinux2022 (""), amazonlinux2023 (absent), old centos,
    // debian aarch64 (""), and the 2 legacy ones without probe.
    assert_eq!(plan.output_count(), 30 + 30 - 6);

    let ubuntu = plan
        .builds
        .iter()
        .find(|b| b.target.as_str() == "ubuntu" && b.arch == Arch::X86_64)
        .unwrap();
    assert_eq!(ubuntu.outputs.len(), 2);
    assert_eq!(ubuntu.outputs[0].kind, DriverKind::Module);
    assert_eq!(
        ubuntu.outputs[0].key,
        "driver/10.2.0+driver/x86_64/falco_ubuntu_5.15.0-1019-aws_38~20.04.1.ko"
    );
    assert_eq!(
        ubuntu.outputs[1].output,
        "output/10.2.0+driver/x86_64/falco_ubuntu_5.15.0-1019-aws_38~20.04.1.o"
    );
    assert_eq!(
        download_path(&ubuntu.outputs[1].key),
        "driver/10.2.0%2Bdriver/x86_64/falco_ubuntu_5.15.0-1019-aws_38~20.04.1.o"
    );

    let legacy = plan
        .builds
        .iter()
        .find(|b| b.layout == Layout::Legacy)
        .unwrap();
    assert_eq!(
        legacy.outputs[0].key,
        "driver/2aa88dcf6243982697811df4c1b484bcbe9488a2/falco_ubuntu-aws_4.15.0-1057-aws_1.ko"
    );
}

#[test]
fn filters_by_target_release_arch_and_driver_version() {
    let report = check_tree(&fixture("good")).unwrap();
    let count = |filter: PlanFilter| Plan::new(&report.valid, &filter).builds.len();
    assert_eq!(count(PlanFilter::default().with_arch(Arch::Aarch64)), 3);
    assert_eq!(
        count(PlanFilter::default().with_target("ubuntu".parse().unwrap())),
        2
    );
    assert_eq!(
        count(
            PlanFilter::default()
                .with_target("ubuntu".parse().unwrap())
                .with_target("debian".parse().unwrap())
        ),
        4
    );
    assert_eq!(
        count(PlanFilter::default().with_kernel_release("5.15.*-aws")),
        2
    );
    assert_eq!(
        count(PlanFilter::default().with_kernel_release("4.15.0-10*-aws")),
        2
    );
    assert_eq!(
        count(
            PlanFilter::default()
                .with_driver_version("2aa88dcf6243982697811df4c1b484bcbe9488a2".parse().unwrap())
        ),
        2
    );
    assert_eq!(
        count(PlanFilter::default().with_driver_version("9.1.0+driver".parse().unwrap())),
        0
    );
    assert_eq!(
        count(
            PlanFilter::default()
                .with_arch(Arch::Aarch64)
                .with_kernel_release("5.*")
                .with_driver_version("10.2.0+driver".parse().unwrap())
        ),
        2
    );
}

#[test]
fn table_and_json() {
    let report = check_tree(&fixture("good")).unwrap();
    let plan = Plan::new(
        &report.valid,
        &PlanFilter::default().with_target("vanilla".parse().unwrap()),
    );
    let table = plan.to_table();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with(
            "DRIVER VERSION  ARCH    TARGET   KERNEL RELEASE  KERNEL VERSION  KIND  KEY"
        ),
        "{table}"
    );
    assert_eq!(
        lines[1],
        "10.2.0+driver   x86_64  vanilla  5.5.2           1               kmod  driver/10.2.0+driver/x86_64/falco_vanilla_5.5.2_1.ko"
    );

    let json = plan.to_json();
    let build = &json["builds"][0];
    assert_eq!(build["driver_version"], "10.2.0+driver");
    assert_eq!(build["arch"], "x86_64");
    assert_eq!(build["layout"], "by-arch");
    assert_eq!(build["kernel_version"], "1");
    assert_eq!(build["outputs"][1]["kind"], "probe");
    assert_eq!(
        build["outputs"][1]["key"],
        "driver/10.2.0+driver/x86_64/falco_vanilla_5.5.2_1.o"
    );
}

#[test]
fn missing_from_the_repository_is_found_from_a_listing() {
    let report = check_tree(&fixture("good")).unwrap();
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    let total = plan.output_count();
    // Everything but the first build's outputs is published, plus unrelated keys.
    let mut keys: Vec<String> = plan.builds[1..]
        .iter()
        .flat_map(|b| b.outputs.iter().map(|o| o.key.clone()))
        .collect();
    keys.push("driver/9.1.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.ko".to_owned());
    keys.push("driver/site/index.json".to_owned());

    let text = keys.join("\n") + "\n\n";
    let json = serde_json::to_string(&keys).unwrap();
    for listing in [text, json] {
        let existing = ExistingKeys::from_listing(&listing).unwrap();
        assert_eq!(existing.len(), keys.len());
        let (missing, skipped) = plan.clone().without_existing(&existing);
        assert_eq!(missing.builds.len(), 1);
        assert_eq!(missing.builds[0], plan.builds[0]);
        assert_eq!(skipped, total - plan.builds[0].outputs.len());
    }
    let (nothing_published, skipped) = plan.clone().without_existing(&ExistingKeys::default());
    assert_eq!((nothing_published, skipped), (plan, 0));
    assert!(ExistingKeys::from_listing("[1, 2]").is_err());
}

#[test]
fn stats_count_per_driver_version_arch_target_module_and_probe() {
    let report = check_tree(&fixture("good")).unwrap();
    let stats = Stats::of(&report.valid);
    let rows: Vec<(String, Arch, usize, usize, usize)> = stats
        .rows
        .iter()
        .map(|r| {
            (
                r.driver_version.to_string(),
                r.arch,
                r.counts.configs,
                r.counts.modules,
                r.counts.probes,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("10.2.0+driver".to_owned(), Arch::X86_64, 25, 25, 22),
            ("10.2.0+driver".to_owned(), Arch::Aarch64, 3, 3, 2),
            (
                "2aa88dcf6243982697811df4c1b484bcbe9488a2".to_owned(),
                Arch::X86_64,
                2,
                2,
                0
            ),
        ]
    );
    assert_eq!(stats.total.configs, 30);
    assert_eq!(stats.total.targets.len(), 26);
    let centos: falco_artifacts_driver_grid::Target = "centos".parse().unwrap();
    assert_eq!(stats.rows[0].counts.targets[&centos], 2);

    let json = stats.to_json();
    assert_eq!(json["rows"][1]["arch"], "aarch64");
    assert_eq!(json["rows"][1]["targets"]["ubuntu"], 1);
    assert_eq!(json["total"]["probes"], 24);
    let table = stats.to_table();
    assert!(
        table.lines().last().unwrap().starts_with("total"),
        "{table}"
    );
}
