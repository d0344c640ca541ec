//! Which published drivers a cleanup deletes: every object of a driver version no longer
//! shipped, decided from a store listing alone.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::index::PublishedObject;
use crate::DriverVersion;

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
    /// No driver version is shipped: a cleanup would delete every driver.
    #[error("no driver version is shipped: a cleanup would delete every prebuilt driver; name the shipped versions")]
    NothingShipped,
}

impl CleanupPlan {
    /// The objects of `listing` under `driver/<driverversion>/` whose driver version is not
    /// in `shipped`. Keys whose second part is no driver version (`driver/site/…`, the
    /// repository's own index files) are never touched, nor is anything of a shipped version.
    ///
    /// ```
    /// use falco_artifacts_driver_grid::{CleanupPlan, PublishedObject};
    ///
    /// let object = |key: &str| PublishedObject { key: key.into(), size: 1, last_modified: String::new() };
    /// let listing = [
    ///     object("driver/9.1.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko"),
    ///     object("driver/10.2.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko"),
    ///     object("driver/site/index.json"),
    /// ];
    /// let plan = CleanupPlan::of(&listing, &["10.2.0+driver".parse()?])?;
    /// assert_eq!(plan.keys, ["driver/9.1.0+driver/x86_64/falco_debian_6.1.112-1-amd64_1.ko"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(
        listing: &[PublishedObject],
        shipped: &[DriverVersion],
    ) -> Result<CleanupPlan, CleanupError> {
        if shipped.is_empty() {
            return Err(CleanupError::NothingShipped);
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
            if shipped.contains(&version) {
                continue;
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
