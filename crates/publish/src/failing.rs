//! Injected store failures, for atomicity tests: [`Faults`] counts requests and fails chosen
//! ones; [`FailingStore`] consults it around any `ObjectStore`, a `RepoStore` on any backend.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// How [`Faults`] fail requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Never; only count.
    #[default]
    Never,
    /// The request with this number (1-based) fails; the others succeed (a transient error).
    Once(u64),
    /// The request with this number and every later one fail (the process died there).
    From(u64),
    /// The request with this number is carried out, then reported as failed: a timeout after
    /// the write landed, which real stores produce and a client cannot tell from a failure.
    OnceAfterApply(u64),
    /// The request with this number is carried out and reported as failed, and every later
    /// one fails before it is forwarded (the process died while waiting for the answer).
    FromAfterApply(u64),
}

/// What [`Faults::verdict`] decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Forward,
    FailBefore,
    FailAfter,
}

impl Verdict {
    /// The request's answer as this verdict makes it: its own, or `fail()` when the request
    /// was applied and must then be reported as failed.
    fn settle<T, E>(self, result: Result<T, E>, fail: impl FnOnce() -> E) -> Result<T, E> {
        match self {
            Verdict::Forward => result,
            Verdict::FailBefore | Verdict::FailAfter => Err(fail()),
        }
    }
}

/// Injected faults: a request counter, a [`FailMode`] and a log of every request, shared by
/// whatever consults it. [`FailingStore`] consults it at each `ObjectStore` call;
/// [`RepoStore::with_faults`](crate::RepoStore::with_faults) at each request the publishing
/// protocol makes, on every backend including `file://`'s direct path to the disk.
///
/// The log keeps a line per request (`put(create) packages/bin/index.json` through a
/// [`FailingStore`], `create packages/bin/index.json` through a `RepoStore`) so a failing
/// test can say which request it broke.
///
/// ```
/// use std::sync::Arc;
/// use falco_artifacts_publish::{FailMode, Faults, RepoStore};
///
/// let faults = Arc::new(Faults::default());
/// let store = RepoStore::from_url("memory:///")?.with_faults(Arc::clone(&faults));
/// faults.set_mode(FailMode::Once(1));
/// assert_eq!(faults.requests(), 0);
/// # let _ = store;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Faults {
    count: AtomicU64,
    mode: Mutex<FailMode>,
    log: Mutex<Vec<String>>,
}

impl Faults {
    /// Sets how requests fail from now on; request numbers continue from
    /// [`Faults::requests`] unless [`Faults::reset`] is called.
    pub fn set_mode(&self, mode: FailMode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Zeroes the count, clears the log and stops failing.
    pub fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.set_mode(FailMode::Never);
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// One line per request since the last reset.
    pub fn log(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts one request and decides its fate.
    pub(crate) fn verdict(&self, what: &str) -> Verdict {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let mode = *self.mode.lock().unwrap_or_else(PoisonError::into_inner);
        let verdict = match mode {
            FailMode::Never => Verdict::Forward,
            FailMode::Once(k) | FailMode::From(k) if n == k => Verdict::FailBefore,
            FailMode::From(k) | FailMode::FromAfterApply(k) if n > k => Verdict::FailBefore,
            FailMode::OnceAfterApply(k) | FailMode::FromAfterApply(k) if n == k => {
                Verdict::FailAfter
            }
            _ => Verdict::Forward,
        };
        let note = match verdict {
            Verdict::Forward => "",
            Verdict::FailBefore => " (failed)",
            Verdict::FailAfter => " (applied, then failed)",
        };
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("#{n} {what}{note}"));
        verdict
    }

    /// The error an injected failure of `what` reports.
    pub(crate) fn injected(what: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "FailingStore",
            source: format!("injected failure of {what}").into(),
        }
    }

    /// Counts one request and runs it as the verdict says: not at all, or applied and then
    /// reported as failed; `fail` turns the injected error into the caller's error type.
    pub(crate) async fn run<T, E>(
        &self,
        what: String,
        request: impl std::future::Future<Output = Result<T, E>>,
        fail: impl FnOnce(object_store::Error) -> E,
    ) -> Result<T, E> {
        let verdict = self.verdict(&what);
        if verdict == Verdict::FailBefore {
            return Err(fail(Self::injected(&what)));
        }
        verdict.settle(request.await, || fail(Self::injected(&what)))
    }

    /// [`Faults::run`] for a request made on the calling thread.
    pub(crate) fn run_blocking<T, E>(
        &self,
        what: String,
        request: impl FnOnce() -> Result<T, E>,
        fail: impl FnOnce(object_store::Error) -> E,
    ) -> Result<T, E> {
        let verdict = self.verdict(&what);
        if verdict == Verdict::FailBefore {
            return Err(fail(Self::injected(&what)));
        }
        verdict.settle(request(), || fail(Self::injected(&what)))
    }

    /// Counts one request without an effect (a read, a listing); `Err` when it must fail.
    fn tick(&self, what: String) -> object_store::Result<()> {
        match self.verdict(&what) {
            Verdict::Forward => Ok(()),
            Verdict::FailBefore | Verdict::FailAfter => Err(Self::injected(&what)),
        }
    }
}

/// An [`ObjectStore`] that forwards to another, counts every request, and fails the ones
/// [`FailMode`] picks with [`object_store::Error::Generic`], as its [`Faults`] decide.
///
/// One request is one call of a trait method, and one object for `delete_stream`. To fail
/// the requests of a [`RepoStore`](crate::RepoStore) on any backend, `file://`'s direct path
/// to the disk included, use [`RepoStore::with_faults`](crate::RepoStore::with_faults).
///
/// ```
/// use std::sync::Arc;
/// use falco_artifacts_publish::{FailMode, FailingStore};
/// use object_store::{memory::InMemory, path::Path, ObjectStoreExt as _};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let store = Arc::new(FailingStore::new(Arc::new(InMemory::new())));
/// store.set_mode(FailMode::Once(2));
/// store.put(&Path::from("a"), "1".into()).await?;
/// assert!(store.put(&Path::from("b"), "2".into()).await.is_err());
/// assert_eq!(store.requests(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FailingStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Faults>,
    /// A store whose listings lag behind: see [`FailingStore::freeze_listings`].
    frozen: Arc<Frozen>,
}

/// Listings served again while frozen, by prefix.
type Frozen = Mutex<Option<std::collections::HashMap<String, Vec<ObjectMeta>>>>;

impl FailingStore {
    /// Wraps `inner`, counting and never failing.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self::with_faults(inner, Arc::default())
    }

    /// Wraps `inner`, consulting `faults` (which other stores may share) at each request.
    pub fn with_faults(inner: Arc<dyn ObjectStore>, faults: Arc<Faults>) -> Self {
        FailingStore {
            inner,
            faults,
            frozen: Arc::default(),
        }
    }

    /// The faults it consults.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Sets how it fails from now on: [`Faults::set_mode`].
    pub fn set_mode(&self, mode: FailMode) {
        self.faults.set_mode(mode);
    }

    /// Requests made so far: [`Faults::requests`].
    pub fn requests(&self) -> u64 {
        self.faults.requests()
    }

    /// Zeroes the count, clears the log and stops failing: [`Faults::reset`].
    pub fn reset(&self) {
        self.faults.reset();
    }

    /// From now on each prefix's listing is taken once and then served again unchanged, as a
    /// lagging S3-compatible store or a listing read long before the request that uses it.
    pub fn freeze_listings(&self) {
        *self.frozen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Default::default());
    }

    /// Listings are live again.
    pub fn thaw_listings(&self) {
        *self.frozen.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// One line per request since the last reset: [`Faults::log`].
    pub fn log(&self) -> Vec<String> {
        self.faults.log()
    }
}

impl fmt::Debug for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingStore({:?})", self.inner)
    }
}

impl fmt::Display for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingStore({})", self.inner)
    }
}

fn mode_name(opts: &PutOptions) -> &'static str {
    match opts.mode {
        object_store::PutMode::Overwrite => "overwrite",
        object_store::PutMode::Create => "create",
        object_store::PutMode::Update(_) => "update",
    }
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.faults
            .run(
                format!("put({}) {location}", mode_name(&opts)),
                self.inner.put_opts(location, payload, opts),
                |e| e,
            )
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.faults.tick(format!("put_multipart {location}"))?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let what = if options.head { "head" } else { "get" };
        self.faults.tick(format!("{what} {location}"))?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.faults.tick(format!("get_ranges {location}"))?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let faults = Arc::clone(&self.faults);
        let inner = Arc::clone(&self.inner);
        // One object at a time, so that each delete gets its own verdict and an applied-then-
        // failed one really is deleted before its error is reported.
        locations
            .then(move |location| {
                let faults = Arc::clone(&faults);
                let inner = Arc::clone(&inner);
                async move {
                    let location = location?;
                    let what = format!("delete {location}");
                    let one = futures::stream::once(futures::future::ready(Ok(location))).boxed();
                    let delete = async move {
                        let mut done = inner.delete_stream(one);
                        match done.next().await {
                            Some(result) => result,
                            None => Err(Faults::injected("an empty delete")),
                        }
                    };
                    faults.run(what, delete, |e| e).await
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let what = format!("list {}", prefix.map(Path::as_ref).unwrap_or_default());
        if let Err(e) = self.faults.tick(what) {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let key = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
        let cached = {
            let frozen = self.frozen.lock().unwrap_or_else(PoisonError::into_inner);
            match frozen.as_ref() {
                None => return self.inner.list(prefix),
                Some(map) => map.get(&key).cloned(),
            }
        };
        if let Some(metas) = cached {
            return futures::stream::iter(metas.into_iter().map(Ok)).boxed();
        }
        let frozen = Arc::clone(&self.frozen);
        let live = self.inner.list(prefix);
        futures::stream::once(async move {
            let metas: Vec<ObjectMeta> = live.try_collect().await?;
            if let Some(map) = frozen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
            {
                map.insert(key, metas.clone());
            }
            Ok::<_, object_store::Error>(futures::stream::iter(metas.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let what = format!(
            "list {} after {offset}",
            prefix.map(Path::as_ref).unwrap_or_default()
        );
        match self.faults.tick(what) {
            Ok(()) => self.inner.list_with_offset(prefix, offset),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.faults.tick(format!(
            "list_with_delimiter {}",
            prefix.map(Path::as_ref).unwrap_or_default()
        ))?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.faults
            .run(
                format!("copy {from} {to}"),
                self.inner.copy_opts(from, to, options),
                |e| e,
            )
            .await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.faults
            .run(
                format!("rename {from} {to}"),
                self.inner.rename_opts(from, to, options),
                |e| e,
            )
            .await
    }
}
