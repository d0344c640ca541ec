//! The test gate: nothing is published unless the tests ran and passed.
//!
//! A release either runs its test command here, or hands over the evidence file its CI wrote
//! (`{"passed": true, "commit": "<sha>"}`). No gate at all is refused too: "the tests were not
//! run" is a reason not to publish, never a default.

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::{head_commit, ChildEnv};
use serde::Deserialize;

use crate::PipelineError;

/// How a release proves that its tests passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Run this program with these arguments; exit status 0 means passed. It runs with a
    /// cleared environment plus the run's [`ChildEnv`]: a test command is project code, and
    /// the release's secrets (S3 keys, signing key) are not its business.
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Read a JSON evidence file written by CI: `{"passed": bool, "commit": "<full sha>"}`.
    Evidence(PathBuf),
}

/// What the evidence file holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Evidence {
    passed: bool,
    #[serde(default)]
    commit: Option<String>,
}

/// Proof that a gate let the release through: only [`Gate::check`] makes one, and publishing
/// ([`crate::Pipeline::publish`]) asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePassed {
    checked: String,
}

impl GatePassed {
    /// What was checked, for the report (`cargo test`, `evidence.json`).
    pub fn checked(&self) -> &str {
        &self.checked
    }
}

/// The shortest commit prefix accepted to name the released commit.
const MIN_PREFIX: usize = 7;

/// Makes `dir` (and its parents), naming it on failure.
pub(crate) fn make_dir(dir: &Path) -> Result<(), PipelineError> {
    std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// The first step of every release job (`run`, `publish`): its work directory made, then its
/// gate passed, the log in `gate.log` there. No gate is [`PipelineError::GateNotRun`].
pub(crate) fn pass_gate(
    work_dir: &Path,
    gate: Option<&Gate>,
    commit: Option<&str>,
    env: &ChildEnv,
    progress: &mut impl FnMut(&str),
) -> Result<GatePassed, PipelineError> {
    make_dir(work_dir)?;
    let gate = gate.ok_or(PipelineError::GateNotRun)?;
    progress("gate: running the tests");
    gate.check(&work_dir.join("gate.log"), commit, env)
}

impl Gate {
    /// A command gate from a shell-like word list (`["cargo", "test"]`).
    pub fn command(words: &[String]) -> Result<Gate, PipelineError> {
        let (program, args) = words.split_first().ok_or(PipelineError::GateNotRun)?;
        Ok(Gate::Command {
            program: program.clone(),
            args: args.to_vec(),
        })
    }

    /// Runs or reads the gate. `log` receives a command's output, which runs with `env`.
    /// Evidence must name the released commit: `commit` (a full SHA or a prefix of at least
    /// 7 hex digits), or, when `None`, the `HEAD` of the git checkout in the current
    /// directory.
    pub fn check(
        &self,
        log: &Path,
        commit: Option<&str>,
        env: &ChildEnv,
    ) -> Result<GatePassed, PipelineError> {
        self.check_in(log, commit, Path::new("."), env)
    }

    /// [`Gate::check`] with the git checkout whose `HEAD` is the released commit when
    /// `commit` is `None`.
    pub fn check_in(
        &self,
        log: &Path,
        commit: Option<&str>,
        checkout: &Path,
        env: &ChildEnv,
    ) -> Result<GatePassed, PipelineError> {
        match self {
            Gate::Command { program, args } => run_command(program, args, log, env),
            Gate::Evidence(path) => {
                let expected = match commit {
                    Some(commit) => commit.to_owned(),
                    None => {
                        head_commit(checkout).map_err(|source| PipelineError::NoReleaseCommit {
                            path: path.clone(),
                            source,
                        })?
                    }
                };
                read_evidence(path, &expected)
            }
        }
    }
}

fn run_command(
    program: &str,
    args: &[String],
    log: &Path,
    env: &ChildEnv,
) -> Result<GatePassed, PipelineError> {
    let shown = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new(program);
    command.args(args);
    env.apply(&mut command);
    let output = command
        .output()
        .map_err(|source| PipelineError::GateStart {
            command: shown.clone(),
            source,
        })?;
    let mut text = output.stdout;
    text.extend_from_slice(&output.stderr);
    std::fs::write(log, &text).map_err(|source| PipelineError::Io {
        path: log.to_owned(),
        source,
    })?;
    if output.status.success() {
        return Ok(GatePassed { checked: shown });
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(10)..].join("\n");
    Err(PipelineError::GateFailed {
        what: shown,
        status: output.status.to_string(),
        log: log.to_owned(),
        tail,
    })
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn read_evidence(path: &Path, expected: &str) -> Result<GatePassed, PipelineError> {
    let commit_error = |reason: &'static str, found: &str| PipelineError::EvidenceCommit {
        path: path.to_owned(),
        expected: expected.to_owned(),
        found: found.to_owned(),
        reason,
    };
    // SHA-1 and SHA-256 object names.
    if !is_hex(expected) || expected.len() < MIN_PREFIX || expected.len() > 64 {
        return Err(commit_error(
            "the release's commit must be at least 7 hex digits",
            "",
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
        path: path.to_owned(),
        source,
    })?;
    let evidence: Evidence =
        serde_json::from_str(&text).map_err(|source| PipelineError::Evidence {
            path: path.to_owned(),
            source,
        })?;
    let found = evidence.commit.as_deref().unwrap_or_default().trim();
    if found.is_empty() {
        return Err(commit_error(
            "the evidence names no commit; it must name the full SHA it tested",
            found,
        ));
    }
    if !is_hex(found) || !(found.len() == 40 || found.len() == 64) {
        return Err(commit_error(
            "the evidence's commit must be a full SHA (40 or 64 hex digits)",
            found,
        ));
    }
    // One way only: the release names a prefix of the commit tested, never the reverse (a
    // short SHA in the evidence would vouch for every commit sharing it).
    if !found
        .to_ascii_lowercase()
        .starts_with(&expected.to_ascii_lowercase())
    {
        return Err(commit_error("it is another commit", found));
    }
    if !evidence.passed {
        return Err(PipelineError::GateFailed {
            what: path.display().to_string(),
            status: "\"passed\": false".into(),
            log: path.to_owned(),
            tail: String::new(),
        });
    }
    Ok(GatePassed {
        checked: format!("{} (commit {found})", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "abc1234def5678901234567890abcdef01234567";

    #[test]
    fn a_failing_command_fails_the_gate_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gate.log");
        let env = ChildEnv::default();
        let gate = Gate::command(&[
            "sh".into(),
            "-c".into(),
            "echo test one failed; exit 3".into(),
        ])
        .unwrap();
        let err = gate.check(&log, None, &env).unwrap_err().to_string();
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("test one failed"), "{err}");
        let ok = Gate::command(&["true".into()]).unwrap();
        assert_eq!(ok.check(&log, None, &env).unwrap().checked(), "true");
        assert!(matches!(Gate::command(&[]), Err(PipelineError::GateNotRun)));
    }

    fn evidence(dir: &Path, text: &str) -> Gate {
        let file = dir.join("evidence.json");
        std::fs::write(&file, text).unwrap();
        Gate::Evidence(file)
    }

    #[test]
    fn evidence_must_say_passed_for_this_commit() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gate.log");
        let env = ChildEnv::default();
        let gate = evidence(
            dir.path(),
            &format!(r#"{{"passed": true, "commit": "{SHA}"}}"#),
        );
        assert!(gate.check(&log, Some("abc1234"), &env).is_ok());
        assert!(gate.check(&log, Some(SHA), &env).is_ok());
        assert!(gate.check(&log, Some(&SHA.to_uppercase()), &env).is_ok());
        let err = gate
            .check(&log, Some("fff0000"), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("fff0000") && err.contains(SHA), "{err}");
        let gate = evidence(
            dir.path(),
            &format!(r#"{{"passed": false, "commit": "{SHA}"}}"#),
        );
        assert!(matches!(
            gate.check(&log, Some(SHA), &env),
            Err(PipelineError::GateFailed { .. })
        ));
        let gate = evidence(dir.path(), r#"{"pased": true}"#);
        let err = gate.check(&log, Some(SHA), &env).unwrap_err().to_string();
        assert!(err.contains("evidence.json"), "{err}");
    }

    #[test]
    fn evidence_without_a_full_commit_or_a_short_release_commit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gate.log");
        let env = ChildEnv::default();
        for text in [
            r#"{"passed": true}"#.to_owned(),
            r#"{"passed": true, "commit": ""}"#.to_owned(),
            r#"{"passed": true, "commit": null}"#.to_owned(),
            // A short SHA in the evidence would vouch for every commit sharing it.
            r#"{"passed": true, "commit": "abc1234"}"#.to_owned(),
            format!(r#"{{"passed": true, "commit": "{}zz"}}"#, &SHA[..38]),
        ] {
            let gate = evidence(dir.path(), &text);
            let err = gate.check(&log, Some(SHA), &env).unwrap_err();
            assert!(
                matches!(err, PipelineError::EvidenceCommit { .. }),
                "{text}: {err}"
            );
        }
        let gate = evidence(
            dir.path(),
            &format!(r#"{{"passed": true, "commit": "{SHA}"}}"#),
        );
        // The prefix match is one way: the release names a prefix of the evidence's SHA,
        // of at least 7 hex digits.
        for given in [
            "",
            "abc",
            "abc123",
            "abc1234def5678901234567890abcdef0123456789",
            "xyz1234",
        ] {
            let err = gate.check(&log, Some(given), &env).unwrap_err();
            assert!(
                matches!(err, PipelineError::EvidenceCommit { .. }),
                "{given}: {err}"
            );
        }
    }

    #[test]
    fn evidence_without_a_given_commit_is_checked_against_the_git_head() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gate.log");
        let env = ChildEnv::default();
        let repo = dir.path().join("checkout");
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .status()
                .expect("git is installed (Debian package git)");
            assert!(status.success(), "git {args:?}");
        };
        std::fs::create_dir_all(&repo).unwrap();
        git(&["init", "-q"]);
        let no_head = evidence(
            dir.path(),
            &format!(r#"{{"passed": true, "commit": "{SHA}"}}"#),
        );
        let err = no_head.check_in(&log, None, &repo, &env).unwrap_err();
        assert!(
            matches!(err, PipelineError::NoReleaseCommit { .. }),
            "{err}"
        );
        git(&["commit", "-q", "--allow-empty", "-m", "one"]);
        let head = head_commit(&repo).unwrap();
        let gate = evidence(
            dir.path(),
            &format!(r#"{{"passed": true, "commit": "{head}"}}"#),
        );
        assert!(gate.check_in(&log, None, &repo, &env).is_ok());
        let gate = evidence(
            dir.path(),
            &format!(r#"{{"passed": true, "commit": "{SHA}"}}"#),
        );
        let err = gate.check_in(&log, None, &repo, &env).unwrap_err();
        assert!(matches!(err, PipelineError::EvidenceCommit { .. }), "{err}");
    }
}
