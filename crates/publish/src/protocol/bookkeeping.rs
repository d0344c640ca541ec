//! The protocol's bookkeeping for package indexes (APT, YUM): which content-addressed files
//! each kept generation wrote, which pruned package files wait for deletion until no kept
//! generation names them ([`deferred`](super::deferred)), and which the live generation's
//! commit deleted.
//!
//! It is stored per generation, named after the digest of that generation's top file
//! (`.publish/apt-state/<sha256 of Release>.json`), and written with the content-addressed
//! files, before the switch. So it always describes exactly the generation a reader finds
//! live: a commit that fails before (or while) its top file is written leaves bookkeeping
//! no live index points to, instead of bookkeeping ahead of the live index, which once made
//! the next publish delete files the live index still named. It is deleted with the
//! generation's other content-addressed files.

use std::collections::BTreeSet;

use bytes::Bytes;
use falco_artifacts_core::Sha256Digest;
use serde::{Deserialize, Serialize};

use super::deferred;
use crate::error::PublishError;
use crate::protocol::commit::IndexFile;
use crate::store::RepoStore;

/// Bookkeeping carried between generations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bookkeeping {
    /// Content-addressed index files per generation, newest first.
    #[serde(default)]
    pub(crate) by_hash: Vec<Vec<String>>,
    /// Package files this generation's commit deleted, deleted again by the next in case that
    /// publisher died before deleting them.
    #[serde(default)]
    pub(crate) pruned: Vec<String>,
    /// Package files pruned by kept generations but still named by an older kept one, per
    /// generation, newest first ([`deferred`](super::deferred)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deferred: Vec<Vec<String>>,
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

impl Bookkeeping {
    /// The next generation's bookkeeping file (its top file is `top`) and what its commit
    /// deletes:
    /// `this_generation` are its content-addressed files, `pruned` the package files its
    /// merge dropped (each with its `.asc`), `named` whether the new index names a package
    /// file. Deleted: the pruned files no kept generation names any more (see
    /// [`deferred`](super::deferred)), those the live generation's commit deleted that nothing
    /// names again (its publisher may have died before deleting them), and the
    /// content-addressed files of generations beyond the `generations` kept.
    pub(crate) fn advance(
        &self,
        format: &str,
        top: &[u8],
        mut this_generation: Vec<String>,
        generations: usize,
        pruned: impl IntoIterator<Item = String>,
        named: impl Fn(&str) -> bool,
    ) -> (IndexFile, Vec<String>) {
        // The bookkeeping goes with its generation: written before the switch, deleted with it.
        this_generation.push(key(format, top));
        let mut by_hash = vec![this_generation];
        by_hash.extend(self.by_hash.iter().cloned());
        let dropped: Vec<Vec<String>> = by_hash.split_off(by_hash.len().min(generations));
        let kept: BTreeSet<&String> = by_hash.iter().flatten().collect();
        let deletions = deferred::advance(
            &self.deferred,
            &self.pruned,
            pruned.into_iter().flat_map(|f| [format!("{f}.asc"), f]),
            generations,
            |k| named(k.trim_end_matches(".asc")),
        );
        let mut delete: BTreeSet<String> = deletions.delete.into_iter().collect();
        delete.extend(dropped.into_iter().flatten().filter(|k| !kept.contains(k)));
        let next = Bookkeeping {
            by_hash,
            pruned: deletions.due,
            deferred: deletions.deferred,
        };
        (next.file(format, top), delete.into_iter().collect())
    }

    /// The package files waiting for deletion, still named by a kept generation.
    pub(crate) fn waiting(&self) -> BTreeSet<&str> {
        deferred::waiting(&self.deferred)
    }
}
