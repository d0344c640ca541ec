//! Loading a [`PackageSpec`] from a YAML manifest, refusing bad input with file, field and
//! what was expected.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::assemble::{self, Placed};
use super::tree;
use super::{
    ConfigKind, ContentEntry, ContentKind, ContentSource, Format, FormatSet, InstallPath,
    PackageSpec, Relations, Script, Scripts, SourceDate, SourceDateError,
};
use crate::arch::Arch;
use crate::version::Version;

/// Values that take precedence over the manifest's: the release decides the version, the
/// payload the architecture, the build the source date.
#[derive(Debug, Clone, Default)]
pub struct ManifestOptions {
    /// Overrides `version`.
    pub version: Option<Version>,
    /// Overrides `arch`.
    pub arch: Option<Arch>,
    /// Overrides `source_date` and `SOURCE_DATE_EPOCH`.
    pub source_date: Option<SourceDate>,
}

/// A manifest that cannot describe a package. Nothing is built from it.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file cannot be read.
    #[error("cannot read manifest {path}")]
    Read {
        /// The manifest.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed, a required field is missing, a key is unknown or a value has the
    /// wrong type.
    #[error("{path}{}: {message}", location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Parse {
        /// The manifest.
        path: PathBuf,
        /// Line and column, when the parser knows them.
        location: Option<(usize, usize)>,
        /// The parser's description (it names the field and what was expected).
        message: String,
    },
    /// A field has a value that is not acceptable.
    #[error("{path}: field `{field}`: expected {expected}, found {found}")]
    Field {
        /// The manifest.
        path: PathBuf,
        /// The field, as a path (`contents[3].dst`).
        field: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A file the manifest names cannot be read.
    #[error("{path}: field `{field}`: cannot read {file}")]
    ReadFile {
        /// The manifest.
        path: PathBuf,
        /// The field naming the file.
        field: String,
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directory or file named by `src` does not exist.
    #[error(
        "{path}: field `{field}`: expected an existing file or directory, found nothing at {src}"
    )]
    MissingSource {
        /// The manifest.
        path: PathBuf,
        /// The entry's field (`contents[3].src`).
        field: String,
        /// Where it was looked for.
        src: PathBuf,
    },
    /// A glob in `src` matched nothing.
    #[error("{path}: field `{field}`: expected the glob {pattern:?} to match at least one path, it matched nothing")]
    NoMatch {
        /// The manifest.
        path: PathBuf,
        /// The entry's field (`contents[3].src`).
        field: String,
        /// The pattern.
        pattern: String,
    },
    /// Two entries install the same path in a shared format.
    #[error("{path}: field `{field}`: expected a destination not already installed by `{other}`, found {dst}")]
    Collision {
        /// The manifest.
        path: PathBuf,
        /// The later entry's field (`contents[5].dst`).
        field: String,
        /// The entry that installs it first (`contents[2]`).
        other: String,
        /// The install path.
        dst: String,
    },
    /// No source date anywhere.
    #[error("{path}: no source date")]
    SourceDate {
        /// The manifest.
        path: PathBuf,
        /// Why.
        #[source]
        source: SourceDateError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: Option<String>,
    arch: Option<String>,
    maintainer: String,
    description: String,
    homepage: Option<String>,
    license: String,
    vendor: Option<String>,
    section: Option<String>,
    priority: Option<String>,
    #[serde(default)]
    relations: RawRelations,
    #[serde(default)]
    overrides: RawOverrides,
    #[serde(default)]
    contents: Vec<RawContent>,
    #[serde(default)]
    scripts: RawScripts,
    copyright: Option<String>,
    changelog: Option<String>,
    source_date: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    #[serde(default)]
    deb: RawRelations,
    #[serde(default)]
    rpm: RawRelations,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelations {
    #[serde(default, alias = "requires")]
    depends: Vec<String>,
    #[serde(default)]
    pre_depends: Vec<String>,
    #[serde(default)]
    recommends: Vec<String>,
    #[serde(default)]
    suggests: Vec<String>,
    #[serde(default)]
    conflicts: Vec<String>,
    #[serde(default)]
    breaks: Vec<String>,
    #[serde(default, alias = "obsoletes")]
    replaces: Vec<String>,
    #[serde(default)]
    provides: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScripts {
    pre_install: Option<String>,
    post_install: Option<String>,
    pre_remove: Option<String>,
    post_remove: Option<String>,
    #[serde(alias = "pretrans")]
    pre_transaction: Option<String>,
    #[serde(alias = "posttrans")]
    post_transaction: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum RawType {
    #[serde(rename = "file")]
    File,
    #[serde(rename = "config")]
    Config,
    #[serde(rename = "config-noreplace")]
    ConfigNoReplace,
    #[serde(rename = "dir")]
    Dir,
    #[serde(rename = "symlink")]
    Symlink,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContent {
    dst: String,
    src: Option<String>,
    inline: Option<String>,
    #[serde(rename = "type")]
    kind: Option<RawType>,
    target: Option<String>,
    mode: Option<serde_yaml::Value>,
    owner: Option<String>,
    group: Option<String>,
    formats: Option<Vec<Format>>,
}

/// Loads and checks the manifest at `path`; relative `src` and script paths are resolved
/// against the manifest's directory.
pub fn load_manifest(path: &Path, options: &ManifestOptions) -> Result<PackageSpec, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    Checker { path, base }.load(&text, options)
}

/// Loads and checks a manifest given as text; relative paths are resolved against `base`.
pub fn load_manifest_str(
    text: &str,
    base: &Path,
    options: &ManifestOptions,
) -> Result<PackageSpec, ManifestError> {
    Checker {
        path: Path::new("<manifest>"),
        base,
    }
    .load(text, options)
}

struct Checker<'a> {
    path: &'a Path,
    base: &'a Path,
}

impl Checker<'_> {
    fn field(
        &self,
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl std::fmt::Debug,
    ) -> ManifestError {
        ManifestError::Field {
            path: self.path.to_owned(),
            field: field.into(),
            expected: expected.into(),
            found: format!("{found:?}"),
        }
    }

    fn load(&self, text: &str, options: &ManifestOptions) -> Result<PackageSpec, ManifestError> {
        let raw: RawManifest = serde_yaml::from_str(text).map_err(|e| ManifestError::Parse {
            path: self.path.to_owned(),
            location: e.location().map(|l| (l.line(), l.column())),
            message: e.to_string(),
        })?;

        let name = raw.name.trim().to_owned();
        // Values in the file are checked even when the caller overrides them: a bad manifest
        // is bad whoever loads it.
        let file_version = raw
            .version
            .as_deref()
            .map(|text| {
                Version::parse(text)
                    .map_err(|e| self.field("version", format!("a Falco version ({e})"), text))
            })
            .transpose()?;
        let file_arch = raw
            .arch
            .as_deref()
            .map(|text| {
                text.parse::<Arch>()
                    .map_err(|e| self.field("arch", e.to_string(), text))
            })
            .transpose()?;
        let version = options.version.clone().or(file_version).ok_or_else(|| {
            self.field("version", "a version here or from the release", "nothing")
        })?;
        let arch = options.arch.or(file_arch).ok_or_else(|| {
            self.field(
                "arch",
                "an architecture here or from the payload",
                "nothing",
            )
        })?;
        let mut lines = raw.description.trim().lines();
        let summary = lines.next().unwrap_or_default().trim().to_owned();
        let description = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
        let source_date = match (options.source_date, raw.source_date) {
            (Some(d), _) => d,
            (None, Some(secs)) => SourceDate::from_secs(secs),
            (None, None) => SourceDate::from_env().map_err(|source| ManifestError::SourceDate {
                path: self.path.to_owned(),
                source,
            })?,
        };

        let mut placed = Vec::new();
        for (i, c) in raw.contents.iter().enumerate() {
            placed.extend(self.content(i, c, &name, &version)?);
        }
        placed.extend(assemble::doc_entries(
            self.path,
            &name,
            &version.deb_version(),
            raw.copyright.map(|f| self.base.join(f)),
            raw.changelog.map(|f| self.base.join(f)),
            source_date,
        )?);
        let (contents, origins) = assemble::merge(self.path, placed)?;

        let spec = PackageSpec {
            name,
            version,
            arch,
            maintainer: raw.maintainer.trim().to_owned(),
            summary,
            description,
            homepage: raw.homepage,
            license: raw.license.trim().to_owned(),
            vendor: raw.vendor,
            section: raw.section,
            priority: raw.priority,
            relations: raw.relations.into(),
            deb_relations: raw.overrides.deb.into(),
            rpm_relations: raw.overrides.rpm.into(),
            contents,
            scripts: Scripts {
                pre_install: self.script("scripts.pre_install", raw.scripts.pre_install)?,
                post_install: self.script("scripts.post_install", raw.scripts.post_install)?,
                pre_remove: self.script("scripts.pre_remove", raw.scripts.pre_remove)?,
                post_remove: self.script("scripts.post_remove", raw.scripts.post_remove)?,
                pre_transaction: self
                    .script("scripts.pre_transaction", raw.scripts.pre_transaction)?,
                post_transaction: self
                    .script("scripts.post_transaction", raw.scripts.post_transaction)?,
            },
            source_date,
        };
        spec.validate().map_err(|e| ManifestError::Field {
            path: self.path.to_owned(),
            field: assemble::renumber(&e.field, &origins),
            expected: assemble::renumber(&e.expected, &origins),
            found: e.found,
        })?;
        Ok(spec)
    }

    fn script(&self, field: &str, file: Option<String>) -> Result<Option<Script>, ManifestError> {
        let Some(file) = file else { return Ok(None) };
        let full = self.base.join(&file);
        let body = std::fs::read_to_string(&full).map_err(|source| ManifestError::ReadFile {
            path: self.path.to_owned(),
            field: field.to_owned(),
            file: full.clone(),
            source,
        })?;
        let interpreter = body
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("#!"))
            .map_or("/bin/sh", str::trim)
            .to_owned();
        Ok(Some(Script { interpreter, body }))
    }

    fn content(
        &self,
        i: usize,
        raw: &RawContent,
        name: &str,
        version: &Version,
    ) -> Result<Vec<Placed>, ManifestError> {
        let at = |name: &str| format!("contents[{i}].{name}");
        let dst_text = raw
            .dst
            .replace("{name}", name)
            .replace("{version}", &version.to_string());
        if let Some(src) = raw.src.as_deref().filter(|src| self.is_tree(src)) {
            return self.tree(i, raw, src, &dst_text);
        }
        let dst: InstallPath = dst_text.parse().map_err(|e: super::InvalidInstallPath| {
            self.field(
                at("dst"),
                format!("an absolute install path ({})", e.why),
                &raw.dst,
            )
        })?;
        let kind_name = raw.kind.unwrap_or(if raw.target.is_some() {
            RawType::Symlink
        } else {
            RawType::File
        });
        let kind = match kind_name {
            RawType::File | RawType::Config | RawType::ConfigNoReplace => {
                if raw.target.is_some() {
                    return Err(self.field(
                        at("target"),
                        "no `target` on a file (only symlinks have one)",
                        &raw.target,
                    ));
                }
                let source = match (&raw.src, &raw.inline) {
                    (Some(src), None) => ContentSource::Path(self.base.join(src)),
                    (None, Some(text)) => ContentSource::Inline(Arc::from(text.as_bytes())),
                    _ => {
                        return Err(self.field(
                            at("src"),
                            "exactly one of `src` (a file) or `inline` (its text)",
                            (&raw.src, &raw.inline),
                        ))
                    }
                };
                let config = match kind_name {
                    RawType::Config => ConfigKind::Config,
                    RawType::ConfigNoReplace => ConfigKind::ConfigNoReplace,
                    _ => ConfigKind::None,
                };
                ContentKind::File { source, config }
            }
            RawType::Dir => {
                if raw.src.is_some() || raw.inline.is_some() || raw.target.is_some() {
                    return Err(self.field(
                        at("type"),
                        "a directory without `src`, `inline` or `target`",
                        "dir",
                    ));
                }
                ContentKind::Dir
            }
            RawType::Symlink => {
                if raw.src.is_some() || raw.inline.is_some() {
                    return Err(self.field(
                        at("src"),
                        "no `src` or `inline` on a symlink (it is declared, not copied)",
                        &raw.src,
                    ));
                }
                ContentKind::Symlink {
                    target: raw.target.clone().unwrap_or_default(),
                }
            }
        };
        let default_mode = match kind {
            ContentKind::File { .. } => 0o644,
            ContentKind::Dir => 0o755,
            ContentKind::Symlink { .. } => 0o777,
        };
        let mode = self.mode(i, raw)?.unwrap_or(default_mode);
        Ok(vec![Placed {
            entry: ContentEntry {
                dst,
                kind,
                mode,
                owner: raw.owner.clone().unwrap_or_else(|| "root".to_owned()),
                group: raw.group.clone().unwrap_or_else(|| "root".to_owned()),
                formats: raw.formats.as_deref().map_or(FormatSet::ALL, FormatSet::of),
            },
            origin: format!("contents[{i}]"),
            from_tree: false,
        }])
    }

    fn mode(&self, i: usize, raw: &RawContent) -> Result<Option<u32>, ManifestError> {
        let at = format!("contents[{i}].mode");
        match &raw.mode {
            None => Ok(None),
            Some(serde_yaml::Value::String(text)) => {
                u32::from_str_radix(text.trim_start_matches("0o"), 8)
                    .map(Some)
                    .map_err(|_| self.field(at, "an octal mode such as \"0755\"", text))
            }
            Some(other) => Err(self.field(
                at,
                "an octal mode written as a string such as \"0755\" (a bare number such as 755 or 0o755 is ambiguous in YAML)",
                other,
            )),
        }
    }

    /// A `src` that names a directory (or ends with `/`) or is a glob is a tree.
    fn is_tree(&self, src: &str) -> bool {
        tree::is_glob(src) || src.ends_with('/') || self.base.join(src).is_dir()
    }

    fn tree(
        &self,
        i: usize,
        raw: &RawContent,
        src: &str,
        dst: &str,
    ) -> Result<Vec<Placed>, ManifestError> {
        let at = |name: &str| format!("contents[{i}].{name}");
        if raw.inline.is_some() || raw.target.is_some() {
            return Err(self.field(
                at("src"),
                "a directory or glob `src` without `inline` or `target`",
                (&raw.inline, &raw.target),
            ));
        }
        let config = match raw.kind {
            None | Some(RawType::File) => ConfigKind::None,
            Some(RawType::Config) => ConfigKind::Config,
            Some(RawType::ConfigNoReplace) => ConfigKind::ConfigNoReplace,
            Some(other @ (RawType::Dir | RawType::Symlink)) => {
                return Err(self.field(
                    at("type"),
                    "file, config or config-noreplace on a directory or glob `src` (it copies what is on disk)",
                    other,
                ))
            }
        };
        let dst = dst.trim_end_matches('/');
        if !dst.is_empty() {
            dst.parse::<InstallPath>().map_err(|e| {
                self.field(
                    at("dst"),
                    format!("an absolute install directory ({})", e.why),
                    dst,
                )
            })?;
        }
        assemble::TreeSpec {
            manifest: self.path,
            origin: format!("contents[{i}]"),
            src,
            base: self.base,
            dst: dst.to_owned(),
            file_mode: self.mode(i, raw)?,
            config,
            owner: raw.owner.clone().unwrap_or_else(|| "root".to_owned()),
            group: raw.group.clone().unwrap_or_else(|| "root".to_owned()),
            formats: raw.formats.as_deref().map_or(FormatSet::ALL, FormatSet::of),
        }
        .expand()
    }
}

impl From<RawRelations> for Relations {
    fn from(raw: RawRelations) -> Self {
        Relations {
            depends: raw.depends,
            pre_depends: raw.pre_depends,
            recommends: raw.recommends,
            suggests: raw.suggests,
            conflicts: raw.conflicts,
            breaks: raw.breaks,
            replaces: raw.replaces,
            provides: raw.provides,
        }
    }
}
