//! A static file server on loopback: Python's `http.server`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::client;
use crate::process::Service;
use crate::{free_port, require_tool, TestkitError, READY_TIMEOUT};

/// A running `python3 -m http.server` serving one directory on 127.0.0.1, e.g. an APT or YUM
/// repository tree or a mirror of kernel header packages.
///
/// Dropping it stops the server; the served directory is left alone.
#[derive(Debug)]
pub struct HttpServer {
    service: Service,
    port: u16,
    root: PathBuf,
    _logs: TempDir,
}

impl HttpServer {
    /// Serves `dir` (read at request time, so files may be added later) and waits until
    /// `GET /` answers.
    pub fn serve(dir: &Path) -> Result<Self, TestkitError> {
        let program = require_tool("python3", "Debian package python3")?;
        let root = dir.canonicalize().map_err(|source| {
            TestkitError::io(
                format!("resolve the served directory {}", dir.display()),
                source,
            )
        })?;
        let logs = tempfile::Builder::new()
            .prefix("tk-http-")
            .tempdir()
            .map_err(|source| TestkitError::io("create a temporary directory", source))?;
        let port = free_port()?;
        let mut command = Command::new(program);
        command
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(&root)
            .arg(port.to_string());
        let mut service = Service::spawn(
            "python3 -m http.server",
            command,
            &logs.path().join("http.log"),
            Duration::from_secs(5),
        )?;
        let url = format!("http://127.0.0.1:{port}/");
        service.wait_ready(READY_TIMEOUT, || client::probe_status(&url).is_some())?;
        Ok(Self {
            service,
            port,
            root,
            _logs: logs,
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash); a file `a/b` is at `{url}/a/b`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.service.pid()
    }

    /// The directory being served (canonicalised).
    pub fn root(&self) -> &Path {
        &self.root
    }
}
