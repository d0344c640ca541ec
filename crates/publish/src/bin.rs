//! The tarball repository: `packages/bin[-dev]/<arch>/falco-<version>-<arch>.tar.gz`.

use std::sync::Arc;

use async_trait::async_trait;
use falco_artifacts_core::{
    Artifact, Channel, Error as CoreError, PublishReport, PublishedFile, Publisher, RepoKind,
};

use crate::engine::{FileRepo, JsonIndex};
use crate::error::PublishError;
use crate::index::RepoIndex;
use crate::options::RepositoryOptions;
use crate::protocol;
use crate::protocol::upload::{dedupe, Policy, Staged};
use crate::store::{check_key, RepoStore};
use falco_artifacts_core::{Orphan, PublishPlan};
use falco_artifacts_core::{VerifyOptions, VerifyReport};

/// Release tarballs with their `.sha256` and `.asc`, under `<base>/<channel's bin repository>/
/// <arch>/`, listed by `index.json` and `index.html` beside the arch directories.
///
/// Implements core's [`Publisher`] for [`RepoKind::Bin`] artifacts; any other artifact is
/// refused before anything is written.
#[derive(Debug, Clone)]
pub struct BinRepository {
    store: RepoStore,
    base: String,
    options: RepositoryOptions,
}

/// Builds a [`BinRepository`]; checked in [`BinRepositoryBuilder::build`].
#[derive(Debug, Clone)]
pub struct BinRepositoryBuilder {
    store: RepoStore,
    base: String,
    options: RepositoryOptions,
}

impl BinRepositoryBuilder {
    /// The directory holding the channel repositories; `packages` unless told otherwise.
    pub fn with_base(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// The lock and index-generation settings.
    pub fn with_options(mut self, options: RepositoryOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks the base path and the options.
    pub fn build(self) -> Result<BinRepository, PublishError> {
        let base = self.base.trim_matches('/').to_owned();
        if !base.is_empty() {
            check_key(&base)?;
        }
        check_generations(&self.options)?;
        Ok(BinRepository {
            store: self.store,
            base,
            options: self.options,
        })
    }
}

pub(crate) fn check_generations(options: &RepositoryOptions) -> Result<(), PublishError> {
    if options.index_generations == 0 {
        return Err(PublishError::InvalidKey {
            key: "index_generations".into(),
            reason: "at least one index generation must be kept",
        });
    }
    Ok(())
}

impl BinRepository {
    /// A builder for the bin repositories in `store`.
    pub fn builder(store: RepoStore) -> BinRepositoryBuilder {
        BinRepositoryBuilder {
            store,
            base: "packages".into(),
            options: RepositoryOptions::default(),
        }
    }

    fn repo(&self, channel: &dyn Channel) -> Result<FileRepo, PublishError> {
        FileRepo::open(
            &self.store,
            &self.base,
            channel.repository(RepoKind::Bin),
            &self.options,
        )
    }

    /// Re-signs `channel`'s live repository in place with `signer` (a key rotation): every
    /// tarball's `.asc` made again over the unchanged tarball, and the index naming the new
    /// signatures' digests, as one commit under the lock; the stable channel included.
    pub async fn resign(
        &self,
        channel: &dyn Channel,
        signer: &dyn falco_artifacts_core::Signer,
    ) -> Result<crate::ResignReport, PublishError> {
        protocol::resign::resign(&JsonIndex::default(), &self.repo(channel)?, signer).await
    }

    fn stage(
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<Vec<Staged>, PublishError> {
        let staged = artifacts
            .iter()
            .map(|artifact| {
                let name = artifact.file_name();
                if artifact.repository() != Some(RepoKind::Bin) {
                    return Err(PublishError::WrongRepository {
                        name: name.to_owned(),
                        expected: RepoKind::Bin,
                        found: artifact.repository(),
                    });
                }
                let missing = |field| PublishError::MissingField {
                    name: name.to_owned(),
                    field,
                };
                let version = artifact.version().ok_or_else(|| missing("version"))?;
                if !channel.accepts(version) {
                    return Err(PublishError::NotAccepted {
                        name: name.to_owned(),
                        channel: channel.name().clone(),
                        version: version.clone(),
                    });
                }
                let arch = artifact.arch().ok_or_else(|| missing("arch"))?;
                let key = format!("{}/{name}", arch.file_name());
                check_key(&key)?;
                Ok(Staged {
                    key,
                    artifact: Arc::clone(artifact),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        dedupe(staged)
    }

    fn policy(channel: &dyn Channel) -> Policy {
        Policy {
            overwrite: channel.overwrite(),
            retention: channel.retention(RepoKind::Bin),
        }
    }

    /// The dry run: what [`Publisher::publish`] would upload, replace and prune.
    pub async fn plan(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishPlan, PublishError> {
        let staged = Self::stage(channel, artifacts)?;
        let repo = self.repo(channel)?;
        protocol::plan(
            &JsonIndex::default(),
            &repo,
            &staged,
            &[],
            Self::policy(channel),
        )
        .await
    }

    /// Publishes, returning this crate's error (with its typed context) rather than core's.
    pub async fn publish_files(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishReport, PublishError> {
        let staged = Self::stage(channel, artifacts)?;
        let repo = self.repo(channel)?;
        protocol::publish(
            &JsonIndex::default(),
            &repo,
            &staged,
            &[],
            Self::policy(channel),
        )
        .await
    }

    /// The live index of `channel`'s bin repository (empty before the first publish).
    pub async fn index(&self, channel: &dyn Channel) -> Result<RepoIndex, PublishError> {
        Ok(self.repo(channel)?.read_index().await?.0)
    }

    /// Reads the repository like a client and reports every problem.
    pub async fn verify(
        &self,
        channel: &dyn Channel,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, PublishError> {
        protocol::verify::verify(&JsonIndex::default(), &self.repo(channel)?, options).await
    }

    /// The orphans of `channel`'s repository: tarballs and their `.sha256` and `.asc` no live index and no kept older
    /// generation names, left by a publish that failed after uploading; sorted by key, nothing
    /// changed.
    pub async fn orphans(&self, channel: &dyn Channel) -> Result<Vec<Orphan>, PublishError> {
        protocol::orphans::orphans(&JsonIndex::default(), &self.repo(channel)?).await
    }

    /// Deletes the orphans of `channel`'s repository (found again under its lock, against
    /// the index live then) and returns them.
    pub async fn remove_orphans(&self, channel: &dyn Channel) -> Result<Vec<Orphan>, PublishError> {
        protocol::orphans::remove(&JsonIndex::default(), &self.repo(channel)?).await
    }
}

#[async_trait]
impl Publisher for BinRepository {
    async fn publish(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishReport, CoreError> {
        Ok(self.publish_files(channel, artifacts).await?)
    }

    async fn plan(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishPlan, CoreError> {
        Ok(Self::plan(self, channel, artifacts).await?)
    }

    async fn verify(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, CoreError> {
        if kind != RepoKind::Bin {
            return Ok(VerifyReport::default());
        }
        Ok(Self::verify(self, channel, options).await?)
    }

    async fn list(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, CoreError> {
        if kind != RepoKind::Bin {
            return Ok(Vec::new());
        }
        let repo = self.repo(channel)?;
        let (index, _) = repo.read_index().await?;
        let name = channel.repository(RepoKind::Bin);
        Ok(index.files.iter().map(|e| e.to_published(name)).collect())
    }

    async fn apply_retention(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, CoreError> {
        if kind != RepoKind::Bin {
            return Ok(Vec::new());
        }
        let repo = self.repo(channel)?;
        Ok(protocol::prune(
            &JsonIndex::default(),
            &repo,
            channel.retention(RepoKind::Bin),
        )
        .await?)
    }

    async fn orphans(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<Orphan>, CoreError> {
        if kind != RepoKind::Bin {
            return Ok(Vec::new());
        }
        Ok(Self::orphans(self, channel).await?)
    }

    async fn remove_orphans(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<Orphan>, CoreError> {
        if kind != RepoKind::Bin {
            return Ok(Vec::new());
        }
        Ok(Self::remove_orphans(self, channel).await?)
    }
}
