//! A grid spread over CI jobs: `plan --matrix 4 --format github` describes four jobs, four
//! `driver-grid build --shard K/4` processes started at once build their shards against
//! Debian's headers and publish into one moto S3 repository; every driver is there once, the
//! index is complete and the repository verifies clean. Shard assignments are stable when
//! configs are added.

use std::path::Path;
use std::process::{Command, Stdio};

use falco_artifacts_driver_grid::publish::{RepoStore, StoreOptions, VerifyOptions};
use falco_artifacts_driver_grid::{check_tree, DriverRepository, Plan, PlanFilter, Shard};
use falco_artifacts_testkit::{require_tool, HttpServer, MotoS3};

use crate::build::{headers, write_config};
use crate::build_falco::driver_grid;

const DV: &str = "10.2.0+driver";

fn plan(configs: &Path) -> Plan {
    let report = check_tree(configs).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    Plan::new(&report.valid, &PlanFilter::default())
}

fn assignments(plan: &Plan, count: usize) -> Vec<(String, usize)> {
    plan.builds
        .iter()
        .map(|b| {
            let shard = Shard::all(count).find(|s| s.holds(b)).unwrap();
            (b.config.display().to_string(), shard.index())
        })
        .collect()
}

#[test]
fn shard_assignments_are_stable_when_configs_are_added() {
    let dir = tempfile::tempdir().unwrap();
    let urls = ["http://127.0.0.1:9/h.deb".to_owned()];
    for v in 1..=20 {
        write_config(dir.path(), "6.1.0-57-amd64", &v.to_string(), &urls, false);
    }
    let before = plan(dir.path());
    // Every build is in exactly one shard, and the shards together are the plan.
    let parts: Vec<Plan> = Shard::all(4).map(|s| before.shard(s)).collect();
    assert_eq!(
        parts.iter().map(|p| p.builds.len()).sum::<usize>(),
        before.builds.len()
    );
    assert!(parts.iter().filter(|p| !p.builds.is_empty()).count() >= 3);
    let old = assignments(&before, 4);
    for v in 21..=40 {
        write_config(dir.path(), "6.1.0-57-amd64", &v.to_string(), &urls, false);
    }
    let after = assignments(&plan(dir.path()), 4);
    for entry in &old {
        assert!(after.contains(entry), "{entry:?} moved");
    }
    // The matrix counts each shard's builds.
    let matrix = before.github_matrix(4);
    let jobs = matrix["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    assert_eq!(jobs[1]["shard"], "2/4");
    let total: u64 = jobs.iter().map(|j| j["builds"].as_u64().unwrap()).sum();
    assert_eq!(total, 20);
}

#[test]
fn four_shard_processes_publish_into_one_s3_repository() {
    for (name, package) in [
        ("make", "make"),
        ("gcc-12", "gcc-12"),
        ("strip", "binutils"),
    ] {
        require_tool(name, &format!("Debian package {package}")).unwrap();
    }
    let headers = headers();
    let mirror = tempfile::tempdir().unwrap();
    for deb in &headers.debs {
        std::fs::copy(headers.dir.join(deb), mirror.path().join(deb)).unwrap();
    }
    let server = HttpServer::serve(mirror.path()).unwrap();
    let urls: Vec<String> = headers
        .debs
        .iter()
        .map(|d| format!("{}/{d}", server.url()))
        .collect();
    let work = tempfile::tempdir().unwrap();
    let configs = work.path().join("config");
    let n = 8;
    for v in 1..=n {
        write_config(&configs, &headers.release, &v.to_string(), &urls, false);
    }
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/driver");
    let binary = driver_grid();

    // The matrix the CI workflow reads.
    let output = Command::new(&binary)
        .arg("plan")
        .arg(&configs)
        .args(["--matrix", "4", "--format", "github"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let matrix: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let jobs = matrix["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 4, "{matrix}");
    let planned: u64 = jobs.iter().map(|j| j["builds"].as_u64().unwrap()).sum();
    assert_eq!(planned, n as u64, "{matrix}");

    let s3 = MotoS3::start().unwrap();
    let bucket = "falco-drivers-shards";
    s3.create_bucket(bucket).unwrap();
    // Four jobs, started at once, each on its own machine (work, download cache, kernels).
    let children: Vec<_> = jobs
        .iter()
        .map(|job| {
            let shard = job["shard"].as_str().unwrap().to_owned();
            let own = work
                .path()
                .join(format!("job-{}", shard.replace('/', "-of-")));
            let child = Command::new(&binary)
                .arg("build")
                .arg(&configs)
                .arg("--driver-source")
                .arg(&driver)
                .args(["--shard", &shard, "--workers", "1", "--quiet"])
                .arg("--work")
                .arg(own.join("work"))
                .arg("--output")
                .arg(own.join("output"))
                .args(["--repo", &format!("s3://{bucket}")])
                .args(["--s3-endpoint", &s3.endpoint()])
                .env("AWS_ACCESS_KEY_ID", s3.access_key())
                .env("AWS_SECRET_ACCESS_KEY", s3.secret_key())
                .env("AWS_REGION", s3.region())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (shard, child)
        })
        .collect();
    for (shard, child) in children {
        let output = child.wait_with_output().unwrap();
        println!(
            "shard {shard}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "shard {shard}: {output:?}");
    }

    let options = StoreOptions {
        endpoint: Some(s3.endpoint()),
        region: Some(s3.region().into()),
        access_key_id: Some(s3.access_key().into()),
        secret_access_key: Some(s3.secret_key().into()),
        allow_http: true,
        path_style: true,
        ..StoreOptions::default()
    };
    let store = RepoStore::from_url_with(&format!("s3://{bucket}"), &options).unwrap();
    let repo = DriverRepository::new(store).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listing = rt.block_on(repo.listing()).unwrap();
    let mut modules: Vec<&str> = listing
        .objects
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| k.ends_with(".ko"))
        .collect();
    modules.sort();
    let expected: Vec<String> = (1..=n)
        .map(|v| format!("driver/{DV}/x86_64/falco_debian_{}_{v}.ko", headers.release))
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(modules, expected_sorted);
    // The index the jobs left names every driver once, whichever job wrote it last.
    let body = s3
        .get_object(bucket, &format!("driver/site/{DV}.json"))
        .unwrap()
        .expect("no index of the driver version");
    let json = String::from_utf8(body).unwrap();
    for key in &expected {
        let name = key.rsplit('/').next().unwrap();
        assert_eq!(json.matches(&format!("\"{name}\"")).count(), 1, "{json}");
    }
    let report = rt
        .block_on(repo.generic().verify(&VerifyOptions::default()))
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}
