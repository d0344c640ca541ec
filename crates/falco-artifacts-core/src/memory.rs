//! A publisher that keeps everything in memory: the reference behaviour of the trait, for tests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::artifact::Artifact;
use crate::channel::{Channel, Overwrite, RepoKind, Retention};
use crate::digest::Sha256Digest;
use crate::error::Error;
use crate::publisher::{Occupant, PublishPlan, PublishReport, PublishedFile, Publisher};
use crate::verify::{Problem, VerifyOptions, VerifyReport};

/// Files by repository, then by file name, with their bytes.
type Repositories = BTreeMap<String, BTreeMap<String, (PublishedFile, Vec<u8>)>>;

/// A [`Publisher`] that keeps repositories in memory.
///
/// It implements the trait's contract with no storage in between, so it serves as the
/// reference for what real publishers must do and as a stand-in in unit tests. It is never
/// proof that a real repository works.
///
/// ```
/// use std::sync::Arc;
/// use falco_artifacts_core::{Artifact, ArtifactKind, ChannelConfig, InMemoryPublisher, LocalArtifact, Publisher};
///
/// # tokio_test_block_on(async {
/// let publisher: Arc<dyn Publisher> = Arc::new(InMemoryPublisher::default());
/// let tarball: Arc<dyn Artifact> = Arc::new(
///     LocalArtifact::from_bytes(ArtifactKind::Tarball, "falco-0.39.0-x86_64.tar.gz", b"tgz".to_vec())?
///         .with_version("0.39.0".parse()?),
/// );
/// let stable = ChannelConfig::stable();
/// let first = publisher.publish(&stable, &[tarball.clone()]).await?;
/// assert_eq!(first.uploaded.len(), 1);
/// assert!(publisher.publish(&stable, &[tarball]).await?.is_noop());
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct InMemoryPublisher {
    repositories: Mutex<Repositories>,
}

impl InMemoryPublisher {
    /// The bytes of a published file, if present.
    pub fn bytes(&self, repository: &str, file_name: &str) -> Option<Vec<u8>> {
        self.repositories()
            .get(repository)
            .and_then(|files| files.get(file_name))
            .map(|(_, bytes)| bytes.clone())
    }
}

fn read_all(artifact: &dyn Artifact) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::with_capacity(usize::try_from(artifact.size()).unwrap_or(0));
    artifact
        .open()
        .and_then(|mut r| r.read_to_end(&mut bytes))
        .map_err(|source| Error::Backend {
            backend: "memory".into(),
            action: format!("reading {}", artifact.file_name()),
            source: Box::new(source),
        })?;
    Ok(bytes)
}

fn prune(
    files: &mut BTreeMap<String, (PublishedFile, Vec<u8>)>,
    retention: Retention,
) -> Vec<PublishedFile> {
    let names: Vec<String> = files.keys().cloned().collect();
    let expired = retention.expired(
        files
            .values()
            .map(|(f, _)| f.version.as_ref().map(|v| (f.arch, v))),
        Ord::cmp,
    );
    expired
        .into_iter()
        .filter_map(|i| files.remove(&names[i]).map(|(f, _)| f))
        .collect()
}

/// One artifact ready to go in: its repository kind, its description, its bytes.
type Staged = (RepoKind, PublishedFile, Vec<u8>);

impl InMemoryPublisher {
    fn repositories(&self) -> std::sync::MutexGuard<'_, Repositories> {
        self.repositories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks and reads every artifact, writing nothing.
    fn stage(channel: &dyn Channel, artifacts: &[Arc<dyn Artifact>]) -> Result<Vec<Staged>, Error> {
        let mut staged = Vec::with_capacity(artifacts.len());
        for artifact in artifacts {
            let kind = artifact.repository().ok_or_else(|| {
                Error::invalid_input(format!(
                    "artifact {} ({:?}) belongs to no repository of a channel",
                    artifact.file_name(),
                    artifact.kind()
                ))
            })?;
            if let Some(version) = artifact.version() {
                if !channel.accepts(version) {
                    return Err(Error::invalid_input(format!(
                        "artifact {}: the {} channel does not accept version {version}",
                        artifact.file_name(),
                        channel.name()
                    )));
                }
            }
            let file = PublishedFile {
                repository: channel.repository(kind).to_owned(),
                key: artifact.file_name().to_owned(),
                file_name: artifact.file_name().to_owned(),
                sha256: *artifact.sha256(),
                size: artifact.size(),
                version: artifact.version().cloned(),
                arch: artifact.arch(),
            };
            staged.push((kind, file, read_all(artifact.as_ref())?));
        }
        Ok(staged)
    }

    /// Publishes `staged` into `repos`: refused whole, or applied whole with retention.
    fn apply(
        repos: &mut Repositories,
        channel: &dyn Channel,
        staged: Vec<Staged>,
    ) -> Result<PublishReport, Error> {
        // Check every artifact before writing any, so a refused publish changes nothing.
        for (_, file, _) in &staged {
            let existing = repos
                .get(&file.repository)
                .and_then(|f| f.get(&file.file_name));
            if let Some((old, _)) = existing {
                if old.sha256 != file.sha256 && channel.overwrite() == Overwrite::Immutable {
                    return Err(Error::AlreadyExists {
                        repository: file.repository.clone(),
                        name: file.file_name.clone(),
                        existing: old.sha256,
                        new: file.sha256,
                        // Every file here is indexed: a publish is applied whole.
                        occupant: Occupant::Published,
                    });
                }
            }
        }
        let mut report = PublishReport::default();
        let mut touched = BTreeSet::new();
        for (kind, file, bytes) in staged {
            touched.insert(kind);
            let files = repos.entry(file.repository.clone()).or_default();
            let same = files
                .get(&file.file_name)
                .is_some_and(|(old, _)| old.sha256 == file.sha256);
            if same {
                report.unchanged.push(file);
            } else {
                files.insert(file.file_name.clone(), (file.clone(), bytes));
                report.uploaded.push(file);
            }
        }
        for kind in touched {
            if let Some(files) = repos.get_mut(channel.repository(kind)) {
                report.pruned.extend(prune(files, channel.retention(kind)));
            }
        }
        Ok(report)
    }
}

#[async_trait]
impl Publisher for InMemoryPublisher {
    async fn publish(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishReport, Error> {
        let staged = Self::stage(channel, artifacts)?;
        Self::apply(&mut self.repositories(), channel, staged)
    }

    async fn plan(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<PublishPlan, Error> {
        let staged = Self::stage(channel, artifacts)?;
        let mut repos = self.repositories().clone();
        let repository = staged
            .first()
            .map(|(_, f, _)| f.repository.clone())
            .unwrap_or_default();
        let existed: BTreeSet<(String, String)> = staged
            .iter()
            .filter(|(_, f, _)| {
                repos
                    .get(&f.repository)
                    .is_some_and(|files| files.contains_key(&f.file_name))
            })
            .map(|(_, f, _)| (f.repository.clone(), f.file_name.clone()))
            .collect();
        let report = Self::apply(&mut repos, channel, staged)?;
        let (replace, upload) = report
            .uploaded
            .into_iter()
            .partition(|f| existed.contains(&(f.repository.clone(), f.file_name.clone())));
        Ok(PublishPlan {
            repository,
            upload,
            replace,
            unchanged: report.unchanged,
            prune: report.pruned,
            index_files: Vec::new(),
        })
    }

    async fn verify(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
        _: &VerifyOptions,
    ) -> Result<VerifyReport, Error> {
        let repository = channel.repository(kind);
        let repos = self.repositories();
        let files = repos.get(repository);
        let problems = files
            .into_iter()
            .flat_map(|files| files.values())
            .filter_map(|(file, bytes)| {
                let stored = Sha256Digest::of_bytes(bytes);
                (stored != file.sha256).then(|| Problem::HashMismatch {
                    path: file.key.clone(),
                    indexed: file.sha256,
                    stored,
                })
            })
            .collect();
        Ok(VerifyReport {
            repository: repository.to_owned(),
            files: files.map_or(0, BTreeMap::len),
            problems,
        })
    }

    async fn list(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, Error> {
        let repos = self.repositories();
        Ok(repos
            .get(channel.repository(kind))
            .map(|files| files.values().map(|(f, _)| f.clone()).collect())
            .unwrap_or_default())
    }

    async fn apply_retention(
        &self,
        channel: &dyn Channel,
        kind: RepoKind,
    ) -> Result<Vec<PublishedFile>, Error> {
        let mut repos = self.repositories();
        Ok(repos
            .get_mut(channel.repository(kind))
            .map(|files| prune(files, channel.retention(kind)))
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arch, ArtifactKind, ChannelConfig, LocalArtifact};

    fn tarball(version: &str, bytes: &[u8]) -> Arc<dyn Artifact> {
        Arc::new(
            LocalArtifact::from_bytes(
                ArtifactKind::Tarball,
                format!("falco-{version}-x86_64.tar.gz"),
                bytes.to_vec(),
            )
            .unwrap()
            .with_version(version.parse().unwrap())
            .with_arch(Arch::X86_64),
        )
    }

    #[tokio::test]
    async fn stable_is_immutable_and_refusal_changes_nothing() {
        let p = InMemoryPublisher::default();
        let stable = ChannelConfig::stable();
        p.publish(&stable, &[tarball("0.39.0", b"one")])
            .await
            .unwrap();
        let err = p
            .publish(
                &stable,
                &[tarball("0.39.1", b"new"), tarball("0.39.0", b"two")],
            )
            .await
            .unwrap_err();
        match err {
            Error::AlreadyExists { existing, new, .. } => assert_ne!(existing, new),
            other => panic!("unexpected {other:?}"),
        }
        let listed = p.list(&stable, RepoKind::Bin).await.unwrap();
        assert_eq!(
            listed.len(),
            1,
            "the refused publish must write nothing: {listed:?}"
        );
        assert_eq!(
            p.bytes("bin", "falco-0.39.0-x86_64.tar.gz").unwrap(),
            b"one"
        );
    }

    #[tokio::test]
    async fn development_keeps_the_last_ten_tarballs() {
        let p: Arc<dyn Publisher> = Arc::new(InMemoryPublisher::default());
        let dev = ChannelConfig::development();
        for n in 1..=12 {
            p.publish(&dev, &[tarball(&format!("0.45.0-{n}+abcdef{n}"), b"x")])
                .await
                .unwrap();
        }
        let mut names: Vec<_> = p
            .list(&dev, RepoKind::Bin)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.file_name)
            .collect();
        names.sort();
        assert_eq!(names.len(), 10);
        assert!(
            !names
                .iter()
                .any(|n| n.contains("0.45.0-1+") || n.contains("0.45.0-2+")),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n.contains("0.45.0-12+")));
    }
}
