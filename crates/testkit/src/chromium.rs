//! A headless Debian `chromium`, driven from the command line: load a page, let its scripts
//! run, dump the resulting DOM or take a screenshot.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{require_tool, TestkitError};

/// How long one page load may take before chromium is killed.
const PAGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Headless `chromium` with a fresh profile, isolated from the host: no sandbox (tests run as
/// root), no GPU, no background networking, component updates, sync or first-run pages.
///
/// Each call starts one browser that loads `url`, runs its scripts for a budget of virtual
/// time (network requests pause the clock, so `fetch`es complete) and exits. Dropping the
/// value removes the profile.
#[derive(Debug)]
pub struct Chromium {
    program: PathBuf,
    profile: TempDir,
    budget: Duration,
}

impl Chromium {
    /// Finds `chromium` (Debian package `chromium`) and makes a fresh `--user-data-dir`.
    pub fn new() -> Result<Self, TestkitError> {
        let program = require_tool("chromium", "Debian package chromium")?;
        let profile = tempfile::Builder::new()
            .prefix("tk-chromium-")
            .tempdir()
            .map_err(|source| TestkitError::io("create a chromium profile directory", source))?;
        Ok(Chromium {
            program,
            profile,
            budget: Duration::from_secs(20),
        })
    }

    /// The DOM of `url` after its scripts ran, as HTML (`--dump-dom`).
    pub fn dump_dom(&self, url: &str) -> Result<String, TestkitError> {
        let stdout = self.run(&["--dump-dom".to_owned(), url.to_owned()])?;
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }

    /// A PNG screenshot of `url` after its scripts ran, written to `path`.
    pub fn screenshot(&self, url: &str, path: &Path) -> Result<(), TestkitError> {
        self.run(&[
            format!("--screenshot={}", path.display()),
            "--window-size=1280,1400".to_owned(),
            url.to_owned(),
        ])?;
        if path.is_file() {
            Ok(())
        } else {
            Err(TestkitError::Check {
                what: "chromium screenshot".to_owned(),
                detail: format!("{} was not written", path.display()),
            })
        }
    }

    fn run(&self, extra: &[String]) -> Result<Vec<u8>, TestkitError> {
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ]
        .map(str::to_owned)
        .to_vec();
        args.push(format!("--user-data-dir={}", self.profile.path().display()));
        args.push(format!("--virtual-time-budget={}", self.budget.as_millis()));
        args.extend(extra.iter().cloned());
        let logs = self.profile.path().join("stderr.log");
        let stderr = std::fs::File::create(&logs)
            .map_err(|source| TestkitError::io("create chromium's log", source))?;
        let stdout_path = self.profile.path().join("stdout.html");
        let stdout = std::fs::File::create(&stdout_path)
            .map_err(|source| TestkitError::io("create chromium's output file", source))?;
        let mut child = Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|source| TestkitError::Spawn {
                tool: "chromium".to_owned(),
                source,
            })?;
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < PAGE_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(None) => {
                    // A hung browser is killed, not waited for forever.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(TestkitError::NotReady {
                        service: "chromium".to_owned(),
                        waited: PAGE_TIMEOUT,
                        log: tail(&logs),
                    });
                }
                Err(source) => return Err(TestkitError::io("wait for chromium", source)),
            }
        };
        if !status.success() {
            return Err(TestkitError::Browser {
                args,
                status,
                log: tail(&logs),
            });
        }
        std::fs::read(&stdout_path)
            .map_err(|source| TestkitError::io("read chromium's output", source))
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
