//! Why packages built elsewhere were refused or could not be prepared, each naming the file.

use std::path::PathBuf;

use falco_artifacts_core::package::PackagerError;
use falco_artifacts_core::Arch;

/// Why `release publish` refused a file (before anything is uploaded) or could not sign it.
#[derive(Debug, thiserror::Error)]
pub enum PrebuiltError {
    /// Neither the flags nor the configuration's `prebuilt:` section name a file.
    #[error("no packages to publish: give --deb, --rpm or --tarball files, or list them under `prebuilt:` in the configuration")]
    NoFiles,
    /// The file is not a package of the format it was given as.
    #[error("{path}: not a package of format {format}", path = path.display())]
    NotAPackage {
        /// The file.
        path: PathBuf,
        /// `deb`, `rpm` or `tarball`.
        format: &'static str,
        /// What the reader found wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A tarball that is not one top directory `<name>-<version>-<arch>/`, as CPack and our
    /// packager write it.
    #[error("{path}: not a release tarball: {why} (expected every entry under one top directory `<name>-<version>-<arch>/`)", path = path.display())]
    TarballLayout {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The package's architecture field names no architecture Falco releases.
    #[error("{path}: {field} is {found:?}, not one of {expected:?}", path = path.display())]
    UnknownArch {
        /// The file.
        path: PathBuf,
        /// The field read (`Architecture`, `Arch`, the top directory).
        field: &'static str,
        /// Its value.
        found: String,
        /// The names accepted in that field.
        expected: Vec<&'static str>,
    },
    /// The package is for an architecture this release does not publish.
    #[error("{path}: architecture {arch} is not one of the release's {arches:?} (the configuration's `arches`)", path = path.display())]
    ArchNotReleased {
        /// The file.
        path: PathBuf,
        /// Its architecture.
        arch: Arch,
        /// The architectures released.
        arches: Vec<Arch>,
    },
    /// The package's version is not the release's.
    #[error("{path}: {field} is {found:?}, but release {release} wants {expected:?}", path = path.display())]
    VersionMismatch {
        /// The file.
        path: PathBuf,
        /// The field read (`Version`, the top directory).
        field: &'static str,
        /// Its value.
        found: String,
        /// The release's version as this format renders it.
        expected: String,
        /// The release: its version and channel (`0.45.0 (channel stable)`).
        release: String,
    },
    /// An `.rpm` without a header signature, where `rpm_signature: require` asks for one.
    #[error("{path}: the RPM carries no header signature, and `rpm_signature: require` publishes only signed ones", path = path.display())]
    Unsigned {
        /// The file.
        path: PathBuf,
    },
    /// Two files would be published under one name.
    #[error("{path} and {other} both publish as {name}", path = path.display(), other = other.display())]
    Duplicate {
        /// The second file.
        path: PathBuf,
        /// The first.
        other: PathBuf,
        /// The name in the repository.
        name: String,
    },
    /// A file could not be copied into the work directory.
    #[error("copying {from} to {to}", from = from.display(), to = to.display())]
    Copy {
        /// The file given.
        from: PathBuf,
        /// Its copy.
        to: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The copy of an `.rpm` could not be (re-)signed.
    #[error("signing the header of {path}", path = path.display())]
    SignRpm {
        /// The copy signed.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<falco_artifacts_pkg_rpm::RpmError>,
    },
    /// A copy could not be described or signed (`.asc`).
    #[error("preparing {path}", path = path.display())]
    Prepare {
        /// The copy.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<PackagerError<std::convert::Infallible>>,
    },
}
