//! A store wrapper that counts requests and fails chosen ones, for atomicity tests.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt as _;
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
}

impl Shared {
    /// Counts one request; `Err` when it must fail.
    fn tick(&self, what: String) -> object_store::Result<()> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let mode = *self.mode.lock().unwrap_or_else(PoisonError::into_inner);
        let fail = match mode {
            FailMode::Never => false,
            FailMode::Once(k) => n == k,
            FailMode::From(k) => n >= k,
        };
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!(
                "#{n} {what}{}",
                if fail { " (failed)" } else { "" }
            ));
        if fail {
            Err(object_store::Error::Generic {
                store: "FailingStore",
                source: format!("injected failure of request #{n}: {what}").into(),
            })
        } else {
            Ok(())
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
            .tick(format!("put({}) {location}", mode_name(&opts)))?;
        self.inner.put_opts(location, payload, opts).await
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
        let counted = locations
            .map(move |location| {
                let location = location?;
                state.tick(format!("delete {location}"))?;
                Ok(location)
            })
            .boxed();
        self.inner.delete_stream(counted)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let what = format!("list {}", prefix.map(Path::as_ref).unwrap_or_default());
        match self.state.tick(what) {
            Ok(()) => self.inner.list(prefix),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
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
        self.state.tick(format!("copy {from} {to}"))?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.state.tick(format!("rename {from} {to}"))?;
        self.inner.rename_opts(from, to, options).await
    }
}
