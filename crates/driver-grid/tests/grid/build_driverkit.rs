//! The driverkit backend: a typed error naming what to install when driverkit is missing, and
//! the command lines built for an old driverkit (legacy probe) and for today's (module only).

use falco_artifacts_driver_grid::build::{
    BuildError, DriverkitBuilder, DriverkitCapabilities, DriverkitMode, GridJob, GridRunner,
};
use falco_artifacts_driver_grid::{check_tree, Plan, PlanFilter};

#[test]
fn a_missing_driverkit_is_named_with_what_to_install() {
    let configs = crate::fixture("good");
    let report = check_tree(&configs).unwrap();
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    let jobs = GridJob::from_plan(&plan, &report.valid).unwrap();
    assert!(!jobs.is_empty());

    let work = tempfile::tempdir().unwrap();
    let program = work.path().join("bin/driverkit");
    let builder = DriverkitBuilder::docker().with_program(program.display().to_string());
    let runner = GridRunner::new(
        &builder,
        work.path().join("output"),
        work.path().join("work"),
    );
    let err = runner.run(&jobs).unwrap_err();
    match &err {
        BuildError::ToolMissing { tool, install } => {
            assert_eq!(tool, &program.display().to_string());
            assert!(install.contains("github.com/falcosecurity/driverkit/releases"));
            assert!(install.contains("Docker"));
        }
        other => panic!("{other:?}"),
    }
    // Nothing was started: no output, no log.
    assert!(!work.path().join("output").exists());
    assert!(!work.path().join("work").exists());
}

/// A config asking for module and probe, with an `ubuntu-<flavour>` target.
fn ubuntu_job(dir: &std::path::Path) -> GridJob {
    let configs = dir.join("config/9.0.0+driver/x86_64");
    std::fs::create_dir_all(&configs).unwrap();
    std::fs::write(
        configs.join("ubuntu-aws_5.15.0-1019-aws_21~20.04.1.yaml"),
        "kernelversion: 21~20.04.1\nkernelrelease: 5.15.0-1019-aws\ntarget: ubuntu-aws\n\
         architecture: amd64\noutput:\n  module: output/9.0.0+driver/x86_64/falco_ubuntu-aws_5.15.0-1019-aws_21~20.04.1.ko\n\
         \x20 probe: output/9.0.0+driver/x86_64/falco_ubuntu-aws_5.15.0-1019-aws_21~20.04.1.o\n\
         kernelurls: [\"https://mirror.example.invalid/h.deb\"]\n",
    )
    .unwrap();
    let report = check_tree(&dir.join("config")).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    GridJob::from_plan(&plan, &report.valid).unwrap().remove(0)
}

fn args(command: &std::process::Command) -> Vec<String> {
    command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn command_lines_follow_the_driverkit_version_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let job = ubuntu_job(dir.path());
    let work = std::path::Path::new("/w");
    let config = job.build.config.display().to_string();

    // An old driverkit: `--output-probe` in its help, both outputs asked for.
    let old = DriverkitCapabilities::from_output(
        "driverkit version 0.15.0\n",
        "Flags:\n  -c, --config string\n      --output-module string\n      --output-probe string\n",
    );
    assert_eq!(old.version.as_deref(), Some("0.15.0"));
    assert!(old.probe);
    let builder = DriverkitBuilder::docker().with_capabilities(old.clone());
    let (command, files, not_built) =
        builder.command(std::path::Path::new("driverkit"), &job, work, &old);
    assert_eq!(
        args(&command),
        [
            "docker",
            "--config",
            &config,
            "--driverversion",
            "9.0.0+driver",
            "--output-module",
            "/w/driver.ko",
            "--output-probe",
            "/w/driver.o",
        ]
    );
    assert_eq!(files.len(), 2);
    assert!(not_built.is_empty());

    // Today's driverkit: no legacy probe. Module only; the probe is reported, not failed.
    let new = DriverkitCapabilities::from_output(
        "{\"gitVersion\": \"v0.21.0\", \"gitCommit\": \"abc\"}\n",
        "Flags:\n  -c, --config string\n      --output-module string\n",
    );
    assert_eq!(new.version.as_deref(), Some("0.21.0"));
    assert!(!new.probe);
    let builder = DriverkitBuilder::new(DriverkitMode::Kubernetes {
        namespace: "drivers".into(),
        kubeconfig: None,
    })
    .with_args(["--loglevel".to_owned(), "debug".to_owned()]);
    let (command, files, not_built) =
        builder.command(std::path::Path::new("driverkit"), &job, work, &new);
    // The target goes to driverkit as the config says (in the config file): today's
    // driverkit maps every ubuntu-<flavour> to its ubuntu builder itself.
    assert_eq!(
        args(&command),
        [
            "kubernetes",
            "--namespace",
            "drivers",
            "--config",
            &config,
            "--driverversion",
            "9.0.0+driver",
            "--output-module",
            "/w/driver.ko",
            "--loglevel",
            "debug",
        ]
    );
    assert_eq!(files.len(), 1);
    assert_eq!(not_built.len(), 1);
    assert!(
        not_built[0]
            .reason
            .contains("driverkit 0.21.0 builds no legacy eBPF probe"),
        "{}",
        not_built[0].reason
    );
}
