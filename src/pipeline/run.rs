//! Publishing a packed release into its channel's repositories, then verifying them.

use std::sync::Arc;

use falco_artifacts_core::{Channel, PublishedFile, Publisher, Release, RepoKind, Signer};
use falco_artifacts_publish::{
    AptRepository, BinRepository, RepoStore, StoreOptions, VerifyOptions,
};
use object_store::ObjectStoreExt as _;

use super::report::{arch_dir, RunReport};
use super::{GatePassed, Packaged, PipelineError};

/// The repositories of one repository root, and how to publish a release into them.
pub struct Pipeline {
    url: String,
    store: RepoStore,
    apt: AptRepository,
    bin: BinRepository,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// The repositories under `url` (`file:///srv/falco`, `s3://bucket/prefix`), signing
    /// indexes with `signer`.
    pub fn new(url: &str, signer: Arc<dyn Signer>) -> Result<Pipeline, PipelineError> {
        Pipeline::with_options(url, &StoreOptions::default(), signer)
    }

    /// The same with store options (an S3 endpoint, its region and addressing).
    pub fn with_options(
        url: &str,
        options: &StoreOptions,
        signer: Arc<dyn Signer>,
    ) -> Result<Pipeline, PipelineError> {
        let store =
            RepoStore::from_url_with(url, options).map_err(|source| PipelineError::Repository {
                url: url.to_owned(),
                source: Box::new(source),
            })?;
        Pipeline::with_store(url, store, signer)
    }

    /// The same on a store built by the caller (S3 options, failure injection).
    pub fn with_store(
        url: &str,
        store: RepoStore,
        signer: Arc<dyn Signer>,
    ) -> Result<Pipeline, PipelineError> {
        let failed = |source| PipelineError::Repository {
            url: url.to_owned(),
            source: Box::new(source),
        };
        let apt = AptRepository::builder(store.clone())
            .with_signer(Arc::clone(&signer))
            .build()
            .map_err(failed)?;
        let bin = BinRepository::builder(store.clone())
            .build()
            .map_err(failed)?;
        Ok(Pipeline {
            url: url.to_owned(),
            store,
            apt,
            bin,
        })
    }

    /// Fails unless the repository answers: run before packaging so that an unreachable
    /// repository stops a release before anything is built or uploaded.
    pub async fn probe(&self) -> Result<(), PipelineError> {
        let key = object_store::path::Path::from(
            format!("{}/.publish/probe", self.store.root().trim_end_matches('/'))
                .trim_start_matches('/'),
        );
        match self.store.object_store().head(&key).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(PipelineError::Unreachable {
                url: self.url.clone(),
                source: Box::new(source),
            }),
        }
    }

    /// Publishes `packaged` into `release`'s channel and verifies what it touched.
    pub async fn publish(
        &self,
        release: &Release,
        packaged: &Packaged,
        gate: &GatePassed,
    ) -> Result<RunReport, PipelineError> {
        let channel = &release.channel;
        let mut report = RunReport {
            version: release.version.to_string(),
            channel: channel.name().to_string(),
            gate: gate.checked.clone(),
            files: Vec::new(),
            verified: Vec::new(),
            images: None,
        };
        let deb_repo = channel.repository(RepoKind::Deb);
        let apt = self
            .apt
            .publish_files(channel, &packaged.debs)
            .await
            .map_err(|source| PipelineError::Publish {
                repository: deb_repo.to_owned(),
                source: Box::new(source),
            })?;
        report.add(&self.url, &apt, |f: &PublishedFile| {
            format!("packages/{}/stable/{}", f.repository, f.file_name)
        });
        let bin_repo = channel.repository(RepoKind::Bin);
        let bin = self
            .bin
            .publish_files(channel, &packaged.tarballs)
            .await
            .map_err(|source| PipelineError::Publish {
                repository: bin_repo.to_owned(),
                source: Box::new(source),
            })?;
        report.add(&self.url, &bin, |f: &PublishedFile| {
            format!("packages/{}/{}/{}", f.repository, arch_dir(f), f.file_name)
        });
        report.verified = self.verify(channel).await?;
        Ok(report)
    }

    /// Verifies the channel's repositories; an error lists what is wrong.
    pub async fn verify(&self, channel: &dyn Channel) -> Result<Vec<String>, PipelineError> {
        let options = VerifyOptions::default();
        let deb_repo = channel.repository(RepoKind::Deb).to_owned();
        let bin_repo = channel.repository(RepoKind::Bin).to_owned();
        let apt =
            self.apt
                .verify(channel, &options)
                .await
                .map_err(|source| PipelineError::Publish {
                    repository: deb_repo.clone(),
                    source: Box::new(source),
                })?;
        let bin =
            self.bin
                .verify(channel, &options)
                .await
                .map_err(|source| PipelineError::Publish {
                    repository: bin_repo.clone(),
                    source: Box::new(source),
                })?;
        for (name, check) in [(&deb_repo, &apt), (&bin_repo, &bin)] {
            if !check.is_clean() {
                return Err(PipelineError::Verify {
                    repository: name.clone(),
                    problems: format!("{check:?}"),
                });
            }
        }
        Ok(vec![
            format!("packages/{deb_repo}"),
            format!("packages/{bin_repo}"),
        ])
    }

    /// Applies the channel's retention to its repositories now.
    pub async fn prune(&self, channel: &dyn Channel) -> Result<Vec<PublishedFile>, PipelineError> {
        let mut pruned = Vec::new();
        let repos: [(&dyn Publisher, RepoKind); 2] =
            [(&self.apt, RepoKind::Deb), (&self.bin, RepoKind::Bin)];
        for (repo, kind) in repos {
            let files = repo
                .apply_retention(channel, kind)
                .await
                .map_err(|source| PipelineError::Retention {
                    repository: channel.repository(kind).to_owned(),
                    source: Box::new(source),
                })?;
            pruned.extend(files);
        }
        Ok(pruned)
    }
}
