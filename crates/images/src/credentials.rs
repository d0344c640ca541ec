//! Registry credentials: from the environment, a config file of ours, or Docker's `config.json`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use crate::reference::RegistryAddr;

/// A user name and password (or token) for one registry. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl Credentials {
    /// Credentials from their two parts.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The `Authorization: Basic …` header value.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// An environment variable named for credentials is not set (or not UTF-8).
    #[error(
        "environment variable {var} is not set: it should hold the {what} for registry {registry}"
    )]
    MissingEnv {
        /// The variable.
        var: String,
        /// `user name` or `password`.
        what: &'static str,
        /// The registry.
        registry: String,
    },
    /// A credentials file cannot be read.
    #[error("cannot read credentials file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Our credentials file is not the expected YAML.
    #[error("credentials file {path} is not valid: expected `registries: {{<host[:port]>: {{username: …, password: … | password_env: VAR}}}}`")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_yaml::Error,
    },
    /// Docker's config file is not the expected JSON.
    #[error("Docker config {path} is not valid JSON with an `auths` object")]
    ParseDockerConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// One entry of a file is unusable.
    #[error("{path}: entry {registry:?}: {problem}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry's key.
        registry: String,
        /// What is wrong.
        problem: String,
    },
}

/// Credentials for several registries, looked up by registry address.
///
/// ```
/// use falco_artifacts_images::{CredentialStore, Credentials};
///
/// let dir = tempfile::tempdir()?;
/// let config = dir.path().join("config.json");
/// // Docker's format: base64("user:secret").
/// std::fs::write(&config, r#"{"auths":{"https://127.0.0.1:5000/v1/":{"auth":"dXNlcjpzZWNyZXQ="}}}"#)?;
/// let store = CredentialStore::new().with_docker_config(&config)?;
/// let registry = "127.0.0.1:5000".parse()?;
/// assert_eq!(store.get(&registry), Some(&Credentials::new("user", "secret")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    entries: BTreeMap<String, Credentials>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OurFile {
    registries: BTreeMap<String, OurEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OurEntry {
    username: String,
    password: Option<String>,
    password_env: Option<String>,
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The registry address a Docker `auths` key names: keys may carry a scheme and a path
/// (`https://index.docker.io/v1/`), and Docker Hub goes by several names.
fn normalize_key(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        other => other.to_owned(),
    }
}

fn read(path: &Path) -> Result<String, CredentialsError> {
    std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
        path: path.to_owned(),
        source,
    })
}

impl CredentialStore {
    /// An empty store: every registry is accessed anonymously.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the credentials of `registry`, replacing earlier ones.
    pub fn with(mut self, registry: &RegistryAddr, credentials: Credentials) -> Self {
        self.entries
            .insert(normalize_key(registry.as_ref()), credentials);
        self
    }

    /// Reads the credentials of `registry` from two environment variables.
    pub fn with_env(
        self,
        registry: &RegistryAddr,
        username_var: &str,
        password_var: &str,
    ) -> Result<Self, CredentialsError> {
        let get = |var: &str, what| {
            std::env::var(var).map_err(|_| CredentialsError::MissingEnv {
                var: var.to_owned(),
                what,
                registry: registry.to_string(),
            })
        };
        let credentials = Credentials::new(
            get(username_var, "user name")?,
            get(password_var, "password")?,
        );
        Ok(self.with(registry, credentials))
    }

    /// Reads our YAML credentials file:
    ///
    /// ```yaml
    /// registries:
    ///   ghcr.io: { username: bot, password_env: GHCR_TOKEN }
    ///   127.0.0.1:5000: { username: ci, password: secret }
    /// ```
    pub fn with_file(mut self, path: &Path) -> Result<Self, CredentialsError> {
        let file: OurFile =
            serde_yaml::from_str(&read(path)?).map_err(|source| CredentialsError::ParseFile {
                path: path.to_owned(),
                source,
            })?;
        for (registry, entry) in file.registries {
            let entry_err = |problem: String| CredentialsError::Entry {
                path: path.to_owned(),
                registry: registry.clone(),
                problem,
            };
            let password = match (entry.password, entry.password_env) {
                (Some(p), None) => p,
                (None, Some(var)) => std::env::var(&var).map_err(|_| {
                    entry_err(format!("password_env names {var}, which is not set"))
                })?,
                _ => {
                    return Err(entry_err(
                        "give exactly one of `password` and `password_env`".to_owned(),
                    ))
                }
            };
            self.entries.insert(
                normalize_key(&registry),
                Credentials::new(entry.username, password),
            );
        }
        Ok(self)
    }

    /// Reads the `auths` of Docker's `config.json` (entries with `auth`, base64 of
    /// `user:password`, or with `username` and `password`). Credential helpers
    /// (`credsStore`, `credHelpers`) are not run.
    pub fn with_docker_config(mut self, path: &Path) -> Result<Self, CredentialsError> {
        let config: DockerConfig = serde_json::from_str(&read(path)?).map_err(|source| {
            CredentialsError::ParseDockerConfig {
                path: path.to_owned(),
                source,
            }
        })?;
        for (key, auth) in config.auths {
            let entry_err = |problem: &str| CredentialsError::Entry {
                path: path.to_owned(),
                registry: key.clone(),
                problem: problem.to_owned(),
            };
            let credentials = match (auth.auth, auth.username, auth.password) {
                (Some(encoded), _, _) if !encoded.is_empty() => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|_| entry_err("`auth` is not base64"))?;
                    let text = String::from_utf8(decoded)
                        .map_err(|_| entry_err("`auth` does not decode to UTF-8"))?;
                    let (user, password) = text
                        .split_once(':')
                        .ok_or_else(|| entry_err("`auth` does not decode to user:password"))?;
                    Credentials::new(user, password)
                }
                (_, Some(user), Some(password)) => Credentials::new(user, password),
                // An entry kept by a credential helper holds no secret here.
                _ => continue,
            };
            self.entries.insert(normalize_key(&key), credentials);
        }
        Ok(self)
    }

    /// Docker's own config file: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn docker_config_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
    }

    /// The credentials for `registry`, if any.
    pub fn get(&self, registry: &RegistryAddr) -> Option<&Credentials> {
        self.entries.get(&normalize_key(registry.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_file_reads_passwords_and_env_references() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.yaml");
        std::env::set_var("IMAGES_TEST_TOKEN", "tok");
        std::fs::write(
            &path,
            "registries:\n  ghcr.io: { username: bot, password_env: IMAGES_TEST_TOKEN }\n  \
             127.0.0.1:5000: { username: ci, password: secret }\n",
        )
        .unwrap();
        let store = CredentialStore::new().with_file(&path).unwrap();
        let ghcr = "ghcr.io".parse().unwrap();
        assert_eq!(store.get(&ghcr), Some(&Credentials::new("bot", "tok")));
        let local = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(store.get(&local), Some(&Credentials::new("ci", "secret")));
    }

    #[test]
    fn bad_files_name_the_file_and_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.yaml");
        std::fs::write(&path, "registries:\n  x.io: { username: a }\n").unwrap();
        let err = CredentialStore::new().with_file(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("creds.yaml") && msg.contains("x.io"), "{msg}");
        std::fs::write(&path, "{\"auths\": {\"h\": {\"auth\": \"!!\"}}}").unwrap();
        let msg = CredentialStore::new()
            .with_docker_config(&path)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not base64"), "{msg}");
        let missing = CredentialStore::new()
            .with_docker_config(&dir.path().join("nope.json"))
            .unwrap_err();
        assert!(matches!(missing, CredentialsError::Read { .. }));
    }

    #[test]
    fn docker_hub_keys_are_normalized_and_debug_hides_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"},"quay.io":{}},"credsStore":"desktop"}"#,
        )
        .unwrap();
        let store = CredentialStore::new().with_docker_config(&path).unwrap();
        let hub = "docker.io".parse().unwrap();
        assert_eq!(store.get(&hub), Some(&Credentials::new("u", "p")));
        assert_eq!(store.get(&"quay.io".parse().unwrap()), None);
        assert!(!format!("{store:?}").contains("\"p\""));
    }

    #[test]
    fn env_credentials_name_the_missing_variable() {
        let registry = "127.0.0.1:5000".parse().unwrap();
        let err = CredentialStore::new()
            .with_env(&registry, "IMAGES_TEST_NO_USER", "IMAGES_TEST_NO_PASS")
            .unwrap_err();
        assert!(err.to_string().contains("IMAGES_TEST_NO_USER"), "{err}");
    }
}
