//! The YUM/DNF repository: `packages/rpm[-dev]/` with the packages at its root and
//! `repodata/` (`repomd.xml`, its `.asc`, content-addressed `primary`/`filelists`/`other`).

mod blocks;
mod builder;
mod indexes;
mod merge;
mod metadata;
mod record;
mod repomd;
mod stage;
mod state;
mod verify;
mod xml;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use falco_artifacts_core::{
    Arch, Artifact, Channel, Error as CoreError, PublishReport, PublishedFile, Publisher, RepoKind,
    Retention, Sha256Digest, Signer, Version,
};

pub use builder::YumRepositoryBuilder;
pub use xml::BadMetadata;

use self::merge::Merged;
use self::record::Record;
use self::stage::RpmStaged;
use self::state::Live;
use crate::engine::FileRepo;
use crate::error::PublishError;
use crate::index::{FileKind, RepoIndex};
use crate::options::RepositoryOptions;
use crate::protocol::commit::Commit;
use crate::protocol::upload::{Policy, Staged};
use crate::protocol::{self, Format};
use crate::store::RepoStore;
use falco_artifacts_core::{Orphan, PublishPlan};
use falco_artifacts_core::{Problem, VerifyOptions, VerifyReport};

/// The top file, relative to the repository.
pub(crate) const REPOMD: &str = "repodata/repomd.xml";
/// Its detached, ASCII-armored signature (what dnf's `repo_gpgcheck` reads).
pub(crate) const REPOMD_ASC: &str = "repodata/repomd.xml.asc";

/// A YUM/DNF repository per channel under `<base>/<channel's rpm repository>/`: the packages
/// `falco-<version>-<arch>.rpm` (and `.asc`) at its root, `repodata/repomd.xml` with its
/// detached signature `repomd.xml.asc`, and `repodata/<sha256>-{primary,filelists,other}.xml.gz`
/// written before it, as `createrepo_c` lays them out (a `baseurl` at the repository works
/// with yum and dnf unchanged).
///
/// Publishing reads the live `repomd.xml` and the three documents it names, and merges: it
/// never reads the other packages, and an unchanged package's entries are reused as they were
/// written. With a signer, packages without a signature are signed on publish through
/// pkg-rpm (their `.asc` made over the signed bytes, replacing an offered one), and
/// `repomd.xml.asc` is written. Retention keeps the newest N versions per package name and
/// architecture in rpm version order; the metadata of the last
/// [`index_generations`](RepositoryOptions::index_generations) generations stays, so a client
/// that read an older `repomd.xml` a moment ago still finds what it names.
///
/// ```
/// use std::sync::Arc;
/// use falco_artifacts_pkg_rpm::RpmBuilder;
/// use falco_artifacts_publish::core::package::{load_manifest_str, ManifestOptions};
/// use falco_artifacts_publish::core::{
///     Artifact, ArtifactKind, ChannelConfig, KeyAlgorithm, LocalArtifact, PgpSigner, Publisher,
///     RepoKind,
/// };
/// use falco_artifacts_publish::{RepoStore, VerifyOptions, YumRepository};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let yaml = "name: falco\nversion: 0.39.0\narch: x86_64\nmaintainer: M <m@example.org>\n\
///             description: Falco\nlicense: Apache-2.0\nsource_date: 1700000000\n";
/// let spec = load_manifest_str(yaml, std::path::Path::new("."), &ManifestOptions::default())?;
/// let dir = tempfile::tempdir()?;
/// let path = RpmBuilder::new(&spec).build()?.write_to_dir(dir.path())?;
/// let package: Arc<dyn Artifact> = Arc::new(
///     LocalArtifact::from_path(ArtifactKind::Rpm, &path)?
///         .with_version(spec.version.clone())
///         .with_arch(spec.arch),
/// );
///
/// let site = tempfile::tempdir()?;
/// let store = RepoStore::from_url(&format!("file://{}", site.path().display()))?;
/// let signer = Arc::new(PgpSigner::generate("Falco <f@example.org>", KeyAlgorithm::Ed25519)?);
/// let yum = YumRepository::builder(store).with_signer(signer).build()?;
/// let stable = ChannelConfig::stable();
/// // The unsigned package is signed on publish, and gets an `.asc`.
/// let report = yum.publish(&stable, &[package]).await?;
/// assert_eq!(report.uploaded.len(), 2);
/// let repo = site.path().join("packages/rpm");
/// assert!(repo.join("repodata/repomd.xml.asc").exists());
/// assert!(repo.join("falco-0.39.0-x86_64.rpm.asc").exists());
/// assert_eq!(yum.list(&stable, RepoKind::Rpm).await?.len(), 1);
/// assert!(yum.verify(&stable, &VerifyOptions::default()).await?.is_clean());
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct YumRepository {
    store: RepoStore,
    base: String,
    architectures: Vec<Arch>,
    signer: Option<Arc<dyn Signer>>,
    gzip_level: u32,
    options: RepositoryOptions,
}

impl YumRepository {
    /// A builder for the YUM repositories in `store`.
    pub fn builder(store: RepoStore) -> YumRepositoryBuilder {
        YumRepositoryBuilder {
            repo: YumRepository {
                store,
                base: "packages".into(),
                architectures: Arch::ALL.to_vec(),
                signer: None,
                gzip_level: 1,
                options: RepositoryOptions::default(),
            },
        }
    }

    fn rpm_arches(&self) -> Vec<String> {
        self.architectures
            .iter()
            .map(|a| a.rpm_name().to_owned())
            .collect()
    }

    fn files(&self, channel: &dyn Channel) -> Result<FileRepo, PublishError> {
        FileRepo::open(
            &self.store,
            &self.base,
            channel.repository(RepoKind::Rpm),
            &self.options,
        )
    }

    fn published(repository: &str, record: &Record) -> PublishedFile {
        PublishedFile {
            repository: repository.to_owned(),
            key: record.href.clone(),
            file_name: record.href.clone(),
            sha256: record.pkgid,
            size: record.size,
            version: version_of(record),
            arch: record.arch.parse().ok(),
        }
    }

    /// The dry run: what [`Publisher::publish`] would upload, replace and prune.
    pub async fn plan(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishPlan, PublishError> {
        let files = self.files(channel)?;
        let (staged, rpms) = self.stage(&files.store, channel, artifacts).await?;
        protocol::plan(self, &files, &staged, &rpms, Self::policy(channel)).await
    }

    /// Publishes, returning this crate's error (with its typed context) rather than core's.
    pub async fn publish_files(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishReport, PublishError> {
        let files = self.files(channel)?;
        // Every file is checked and read before any is written, so a refused publish
        // changes nothing.
        let (staged, rpms) = self.stage(&files.store, channel, artifacts).await?;
        protocol::publish(self, &files, &staged, &rpms, Self::policy(channel)).await
    }

    /// Applies `channel`'s retention now.
    pub async fn prune(&self, channel: &dyn Channel) -> Result<Vec<PublishedFile>, PublishError> {
        let files = self.files(channel)?;
        protocol::prune(self, &files, channel.retention(RepoKind::Rpm)).await
    }

    fn policy(channel: &dyn Channel) -> Policy {
        Policy {
            overwrite: channel.overwrite(),
            retention: channel.retention(RepoKind::Rpm),
        }
    }

    /// Re-signs `channel`'s live repository in place with this repository's signer (a key
    /// rotation): every package's header signature (header and payload untouched, so the
    /// package's bytes and `primary.xml` checksum change but not its payload digests), every
    /// `.asc`, and `repomd.xml.asc`, as one commit under the lock; the stable channel
    /// included. See [`ResignReport`](crate::ResignReport) for what a reader can see meanwhile.
    pub async fn resign(&self, channel: &dyn Channel) -> Result<crate::ResignReport, PublishError> {
        let files = self.files(channel)?;
        let Some(signer) = &self.signer else {
            return Err(PublishError::NoSigner {
                repository: files.store.root().to_owned(),
            });
        };
        protocol::resign::resign(self, &files, signer.as_ref()).await
    }

    /// Reads the repository like dnf does and reports every problem.
    pub async fn verify(
        &self,
        channel: &dyn Channel,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, PublishError> {
        protocol::verify::verify(self, &self.files(channel)?, options).await
    }

    /// The orphans of `channel`'s repository: package files (`.rpm`, `.rpm.asc`) no live index and no kept older
    /// generation names, left by a publish that failed after uploading; sorted by key, nothing
    /// changed.
    pub async fn orphans(&self, channel: &dyn Channel) -> Result<Vec<Orphan>, PublishError> {
        protocol::orphans::orphans(self, &self.files(channel)?).await
    }

    /// Deletes the orphans of `channel`'s repository (found again under its lock, against
    /// the index live then) and returns them.
    pub async fn remove_orphans(&self, channel: &dyn Channel) -> Result<Vec<Orphan>, PublishError> {
        protocol::orphans::remove(self, &self.files(channel)?).await
    }
}

/// The release version of a package named `<name>-<version>-<arch>.rpm`, when it parses.
fn version_of(record: &Record) -> Option<Version> {
    let rest = record.href.strip_prefix(&format!("{}-", record.name))?;
    let version = rest.strip_suffix(&format!("-{}.rpm", record.arch))?;
    Version::parse(version).ok()
}

#[async_trait]
impl Format for YumRepository {
    type Live = Live;
    type Offer = RpmStaged;
    type Merged = Merged;
    type Scope = BTreeSet<u8>;

    fn scope(&self, _: &[Staged], rpms: &[RpmStaged], _: Retention) -> Option<BTreeSet<u8>> {
        Some(
            rpms.iter()
                .map(|r| crate::buckets::bucket(&r.record.name))
                .collect(),
        )
    }

    async fn read(
        &self,
        repo: &FileRepo,
        scope: Option<&BTreeSet<u8>>,
    ) -> Result<Live, PublishError> {
        state::read_scoped(&repo.store, scope).await
    }

    async fn refresh(
        &self,
        repo: &FileRepo,
        earlier: Live,
        scope: Option<&BTreeSet<u8>>,
    ) -> Result<Live, PublishError> {
        state::refresh(&repo.store, earlier, scope).await
    }

    fn top_keys(&self) -> Vec<String> {
        vec![REPOMD.to_owned(), REPOMD_ASC.to_owned()]
    }

    fn exists(&self, live: &Live) -> bool {
        live.exists()
    }

    fn pending(&self, live: &Live) -> bool {
        !live.bookkeeping.pruned.is_empty()
    }

    fn waiting<'a>(&self, live: &'a Live) -> BTreeSet<&'a str> {
        live.bookkeeping.waiting()
    }

    fn hint<'a>(&self, live: &'a Live) -> Cow<'a, RepoIndex> {
        Cow::Owned(RepoIndex::of_files(
            FileKind::Rpm,
            live.records
                .values()
                .map(|r| (r.href.as_str(), r.size, r.pkgid)),
        ))
    }

    fn admit(
        &self,
        repository: &str,
        policy: Policy,
        live: &Live,
        rpms: &[RpmStaged],
    ) -> Result<(), PublishError> {
        merge::refuse_moved(repository, policy.overwrite, live, rpms)
    }

    fn indexed(&self, live: &Live, staged: &[Staged], rpms: &[RpmStaged]) -> bool {
        live.exists()
            && rpms.iter().all(|r| {
                live.records
                    .get(&r.record.href)
                    .is_some_and(|l| l.pkgid == r.record.pkgid)
            })
            && staged
                .iter()
                .all(|s| !s.key.ends_with(".rpm") || live.records.contains_key(s.key.as_str()))
    }

    fn merge(&self, live: &Live, _: &[Staged], rpms: &[RpmStaged], retention: Retention) -> Merged {
        merge::merge(live, rpms, retention)
    }

    fn pruned(&self, repository: &str, merged: &Merged) -> Vec<PublishedFile> {
        merged
            .pruned
            .iter()
            .map(|r| Self::published(repository, r))
            .collect()
    }

    async fn check_top(
        &self,
        repo: &FileRepo,
        problems: &mut Vec<Problem>,
    ) -> Result<bool, PublishError> {
        verify::check_top(self, &repo.store, problems).await
    }

    async fn read_all(&self, repo: &FileRepo) -> Result<Live, PublishError> {
        // Every document parsed, not the layout beside them: what dnf reads.
        state::read_full(&repo.store).await
    }

    fn owner<'k>(&self, key: &'k str) -> Option<&'k str> {
        let owner = key.strip_suffix(".asc").unwrap_or(key);
        (!key.contains('/') && owner.ends_with(".rpm")).then_some(owner)
    }

    fn resign_package(
        &self,
        key: &str,
        bytes: &Bytes,
        signer: &dyn Signer,
    ) -> Result<Option<(Bytes, RpmStaged)>, PublishError> {
        // Header and payload untouched: only the signature header (and so the file's digest,
        // perhaps its size and header range) changes.
        let signed = Bytes::from(stage::sign(key, bytes, signer)?);
        let info = stage::parse(key, &signed)?;
        let size = u64::try_from(signed.len()).unwrap_or(u64::MAX);
        let record =
            Record::new(&info, Sha256Digest::of_bytes(&signed), size, key).map_err(|source| {
                PublishError::Compress {
                    what: format!("the repodata entry of {key}"),
                    source,
                }
            })?;
        Ok(Some((signed, RpmStaged { record })))
    }

    fn commit(&self, repo: &FileRepo, live: &Live, merged: Merged) -> Result<Commit, PublishError> {
        YumRepository::commit(self, live, &merged, repo.generations)
    }
}

#[async_trait]
impl Publisher for YumRepository {
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
        if kind != RepoKind::Rpm {
            return Ok(VerifyReport::default());
        }
        Ok(Self::verify(self, channel, options).await?)
    }

    async fn list(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, CoreError> {
        if kind != RepoKind::Rpm {
            return Ok(Vec::new());
        }
        let files = self.files(channel)?;
        let live = state::read(&files.store).await?;
        Ok(live
            .records
            .values()
            .map(|r| Self::published(&files.name, r))
            .collect())
    }

    async fn apply_retention(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, CoreError> {
        if kind != RepoKind::Rpm {
            return Ok(Vec::new());
        }
        Ok(self.prune(channel).await?)
    }

    async fn orphans(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<Orphan>, CoreError> {
        if kind != RepoKind::Rpm {
            return Ok(Vec::new());
        }
        Ok(Self::orphans(self, channel).await?)
    }

    async fn remove_orphans(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<Orphan>, CoreError> {
        if kind != RepoKind::Rpm {
            return Ok(Vec::new());
        }
        Ok(Self::remove_orphans(self, channel).await?)
    }
}
