//! Falco's real driver, built the way Falco builds it: Debian's `falcosecurity-scap-dkms` (a
//! configured DKMS tree of the driver, module `scap` and its legacy probe in `bpf/`), unpacked
//! with our pkg-deb reader, built by `driver-grid build` with the driver's own Makefiles
//! through kbuild against Debian's header packages served over loopback HTTP, from relative
//! paths under a directory with a space.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use falco_artifacts_driver_grid::build::DriverTree;
use falco_artifacts_pkg_deb::{AbsoluteSymlinks, DebReader, ExtractOptions};
use falco_artifacts_testkit::{require_tool, HttpServer};

use crate::build::{headers, Headers};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn tool(name: &str, package: &str) -> PathBuf {
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
pub(crate) fn serve_headers(headers: &Headers, mirror: &Path) -> (HttpServer, Vec<String>) {
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
pub(crate) fn write_config(root: &Path, dv: &str, release: &str, urls: &[String], probe: bool) {
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

pub(crate) fn run(cwd: &Path, args: &[&str]) -> Output {
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

pub(crate) fn modinfo(ko: &Path, field: &str) -> String {
    let mut command = Command::new(tool("modinfo", "kmod"));
    command.args(["-F", field]).arg(ko);
    stdout(command).trim().to_owned()
}

pub(crate) fn index_names(site: &Path, dv: &str) -> String {
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
