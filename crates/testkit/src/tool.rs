//! Finding the programs the helpers drive.

use std::env;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::TestkitError;

/// Finds `tool` on `PATH` (or checks it directly when it contains a `/`).
///
/// `package` says where the tool comes from, phrased to follow "install the", e.g.
/// `"Debian package docker.io"` or `"PyPI package moto[server]"`; it becomes part of the
/// [`TestkitError::MissingTool`] message when the tool is absent.
///
/// ```
/// let sh = falco_artifacts_testkit::require_tool("sh", "Debian package dash")?;
/// assert!(sh.is_absolute());
/// # Ok::<(), falco_artifacts_testkit::TestkitError>(())
/// ```
pub fn require_tool(tool: &str, package: &str) -> Result<PathBuf, TestkitError> {
    let missing = || TestkitError::MissingTool {
        tool: tool.to_owned(),
        package: package.to_owned(),
    };
    if tool.contains('/') {
        let path = Path::new(tool);
        return if is_executable(path) {
            Ok(path.to_path_buf())
        } else {
            Err(missing())
        };
    }
    let path_var = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(missing)
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_names_the_package_when_missing() {
        assert!(require_tool("sh", "Debian package dash").is_ok());
        let err = require_tool("no-such-tool-testkit", "PyPI package nothing").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`no-such-tool-testkit` not found on PATH: install the PyPI package nothing \
             (scripts/install-test-deps does)"
        );
    }
}
