//! A private container engine: `dockerd` with its own data root and socket.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{is_alive, signal, Service};
use crate::{require_tool, TestkitError};

/// dockerd starts its managed containerd first; it usually answers within seconds.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long dockerd gets to stop its containers and containerd after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);
const API_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `dockerd` (Debian `docker.io`) of its own, reachable only through a unix socket in
/// a temporary directory under `/tmp`.
///
/// Everything lives in that directory: `--data-root`, `--exec-root` (which also holds the
/// managed containerd's socket, state and pid file), the pid file and the API socket, so two
/// engines can run side by side and neither touches the host's `/var/lib/docker`. It runs with
/// `--iptables=false --ip6tables=false --bridge=none`: containers get no network, which builds
/// `FROM scratch` and image loads do not need. Starting it requires root.
///
/// Dropping it sends SIGTERM to dockerd's process group, waits up to 10 s, then SIGKILLs; the
/// managed containerd (which runs in its own process group) is stopped the same way if it
/// outlives dockerd. Then the directory is removed.
#[derive(Debug)]
pub struct DockerEngine {
    service: Option<Service>,
    dir: TempDir,
}

/// An HTTP response from the engine's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The response body.
    pub body: Vec<u8>,
}

impl DockerEngine {
    /// Starts `dockerd` and waits (up to 60 s) until `GET /_ping` on its socket answers `OK`.
    pub fn start() -> Result<Self, TestkitError> {
        let program = require_tool("dockerd", "Debian package docker.io")?;
        // Short and under /tmp: unix socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("tk-docker-")
            .tempdir_in("/tmp")
            .map_err(|source| TestkitError::io("create a temporary directory in /tmp", source))?;
        let root = dir.path();
        let mut command = Command::new(program);
        command
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("docker.pid"))
            .arg("--host")
            .arg(format!("unix://{}", root.join("docker.sock").display()))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"]);
        let service = Service::spawn("dockerd", command, &root.join("dockerd.log"), STOP_GRACE)?;
        let mut engine = Self {
            service: Some(service),
            dir,
        };
        let socket = engine.socket_path();
        if let Some(service) = engine.service.as_mut() {
            service.wait_ready(READY_TIMEOUT, || {
                api_get(&socket, "/_ping").is_ok_and(|r| r.status == 200 && r.body == b"OK")
            })?;
        }
        Ok(engine)
    }

    /// The API socket, `/tmp/tk-docker-…/docker.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// The value for `DOCKER_HOST`: `unix:///tmp/tk-docker-…/docker.sock`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket_path().display())
    }

    /// dockerd's process id (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.service.as_ref().map(Service::pid)
    }

    /// The managed containerd's process id, read from its pid file.
    pub fn containerd_pid(&self) -> Option<u32> {
        let path = self.dir.path().join("exec/containerd/containerd.pid");
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// Sends `GET <path>` (e.g. `/version`) to the engine's API over its socket.
    pub fn get(&self, path: &str) -> Result<ApiResponse, TestkitError> {
        api_get(&self.socket_path(), path)
    }

    /// A `docker` CLI command talking to this engine (`DOCKER_HOST` set, and a private
    /// `DOCKER_CONFIG` so the host's `~/.docker` is neither read nor written).
    pub fn cli(&self) -> Result<Command, TestkitError> {
        let program = require_tool("docker", "Debian package docker.io")?;
        let config = self.dir.path().join("cli-config");
        fs::create_dir_all(&config)
            .map_err(|source| TestkitError::io(format!("create {}", config.display()), source))?;
        let mut command = Command::new(program);
        command
            .env("DOCKER_HOST", self.docker_host())
            .env("DOCKER_CONFIG", config);
        Ok(command)
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        let containerd = self.containerd_pid();
        drop(self.service.take());
        if let Some(pid) = containerd.filter(|&pid| is_containerd(pid)) {
            stop_pid(pid);
        }
    }
}

/// Whether `pid` is alive and still a containerd (pids are reused).
fn is_containerd(pid: u32) -> bool {
    is_alive(pid)
        && fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| cmdline.starts_with(b"containerd"))
}

/// SIGTERM, a grace period, then SIGKILL, for a process that is not our child.
fn stop_pid(pid: u32) {
    let target = pid.to_string();
    signal("TERM", &target);
    let deadline = Instant::now() + STOP_GRACE;
    while is_alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    if is_alive(pid) {
        signal("KILL", &target);
    }
}

/// One HTTP/1.0 `GET` over the unix socket; HTTP/1.0 makes the engine close the connection
/// after the body, so no chunked decoding is needed.
fn api_get(socket: &Path, path: &str) -> Result<ApiResponse, TestkitError> {
    let request = format!("GET {path} via {}", socket.display());
    let io = |source| TestkitError::io(format!("send {request}"), source);
    let mut stream = UnixStream::connect(socket).map_err(io)?;
    stream.set_read_timeout(Some(API_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(API_TIMEOUT)).map_err(io)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    parse_response(&raw).ok_or_else(|| TestkitError::Check {
        what: format!("response to {request}"),
        detail: format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        ),
    })
}

fn parse_response(raw: &[u8]) -> Option<ApiResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some(ApiResponse {
        status,
        body: raw[split + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_raw_response() {
        let raw = b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK";
        assert_eq!(
            parse_response(raw),
            Some(ApiResponse {
                status: 200,
                body: b"OK".to_vec()
            })
        );
        assert_eq!(parse_response(b"garbage"), None);
    }
}
