//! The environment of the programs we start (make, clang, llc, strip, cmake, driverkit, the
//! test gate): cleared, then an explicit allow-list.
//!
//! A release run holds secrets in its environment (the `AWS_*` keys the S3 store reads, the
//! signing key variable, registry passwords) while it runs code it did not write: Makefiles
//! and `scripts/` helpers from downloaded kernel header packages, a project's test command.
//! None of them needs those secrets, so none of them gets them: a child sees the variables
//! of [`BASE_VARIABLES`], the ones its tool needs, the ones the user passes by name
//! (`--pass-env NAME`), and the ones its caller sets on the command explicitly.

use std::ffi::OsString;
use std::process::Command;

/// Variables every child gets when the parent has them: what a compiler, make or a shell
/// needs to find programs, write temporary files, pick a locale and build reproducibly.
pub const BASE_VARIABLES: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TZ",
    "SOURCE_DATE_EPOCH",
];

/// A variable name given to [`ChildEnv::with_pass_env`] that no environment can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not an environment variable name (expected letters, digits and `_`, not starting with a digit)")]
pub struct InvalidVariableName {
    /// The name given.
    pub name: String,
}

/// Which variables of this process a child may see. Cheap to clone; [`Default`] is
/// [`BASE_VARIABLES`] alone.
///
/// ```
/// use std::process::Command;
/// use falco_artifacts_core::ChildEnv;
///
/// let env = ChildEnv::default().with_pass_env("CCACHE_DIR")?;
/// let mut make = Command::new("make");
/// make.env("KBUILD_VERBOSE", "1"); // set by the caller: kept
/// env.apply(&mut make);
/// let names: Vec<_> = make.get_envs().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
/// assert!(names.contains(&"KBUILD_VERBOSE".to_owned()));
/// assert!(!names.contains(&"AWS_SECRET_ACCESS_KEY".to_owned()));
/// # Ok::<(), falco_artifacts_core::InvalidVariableName>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildEnv {
    allowed: Vec<String>,
}

impl Default for ChildEnv {
    fn default() -> Self {
        ChildEnv {
            allowed: BASE_VARIABLES.iter().map(|&v| v.to_owned()).collect(),
        }
    }
}

impl ChildEnv {
    /// Also passes `name` (a tool's own variable, or one the user asked for).
    pub fn with_pass_env(mut self, name: &str) -> Result<Self, InvalidVariableName> {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(InvalidVariableName {
                name: name.to_owned(),
            });
        }
        if !self.allowed.iter().any(|a| a == name) {
            self.allowed.push(name.to_owned());
        }
        Ok(self)
    }

    /// [`ChildEnv::with_pass_env`] for every name.
    pub fn with_pass_envs<S: AsRef<str>>(
        self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self, InvalidVariableName> {
        names
            .into_iter()
            .try_fold(self, |env, name| env.with_pass_env(name.as_ref()))
    }

    /// The names passed, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.allowed.iter().map(String::as_str)
    }

    /// The variables a child gets from this process's environment, as name and value.
    pub fn inherited(&self) -> Vec<(String, OsString)> {
        self.allowed
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|value| (name.clone(), value)))
            .collect()
    }

    /// Clears `command`'s environment and gives it the allowed variables of this process.
    /// What the caller set on `command` before (`command.env(..)`, `env_remove`) still
    /// applies: it is the caller's own decision, not something inherited.
    pub fn apply(&self, command: &mut Command) {
        let explicit: Vec<(OsString, Option<OsString>)> = command
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
            .collect();
        command.env_clear();
        command.envs(self.inherited());
        for (name, value) in explicit {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in ["", "1A", "A=B", "A B", "A-B"] {
            assert!(ChildEnv::default().with_pass_env(bad).is_err(), "{bad}");
        }
        let env = ChildEnv::default()
            .with_pass_envs(["CC", "_X1", "CC"])
            .unwrap();
        assert_eq!(env.names().filter(|n| *n == "CC").count(), 1);
        assert!(env.names().any(|n| n == "_X1"));
    }

    #[test]
    fn a_child_sees_only_the_allowed_variables() {
        // The test process's own environment: PATH is there, a made-up secret is not passed.
        let mut command = Command::new("env");
        command.env("EXPLICIT_ONE", "1");
        ChildEnv::default().apply(&mut command);
        let out = command.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().any(|l| l.starts_with("PATH=")), "{text}");
        assert!(text.lines().any(|l| l == "EXPLICIT_ONE=1"), "{text}");
        for line in text.lines() {
            let name = line.split('=').next().unwrap_or_default();
            assert!(
                BASE_VARIABLES.contains(&name) || name == "EXPLICIT_ONE",
                "{line}"
            );
        }
    }
}
