//! Expected digests of the header packages in `kernelurls`.
//!
//! Header packages are code the build runs (their Makefiles and `scripts/` helpers), and real
//! configs point at distribution mirrors over plain `http://`. A config can pin what it
//! downloads, in either of two shapes (see `docs/driver-builds.md`):
//!
//! ```yaml
//! kernelurls:
//!   - http://deb.debian.org/…/linux-headers-6.1.0-29-amd64_6.1.123-1_amd64.deb#sha256=<64 hex>
//! ```
//!
//! or a `kernelsha256` list beside `kernelurls`, one digest per URL in the same order
//! (driverkit ignores keys it does not know, so the config stays valid for it):
//!
//! ```yaml
//! kernelurls: [http://…/a.deb, http://…/b.deb]
//! kernelsha256: [<64 hex>, <64 hex>]
//! ```

use falco_artifacts_core::{InvalidDigest, Sha256Digest};

use crate::DriverConfig;

/// The key of the digest list beside `kernelurls`.
pub const KERNEL_SHA256_KEY: &str = "kernelsha256";

/// One header package to download: its URL (without the `#sha256=` fragment) and, when the
/// config pins it, the SHA-256 its bytes must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelDownload {
    /// The URL to request.
    pub url: String,
    /// The digest the download must have.
    pub sha256: Option<Sha256Digest>,
}

/// Why the digests of a config's `kernelurls` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelDigestError {
    /// A `#sha256=` fragment or a `kernelsha256` entry is not 64 hex digits.
    #[error("the digest of {url} is not a SHA-256")]
    Invalid {
        /// The URL as written.
        url: String,
        /// Why.
        #[source]
        source: InvalidDigest,
    },
    /// A URL carries a fragment that is not `#sha256=<hex>`.
    #[error("{url}: the only fragment kernelurls understand is #sha256=<64 hex digits>")]
    Fragment {
        /// The URL as written.
        url: String,
    },
    /// `kernelsha256` is not a list of strings.
    #[error("`kernelsha256` must be a list of SHA-256 digests, one per kernelurls entry")]
    NotAList,
    /// `kernelsha256` does not have one entry per URL.
    #[error(
        "`kernelsha256` has {digests} entries for {urls} kernelurls; give one per URL, in order"
    )]
    Count {
        /// Entries in `kernelurls`.
        urls: usize,
        /// Entries in `kernelsha256`.
        digests: usize,
    },
    /// A URL pins one digest in its fragment and another in `kernelsha256`.
    #[error("{url}: its #sha256= fragment and its kernelsha256 entry disagree")]
    Conflict {
        /// The URL as written.
        url: String,
    },
}

impl DriverConfig {
    /// The header packages of `kernelurls` with the digests the config pins, from
    /// `#sha256=<hex>` fragments or the `kernelsha256` list.
    ///
    /// ```
    /// use falco_artifacts_driver_grid::DriverConfig;
    ///
    /// let hex = "ab".repeat(32);
    /// let config = DriverConfig::parse(&format!(
    ///     "kernelversion: 1\nkernelrelease: 6.1.0-29-amd64\ntarget: debian\n\
    ///      kernelurls: [\"http://mirror.example/h.deb#sha256={hex}\", http://mirror.example/c.deb]\n"
    /// ))?;
    /// let downloads = config.kernel_downloads()?;
    /// assert_eq!(downloads[0].url, "http://mirror.example/h.deb");
    /// assert_eq!(downloads[0].sha256.map(|d| d.to_hex()), Some(hex));
    /// assert_eq!(downloads[1].sha256, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kernel_downloads(&self) -> Result<Vec<KernelDownload>, KernelDigestError> {
        let listed = self.listed_digests()?;
        if let Some(listed) = &listed {
            if listed.len() != self.kernel_urls.len() {
                return Err(KernelDigestError::Count {
                    urls: self.kernel_urls.len(),
                    digests: listed.len(),
                });
            }
        }
        self.kernel_urls
            .iter()
            .enumerate()
            .map(|(i, written)| {
                let invalid = |source| KernelDigestError::Invalid {
                    url: written.clone(),
                    source,
                };
                let (url, fragment) = match written.split_once('#') {
                    Some((url, fragment)) => {
                        let hex = fragment.strip_prefix("sha256=").ok_or_else(|| {
                            KernelDigestError::Fragment {
                                url: written.clone(),
                            }
                        })?;
                        (url, Some(hex.parse::<Sha256Digest>().map_err(invalid)?))
                    }
                    None => (written.as_str(), None),
                };
                let from_list = match listed.as_ref().map(|l| l[i].as_str()) {
                    Some(hex) => Some(hex.trim().parse::<Sha256Digest>().map_err(invalid)?),
                    None => None,
                };
                let sha256 = match (fragment, from_list) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(KernelDigestError::Conflict {
                            url: written.clone(),
                        })
                    }
                    (a, b) => a.or(b),
                };
                Ok(KernelDownload {
                    url: url.to_owned(),
                    sha256,
                })
            })
            .collect()
    }

    fn listed_digests(&self) -> Result<Option<Vec<String>>, KernelDigestError> {
        let Some(value) = self.extra.get(KERNEL_SHA256_KEY) else {
            return Ok(None);
        };
        let list = value.as_sequence().ok_or(KernelDigestError::NotAList)?;
        list.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(KernelDigestError::NotAList)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tail: &str) -> DriverConfig {
        DriverConfig::parse(&format!(
            "kernelversion: 1\nkernelrelease: 6.1.0-29-amd64\ntarget: debian\n{tail}"
        ))
        .unwrap()
    }

    #[test]
    fn digests_from_fragments_or_the_list() {
        let a = "0a".repeat(32);
        let b = "0b".repeat(32);
        let listed = config(&format!(
            "kernelurls:\n- http://m/a.deb\n- http://m/b.deb\nkernelsha256:\n- {a}\n- {b}\n"
        ));
        let downloads = listed.kernel_downloads().unwrap();
        assert_eq!(downloads[1].url, "http://m/b.deb");
        assert_eq!(downloads[1].sha256.unwrap().to_hex(), b);
        let none = config("kernelurls: [http://m/a.deb]\n");
        assert_eq!(none.kernel_downloads().unwrap()[0].sha256, None);
    }

    #[test]
    fn bad_digests_are_refused_with_the_url() {
        let a = "0a".repeat(32);
        let b = "0b".repeat(32);
        for (tail, rule) in [
            ("kernelurls: [\"http://m/a.deb#sha256=12\"]\n", "Invalid"),
            ("kernelurls: [\"http://m/a.deb#md5=12\"]\n", "Fragment"),
            (
                "kernelurls: [http://m/a.deb]\nkernelsha256: 3\n",
                "NotAList",
            ),
            (
                &format!("kernelurls: [http://m/a.deb, http://m/b.deb]\nkernelsha256: [{a}]\n"),
                "Count",
            ),
            (
                &format!("kernelurls: [\"http://m/a.deb#sha256={a}\"]\nkernelsha256: [{b}]\n"),
                "Conflict",
            ),
        ] {
            let err = config(tail).kernel_downloads().unwrap_err();
            assert!(format!("{err:?}").starts_with(rule), "{tail}: {err:?}");
        }
    }
}
