//! Reading a package built elsewhere (CPack, `dpkg-deb -b`, `rpmbuild -bb`, GNU tar) for its
//! own name, version and architecture, and checking them against the release: nothing here
//! writes a byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use falco_artifacts_core::package::Format;
use falco_artifacts_core::{Arch, Channel, Release};
use falco_artifacts_pkg_deb::DebReader;
use falco_artifacts_pkg_rpm::RpmInfo;

use super::{PrebuiltError, PrebuiltFiles, RpmSignature};

/// A file that passed every check, with what it said about itself.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// The file given.
    pub(crate) path: PathBuf,
    /// Its format.
    pub(crate) format: Format,
    /// Its architecture.
    pub(crate) arch: Arch,
    /// The name it is published as: `<name>-<version>-<arch>.<ext>`, as our packagers and
    /// CPack (`CPACK_PACKAGE_FILE_NAME`) name it.
    pub(crate) file_name: String,
    /// An `.rpm` that already carries a header signature.
    pub(crate) signed: bool,
}

/// Reads and checks every file of `files` for `release`: each is a package of its format, for
/// one of `arches`, of the release's version; `.rpm`s are signed when `rpm_signature` is
/// [`RpmSignature::Require`]; no two publish under one name.
pub(crate) fn check_all(
    release: &Release,
    files: &PrebuiltFiles,
    arches: &[Arch],
    rpm_signature: RpmSignature,
) -> Result<Vec<Checked>, PrebuiltError> {
    if files.is_empty() {
        return Err(PrebuiltError::NoFiles);
    }
    let check = Check { release, arches };
    let mut out = Vec::new();
    for path in &files.deb {
        out.push(check.deb(path)?);
    }
    for path in &files.rpm {
        let checked = check.rpm(path)?;
        if rpm_signature == RpmSignature::Require && !checked.signed {
            return Err(PrebuiltError::Unsigned { path: path.clone() });
        }
        out.push(checked);
    }
    for path in &files.tarball {
        out.push(check.tarball(path)?);
    }
    let mut names: BTreeMap<&str, &Path> = BTreeMap::new();
    for checked in &out {
        if let Some(other) = names.insert(&checked.file_name, &checked.path) {
            return Err(PrebuiltError::Duplicate {
                path: checked.path.clone(),
                other: other.to_owned(),
                name: checked.file_name.clone(),
            });
        }
    }
    Ok(out)
}

struct Check<'a> {
    release: &'a Release,
    arches: &'a [Arch],
}

impl Check<'_> {
    fn deb(&self, path: &Path) -> Result<Checked, PrebuiltError> {
        let reader = DebReader::open(path).map_err(|source| PrebuiltError::NotAPackage {
            path: path.to_owned(),
            format: "deb",
            source: Box::new(source),
        })?;
        let control = reader.control();
        let arch = self.arch(path, "Architecture", control.architecture(), Arch::deb_name)?;
        self.version(
            path,
            "Version",
            control.version(),
            &self.release.version.deb_version(),
        )?;
        Ok(self.checked(path, Format::Deb, control.package(), arch, false))
    }

    fn rpm(&self, path: &Path) -> Result<Checked, PrebuiltError> {
        let info = RpmInfo::open(path).map_err(|source| PrebuiltError::NotAPackage {
            path: path.to_owned(),
            format: "rpm",
            source: Box::new(source),
        })?;
        let arch = self.arch(path, "Arch", &info.arch, Arch::rpm_name)?;
        self.version(
            path,
            "Version",
            &info.version,
            &self.release.version.rpm_version(),
        )?;
        let signed = !info.signatures.is_empty();
        Ok(self.checked(path, Format::Rpm, &info.name, arch, signed))
    }

    /// A tarball says who it is by its top directory, `<name>-<version>-<arch>/`.
    fn tarball(&self, path: &Path) -> Result<Checked, PrebuiltError> {
        let entries = falco_artifacts_pkg_tar::list_file(path).map_err(|source| {
            PrebuiltError::NotAPackage {
                path: path.to_owned(),
                format: "tarball",
                source: Box::new(source),
            }
        })?;
        let layout = |why: String| PrebuiltError::TarballLayout {
            path: path.to_owned(),
            why,
        };
        // It is published as `.tar.gz`, so it must be one.
        if !is_gzip(path) {
            return Err(layout("it is not gzip-compressed".to_owned()));
        }
        let mut top: Option<&str> = None;
        for entry in &entries {
            let first = entry.path.trim_start_matches("./");
            let first = first.split('/').next().unwrap_or_default();
            match top {
                None => top = Some(first),
                Some(t) if t == first => {}
                Some(t) => {
                    return Err(layout(format!(
                        "it has two top directories, {t:?} and {first:?}"
                    )))
                }
            }
        }
        let top = top
            .filter(|t| !t.is_empty())
            .ok_or_else(|| layout("it is empty".to_owned()))?;
        let (rest, arch_name) = top
            .rsplit_once('-')
            .ok_or_else(|| layout(format!("the top directory {top:?} names no architecture")))?;
        let arch = self.arch(path, "the top directory's arch", arch_name, Arch::file_name)?;
        let (name, version) = split_name_version(rest).ok_or_else(|| {
            layout(format!(
                "the top directory {top:?} names no version after the package name"
            ))
        })?;
        self.version(
            path,
            "the top directory's version",
            version,
            &self.release.version.file_name_part(),
        )?;
        Ok(self.checked(path, Format::Tar, name, arch, false))
    }

    /// The arch whose `render`ing is `found`, if the release publishes it.
    fn arch(
        &self,
        path: &Path,
        field: &'static str,
        found: &str,
        render: fn(Arch) -> &'static str,
    ) -> Result<Arch, PrebuiltError> {
        let arch = Arch::ALL
            .into_iter()
            .find(|&a| render(a) == found)
            .ok_or_else(|| PrebuiltError::UnknownArch {
                path: path.to_owned(),
                field,
                found: found.to_owned(),
                expected: Arch::ALL.into_iter().map(render).collect(),
            })?;
        if !self.arches.contains(&arch) {
            return Err(PrebuiltError::ArchNotReleased {
                path: path.to_owned(),
                arch,
                arches: self.arches.to_vec(),
            });
        }
        Ok(arch)
    }

    fn version(
        &self,
        path: &Path,
        field: &'static str,
        found: &str,
        expected: &str,
    ) -> Result<(), PrebuiltError> {
        if found == expected {
            return Ok(());
        }
        Err(PrebuiltError::VersionMismatch {
            path: path.to_owned(),
            field,
            found: found.to_owned(),
            expected: expected.to_owned(),
            release: format!(
                "{} (channel {})",
                self.release.version,
                self.release.channel.name()
            ),
        })
    }

    fn checked(
        &self,
        path: &Path,
        format: Format,
        name: &str,
        arch: Arch,
        signed: bool,
    ) -> Checked {
        let ext = match format {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
            Format::Tar => "tar.gz",
        };
        Checked {
            path: path.to_owned(),
            format,
            arch,
            file_name: format!(
                "{name}-{}-{}.{ext}",
                self.release.version.file_name_part(),
                arch.file_name()
            ),
            signed,
        }
    }
}

/// Whether the file starts with the gzip magic bytes (it was listed already, so it opens).
fn is_gzip(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}

/// `falco-0.45.0-36+1307474` → (`falco`, `0.45.0-36+1307474`): the version starts at the
/// first `-` followed by a digit (package names may hold `-`, versions start with one).
fn split_name_version(s: &str) -> Option<(&str, &str)> {
    let at = s
        .char_indices()
        .find(|&(i, c)| c == '-' && s[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)?;
    let (name, version) = (&s[..at], &s[at + 1..]);
    (!name.is_empty()).then_some((name, version))
}

#[cfg(test)]
mod tests {
    use super::split_name_version;

    #[test]
    fn a_top_directory_splits_at_the_version() {
        assert_eq!(
            split_name_version("falco-0.45.0-36+1307474"),
            Some(("falco", "0.45.0-36+1307474"))
        );
        assert_eq!(
            split_name_version("falco-static-0.45.0-rc1"),
            Some(("falco-static", "0.45.0-rc1"))
        );
        assert_eq!(split_name_version("falco"), None);
        assert_eq!(split_name_version("-0.45.0"), None);
    }
}
