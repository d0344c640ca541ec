//! Turning a [`PackageSpec`] into an `.rpm`: the `rpm` crate builds the header from the
//! description with empty placeholder files, the payload is streamed through core's parallel
//! encoder into a temporary file (see [`crate::payload`]), and the header gets the sizes and
//! digests measured on the way (see [`crate::header`]).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use falco_artifacts_core::package::{
    ConfigKind, ContentEntry, ContentKind, ContentSource, Format, PackageSpec, Relations, Script,
};
use falco_artifacts_core::Signer;
use rpm::{Dependency, DependencyFlags, FileOptions, Scriptlet, SignatureHeaderBuilder};

use crate::header::{main_header, Measured};
use crate::package::RpmPackage;
use crate::payload::{normalized, payload_entries, write_payload, Options, Source};
use crate::relation::parse_relation;
use crate::sign::sign_metadata;
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
/// (the maintainer by default), group, `noarch`, changelog, a [`Signer`] that signs the
/// header (SHA-256), the number of compression threads and the temporary directory.
/// [`build`](Self::build) checks everything, streams the compressed payload into an unnamed
/// temporary file and assembles the headers; memory stays bounded whatever the payload size.
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
    threads: u32,
    temp_dir: Option<PathBuf>,
    large_file_format: bool,
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
            threads: std::thread::available_parallelism()
                .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
            temp_dir: None,
            large_file_format: false,
        }
    }

    /// Compression threads (all cores by default; 0 counts as 1). The package is
    /// byte-identical whatever the number.
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Writes rpm's large-file format (64-bit sizes, the "stripped" cpio payload and
    /// `rpmlib(LargeFiles)`) even for a small package; it is chosen anyway when the files total
    /// 4 GiB or more. Such packages need rpm ≥ 4.12 (EL8 and later; not EL7).
    pub fn with_large_file_format(mut self) -> Self {
        self.large_file_format = true;
        self
    }

    /// Where the compressed payload waits until the package is written (the system temporary
    /// directory, `$TMPDIR`, by default). The file has no name and is gone when the package is
    /// dropped.
    pub fn with_temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
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
        let mut sources = BTreeMap::new();
        for entry in spec.contents_for(Format::Rpm) {
            add_entry(&mut b, entry, date, &mut sources)?;
        }
        let scripts = &spec.scripts;
        if let Some(s) = &scripts.pre_install {
            b.pre_install_script(scriptlet(s));
        }
        if let Some(s) = &scripts.pre_transaction {
            b.pre_trans_script(scriptlet(s));
        }
        if let Some(s) = &scripts.post_transaction {
            b.post_trans_script(scriptlet(s));
        }
        if let Some(s) = &scripts.post_install {
            b.post_install_script(scriptlet(s));
        }
        if let Some(s) = &scripts.pre_remove {
            b.pre_uninstall_script(scriptlet(s));
        }
        if let Some(s) = &scripts.post_remove {
            b.post_uninstall_script(scriptlet(s));
        }
        // The crate's package has empty placeholder files: only its headers are kept.
        let template = b.build().map_err(|source| RpmError::Build {
            name: spec.name.clone(),
            source,
        })?;
        let mut metadata = template.metadata;
        let (entries, sizes) = payload_entries(&metadata, &sources)?;
        let installed = sizes.iter().sum::<u64>();
        let large = self.large_file_format || installed > u64::from(u32::MAX);
        let temp_dir = self.temp_dir.unwrap_or_else(std::env::temp_dir);
        let options = Options {
            compression: self.compression.encoder(),
            threads: self.threads,
            temp_dir: &temp_dir,
            large,
        };
        let payload = write_payload(&entries, &options)?;
        let mut digests = vec![String::new(); sizes.len()];
        for (entry, digest) in entries.iter().zip(&payload.digests) {
            if let (Some(slot), Some(digest)) = (digests.get_mut(entry.index as usize), digest) {
                *slot = digest.to_hex();
            }
        }
        let measured = Measured {
            sizes,
            digests,
            installed,
            payload_sha256: payload.compressed.sha256.to_hex(),
            archive_sha256: payload.archive.sha256.to_hex(),
            large,
        };
        metadata.header = main_header(&metadata.header, &measured)?;
        let header = metadata.header_bytes().map_err(RpmError::Write)?;
        let signature_error = |source| RpmError::Header {
            field: "signature header",
            source,
        };
        metadata.signature = SignatureHeaderBuilder::from_existing(&metadata.signature)
            .map_err(signature_error)?
            .set_content_length(header.len() as u64 + payload.compressed.size)
            .calculate_digests(&header)
            .build()
            .map_err(signature_error)?;
        if let Some(signer) = self.signer {
            sign_metadata(&mut metadata, signer)?;
        }
        let file_name = if self.noarch {
            format!("{}-{}-noarch.rpm", spec.name, spec.version)
        } else {
            spec.file_name(Format::Rpm)
        };
        Ok(RpmPackage::new(
            metadata,
            payload.file,
            payload.compressed.size,
            file_name,
        ))
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

/// The `rpm` crate's files under this directory carry dependencies read from their content
/// (`user()`/`group()` provides): those get their real content, every other regular file an
/// empty placeholder whose size and digest the payload pass fills in.
fn content_read_by_the_crate(dst: &str) -> bool {
    dst.starts_with("/usr/lib/sysusers.d/") && dst.ends_with(".conf")
}

fn add_entry<'a>(
    b: &mut rpm::PackageBuilder,
    entry: &'a ContentEntry,
    date: u32,
    sources: &mut BTreeMap<String, Source<'a>>,
) -> Result<(), RpmError> {
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
            let key = normalized(dst);
            let read_by_crate = content_read_by_the_crate(&key);
            match source {
                ContentSource::Inline(bytes) => {
                    let placeholder = if read_by_crate {
                        bytes.to_vec()
                    } else {
                        Vec::new()
                    };
                    b.with_file_contents(placeholder, owned(o)).map_err(err)?;
                    sources.insert(key, Source::Inline(bytes));
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
                    let placeholder = if read_by_crate {
                        fs::read(path).map_err(|e| RpmError::io("read", path, e))?
                    } else {
                        Vec::new()
                    };
                    b.with_file_contents(placeholder, o).map_err(err)?;
                    sources.insert(key, Source::Path(path, meta.len()));
                }
            }
        }
    }
    Ok(())
}

fn scriptlet(script: &Script) -> Scriptlet {
    Scriptlet::new(script.body.clone()).prog(vec![script.interpreter.clone()])
}
