//! Downloading header packages: HTTP with retries, size and checksum checks, and a cache on
//! disk keyed by URL, so a second build of the same kernel downloads nothing.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use falco_artifacts_core::{DigestSet, DigestingReader, Sha256Digest};

/// Why a URL could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered 404 or 410: retrying will not help.
    #[error("{url} does not exist (HTTP {status})")]
    NotFound {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The server kept answering with an error status.
    #[error("{url} answered HTTP {status} after {attempts} attempts")]
    Status {
        /// The URL.
        url: String,
        /// The last status.
        status: u16,
        /// How many requests were made.
        attempts: u32,
    },
    /// The connection failed every time (refused, reset, timed out, cut short).
    #[error("cannot download {url} after {attempts} attempts")]
    Transport {
        /// The URL.
        url: String,
        /// How many requests were made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: io::Error,
    },
    /// The bytes do not have the SHA-256 the caller expected.
    #[error("{url} has SHA-256 {actual}, expected {expected}")]
    Checksum {
        /// The URL.
        url: String,
        /// The digest expected.
        expected: Sha256Digest,
        /// The digest of what arrived.
        actual: Sha256Digest,
    },
    /// An `https://` URL while the crate was built without its `https` feature (no TLS in
    /// the HTTP client).
    #[error("{url}: https:// downloads need the `https` feature of falco-artifacts-driver-grid")]
    HttpsDisabled {
        /// The URL.
        url: String,
    },
    /// A plain-`http://` URL while the fetcher requires https
    /// ([`Fetcher::with_require_https`]).
    #[error(
        "{url}: plain http refused (--require-https); header packages are code the build runs"
    )]
    PlainHttp {
        /// The URL.
        url: String,
    },
    /// The cache could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A downloaded file in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The file in the cache; never written again once there.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// Whether it was already in the cache (no request made).
    pub cached: bool,
}

/// Downloads URLs into a cache directory: `<cache>/<sha256 of the URL>/<last path segment>`,
/// with the file's SHA-256 beside it (`…/sha256`). A cached file is used only when its
/// content still has that digest; a download goes to a temporary name first and is renamed
/// when complete, so an interrupted download never looks cached. Safe to share between
/// threads: two builds asking for the same URL download it once.
///
/// ```
/// use falco_artifacts_driver_grid::build::{FetchError, Fetcher};
///
/// let cache = tempfile::tempdir()?;
/// let fetcher = Fetcher::new(cache.path()).with_attempts(1);
/// // Nothing listens on port 9 of loopback: a transport error naming the URL.
/// let err = fetcher.fetch("http://127.0.0.1:9/linux-headers.deb").unwrap_err();
/// assert!(matches!(err, FetchError::Transport { attempts: 1, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Fetcher {
    cache: PathBuf,
    agent: ureq::Agent,
    attempts: u32,
    backoff: Duration,
    expected: HashMap<String, Sha256Digest>,
    require_https: bool,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    // Files checked or downloaded by this fetcher: a grid asks for the same URL once per
    // build, and hashing a cached package each time would serialise the builds.
    known: Mutex<HashMap<String, Fetched>>,
}

impl Fetcher {
    /// A fetcher caching in `cache` (created when needed), 3 attempts per URL, 30 s to
    /// connect and 10 minutes per download.
    pub fn new(cache: impl Into<PathBuf>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        Fetcher {
            cache: cache.into(),
            agent,
            attempts: 3,
            backoff: Duration::from_millis(500),
            expected: HashMap::new(),
            require_https: false,
            locks: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// How many requests to make per URL before giving up (at least one); the wait between
    /// two doubles from 0.5 s.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Refuses `url` unless its content has `sha256` (e.g. from a distribution's index).
    pub fn with_checksum(mut self, url: impl Into<String>, sha256: Sha256Digest) -> Self {
        self.expected.insert(url.into(), sha256);
        self
    }

    /// Refuses every URL that is not `https://` (no request is made): for users who do not
    /// want code the build runs to come over an unauthenticated connection.
    pub fn with_require_https(mut self, require: bool) -> Self {
        self.require_https = require;
        self
    }

    /// The cache directory.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// The cached file of `url`, downloading it when it is missing or damaged.
    pub fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        self.fetch_expecting(url, None)
    }

    /// [`Fetcher::fetch`] for a file whose SHA-256 must be `sha256` (a digest the config
    /// pins; [`Fetcher::with_checksum`] is checked as well). A cached file is checked against
    /// it too, not only against the digest the cache recorded: a tampered cache entry is
    /// downloaded again.
    pub fn fetch_expecting(
        &self,
        url: &str,
        sha256: Option<Sha256Digest>,
    ) -> Result<Fetched, FetchError> {
        if self.require_https && !url.starts_with("https://") {
            return Err(FetchError::PlainHttp {
                url: url.to_owned(),
            });
        }
        let expected: Vec<Sha256Digest> = sha256
            .into_iter()
            .chain(self.expected.get(url).copied())
            .collect();
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(locks.entry(url.to_owned()).or_default())
        };
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let known = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .cloned();
        if let Some(known) =
            known.filter(|k| k.path.is_file() && expected.iter().all(|e| *e == k.sha256))
        {
            return Ok(Fetched {
                cached: true,
                ..known
            });
        }
        let fetched = self.fetch_uncached(url, &expected)?;
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(url.to_owned(), fetched.clone());
        Ok(fetched)
    }

    /// [`Fetcher::fetch`] without the memory of this fetcher's earlier answers.
    fn fetch_uncached(&self, url: &str, expected: &[Sha256Digest]) -> Result<Fetched, FetchError> {
        if cfg!(not(feature = "https")) && url.starts_with("https://") {
            return Err(FetchError::HttpsDisabled {
                url: url.to_owned(),
            });
        }
        let dir = self
            .cache
            .join(Sha256Digest::of_bytes(url.as_bytes()).to_hex());
        let path = dir.join(file_name(url));
        let digest_file = dir.join("sha256");
        if let Some(hit) = cached(&path, &digest_file, expected) {
            return Ok(hit);
        }
        fs::create_dir_all(&dir).map_err(io_err("create the cache directory", &dir))?;
        // A unique temporary name: another process may be downloading the same URL; the
        // temporary file is removed when dropped before being persisted.
        let part = tempfile::Builder::new()
            .prefix(".download")
            .tempfile_in(&dir)
            .map_err(io_err("create a temporary file in", &dir))?;
        let (sha256, size) = self.download(url, part.path())?;
        if let Some(expected) = expected.iter().find(|e| **e != sha256) {
            return Err(FetchError::Checksum {
                url: url.to_owned(),
                expected: *expected,
                actual: sha256,
            });
        }
        part.persist(&path).map_err(|e| FetchError::Io {
            action: "move into the cache",
            path: path.clone(),
            source: e.error,
        })?;
        fs::write(&digest_file, sha256.to_hex()).map_err(io_err("write", &digest_file))?;
        Ok(Fetched {
            path,
            size,
            sha256,
            cached: false,
        })
    }

    /// Streams `url` into `part`, retrying transport errors and server errors.
    fn download(&self, url: &str, part: &Path) -> Result<(Sha256Digest, u64), FetchError> {
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let retry = match self.try_download(url, part) {
                Ok(done) => return Ok(done),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(e)) => e,
            };
            if attempt >= self.attempts {
                return Err(match retry {
                    Retry::Status(status) => FetchError::Status {
                        url: url.to_owned(),
                        status,
                        attempts: attempt,
                    },
                    Retry::Io(source) => FetchError::Transport {
                        url: url.to_owned(),
                        attempts: attempt,
                        source,
                    },
                });
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
    }

    fn try_download(&self, url: &str, part: &Path) -> Result<(Sha256Digest, u64), Attempt> {
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| Attempt::Retry(Retry::Io(io::Error::other(e))))?;
        let status = response.status().as_u16();
        if status == 404 || status == 410 {
            return Err(Attempt::Fatal(FetchError::NotFound {
                url: url.to_owned(),
                status,
            }));
        }
        if !(200..300).contains(&status) {
            return Err(Attempt::Retry(Retry::Status(status)));
        }
        let declared: Option<u64> = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        // Truncates what an earlier attempt left.
        let mut out =
            fs::File::create(part).map_err(|e| Attempt::Fatal(io_err("create", part)(e)))?;
        let mut reader =
            DigestingReader::new(response.into_body().into_reader(), DigestSet::SHA256);
        // ureq reports a body shorter than its Content-Length as an error while reading.
        io::copy(&mut reader, &mut out).map_err(|e| Attempt::Retry(Retry::Io(e)))?;
        out.sync_all()
            .map_err(|e| Attempt::Fatal(io_err("write", part)(e)))?;
        let digests = reader.finish();
        if declared.is_some_and(|d| d != digests.size) {
            return Err(Attempt::Retry(Retry::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "received {} bytes of the {} announced",
                    digests.size,
                    declared.unwrap_or_default()
                ),
            ))));
        }
        Ok((digests.sha256, digests.size))
    }
}

/// The cached file when its content still has the digest recorded beside it and every
/// expected digest.
fn cached(path: &Path, digest_file: &Path, expected: &[Sha256Digest]) -> Option<Fetched> {
    let recorded: Sha256Digest = fs::read_to_string(digest_file).ok()?.trim().parse().ok()?;
    let (actual, size) = Sha256Digest::of_reader(fs::File::open(path).ok()?).ok()?;
    let expected_ok = expected.iter().all(|e| *e == actual);
    (actual == recorded && expected_ok).then(|| Fetched {
        path: path.to_owned(),
        size,
        sha256: actual,
        cached: true,
    })
}

enum Retry {
    Status(u16),
    Io(io::Error),
}

enum Attempt {
    Retry(Retry),
    Fatal(FetchError),
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl Fn(io::Error) -> FetchError + 'p {
    move |source| FetchError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// The last path segment of `url` (query and fragment dropped), or `download` when there is
/// none usable as a file name.
pub(crate) fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.is_empty() || last == "." || last == ".." {
        "download".to_owned()
    } else {
        last.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "https"))]
    #[test]
    fn https_needs_the_feature() {
        let cache = tempfile::tempdir().unwrap();
        let err = Fetcher::new(cache.path())
            .fetch("https://127.0.0.1:9/linux-headers.deb")
            .unwrap_err();
        assert!(matches!(err, FetchError::HttpsDisabled { .. }), "{err}");
    }

    #[test]
    fn file_names() {
        assert_eq!(
            file_name("http://h/p/linux-headers-6.1.0-56-amd64_6.1.192-2_amd64.deb?x=1"),
            "linux-headers-6.1.0-56-amd64_6.1.192-2_amd64.deb"
        );
        assert_eq!(file_name("http://h/"), "download");
        assert_eq!(file_name("http://h/.."), "download");
    }
}
