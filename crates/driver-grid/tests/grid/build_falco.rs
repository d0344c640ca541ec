//! Falco's real driver, built the way Falco builds it: Debian's `falcosecurity-scap-dkms` (a
//! configured DKMS tree of the driver, module `scap` and its legacy probe in `bpf/`), unpacked
//! with our pkg-deb reader, built by `driver-grid build` with the driver's own Makefiles
//! through kbuild against Debian's header packages served over loopback HTTP, from relative
//! paths under a directory with a space; and a libs-shaped CMake project configured by the
//! builder as driverkit configures falcosecurity/libs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use falco_artifacts_driver_grid::build::{DriverTree, DEFAULT_DRIVER_NAME};
use falco_artifacts_pkg_deb::{AbsoluteSymlinks, DebReader, ExtractOptions};
use falco_artifacts_testkit::{require_tool, HttpServer};

use crate::build::{headers, Headers};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(name: &str, package: &str) -> PathBuf {
    require_tool(name, &format!("Debian package {package}")).unwrap()
}

fn stdout(mut command: Command) -> String {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> std::time::SystemTime {
    let mut latest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            path.metadata().unwrap().modified().unwrap()
        };
        latest = latest.max(time);
    }
    latest
}

/// The `driver-grid` example binary of this build: `cargo test` without a target filter (CI's
/// `cargo test --workspace`) builds the examples next to the tests; a lone `--test grid` does
/// not. Cargo holds the build directory's lock while tests run, so a test cannot build it
/// itself; a missing or stale binary fails the test with the command that builds it.
pub(crate) fn driver_grid() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/grid-<hash> -> target/<profile>/examples/driver-grid
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/driver-grid");
    let build = "cargo build -p falco-artifacts-driver-grid --all-features --examples";
    let built = binary
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run {build}", binary.display()));
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "examples"] {
        assert!(
            newest(&crate_dir.join(dir)) <= built,
            "{} is older than the sources in {dir}/: run {build}",
            binary.display()
        );
    }
    binary
}

/// Debian's `falcosecurity-scap-dkms`, fetched by `scripts/fetch-test-driver-source`.
fn scap_dkms() -> PathBuf {
    let dir = std::env::var_os("FALCO_TEST_DRIVER_SOURCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-driver-source"));
    let find = || {
        std::fs::read_dir(&dir).ok()?.find_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            (name.starts_with("falcosecurity-scap-dkms_") && name.ends_with(".deb")).then_some(path)
        })
    };
    if let Some(deb) = find() {
        return deb;
    }
    let script = workspace().join("scripts/fetch-test-driver-source");
    let status = Command::new(&script).arg(&dir).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "cannot fetch Debian's falcosecurity-scap-dkms into {}: run {} (needs apt-get and the \
         Debian archive) or set FALCO_TEST_DRIVER_SOURCE to a directory holding its .deb ({status:?})",
        dir.display(),
        script.display()
    );
    find().unwrap_or_else(|| panic!("{} left no .deb in {}", script.display(), dir.display()))
}

/// The header packages on a loopback HTTP server.
fn serve_headers(headers: &Headers, mirror: &Path) -> (HttpServer, Vec<String>) {
    for deb in &headers.debs {
        std::fs::copy(headers.dir.join(deb), mirror.join(deb)).unwrap();
    }
    let server = HttpServer::serve(mirror).unwrap();
    let urls = headers
        .debs
        .iter()
        .map(|d| format!("{}/{d}", server.url()))
        .collect();
    (server, urls)
}

/// A Debian config of `dv` for the test kernel, with the real convention
/// (kernelrelease = the package's release, `6.1.0-57-amd64`).
fn write_config(root: &Path, dv: &str, release: &str, urls: &[String], probe: bool) {
    let dir = root.join(dv).join("x86_64");
    std::fs::create_dir_all(&dir).unwrap();
    let out = format!("output/{dv}/x86_64/falco_debian_{release}_1");
    let probe = if probe {
        format!("  probe: {out}.o\n")
    } else {
        String::new()
    };
    let urls: String = urls.iter().map(|u| format!("  - {u}\n")).collect();
    std::fs::write(
        dir.join(format!("debian_{release}_1.yaml")),
        format!(
            "kernelversion: 1\nkernelrelease: {release}\ntarget: debian\narchitecture: amd64\n\
             output:\n  module: {out}.ko\n{probe}kernelurls:\n{urls}"
        ),
    )
    .unwrap();
}

fn run(cwd: &Path, args: &[&str]) -> Output {
    let output = Command::new(driver_grid())
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    println!(
        "driver-grid {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn modinfo(ko: &Path, field: &str) -> String {
    let mut command = Command::new(tool("modinfo", "kmod"));
    command.args(["-F", field]).arg(ko);
    stdout(command).trim().to_owned()
}

fn index_names(site: &Path, dv: &str) -> String {
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(site.join(format!("driver/site/{dv}.json"))).unwrap(),
    )
    .unwrap();
    // `[…]`, or `{"index": …, "drivers": […]}`.
    index
        .get("drivers")
        .unwrap_or(&index)
        .as_array()
        .unwrap_or_else(|| panic!("{index}"))
        .iter()
        .map(|d| {
            format!(
                "{} {}\n",
                d["kind"].as_str().unwrap(),
                d["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn debian_scap_dkms_builds_module_and_probe_from_relative_paths_with_spaces() {
    for (name, package) in [
        ("make", "make"),
        ("gcc-12", "gcc-12"),
        ("clang", "clang"),
        ("llc", "llvm"),
        ("strip", "binutils"),
        ("modinfo", "kmod"),
        ("file", "file"),
        ("llvm-readelf", "llvm"),
    ] {
        tool(name, package);
    }
    let headers = headers();
    let release = headers.release.clone();
    assert!(
        !Path::new("/usr/src")
            .join(format!("linux-headers-{release}"))
            .exists(),
        "linux-headers-{release} is installed system-wide: the test would prove nothing"
    );
    let mirror = tempfile::tempdir().unwrap();
    let (_server, urls) = serve_headers(&headers, mirror.path());

    // Everything under a directory whose name has a space, named relative to it.
    let top = tempfile::tempdir().unwrap();
    let cwd = top.path().join("release work");
    std::fs::create_dir_all(&cwd).unwrap();
    let unpacked = cwd.join("scap dkms");
    DebReader::open(scap_dkms())
        .unwrap()
        .extract(
            &unpacked,
            &ExtractOptions {
                absolute_symlinks: AbsoluteSymlinks::Rebase,
                max_bytes: None,
            },
        )
        .unwrap();
    let tree_dir = std::fs::read_dir(unpacked.join("usr/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("scap-")
        })
        .unwrap();
    let tree = DriverTree::read(&tree_dir).unwrap();
    assert_eq!(tree.module_name, "scap");
    assert_eq!(tree.driver_name.as_deref(), Some("scap"));
    assert!(tree.has_probe);
    let source = tree_dir
        .strip_prefix(&cwd)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    // Two shipped driver versions on the same kernel: the second downloads and unpacks nothing.
    let configs = cwd.join("driverkit config");
    write_config(&configs, "9.0.0+driver", &release, &urls, true);
    write_config(&configs, "8.0.0+driver", &release, &urls, false);
    let site = top.path().join("site");
    let repo = format!("file://{}", site.display());
    let output = run(
        &cwd,
        &[
            "build",
            "driverkit config",
            "--driver-source",
            &source,
            "--work",
            "grid work",
            "--output",
            "out put",
            "--cache",
            "down loads",
            "--workers",
            "1",
            "--quiet",
            "--json",
            "--repo",
            &repo,
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let builds = report["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 2, "{report:#}");
    assert!(builds.iter().all(|b| b["status"] == "built"), "{report:#}");
    // The relative paths were taken from the directory the command ran in.
    let dir = cwd.join("out put/9.0.0+driver/x86_64");
    let ko = dir.join(format!("falco_debian_{release}_1.ko"));
    let probe = dir.join(format!("falco_debian_{release}_1.o"));

    // The module: Falco's driver, for this kernel, stripped as driverkit strips it.
    assert_eq!(modinfo(&ko, "name"), "scap");
    assert!(
        modinfo(&ko, "vermagic").starts_with(&format!("{release} SMP")),
        "{}",
        modinfo(&ko, "vermagic")
    );
    assert_eq!(modinfo(&ko, "version"), tree.version.clone().unwrap());
    let mut sections = Command::new(tool("llvm-readelf", "llvm"));
    sections.arg("-S").arg(&ko);
    let sections = stdout(sections);
    assert!(
        sections.contains(".modinfo") && !sections.contains(".debug_info"),
        "{sections}"
    );
    // The probe: the driver's bpf/Makefile through kbuild made an eBPF object.
    let mut file = Command::new(tool("file", "file"));
    file.arg("-b").arg(&probe);
    let kind = stdout(file);
    assert!(kind.contains("ELF 64-bit LSB relocatable, eBPF"), "{kind}");
    assert!(cwd
        .join(format!(
            "out put/8.0.0+driver/x86_64/falco_debian_{release}_1.ko"
        ))
        .is_file());

    // The build of the other driver version (one worker: in plan order) reused the
    // downloads and the unpacked kernel tree.
    let second = &builds[1];
    let log = std::fs::read_to_string(second["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("(cached)"), "{log}");
    assert!(log.contains("reusing the kernel tree"), "{log}");
    assert!(!log.contains("unpacked "), "{log}");

    // Published, and found in the index.
    let names = index_names(&site, "9.0.0+driver");
    for (kind, ext) in [("kmod", "ko"), ("ebpf", "o")] {
        let line = format!("{kind} falco_debian_{release}_1.{ext}\n");
        assert!(names.contains(&line), "{names}");
    }
    assert_eq!(
        std::fs::read(site.join(format!(
            "driver/9.0.0+driver/x86_64/falco_debian_{release}_1.ko"
        )))
        .unwrap(),
        std::fs::read(&ko).unwrap()
    );
    let names = index_names(&site, "8.0.0+driver");
    assert!(
        names.contains(&format!("kmod falco_debian_{release}_1.ko")),
        "{names}"
    );

    // kbuild could not use "grid work/kernels": the trees went to a stand-in, named in the log.
    let first = std::fs::read_to_string(builds[0]["log"].as_str().unwrap()).unwrap();
    let stand_in = first
        .lines()
        .find_map(|l| {
            l.split_once("kernel trees go to ")
                .map(|(_, p)| PathBuf::from(p))
        })
        .unwrap_or_else(|| panic!("{first}"));
    assert!(!stand_in.to_string_lossy().contains(' '));
    std::fs::remove_dir_all(&stand_in).unwrap();
}

/// A small project in the shape of falcosecurity/libs: `cmake/modules/compute_versions.cmake`,
/// `driver/CMakeLists.txt` configuring `Makefile.in` and `driver_config.h.in` into `src/` with
/// the sources, as libs does; no `bpf/` (like libs after the legacy probe was dropped).
fn write_libs_project(root: &Path) {
    let driver = root.join("driver");
    std::fs::create_dir_all(&driver).unwrap();
    std::fs::create_dir_all(root.join("cmake/modules")).unwrap();
    std::fs::write(
        root.join("cmake/modules/compute_versions.cmake"),
        "function(compute_versions API_VERSION_FILE SCHEMA_VERSION_FILE)\n\
         \x20 file(STRINGS ${API_VERSION_FILE} API_VERSION)\n\
         \x20 set(PPM_API_CURRENT_VERSION ${API_VERSION} PARENT_SCOPE)\n\
         endfunction()\n",
    )
    .unwrap();
    std::fs::write(driver.join("API_VERSION"), "8.0.0\n").unwrap();
    std::fs::write(driver.join("SCHEMA_VERSION"), "3.0.0\n").unwrap();
    std::fs::write(
        driver.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.12)\nproject(driver NONE)\n\
         if(NOT DEFINED DRIVER_VERSION)\n  message(FATAL_ERROR \"No DRIVER_VERSION set\")\nendif()\n\
         if(NOT DEFINED DRIVER_NAME)\n  set(DRIVER_NAME \"scap\")\nendif()\n\
         if(NOT DEFINED DRIVER_DEVICE_NAME)\n  set(DRIVER_DEVICE_NAME \"${DRIVER_NAME}\")\nendif()\n\
         include(compute_versions RESULT_VARIABLE RESULT)\n\
         if(RESULT STREQUAL NOTFOUND)\n  message(FATAL_ERROR \"no compute_versions in ${CMAKE_MODULE_PATH}\")\nendif()\n\
         compute_versions(API_VERSION SCHEMA_VERSION)\n\
         configure_file(Makefile.in src/Makefile)\n\
         configure_file(driver_config.h.in src/driver_config.h)\n\
         foreach(FILENAME main.c)\n  configure_file(${FILENAME} src/${FILENAME} COPYONLY)\nendforeach()\n",
    )
    .unwrap();
    std::fs::write(
        driver.join("Makefile.in"),
        "@DRIVER_NAME@-y += main.o\nobj-m += @DRIVER_NAME@.o\n\n\
         KERNELDIR ?= /lib/modules/$(shell uname -r)/build\n\
         TOP := $(shell pwd)\nall:\n\t$(MAKE) -C $(KERNELDIR) M=$(TOP) modules\n",
    )
    .unwrap();
    std::fs::write(
        driver.join("driver_config.h.in"),
        "#pragma once\n#define DRIVER_VERSION \"${DRIVER_VERSION}\"\n\
         #define DRIVER_NAME \"${DRIVER_NAME}\"\n#define DRIVER_DEVICE_NAME \"${DRIVER_DEVICE_NAME}\"\n\
         #define DRIVER_COMMIT \"\"\n#define PPM_API \"${PPM_API_CURRENT_VERSION}\"\n",
    )
    .unwrap();
    std::fs::write(
        driver.join("main.c"),
        "// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n#include \"driver_config.h\"\n\
         static int __init drv_init(void) { return 0; }\nstatic void __exit drv_exit(void) {}\n\
         module_init(drv_init);\nmodule_exit(drv_exit);\nMODULE_LICENSE(\"GPL\");\n\
         MODULE_VERSION(DRIVER_VERSION);\nMODULE_INFO(build_commit, DRIVER_COMMIT);\n\
         MODULE_INFO(device, DRIVER_DEVICE_NAME);\nMODULE_INFO(api_version, PPM_API);\n",
    )
    .unwrap();
}

#[test]
fn libs_source_is_configured_like_driverkit_and_a_probe_it_lacks_is_reported() {
    for (name, package) in [
        ("cmake", "cmake"),
        ("make", "make"),
        ("gcc-12", "gcc-12"),
        ("strip", "binutils"),
        ("modinfo", "kmod"),
    ] {
        tool(name, package);
    }
    assert_eq!(DEFAULT_DRIVER_NAME, "falco");
    let headers = headers();
    let release = headers.release.clone();
    let mirror = tempfile::tempdir().unwrap();
    let (_server, urls) = serve_headers(&headers, mirror.path());
    let cwd = tempfile::tempdir().unwrap();
    write_libs_project(&cwd.path().join("libs"));
    let checkout_before = std::fs::read_dir(cwd.path().join("libs/driver"))
        .unwrap()
        .count();
    write_config(
        &cwd.path().join("config"),
        "9.0.0+driver",
        &release,
        &urls,
        true,
    );
    let site = cwd.path().join("site");
    let repo = format!("file://{}", site.display());
    let args = [
        "build",
        "config",
        "--driver-source",
        "libs",
        "--driver-name",
        "mydrv",
        "--device-name",
        "mydev",
        "--work",
        "work",
        "--quiet",
        "--repo",
        &repo,
    ];
    let output = run(cwd.path(), &args);
    // The probe this driver version cannot have is not a failure.
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("probe not supported by this driver version"),
        "{text}"
    );
    assert!(text.contains("1 built, 0 failed"), "{text}");
    let ko = cwd.path().join(format!(
        "output/9.0.0+driver/x86_64/falco_debian_{release}_1.ko"
    ));
    assert_eq!(modinfo(&ko, "name"), "mydrv");
    assert_eq!(modinfo(&ko, "version"), "9.0.0+driver");
    // driverkit's last configure step, and the device name option.
    assert_eq!(modinfo(&ko, "build_commit"), "9.0.0+driver");
    assert_eq!(modinfo(&ko, "device"), "mydev");
    // compute_versions ran from the checkout's cmake/modules.
    assert_eq!(modinfo(&ko, "api_version"), "8.0.0");
    assert!(!cwd
        .path()
        .join(format!(
            "output/9.0.0+driver/x86_64/falco_debian_{release}_1.o"
        ))
        .exists());
    let names = index_names(&site, "9.0.0+driver");
    assert_eq!(names, format!("kmod falco_debian_{release}_1.ko\n"));
    // The checkout itself was not written to: cmake ran on a copy in the sources cache.
    assert_eq!(
        std::fs::read_dir(cwd.path().join("libs/driver"))
            .unwrap()
            .count(),
        checkout_before
    );

    // Configured once per driver version: a second run with a new config reuses it.
    write_config(
        &cwd.path().join("config"),
        "9.0.0+driver",
        &release,
        &urls,
        false,
    );
    std::fs::remove_file(&ko).unwrap();
    let output = run(cwd.path(), &args[..args.len() - 2]);
    assert!(output.status.success(), "{output:?}");
    let logs = cwd.path().join("work/logs/9.0.0+driver/x86_64");
    let log = std::fs::read_to_string(logs.join(format!("debian_{release}_1.log"))).unwrap();
    assert!(
        log.contains("reusing the configured driver source"),
        "{log}"
    );

    // A directory that is no driver source is a clear error for the build.
    let output = run(
        cwd.path(),
        &[
            "build",
            "config",
            "--driver-source",
            "site",
            "--work",
            "work2",
            "--output",
            "output2",
            "--quiet",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("is not a driver source"), "{text}");
}
