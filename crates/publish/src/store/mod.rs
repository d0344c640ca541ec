//! A store picked from a URL, rooted at a prefix, with the few requests the protocol makes.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::error::{PublishError, StoreAction};
use crate::failing::Faults;
use crate::local_dir::{LocalDir, Put};

pub(crate) use conditional::{Expected, Fenced};
pub(crate) use key::check_key;
pub(crate) use write::Write;

mod access;
mod cloud;
mod conditional;
mod headers;
mod key;
mod options;
mod request;
mod sha_stream;
mod write;

pub use access::{CannedAcl, ServerSideEncryption, UnknownAcl};
#[cfg(all(test, feature = "azure"))]
pub(crate) use cloud::azurite_options;
use cloud::{open_azure, open_gcs};
pub use headers::{ObjectClass, ObjectHeaders};
#[cfg(all(test, feature = "s3"))]
pub(crate) use options::moto_options;
use options::open_s3;
pub use options::StoreOptions;

/// An object store rooted at a prefix: the place repositories live in.
///
/// Keys given to it are relative (`packages/bin/x86_64/falco.tar.gz`); [`RepoStore::at`]
/// narrows it to a sub-directory.
///
/// ```
/// use falco_artifacts_publish::RepoStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = RepoStore::from_url(&format!("file://{}", dir.path().display()))?;
/// assert_eq!(store.at("packages/bin")?.root(), "packages/bin");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RepoStore {
    inner: Arc<dyn ObjectStore>,
    root: Path,
    /// For `file://` stores: the same directory, read and written on the calling thread.
    local: Option<Arc<LocalDir>>,
    /// Requests made through this store and every store narrowed from it.
    requests: Arc<AtomicU64>,
    /// Set once the store answered that it cannot write conditionally, so later top writes
    /// go straight to a plain write instead of asking again.
    unconditional: Arc<AtomicBool>,
    /// Injected failures, consulted at each request (tests of the protocol's atomicity).
    faults: Option<Arc<Faults>>,
    /// The headers uploads carry (`None`: the backend's defaults).
    headers: Option<Arc<ObjectHeaders>>,
    /// The CDN invalidated after each commit.
    cdn: Option<Arc<crate::cdn::Cdn>>,
}

impl fmt::Debug for RepoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoStore({}, {:?})", self.inner, self.root.as_ref())
    }
}

/// What a conditional create found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    /// The object was created.
    New,
    /// An object was already there; nothing was written.
    Exists,
}

impl RepoStore {
    /// A store over `store`, rooted at `root` (`""` for the store's top).
    pub fn new(store: Arc<dyn ObjectStore>, root: &str) -> Result<Self, PublishError> {
        let root = root.trim_matches('/');
        if !root.is_empty() {
            check_key(root)?;
        }
        Ok(RepoStore {
            inner: store,
            root: Path::from(root),
            local: None,
            requests: Arc::default(),
            unconditional: Arc::default(),
            faults: None,
            headers: None,
            cdn: None,
        })
    }

    /// Opens the store a URL names, with default options: `file:///srv/www` (created if
    /// missing), `memory:///`, `s3://bucket/prefix` with the `s3` feature, `gs://bucket/prefix`
    /// with `gcs`, `az://container/prefix` with `azure`.
    pub fn from_url(url: &str) -> Result<Self, PublishError> {
        Self::from_url_with(url, &StoreOptions::default())
    }

    /// Opens the store a URL names, with `options`.
    pub fn from_url_with(url: &str, options: &StoreOptions) -> Result<Self, PublishError> {
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| PublishError::OpenStore {
            url: url.to_owned(),
            source,
        };
        let parsed = url::Url::parse(url).map_err(|e| open_err(Box::new(e)))?;
        let store = match parsed.scheme() {
            "file" => {
                let dir = parsed.to_file_path().map_err(|()| {
                    open_err("a file:// URL must name an absolute local path".into())
                })?;
                std::fs::create_dir_all(&dir).map_err(|e| open_err(Box::new(e)))?;
                let fs = LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| open_err(Box::new(e)))?
                    .with_automatic_cleanup(true)
                    .with_fsync(options.fsync);
                let dir = dir.canonicalize().map_err(|e| open_err(Box::new(e)))?;
                let mut store = RepoStore::new(Arc::new(fs), "")?;
                store.local = Some(Arc::new(LocalDir::new(dir, options.fsync)));
                Ok(store)
            }
            "memory" => RepoStore::new(Arc::new(InMemory::new()), parsed.path()),
            "s3" | "s3a" => open_s3(url, &parsed, options),
            "gs" => open_gcs(url, &parsed, options),
            "az" | "azure" | "abfs" | "abfss" => open_azure(url, &parsed, options),
            scheme => Err(PublishError::UnsupportedScheme {
                url: url.to_owned(),
                scheme: scheme.to_owned(),
            }),
        }?;
        // `file://` writes go through `LocalDir`, which keeps no headers.
        let headers = options.headers.clone().filter(|_| store.local.is_none());
        let cdn = match &options.cloudfront {
            Some(cloudfront) => Some(
                crate::cdn::Cdn::new(
                    cloudfront,
                    (
                        options.access_key_id.as_deref(),
                        options.secret_access_key.as_deref(),
                    ),
                )
                .map_err(open_err)?,
            ),
            None => None,
        };
        Ok(RepoStore {
            headers: headers.map(Arc::new),
            cdn: cdn.map(Arc::new),
            ..store
        })
    }

    /// The same store with `headers` on every upload (`None`: none, the backend's defaults).
    /// [`RepoStore::from_url_with`] sets [`StoreOptions::headers`]; a store made with
    /// [`RepoStore::new`] starts without, since not every backend keeps headers
    /// (`LocalFileSystem` refuses them).
    ///
    /// ```
    /// use falco_artifacts_publish::{ObjectHeaders, RepoStore};
    ///
    /// let store = RepoStore::from_url("memory:///")?.with_headers(Some(ObjectHeaders::default()));
    /// assert!(store.headers().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_headers(self, headers: Option<ObjectHeaders>) -> Self {
        RepoStore {
            headers: headers.map(Arc::new),
            ..self
        }
    }

    /// The headers uploads carry, if any.
    pub fn headers(&self) -> Option<&ObjectHeaders> {
        self.headers.as_deref()
    }

    /// The class of `key` under this store's header policy (the default one when it has none).
    pub(crate) fn class(&self, key: &str) -> ObjectClass {
        let key = self.path_unchecked(key);
        match &self.headers {
            Some(headers) => headers.class(key.as_ref()),
            None => ObjectHeaders::default().class(key.as_ref()),
        }
    }

    /// Invalidates `keys` (relative to the root) at the CDN, when one is configured.
    pub(crate) async fn invalidate(
        &self,
        keys: &std::collections::BTreeSet<String>,
    ) -> Option<falco_artifacts_core::Invalidation> {
        let cdn = self.cdn.as_ref()?;
        let full = keys
            .iter()
            .map(|k| self.path_unchecked(k).to_string())
            .collect();
        cdn.invalidate(&full).await
    }

    /// The same store narrowed to `sub` under the current root.
    pub fn at(&self, sub: &str) -> Result<Self, PublishError> {
        let sub = sub.trim_matches('/');
        if sub.is_empty() {
            return Ok(self.clone());
        }
        check_key(sub)?;
        Ok(RepoStore {
            inner: Arc::clone(&self.inner),
            root: self.path_unchecked(sub),
            local: self.local.clone(),
            requests: Arc::clone(&self.requests),
            unconditional: Arc::clone(&self.unconditional),
            faults: self.faults.clone(),
            headers: self.headers.clone(),
            cdn: self.cdn.clone(),
        })
    }

    /// The same store, consulting `faults` at each request it (and every store narrowed
    /// from it) makes: a request [`Faults`] fails returns the error a failing store would,
    /// before or after it is carried out. Unlike a [`FailingStore`](crate::FailingStore)
    /// around [`RepoStore::object_store`], this covers `file://`'s direct path to the disk.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use falco_artifacts_publish::{FailMode, Faults, RepoStore};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = RepoStore::from_url(&format!("file://{}", dir.path().display()))?;
    /// let faults = Arc::new(Faults::default());
    /// let failing = store.with_faults(Arc::clone(&faults));
    /// faults.set_mode(FailMode::From(1));
    /// assert_eq!(faults.requests(), 0);
    /// # let _ = failing;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_faults(&self, faults: Arc<Faults>) -> RepoStore {
        RepoStore {
            faults: Some(faults),
            ..self.clone()
        }
    }

    /// The root prefix, `""` at the store's top.
    pub fn root(&self) -> &str {
        self.root.as_ref()
    }

    /// How many requests (reads, stats, writes, deletes, listings) went through this store and
    /// the stores narrowed from it with [`RepoStore::at`]: what a publish costs on S3.
    ///
    /// ```
    /// use falco_artifacts_publish::RepoStore;
    ///
    /// let store = RepoStore::from_url("memory:///")?;
    /// assert_eq!(store.requests(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The underlying object store.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    fn path_unchecked(&self, key: &str) -> Path {
        let full = if self.root.as_ref().is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.root.as_ref())
        };
        // Keys are used as written: `Path::from` would percent-encode `~` (Ubuntu kernel
        // versions, `falco_ubuntu_…_26~22.04.1.ko`) into a name no client asks for. Only a key
        // `Path::parse` refuses (checked keys never are) falls back to the encoded form.
        Path::parse(&full).unwrap_or_else(|_| Path::from(full.as_str()))
    }

    /// The options of a put of `key`, with the headers this store's uploads carry.
    fn put_options(&self, key: &str, mode: PutMode) -> PutOptions {
        match &self.headers {
            Some(headers) => headers.put_options(self.path_unchecked(key).as_ref(), mode),
            None => PutOptions {
                mode,
                ..PutOptions::default()
            },
        }
    }

    fn err(&self, action: StoreAction, key: &str, source: object_store::Error) -> PublishError {
        PublishError::Store {
            store: self.inner.to_string(),
            action,
            key: self.path_unchecked(key).to_string(),
            source,
        }
    }

    /// A request's answer, with "not found" as `None`.
    fn found<T>(
        &self,
        action: StoreAction,
        key: &str,
        result: Result<T, object_store::Error>,
    ) -> Result<Option<T>, PublishError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(action, key, e)),
        }
    }

    /// The object at `key`, or `None` when there is none.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Bytes>, PublishError> {
        self.request(StoreAction::Get, key, async {
            let path = self.path_unchecked(key);
            if let Some(local) = &self.local {
                return self.found(StoreAction::Get, key, local.get(&path));
            }
            match self.inner.get(&path).await {
                Ok(result) => result
                    .bytes()
                    .await
                    .map(Some)
                    .map_err(|e| self.err(StoreAction::Get, key, e)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.err(StoreAction::Get, key, e)),
            }
        })
        .await
    }

    /// The metadata of `key`, or `None` when there is none.
    pub(crate) async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, PublishError> {
        self.request(StoreAction::Head, key, async {
            let path = self.path_unchecked(key);
            let result = match &self.local {
                Some(local) => local.head(&path),
                None => self.inner.head(&path).await,
            };
            self.found(StoreAction::Head, key, result)
        })
        .await
    }

    /// Streams `key` through SHA-256; `None` when there is no such object.
    pub(crate) async fn sha256(
        &self,
        key: &str,
    ) -> Result<Option<(falco_artifacts_core::Sha256Digest, u64)>, PublishError> {
        use sha_stream::Hasher;
        self.request(StoreAction::Get, key, async {
            let path = self.path_unchecked(key);
            if let Some(local) = &self.local {
                return self.found(StoreAction::Get, key, local.sha256(&path));
            }
            let result = match self.inner.get(&path).await {
                Ok(result) => result,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(self.err(StoreAction::Get, key, e)),
            };
            let mut stream = result.into_stream();
            let mut hasher = Hasher::default();
            while let Some(chunk) = stream
                .try_next()
                .await
                .map_err(|e| self.err(StoreAction::Get, key, e))?
            {
                hasher.update(&chunk);
            }
            Ok(Some(hasher.finish()))
        })
        .await
    }

    /// Creates `key` unless it exists.
    pub(crate) async fn create(
        &self,
        key: &str,
        payload: PutPayload,
    ) -> Result<Created, PublishError> {
        self.create_with(key, payload, true).await
    }

    /// Creates `key` unless it exists, without waiting for the disk on `file://`: for lock
    /// slots, which matter only while their holder lives (a power loss ends the holder too).
    pub(crate) async fn create_volatile(
        &self,
        key: &str,
        payload: PutPayload,
    ) -> Result<Created, PublishError> {
        self.create_with(key, payload, false).await
    }

    /// Creates `key` unless it exists, its bytes made durable by a later [`RepoStore::sync`]:
    /// for a batch of uploads, which one sync of the filesystem covers faster than a sync of
    /// each file and directory.
    pub(crate) async fn create_unsynced(
        &self,
        key: &str,
        payload: PutPayload,
    ) -> Result<Created, PublishError> {
        self.create_with(key, payload, false).await
    }

    /// Makes every write made so far durable: on `file://` (with fsync on) one `syncfs` of
    /// the store's filesystem; elsewhere nothing, as a store's write is durable once answered.
    pub(crate) async fn sync(&self) -> Result<(), PublishError> {
        let Some(local) = &self.local else {
            return Ok(());
        };
        let local = Arc::clone(local);
        let synced = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(move || local.sync())
                .await
                .map_err(PublishError::Task)?,
            Err(_) => local.sync(),
        };
        synced.map_err(|e| self.err(StoreAction::Sync, "", e))
    }

    async fn create_with(
        &self,
        key: &str,
        payload: PutPayload,
        durable: bool,
    ) -> Result<Created, PublishError> {
        self.request(
            StoreAction::Create,
            key,
            self.create_now(key, payload, durable),
        )
        .await
    }

    /// [`RepoStore::create_unsynced`] on the calling thread, for a batch of uploads made on
    /// the blocking pool; `None` off `file://`, where a create is a network request.
    pub(crate) fn create_unsynced_blocking(
        &self,
        key: &str,
        payload: &PutPayload,
    ) -> Option<Result<Created, PublishError>> {
        let local = self.local.as_ref()?;
        Some(self.request_blocking(StoreAction::Create, key, || {
            match local.create(&self.path_unchecked(key), payload, false) {
                Ok(Put::Written) => Ok(Created::New),
                Ok(Put::Exists) => Ok(Created::Exists),
                Err(e) => Err(self.err(StoreAction::Create, key, e)),
            }
        }))
    }

    /// Whether requests are made on local files (`file://`) rather than over a network.
    pub(crate) fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The create of [`RepoStore::create_with`], uncounted.
    async fn create_now(
        &self,
        key: &str,
        payload: PutPayload,
        durable: bool,
    ) -> Result<Created, PublishError> {
        if let Some(local) = &self.local {
            // A create waits for the disk: on tokio's blocking pool when there is one, so that
            // uploads issued together (a full publish) sync in parallel.
            let path = self.path_unchecked(key);
            let created = match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let local = Arc::clone(local);
                    runtime
                        .spawn_blocking(move || local.create(&path, &payload, durable))
                        .await
                        .map_err(PublishError::Task)?
                }
                Err(_) => local.create(&path, &payload, durable),
            };
            return match created {
                Ok(Put::Written) => Ok(Created::New),
                Ok(Put::Exists) => Ok(Created::Exists),
                Err(e) => Err(self.err(StoreAction::Create, key, e)),
            };
        }
        let opts = self.put_options(key, PutMode::Create);
        match self
            .inner
            .put_opts(&self.path_unchecked(key), payload, opts)
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::Exists),
            Err(e) => Err(self.err(StoreAction::Create, key, e)),
        }
    }

    /// Deletes `key`; a missing object is not an error.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), PublishError> {
        self.request(StoreAction::Delete, key, async {
            let path = self.path_unchecked(key);
            let result = match &self.local {
                Some(local) => local.delete(&path),
                None => self.inner.delete(&path).await,
            };
            match result {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.err(StoreAction::Delete, key, e)),
            }
        })
        .await
    }

    /// The first path components below the root that hold objects (a listing of one level:
    /// one request on S3 whatever the number of objects below).
    pub(crate) async fn list_groups(&self) -> Result<Vec<String>, PublishError> {
        self.request(StoreAction::List, "", async {
            let listed = self
                .inner
                .list_with_delimiter((!self.root.as_ref().is_empty()).then_some(&self.root))
                .await
                .map_err(|e| self.err(StoreAction::List, "", e))?;
            Ok(listed
                .common_prefixes
                .iter()
                .filter_map(|p| p.filename().map(str::to_owned))
                .collect())
        })
        .await
    }

    /// Every object under `prefix` (relative to the root), as keys relative to the root.
    pub(crate) async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, ObjectMeta)>, PublishError> {
        let path = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path_unchecked(prefix)
        };
        let root = self.root.as_ref();
        let metas: Vec<ObjectMeta> = self
            .request(StoreAction::List, prefix, async {
                self.inner
                    .list(Some(&path))
                    .try_collect()
                    .await
                    .map_err(|e| self.err(StoreAction::List, prefix, e))
            })
            .await?;
        Ok(metas
            .into_iter()
            .filter_map(|meta| {
                let full = meta.location.as_ref();
                let rel = if root.is_empty() {
                    Some(full)
                } else {
                    full.strip_prefix(root).and_then(|r| r.strip_prefix('/'))
                };
                rel.map(|r| (r.to_owned(), meta.clone()))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
