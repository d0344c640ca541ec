//! Turning a [`PackageSpec`] into an `.rpm` on the `rpm` crate.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use falco_artifacts_core::package::{
    ConfigKind, ContentEntry, ContentKind, ContentSource, Format, PackageSpec, Relations, Script,
};
use falco_artifacts_core::Signer;
use rpm::{Dependency, DependencyFlags, FileOptions, Scriptlet};

use crate::relation::parse_relation;
use crate::sign::sign_package;
use crate::{Compression, RpmError};

/// A changelog entry written into the package (`%changelog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogEntry {
    /// `Name <email> - version-release`.
    pub author: String,
    /// Seconds since the epoch.
    pub time: u32,
    /// The text, usually `- item` lines.
    pub text: String,
}

/// Builds an `.rpm` from a format-neutral [`PackageSpec`].
///
/// Required: the description. Optional: compression (gzip level 6 by default), epoch, packager
/// (the maintainer by default), group, `noarch`, changelog, and a [`Signer`] that signs the
/// header (SHA-256). [`build`](Self::build) checks everything and assembles the package; the
/// payload is held in memory until it is written.
#[derive(Debug)]
pub struct RpmBuilder<'a> {
    spec: &'a PackageSpec,
    compression: Compression,
    epoch: Option<u32>,
    packager: Option<String>,
    group: Option<String>,
    noarch: bool,
    changelog: Vec<ChangelogEntry>,
    signer: Option<&'a dyn Signer>,
}

/// A built package, ready to write.
#[derive(Debug)]
pub struct RpmPackage {
    package: rpm::Package,
    file_name: String,
}

impl<'a> RpmBuilder<'a> {
    /// A builder for `spec`, with the defaults.
    pub fn new(spec: &'a PackageSpec) -> Self {
        RpmBuilder {
            spec,
            compression: Compression::default(),
            epoch: None,
            packager: None,
            group: None,
            noarch: false,
            changelog: Vec::new(),
            signer: None,
        }
    }

    /// Payload compression and level.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The `Epoch` tag (absent by default, which rpm treats as 0).
    pub fn with_epoch(mut self, epoch: u32) -> Self {
        self.epoch = Some(epoch);
        self
    }

    /// The `Packager` tag (the spec's maintainer by default).
    pub fn with_packager(mut self, packager: impl Into<String>) -> Self {
        self.packager = Some(packager.into());
        self
    }

    /// The `Group` tag (absent by default; `Unspecified` in modern rpm).
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Marks the package `noarch` instead of the spec's architecture.
    pub fn with_noarch(mut self) -> Self {
        self.noarch = true;
        self
    }

    /// Adds a `%changelog` entry.
    pub fn with_changelog(mut self, entry: ChangelogEntry) -> Self {
        self.changelog.push(entry);
        self
    }

    /// Signs the header with `signer` (an `Arc<dyn Signer>` works through `&*arc`).
    pub fn with_signer(mut self, signer: &'a dyn Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Checks the description and options, and builds the package.
    pub fn build(self) -> Result<RpmPackage, RpmError> {
        let spec = self.spec;
        spec.validate().map_err(RpmError::InvalidSpec)?;
        let secs = spec.source_date.secs();
        let date = u32::try_from(secs).map_err(|_| RpmError::SourceDateOutOfRange { secs })?;
        let compression = self.compression.checked()?;
        let arch = if self.noarch {
            "noarch"
        } else {
            spec.arch.rpm_name()
        };
        let config = rpm::BuildConfig::v4()
            .compression(compression)
            .source_date(date);
        let mut b = rpm::PackageBuilder::new(
            &spec.name,
            &spec.version.rpm_version(),
            &spec.license,
            arch,
            &spec.summary,
        );
        b.using_config(config)
            .release(spec.version.rpm_release())
            .packager(self.packager.as_deref().unwrap_or(&spec.maintainer));
        if !spec.description.is_empty() {
            b.description(spec.description.trim_end());
        } else {
            b.description(spec.summary.clone());
        }
        if let Some(epoch) = self.epoch {
            b.epoch(epoch);
        }
        if let Some(url) = &spec.homepage {
            b.url(url);
        }
        if let Some(vendor) = &spec.vendor {
            b.vendor(vendor);
        }
        if let Some(group) = &self.group {
            b.group(group);
        }
        for entry in &self.changelog {
            b.add_changelog_entry(&entry.author, &entry.text, entry.time);
        }
        add_relations(&mut b, &spec.relations_for(Format::Rpm))?;
        for entry in spec.contents_for(Format::Rpm) {
            add_entry(&mut b, entry, date)?;
        }
        let scripts = &spec.scripts;
        if let Some(s) = &scripts.post_install {
            b.post_install_script(scriptlet(s));
        }
        if let Some(s) = &scripts.pre_remove {
            b.pre_uninstall_script(scriptlet(s));
        }
        if let Some(s) = &scripts.post_remove {
            b.post_uninstall_script(scriptlet(s));
        }
        let mut package = b.build().map_err(|source| RpmError::Build {
            name: spec.name.clone(),
            source,
        })?;
        if let Some(signer) = self.signer {
            sign_package(&mut package, signer)?;
        }
        let file_name = if self.noarch {
            format!("{}-{}-noarch.rpm", spec.name, spec.version)
        } else {
            spec.file_name(Format::Rpm)
        };
        Ok(RpmPackage { package, file_name })
    }
}

impl RpmPackage {
    /// The file name of the package: `falco-<version>-<arch>.rpm`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Signs (or re-signs) the header with `signer`, replacing any earlier signature.
    pub fn sign(&mut self, signer: &dyn Signer) -> Result<(), RpmError> {
        sign_package(&mut self.package, signer)
    }

    /// Writes the package to `out`.
    pub fn write(&self, out: &mut impl Write) -> Result<(), RpmError> {
        self.package.write(out).map_err(RpmError::Write)
    }

    /// Writes the package into `dir` under [`file_name`](Self::file_name) and returns its path.
    pub fn write_to_dir(&self, dir: &Path) -> Result<PathBuf, RpmError> {
        let path = dir.join(&self.file_name);
        let file = fs::File::create(&path).map_err(|e| RpmError::io("create", &path, e))?;
        let mut out = std::io::BufWriter::new(file);
        self.write(&mut out)?;
        out.flush().map_err(|e| RpmError::io("write", &path, e))?;
        Ok(path)
    }

    /// The package as the `rpm` crate holds it, for anything this crate does not wrap.
    pub fn as_rpm(&self) -> &rpm::Package {
        &self.package
    }
}

fn add_relations(b: &mut rpm::PackageBuilder, r: &Relations) -> Result<(), RpmError> {
    let parse_all = |field, list: &[String]| -> Result<Vec<Dependency>, RpmError> {
        list.iter()
            .map(|given| parse_relation(field, given))
            .collect()
    };
    for d in parse_all("depends", &r.depends)? {
        b.requires(d);
    }
    for mut d in parse_all("pre_depends", &r.pre_depends)? {
        d.flags |= DependencyFlags::SCRIPT_PRE;
        b.requires(d);
    }
    for d in parse_all("recommends", &r.recommends)? {
        b.recommends(d);
    }
    for d in parse_all("suggests", &r.suggests)? {
        b.suggests(d);
    }
    // RPM has no Breaks: the nearest is Conflicts, which also stops co-installation.
    for d in parse_all("conflicts", &r.conflicts)?
        .into_iter()
        .chain(parse_all("breaks", &r.breaks)?)
    {
        b.conflicts(d);
    }
    for d in parse_all("replaces", &r.replaces)? {
        b.obsoletes(d);
    }
    for d in parse_all("provides", &r.provides)? {
        b.provides(d);
    }
    Ok(())
}

fn permissions(entry: &ContentEntry) -> u16 {
    // Only the permission bits (with setuid/setgid/sticky) belong here; the type comes from
    // the entry kind.
    u16::try_from(entry.mode & 0o7777).unwrap_or(0o644)
}

fn add_entry(b: &mut rpm::PackageBuilder, entry: &ContentEntry, date: u32) -> Result<(), RpmError> {
    let dst = entry.dst.as_ref();
    let err = |source| RpmError::AddEntry {
        path: dst.to_owned(),
        source,
    };
    let stamp = rpm::Timestamp::from(date);
    let owned = |o: rpm::FileOptionsBuilder| {
        o.user(entry.owner.clone())
            .group(entry.group.clone())
            .modified_at(stamp)
    };
    match &entry.kind {
        ContentKind::Dir => {
            let o = owned(FileOptions::dir(dst).permissions(permissions(entry)));
            b.with_dir_entry(o).map_err(err)?;
        }
        ContentKind::Symlink { target } => {
            let o = owned(FileOptions::symlink(dst, target.as_str()).permissions(0o777));
            b.with_symlink(o).map_err(err)?;
        }
        ContentKind::File { source, config } => {
            let mut o = FileOptions::new(dst).permissions(permissions(entry));
            o = match config {
                ConfigKind::None => o,
                ConfigKind::Config => o.config(),
                ConfigKind::ConfigNoReplace => o.config().noreplace(),
            };
            match source {
                ContentSource::Inline(bytes) => {
                    b.with_file_contents(bytes.to_vec(), owned(o))
                        .map_err(err)?;
                }
                ContentSource::Path(path) => {
                    let meta = fs::metadata(path).map_err(|e| RpmError::io("read", path, e))?;
                    // Clamp, as reproducible-builds.org says: never later than the source date.
                    let mtime = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map_or(u64::from(date), |d| d.as_secs());
                    let clamped = u32::try_from(mtime.min(u64::from(date))).unwrap_or(date);
                    let o = owned(o).modified_at(rpm::Timestamp::from(clamped));
                    b.with_file(path, o).map_err(err)?;
                }
            }
        }
    }
    Ok(())
}

fn scriptlet(script: &Script) -> Scriptlet {
    Scriptlet::new(script.body.clone()).prog(vec![script.interpreter.clone()])
}
