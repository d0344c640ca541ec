//! A container registry on loopback: distribution's `docker-registry`.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::client;
use crate::process::Service;
use crate::{free_port, require_tool, TestkitError, READY_TIMEOUT};

/// A running `docker-registry serve` (Debian `docker-registry`) on 127.0.0.1 over plain HTTP,
/// storing blobs in its temporary directory, optionally behind htpasswd basic auth.
///
/// dockerd treats 127.0.0.0/8 as an insecure registry already; podman and skopeo need telling.
/// Dropping it stops the server and removes its directory.
#[derive(Debug)]
pub struct Registry {
    service: Service,
    port: u16,
    credentials: Option<(String, String)>,
    _dir: TempDir,
}

impl Registry {
    /// Starts a registry that accepts anonymous pushes and pulls; ready when `GET /v2/`
    /// answers 200.
    pub fn start() -> Result<Self, TestkitError> {
        Self::launch(None)
    }

    /// Starts a registry that requires `user`/`password` (HTTP basic auth against a bcrypt
    /// htpasswd file made by `htpasswd -Bbn`). It checks that `GET /v2/` answers 401 without
    /// credentials and 200 with them.
    pub fn start_with_auth(user: &str, password: &str) -> Result<Self, TestkitError> {
        Self::launch(Some((user.to_owned(), password.to_owned())))
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// The TCP port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.service.pid()
    }

    /// The user and password it requires, if started with auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The `Authorization` header value (`Basic …`) for its credentials, if started with auth.
    pub fn authorization(&self) -> Option<String> {
        self.credentials()
            .map(|(user, password)| basic_auth(user, password))
    }

    fn launch(credentials: Option<(String, String)>) -> Result<Self, TestkitError> {
        let program = require_tool("docker-registry", "Debian package docker-registry")?;
        let dir = tempfile::Builder::new()
            .prefix("tk-registry-")
            .tempdir()
            .map_err(|source| TestkitError::io("create a temporary directory", source))?;
        let port = free_port()?;
        let auth = match &credentials {
            Some((user, password)) => {
                let file = dir.path().join("htpasswd");
                write_htpasswd(&file, user, password)?;
                Some(file)
            }
            None => None,
        };
        let config = dir.path().join("config.yml");
        let yaml = config_yaml(&dir.path().join("storage"), port, auth.as_deref());
        fs::write(&config, yaml)
            .map_err(|source| TestkitError::io(format!("write {}", config.display()), source))?;
        let mut command = Command::new(program);
        command.arg("serve").arg(&config);
        let mut service = Service::spawn(
            "docker-registry",
            command,
            &dir.path().join("registry.log"),
            Duration::from_secs(5),
        )?;
        let ping = format!("http://127.0.0.1:{port}/v2/");
        let expected = if auth.is_some() { 401 } else { 200 };
        service.wait_ready(READY_TIMEOUT, || {
            client::probe_status(&ping) == Some(expected)
        })?;
        let registry = Self {
            service,
            port,
            credentials,
            _dir: dir,
        };
        registry.self_check()?;
        Ok(registry)
    }

    fn self_check(&self) -> Result<(), TestkitError> {
        let Some((user, password)) = self.credentials() else {
            return Ok(());
        };
        let url = format!("{}/v2/", self.url());
        let request = format!("GET {url} with basic auth");
        let agent = client::agent(Duration::from_secs(10));
        let reply = client::reply(
            &request,
            agent
                .get(&url)
                .header("Authorization", basic_auth(user, password))
                .call(),
        )?;
        if reply.status != 200 {
            return Err(TestkitError::Check {
                what: "registry basic auth".to_owned(),
                detail: format!("{request} answered {} instead of 200", reply.status),
            });
        }
        Ok(())
    }
}

/// Runs `htpasswd -Bbn` (bcrypt is the only hash the registry accepts) into `file`.
fn write_htpasswd(file: &Path, user: &str, password: &str) -> Result<(), TestkitError> {
    let program = require_tool("htpasswd", "Debian package apache2-utils")?;
    let output = Command::new(program)
        .args(["-Bbn", user, password])
        .output()
        .map_err(|source| TestkitError::Spawn {
            tool: "htpasswd".to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(TestkitError::Check {
            what: "htpasswd -Bbn".to_owned(),
            detail: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    fs::write(file, output.stdout)
        .map_err(|source| TestkitError::io(format!("write {}", file.display()), source))
}

fn config_yaml(storage: &Path, port: u16, htpasswd: Option<&Path>) -> String {
    let mut yaml = format!(
        "version: 0.1\n\
         log:\n  level: info\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n",
        yaml_string(storage)
    );
    if let Some(file) = htpasswd {
        yaml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: testkit\n    path: {}\n",
            yaml_string(file)
        ));
    }
    yaml
}

/// A single-quoted YAML scalar, in which only `'` needs escaping (doubled).
fn yaml_string(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "''"))
}

/// The `Authorization` header value for HTTP basic auth.
fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn config_quotes_paths() {
        let yaml = config_yaml(Path::new("/tmp/it's"), 5000, Some(Path::new("/tmp/h")));
        assert!(yaml.contains("rootdirectory: '/tmp/it''s'\n"), "{yaml}");
        assert!(yaml.contains("addr: 127.0.0.1:5000\n"), "{yaml}");
        assert!(yaml.contains("    path: '/tmp/h'\n"), "{yaml}");
    }
}
