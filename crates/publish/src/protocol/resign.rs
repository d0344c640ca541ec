//! Re-signing a live repository in place with another key, as one commit under the lock:
//! the packages' embedded signatures (an rpm's header signature), every detached `.asc` beside
//! a package, and the signed top files, which the next generation's commit writes. Package
//! headers and payloads are never rebuilt, so every payload digest stays what it was.
//!
//! What a reader sees: a `.deb`'s or a tarball's bytes do not change, only its `.asc` (a
//! valid signature over the same bytes under either key). An `.rpm`'s bytes do change (its
//! signature header), under the same name, because the public layout names packages
//! `falco-<version>-<arch>.rpm`: from the moment a package is rewritten until the new
//! `repomd.xml` is live, a client holding the old `primary.xml` sees a checksum mismatch for
//! that package (dnf reports it and retries the download after `makecache`), and so does a
//! client of an older kept generation. Re-signing is therefore meant for a quiet moment (a
//! key rotation), not for every publish.

use bytes::Bytes;
use falco_artifacts_core::{ArtifactKind, LocalArtifact, Retention, Signer};
use object_store::PutPayload;

use super::commit::IndexFile;
use super::fence::Fence;
use super::lock::LockGuard;
use super::upload::Staged;
use super::{finish, Format};
use crate::cdn;
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::index::FileKind;

/// What a re-sign rewrote, keys relative to the repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResignReport {
    /// The repository's path in the store (`packages/rpm`).
    pub repository: String,
    /// Package files whose embedded signature was replaced (`.rpm`), bytes rewritten.
    pub packages: Vec<String>,
    /// Detached signatures (`.asc`) made again over unchanged package bytes.
    pub signatures: Vec<String>,
    /// The index and top files the commit wrote (`InRelease`, `repomd.xml.asc`, …).
    pub index_files: Vec<String>,
}

impl ResignReport {
    /// Whether nothing was live to re-sign.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.signatures.is_empty() && self.index_files.is_empty()
    }
}

/// A package's signature with `signer` over `bytes`, as a staged `.asc` described like the
/// package it signs.
fn detached(
    key: &str,
    bytes: &Bytes,
    like: &crate::index::IndexEntry,
    signer: &dyn Signer,
) -> Result<(Staged, Bytes), PublishError> {
    let asc = signer
        .sign_detached_armored(&mut &bytes[..])
        .map_err(|source| PublishError::Sign {
            what: "a package's .asc",
            source,
        })?;
    let asc = Bytes::from(asc.into_bytes());
    let asc_key = format!("{key}.asc");
    let name = asc_key.rsplit('/').next().unwrap_or(&asc_key).to_owned();
    let mut artifact = LocalArtifact::from_bytes(ArtifactKind::Signature, &name, asc.to_vec())
        .map_err(|source| PublishError::InvalidKey {
            key: format!("{asc_key} ({source})"),
            reason: "not a usable artifact file name",
        })?;
    if let Some(version) = &like.version {
        artifact = artifact.with_version(version.clone());
    }
    if let Some(arch) = like.arch {
        artifact = artifact.with_arch(arch);
    }
    let staged = Staged {
        key: asc_key,
        artifact: std::sync::Arc::new(artifact),
    };
    Ok((staged, asc))
}

/// Re-signs the live generation of `repo` with `signer`, under its lock, as one commit: every
/// package the index names is read; the format replaces its embedded signature when it has
/// one ([`Format::resign_package`]; the package is then rewritten at once, and the merge sees
/// it through its offer only); its `.asc`, when one is stored, is made again over the (new)
/// bytes; the next generation, merged with the new signatures and offers and nothing dropped,
/// is committed (its top files signed by the format's signer: the same key). Everything
/// rewritten is written before the top files that name it. An empty repository is left alone.
///
/// A re-sign that fails half-way leaves the packages it rewrote under an index naming their
/// old checksums (dnf sees a mismatch for those): running it again converges, since it reads
/// and signs whatever is stored. The lease is checked before each package: a repository whose
/// re-sign takes longer than [`LockOptions::lease`](crate::LockOptions) needs a longer one.
pub(crate) async fn resign<F: Format>(
    format: &F,
    repo: &FileRepo,
    signer: &dyn Signer,
) -> Result<ResignReport, PublishError> {
    let mut report = ResignReport {
        repository: repo.store.root().to_owned(),
        ..ResignReport::default()
    };
    let earlier = format.read(repo, None).await?;
    if !format.exists(&earlier) {
        // Nothing published: no lock taken, nothing written.
        return Ok(report);
    }
    let guard = LockGuard::acquire(&repo.store, &repo.lock).await?;
    let result = async {
        let fence = Fence::read(&repo.store, format.top_keys()).await?;
        let live = format.refresh(repo, earlier, None).await?;
        if !format.exists(&live) {
            return Ok((report, Default::default()));
        }
        let index = format.hint(&live).into_owned();
        let mut staged = Vec::new();
        let mut offered = Vec::new();
        let mut rewritten = Vec::new();
        let packages = index
            .files
            .iter()
            .filter(|e| e.kind != FileKind::Signature && !e.path.ends_with(".asc"));
        for entry in packages {
            // A long re-sign must not write on once its lease is gone.
            guard.check().await?;
            let asc_key = format!("{}.asc", entry.path);
            let has_asc = repo.store.head(&asc_key).await?.is_some();
            let Some(mut current) = repo.store.get(&entry.path).await? else {
                return Err(PublishError::ResignMissing {
                    key: format!("{}/{}", repo.store.root(), entry.path),
                });
            };
            if let Some((bytes, offer)) = format.resign_package(&entry.path, &current, signer)? {
                // Written now, one package at a time, so that a large repository is never
                // held in memory; still before any index names it, under the lock.
                repo.store
                    .overwrite(&entry.path, PutPayload::from(bytes.clone()))
                    .await?;
                offered.push(offer);
                report.packages.push(entry.path.clone());
                current = bytes;
            }
            if has_asc {
                let (asc, bytes) = detached(&entry.path, &current, entry, signer)?;
                rewritten.push(IndexFile {
                    key: asc.key.clone(),
                    bytes: PutPayload::from(bytes),
                });
                report.signatures.push(asc.key.clone());
                staged.push(asc);
            }
        }
        let merged = format.merge(&live, &staged, &offered, Retention::KeepAll);
        let mut commit = format.commit(repo, &live, merged)?;
        report.index_files = commit.written_keys();
        // The new signatures go with the canonical names, before the top files.
        commit.canonical.splice(0..0, rewritten);
        let mut changed = cdn::changed_keys(&repo.store, &commit);
        // Rewritten under their names: stale in every cache too.
        changed.extend(report.packages.iter().chain(&report.signatures).cloned());
        commit.apply(&repo.store, &guard, &fence).await?;
        Ok((report, changed))
    }
    .await;
    let (report, changed) = finish(guard, result).await?;
    // Reported nowhere: a failure is asked again with the next commit's invalidation.
    let _ = repo.store.invalidate(&changed).await;
    Ok(report)
}
