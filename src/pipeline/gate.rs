//! The test gate: nothing is published unless the tests ran and passed.
//!
//! A release either runs its test command here, or hands over the evidence file its CI wrote
//! (`{"passed": true, "commit": "<sha>"}`). No gate at all is refused too: "the tests were not
//! run" is a reason not to publish, never a default.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::PipelineError;

/// How a release proves that its tests passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Run this program with these arguments; exit status 0 means passed.
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Read a JSON evidence file written by CI: `{"passed": bool, "commit": "<sha>"}`.
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

/// A gate that let the release through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePassed {
    /// What was checked, for the report (`cargo test`, `evidence.json`).
    pub checked: String,
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

    /// Runs or reads the gate. `log` receives a command's output; `commit`, when known, must
    /// match the evidence's commit.
    pub fn check(&self, log: &Path, commit: Option<&str>) -> Result<GatePassed, PipelineError> {
        match self {
            Gate::Command { program, args } => run_command(program, args, log),
            Gate::Evidence(path) => read_evidence(path, commit),
        }
    }
}

fn run_command(program: &str, args: &[String], log: &Path) -> Result<GatePassed, PipelineError> {
    let shown = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new(program)
        .args(args)
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

fn read_evidence(path: &Path, commit: Option<&str>) -> Result<GatePassed, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
        path: path.to_owned(),
        source,
    })?;
    let evidence: Evidence =
        serde_json::from_str(&text).map_err(|source| PipelineError::Evidence {
            path: path.to_owned(),
            source,
        })?;
    if let (Some(expected), Some(found)) = (commit, evidence.commit.as_deref()) {
        if !found.starts_with(expected) && !expected.starts_with(found) {
            return Err(PipelineError::EvidenceCommit {
                path: path.to_owned(),
                expected: expected.to_owned(),
                found: found.to_owned(),
            });
        }
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
        checked: path.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_fails_the_gate_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gate.log");
        let gate = Gate::command(&[
            "sh".into(),
            "-c".into(),
            "echo test one failed; exit 3".into(),
        ])
        .unwrap();
        let err = gate.check(&log, None).unwrap_err().to_string();
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("test one failed"), "{err}");
        let ok = Gate::command(&["true".into()]).unwrap();
        assert_eq!(ok.check(&log, None).unwrap().checked, "true");
        assert!(matches!(Gate::command(&[]), Err(PipelineError::GateNotRun)));
    }

    #[test]
    fn evidence_must_say_passed_for_this_commit() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gate.log");
        let file = dir.path().join("evidence.json");
        std::fs::write(&file, r#"{"passed": true, "commit": "abc1234"}"#).unwrap();
        let gate = Gate::Evidence(file.clone());
        assert!(gate.check(&log, Some("abc1234def")).is_ok());
        let err = gate.check(&log, Some("fff0000")).unwrap_err().to_string();
        assert!(err.contains("fff0000") && err.contains("abc1234"), "{err}");
        std::fs::write(&file, r#"{"passed": false}"#).unwrap();
        assert!(matches!(
            gate.check(&log, None),
            Err(PipelineError::GateFailed { .. })
        ));
        std::fs::write(&file, r#"{"pased": true}"#).unwrap();
        let err = gate.check(&log, None).unwrap_err().to_string();
        assert!(err.contains("evidence.json"), "{err}");
    }
}
