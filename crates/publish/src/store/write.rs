//! Writes that replace what is there, and batches of independent writes: on `file://` made
//! at once on their own threads (so their syncs overlap), a hard link where a
//! content-addressed twin holds the bytes already.

use object_store::{PutMode, PutPayload};

use super::{check_key, RepoStore};
use crate::error::{PublishError, StoreAction};
use crate::local_dir::LocalDir;

/// One write of a batch given to [`RepoStore::write_all`].
pub(crate) enum Write<'a> {
    /// Create-if-absent.
    Create { key: &'a str, bytes: &'a PutPayload },
    /// Replace; `twin`: a content-addressed key already holding these bytes.
    Overwrite {
        key: &'a str,
        bytes: &'a PutPayload,
        twin: Option<&'a str>,
    },
}

impl RepoStore {
    /// Runs independent writes: at once on `file://` (so their syncs overlap), one after
    /// another elsewhere (request order stays what it was, which failure tests rely on).
    pub(crate) async fn write_all(&self, writes: Vec<Write<'_>>) -> Result<(), PublishError> {
        if let (Some(local), true) = (&self.local, writes.len() > 1) {
            let results: Vec<Result<(), PublishError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = writes
                    .iter()
                    .map(|w| scope.spawn(move || self.write_local(local, w)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            });
            return results.into_iter().collect();
        }
        for w in writes {
            match w {
                Write::Create { key, bytes } => {
                    self.create(key, bytes.clone()).await?;
                }
                Write::Overwrite { key, bytes, twin } => match twin {
                    Some(from) => self.overwrite_as_copy_of(key, from, bytes.clone()).await?,
                    None => self.overwrite(key, bytes.clone()).await?,
                },
            }
        }
        Ok(())
    }

    fn write_local(&self, local: &LocalDir, w: &Write<'_>) -> Result<(), PublishError> {
        match w {
            Write::Create { key, bytes } => self.request_blocking(StoreAction::Create, key, || {
                local
                    .create(&self.path_unchecked(key), bytes, true)
                    .map(|_| ())
                    .map_err(|e| self.err(StoreAction::Create, key, e))
            }),
            Write::Overwrite { key, bytes, twin } => {
                self.request_blocking(StoreAction::Overwrite, key, || {
                    self.overwrite_local(local, key, *twin, bytes)
                })
            }
        }
    }

    /// Replaces `key` on `file://`: a hard link to `twin` when there is one, else a write.
    fn overwrite_local(
        &self,
        local: &LocalDir,
        key: &str,
        twin: Option<&str>,
        bytes: &PutPayload,
    ) -> Result<(), PublishError> {
        let to = self.path_unchecked(key);
        if let Some(from) = twin {
            if local.link_over(&self.path_unchecked(from), &to).is_ok() {
                return Ok(());
            }
        }
        local
            .overwrite(&to, bytes)
            .map_err(|e| self.err(StoreAction::Overwrite, key, e))
    }

    /// Writes one object of the site outside every repository's protocol (the public key
    /// bundle at the root), replacing what is there, with the store's headers and ACL like
    /// every other object: no lock, no generation, and nothing names it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let site = tempfile::tempdir()?;
    /// let store = falco_artifacts_publish::RepoStore::from_url(&format!("file://{}", site.path().display()))?;
    /// store.put_site_file("falcosecurity-packages.asc", b"keys".to_vec()).await?;
    /// assert_eq!(std::fs::read(site.path().join("falcosecurity-packages.asc"))?, b"keys");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn put_site_file(&self, key: &str, bytes: Vec<u8>) -> Result<(), PublishError> {
        check_key(key)?;
        self.overwrite(key, PutPayload::from(bytes)).await
    }

    /// Writes `key`, replacing what is there.
    pub(crate) async fn overwrite(
        &self,
        key: &str,
        payload: PutPayload,
    ) -> Result<(), PublishError> {
        self.overwrite_with_twin(key, None, payload).await
    }

    /// Writes `key`, on `file://` as a hard link to `twin` when there is one.
    async fn overwrite_with_twin(
        &self,
        key: &str,
        twin: Option<&str>,
        payload: PutPayload,
    ) -> Result<(), PublishError> {
        self.request(StoreAction::Overwrite, key, async {
            if let Some(local) = &self.local {
                return self.overwrite_local(local, key, twin, &payload);
            }
            self.inner
                .put_opts(
                    &self.path_unchecked(key),
                    payload,
                    self.put_options(key, PutMode::Overwrite),
                )
                .await
                .map(|_| ())
                .map_err(|e| self.err(StoreAction::Overwrite, key, e))
        })
        .await
    }

    /// Writes `key` with the bytes of the content-addressed object at `from` (which holds
    /// `payload`): on `file://` a hard link, so the bytes are not written twice; elsewhere an
    /// ordinary write.
    pub(crate) async fn overwrite_as_copy_of(
        &self,
        key: &str,
        from: &str,
        payload: PutPayload,
    ) -> Result<(), PublishError> {
        self.overwrite_with_twin(key, Some(from), payload).await
    }
}
