//! Telling a CDN to forget the mutable names a commit changed: CloudFront invalidations,
//! issued after the commit is live, retried, and never undoing it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use falco_artifacts_core::{Invalidation, InvalidationFailure};

use crate::protocol::commit::Commit;
use crate::store::{ObjectClass, RepoStore};

#[cfg(feature = "s3")]
mod cloudfront;
#[cfg(not(feature = "s3"))]
mod disabled;

#[cfg(feature = "s3")]
pub use cloudfront::CdnError;
#[cfg(feature = "s3")]
use cloudfront::Client;
#[cfg(not(feature = "s3"))]
pub use disabled::CdnError;
#[cfg(not(feature = "s3"))]
use disabled::Client;

/// The CloudFront distribution in front of a store, invalidated after each commit
/// ([`StoreOptions::cloudfront`](crate::StoreOptions::cloudfront); needs the `s3` feature).
///
/// After a commit, one invalidation names exactly the mutable objects it wrote or deleted
/// (canonical index names, top files: [`ObjectClass::Mutable`]) and the package files it
/// replaced under the same name, as `/`-prefixed, percent-encoded paths. It is signed with the
/// store's credentials (or the `AWS_*` environment), retried `attempts` times with doubling
/// delays, and a final failure is reported in
/// [`PublishReport::invalidation`](falco_artifacts_core::PublishReport::invalidation) and asked
/// again with the next commit's paths; it never fails or undoes the publish.
///
/// ```
/// use falco_artifacts_publish::{CloudFrontOptions, StoreOptions};
///
/// let options = StoreOptions {
///     cloudfront: Some(CloudFrontOptions::new("E2EXAMPLE1")),
///     ..StoreOptions::default()
/// };
/// assert_eq!(options.cloudfront.unwrap().attempts, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFrontOptions {
    /// The distribution's id (`E2EXAMPLE1`).
    pub distribution_id: String,
    /// The API's address; `None` for AWS (`https://cloudfront.amazonaws.com`).
    pub endpoint: Option<String>,
    /// The key prefix the distribution's origin path maps to `/` (`""`: keys are paths). Keys
    /// outside it are not served by the distribution and not invalidated.
    pub origin_path: String,
    /// Requests per invalidation, the first included (at least 1).
    pub attempts: u32,
    /// The delay before the first retry, doubled for each next one.
    pub backoff: Duration,
    /// The timeout of one request.
    pub timeout: Duration,
}

impl CloudFrontOptions {
    /// Invalidations of `distribution_id` on AWS, 4 attempts from 500 ms apart.
    pub fn new(distribution_id: impl Into<String>) -> Self {
        CloudFrontOptions {
            distribution_id: distribution_id.into(),
            endpoint: None,
            origin_path: String::new(),
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A configured CDN: its client and the paths whose invalidation failed, asked again next time.
#[derive(Debug)]
pub(crate) struct Cdn {
    options: CloudFrontOptions,
    client: Client,
    pending: Mutex<BTreeSet<String>>,
}

/// Why a CDN cannot be set up.
pub(crate) type SetupError = Box<dyn std::error::Error + Send + Sync>;

impl Cdn {
    /// The CDN of `options`, signing with the given keys or the `AWS_*` environment.
    pub(crate) fn new(
        options: &CloudFrontOptions,
        credentials: (Option<&str>, Option<&str>),
    ) -> Result<Cdn, SetupError> {
        let id = &options.distribution_id;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("{id:?} is not a CloudFront distribution id").into());
        }
        Ok(Cdn {
            client: Client::new(options, credentials)?,
            options: options.clone(),
            pending: Mutex::default(),
        })
    }

    /// The path a client requests for the full key `key`; `None` outside the origin path.
    fn path(&self, key: &str) -> Option<String> {
        let origin = self.options.origin_path.trim_matches('/');
        let rest = if origin.is_empty() {
            key
        } else {
            key.strip_prefix(origin)?.strip_prefix('/')?
        };
        Some(format!("/{}", falco_artifacts_core::web::url_path(rest)))
    }

    /// Invalidates the full keys `keys` (with the paths left over from failed invalidations);
    /// `None` when there is nothing to ask.
    pub(crate) async fn invalidate(&self, keys: &BTreeSet<String>) -> Option<Invalidation> {
        let mut paths: BTreeSet<String> = keys.iter().filter_map(|k| self.path(k)).collect();
        let retried = self.pending.lock().map(|p| p.clone()).unwrap_or_default();
        paths.extend(retried.iter().cloned());
        if paths.is_empty() {
            return None;
        }
        let paths: Vec<String> = paths.into_iter().collect();
        // The same reference on every attempt: CloudFront answers a repeated request with the
        // invalidation it already made instead of making a second one.
        let reference = format!(
            "falco-artifacts-{}-{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            rand::random::<u32>()
        );
        let mut attempts = 0;
        let mut delay = self.options.backoff;
        let outcome = loop {
            attempts += 1;
            match self.client.create(&paths, &reference).await {
                Ok(id) => break Ok(id),
                Err(e) if attempts >= self.options.attempts.max(1) => break Err(e),
                Err(_) => {
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
            }
        };
        let (id, failure) = match outcome {
            Ok(id) => {
                if let Ok(mut pending) = self.pending.lock() {
                    pending.retain(|p| !retried.contains(p));
                }
                (Some(id), None)
            }
            Err(error) => {
                if let Ok(mut pending) = self.pending.lock() {
                    pending.extend(paths.iter().cloned());
                }
                (None, Some(InvalidationFailure(std::sync::Arc::new(error))))
            }
        };
        Some(Invalidation {
            target: format!("cloudfront:{}", self.options.distribution_id),
            paths,
            attempts,
            id,
            failure,
        })
    }
}

/// The mutable keys `commit` writes or deletes, relative to its repository.
pub(crate) fn changed_keys(store: &RepoStore, commit: &Commit) -> BTreeSet<String> {
    commit
        .canonical
        .iter()
        .chain(&commit.top)
        .map(|f| f.key.as_str())
        .chain(commit.delete.iter().map(String::as_str))
        .filter(|key| store.class(key) == ObjectClass::Mutable)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_under_the_origin_and_encoded() {
        let mut options = CloudFrontOptions::new("E2EXAMPLE1");
        options.endpoint = Some("http://127.0.0.1:1".into());
        let cdn = Cdn::new(&options, (Some("k"), Some("s")));
        #[cfg(not(feature = "s3"))]
        assert!(cdn.is_err());
        #[cfg(feature = "s3")]
        {
            let mut cdn = cdn.unwrap();
            assert_eq!(
                cdn.path("driver/site/7.0.0+driver.json").as_deref(),
                Some("/driver/site/7.0.0%2Bdriver.json")
            );
            cdn.options.origin_path = "/packages/".into();
            assert_eq!(
                cdn.path("packages/deb/dists/stable/InRelease").as_deref(),
                Some("/deb/dists/stable/InRelease")
            );
            assert_eq!(cdn.path("driver/site/index.json"), None);
            assert_eq!(cdn.path("packagesx/a"), None);
        }
        assert!(Cdn::new(&CloudFrontOptions::new("E2/../x"), (None, None)).is_err());
    }
}
