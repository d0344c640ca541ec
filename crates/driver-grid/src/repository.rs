//! The repository of prebuilt drivers: publishing built drivers, the index of prebuilt
//! drivers, cleanup and stats, on any store `falco-artifacts-publish` opens.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use falco_artifacts_core::{ArtifactError, ArtifactKind, LocalArtifact};
use falco_artifacts_publish::{
    DerivedFiles, GenericFile, GenericRepository, ListScope, ListedObject, PublishError, RepoStore,
    RepositoryOptions,
};

use crate::built::BuiltDriver;
use crate::cleanup::{CleanupError, CleanupPlan, CleanupSelection};
use crate::index::{
    versions_json, DriverIndex, PublishedObject, COVERAGE_JSON_KEY, INDEX_HTML_KEY, INDEX_JSON_KEY,
    SITE_PAGE,
};
use crate::kernel::DriverKind;
use crate::{Coverage, ExistingKeys, KernelList, Stats};

/// Where prebuilt drivers live in a store: `driver/<driverversion>/<arch>/…`.
pub const DRIVER_PREFIX: &str = "driver";
/// Where the index of prebuilt drivers lives, relative to [`DRIVER_PREFIX`].
const SITE: &str = "site";

/// Why a repository operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// The store refused or failed a request (listing, upload, index write, delete).
    #[error("cannot {action} the driver repository")]
    Store {
        /// What was being done: `list`, `publish to`, `write the index of`, `clean up`.
        action: &'static str,
        /// The store's error (boxed: it is large and errors are rare).
        #[source]
        source: Box<PublishError>,
    },
    /// A built driver could not be read.
    #[error("cannot read the built driver {}", path.display())]
    ReadDriver {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ArtifactError,
    },
    /// The cleanup was refused.
    #[error(transparent)]
    Cleanup(#[from] CleanupError),
}

fn store_err(action: &'static str) -> impl Fn(PublishError) -> RepositoryError {
    move |source| RepositoryError::Store {
        action,
        source: Box::new(source),
    }
}

/// A listing of the repository: every object under `driver/`, keys relative to the store.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The objects, keys `driver/…`.
    pub objects: Vec<PublishedObject>,
    // Stamps in one fixed RFC 3339 UTC format, so they order like the times they name.
    newest_driver: Option<String>,
    index_written: Option<String>,
}

impl Listing {
    fn of(listed: Vec<ListedObject>) -> Listing {
        let mut listing = Listing::default();
        for object in listed {
            let key = format!("{DRIVER_PREFIX}/{}", object.key);
            let stamp = object
                .last_modified
                .format("%Y-%m-%dT%H:%M:%S%.9fZ")
                .to_string();
            if key == INDEX_JSON_KEY {
                listing.index_written = Some(stamp.clone());
            } else if is_driver_key(&key) && listing.newest_driver.as_ref() < Some(&stamp) {
                listing.newest_driver = Some(stamp.clone());
            }
            listing.objects.push(PublishedObject {
                key,
                size: object.size,
                last_modified: object
                    .last_modified
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            });
        }
        listing
    }

    /// The keys, for [`Plan::without_existing`](crate::Plan::without_existing).
    pub fn existing_keys(&self) -> ExistingKeys {
        self.objects.iter().map(|o| o.key.clone()).collect()
    }

    /// Whether the index of prebuilt drivers is missing or older than a driver.
    pub fn index_is_stale(&self) -> bool {
        match (&self.index_written, &self.newest_driver) {
            (None, _) => true,
            (Some(index), Some(driver)) => driver > index,
            (Some(_), None) => false,
        }
    }
}

/// A driver file (`….ko`, `….o`), as opposed to the index files around them.
fn is_driver_key(key: &str) -> bool {
    key.ends_with(".ko") || key.ends_with(".o")
}

/// What [`DriverRepository::publish`] did.
#[derive(Debug, Clone, Default)]
pub struct PublishOutcome {
    /// Keys uploaded.
    pub uploaded: Vec<String>,
    /// Keys skipped because the repository already held them.
    pub skipped: Vec<String>,
    /// The index written, when it was (something was uploaded, or it was stale).
    pub index: Option<DriverIndex>,
}

/// Whether a cleanup deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupMode {
    /// Only say what would be deleted (the default).
    #[default]
    DryRun,
    /// Delete, then regenerate the index.
    Confirm,
}

/// What [`DriverRepository::cleanup`] found and did.
#[derive(Debug, Clone)]
pub struct CleanupOutcome {
    /// What is (or would be) deleted.
    pub plan: CleanupPlan,
    /// Whether it was deleted.
    pub deleted: bool,
    /// The index written after deleting.
    pub index: Option<DriverIndex>,
}

/// Prebuilt drivers in a store, published through the generic repository at `driver/` (its
/// commit protocol, lock and `driver/index.json`), with the index of prebuilt drivers at
/// `driver/site/` (`index.json`, `<driverversion>.json`, `index.html`) built from a listing
/// of the store, so drivers published by other tools are listed too.
///
/// Every operation starts with one listing of `driver/` (one request per thousand objects on
/// S3) and makes no request per published object.
///
/// ```
/// use falco_artifacts_driver_grid::{scan_built, CleanupMode, CleanupSelection, DriverRepository};
/// use falco_artifacts_driver_grid::publish::RepoStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let built = tempfile::tempdir()?;
/// let arch = built.path().join("output/10.2.0+driver/x86_64");
/// std::fs::create_dir_all(&arch)?;
/// std::fs::write(arch.join("falco_debian_6.1.112-1-amd64_1.ko"), b"\x7fELF")?;
///
/// let site = tempfile::tempdir()?;
/// let store = RepoStore::from_url(&format!("file://{}", site.path().display()))?;
/// let repo = DriverRepository::new(store)?.with_base_url("https://download.example.invalid");
/// let drivers = scan_built(built.path())?;
/// assert_eq!(repo.publish(&drivers).await?.uploaded.len(), 1);
/// assert_eq!(repo.publish(&drivers).await?.skipped.len(), 1);
/// assert!(site.path().join("driver/site/10.2.0+driver.json").exists());
///
/// let old = CleanupSelection::OlderThan("10.3.0+driver".parse()?);
/// let cleanup = repo.cleanup(&old, &[], CleanupMode::DryRun).await?;
/// assert_eq!((cleanup.plan.keys.len(), cleanup.deleted), (1, false));
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DriverRepository {
    generic: GenericRepository,
    base_url: String,
}

impl DriverRepository {
    /// The drivers at `driver/` in `store`, with the default lock settings; download links
    /// in the index are root-relative (`/driver/…`) until [`DriverRepository::with_base_url`].
    pub fn new(store: RepoStore) -> Result<Self, RepositoryError> {
        Self::with_options(store, RepositoryOptions::default())
    }

    /// The drivers at `driver/` in `store`, with `options` for the lock.
    pub fn with_options(
        store: RepoStore,
        options: RepositoryOptions,
    ) -> Result<Self, RepositoryError> {
        let generic = GenericRepository::builder(store, DRIVER_PREFIX)
            .with_options(options)
            .with_derived_prefix(SITE)
            .build()
            .map_err(store_err("open"))?;
        Ok(DriverRepository {
            generic,
            base_url: String::new(),
        })
    }

    /// Prefixes download links in the index (`https://download.falco.org`).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The generic repository underneath (its `verify`, its own `index.json`).
    pub fn generic(&self) -> &GenericRepository {
        &self.generic
    }

    /// The listing of the driver versions `versions` and of the site only: what a publish
    /// into them needs, at a cost that does not grow with the rest of the repository.
    async fn listing_of(
        &self,
        versions: &BTreeSet<crate::DriverVersion>,
    ) -> Result<Listing, RepositoryError> {
        let listed = self
            .generic
            .list_objects_in(&ListScope::Under(prefixes_of(versions)))
            .await
            .map_err(store_err("list"))?;
        Ok(Listing::of(listed.objects))
    }

    /// One listing of `driver/`.
    pub async fn listing(&self) -> Result<Listing, RepositoryError> {
        let listed = self
            .generic
            .list_objects()
            .await
            .map_err(store_err("list"))?;
        Ok(Listing::of(listed))
    }

    /// Publishes `built` (see [`scan_built`](crate::scan_built)), skipping every key the
    /// repository already holds (found in a listing of the driver versions of `built` and of
    /// the site: its cost follows those versions, not the repository), then rewrites the
    /// site: when something was uploaded, the `<driverversion>.json` of the versions it went
    /// to and `index.json` (so one publish rewrites a bounded part whatever the repository
    /// holds; [`PublishOutcome::index`] then holds those versions only); when the site is
    /// older than a driver of those versions, all of it. A site gone stale in other versions
    /// (drivers put there by other tools) is rewritten by
    /// [`DriverRepository::regenerate_index`]. A second publish of the same drivers makes
    /// that listing and nothing else.
    pub async fn publish(&self, built: &[BuiltDriver]) -> Result<PublishOutcome, RepositoryError> {
        let versions = built.iter().map(|b| b.driver_version.clone()).collect();
        let listing = self.listing_of(&versions).await?;
        let (upload, skip) = split_existing(built.to_vec(), &listing.existing_keys());
        let mut outcome = PublishOutcome {
            skipped: skip.into_iter().map(|b| b.key).collect(),
            ..PublishOutcome::default()
        };
        if upload.is_empty() {
            if listing.index_is_stale() {
                outcome.index = Some(self.regenerate_index().await?);
            }
            return Ok(outcome);
        }
        let mut files = Vec::with_capacity(upload.len());
        for driver in &upload {
            let kind = match driver.kind {
                DriverKind::Module => ArtifactKind::KernelModule,
                DriverKind::Probe => ArtifactKind::EbpfProbe,
            };
            let artifact = LocalArtifact::from_path(kind, &driver.path)
                .map_err(|source| RepositoryError::ReadDriver {
                    path: driver.path.clone(),
                    source,
                })?
                .with_arch(driver.arch);
            let key = relative(&driver.key);
            files.push(GenericFile::new(key, Arc::new(artifact)).map_err(store_err("publish to"))?);
        }
        self.generic
            .publish_files(&files)
            .await
            .map_err(store_err("publish to"))?;
        let changed: BTreeSet<crate::DriverVersion> =
            upload.iter().map(|b| b.driver_version.clone()).collect();
        outcome.uploaded = upload.into_iter().map(|b| b.key).collect();
        // Only the versions this publish added to are rewritten; a stale site is rewritten
        // whole.
        let only = (!listing.index_is_stale()).then_some(changed);
        outcome.index = Some(self.write_site(only).await?);
        Ok(outcome)
    }

    /// Rewrites the index of prebuilt drivers from a listing taken under the repository
    /// lock (so the last writer's index holds every driver published before it): every
    /// `<driverversion>.json`, then `index.html`, then `index.json`, which names the versions;
    /// then deletes the `<driverversion>.json` of versions no longer present.
    pub async fn regenerate_index(&self) -> Result<DriverIndex, RepositoryError> {
        self.write_site(None).await
    }

    /// Rewrites the site files of `only` (every version when `None`), see [`site_files`].
    async fn write_site(
        &self,
        only: Option<BTreeSet<crate::DriverVersion>>,
    ) -> Result<DriverIndex, RepositoryError> {
        let base_url = self.base_url.clone();
        let scope = only.as_ref().map_or(ListScope::All, |versions| {
            ListScope::UnderWithGroups(prefixes_of(versions))
        });
        self.generic
            .write_derived_in(&scope, move |listed| {
                let groups = listed.groups.unwrap_or_default();
                let listing = Listing::of(listed.objects);
                site_files(listing, &groups, &base_url, only.as_ref())
            })
            .await
            .map_err(store_err("write the index of"))
    }

    /// Deletes every object of the driver versions `selection` names ([`CleanupPlan::of`]),
    /// or with [`CleanupMode::DryRun`] only says which. Deleting goes through the repository
    /// lock (the generic index without them is live before any file goes), then the index of
    /// prebuilt drivers is regenerated. Refused when nothing is named or a named version is
    /// in `protected`; a version is never deleted for not being shipped.
    pub async fn cleanup(
        &self,
        selection: &CleanupSelection,
        protected: &[crate::DriverVersion],
        mode: CleanupMode,
    ) -> Result<CleanupOutcome, RepositoryError> {
        let listing = self.listing().await?;
        let plan = CleanupPlan::of(&listing.objects, selection, protected)?;
        if mode == CleanupMode::DryRun || plan.is_empty() {
            return Ok(CleanupOutcome {
                plan,
                deleted: false,
                index: None,
            });
        }
        let keys: BTreeSet<String> = plan.keys.iter().map(|k| relative(k).to_owned()).collect();
        self.generic
            .remove(&keys)
            .await
            .map_err(store_err("clean up"))?;
        let index = self.regenerate_index().await?;
        Ok(CleanupOutcome {
            plan,
            deleted: true,
            index: Some(index),
        })
    }

    /// The coverage of `versions` (every driver version the repository holds when empty) for
    /// the kernels of `list`, from one listing ([`Coverage::of`]).
    pub async fn coverage(
        &self,
        list: &KernelList,
        versions: &[crate::DriverVersion],
        generated: &str,
    ) -> Result<Coverage, RepositoryError> {
        let listing = self.listing().await?;
        let versions: Vec<crate::DriverVersion> = if versions.is_empty() {
            DriverIndex::build(&listing.objects, "")
                .versions
                .into_keys()
                .collect()
        } else {
            versions.to_vec()
        };
        Ok(Coverage::of(list, &listing.objects, &versions, generated))
    }

    /// Writes `coverage` as `driver/site/coverage.json`, the section of the drivers page
    /// that lists kernels without a prebuilt driver, under the repository lock.
    pub async fn write_coverage(&self, coverage: &Coverage) -> Result<(), RepositoryError> {
        let bytes = coverage.to_json().to_string().into_bytes();
        let key = relative(COVERAGE_JSON_KEY).to_owned();
        self.generic
            .write_derived(move |_| {
                (
                    DerivedFiles {
                        write: vec![(key, bytes)],
                        delete: Vec::new(),
                    },
                    (),
                )
            })
            .await
            .map_err(store_err("write the coverage of"))
    }

    /// Counts what the repository holds, from one listing ([`Stats::of_index`]).
    pub async fn stats(&self) -> Result<Stats, RepositoryError> {
        let listing = self.listing().await?;
        Ok(Stats::of_index(&DriverIndex::build(&listing.objects, "")))
    }
}

/// The driver version a key `driver/<driverversion>/…` of a driver file belongs to.
fn driver_version_of(key: &str) -> Option<crate::DriverVersion> {
    if !is_driver_key(key) {
        return None;
    }
    let mut parts = key.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(DRIVER_PREFIX), Some(lib), Some(_)) => lib.parse().ok(),
        _ => None,
    }
}

/// What a publish into `versions` lists: their objects and the site's.
fn prefixes_of(versions: &BTreeSet<crate::DriverVersion>) -> Vec<String> {
    let mut prefixes: Vec<String> = versions.iter().map(ToString::to_string).collect();
    prefixes.push(SITE.to_owned());
    prefixes
}

/// The site files of `listing`, keys relative to the generic repository, and the index of
/// the versions written. With `only`, just those driver versions' `<driverversion>.json`
/// are rewritten (what a publish into them changed), `index.json` (the list of versions, a
/// few hundred bytes, from `groups`, the repository's first path components, and the
/// listing) always, and the page when it is missing or not this build's; without,
/// everything, and the files of versions no longer present are deleted.
fn site_files(
    listing: Listing,
    groups: &[String],
    base_url: &str,
    only: Option<&BTreeSet<crate::DriverVersion>>,
) -> (DerivedFiles, DriverIndex) {
    let mut all_versions: BTreeSet<crate::DriverVersion> =
        groups.iter().filter_map(|g| g.parse().ok()).collect();
    let mut page_size = None;
    let mut objects = Vec::new();
    for object in listing.objects {
        if object.key == INDEX_HTML_KEY {
            page_size = Some(object.size);
        }
        if let Some(version) = driver_version_of(&object.key) {
            let wanted = only.is_none_or(|only| only.contains(&version));
            all_versions.insert(version);
            if wanted {
                objects.push(object);
            }
        } else if only.is_none() {
            objects.push(object);
        }
    }
    let index = DriverIndex::build(&objects, base_url);
    let mut write = Vec::new();
    for version in index.versions.keys() {
        write.push((
            format!("{DRIVER_PREFIX}/{SITE}/{version}.json"),
            index.version_json(version).into_bytes(),
        ));
    }
    let page_current = page_size == Some(SITE_PAGE.len() as u64);
    if only.is_none() || !page_current {
        write.push((INDEX_HTML_KEY.to_owned(), SITE_PAGE.as_bytes().to_vec()));
    }
    // `index.json` names the per-version files: it goes last.
    write.push((
        INDEX_JSON_KEY.to_owned(),
        versions_json(&all_versions).into_bytes(),
    ));
    let written: BTreeSet<&str> = write.iter().map(|(k, _)| k.as_str()).collect();
    let site = format!("{DRIVER_PREFIX}/{SITE}/");
    let delete = if only.is_some() {
        Vec::new()
    } else {
        objects
            .iter()
            .map(|o| o.key.as_str())
            .filter(|k| {
                k.starts_with(&site)
                    && k.ends_with(".json")
                    && *k != COVERAGE_JSON_KEY
                    && !written.contains(k)
            })
            .map(|k| relative(k).to_owned())
            .collect()
    };
    let write = write
        .into_iter()
        .map(|(key, bytes)| (relative(&key).to_owned(), bytes))
        .collect();
    (DerivedFiles { write, delete }, index)
}

/// A store key `driver/…` relative to the generic repository.
fn relative(key: &str) -> &str {
    key.strip_prefix(DRIVER_PREFIX)
        .and_then(|k| k.strip_prefix('/'))
        .unwrap_or(key)
}

/// Splits `built` into what `existing` lacks (to upload) and what it holds (skipped),
/// by key: published drivers are immutable, so a key that exists is never uploaded again.
fn split_existing(
    built: Vec<BuiltDriver>,
    existing: &crate::ExistingKeys,
) -> (Vec<BuiltDriver>, Vec<BuiltDriver>) {
    built.into_iter().partition(|b| !existing.contains(&b.key))
}
