//! Validation: every rule a config must meet before it may be built.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use crate::kernel::{driver_file_name, DriverKind};
use crate::load::{load_tree, ConfigTree, LoadError, LoadedConfig};
use crate::parallel::parallel_map;
use crate::problem::{Problem, ProblemKind, Warning, WarningKind};

/// A config that passed every rule of [`validate`]. Only validation makes one, so a
/// [`Plan`](crate::Plan) built from them never holds an invalid config.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidConfig(LoadedConfig);

impl ValidConfig {
    /// The config and where it was found.
    pub fn into_inner(self) -> LoadedConfig {
        self.0
    }
}

impl Deref for ValidConfig {
    type Target = LoadedConfig;

    fn deref(&self) -> &LoadedConfig {
        &self.0
    }
}

/// The outcome of validating a tree: the configs that may be built, and why the others may not.
#[derive(Debug, Default)]
pub struct Report {
    /// How many config files were found.
    pub files: usize,
    /// Configs that passed every rule, sorted by path.
    pub valid: Vec<ValidConfig>,
    /// Every error found, sorted by path and line; a file may have several.
    pub problems: Vec<Problem>,
    /// Findings that do not stop a config from being built, sorted by path and line: quirks
    /// of configs outside the strict scope ([`ProblemKind::is_quirk`]) and probes requested
    /// below the probe's minimum kernel (the module is still planned, as driverkit does).
    pub tolerated: Vec<Problem>,
    /// Warnings (unknown keys, ignored files); they do not make a config invalid.
    pub warnings: Vec<Warning>,
}

/// Which configs validation holds to the strict rules. Outside the strict scope, quirks
/// ([`ProblemKind::is_quirk`]) are warnings and the config is planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Strictness {
    /// No config: the released tree as it is (what the grid builds).
    #[default]
    Lenient,
    /// Every config (a tree of new configs, e.g. freshly generated ones).
    Strict,
    /// Only these files (what a pull request adds or changes, see
    /// [`changed_config_files`](crate::changed_config_files)); compared after
    /// canonicalizing, so relative and absolute paths both match.
    StrictFor(BTreeSet<PathBuf>),
}

impl Strictness {
    fn for_path(&self, path: &Path) -> bool {
        match self {
            Strictness::Lenient => false,
            Strictness::Strict => true,
            Strictness::StrictFor(paths) => {
                paths.contains(path)
                    || path
                        .canonicalize()
                        .is_ok_and(|canonical| paths.contains(&canonical))
            }
        }
    }
}

impl Report {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// How many distinct files or directories have at least one problem.
    pub fn invalid_count(&self) -> usize {
        self.problems
            .iter()
            .map(|p| p.path.as_path())
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// The problems, then the tolerated findings and warnings, one per line
    /// (`path:line: reason`, `path:line: warning: reason`), then a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for problem in &self.problems {
            let _ = writeln!(out, "{problem}");
        }
        for finding in &self.tolerated {
            let _ = write!(out, "{}", finding.path.display());
            if let Some(line) = finding.line {
                let _ = write!(out, ":{line}");
            }
            let _ = writeln!(out, ": warning: {}", finding.message());
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "{warning}");
        }
        let _ = writeln!(
            out,
            "{} config files: {} valid, {} invalid, {} problems, {} warnings",
            self.files,
            self.valid.len(),
            self.invalid_count(),
            self.problems.len(),
            self.tolerated.len() + self.warnings.len()
        );
        out
    }

    /// The report as JSON, errors and warnings apart:
    /// `{"files": n, "valid": n, "invalid": n, "errors": [{path, line, rule, message}],
    /// "warnings": [{path, line, rule, message?, key?}]}`; the tolerated findings come first
    /// among the warnings.
    pub fn to_json(&self) -> serde_json::Value {
        let mut warnings: Vec<serde_json::Value> = self
            .tolerated
            .iter()
            .map(|t| serde_json::to_value(t).unwrap_or_default())
            .collect();
        warnings.extend(
            self.warnings
                .iter()
                .map(|w| serde_json::to_value(w).unwrap_or_default()),
        );
        serde_json::json!({
            "files": self.files,
            "valid": self.valid.len(),
            "invalid": self.invalid_count(),
            "errors": self.problems,
            "warnings": warnings,
        })
    }
}

/// Loads and validates the tree under `root` (see [`load_tree`]) as the grid builds it:
/// [`Strictness::Lenient`].
pub fn check_tree(root: &Path) -> Result<Report, LoadError> {
    check_tree_with(root, &Strictness::Lenient)
}

/// Loads and validates the tree under `root`, holding the configs `strictness` names to the
/// strict rules.
pub fn check_tree_with(root: &Path, strictness: &Strictness) -> Result<Report, LoadError> {
    Ok(validate_with(load_tree(root)?, strictness))
}

/// [`validate_with`] with [`Strictness::Lenient`].
pub fn validate(tree: ConfigTree) -> Report {
    validate_with(tree, &Strictness::Lenient)
}

/// Applies every rule to every loaded config; configs with problems are left out of
/// [`Report::valid`]. The rules:
///
/// - the file name is `<target>_<kernelrelease>_<kernelversion>.yaml`;
/// - `architecture`, when present, agrees with the directory; `driverversion`, when present,
///   with the driver version directory;
/// - outputs are `output/<driverversion>/<arch>/falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`
///   (`output/<commit>/…` in the legacy layout), and at least one is requested;
/// - the target is known to driverkit (any `ubuntu-<flavour>` is);
/// - `kernelconfigdata` is present where driverkit needs it, and valid base64 wherever present;
/// - no module below kernel 2.6 (x86_64) / 3.16 (aarch64); a probe below 4.14 / 4.17 is a
///   tolerated finding and left out of the plan while the module is planned (an error when
///   no module is requested);
/// - the digests `kernelurls` pins (`#sha256=` fragments, the `kernelsha256` list) are
///   SHA-256s, one per URL;
/// - the text ends with a line end and no line ends with a space;
/// - no two configs produce the same output.
///
/// Quirks ([`ProblemKind::is_quirk`]) of configs outside the strict scope go to
/// [`Report::tolerated`] and the config is planned. Unknown keys become warnings.
pub fn validate_with(tree: ConfigTree, strictness: &Strictness) -> Report {
    let ConfigTree {
        files,
        configs,
        mut problems,
        mut warnings,
    } = tree;

    let checked = parallel_map(configs, |mut config| {
        let strict = strictness.for_path(&config.path);
        let (errors, tolerated) = check(&config)
            .into_iter()
            .partition::<Vec<_>, _>(|p| !is_tolerated(p, &config, strict));
        if errors.is_empty() && tolerated.iter().any(is_probe_below_minimum) {
            // driverkit builds the module and skips such a probe: so does the plan.
            config.config.probe_output = None;
        }
        (config, (errors, tolerated))
    });
    let mut tolerated = Vec::new();

    // Outputs claimed by an earlier config (in path order), found before anything moves.
    let mut claimed: HashMap<&str, usize> = HashMap::with_capacity(checked.len() * 2);
    let mut duplicates: Vec<Problem> = Vec::new();
    let mut duplicated: Vec<bool> = vec![false; checked.len()];
    for (index, (config, _)) in checked.iter().enumerate() {
        for kind in DriverKind::ALL {
            let Some(output) = config.config.output(kind) else {
                continue;
            };
            if let Some(&first) = claimed.get(output) {
                duplicated[index] = true;
                duplicates.push(Problem {
                    path: config.path.clone(),
                    line: config
                        .config
                        .line_of(&format!("output.{}", kind.config_key())),
                    kind: ProblemKind::DuplicateOutput {
                        output: output.to_owned(),
                        first: checked[first].0.path.clone(),
                    },
                });
            } else {
                claimed.insert(output, index);
            }
        }
    }
    drop(claimed);

    let mut valid = Vec::with_capacity(checked.len());
    for ((config, (found, notes)), duplicate) in checked.into_iter().zip(duplicated) {
        tolerated.extend(notes);
        for key in config
            .config
            .extra
            .keys()
            .filter(|k| *k != crate::KERNEL_SHA256_KEY)
        {
            warnings.push(Warning {
                path: config.path.clone(),
                line: config.config.line_of(key),
                kind: WarningKind::UnknownKey { key: key.clone() },
            });
        }
        if found.is_empty() && !duplicate {
            valid.push(ValidConfig(config));
        } else {
            problems.extend(found);
        }
    }
    problems.extend(duplicates);

    problems.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    tolerated.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    warnings.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    Report {
        files,
        valid,
        problems,
        tolerated,
        warnings,
    }
}

fn is_probe_below_minimum(problem: &Problem) -> bool {
    matches!(
        problem.kind,
        ProblemKind::BelowMinimum {
            kind: DriverKind::Probe,
            ..
        }
    )
}

/// Whether a finding lets the config be built: a quirk outside the strict scope, or a probe
/// below its minimum beside a module that is requested.
fn is_tolerated(problem: &Problem, config: &LoadedConfig, strict: bool) -> bool {
    if is_probe_below_minimum(problem) {
        return config.config.module_output.is_some();
    }
    !strict && problem.kind.is_quirk()
}

/// The per-file rules.
fn check(loaded: &LoadedConfig) -> Vec<Problem> {
    let config = &loaded.config;
    let location = &loaded.location;
    let mut problems = Vec::new();
    let mut report = |line: Option<usize>, kind: ProblemKind| {
        problems.push(Problem {
            path: loaded.path.clone(),
            line,
            kind,
        });
    };

    if config.lines.text.missing_final_newline {
        report(None, ProblemKind::MissingFinalNewline);
    }
    if let Some(line) = config.lines.text.trailing_space {
        report(Some(line), ProblemKind::TrailingSpace);
    }

    let expected_name = config.file_name();
    let found_name = loaded
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if found_name != expected_name {
        report(
            None,
            ProblemKind::FileName {
                expected: expected_name,
                found: found_name,
            },
        );
    }

    if let Some(arch) = config.architecture {
        if arch != location.arch {
            report(
                config.line_of("architecture"),
                ProblemKind::ArchMismatch {
                    directory: location.arch,
                    config: arch,
                },
            );
        }
    }
    if let Some(version) = &config.driver_version {
        if *version != location.driver_version {
            report(
                config.line_of("driverversion"),
                ProblemKind::DriverVersionMismatch {
                    directory: location.driver_version.clone(),
                    config: version.clone(),
                },
            );
        }
    }

    let requested: Vec<DriverKind> = DriverKind::ALL
        .into_iter()
        .filter(|kind| config.output(*kind).is_some())
        .collect();
    if requested.is_empty() {
        report(config.line_of("output"), ProblemKind::NoOutput);
    }
    for &kind in &requested {
        let expected = format!(
            "output/{}/{}",
            location.directory(),
            driver_file_name(
                &config.target,
                &config.kernel_release,
                &config.kernel_version,
                kind
            )
        );
        let found = config.output(kind).unwrap_or_default();
        if found != expected {
            report(
                config.line_of(&format!("output.{}", kind.config_key())),
                ProblemKind::OutputPath {
                    kind,
                    expected,
                    found: found.to_owned(),
                },
            );
        }
    }

    if !config.target.is_known() {
        report(
            config.line_of("target"),
            ProblemKind::UnknownTarget {
                target: config.target.clone(),
            },
        );
    }
    match config.kernel_config_data.as_deref() {
        None | Some("") if config.target.needs_kernel_config() => report(
            config.line_of("kernelconfigdata"),
            ProblemKind::MissingKernelConfig {
                target: config.target.clone(),
            },
        ),
        None | Some("") => {}
        Some(_) => {
            if let Some(Err(source)) = config.decoded_kernel_config() {
                report(
                    config.line_of("kernelconfigdata"),
                    ProblemKind::KernelConfigBase64 { source },
                );
            }
        }
    }

    if let Err(source) = config.kernel_downloads() {
        let key = match source {
            crate::KernelDigestError::Count { .. } | crate::KernelDigestError::NotAList => {
                crate::KERNEL_SHA256_KEY
            }
            _ => "kernelurls",
        };
        report(config.line_of(key), ProblemKind::KernelDigest { source });
    }

    if !requested.is_empty() {
        match config.kernel_release.major_minor() {
            None => report(
                config.line_of("kernelrelease"),
                ProblemKind::KernelReleaseVersion {
                    release: config.kernel_release.clone(),
                },
            ),
            Some(kernel) => {
                for &kind in &requested {
                    let minimum = kind.minimum_kernel(location.arch);
                    if kernel < minimum {
                        report(
                            config.line_of(&format!("output.{}", kind.config_key())),
                            ProblemKind::BelowMinimum {
                                kind,
                                arch: location.arch,
                                release: config.kernel_release.clone(),
                                minimum,
                            },
                        );
                    }
                }
            }
        }
    }
    problems
}
