//! The format-neutral package description that the DEB, RPM and tarball packagers consume.
//!
//! One [`PackageSpec`] describes Falco for every format, like nfpm's `contents` and
//! `overrides`: relations common to all formats plus per-format additions, and content entries
//! that say which formats include them (systemd units only in DEB and RPM, say). It is usually
//! loaded from a YAML manifest with [`load_manifest`]; `docs/manifest.md` describes the format
//! (directory and glob entries are expanded here, once for every packager).
//!
//! ```
//! use falco_artifacts_core::package::{Format, ManifestOptions, load_manifest_str};
//!
//! let yaml = r#"
//! name: falco
//! version: 0.39.0
//! arch: x86_64
//! maintainer: The Falco Authors <cncf-falco-dev@lists.cncf.io>
//! description: |
//!   Falco - Cloud Native Runtime Security
//!   Falco detects unexpected behaviour in hosts and containers.
//! license: Apache-2.0
//! overrides:
//!   deb: { suggests: [dkms] }
//!   rpm: { requires: [systemd] }
//! contents:
//!   - dst: /etc/falco/falco.yaml
//!     inline: "rules_files: []\n"
//!     type: config-noreplace
//!   - dst: /usr/lib/systemd/system/falco.service
//!     inline: "[Unit]\n"
//!     formats: [deb, rpm]
//! source_date: 1700000000
//! "#;
//! let spec = load_manifest_str(yaml, std::path::Path::new("."), &ManifestOptions::default())?;
//! assert_eq!(spec.relations_for(Format::Deb).suggests, ["dkms"]);
//! assert_eq!(spec.relations_for(Format::Rpm).depends, ["systemd"]);
//! assert_eq!(spec.contents_for(Format::Tar).count(), 1);
//! # Ok::<(), falco_artifacts_core::package::ManifestError>(())
//! ```

mod assemble;
mod links;
mod manifest;
mod packager;
mod paths;
mod source_date;
mod tree;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

pub use links::{first_escaping_link, link_escapes_root};
pub use manifest::{load_manifest, load_manifest_str, ManifestError, ManifestOptions};
pub use packager::{
    create_out_dir, describe, describe_file, detached_signature, detached_signature_named,
    PackageFile, Packager, PackagerError,
};
pub use paths::{relative_target_stays_inside, InstallPath, InvalidInstallPath};
pub use source_date::{SourceDate, SourceDateError};
pub use validate::SpecError;

use crate::arch::Arch;
use crate::version::Version;

/// A package format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `.deb`
    Deb,
    /// `.rpm`
    Rpm,
    /// The release tarball.
    Tar,
}

/// A set of formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatSet {
    deb: bool,
    rpm: bool,
    tar: bool,
}

impl FormatSet {
    /// Every format.
    pub const ALL: FormatSet = FormatSet {
        deb: true,
        rpm: true,
        tar: true,
    };

    /// The set of the given formats.
    pub fn of(formats: &[Format]) -> Self {
        let has = |f| formats.contains(&f);
        FormatSet {
            deb: has(Format::Deb),
            rpm: has(Format::Rpm),
            tar: has(Format::Tar),
        }
    }

    /// Whether `format` is in the set.
    pub fn contains(self, format: Format) -> bool {
        match format {
            Format::Deb => self.deb,
            Format::Rpm => self.rpm,
            Format::Tar => self.tar,
        }
    }

    /// Whether the two sets share a format.
    pub fn overlaps(self, other: FormatSet) -> bool {
        (self.deb && other.deb) || (self.rpm && other.rpm) || (self.tar && other.tar)
    }

    /// True when no format is in the set.
    pub fn is_empty(self) -> bool {
        !(self.deb || self.rpm || self.tar)
    }
}

/// Package relations. Names follow DEB; for RPM, `depends` is `Requires`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// DEB `Depends`, RPM `Requires`.
    pub depends: Vec<String>,
    /// DEB `Pre-Depends`, RPM `Requires(pre)`.
    pub pre_depends: Vec<String>,
    /// `Recommends`.
    pub recommends: Vec<String>,
    /// `Suggests`.
    pub suggests: Vec<String>,
    /// `Conflicts`.
    pub conflicts: Vec<String>,
    /// DEB `Breaks`.
    pub breaks: Vec<String>,
    /// DEB `Replaces`, RPM `Obsoletes`.
    pub replaces: Vec<String>,
    /// `Provides`.
    pub provides: Vec<String>,
}

impl Relations {
    fn extended(&self, more: &Relations) -> Relations {
        let join = |a: &Vec<String>, b: &Vec<String>| a.iter().chain(b).cloned().collect();
        Relations {
            depends: join(&self.depends, &more.depends),
            pre_depends: join(&self.pre_depends, &more.pre_depends),
            recommends: join(&self.recommends, &more.recommends),
            suggests: join(&self.suggests, &more.suggests),
            conflicts: join(&self.conflicts, &more.conflicts),
            breaks: join(&self.breaks, &more.breaks),
            replaces: join(&self.replaces, &more.replaces),
            provides: join(&self.provides, &more.provides),
        }
    }
}

/// Whether a file is configuration the package manager must preserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// Not configuration.
    None,
    /// Configuration (DEB conffile; RPM `%config`: a changed file is saved as `.rpmsave`).
    Config,
    /// Configuration kept as edited (DEB conffile; RPM `%config(noreplace)`).
    ConfigNoReplace,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentSource {
    /// A file on disk, streamed when packed.
    Path(PathBuf),
    /// Bytes given in the description.
    Inline(Arc<[u8]>),
}

/// What a content entry installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentKind {
    /// A regular file.
    File {
        /// Its bytes.
        source: ContentSource,
        /// Whether it is configuration.
        config: ConfigKind,
    },
    /// A directory.
    Dir,
    /// A symbolic link, declared without touching disk.
    Symlink {
        /// The link target, as written into the link.
        target: String,
    },
}

/// One installed path of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentEntry {
    /// Where it is installed.
    pub dst: InstallPath,
    /// What it is.
    pub kind: ContentKind,
    /// Permission bits (`0o755`).
    pub mode: u32,
    /// Owner name.
    pub owner: String,
    /// Group name.
    pub group: String,
    /// Formats that include it.
    pub formats: FormatSet,
}

/// A maintainer script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The interpreter from the script's `#!` line, `/bin/sh` when it has none.
    pub interpreter: String,
    /// The whole script, `#!` line included.
    pub body: String,
}

/// Maintainer scripts (DEB `preinst`/`postinst`/`prerm`/`postrm`; RPM
/// `%pre`/`%post`/`%preun`/`%postun`, and `%pretrans`/`%posttrans`, which DEB has not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scripts {
    /// Run before installation (DEB `preinst`, RPM `%pre`).
    pub pre_install: Option<Script>,
    /// Run after installation.
    pub post_install: Option<Script>,
    /// Run before removal.
    pub pre_remove: Option<Script>,
    /// Run after removal.
    pub post_remove: Option<Script>,
    /// RPM `%pretrans`: before the transaction (no DEB equivalent; DEB ignores it).
    pub pre_transaction: Option<Script>,
    /// RPM `%posttrans`: after the transaction (no DEB equivalent; DEB ignores it).
    pub post_transaction: Option<Script>,
}

/// A package, described once for every format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    /// Package name (`falco`).
    pub name: String,
    /// Version.
    pub version: Version,
    /// Architecture.
    pub arch: Arch,
    /// `Name <email>`.
    pub maintainer: String,
    /// One-line summary: the first line of the description.
    pub summary: String,
    /// The rest of the description (may be empty).
    pub description: String,
    /// Project home page.
    pub homepage: Option<String>,
    /// SPDX license expression.
    pub license: String,
    /// Vendor.
    pub vendor: Option<String>,
    /// DEB section.
    pub section: Option<String>,
    /// DEB priority.
    pub priority: Option<String>,
    /// Relations for every format.
    pub relations: Relations,
    /// Relations added for DEB only.
    pub deb_relations: Relations,
    /// Relations added for RPM only.
    pub rpm_relations: Relations,
    /// Installed paths.
    pub contents: Vec<ContentEntry>,
    /// Maintainer scripts.
    pub scripts: Scripts,
    /// The time stamped on every entry, for reproducible output.
    pub source_date: SourceDate,
}

impl PackageSpec {
    /// The relations of `format`: the common ones followed by that format's own.
    pub fn relations_for(&self, format: Format) -> Relations {
        match format {
            Format::Deb => self.relations.extended(&self.deb_relations),
            Format::Rpm => self.relations.extended(&self.rpm_relations),
            Format::Tar => Relations::default(),
        }
    }

    /// The entries `format` includes, sorted by install path (the order archives are written).
    pub fn contents_for(&self, format: Format) -> impl Iterator<Item = &ContentEntry> {
        let mut entries: Vec<_> = self
            .contents
            .iter()
            .filter(move |e| e.formats.contains(format))
            .collect();
        entries.sort_by(|a, b| a.dst.cmp(&b.dst));
        entries.into_iter()
    }

    /// The file name of this package in `format`: `falco-<version>-<arch>.<ext>`.
    pub fn file_name(&self, format: Format) -> String {
        let ext = match format {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
            Format::Tar => "tar.gz",
        };
        format!("{}-{}-{}.{ext}", self.name, self.version, self.arch)
    }
}
