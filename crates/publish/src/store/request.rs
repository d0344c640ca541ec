//! Every request a [`RepoStore`] makes passes here: counted, and failed when injected faults
//! say so (before or after it is carried out).

use std::sync::atomic::Ordering;

use super::RepoStore;
use crate::error::{PublishError, StoreAction};

impl RepoStore {
    pub(super) fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// What the log of [`Faults`](crate::failing::Faults) says of a request.
    fn describe(&self, action: StoreAction, key: &str) -> String {
        let path = if key.is_empty() {
            self.root.clone()
        } else {
            self.path_unchecked(key)
        };
        format!("{action} {path}")
    }

    /// Counts one request and makes it, unless injected faults fail it first (or after).
    pub(super) async fn request<T>(
        &self,
        action: StoreAction,
        key: &str,
        run: impl std::future::Future<Output = Result<T, PublishError>>,
    ) -> Result<T, PublishError> {
        self.count();
        match &self.faults {
            None => run.await,
            Some(faults) => {
                let fail = |e| self.err(action, key, e);
                faults.run(self.describe(action, key), run, fail).await
            }
        }
    }

    /// [`RepoStore::request`] for a request made on the calling thread.
    pub(super) fn request_blocking<T>(
        &self,
        action: StoreAction,
        key: &str,
        run: impl FnOnce() -> Result<T, PublishError>,
    ) -> Result<T, PublishError> {
        self.count();
        match &self.faults {
            None => run(),
            Some(faults) => faults.run_blocking(self.describe(action, key), run, |e| {
                self.err(action, key, e)
            }),
        }
    }
}
