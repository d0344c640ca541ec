//! Which published drivers a cleanup deletes, decided from a store listing alone.
//!
//! Falco promises that the drivers of older driver versions stay downloadable: nothing goes
//! unless named. A driver version no longer shipped is kept like any other; only the versions
//! a [`CleanupSelection`] names are deleted, and never a protected (shipped) one.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::index::PublishedObject;
use crate::DriverVersion;

/// The driver versions a cleanup deletes: always named explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupSelection {
    /// Exactly these driver versions.
    Versions(Vec<DriverVersion>),
    /// Every driver version ordered before this one ([`DriverVersion`]'s order: commits, then
    /// semver by precedence, then `master`).
    OlderThan(DriverVersion),
}

impl CleanupSelection {
    fn selects(&self, version: &DriverVersion) -> bool {
        match self {
            CleanupSelection::Versions(versions) => versions.contains(version),
            CleanupSelection::OlderThan(limit) => version < limit,
        }
    }
}

/// What a cleanup deletes (or, in a dry run, would delete).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupPlan {
    /// Objects per driver version to delete, oldest version first.
    pub versions: BTreeMap<DriverVersion, usize>,
    /// Every key to delete, sorted.
    pub keys: Vec<String>,
}

/// Why a cleanup is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CleanupError {
    /// No driver version is named: a cleanup keeps everything unless told what to delete.
    #[error("no driver version is named: name the versions to delete (or those older than one)")]
    NothingSelected,
    /// A selected driver version is protected (shipped).
    #[error("driver version {version} is shipped: its drivers are not deleted")]
    Protected {
        /// The version.
        version: DriverVersion,
    },
}

impl CleanupPlan {
    /// The objects of `listing` under `driver/<driverversion>/` whose driver version
    /// `selection` names. Keys whose second part is no driver version (`driver/site/…`, the
    /// repository's own index files) are never touched. Refused, before anything is decided,
    /// when nothing is named or a version holding objects is in `protected`.
    ///
    /// ```
    /// use falco_artifacts_driver_grid::{CleanupPlan, CleanupSelection, PublishedObject};
    ///
    /// let object = |key: &str| PublishedObject { key: key.into(), size: 1, last_modified: String::new() };
    /// let listing = [
    ///     object("driver/8.0.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko"),
    ///     object("driver/9.1.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko"),
    ///     object("driver/10.2.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko"),
    ///     object("driver/site/index.json"),
    /// ];
    /// let older = CleanupSelection::OlderThan("9.1.0+driver".parse()?);
    /// let plan = CleanupPlan::of(&listing, &older, &["10.2.0+driver".parse()?])?;
    /// assert_eq!(plan.keys, ["driver/8.0.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(
        listing: &[PublishedObject],
        selection: &CleanupSelection,
        protected: &[DriverVersion],
    ) -> Result<CleanupPlan, CleanupError> {
        if matches!(selection, CleanupSelection::Versions(v) if v.is_empty()) {
            return Err(CleanupError::NothingSelected);
        }
        let mut plan = CleanupPlan::default();
        for object in listing {
            let mut parts = object.key.splitn(3, '/');
            let (Some("driver"), Some(lib), Some(_)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(version) = lib.parse::<DriverVersion>() else {
                continue;
            };
            if !selection.selects(&version) {
                continue;
            }
            if protected.contains(&version) {
                return Err(CleanupError::Protected { version });
            }
            *plan.versions.entry(version).or_default() += 1;
            plan.keys.push(object.key.clone());
        }
        plan.keys.sort();
        Ok(plan)
    }

    /// Whether there is nothing to delete.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
