//! What the APT repository reads back before a publish: the live `Release`, the `Packages`
//! it names (through `by-hash`, so a half-written canonical name is never read), and the
//! protocol's own bookkeeping.

use std::collections::BTreeMap;

use falco_artifacts_core::Sha256Digest;
use serde::{Deserialize, Serialize};

use super::packages::{self, Stanza};
use super::Layout;
use crate::error::PublishError;
use crate::store::RepoStore;

/// Bookkeeping carried between generations (`.publish/apt-state.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bookkeeping {
    /// Content-addressed index files per generation, newest first.
    #[serde(default)]
    pub(crate) by_hash: Vec<Vec<String>>,
    /// Pool files pruned by the last generation, deleted again in case that publisher died.
    #[serde(default)]
    pub(crate) pruned: Vec<String>,
}

/// The live state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    /// Stanzas per binary architecture (`amd64`).
    pub(crate) stanzas: BTreeMap<String, Vec<Stanza>>,
    pub(crate) bookkeeping: Bookkeeping,
    /// Whether a `Release` exists at all.
    pub(crate) exists: bool,
    /// The live `Release`, as read.
    pub(crate) release: Option<bytes::Bytes>,
}

impl Live {
    /// Every pool file the live indexes name, with digest and size.
    pub(crate) fn pool_files(&self) -> BTreeMap<&str, (Sha256Digest, u64)> {
        self.stanzas
            .values()
            .flatten()
            .map(|s| (s.filename.as_str(), (s.sha256, s.size)))
            .collect()
    }
}

pub(crate) const BOOKKEEPING: &str = ".publish/apt-state.json";

async fn bookkeeping(store: &RepoStore) -> Result<Bookkeeping, PublishError> {
    match store.get(BOOKKEEPING).await? {
        None => Ok(Bookkeeping::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|source| PublishError::Corrupt {
            key: BOOKKEEPING.into(),
            source,
        }),
    }
}

/// Reads the live state again under the lock: when `Release` is byte for byte what `earlier`
/// read, its parsed `Packages` are reused instead of fetched and parsed again.
pub(crate) async fn refresh(
    store: &RepoStore,
    layout: &Layout,
    earlier: Live,
) -> Result<Live, PublishError> {
    let release = store.get(&layout.release()).await?;
    if release.is_some() && release == earlier.release {
        return Ok(Live {
            bookkeeping: bookkeeping(store).await?,
            ..earlier
        });
    }
    read_with(store, layout, release).await
}

pub(crate) async fn read(store: &RepoStore, layout: &Layout) -> Result<Live, PublishError> {
    let release = store.get(&layout.release()).await?;
    read_with(store, layout, release).await
}

async fn read_with(
    store: &RepoStore,
    layout: &Layout,
    release: Option<bytes::Bytes>,
) -> Result<Live, PublishError> {
    let mut live = Live {
        bookkeeping: bookkeeping(store).await?,
        ..Live::default()
    };
    let Some(release) = release else {
        return Ok(live);
    };
    live.exists = true;
    live.release = Some(release.clone());
    let release = String::from_utf8_lossy(&release);
    for (path, sha, _) in super::release::sha256_list(&release) {
        let Some(arch) = layout.arch_of_packages(&path) else {
            continue;
        };
        let key = layout.by_hash(&arch, &sha);
        let bytes = store.get(&key).await?.ok_or_else(|| PublishError::Store {
            store: format!("{store:?}"),
            action: crate::error::StoreAction::Get,
            key: key.clone(),
            source: object_store::Error::NotFound {
                path: key.clone(),
                source: "the live Release names it".into(),
            },
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let stanzas =
            packages::parse(&text).map_err(|source| PublishError::BadIndex { key, source })?;
        live.stanzas.insert(arch, stanzas);
    }
    Ok(live)
}
