//! `resign`: a channel's repositories signed again with the channel's (new) key, and the
//! public key bundle written beside them.

use std::sync::Arc;

use falco_artifacts_core::{Channel, RepoKind, Signer, KEY_BUNDLE};
use falco_artifacts_publish::{
    AptRepository, BinRepository, PublishError, ResignReport, YumRepository,
};
use serde::Serialize;

use crate::{Pipeline, PipelineError};

/// What `resign` did: per repository, the files it re-signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResignRun {
    /// The channel.
    pub channel: String,
    /// The new key's fingerprint.
    pub fingerprint: String,
    /// One entry per repository (`packages/deb`, `packages/rpm`, `packages/bin`).
    pub repositories: Vec<ResignedRepository>,
    /// Where the key bundle was written, when it was.
    pub key_bundle: Option<String>,
}

/// One repository's re-sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResignedRepository {
    /// Its path in the store.
    pub repository: String,
    /// Packages whose embedded signature was replaced (`.rpm`).
    pub packages: Vec<String>,
    /// Detached signatures made again.
    pub signatures: Vec<String>,
    /// Index and top files written.
    pub index_files: Vec<String>,
}

impl From<ResignReport> for ResignedRepository {
    fn from(r: ResignReport) -> Self {
        ResignedRepository {
            repository: r.repository,
            packages: r.packages,
            signatures: r.signatures,
            index_files: r.index_files,
        }
    }
}

impl ResignRun {
    /// The report as text, one line per repository.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "channel {} re-signed with key {}\n",
            self.channel, self.fingerprint
        );
        for r in &self.repositories {
            out.push_str(&format!(
                "  {}: {} packages, {} signatures, {} index files\n",
                r.repository,
                r.packages.len(),
                r.signatures.len(),
                r.index_files.len()
            ));
        }
        if let Some(key) = &self.key_bundle {
            out.push_str(&format!("  public keys: {key}\n"));
        }
        out
    }
}

impl Pipeline {
    /// The public key bundle to write at the repository root after each publish and
    /// re-sign ([`KEY_BUNDLE`]; see `PipelineConfig::key_bundle`).
    pub fn with_key_bundle(mut self, armored: impl Into<String>) -> Self {
        self.key_bundle = Some(armored.into());
        self
    }

    /// Writes the key bundle at the repository root, when there is one; its key.
    pub async fn write_key_bundle(&self) -> Result<Option<String>, PipelineError> {
        let Some(bundle) = &self.key_bundle else {
            return Ok(None);
        };
        self.store
            .put_site_file(KEY_BUNDLE, bundle.clone().into_bytes())
            .await
            .map_err(|source| PipelineError::KeyBundle {
                key: KEY_BUNDLE.to_owned(),
                source: Box::new(source),
            })?;
        let key = format!("{}/{KEY_BUNDLE}", self.store.root().trim_end_matches('/'))
            .trim_start_matches('/')
            .to_owned();
        Ok(Some(key))
    }

    /// Re-signs `channel`'s APT, YUM and tarball repositories in place with this pipeline's
    /// key (see `falco_artifacts_publish::AptRepository::resign`): every `.asc`, every rpm
    /// header signature, `InRelease`/`Release.gpg` and `repomd.xml.asc`, each repository as one
    /// commit under its lock, the stable channel included; package payloads are never
    /// rebuilt. Then writes the key bundle and verifies the repositories.
    ///
    /// Works on this crate's own repositories (a pipeline made by
    /// [`Pipeline::with_store`] or its callers); one made of the caller's publishers has no
    /// key and is refused.
    pub async fn resign(&self, channel: &dyn Channel) -> Result<ResignRun, PipelineError> {
        let signer: Arc<dyn Signer> = self.signer.clone().ok_or(PipelineError::Missing {
            what: "signing key",
            flag: "--key-file or --key-env",
            field: "signing",
        })?;
        let failed = |kind: RepoKind| {
            let repository = channel.repository(kind).to_owned();
            move |source: PublishError| PipelineError::Resign {
                repository,
                source: Box::new(source),
            }
        };
        let store = self.store.clone();
        let apt = AptRepository::builder(store.clone())
            .with_signer(Arc::clone(&signer))
            .build()
            .map_err(failed(RepoKind::Deb))?;
        let yum = YumRepository::builder(store.clone())
            .with_signer(Arc::clone(&signer))
            .build()
            .map_err(failed(RepoKind::Rpm))?;
        let bin = BinRepository::builder(store)
            .build()
            .map_err(failed(RepoKind::Bin))?;
        let repositories = vec![
            apt.resign(channel)
                .await
                .map_err(failed(RepoKind::Deb))?
                .into(),
            yum.resign(channel)
                .await
                .map_err(failed(RepoKind::Rpm))?
                .into(),
            bin.resign(channel, signer.as_ref())
                .await
                .map_err(failed(RepoKind::Bin))?
                .into(),
        ];
        let key_bundle = self.write_key_bundle().await?;
        self.verify(channel).await?;
        Ok(ResignRun {
            channel: channel.name().to_string(),
            fingerprint: signer.fingerprint(),
            repositories,
            key_bundle,
        })
    }
}
