//! Running one build step (cmake, make, strip, driverkit) with its output in the build's log, a
//! deadline and cancellation; a step that overruns is killed with its whole process group.
//! Every program a build starts goes through [`BuildContext::run`], so this is also where its
//! environment is cut down to the allow-list ([`ChildEnv`]): header packages are downloaded
//! code, and the secrets of the release run are none of their business.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use falco_artifacts_core::ChildEnv;

use super::BuildError;

/// A flag that stops a grid run: builds not started are skipped, running steps are killed,
/// nothing half-built is kept or published. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every run holding a clone of this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a builder gets besides the job: the build's log, its deadline, the run's cancel
/// token, and where to report which step it is in.
pub struct BuildContext<'a> {
    pub(crate) log: File,
    pub(crate) log_path: PathBuf,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    pub(crate) cancel: CancelToken,
    pub(crate) on_step: &'a (dyn Fn(&str) + Sync),
    pub(crate) env: ChildEnv,
}

impl std::fmt::Debug for BuildContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("log_path", &self.log_path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<'a> BuildContext<'a> {
    /// A context logging to `log_path` (created, truncated), ending at `timeout` from now.
    pub fn new(
        log_path: &Path,
        timeout: Duration,
        cancel: CancelToken,
        on_step: &'a (dyn Fn(&str) + Sync),
    ) -> Result<Self, BuildError> {
        if let Some(parent) = log_path.parent() {
            std::fs::create_dir_all(parent).map_err(BuildError::io("create", parent))?;
        }
        let log = File::create(log_path).map_err(BuildError::io("create", log_path))?;
        Ok(BuildContext {
            log,
            log_path: log_path.to_owned(),
            deadline: Instant::now() + timeout,
            timeout,
            cancel,
            on_step,
            env: ChildEnv::default(),
        })
    }

    /// The environment the programs of this build get (default: [`ChildEnv::default`]).
    pub fn with_env(mut self, env: ChildEnv) -> Self {
        self.env = env;
        self
    }

    /// The log file of this build.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Says which step the build is in (shown as progress) and writes it to the log.
    pub fn step(&mut self, step: &str) {
        let _ = writeln!(self.log, "==> {step}");
        (self.on_step)(step);
    }

    /// Writes a line to the log.
    pub fn note(&mut self, line: &str) {
        let _ = writeln!(self.log, "{line}");
    }

    /// Fails when the run was cancelled or the deadline has passed.
    pub fn check(&self, step: &'static str) -> Result<(), BuildError> {
        if self.cancel.is_cancelled() {
            return Err(BuildError::Cancelled);
        }
        if Instant::now() >= self.deadline {
            return Err(BuildError::TimedOut {
                step,
                timeout: self.timeout,
            });
        }
        Ok(())
    }

    /// Runs `command` in its own process group with stdout and stderr appended to the log,
    /// with a cleared environment plus this build's [`ChildEnv`] (variables set on `command`
    /// by its caller are kept). When the deadline passes or the run is cancelled, the whole
    /// group (make and every compiler it started) is killed.
    pub fn run(&mut self, step: &'static str, mut command: Command) -> Result<(), BuildError> {
        self.check(step)?;
        // Logged before the environment is applied: values passed by name stay out of logs.
        let _ = writeln!(self.log, "$ {command:?}");
        self.env.apply(&mut command);
        let _ = self.log.flush();
        let out = self
            .log
            .try_clone()
            .map_err(BuildError::io("share", &self.log_path))?;
        let err = self
            .log
            .try_clone()
            .map_err(BuildError::io("share", &self.log_path))?;
        let program = command.get_program().to_string_lossy().into_owned();
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let mut child = command.spawn().map_err(|source| BuildError::Spawn {
            step,
            program: program.clone(),
            source,
        })?;
        let status: ExitStatus = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(source) => {
                    kill_group(&child);
                    return Err(BuildError::Spawn {
                        step,
                        program,
                        source,
                    });
                }
            }
            let stop = if self.cancel.is_cancelled() {
                Some(BuildError::Cancelled)
            } else if Instant::now() >= self.deadline {
                Some(BuildError::TimedOut {
                    step,
                    timeout: self.timeout,
                })
            } else {
                None
            };
            if let Some(error) = stop {
                kill_group(&child);
                let _ = child.wait();
                let _ = writeln!(self.log, "killed: {error}");
                return Err(error);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if status.success() {
            Ok(())
        } else {
            let _ = writeln!(self.log, "{program} failed: {status}");
            Err(BuildError::Failed {
                step,
                status,
                log: self.log_path.clone(),
            })
        }
    }
}

/// Runs `command` to read what it prints (a `--version`, a `--help`): stdout and stderr
/// together, empty stdin. Every program the builders start goes through this module.
pub(crate) fn capture(step: &'static str, mut command: Command) -> Result<String, BuildError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Spawn {
            step,
            program,
            source,
        })?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(text)
}

/// Kills the process group led by `child` (it was spawned with `process_group(0)`).
fn kill_group(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// The first directory of `PATH` holding an executable `tool`.
pub(crate) fn find_tool(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(tool))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
