//! Configuring an APT repository.

use std::sync::Arc;

use falco_artifacts_core::{Arch, Signer};

use super::AptRepository;
use crate::bin::check_generations;
use crate::error::PublishError;
use crate::options::RepositoryOptions;
use crate::store::check_key;

/// Builds an [`AptRepository`]; checked in [`AptRepositoryBuilder::build`].
#[derive(Debug, Clone)]
pub struct AptRepositoryBuilder {
    pub(super) repo: AptRepository,
}

impl AptRepositoryBuilder {
    /// Signs `Release` (`InRelease`, `Release.gpg`); without a signer clients need `trusted=yes`.
    pub fn with_signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.repo.signer = Some(signer);
        self
    }

    /// The gzip level of `Packages.gz` (0–9); 1 by default: the index is rewritten on every
    /// publish, and level 6 costs three times the time for about a tenth fewer bytes.
    pub fn with_gzip(mut self, level: u32) -> Self {
        self.repo.gzip_level = level;
        self
    }

    /// Also writes `Packages.xz` at this `xz` level (0–9); off by default, as compressing a
    /// large index costs seconds.
    pub fn with_xz(mut self, level: u32) -> Self {
        self.repo.xz_level = Some(level);
        self
    }

    /// The architectures served; `amd64` and `arm64` by default.
    pub fn with_architectures(mut self, arches: &[Arch]) -> Self {
        self.repo.architectures = arches.to_vec();
        self
    }

    /// `Origin` and `Label` of `Release`; `Falco` by default.
    pub fn with_origin(mut self, origin: impl Into<String>, label: impl Into<String>) -> Self {
        self.repo.origin = origin.into();
        self.repo.label = label.into();
        self
    }

    /// The directory holding the channel repositories; `packages` by default.
    pub fn with_base(mut self, base: impl Into<String>) -> Self {
        self.repo.base = base.into();
        self
    }

    /// The suite (and pool directory); `stable` by default, as Falco's apt line says.
    pub fn with_suite(mut self, suite: impl Into<String>) -> Self {
        self.repo.layout.suite = suite.into();
        self
    }

    /// The lock and index-generation settings.
    pub fn with_options(mut self, options: RepositoryOptions) -> Self {
        self.repo.options = options;
        self
    }

    /// Checks names, levels and options.
    pub fn build(mut self) -> Result<AptRepository, PublishError> {
        self.repo.base = self.repo.base.trim_matches('/').to_owned();
        if !self.repo.base.is_empty() {
            check_key(&self.repo.base)?;
        }
        for (what, value) in [
            ("suite", &self.repo.layout.suite),
            ("component", &self.repo.layout.component),
        ] {
            if value.contains('/') || check_key(value).is_err() {
                return Err(PublishError::InvalidKey {
                    key: value.clone(),
                    reason: if what == "suite" {
                        "a suite is one path segment"
                    } else {
                        "a component is one path segment"
                    },
                });
            }
        }
        for (text, what) in [(&self.repo.origin, "origin"), (&self.repo.label, "label")] {
            if text.is_empty() || text.contains('\n') {
                return Err(PublishError::InvalidKey {
                    key: text.clone(),
                    reason: if what == "origin" {
                        "Origin must be one non-empty line"
                    } else {
                        "Label must be one non-empty line"
                    },
                });
            }
        }
        if self.repo.architectures.is_empty() {
            return Err(PublishError::InvalidKey {
                key: String::new(),
                reason: "an APT repository serves at least one architecture",
            });
        }
        if self.repo.gzip_level > 9 {
            return Err(PublishError::InvalidKey {
                key: format!("gzip level {}", self.repo.gzip_level),
                reason: "gzip levels are 0 to 9",
            });
        }
        if self.repo.xz_level.is_some_and(|l| l > 9) {
            return Err(PublishError::InvalidKey {
                key: format!("xz level {:?}", self.repo.xz_level),
                reason: "xz levels are 0 to 9",
            });
        }
        self.repo.architectures.sort();
        self.repo.architectures.dedup();
        check_generations(&self.repo.options)?;
        Ok(self.repo)
    }
}
