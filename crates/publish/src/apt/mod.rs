//! The APT repository: `packages/deb[-dev]/` with a pool, `Packages` per architecture,
//! `by-hash/`, and a signed `Release`/`InRelease`/`Release.gpg`.

mod buckets;
mod builder;
mod indexes;
mod merge;
mod packages;
mod release;
mod stage;
pub(crate) mod state;
mod verify;
mod version;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use falco_artifacts_core::{
    Arch, Artifact, ArtifactKind, Channel, Error as CoreError, PublishReport, PublishedFile,
    Publisher, RepoKind, Retention, Sha256Digest, Signer, Version,
};

pub use builder::AptRepositoryBuilder;
pub use packages::BadStanza;

use self::merge::Merged;
use self::packages::Stanza;
use self::stage::DebInfo;
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

/// Paths inside one APT repository.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    suite: String,
    component: String,
}

impl Layout {
    fn dists(&self) -> String {
        format!("dists/{}", self.suite)
    }
    pub(crate) fn release(&self) -> String {
        format!("{}/Release", self.dists())
    }
    fn in_release(&self) -> String {
        format!("{}/InRelease", self.dists())
    }
    fn release_gpg(&self) -> String {
        format!("{}/Release.gpg", self.dists())
    }
    /// `main/binary-amd64`, relative to `dists/<suite>/`.
    fn binary_dir(&self, arch: &str) -> String {
        format!("{}/binary-{arch}", self.component)
    }
    pub(crate) fn by_hash(&self, arch: &str, sha: &Sha256Digest) -> String {
        format!(
            "{}/{}/by-hash/SHA256/{sha}",
            self.dists(),
            self.binary_dir(arch)
        )
    }
    /// The architecture of `main/binary-<arch>/Packages`, as `Release` lists it.
    pub(crate) fn arch_of_packages(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix(&format!("{}/binary-", self.component))?;
        let arch = rest.strip_suffix("/Packages")?;
        Some(arch.to_owned())
    }
    fn pool(&self, file_name: &str) -> String {
        format!("{}/{file_name}", self.suite)
    }
}

/// An APT repository per channel under `<base>/<channel's deb repository>/`: pool
/// `<suite>/falco-<version>-<arch>.deb` (and `.asc`), `dists/<suite>/<component>/binary-<arch>/
/// Packages{,.gz,.xz}` with `by-hash/SHA256/`, and `dists/<suite>/Release`, `Release.gpg`,
/// `InRelease` signed by the repository's signer.
///
/// Publishing reads the live `Release` and the `Packages` it names (by hash) and merges; it
/// never reads the pool, so adding a package costs the same requests at any repository size.
/// The top files are written `Release`, `Release.gpg`, then `InRelease`: apt reads `InRelease`
/// first, so it is the commit point. Retention keeps the newest N versions of each package and
/// architecture in Debian version order; a pruned package's `.asc` goes with it.
/// [`Publisher::list`] returns the packages (signatures travel beside them, unlisted).
#[derive(Debug, Clone)]
pub struct AptRepository {
    store: RepoStore,
    base: String,
    layout: Layout,
    architectures: Vec<Arch>,
    origin: String,
    label: String,
    signer: Option<Arc<dyn Signer>>,
    gzip_level: u32,
    xz_level: Option<u32>,
    options: RepositoryOptions,
}

impl AptRepository {
    /// A builder for the APT repositories in `store`.
    pub fn builder(store: RepoStore) -> AptRepositoryBuilder {
        AptRepositoryBuilder {
            repo: AptRepository {
                store,
                base: "packages".into(),
                layout: Layout {
                    suite: "stable".into(),
                    component: "main".into(),
                },
                architectures: Arch::ALL.to_vec(),
                origin: "Falco".into(),
                label: "Falco".into(),
                signer: None,
                gzip_level: 1,
                xz_level: None,
                options: RepositoryOptions::default(),
            },
        }
    }

    fn deb_arches(&self) -> Vec<String> {
        self.architectures
            .iter()
            .map(|a| a.deb_name().to_owned())
            .collect()
    }

    fn files(&self, channel: &dyn Channel) -> Result<FileRepo, PublishError> {
        FileRepo::open(
            &self.store,
            &self.base,
            channel.repository(RepoKind::Deb),
            &self.options,
        )
    }

    fn published(repository: &str, stanza: &Stanza) -> PublishedFile {
        PublishedFile {
            repository: repository.to_owned(),
            key: stanza.filename.clone(),
            file_name: stanza
                .filename
                .rsplit('/')
                .next()
                .unwrap_or(&stanza.filename)
                .to_owned(),
            sha256: stanza.sha256,
            size: stanza.size,
            version: Version::parse(&stanza.version).ok(),
            arch: stanza.architecture.parse().ok(),
        }
    }

    /// The dry run: what [`Publisher::publish`] would upload, replace and prune.
    pub async fn plan(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishPlan, PublishError> {
        let files = self.files(channel)?;
        let (staged, debs) = self.stage(channel, artifacts).await?;
        protocol::plan(self, &files, &staged, &debs, Self::policy(channel)).await
    }

    /// Publishes, returning this crate's error (with its typed context) rather than core's.
    pub async fn publish_files(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishReport, PublishError> {
        let files = self.files(channel)?;
        let (staged, debs) = self.stage(channel, artifacts).await?;
        protocol::publish(self, &files, &staged, &debs, Self::policy(channel)).await
    }

    /// Re-signs `channel`'s live repository in place with this repository's signer (a key
    /// rotation): every `.deb.asc` made again over the unchanged package, and
    /// `Release.gpg`/`InRelease`, as one commit under the lock; the stable channel included.
    pub async fn resign(&self, channel: &dyn Channel) -> Result<crate::ResignReport, PublishError> {
        let files = self.files(channel)?;
        let Some(signer) = &self.signer else {
            return Err(PublishError::NoSigner {
                repository: files.store.root().to_owned(),
            });
        };
        protocol::resign::resign(self, &files, signer.as_ref()).await
    }

    /// Applies `channel`'s retention now.
    pub async fn prune(&self, channel: &dyn Channel) -> Result<Vec<PublishedFile>, PublishError> {
        let files = self.files(channel)?;
        protocol::prune(self, &files, channel.retention(RepoKind::Deb)).await
    }

    fn policy(channel: &dyn Channel) -> Policy {
        Policy {
            overwrite: channel.overwrite(),
            retention: channel.retention(RepoKind::Deb),
        }
    }

    /// Reads the repository like apt does and reports every problem.
    pub async fn verify(
        &self,
        channel: &dyn Channel,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, PublishError> {
        protocol::verify::verify(self, &self.files(channel)?, options).await
    }

    /// The orphans of `channel`'s repository: pool files (`.deb`, `.deb.asc`) no live index and no kept older
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

#[async_trait]
impl Format for AptRepository {
    type Live = Live;
    type Offer = DebInfo;
    type Merged = Merged;
    type Scope = BTreeSet<u8>;

    fn scope(&self, _: &[Staged], debs: &[DebInfo], _: Retention) -> Option<BTreeSet<u8>> {
        Some(
            debs.iter()
                .map(|d| crate::buckets::bucket(&d.stanza.package))
                .collect(),
        )
    }

    async fn read(
        &self,
        repo: &FileRepo,
        scope: Option<&BTreeSet<u8>>,
    ) -> Result<Live, PublishError> {
        state::read_scoped(&repo.store, &self.layout, scope).await
    }

    async fn refresh(
        &self,
        repo: &FileRepo,
        earlier: Live,
        scope: Option<&BTreeSet<u8>>,
    ) -> Result<Live, PublishError> {
        state::refresh(&repo.store, &self.layout, earlier, scope).await
    }

    fn top_keys(&self) -> Vec<String> {
        vec![
            self.layout.release(),
            self.layout.release_gpg(),
            self.layout.in_release(),
        ]
    }

    fn exists(&self, live: &Live) -> bool {
        live.exists
    }

    fn pending(&self, live: &Live) -> bool {
        !live.bookkeeping.pruned.is_empty()
    }

    fn waiting<'a>(&self, live: &'a Live) -> BTreeSet<&'a str> {
        live.bookkeeping.waiting()
    }

    fn hint<'a>(&self, live: &'a Live) -> Cow<'a, RepoIndex> {
        Cow::Owned(RepoIndex::of_files(
            FileKind::Deb,
            live.pool_files()
                .into_iter()
                .map(|(path, (sha256, size))| (path, size, sha256)),
        ))
    }

    fn admit(
        &self,
        repository: &str,
        policy: Policy,
        live: &Live,
        debs: &[DebInfo],
    ) -> Result<(), PublishError> {
        Self::refuse_moved(repository, policy.overwrite, live, debs)
    }

    fn indexed(&self, live: &Live, staged: &[Staged], debs: &[DebInfo]) -> bool {
        if !live.exists {
            return false;
        }
        let indexed: HashSet<(&str, (&str, &str, &str), &Sha256Digest)> = live
            .stanzas
            .iter()
            .flat_map(|(arch, list)| {
                list.iter()
                    .map(move |s| (arch.as_str(), s.key(), &s.sha256))
            })
            .collect();
        let live_files = live.pool_files();
        debs.iter().all(|d| {
            d.arches
                .iter()
                .all(|arch| indexed.contains(&(arch.as_str(), d.stanza.key(), &d.stanza.sha256)))
        }) && staged
            .iter()
            .filter(|s| s.artifact.kind() == ArtifactKind::Deb)
            .all(|s| live_files.contains_key(s.key.as_str()))
    }

    fn merge(&self, live: &Live, _: &[Staged], debs: &[DebInfo], retention: Retention) -> Merged {
        AptRepository::merge(self, live, debs, retention)
    }

    fn pruned(&self, repository: &str, merged: &Merged) -> Vec<PublishedFile> {
        merged
            .pruned_files
            .iter()
            .map(|(_, s)| Self::published(repository, s))
            .collect()
    }

    async fn check_top(
        &self,
        repo: &FileRepo,
        problems: &mut Vec<Problem>,
    ) -> Result<bool, PublishError> {
        verify::check_top(self, &repo.store, problems).await
    }

    fn owner<'k>(&self, key: &'k str) -> Option<&'k str> {
        let pool = key.strip_prefix(&self.layout.suite)?.strip_prefix('/')?;
        (!pool.is_empty()).then(|| key.strip_suffix(".asc").unwrap_or(key))
    }

    fn commit(&self, repo: &FileRepo, live: &Live, merged: Merged) -> Result<Commit, PublishError> {
        AptRepository::commit(self, live, &merged, repo.generations)
    }
}

#[async_trait]
impl Publisher for AptRepository {
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
        if kind != RepoKind::Deb {
            return Ok(VerifyReport::default());
        }
        Ok(Self::verify(self, channel, options).await?)
    }

    async fn list(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, CoreError> {
        if kind != RepoKind::Deb {
            return Ok(Vec::new());
        }
        let files = self.files(channel)?;
        let live = state::read(&files.store, &self.layout).await?;
        let mut seen = BTreeSet::new();
        Ok(live
            .stanzas
            .values()
            .flatten()
            .filter(|s| seen.insert(s.filename.clone()))
            .map(|s| Self::published(&files.name, s))
            .collect())
    }

    async fn apply_retention(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, CoreError> {
        if kind != RepoKind::Deb {
            return Ok(Vec::new());
        }
        Ok(self.prune(channel).await?)
    }

    async fn orphans(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<Orphan>, CoreError> {
        if kind != RepoKind::Deb {
            return Ok(Vec::new());
        }
        Ok(Self::orphans(self, channel).await?)
    }

    async fn remove_orphans(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<Orphan>, CoreError> {
        if kind != RepoKind::Deb {
            return Ok(Vec::new());
        }
        Ok(Self::remove_orphans(self, channel).await?)
    }
}
