//! Real builds: Debian's kernel header packages (fetched by `scripts/fetch-test-kernel-headers`)
//! served over loopback HTTP, compiled against with kbuild and clang by the local backend,
//! checked with modinfo, file and llvm-readelf, published to a `file://` repository; and each
//! failure (404, corrupt package, compile error, timeout, cancel) reported per config while
//! the other builds complete.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use falco_artifacts_driver_grid::build::{
    BuildError, BuildRecord, BuildStatus, CancelToken, DriverSource, FetchError, Fetcher, GridJob,
    GridReport, GridRunner, LocalBuilder, Progress, UnpackError,
};
use falco_artifacts_driver_grid::core::Sha256Digest;
use falco_artifacts_driver_grid::publish::RepoStore;
use falco_artifacts_driver_grid::{check_tree, DriverRepository, Plan, PlanFilter};
use falco_artifacts_testkit::{require_tool, HttpServer};

const DV: &str = "10.2.0+driver";

/// The three Debian packages of one kernel, downloaded once into a cache shared by runs.
pub(crate) struct Headers {
    pub(crate) dir: PathBuf,
    /// `linux-headers-<abi>-amd64`, `-common`, `linux-kbuild-<x.y>` file names.
    pub(crate) debs: Vec<String>,
    /// `6.1.0-56-amd64`.
    pub(crate) release: String,
    /// `6.1.192` (the upstream version, from the package version).
    pub(crate) upstream: String,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn find(dir: &Path, prefix: &str, suffix: &str) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .collect();
    names.sort();
    names.pop()
}

pub(crate) fn headers() -> Headers {
    let dir = std::env::var_os("FALCO_TEST_KERNEL_HEADERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-kernel-headers"));
    let script = workspace().join("scripts/fetch-test-kernel-headers");
    let look = || {
        Some([
            find(&dir, "linux-headers-", "_amd64.deb")?,
            find(&dir, "linux-headers-", "_all.deb")?,
            find(&dir, "linux-kbuild-", "_amd64.deb")?,
        ])
    };
    let debs = match look() {
        Some(debs) => debs,
        None => {
            let status = Command::new(&script).arg(&dir).status();
            assert!(
                status.as_ref().is_ok_and(|s| s.success()),
                "cannot fetch Debian's kernel header packages into {}: run {} (needs apt-get and the \
                 Debian archive) or set FALCO_TEST_KERNEL_HEADERS to a directory holding \
                 linux-headers-<abi>-amd64, linux-headers-<abi>-common and linux-kbuild-<x.y> .debs ({status:?})",
                dir.display(),
                script.display()
            );
            look().unwrap_or_else(|| {
                panic!(
                    "{} did not leave the three .debs in {}",
                    script.display(),
                    dir.display()
                )
            })
        }
    };
    // linux-headers-6.1.0-56-amd64_6.1.192-2_amd64.deb
    let (name, rest) = debs[0].split_once('_').unwrap();
    let release = name.strip_prefix("linux-headers-").unwrap().to_owned();
    let upstream = rest.split(['-', '_']).next().unwrap().to_owned();
    Headers {
        dir,
        debs: debs.to_vec(),
        release,
        upstream,
    }
}

/// A driverkit config for `debian` `release` with kernel version `version`.
pub(crate) fn write_config(
    root: &Path,
    release: &str,
    version: &str,
    urls: &[String],
    probe: bool,
) {
    let dir = root.join(DV).join("x86_64");
    std::fs::create_dir_all(&dir).unwrap();
    let out = format!("output/{DV}/x86_64/falco_debian_{release}_{version}");
    let probe = if probe {
        format!("{out}.o")
    } else {
        String::new()
    };
    let urls: String = urls.iter().map(|u| format!("  - {u}\n")).collect();
    std::fs::write(
        dir.join(format!("debian_{release}_{version}.yaml")),
        format!(
            "kernelversion: \"{version}\"\nkernelrelease: {release}\ntarget: debian\narchitecture: amd64\n\
             output:\n  module: {out}.ko\n  probe: \"{probe}\"\nkernelurls:\n{urls}"
        ),
    )
    .unwrap();
}

fn jobs(configs: &Path) -> Vec<GridJob> {
    let report = check_tree(configs).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    GridJob::from_plan(&plan, &report.valid).unwrap()
}

fn driver_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/driver")
}

fn record<'a>(report: &'a GridReport, version: &str) -> &'a BuildRecord {
    report
        .builds
        .iter()
        .find(|r| r.kernel_version.as_str() == version)
        .unwrap_or_else(|| panic!("no build of {version}: {}", report.to_text()))
}

fn error(record: &BuildRecord) -> &BuildError {
    match &record.status {
        BuildStatus::Failed { error } => error,
        other => panic!("{} did not fail: {other:?}", record.kernel_version),
    }
}

fn tool(name: &str, package: &str) -> PathBuf {
    require_tool(name, &format!("Debian package {package}")).unwrap()
}

fn stdout(mut command: Command) -> String {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// No temporary `.partial` file is left anywhere under `dir`.
fn no_partial_files(dir: &Path) {
    if !dir.exists() {
        return;
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            !path.to_string_lossy().ends_with(".partial"),
            "{}",
            path.display()
        );
        if path.is_dir() {
            no_partial_files(&path);
        }
    }
}

/// Cancels the run when the build of `version` starts compiling its module.
struct CancelAt {
    version: &'static str,
    token: CancelToken,
    steps: Mutex<Vec<String>>,
}

impl Progress for CancelAt {
    fn step(&self, _index: usize, job: &GridJob, step: &str) {
        self.steps
            .lock()
            .unwrap()
            .push(format!("{} {step}", job.build.kernel_version));
        if job.build.kernel_version.as_str() == self.version && step == "module" {
            self.token.cancel();
        }
    }
}

/// A secret of this process that no build may see (the kind of variable the S3 store and the
/// signer read).
const SENTINEL: (&str, &str) = ("FALCO_TEST_AWS_SECRET_ACCESS_KEY", "sentinel-7f3a9c-secret");

#[test]
fn builds_real_drivers_against_debian_headers_and_reports_each_failure() {
    std::env::set_var(SENTINEL.0, SENTINEL.1);
    for (name, package) in [
        ("make", "make"),
        ("gcc-12", "gcc-12"),
        ("clang", "clang"),
        ("llc", "llvm"),
        ("modinfo", "kmod"),
        ("llvm-readelf", "llvm"),
        ("file", "file"),
    ] {
        tool(name, package);
    }
    let headers = headers();
    // The header version must not be installed system-wide, or a broken unpack could go
    // unnoticed by building against /usr/src.
    assert!(
        !Path::new("/usr/src")
            .join(format!("linux-headers-{}", headers.release))
            .exists(),
        "linux-headers-{} is installed system-wide: the test would prove nothing",
        headers.release
    );
    let mirror = tempfile::tempdir().unwrap();
    for deb in &headers.debs {
        std::fs::copy(headers.dir.join(deb), mirror.path().join(deb)).unwrap();
    }
    // A damaged copy of the arch package: the ar container is cut in the middle of data.tar.
    let bytes = std::fs::read(headers.dir.join(&headers.debs[0])).unwrap();
    let corrupt = "linux-headers-corrupt_amd64.deb";
    std::fs::write(mirror.path().join(corrupt), &bytes[..bytes.len() / 2]).unwrap();
    let server = HttpServer::serve(mirror.path()).unwrap();
    let url = |name: &str| format!("{}/{name}", server.url());
    let good: Vec<String> = headers.debs.iter().map(|d| url(d)).collect();
    let mut missing = good.clone();
    missing[1] = url("linux-headers-gone_all.deb");
    let mut damaged = good.clone();
    damaged[0] = url(corrupt);

    let work = tempfile::tempdir().unwrap();
    let configs = work.path().join("config");
    let release = &headers.release;
    write_config(&configs, release, "1", &good, true);
    write_config(&configs, release, "2", &missing, true);
    write_config(&configs, release, "3", &damaged, true);
    write_config(&configs, release, "compile-error", &good, false);

    let cache = work.path().join("downloads");
    let builder = LocalBuilder::new(
        Fetcher::new(&cache).with_attempts(2),
        work.path().join("kernels"),
        DriverSource::new(driver_source()),
    );
    let output = work.path().join("output");
    let runner = GridRunner::new(&builder, &output, work.path().join("work"))
        .with_workers(2)
        .with_timeout(Duration::from_secs(600));
    let report = runner.run(&jobs(&configs)).unwrap();
    let text = report.to_text();
    println!("{text}");
    assert_eq!(report.counts(), (1, 3, 0), "{text}");

    // Each failure, with its cause, for its own config.
    match error(record(&report, "2")) {
        BuildError::Download {
            url,
            source: FetchError::NotFound { status: 404, .. },
        } => assert!(url.ends_with("linux-headers-gone_all.deb")),
        other => panic!("404: {other:?}"),
    }
    match error(record(&report, "3")) {
        BuildError::Unpack(unpack) => {
            let UnpackError::Deb { path, .. } = unpack.as_ref() else {
                panic!("corrupt package: {unpack:?}")
            };
            assert!(path.ends_with(corrupt), "{}", path.display())
        }
        other => panic!("corrupt package: {other:?}"),
    }
    let compile = record(&report, "compile-error");
    assert!(matches!(
        error(compile),
        BuildError::Failed { step: "module", .. }
    ));
    let log = std::fs::read_to_string(compile.log.as_ref().unwrap()).unwrap();
    assert!(log.contains("this build fails on purpose"), "{log}");
    assert!(
        text.contains(&compile.log.as_ref().unwrap().display().to_string()),
        "{text}"
    );
    let json = report.to_json();
    assert_eq!(json["builds"][0]["status"], "built", "{json:#}");
    assert!(
        json["builds"][1]["error"].as_str().unwrap().contains("404"),
        "{json:#}"
    );

    // The module: built for this kernel, named by the convention.
    let dir = output.join(DV).join("x86_64");
    let ko = dir.join(format!("falco_debian_{release}_1.ko"));
    let mut modinfo = Command::new(tool("modinfo", "kmod"));
    modinfo.args(["-F", "vermagic"]).arg(&ko);
    let vermagic = stdout(modinfo);
    assert!(
        vermagic.starts_with(&format!("{release} SMP")),
        "{vermagic}"
    );
    let mut modinfo = Command::new(tool("modinfo", "kmod"));
    modinfo.args(["-F", "description"]).arg(&ko);
    assert_eq!(stdout(modinfo).trim(), "driver-grid test module");

    // The probe: an eBPF object that carries the headers' LINUX_VERSION_CODE.
    let probe = dir.join(format!("falco_debian_{release}_1.o"));
    let mut file = Command::new(tool("file", "file"));
    file.arg("-b").arg(&probe);
    let kind = stdout(file);
    assert!(kind.contains("ELF 64-bit LSB relocatable, eBPF"), "{kind}");
    let mut readelf = Command::new(tool("llvm-readelf", "llvm"));
    readelf.arg("-h").arg(&probe);
    assert!(stdout(readelf).contains("EM_BPF"));
    let nums: Vec<u32> = headers
        .upstream
        .split('.')
        .map(|n| n.parse().unwrap())
        .collect();
    let code = (nums[0] << 16) + (nums[1] << 8) + nums[2].min(255);
    let mut readelf = Command::new(tool("llvm-readelf", "llvm"));
    readelf.args(["-x", "version"]).arg(&probe);
    let dump = stdout(readelf);
    let le: String = code
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        dump.contains(&le),
        "version section {dump} lacks {le} ({code:#x})"
    );
    // Nothing of the failed builds reached the output directory.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("falco_debian_{release}_1.ko"),
            format!("falco_debian_{release}_1.o")
        ]
    );

    // Publish what built into a file:// repository; the index lists both.
    let site = tempfile::tempdir().unwrap();
    let store = RepoStore::from_url(&format!("file://{}", site.path().display())).unwrap();
    let repo = DriverRepository::new(store).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let outcome = rt.block_on(repo.publish(&report.built_drivers())).unwrap();
    assert_eq!(outcome.uploaded.len(), 2, "{outcome:?}");
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(site.path().join(format!("driver/site/{DV}.json"))).unwrap(),
    )
    .unwrap();
    let listed = index.to_string();
    for (kind, ext) in [("kmod", "ko"), ("ebpf", "o")] {
        let name = format!("falco_debian_{release}_1.{ext}");
        assert!(listed.contains(&name) && listed.contains(kind), "{index:#}");
        assert_eq!(
            std::fs::read(site.path().join(format!("driver/{DV}/x86_64/{name}"))).unwrap(),
            std::fs::read(dir.join(&name)).unwrap()
        );
    }

    // Second run: the built config is skipped, a new one builds from the cached downloads
    // and kernel tree (its URLs pinned with `#sha256=`), one that hangs is killed at the
    // timeout while it completes, one whose Makefile prints its environment never sees the
    // secret, and one pinning a wrong digest is refused before anything is unpacked.
    let pinned: Vec<String> = headers
        .debs
        .iter()
        .map(|d| {
            let digest = Sha256Digest::of_bytes(&std::fs::read(headers.dir.join(d)).unwrap());
            format!("{}#sha256={digest}", url(d))
        })
        .collect();
    let mut wrong_pin = pinned.clone();
    wrong_pin[2] = format!("{}#sha256={}", url(&headers.debs[2]), "00".repeat(32));
    write_config(&configs, release, "4", &pinned, false);
    write_config(&configs, release, "hang", &good, false);
    write_config(&configs, release, "env", &good, false);
    write_config(&configs, release, "badpin", &wrong_pin, false);
    let runner = GridRunner::new(&builder, &output, work.path().join("work"))
        .with_workers(2)
        .with_timeout(Duration::from_secs(25));
    let started = Instant::now();
    let jobs2: Vec<GridJob> = jobs(&configs)
        .into_iter()
        .filter(|j| ["1", "4", "hang", "env", "badpin"].contains(&j.build.kernel_version.as_str()))
        .collect();
    let report = runner.run(&jobs2).unwrap();
    let elapsed = started.elapsed();
    println!("{}", report.to_text());
    assert_eq!(report.counts(), (2, 2, 1), "{}", report.to_text());
    let env_log = std::fs::read_to_string(record(&report, "env").log.as_ref().unwrap()).unwrap();
    assert!(
        env_log.contains("environment of the build:") && env_log.contains("PATH="),
        "{env_log}"
    );
    assert!(
        !env_log.contains(SENTINEL.1) && !env_log.contains(SENTINEL.0),
        "the build saw the secret: {env_log}"
    );
    match error(record(&report, "badpin")) {
        BuildError::Download {
            url,
            source: FetchError::Checksum { expected, .. },
        } => {
            assert!(url.ends_with(&headers.debs[2]), "{url}");
            assert_eq!(expected.to_hex(), "00".repeat(32));
        }
        other => panic!("wrong pin: {other:?}"),
    }
    assert!(matches!(
        record(&report, "1").status,
        BuildStatus::Skipped { .. }
    ));
    assert!(matches!(record(&report, "4").status, BuildStatus::Built));
    assert!(matches!(
        error(record(&report, "hang")),
        BuildError::TimedOut { step: "module", .. }
    ));
    // `sleep 600` in the hanging make was killed with its process group.
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
    // Reproducible: the same source built in another work directory gives the same bytes.
    assert_eq!(
        std::fs::read(dir.join(format!("falco_debian_{release}_4.ko"))).unwrap(),
        std::fs::read(&ko).unwrap()
    );
    let log = std::fs::read_to_string(record(&report, "4").log.as_ref().unwrap()).unwrap();
    assert!(
        log.contains("(cached)") && log.contains("reusing the kernel tree"),
        "{log}"
    );

    // Third run, cancelled while a module compiles: nothing half-built appears, nothing is
    // offered for publishing.
    write_config(&configs, release, "5", &good, true);
    let token = CancelToken::new();
    let cancel = CancelAt {
        version: "5",
        token: token.clone(),
        steps: Mutex::new(Vec::new()),
    };
    let runner = GridRunner::new(&builder, &output, work.path().join("work"))
        .with_workers(1)
        .with_cancel(token)
        .with_progress(&cancel);
    let jobs3: Vec<GridJob> = jobs(&configs)
        .into_iter()
        .filter(|j| ["5", "hang"].contains(&j.build.kernel_version.as_str()))
        .collect();
    let report = runner.run(&jobs3).unwrap();
    assert!(
        report.cancelled && report.built_drivers().is_empty(),
        "{}",
        report.to_text()
    );
    assert!(matches!(error(record(&report, "5")), BuildError::Cancelled));
    assert!(matches!(
        record(&report, "hang").status,
        BuildStatus::Skipped { .. }
    ));
    assert!(!dir.join(format!("falco_debian_{release}_5.ko")).exists());
    assert!(!dir.join(format!("falco_debian_{release}_5.o")).exists());
    no_partial_files(&output);
    assert!(cancel
        .steps
        .lock()
        .unwrap()
        .contains(&"5 module".to_owned()));
}
