//! What the YUM repository reads back before a publish: the live `repomd.xml`, the three
//! documents it names (content-addressed, so never half-written), and the protocol's own
//! bookkeeping.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use falco_artifacts_core::Sha256Digest;

use super::blocks::{self, Bucket, Layout, LiveDoc};
use super::metadata::{self, Kind};
use super::record::Record;
use super::repomd;
use super::xml::BadMetadata;
use super::REPOMD;
use crate::error::{PublishError, StoreAction};
use crate::protocol::bookkeeping::{self, Bookkeeping};
use crate::store::RepoStore;

/// The format's name in the bookkeeping's key.
pub(crate) const FORMAT: &str = "yum";

/// Where the bucket layout of the generation whose `repomd.xml` is `repomd` is kept: named by
/// that file's digest, so it is written before the switch and always matches what is live.
pub(crate) fn layout_key(repomd: &[u8]) -> String {
    format!(
        ".publish/yum-layout/{}.json",
        Sha256Digest::of_bytes(repomd)
    )
}

/// The live state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    /// The packages, by key (`location href`).
    pub(crate) records: BTreeMap<String, Record>,
    pub(crate) bookkeeping: Bookkeeping,
    /// The live `repomd.xml`, as read.
    pub(crate) repomd: Option<Bytes>,
    /// The live documents and their buckets, when their layout is known (then the records
    /// have no elements: they stay compressed in here until a bucket changes).
    pub(crate) docs: BTreeMap<Kind, LiveDoc>,
    /// Buckets a scoped read left unparsed (their packages are not in `records`): carried
    /// into the next generation as they are.
    pub(crate) carried: BTreeMap<u8, Bucket>,
}

impl Live {
    pub(crate) fn exists(&self) -> bool {
        self.repomd.is_some()
    }
}

/// Reads the live state again under the lock, reusing `earlier`'s parsed documents when
/// `repomd.xml` has not changed since.
pub(crate) async fn refresh(
    store: &RepoStore,
    earlier: Live,
    scope: Option<&BTreeSet<u8>>,
) -> Result<Live, PublishError> {
    let repomd = store.get(REPOMD).await?;
    if repomd.is_some() && repomd == earlier.repomd {
        // Named by the repomd.xml it belongs to: the same repomd.xml, the same bookkeeping.
        return Ok(earlier);
    }
    read_docs(store, repomd, true, scope).await
}

/// Reads the live state with every package.
pub(crate) async fn read(store: &RepoStore) -> Result<Live, PublishError> {
    read_scoped(store, None).await
}

/// Reads the live state; with `scope`, only the packages of those buckets are parsed and the
/// others carried (when the layout is known).
pub(crate) async fn read_scoped(
    store: &RepoStore,
    scope: Option<&BTreeSet<u8>>,
) -> Result<Live, PublishError> {
    let repomd = store.get(REPOMD).await?;
    read_docs(store, repomd, true, scope).await
}

fn bad(key: &str, source: BadMetadata) -> PublishError {
    PublishError::BadRepodata {
        key: key.to_owned(),
        source,
    }
}

/// Fetches a document `repomd.xml` names and checks its digest.
pub(crate) async fn document(
    store: &RepoStore,
    listed: &repomd::Listed,
) -> Result<Bytes, PublishError> {
    let key = &listed.href;
    let bytes = store.get(key).await?.ok_or_else(|| PublishError::Store {
        store: format!("{store:?}"),
        action: StoreAction::Get,
        key: key.clone(),
        source: object_store::Error::NotFound {
            path: key.clone(),
            source: "the live repomd.xml names it".into(),
        },
    })?;
    let actual = Sha256Digest::of_bytes(&bytes);
    if actual != listed.checksum {
        return Err(bad(
            key,
            BadMetadata::Digest {
                expected: listed.checksum.to_hex(),
                actual: actual.to_hex(),
            },
        ));
    }
    Ok(bytes)
}

/// Reads the live state, parsing every document (what verification does, and the way in for
/// a repository whose bucket layout is unknown, such as one createrepo_c made).
pub(crate) async fn read_full(store: &RepoStore) -> Result<Live, PublishError> {
    let repomd = store.get(REPOMD).await?;
    read_docs(store, repomd, false, None).await
}

async fn read_docs(
    store: &RepoStore,
    repomd: Option<Bytes>,
    use_layout: bool,
    scope: Option<&BTreeSet<u8>>,
) -> Result<Live, PublishError> {
    let mut live = Live {
        bookkeeping: bookkeeping::read(store, FORMAT, repomd.as_ref()).await?,
        ..Live::default()
    };
    let Some(bytes) = repomd else {
        return Ok(live);
    };
    let listed = repomd::parse(&String::from_utf8_lossy(&bytes)).map_err(|e| bad(REPOMD, e))?;
    let mut entries = Vec::new();
    for kind in Kind::ALL {
        let entry = listed.iter().find(|l| l.kind == kind).ok_or_else(|| {
            bad(
                REPOMD,
                BadMetadata::Missing {
                    element: "repomd",
                    what: match kind {
                        Kind::Primary => "primary <data>",
                        Kind::Filelists => "filelists <data>",
                        Kind::Other => "other <data>",
                    },
                },
            )
        })?;
        entries.push((kind, entry));
    }
    let layout_key = layout_key(&bytes);
    let layout = if use_layout {
        // A layout this version cannot read (an older format) only means a full parse.
        store
            .get(&layout_key)
            .await?
            .and_then(|l| serde_json::from_slice::<Layout>(&l).ok())
    } else {
        None
    };
    let fetched = futures::future::try_join_all(entries.iter().map(|(kind, entry)| async move {
        Ok::<_, PublishError>((*kind, document(store, entry).await?))
    }))
    .await?;
    if let Some(layout) = layout {
        for (kind, doc) in fetched {
            live.docs.insert(
                kind,
                LiveDoc {
                    bytes: doc,
                    members: layout.members(kind).to_vec(),
                },
            );
        }
        for (bucket, packed) in layout.buckets {
            if scope.is_some_and(|s| !s.contains(&bucket)) {
                live.carried.insert(bucket, packed);
                continue;
            }
            let records = packed.parse().map_err(|source| PublishError::Corrupt {
                key: layout_key.clone(),
                source,
            })?;
            live.records
                .extend(records.into_iter().map(|r| (r.href.clone(), r)));
        }
    } else {
        let mut docs: BTreeMap<Kind, String> = BTreeMap::new();
        for ((kind, doc), (_, entry)) in fetched.into_iter().zip(&entries) {
            docs.insert(kind, blocks::gunzip(&doc).map_err(|e| bad(&entry.href, e))?);
        }
        let doc = |k: Kind| docs.get(&k).map_or("", String::as_str);
        let records = metadata::parse(doc(Kind::Primary), doc(Kind::Filelists), doc(Kind::Other))
            .map_err(|e| bad(REPOMD, e))?;
        live.records = records.into_iter().map(|r| (r.href.clone(), r)).collect();
    }
    live.repomd = Some(bytes);
    Ok(live)
}
