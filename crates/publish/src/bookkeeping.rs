//! The protocol's bookkeeping for package indexes (APT, YUM): which content-addressed files
//! each kept generation wrote, and which packages the live generation pruned.
//!
//! It is stored per generation, named after the digest of that generation's top file
//! (`.publish/apt-state/<sha256 of Release>.json`), and written with the content-addressed
//! files, before the switch. So it always describes exactly the generation a reader finds
//! live: a commit that fails before (or while) its top file is written leaves bookkeeping
//! no live index points to, instead of bookkeeping ahead of the live index, which once made
//! the next publish delete files the live index still named. It is deleted with the
//! generation's other content-addressed files.

use bytes::Bytes;
use falco_artifacts_core::Sha256Digest;
use serde::{Deserialize, Serialize};

use crate::commit::IndexFile;
use crate::error::PublishError;
use crate::store::RepoStore;

/// Bookkeeping carried between generations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bookkeeping {
    /// Content-addressed index files per generation, newest first.
    #[serde(default)]
    pub(crate) by_hash: Vec<Vec<String>>,
    /// Package files pruned by this generation, deleted again by the next in case that
    /// publisher died before deleting them.
    #[serde(default)]
    pub(crate) pruned: Vec<String>,
}

/// Where the bookkeeping of the `format` generation whose top file is `top` is kept.
pub(crate) fn key(format: &str, top: &[u8]) -> String {
    format!(
        ".publish/{format}-state/{}.json",
        Sha256Digest::of_bytes(top)
    )
}

/// The bookkeeping of the live generation, whose top file is `top`. A generation without
/// one (none live yet, or written by another tool or an older version of this crate) has
/// none: nothing is known to be pruned, nothing is deleted on its account.
pub(crate) async fn read(
    store: &RepoStore,
    format: &str,
    top: Option<&Bytes>,
) -> Result<Bookkeeping, PublishError> {
    let Some(top) = top else {
        return Ok(Bookkeeping::default());
    };
    let key = key(format, top);
    match store.get(&key).await? {
        None => Ok(Bookkeeping::default()),
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| PublishError::Corrupt { key, source })
        }
    }
}

impl Bookkeeping {
    /// The file that records `self` for the generation whose top file is `top`; its key is
    /// already in `self.by_hash[0]` (see [`key`]).
    pub(crate) fn file(&self, format: &str, top: &[u8]) -> IndexFile {
        IndexFile {
            key: key(format, top),
            bytes: Bytes::from(serde_json::to_vec_pretty(self).unwrap_or_default()).into(),
        }
    }
}
