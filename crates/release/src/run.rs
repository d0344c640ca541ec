//! Publishing a packed release into its channel's repositories, then verifying them.

use std::sync::Arc;

use falco_artifacts_core::{
    Artifact, Channel, Error as CoreError, Occupant, Orphan, PublishedFile, Publisher, Release,
    RepoKind, Signer, VerifyOptions,
};
use falco_artifacts_publish::{
    AptRepository, BinRepository, RepoStore, StoreOptions, YumRepository,
};
use object_store::ObjectStoreExt as _;

use crate::error::PartialRelease;
use crate::report::{OrphansReport, RunReport};
use crate::{GatePassed, Packaged, PipelineError};

/// The kinds of repository a release goes to, in the order they are published.
const KINDS: [RepoKind; 3] = [RepoKind::Deb, RepoKind::Rpm, RepoKind::Bin];

/// The repositories of one repository root, and how to publish a release into them.
///
/// The pipeline sees its three repositories only as [`Publisher`]s: where a file lands is
/// what the publisher reports ([`PublishedFile::key`]), so a repository built with its own
/// layout (another APT suite, a custom publisher) is reported as it is.
pub struct Pipeline {
    pub(crate) url: String,
    pub(crate) store: RepoStore,
    /// The DEB, RPM and tarball publishers, in [`KINDS`] order.
    publishers: [Arc<dyn Publisher>; 3],
    resume: Option<String>,
    /// The key this crate's repositories sign with (none for publishers of the caller's).
    pub(crate) signer: Option<Arc<dyn Signer>>,
    /// The public key bundle written at the root after each publish and re-sign.
    pub(crate) key_bundle: Option<String>,
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

    /// The same on a store built by the caller (S3 options, failure injection): this crate's
    /// APT, YUM and bin repositories on `store`.
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
        let mut pipeline =
            Pipeline::with_publishers(url, store, [Arc::new(apt), Arc::new(yum), Arc::new(bin)]);
        pipeline.signer = Some(signer);
        Ok(pipeline)
    }

    /// The same with publishers of the caller's own for DEB, RPM and tarballs (in that
    /// order), e.g. an APT repository with another suite; `url` is the base of the report's
    /// download URLs and `store` the one [`Pipeline::probe`] asks.
    pub fn with_publishers(
        url: &str,
        store: RepoStore,
        publishers: [Arc<dyn Publisher>; 3],
    ) -> Pipeline {
        Pipeline {
            url: url.to_owned(),
            store,
            publishers,
            resume: None,
            signer: None,
            key_bundle: None,
        }
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
    /// Every repository (APT, YUM, bin) first plans its publish (reads and checks every
    /// package, reads its live index, refuses different bytes under an immutable name) before
    /// any of them is written: a problem found there publishes nothing. A failure while
    /// committing a later repository, once an earlier one is live, is a
    /// [`PipelineError::PartialRelease`] naming what is live, what is not, and the command
    /// that completes it (publishing is idempotent: a re-run keeps what is live and does the
    /// rest).
    ///
    /// The verification after publishing checks every indexed file's presence and size
    /// against one listing, the signed top files and the locks, but reads no package: hashing
    /// the whole channel would download every version it keeps to add one. [`Pipeline::verify`]
    /// (`release verify`) is the full check, digests included.
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
        let artifacts = |kind: RepoKind| -> &[Arc<dyn Artifact>] {
            match kind {
                RepoKind::Deb => &packaged.debs,
                RepoKind::Rpm => &packaged.rpms,
                RepoKind::Bin => &packaged.tarballs,
            }
        };
        for (kind, publisher) in KINDS.into_iter().zip(&self.publishers) {
            publisher
                .plan(channel, artifacts(kind))
                .await
                .map_err(|source| self.refused(channel, kind, source))?;
        }
        let mut live: Vec<&str> = Vec::new();
        for (kind, publisher) in KINDS.into_iter().zip(&self.publishers) {
            let repository = channel.repository(kind);
            let published = publisher
                .publish(channel, artifacts(kind))
                .await
                .map_err(|source| self.failure(release, &live, repository, source))?;
            live.push(repository);
            report.add(&self.url, &published);
        }
        self.write_key_bundle().await?;
        let sizes = VerifyOptions {
            check_hashes: false,
        };
        report.verified = self.verify_with(channel, &sizes).await?;
        Ok(report)
    }

    /// The error of a preflight that `channel`'s `kind` repository refused: an orphan in the
    /// way is named with the command that clears it.
    fn refused(&self, channel: &dyn Channel, kind: RepoKind, source: CoreError) -> PipelineError {
        if let CoreError::AlreadyExists {
            repository,
            name,
            occupant: Occupant::Orphan,
            ..
        } = &source
        {
            return PipelineError::Orphan {
                key: format!("{repository}/{name}"),
                command: format!(
                    "release prune --orphans --repo {} --channel {}",
                    self.url,
                    channel.name()
                ),
                source: Box::new(source),
            };
        }
        PipelineError::Preflight {
            repository: channel.repository(kind).to_owned(),
            source: Box::new(source),
        }
    }

    /// The error of a publish into `repository` that failed once `live` were live.
    fn failure(
        &self,
        release: &Release,
        live: &[&str],
        repository: &str,
        source: CoreError,
    ) -> PipelineError {
        if live.is_empty() {
            return PipelineError::Publish {
                repository: repository.to_owned(),
                source: Box::new(source),
            };
        }
        PipelineError::PartialRelease(Box::new(PartialRelease {
            version: release.version.to_string(),
            live: live.iter().map(|r| format!("packages/{r}")).collect(),
            missing: KINDS
                .iter()
                .map(|&kind| release.channel.repository(kind))
                .filter(|r| !live.contains(r))
                .map(|r| format!("packages/{r}"))
                .collect(),
            failed: repository.to_owned(),
            resume: self.resume.clone().unwrap_or_else(|| {
                "the same release run again (same version, packages and repository)".to_owned()
            }),
            source: Box::new(source),
        }))
    }

    /// Verifies the channel's repositories, reading every indexed file to check its digest;
    /// an error lists what is wrong.
    pub async fn verify(&self, channel: &dyn Channel) -> Result<Vec<String>, PipelineError> {
        self.verify_with(channel, &VerifyOptions::default()).await
    }

    /// [`Pipeline::verify`] with `options` (`check_hashes: false`: sizes only, no package
    /// read).
    pub async fn verify_with(
        &self,
        channel: &dyn Channel,
        options: &VerifyOptions,
    ) -> Result<Vec<String>, PipelineError> {
        let mut verified = Vec::new();
        for (kind, publisher) in KINDS.into_iter().zip(&self.publishers) {
            let name = channel.repository(kind);
            let check = publisher
                .verify(channel, kind, options)
                .await
                .map_err(|source| PipelineError::Publish {
                    repository: name.to_owned(),
                    source: Box::new(source),
                })?;
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

    /// The orphans of the channel's repositories (files a failed publish uploaded and no
    /// index names, see [`Publisher::orphans`]), in repository order; nothing is changed.
    pub async fn orphans(&self, channel: &dyn Channel) -> Result<Vec<Orphan>, PipelineError> {
        let mut found = Vec::new();
        for (kind, publisher) in KINDS.into_iter().zip(&self.publishers) {
            found.extend(publisher.orphans(channel, kind).await.map_err(|source| {
                PipelineError::Orphans {
                    repository: channel.repository(kind).to_owned(),
                    source: Box::new(source),
                }
            })?);
        }
        Ok(found)
    }

    /// Deletes the orphans of the channel's repositories, each found again under its
    /// repository's lock ([`Publisher::remove_orphans`]); returns what was deleted.
    pub async fn remove_orphans(
        &self,
        channel: &dyn Channel,
    ) -> Result<Vec<Orphan>, PipelineError> {
        let mut removed = Vec::new();
        for (kind, publisher) in KINDS.into_iter().zip(&self.publishers) {
            removed.extend(
                publisher
                    .remove_orphans(channel, kind)
                    .await
                    .map_err(|source| PipelineError::Orphans {
                        repository: channel.repository(kind).to_owned(),
                        source: Box::new(source),
                    })?,
            );
        }
        Ok(removed)
    }

    /// `prune --orphans`: lists the channel's orphans ([`Pipeline::orphans`]), and with
    /// `confirm` deletes them ([`Pipeline::remove_orphans`]).
    pub async fn prune_orphans(
        &self,
        channel: &dyn Channel,
        confirm: bool,
    ) -> Result<OrphansReport, PipelineError> {
        let orphans = if confirm {
            self.remove_orphans(channel).await?
        } else {
            self.orphans(channel).await?
        };
        Ok(OrphansReport {
            orphans,
            deleted: confirm,
        })
    }

    /// Applies the channel's retention to its repositories now.
    pub async fn prune(&self, channel: &dyn Channel) -> Result<Vec<PublishedFile>, PipelineError> {
        let mut pruned = Vec::new();
        for (kind, publisher) in KINDS.into_iter().zip(&self.publishers) {
            let files = publisher
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
