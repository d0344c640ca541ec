//! A started service: its own process group, a log file, a readiness wait, and a stop on drop.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{require_tool, TestkitError};

/// How often readiness and exit are polled.
const POLL: Duration = Duration::from_millis(100);
/// How many lines of a service's log go into an error.
const LOG_TAIL_LINES: usize = 40;

/// A child process running as the leader of its own process group, so wrappers (pyenv shims)
/// and helpers it forks are stopped with it.
#[derive(Debug)]
pub(crate) struct Service {
    name: String,
    child: Child,
    log_path: PathBuf,
    grace: Duration,
}

impl Service {
    /// Starts `command` with stdin closed and stdout/stderr appended to `log_path`.
    ///
    /// `grace` is how long a stop waits after SIGTERM before sending SIGKILL.
    pub(crate) fn spawn(
        name: &str,
        mut command: Command,
        log_path: &Path,
        grace: Duration,
    ) -> Result<Self, TestkitError> {
        // Stopping relies on kill(1) since the crate forbids the unsafe needed to call kill(2).
        require_tool("kill", "Debian package procps")?;
        let log = File::create(log_path).map_err(|source| {
            TestkitError::io(format!("create log file {}", log_path.display()), source)
        })?;
        let log_err = log
            .try_clone()
            .map_err(|source| TestkitError::io("duplicate the log file handle", source))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(|source| TestkitError::Spawn {
                tool: command.get_program().to_string_lossy().into_owned(),
                source,
            })?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log_path: log_path.to_path_buf(),
            grace,
        })
    }

    /// The process id, which is also its process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `ready` until it returns true, the process exits, or `timeout` passes.
    pub(crate) fn wait_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), TestkitError> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(TestkitError::Exited {
                    service: self.name.clone(),
                    status,
                    log: self.log_tail(),
                });
            }
            if ready() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(TestkitError::NotReady {
                    service: self.name.clone(),
                    waited: start.elapsed(),
                    log: self.log_tail(),
                });
            }
            thread::sleep(POLL);
        }
    }

    /// The last lines of the service's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }

    /// Sends SIGTERM to the process group, waits up to the grace period, then SIGKILLs the
    /// group and reaps the leader. Never fails: a test tearing down has nobody to report to.
    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        signal("TERM", &group);
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => thread::sleep(POLL),
                Ok(Some(_)) | Err(_) => break,
            }
        }
        // Also catches group members that outlived a leader which exited on SIGTERM.
        signal("KILL", &group);
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(2);
        while !live_group_members(self.child.id()).is_empty() && Instant::now() < deadline {
            thread::sleep(POLL);
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `SIG<name>` to `target` (a pid, or `-pgid` for a group) with kill(1), ignoring
/// failures such as the target being gone already.
pub(crate) fn signal(name: &str, target: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg("--")
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether `pid` names a live (not zombie) process.
pub(crate) fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself contain ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Live (non-zombie) processes whose process group is `pgid`.
pub(crate) fn live_group_members(pgid: u32) -> Vec<u32> {
    let pgid = pgid.to_string();
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // Fields after the parenthesised command name: state, ppid, pgrp.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(2))
                    == Some(pgid.as_str())
            })
        })
        .filter(|&pid| is_alive(pid))
        .collect()
}

fn log_tail(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
            lines[skip..].join("\n")
        }
        Err(err) => format!("(could not read log {}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_exit_is_reported_with_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo boom >&2; exit 3"]);
        let mut service =
            Service::spawn("sh", cmd, &dir.path().join("log"), Duration::from_secs(1)).unwrap();
        let err = service
            .wait_ready(Duration::from_secs(10), || false)
            .unwrap_err();
        assert!(
            matches!(err, TestkitError::Exited { ref log, .. } if log == "boom"),
            "{err}"
        );
    }

    #[test]
    fn timeout_is_reported_and_drop_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        // The backgrounded sleep is a second member of the group that must die too.
        cmd.args(["-c", "sleep 300 & echo started; wait"]);
        let mut service =
            Service::spawn("sh", cmd, &dir.path().join("log"), Duration::from_secs(1)).unwrap();
        let pid = service.pid();
        let err = service
            .wait_ready(Duration::from_millis(300), || false)
            .unwrap_err();
        assert!(matches!(err, TestkitError::NotReady { .. }), "{err}");
        assert!(is_alive(pid));
        drop(service);
        assert!(!is_alive(pid));
        assert_eq!(live_group_members(pid), Vec::<u32>::new());
    }
}
