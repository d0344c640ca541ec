//! A store wrapper that counts requests and fails chosen ones, for atomicity tests.

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

/// How a [`FailingStore`] fails.
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

/// What [`Shared::tick`] decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Forward,
    FailBefore,
    FailAfter,
}

/// An [`ObjectStore`] that forwards to another, counts every request, and fails the ones
/// [`FailMode`] picks with [`object_store::Error::Generic`].
///
/// One request is one call of a trait method, and one object for `delete_stream`. The log
/// keeps a line per request (`put(create) packages/bin/index.json`) so a failing test can say
/// which request it broke.
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
    state: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    count: AtomicU64,
    mode: Mutex<FailMode>,
    log: Mutex<Vec<String>>,
    /// Listings served again while frozen, by prefix: a store whose listings lag behind.
    frozen: Mutex<Option<std::collections::HashMap<String, Vec<ObjectMeta>>>>,
}

impl Shared {
    /// Counts one request and decides its fate.
    fn verdict(&self, what: &str) -> Verdict {
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

    fn injected(what: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "FailingStore",
            source: format!("injected failure of {what}").into(),
        }
    }

    /// Counts one request; `Err` when it must fail before being forwarded. A request that
    /// is applied then failed is forwarded by [`Shared::run`]; requests without an effect
    /// (reads, listings) fail either way.
    fn tick(&self, what: String) -> object_store::Result<()> {
        match self.verdict(&what) {
            Verdict::Forward => Ok(()),
            Verdict::FailBefore | Verdict::FailAfter => Err(Self::injected(&what)),
        }
    }

    /// Counts one request with an effect and runs it as the verdict says.
    async fn run<T>(
        &self,
        what: String,
        request: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> object_store::Result<T> {
        match self.verdict(&what) {
            Verdict::Forward => request.await,
            Verdict::FailBefore => Err(Self::injected(&what)),
            Verdict::FailAfter => {
                let _ = request.await;
                Err(Self::injected(&what))
            }
        }
    }
}

impl FailingStore {
    /// Wraps `inner`, counting and never failing.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        FailingStore {
            inner,
            state: Arc::new(Shared::default()),
        }
    }

    /// Sets how it fails from now on; request numbers continue from [`FailingStore::requests`]
    /// unless [`FailingStore::reset`] is called.
    pub fn set_mode(&self, mode: FailMode) {
        *self
            .state
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.state.count.load(Ordering::SeqCst)
    }

    /// Zeroes the count, clears the log and stops failing.
    pub fn reset(&self) {
        self.state.count.store(0, Ordering::SeqCst);
        self.set_mode(FailMode::Never);
        self.state
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// From now on each prefix's listing is taken once and then served again unchanged, as a
    /// lagging S3-compatible store or a listing read long before the request that uses it.
    pub fn freeze_listings(&self) {
        *self
            .state
            .frozen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Default::default());
    }

    /// Listings are live again.
    pub fn thaw_listings(&self) {
        *self
            .state
            .frozen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// One line per request since the last reset.
    pub fn log(&self) -> Vec<String> {
        self.state
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
        self.state
            .run(
                format!("put({}) {location}", mode_name(&opts)),
                self.inner.put_opts(location, payload, opts),
            )
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.state.tick(format!("put_multipart {location}"))?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let what = if options.head { "head" } else { "get" };
        self.state.tick(format!("{what} {location}"))?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.state.tick(format!("get_ranges {location}"))?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let state = Arc::clone(&self.state);
        let inner = Arc::clone(&self.inner);
        // One object at a time, so that each delete gets its own verdict and an applied-then-
        // failed one really is deleted before its error is reported.
        locations
            .then(move |location| {
                let state = Arc::clone(&state);
                let inner = Arc::clone(&inner);
                async move {
                    let location = location?;
                    let what = format!("delete {location}");
                    let one = futures::stream::once(futures::future::ready(Ok(location))).boxed();
                    let delete = async move {
                        let mut done = inner.delete_stream(one);
                        match done.next().await {
                            Some(result) => result,
                            None => Err(Shared::injected("an empty delete")),
                        }
                    };
                    state.run(what, delete).await
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let what = format!("list {}", prefix.map(Path::as_ref).unwrap_or_default());
        if let Err(e) = self.state.tick(what) {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let key = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
        let cached = {
            let frozen = self
                .state
                .frozen
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match frozen.as_ref() {
                None => return self.inner.list(prefix),
                Some(map) => map.get(&key).cloned(),
            }
        };
        if let Some(metas) = cached {
            return futures::stream::iter(metas.into_iter().map(Ok)).boxed();
        }
        let state = Arc::clone(&self.state);
        let live = self.inner.list(prefix);
        futures::stream::once(async move {
            let metas: Vec<ObjectMeta> = live.try_collect().await?;
            if let Some(map) = state
                .frozen
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
        match self.state.tick(what) {
            Ok(()) => self.inner.list_with_offset(prefix, offset),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.state.tick(format!(
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
        self.state
            .run(
                format!("copy {from} {to}"),
                self.inner.copy_opts(from, to, options),
            )
            .await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.state
            .run(
                format!("rename {from} {to}"),
                self.inner.rename_opts(from, to, options),
            )
            .await
    }
}
