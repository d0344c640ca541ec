//! Conditional writes, which fence a late writer: a top file is written only over the version
//! read when the lock was taken (`If-Match` on S3, versions in memory, a locked compare on
//! `file://`).

use std::sync::atomic::Ordering;

use object_store::{PutMode, PutPayload, UpdateVersion};

use super::RepoStore;
use crate::error::{PublishError, StoreAction};

/// The state of an object a conditional write expects to replace: what fences a late writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expected {
    /// There was no object.
    Absent,
    /// The object as it was, by e-tag and version.
    Version {
        /// Its e-tag.
        e_tag: Option<String>,
        /// Its version, on stores that keep versions.
        version: Option<String>,
    },
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fenced {
    /// Written over the expected object.
    Written,
    /// The object had changed: nothing was written.
    Moved,
    /// The store cannot write conditionally: written without the check.
    Unfenced,
}

impl RepoStore {
    /// What `key` is now, for a later [`RepoStore::overwrite_if`].
    pub(crate) async fn expect(&self, key: &str) -> Result<Expected, PublishError> {
        Ok(match self.head(key).await? {
            None => Expected::Absent,
            Some(meta) => Expected::Version {
                e_tag: meta.e_tag,
                version: meta.version,
            },
        })
    }

    /// Writes `key` only if it is still as `expected` said: a conditional put (`If-Match` on
    /// S3, a generation match elsewhere, a locked compare on `file://`). A store that cannot
    /// write conditionally gets a plain write ([`Fenced::Unfenced`]).
    pub(crate) async fn overwrite_if(
        &self,
        key: &str,
        payload: PutPayload,
        expected: &Expected,
    ) -> Result<Fenced, PublishError> {
        if self.local.is_none() && self.unconditional.load(Ordering::Relaxed) {
            return self
                .overwrite(key, payload)
                .await
                .map(|()| Fenced::Unfenced);
        }
        let fenced = self
            .request(
                StoreAction::Overwrite,
                key,
                self.overwrite_if_now(key, payload.clone(), expected),
            )
            .await?;
        match fenced {
            Some(fenced) => Ok(fenced),
            None => {
                self.unconditional.store(true, Ordering::Relaxed);
                self.overwrite(key, payload)
                    .await
                    .map(|()| Fenced::Unfenced)
            }
        }
    }

    /// The write of [`RepoStore::overwrite_if`], uncounted; `None` when the store cannot
    /// write conditionally.
    async fn overwrite_if_now(
        &self,
        key: &str,
        payload: PutPayload,
        expected: &Expected,
    ) -> Result<Option<Fenced>, PublishError> {
        let path = self.path_unchecked(key);
        if let Some(local) = &self.local {
            let e_tag = match expected {
                Expected::Absent => None,
                Expected::Version { e_tag, .. } => e_tag.as_deref(),
            };
            return match local.overwrite_if(&path, &payload, e_tag) {
                Ok(true) => Ok(Some(Fenced::Written)),
                Ok(false) => Ok(Some(Fenced::Moved)),
                Err(e) => Err(self.err(StoreAction::Overwrite, key, e)),
            };
        }
        let mode = match expected {
            Expected::Absent => PutMode::Create,
            Expected::Version { e_tag, version } => PutMode::Update(UpdateVersion {
                e_tag: e_tag.clone(),
                version: version.clone(),
            }),
        };
        let opts = self.put_options(key, mode);
        match self.inner.put_opts(&path, payload, opts).await {
            Ok(_) => Ok(Some(Fenced::Written)),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Ok(Some(Fenced::Moved)),
            Err(object_store::Error::NotImplemented { .. }) => Ok(None),
            Err(e) => Err(self.err(StoreAction::Overwrite, key, e)),
        }
    }
}
