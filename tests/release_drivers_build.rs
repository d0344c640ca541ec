//! `release drivers --build-local`: a driverkit config whose `kernelurls` point at Debian's
//! kernel header packages served over loopback is built with kbuild and clang from a test
//! driver source, published into `driver/`, and listed in the index of prebuilt drivers.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_testkit::{require_tool, HttpServer};

mod common;
use common::{run, write_test_key};

const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

/// The three header packages `scripts/fetch-test-kernel-headers` keeps (it runs when they are
/// not there yet), and the kernel release they are for.
fn headers() -> (PathBuf, Vec<String>, String) {
    let dir = std::env::var_os("FALCO_TEST_KERNEL_HEADERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(WORKSPACE).join("target/test-kernel-headers"));
    let script = Path::new(WORKSPACE).join("scripts/fetch-test-kernel-headers");
    let status = Command::new(&script).arg(&dir).status().unwrap();
    assert!(
        status.success(),
        "{} could not fetch Debian's kernel header packages into {}",
        script.display(),
        dir.display()
    );
    let mut debs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".deb"))
        .collect();
    debs.sort();
    let amd64 = debs
        .iter()
        .find(|n| n.starts_with("linux-headers-") && n.ends_with("_amd64.deb"))
        .unwrap();
    let release = amd64
        .split_once('_')
        .unwrap()
        .0
        .strip_prefix("linux-headers-")
        .unwrap()
        .to_owned();
    (dir, debs, release)
}

#[test]
fn a_config_is_built_locally_published_and_indexed() {
    for (tool, package) in [
        ("make", "Debian package make"),
        ("gcc", "Debian package gcc"),
        ("clang", "Debian package clang"),
        ("llc", "Debian package llvm"),
        ("modinfo", "Debian package kmod"),
    ] {
        require_tool(tool, package).unwrap();
    }
    let (header_dir, debs, release) = headers();
    let http = HttpServer::serve(&header_dir).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let configs = dir.path().join("driverkit/config/10.2.0+driver/x86_64");
    std::fs::create_dir_all(&configs).unwrap();
    let out = format!("output/10.2.0+driver/x86_64/falco_debian_{release}_1");
    let urls: String = debs
        .iter()
        .map(|d| format!("  - {}/{d}\n", http.url()))
        .collect();
    std::fs::write(
        configs.join(format!("debian_{release}_1.yaml")),
        format!(
            "kernelversion: 1\nkernelrelease: {release}\ntarget: debian\narchitecture: amd64\n\
             output:\n  module: {out}.ko\n  probe: {out}.o\nkernelurls:\n{urls}"
        ),
    )
    .unwrap();
    let (_, key_file) = write_test_key(dir.path());
    let repo = dir.path().join("repo");
    let url = format!("file://{}", repo.display());
    let config_dir = dir.path().join("driverkit/config").display().to_string();
    let work = dir.path().join("work").display().to_string();
    let source = format!("{WORKSPACE}/crates/driver-grid/tests/data/driver");

    let result = run(&[
        "drivers",
        "--configs",
        &config_dir,
        "--repo",
        &url,
        "--key-file",
        &key_file.display().to_string(),
        "--build-local",
        &source,
        "--work-dir",
        &work,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["built"], serde_json::json!([1, 0, 0]), "{report}");
    let module = format!("driver/10.2.0+driver/x86_64/falco_debian_{release}_1.ko");
    let probe = format!("driver/10.2.0+driver/x86_64/falco_debian_{release}_1.o");
    assert_eq!(report["uploaded"], serde_json::json!([module, probe]));

    // The published module is for that kernel, the probe is eBPF.
    let vermagic = Command::new("modinfo")
        .args(["-F", "vermagic"])
        .arg(repo.join(&module))
        .output()
        .unwrap();
    let vermagic = String::from_utf8_lossy(&vermagic.stdout);
    assert!(
        vermagic.starts_with(&format!("{release} SMP")),
        "{vermagic}"
    );
    let file = Command::new("file")
        .arg(repo.join(&probe))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&file.stdout).contains("eBPF"),
        "{file:?}"
    );
    let index = std::fs::read_to_string(repo.join("driver/site/10.2.0+driver.json")).unwrap();
    assert!(
        index.contains(&format!("falco_debian_{release}_1.ko")),
        "{index}"
    );
}
