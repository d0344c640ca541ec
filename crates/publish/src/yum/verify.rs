//! Reading a YUM repository the way dnf does: what `repomd.xml` names.

use falco_artifacts_core::Sha256Digest;

use super::{repomd, YumRepository, REPOMD, REPOMD_ASC};
use crate::error::PublishError;
use crate::store::RepoStore;
use falco_artifacts_core::Problem;

/// Checks every document `repomd.xml` names against the digest it gives, and the signature;
/// the packages are read only when those are sound.
pub(super) async fn check_top(
    yum: &YumRepository,
    store: &RepoStore,
    problems: &mut Vec<Problem>,
) -> Result<bool, PublishError> {
    let Some(repomd_bytes) = store.get(REPOMD).await? else {
        return Ok(false);
    };
    // Every document repomd.xml names, with the digest it gives.
    let listed = repomd::parse(&String::from_utf8_lossy(&repomd_bytes)).map_err(|source| {
        PublishError::BadRepodata {
            key: REPOMD.into(),
            source,
        }
    })?;
    for entry in &listed {
        match store.get(&entry.href).await? {
            None => problems.push(Problem::MissingFile {
                path: entry.href.clone(),
            }),
            Some(bytes) => {
                let stored = Sha256Digest::of_bytes(&bytes);
                if stored != entry.checksum {
                    problems.push(Problem::HashMismatch {
                        path: entry.href.clone(),
                        indexed: entry.checksum,
                        stored,
                    });
                }
            }
        }
    }
    if yum.signer.is_some() && store.head(REPOMD_ASC).await?.is_none() {
        problems.push(Problem::MissingSignature {
            path: REPOMD_ASC.into(),
        });
    }
    Ok(problems.is_empty())
}
