//! Reading the offered packages: digests, control fields, checks against the repository.

use std::io::Read as _;
use std::sync::Arc;

use falco_artifacts_core::{
    Artifact, ArtifactKind, Channel, DigestSet, DigestingReader, Digests, RepoKind,
};

use super::packages::Stanza;
use super::AptRepository;
use crate::error::PublishError;
use crate::protocol::upload::Staged;
use crate::store::check_key;

/// A `.deb` read for indexing.
#[derive(Debug, Clone)]
pub(crate) struct DebInfo {
    pub(super) stanza: Stanza,
    /// The binary architectures it is listed under.
    pub(super) arches: Vec<String>,
}

/// Reads a `.deb` artifact: MD5 and SHA-256 of its bytes, its control fields.
fn read_deb(
    artifact: Arc<dyn Artifact>,
) -> Result<(Digests, falco_artifacts_pkg_deb::Control), PublishError> {
    let name = artifact.file_name().to_owned();
    let read_err = |source| PublishError::ReadArtifact {
        name: name.clone(),
        source,
    };
    let mut bytes = Vec::with_capacity(usize::try_from(artifact.size()).unwrap_or(0));
    let mut reader = DigestingReader::new(artifact.open().map_err(read_err)?, DigestSet::WITH_MD5);
    reader.read_to_end(&mut bytes).map_err(read_err)?;
    let digests = reader.finish();
    if &digests.sha256 != artifact.sha256() {
        return Err(PublishError::ArtifactChanged {
            name,
            expected: *artifact.sha256(),
            actual: digests.sha256,
        });
    }
    let deb = falco_artifacts_pkg_deb::DebReader::new(&bytes[..])
        .map_err(|source| PublishError::NotADeb { name, source })?;
    Ok((digests, deb.control().clone()))
}

impl AptRepository {
    /// Checks and reads every artifact: `.deb`s are parsed, signatures go beside them.
    pub(super) async fn stage(
        &self,
        channel: &dyn Channel,
        artifacts: &[Arc<dyn Artifact>],
    ) -> Result<(Vec<Staged>, Vec<DebInfo>), PublishError> {
        let served = self.deb_arches();
        let mut staged = Vec::new();
        let mut deb_artifacts = Vec::new();
        for artifact in artifacts {
            let name = artifact.file_name();
            if artifact.repository() != Some(RepoKind::Deb) {
                return Err(PublishError::WrongRepository {
                    name: name.to_owned(),
                    expected: RepoKind::Deb,
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
            let key = self.layout.pool(name);
            check_key(&key)?;
            if artifact.kind() == ArtifactKind::Deb {
                deb_artifacts.push(Arc::clone(artifact));
            }
            staged.push(Staged {
                key,
                artifact: Arc::clone(artifact),
            });
        }
        // Reading and parsing packages is the expensive part: on several threads.
        let read = crate::chunked::map_in_chunks(deb_artifacts.clone(), read_deb)
            .await?
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let mut debs = Vec::with_capacity(read.len());
        for (artifact, (digests, control)) in deb_artifacts.iter().zip(read) {
            debs.push(self.describe(artifact.as_ref(), &digests, &control, &served)?);
        }
        Ok((crate::protocol::upload::dedupe(staged)?, debs))
    }

    /// Checks a parsed package against the repository and its description; its stanza.
    fn describe(
        &self,
        artifact: &dyn Artifact,
        digests: &Digests,
        control: &falco_artifacts_pkg_deb::Control,
        served: &[String],
    ) -> Result<DebInfo, PublishError> {
        let name = artifact.file_name();
        let key = self.layout.pool(name);
        let arch = control.architecture().to_owned();
        let arches = if arch == "all" {
            served.to_vec()
        } else if served.contains(&arch) {
            vec![arch.clone()]
        } else {
            return Err(PublishError::ArchNotServed {
                name: name.to_owned(),
                arch,
                allowed: served.to_vec(),
            });
        };
        if let Some(expected) = artifact.arch() {
            if arch != "all" && expected.deb_name() != arch {
                return Err(PublishError::Mismatch {
                    name: name.to_owned(),
                    field: "Architecture",
                    expected: expected.deb_name().to_owned(),
                    found: arch,
                });
            }
        }
        if let Some(expected) = artifact.version() {
            if expected.deb_version() != control.version() {
                return Err(PublishError::Mismatch {
                    name: name.to_owned(),
                    field: "Version",
                    expected: expected.deb_version(),
                    found: control.version().to_owned(),
                });
            }
        }
        let md5 = digests.md5.unwrap_or_default();
        let stanza = Stanza::new(control.fields(), &key, digests.size, &md5, digests.sha256)
            .ok_or_else(|| PublishError::MissingField {
                name: name.to_owned(),
                field: "Package, Version or Architecture",
            })?;
        Ok(DebInfo { stanza, arches })
    }
}
