//! Publishing a packed release into its channel's repositories, then verifying them.

use std::sync::Arc;

use falco_artifacts_core::{Channel, PublishedFile, Publisher, Release, RepoKind, Signer};
use falco_artifacts_publish::{
    AptRepository, BinRepository, PublishError, RepoStore, StoreOptions, VerifyOptions,
    YumRepository,
};
use object_store::ObjectStoreExt as _;

use crate::error::PartialRelease;
use crate::report::{arch_dir, RunReport};
use crate::{GatePassed, Packaged, PipelineError};

/// The repositories of one repository root, and how to publish a release into them.
pub struct Pipeline {
    url: String,
    store: RepoStore,
    apt: AptRepository,
    yum: YumRepository,
    bin: BinRepository,
    resume: Option<String>,
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
        let yum = YumRepository::builder(store.clone())
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
            yum,
            bin,
            resume: None,
        })
    }

    /// The store under the repository root.
    pub fn store(&self) -> &RepoStore {
        &self.store
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

    /// What a caller runs to complete a release that stopped half-way (shown in
    /// [`PipelineError::PartialRelease`]); the `release` binary gives its own command line.
    pub fn with_resume_command(mut self, command: impl Into<String>) -> Self {
        self.resume = Some(command.into());
        self
    }

    /// Publishes `packaged` into `release`'s channel and verifies what it touched.
    ///
    /// Every repository (APT, YUM, bin) first stages its files (reads and checks every
    /// package, reads its live index, refuses different bytes under an immutable name) before
    /// any of them is written: a problem found there publishes nothing. A failure while
    /// committing a later repository, once an earlier one is live, is a
    /// [`PipelineError::PartialRelease`] naming what is live, what is not, and the command
    /// that completes it (publishing is idempotent: a re-run keeps what is live and does the
    /// rest).
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
            gate: gate.checked().to_owned(),
            files: Vec::new(),
            verified: Vec::new(),
            images: None,
        };
        let deb_repo = channel.repository(RepoKind::Deb);
        let rpm_repo = channel.repository(RepoKind::Rpm);
        let bin_repo = channel.repository(RepoKind::Bin);
        let preflight = |repository: &str| {
            let repository = repository.to_owned();
            move |source| PipelineError::Preflight {
                repository,
                source: Box::new(source),
            }
        };
        self.apt
            .plan(channel, &packaged.debs)
            .await
            .map_err(preflight(deb_repo))?;
        self.yum
            .plan(channel, &packaged.rpms)
            .await
            .map_err(preflight(rpm_repo))?;
        self.bin
            .plan(channel, &packaged.tarballs)
            .await
            .map_err(preflight(bin_repo))?;

        let mut live: Vec<String> = Vec::new();
        let partial = |live: &[String], repository: &str, source: PublishError| {
            if live.is_empty() {
                return PipelineError::Publish {
                    repository: repository.to_owned(),
                    source: Box::new(source),
                };
            }
            PipelineError::PartialRelease(Box::new(PartialRelease {
                version: release.version.to_string(),
                live: live.iter().map(|r| format!("packages/{r}")).collect(),
                missing: [deb_repo, rpm_repo, bin_repo]
                    .iter()
                    .filter(|r| !live.iter().any(|l| l == *r))
                    .map(|r| format!("packages/{r}"))
                    .collect(),
                failed: repository.to_owned(),
                resume: self.resume.clone().unwrap_or_else(|| {
                    "the same release run again (same version, packages and repository)".to_owned()
                }),
                source: Box::new(source),
            }))
        };
        let apt = self
            .apt
            .publish_files(channel, &packaged.debs)
            .await
            .map_err(|e| partial(&live, deb_repo, e))?;
        live.push(deb_repo.to_owned());
        report.add(&self.url, &apt, |f: &PublishedFile| {
            format!("packages/{}/stable/{}", f.repository, f.file_name)
        });
        let yum = self
            .yum
            .publish_files(channel, &packaged.rpms)
            .await
            .map_err(|e| partial(&live, rpm_repo, e))?;
        live.push(rpm_repo.to_owned());
        report.add(&self.url, &yum, |f: &PublishedFile| {
            format!("packages/{}/{}", f.repository, f.file_name)
        });
        let bin = self
            .bin
            .publish_files(channel, &packaged.tarballs)
            .await
            .map_err(|e| partial(&live, bin_repo, e))?;
        report.add(&self.url, &bin, |f: &PublishedFile| {
            format!("packages/{}/{}/{}", f.repository, arch_dir(f), f.file_name)
        });
        report.verified = self.verify(channel).await?;
        Ok(report)
    }

    /// Verifies the channel's repositories; an error lists what is wrong.
    pub async fn verify(&self, channel: &dyn Channel) -> Result<Vec<String>, PipelineError> {
        let options = VerifyOptions::default();
        let failed = |kind: RepoKind| {
            let repository = channel.repository(kind).to_owned();
            move |source| PipelineError::Publish {
                repository,
                source: Box::new(source),
            }
        };
        let checks = [
            (
                RepoKind::Deb,
                self.apt
                    .verify(channel, &options)
                    .await
                    .map_err(failed(RepoKind::Deb))?,
            ),
            (
                RepoKind::Rpm,
                self.yum
                    .verify(channel, &options)
                    .await
                    .map_err(failed(RepoKind::Rpm))?,
            ),
            (
                RepoKind::Bin,
                self.bin
                    .verify(channel, &options)
                    .await
                    .map_err(failed(RepoKind::Bin))?,
            ),
        ];
        let mut verified = Vec::new();
        for (kind, check) in checks {
            let name = channel.repository(kind);
            if !check.is_clean() {
                return Err(PipelineError::Verify {
                    repository: name.to_owned(),
                    problems: check.problems,
                });
            }
            verified.push(format!("packages/{name}"));
        }
        Ok(verified)
    }

    /// Applies the channel's retention to its repositories now.
    pub async fn prune(&self, channel: &dyn Channel) -> Result<Vec<PublishedFile>, PipelineError> {
        let mut pruned = Vec::new();
        let repos: [(&dyn Publisher, RepoKind); 3] = [
            (&self.apt, RepoKind::Deb),
            (&self.yum, RepoKind::Rpm),
            (&self.bin, RepoKind::Bin),
        ];
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
