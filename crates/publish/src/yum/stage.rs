//! Reading the offered packages: digests, headers, checks against the repository, and a
//! signature for the unsigned ones when the repository has a signer.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::sync::Arc;

use falco_artifacts_core::{
    Artifact, ArtifactKind, Channel, LocalArtifact, RepoKind, Sha256Digest, Signer,
};
use falco_artifacts_pkg_rpm::RpmInfo;

use super::record::Record;
use super::YumRepository;
use crate::error::PublishError;
use crate::protocol::upload::Staged;
use crate::store::{check_key, RepoStore};

/// An `.rpm` read for indexing, as it will be published.
#[derive(Debug, Clone)]
pub(crate) struct RpmStaged {
    pub(super) record: Record,
}

/// An `.rpm` artifact after reading (and perhaps signing).
struct Read {
    artifact: Arc<dyn Artifact>,
    bytes: Arc<[u8]>,
    info: RpmInfo,
    signed_here: bool,
}

fn read_bytes(artifact: &dyn Artifact) -> Result<Vec<u8>, PublishError> {
    let name = artifact.file_name().to_owned();
    let read_err = |source| PublishError::ReadArtifact {
        name: name.clone(),
        source,
    };
    let mut bytes = Vec::with_capacity(usize::try_from(artifact.size()).unwrap_or(0));
    artifact
        .open()
        .and_then(|mut r| r.read_to_end(&mut bytes))
        .map_err(read_err)?;
    let actual = Sha256Digest::of_bytes(&bytes);
    if &actual != artifact.sha256() {
        return Err(PublishError::ArtifactChanged {
            name,
            expected: *artifact.sha256(),
            actual,
        });
    }
    Ok(bytes)
}

pub(super) fn parse(name: &str, bytes: &[u8]) -> Result<RpmInfo, PublishError> {
    RpmInfo::read(bytes).map_err(|source| PublishError::NotAnRpm {
        name: name.to_owned(),
        source: Box::new(source),
    })
}

/// Signs the package's header through pkg-rpm, on a private copy of its bytes.
pub(super) fn sign(name: &str, bytes: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, PublishError> {
    let io_err = |source| PublishError::ReadArtifact {
        name: name.to_owned(),
        source,
    };
    let dir = tempfile::tempdir().map_err(io_err)?;
    let path = dir.path().join("package.rpm");
    std::fs::write(&path, bytes).map_err(io_err)?;
    falco_artifacts_pkg_rpm::resign_file(&path, signer).map_err(|source| {
        PublishError::SignPackage {
            name: name.to_owned(),
            source: Box::new(source),
        }
    })?;
    std::fs::read(&path).map_err(io_err)
}

fn like(artifact: &dyn Artifact, bytes: Arc<[u8]>) -> Result<Arc<dyn Artifact>, PublishError> {
    let mut signed = LocalArtifact::from_bytes(ArtifactKind::Rpm, artifact.file_name(), bytes)
        .map_err(|source| PublishError::InvalidKey {
            key: format!("{} ({source})", artifact.file_name()),
            reason: "not a usable artifact file name",
        })?;
    if let Some(version) = artifact.version() {
        signed = signed.with_version(version.clone());
    }
    if let Some(arch) = artifact.arch() {
        signed = signed.with_arch(arch);
    }
    Ok(Arc::new(signed))
}

fn read_rpm(
    artifact: Arc<dyn Artifact>,
    signer: Option<Arc<dyn Signer>>,
) -> Result<Read, PublishError> {
    let name = artifact.file_name().to_owned();
    let bytes = read_bytes(artifact.as_ref())?;
    let info = parse(&name, &bytes)?;
    match signer {
        Some(signer) if info.signatures.is_empty() => {
            let signed: Arc<[u8]> = sign(&name, &bytes, signer.as_ref())?.into();
            let info = parse(&name, &signed)?;
            Ok(Read {
                artifact: like(artifact.as_ref(), Arc::clone(&signed))?,
                bytes: signed,
                info,
                signed_here: true,
            })
        }
        _ => Ok(Read {
            artifact,
            bytes: bytes.into(),
            info,
            signed_here: false,
        }),
    }
}

/// A package signed here whose key already holds the same package signed earlier (the
/// signature time differs, the header does not): the stored one is kept.
async fn adopt_stored(store: &RepoStore, key: &str, read: Read) -> Result<Read, PublishError> {
    let Some(stored) = store.get(key).await? else {
        return Ok(read);
    };
    if stored[..] == read.bytes[..] {
        return Ok(read);
    }
    let Ok(info) = RpmInfo::read(&stored[..]) else {
        return Ok(read);
    };
    let same = info.header_sha256.is_some()
        && info.header_sha256 == read.info.header_sha256
        && !info.signatures.is_empty();
    if !same {
        return Ok(read);
    }
    let bytes: Arc<[u8]> = stored.to_vec().into();
    Ok(Read {
        artifact: like(read.artifact.as_ref(), Arc::clone(&bytes))?,
        bytes,
        info,
        signed_here: true,
    })
}

impl YumRepository {
    /// Checks and reads every artifact: `.rpm`s are parsed (and signed when they need it),
    /// signatures go beside them.
    pub(super) async fn stage(
        &self,
        store: &RepoStore,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<(Vec<Staged>, Vec<RpmStaged>), PublishError> {
        let mut others = Vec::new();
        let mut reads = Vec::new();
        for artifact in artifacts {
            let name = artifact.file_name();
            if artifact.repository() != Some(RepoKind::Rpm) {
                return Err(PublishError::WrongRepository {
                    name: name.to_owned(),
                    expected: RepoKind::Rpm,
                    found: artifact.repository(),
                });
            }
            if let Some(version) = artifact.version() {
                if !channel.accepts(version) {
                    return Err(PublishError::NotAccepted {
                        name: name.to_owned(),
                        channel: channel.name().clone(),
                        version: version.clone(),
                    });
                }
            }
            check_key(name)?;
            if name.contains('/') {
                return Err(PublishError::InvalidKey {
                    key: name.to_owned(),
                    reason: "a package file name has no directory",
                });
            }
            if artifact.kind() == ArtifactKind::Rpm {
                reads.push(Arc::clone(artifact));
            } else {
                others.push(Arc::clone(artifact));
            }
        }
        // Reading, parsing and signing packages is the expensive part: on several threads.
        let signer = self.signer.clone();
        let read = crate::chunked::map_in_chunks(reads, move |a| read_rpm(a, signer.clone()))
            .await?
            .into_iter()
            .collect::<Result<Vec<Read>, _>>()?;
        let mut staged = Vec::new();
        let mut rpms = Vec::new();
        let mut signed_here = BTreeSet::new();
        for r in read {
            let key = r.artifact.file_name().to_owned();
            self.check(r.artifact.as_ref(), &r.info)?;
            let r = if r.signed_here {
                adopt_stored(store, &key, r).await?
            } else {
                r
            };
            let record = Record::new(&r.info, *r.artifact.sha256(), r.artifact.size(), &key)
                .map_err(|source| PublishError::Compress {
                    what: format!("the repodata entry of {key}"),
                    source,
                })?;
            if r.signed_here {
                signed_here.insert(key.clone());
                let asc_key = format!("{key}.asc");
                if let Some(asc) = self.detached_signature(store, &asc_key, &r).await? {
                    staged.push(Staged {
                        key: asc_key,
                        artifact: asc,
                    });
                }
            }
            staged.push(Staged {
                key,
                artifact: r.artifact,
            });
            rpms.push(RpmStaged { record });
        }
        for artifact in others {
            let key = artifact.file_name().to_owned();
            let owner = key.strip_suffix(".asc").unwrap_or(&key);
            // An offered signature of a package signed here signs other bytes: ours replaces it.
            if !signed_here.contains(owner) {
                staged.push(Staged { key, artifact });
            }
        }
        Ok((crate::protocol::upload::dedupe(staged)?, rpms))
    }

    /// The `.asc` of a package signed here, unless one made with it is already stored.
    async fn detached_signature(
        &self,
        store: &RepoStore,
        asc_key: &str,
        read: &Read,
    ) -> Result<Option<Arc<dyn Artifact>>, PublishError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let adopted = store
            .head(read.artifact.file_name())
            .await?
            .is_some_and(|m| m.size == read.artifact.size());
        if adopted && store.head(asc_key).await?.is_some() {
            return Ok(None);
        }
        let asc = signer
            .sign_detached_armored(&mut &read.bytes[..])
            .map_err(|source| PublishError::Sign {
                what: "a package's .asc",
                source,
            })?;
        let mut artifact =
            LocalArtifact::from_bytes(ArtifactKind::Signature, asc_key, asc.into_bytes())
                .map_err(|source| PublishError::InvalidKey {
                    key: format!("{asc_key} ({source})"),
                    reason: "not a usable artifact file name",
                })?
                .with_repository(RepoKind::Rpm);
        if let Some(version) = read.artifact.version() {
            artifact = artifact.with_version(version.clone());
        }
        if let Some(arch) = read.artifact.arch() {
            artifact = artifact.with_arch(arch);
        }
        Ok(Some(Arc::new(artifact)))
    }

    /// Checks a parsed package against the repository and the artifact's description.
    fn check(&self, artifact: &dyn Artifact, info: &RpmInfo) -> Result<(), PublishError> {
        let name = artifact.file_name();
        let served = self.rpm_arches();
        if info.arch != "noarch" && !served.contains(&info.arch) {
            return Err(PublishError::ArchNotServed {
                name: name.to_owned(),
                arch: info.arch.clone(),
                allowed: served,
            });
        }
        if let Some(expected) = artifact.arch() {
            if info.arch != "noarch" && expected.rpm_name() != info.arch {
                return Err(PublishError::Mismatch {
                    name: name.to_owned(),
                    field: "Arch",
                    expected: expected.rpm_name().to_owned(),
                    found: info.arch.clone(),
                });
            }
        }
        if let Some(expected) = artifact.version() {
            if expected.rpm_version() != info.version {
                return Err(PublishError::Mismatch {
                    name: name.to_owned(),
                    field: "Version",
                    expected: expected.rpm_version(),
                    found: info.version.clone(),
                });
            }
        }
        Ok(())
    }
}
