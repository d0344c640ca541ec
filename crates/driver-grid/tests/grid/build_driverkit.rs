//! The driverkit backend when driverkit is not installed: a typed error naming what to
//! install, before any build starts.

use falco_artifacts_driver_grid::build::{BuildError, DriverkitBuilder, GridJob, GridRunner};
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
