//! An S3 server on loopback: moto's `moto_server`.

use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::client;
use crate::process::Service;
use crate::{free_port, require_tool, TestkitError, READY_TIMEOUT};

/// The bucket the start-up self-check creates and removes again.
const SELFCHECK_BUCKET: &str = "testkit-selfcheck";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `moto_server` (PyPI `moto[server]`) answering S3 requests on 127.0.0.1.
///
/// moto accepts any credentials and does not check signatures, but it treats a request with
/// no `Authorization` header as anonymous and refuses most of them; the helpers here send a
/// SigV4-shaped header naming [`MotoS3::access_key`]. Bucket names must be valid S3 names
/// (three or more characters, lowercase).
///
/// Dropping it stops the server and removes its temporary directory.
#[derive(Debug)]
pub struct MotoS3 {
    service: Service,
    port: u16,
    _dir: TempDir,
}

impl MotoS3 {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>`, waits until it answers, and checks that
    /// it refuses a second `PUT` with `If-None-Match: *` (HTTP 412), which publishing relies on.
    pub fn start() -> Result<Self, TestkitError> {
        let program = require_tool("moto_server", "PyPI package moto[server]")?;
        let dir = tempfile::Builder::new()
            .prefix("tk-moto-")
            .tempdir()
            .map_err(|source| TestkitError::io("create a temporary directory", source))?;
        let port = free_port()?;
        let mut command = Command::new(program);
        command
            .args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string());
        let mut service = Service::spawn(
            "moto_server",
            command,
            &dir.path().join("moto.log"),
            Duration::from_secs(5),
        )?;
        let root = format!("http://127.0.0.1:{port}/");
        service.wait_ready(READY_TIMEOUT, || client::probe_status(&root).is_some())?;
        let s3 = Self {
            service,
            port,
            _dir: dir,
        };
        s3.self_check()?;
        Ok(s3)
    }

    /// The S3 endpoint URL, `http://127.0.0.1:PORT`.
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

    /// An access key moto accepts: `testing`.
    pub fn access_key(&self) -> &'static str {
        "testing"
    }

    /// A secret key moto accepts: `testing`.
    pub fn secret_key(&self) -> &'static str {
        "testing"
    }

    /// The region to sign for: `us-east-1`.
    pub fn region(&self) -> &'static str {
        "us-east-1"
    }

    /// Creates the bucket `name` (`PUT /name`).
    pub fn create_bucket(&self, name: &str) -> Result<(), TestkitError> {
        let url = format!("{}/{}", self.endpoint(), encode_path(name));
        let request = format!("PUT {url}");
        client::reply(&request, self.put(&url).send_empty())?.expect(&request, 200)?;
        Ok(())
    }

    /// Creates the bucket `name` with a policy letting anyone read its objects, like a public
    /// download bucket that apt and dnf fetch from over plain HTTP.
    pub fn create_public_bucket(&self, name: &str) -> Result<(), TestkitError> {
        self.create_bucket(name)?;
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{name}/*"}}]}}"#
        );
        let url = format!("{}/{}?policy", self.endpoint(), encode_path(name));
        let request = format!("PUT {url}");
        let call = client::agent(REQUEST_TIMEOUT)
            .put(&url)
            .header("Authorization", self.authorization())
            .header("Content-Type", "application/json")
            .send(policy.as_bytes());
        let reply = client::reply(&request, call)?;
        if !(200..300).contains(&reply.status) {
            return Err(reply.unexpected(&request));
        }
        Ok(())
    }

    /// Stores `body` at `bucket`/`key`, unconditionally.
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) -> Result<(), TestkitError> {
        let url = self.object_url(bucket, key);
        let request = format!("PUT {url}");
        client::reply(&request, self.put(&url).send(body))?.expect(&request, 200)?;
        Ok(())
    }

    /// Reads `bucket`/`key`; `Ok(None)` when the object does not exist.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, TestkitError> {
        let url = self.object_url(bucket, key);
        let request = format!("GET {url}");
        let call = client::agent(REQUEST_TIMEOUT)
            .get(&url)
            .header("Authorization", self.authorization())
            .call();
        let reply = client::reply(&request, call)?;
        match reply.status {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            _ => Err(reply.unexpected(&request)),
        }
    }

    fn self_check(&self) -> Result<(), TestkitError> {
        let what = "S3 conditional create (If-None-Match: *)";
        self.create_bucket(SELFCHECK_BUCKET)?;
        let url = self.object_url(SELFCHECK_BUCKET, "probe");
        let request = format!("PUT {url} with If-None-Match: *");
        let conditional_put = || {
            let call = self
                .put(&url)
                .header("If-None-Match", "*")
                .send(&b"probe"[..]);
            client::reply(&request, call)
        };
        let first = conditional_put()?;
        if first.status != 200 {
            return Err(TestkitError::Check {
                what: what.to_owned(),
                detail: format!("creating a new object answered {}", first.status),
            });
        }
        let second = conditional_put()?;
        if second.status != 412 {
            return Err(TestkitError::Check {
                what: what.to_owned(),
                detail: format!(
                    "the S3 server does not honour conditional creates: overwriting an existing \
                     object answered {} instead of 412",
                    second.status
                ),
            });
        }
        for url in [url, format!("{}/{SELFCHECK_BUCKET}", self.endpoint())] {
            let request = format!("DELETE {url}");
            let call = client::agent(REQUEST_TIMEOUT)
                .delete(&url)
                .header("Authorization", self.authorization())
                .call();
            client::reply(&request, call)?.expect(&request, 204)?;
        }
        Ok(())
    }

    fn put(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        client::agent(REQUEST_TIMEOUT)
            .put(url)
            .header("Authorization", self.authorization())
            // Without it the server's web framework parses the body as a form and drops it.
            .header("Content-Type", "application/octet-stream")
    }

    fn authorization(&self) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={}/20000101/{}/s3/aws4_request, \
             SignedHeaders=host, Signature=0",
            self.access_key(),
            self.region()
        )
    }

    fn object_url(&self, bucket: &str, key: &str) -> String {
        format!(
            "{}/{}/{}",
            self.endpoint(),
            encode_path(bucket),
            encode_path(key)
        )
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn encode_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_keys_like_s3_clients() {
        assert_eq!(encode_path("a/b c+d.tgz"), "a/b%20c%2Bd.tgz");
        assert_eq!(encode_path("ü"), "%C3%BC");
    }
}
