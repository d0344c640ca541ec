//! What the APT repository reads back before a publish: the live `Release`, the `Packages`
//! it names (through `by-hash`, so a half-written canonical name is never read), and the
//! protocol's own bookkeeping.

use std::collections::{BTreeMap, BTreeSet};

use falco_artifacts_core::Sha256Digest;

use super::buckets::{self, Carried, DocLayout};
use super::packages::{self, Stanza};
use super::Layout;
use crate::error::PublishError;
use crate::protocol::bookkeeping::{self, Bookkeeping};
use crate::store::RepoStore;

/// The live state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    /// Stanzas per binary architecture (`amd64`): all of them, or only those of the buckets a
    /// publish touches when the rest are in `carried`.
    pub(crate) stanzas: BTreeMap<String, Vec<Stanza>>,
    /// Per architecture, the live files and the buckets left unparsed.
    pub(crate) carried: BTreeMap<String, Carried>,
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

/// The format's name in the bookkeeping's key.
pub(crate) const FORMAT: &str = "apt";

/// Reads the live state again under the lock: when `Release` is byte for byte what `earlier`
/// read, its parsed `Packages` are reused instead of fetched and parsed again.
pub(crate) async fn refresh(
    store: &RepoStore,
    layout: &Layout,
    earlier: Live,
    scope: Option<&BTreeSet<u8>>,
) -> Result<Live, PublishError> {
    let release = store.get(&layout.release()).await?;
    if release.is_some() && release == earlier.release {
        // Named by the Release it belongs to: the same Release, the same bookkeeping.
        return Ok(earlier);
    }
    read_with(store, layout, release, scope).await
}

/// Reads the live state, parsing every bucket.
pub(crate) async fn read(store: &RepoStore, layout: &Layout) -> Result<Live, PublishError> {
    read_scoped(store, layout, None).await
}

/// Reads the live state; with `scope`, only those buckets are parsed and the others carried
/// (when the layout is known).
pub(crate) async fn read_scoped(
    store: &RepoStore,
    layout: &Layout,
    scope: Option<&BTreeSet<u8>>,
) -> Result<Live, PublishError> {
    let release = store.get(&layout.release()).await?;
    read_with(store, layout, release, scope).await
}

/// The object at `key`, which the live `Release` names.
async fn named(store: &RepoStore, key: String) -> Result<bytes::Bytes, PublishError> {
    store.get(&key).await?.ok_or_else(|| PublishError::Store {
        store: format!("{store:?}"),
        action: crate::error::StoreAction::Get,
        key: key.clone(),
        source: object_store::Error::NotFound {
            path: key.clone(),
            source: "the live Release names it".into(),
        },
    })
}

async fn read_with(
    store: &RepoStore,
    layout: &Layout,
    release: Option<bytes::Bytes>,
    scope: Option<&BTreeSet<u8>>,
) -> Result<Live, PublishError> {
    let mut live = Live {
        bookkeeping: bookkeeping::read(store, FORMAT, release.as_ref()).await?,
        ..Live::default()
    };
    let Some(release) = release else {
        return Ok(live);
    };
    live.exists = true;
    live.release = Some(release.clone());
    // The files the last generation pruned need no bucket of their own: the live index does
    // not name them, so only this publish's packages (parsed) could name them again.
    let release = String::from_utf8_lossy(&release);
    let listed = super::release::sha256_list(&release);
    for (path, sha, size) in &listed {
        let Some(arch) = layout.arch_of_packages(path) else {
            continue;
        };
        let gz = listed
            .iter()
            .find(|(p, _, _)| p.strip_suffix(".gz") == Some(path.as_str()));
        if let (Some(parse_only), Some((_, gz_sha, gz_size))) = (scope, gz) {
            let plain = (sha, *size);
            if let Some((stanzas, carried)) =
                read_buckets(store, layout, &arch, plain, (gz_sha, *gz_size), parse_only).await?
            {
                live.stanzas.insert(arch.clone(), stanzas);
                live.carried.insert(arch, carried);
                continue;
            }
        }
        let key = layout.by_hash(&arch, sha);
        let bytes = named(store, key.clone()).await?;
        let text = String::from_utf8_lossy(&bytes);
        let stanzas =
            packages::parse(&text).map_err(|source| PublishError::BadIndex { key, source })?;
        live.stanzas.insert(arch, stanzas);
    }
    Ok(live)
}

/// Parses the buckets in `parse_only` of one architecture's `Packages` and carries the
/// others. `None` when there is no usable layout (an index another tool wrote, or a layout
/// that does not match the files): the caller parses the whole file.
async fn read_buckets(
    store: &RepoStore,
    layout: &Layout,
    arch: &str,
    (sha, size): (&Sha256Digest, u64),
    (gz_sha, gz_size): (&Sha256Digest, u64),
    parse_only: &BTreeSet<u8>,
) -> Result<Option<(Vec<Stanza>, Carried)>, PublishError> {
    let Some(doc) = store.get(&buckets::layout_key(sha)).await? else {
        return Ok(None);
    };
    let Ok(doc) = serde_json::from_slice::<DocLayout>(&doc) else {
        return Ok(None);
    };
    if &doc.gz_sha256 != gz_sha {
        return Ok(None);
    }
    let key = layout.by_hash(arch, sha);
    let plain = named(store, key.clone()).await?;
    let gz = named(store, layout.by_hash(arch, gz_sha)).await?;
    if plain.len() as u64 != size || gz.len() as u64 != gz_size || !doc.fits(&plain, &gz) {
        return Ok(None);
    }
    let mut carried = Carried {
        plain,
        gz,
        members: Vec::new(),
    };
    let mut stanzas = Vec::new();
    for member in doc.members {
        let Some((text, _)) = carried.slices(&member) else {
            return Ok(None);
        };
        if !parse_only.contains(&member.bucket) {
            carried.members.push(member);
            continue;
        }
        let text = String::from_utf8_lossy(&text);
        let parsed = packages::parse(&text).map_err(|source| PublishError::BadIndex {
            key: key.clone(),
            source,
        })?;
        stanzas.extend(parsed);
    }
    Ok(Some((stanzas, carried)))
}
