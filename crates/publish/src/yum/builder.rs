//! Configuring a YUM repository.

use std::sync::Arc;

use falco_artifacts_core::{Arch, Signer};

use super::YumRepository;
use crate::bin::check_generations;
use crate::error::PublishError;
use crate::options::RepositoryOptions;
use crate::store::check_key;

/// Builds a [`YumRepository`]; checked in [`YumRepositoryBuilder::build`].
#[derive(Debug, Clone)]
pub struct YumRepositoryBuilder {
    pub(super) repo: YumRepository,
}

impl YumRepositoryBuilder {
    /// Signs `repomd.xml` (`repomd.xml.asc`) and the packages published unsigned; without a
    /// signer clients need `gpgcheck=0` and `repo_gpgcheck=0`.
    pub fn with_signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.repo.signer = Some(signer);
        self
    }

    /// The gzip level of the metadata (0–9); 1 by default: the three documents are rewritten
    /// on every publish, and level 6 (createrepo_c's) costs about three times the time for
    /// about a sixth fewer bytes.
    pub fn with_gzip(mut self, level: u32) -> Self {
        self.repo.gzip_level = level;
        self
    }

    /// The architectures served (`noarch` packages always are); `x86_64` and `aarch64` by
    /// default.
    pub fn with_architectures(mut self, arches: &[Arch]) -> Self {
        self.repo.architectures = arches.to_vec();
        self
    }

    /// The directory holding the channel repositories; `packages` by default.
    pub fn with_base(mut self, base: impl Into<String>) -> Self {
        self.repo.base = base.into();
        self
    }

    /// The lock and metadata-generation settings.
    pub fn with_options(mut self, options: RepositoryOptions) -> Self {
        self.repo.options = options;
        self
    }

    /// Checks names, levels and options.
    pub fn build(mut self) -> Result<YumRepository, PublishError> {
        self.repo.base = self.repo.base.trim_matches('/').to_owned();
        if !self.repo.base.is_empty() {
            check_key(&self.repo.base)?;
        }
        if self.repo.architectures.is_empty() {
            return Err(PublishError::InvalidKey {
                key: String::new(),
                reason: "a YUM repository serves at least one architecture",
            });
        }
        if self.repo.gzip_level > 9 {
            return Err(PublishError::InvalidKey {
                key: format!("gzip level {}", self.repo.gzip_level),
                reason: "gzip levels are 0 to 9",
            });
        }
        self.repo.architectures.sort();
        self.repo.architectures.dedup();
        check_generations(&self.repo.options)?;
        Ok(self.repo)
    }
}
