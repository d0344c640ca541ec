//! `.deb` files from an APT repository: the `Packages` index of one suite, component and arch,
//! and each chosen package downloaded into a cache and checked against the index's SHA-256.
//!
//! The index is trusted as fetched (its `InRelease` signature is not checked): point this at
//! a mirror reached over HTTPS or one you control. A package listed twice in the index is
//! refused rather than guessed between.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use falco_artifacts_core::{Arch, Sha256Digest};
use falco_artifacts_pkg_deb::Control;
use flate2::read::GzDecoder;

use crate::error::ImageError;

/// Indexes larger than this are refused rather than read into memory.
const MAX_INDEX_BYTES: u64 = 512 << 20;

/// An APT repository: `deb <url> <suite> <component>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptRepository {
    /// The repository root (`http://deb.debian.org/debian`).
    pub url: String,
    /// The suite (`bookworm`).
    pub suite: String,
    /// The component (`main`).
    pub component: String,
    /// Where downloaded packages are kept (and reused when their hash matches).
    pub cache: PathBuf,
}

/// A package listed in the index: where to get it and its hash.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub(crate) url: String,
    pub(crate) sha256: String,
    pub(crate) file_name: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(std::time::Duration::from_secs(10)))
        .build()
        .into()
}

fn transport(url: &str) -> impl FnOnce(ureq::Error) -> ImageError + '_ {
    move |source| ImageError::AptFetch {
        url: url.to_owned(),
        source,
    }
}

fn fetch_err(url: &str, problem: impl Into<String>) -> ImageError {
    ImageError::AptRepository {
        url: url.to_owned(),
        problem: problem.into(),
    }
}

/// Reads `dists/<suite>/<component>/binary-<arch>/Packages.gz` (else `Packages`).
pub(crate) fn index(
    repo: &AptRepository,
    arch: Arch,
) -> Result<BTreeMap<String, (Control, Remote)>, ImageError> {
    let base = repo.url.trim_end_matches('/');
    let dir = format!(
        "{base}/dists/{}/{}/binary-{}",
        repo.suite,
        repo.component,
        arch.deb_name()
    );
    let agent = agent();
    let mut text = None;
    for (name, gzip) in [("Packages.gz", true), ("Packages", false)] {
        let url = format!("{dir}/{name}");
        let mut response = agent.get(&url).call().map_err(transport(&url))?;
        match response.status().as_u16() {
            200 => {}
            404 => continue,
            status => return Err(fetch_err(&url, format!("answered HTTP {status}"))),
        }
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_INDEX_BYTES)
            .read_to_vec()
            .map_err(transport(&url))?;
        let mut plain = String::new();
        let read = if gzip {
            GzDecoder::new(bytes.as_slice()).read_to_string(&mut plain)
        } else {
            String::from_utf8(bytes)
                .map(|s| {
                    plain = s;
                    0
                })
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        };
        read.map_err(|source| ImageError::AptRead {
            url: url.clone(),
            source,
        })?;
        text = Some((url, plain));
        break;
    }
    let Some((url, text)) = text else {
        return Err(fetch_err(&dir, "has neither Packages.gz nor Packages"));
    };
    let mut found: BTreeMap<String, (Control, Remote)> = BTreeMap::new();
    for (i, stanza) in text.split("\n\n").enumerate() {
        if stanza.trim().is_empty() {
            continue;
        }
        let control = Control::parse(stanza).map_err(|source| ImageError::AptIndex {
            url: url.clone(),
            paragraph: i + 1,
            source,
        })?;
        let field = |name: &str| {
            control.get(name).map(str::to_owned).ok_or_else(|| {
                fetch_err(&url, format!("{} has no {name} field", control.package()))
            })
        };
        let filename = field("Filename")?;
        if filename.split('/').any(|p| p == "..") || filename.starts_with('/') {
            return Err(fetch_err(
                &url,
                format!(
                    "{}: Filename {filename:?} leaves the repository",
                    control.package()
                ),
            ));
        }
        // Pool names can hold `%` or `+` (`1%3a1.2.13` from `apt-get download`): each path
        // part is percent-encoded, never pasted as is.
        let mut file_url = url::Url::parse(&format!("{base}/"))
            .map_err(|e| fetch_err(base, format!("is not a URL: {e}")))?;
        if let Ok(mut segments) = file_url.path_segments_mut() {
            segments.pop_if_empty().extend(filename.split('/'));
        }
        let remote = Remote {
            url: file_url.to_string(),
            sha256: field("SHA256")?.to_ascii_lowercase(),
            file_name: filename.rsplit('/').next().unwrap_or(&filename).to_owned(),
        };
        if found.contains_key(control.package()) {
            return Err(fetch_err(
                &url,
                format!(
                    "lists {} more than once; name a suite with one version",
                    control.package()
                ),
            ));
        }
        found.insert(control.package().to_owned(), (control, remote));
    }
    Ok(found)
}

/// The package in the cache, downloaded when missing or not matching its hash.
pub(crate) fn download(remote: &Remote, cache: &Path) -> Result<PathBuf, ImageError> {
    let io_err = |path: &Path, action, source| ImageError::Context {
        path: path.to_owned(),
        action,
        source,
    };
    fs::create_dir_all(cache).map_err(|e| io_err(cache, "create the package cache", e))?;
    let path = cache.join(&remote.file_name);
    if let Ok(file) = File::open(&path) {
        if Sha256Digest::of_reader(file).is_ok_and(|(d, _)| d.to_hex() == remote.sha256) {
            return Ok(path);
        }
    }
    let mut response = agent()
        .get(&remote.url)
        .call()
        .map_err(transport(&remote.url))?;
    if response.status() != 200 {
        return Err(fetch_err(
            &remote.url,
            format!("answered HTTP {}", response.status().as_u16()),
        ));
    }
    let partial = cache.join(format!(".{}.part", remote.file_name));
    let mut out = File::create(&partial).map_err(|e| io_err(&partial, "create", e))?;
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut hash = sha2::Sha256::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|source| ImageError::AptRead {
                url: remote.url.clone(),
                source,
            })?;
        if n == 0 {
            break;
        }
        sha2::Digest::update(&mut hash, &buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| io_err(&partial, "write", e))?;
    }
    let got: String = sha2::Digest::finalize(hash)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != remote.sha256 {
        let _ = fs::remove_file(&partial);
        return Err(fetch_err(
            &remote.url,
            format!("has SHA-256 {got}, the index says {}", remote.sha256),
        ));
    }
    fs::rename(&partial, &path).map_err(|e| io_err(&path, "move into the cache", e))?;
    Ok(path)
}
