//! One driverkit config: what it says, and how to write it back.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use falco_artifacts_core::Arch;

use crate::kernel::{DriverKind, KernelRelease, KernelVersion};
use crate::{DriverVersion, Target};

/// A driverkit config file (`<target>_<kernelrelease>_<kernelversion>.yaml`): one kernel, the
/// outputs to build for it and where to get its headers.
///
/// Parse with [`DriverConfig::parse`], write with [`DriverConfig::to_yaml`]; the two
/// round-trip. Keys this crate does not know are kept in [`DriverConfig::extra`] (and
/// reported as warnings by validation), never dropped.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// `kernelrelease`.
    pub kernel_release: KernelRelease,
    /// `kernelversion`, an integer or a string in the file, kept as written.
    pub kernel_version: KernelVersion,
    /// `target`.
    pub target: Target,
    /// `architecture` (`amd64`/`arm64`); absent in the oldest configs, where x86_64 is implied.
    pub architecture: Option<Arch>,
    /// `output.module`; `None` when absent or `""` (no module requested).
    pub module_output: Option<String>,
    /// `output.probe`; `None` when absent or `""` (no probe requested).
    pub probe_output: Option<String>,
    /// `kernelurls`: the header packages to download; empty when absent.
    pub kernel_urls: Vec<String>,
    /// `kernelconfigdata`: the kernel's `.config`, base64, as written.
    pub kernel_config_data: Option<String>,
    /// `driverversion`, which some configs carry although the directory already says it.
    pub driver_version: Option<DriverVersion>,
    /// Keys this crate does not know, kept as they were; keys nested in `output` are named
    /// `output.<key>`.
    pub extra: BTreeMap<String, serde_yaml::Value>,
    pub(crate) lines: KeyLines,
}

impl DriverConfig {
    /// `kernelconfigdata` decoded: `None` when absent or `""`. Line breaks and spaces inside
    /// the text are ignored (long values are wrapped in the wild), as every decoder does.
    /// Validation and the build share this, so a config that validates also builds.
    pub(crate) fn decoded_kernel_config(&self) -> Option<Result<Vec<u8>, base64::DecodeError>> {
        use base64::Engine as _;
        let data = self
            .kernel_config_data
            .as_deref()
            .filter(|d| !d.is_empty())?;
        let compact: String = data.split_whitespace().collect();
        Some(base64::engine::general_purpose::STANDARD.decode(compact))
    }
}

impl PartialEq for DriverConfig {
    /// Compares content; where each key sat in the source is not content.
    fn eq(&self, other: &Self) -> bool {
        self.kernel_release == other.kernel_release
            && self.kernel_version == other.kernel_version
            && self.target == other.target
            && self.architecture == other.architecture
            && self.module_output == other.module_output
            && self.probe_output == other.probe_output
            && self.kernel_urls == other.kernel_urls
            && self.kernel_config_data == other.kernel_config_data
            && self.driver_version == other.driver_version
            && self.extra == other.extra
    }
}

/// Where each key of a parsed config sits (1-based lines), for reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyLines {
    pub(crate) entries: Vec<(String, usize)>,
    pub(crate) text: TextQuirks,
}

/// How the text of a config departs from the canonical shape without changing what it says:
/// quirks of released configs that strict validation refuses in new ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextQuirks {
    /// The last line has no line end.
    pub(crate) missing_final_newline: bool,
    /// The first line ending in a space or a tab (1-based).
    pub(crate) trailing_space: Option<usize>,
}

impl TextQuirks {
    pub(crate) fn of(text: &str) -> TextQuirks {
        TextQuirks {
            missing_final_newline: !text.is_empty() && !text.ends_with('\n'),
            trailing_space: text
                .lines()
                .position(|line| line.trim_end_matches('\r').ends_with([' ', '\t']))
                .map(|index| index + 1),
        }
    }
}

impl KeyLines {
    pub(crate) fn get(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, line)| *line)
    }
}

impl DriverConfig {
    /// A config for one kernel with no outputs, URLs or kernel config yet.
    pub fn new(
        target: Target,
        kernel_release: KernelRelease,
        kernel_version: KernelVersion,
    ) -> Self {
        DriverConfig {
            kernel_release,
            kernel_version,
            target,
            architecture: None,
            module_output: None,
            probe_output: None,
            kernel_urls: Vec::new(),
            kernel_config_data: None,
            driver_version: None,
            extra: BTreeMap::new(),
            lines: KeyLines::default(),
        }
    }

    /// The 1-based line of `key` in the file this config was parsed from (`output.module` for
    /// nested keys, falling back to the line of `output`).
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.lines.get(key).or_else(|| {
            key.split_once('.')
                .and_then(|(parent, _)| self.lines.get(parent))
        })
    }

    /// The output path requested for `kind`, if any.
    pub fn output(&self, kind: DriverKind) -> Option<&str> {
        match kind {
            DriverKind::Module => self.module_output.as_deref(),
            DriverKind::Probe => self.probe_output.as_deref(),
        }
    }

    /// The file name this config must have: `<target>_<kernelrelease>_<kernelversion>.yaml`.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}.yaml",
            self.target, self.kernel_release, self.kernel_version
        )
    }

    /// The config as YAML in the canonical shape driverkit reads: strings double-quoted,
    /// `kernelurls` as a block list, keys in a fixed order, unknown keys last.
    pub fn to_yaml(&self) -> String {
        let mut out =
            String::with_capacity(256 + self.kernel_config_data.as_ref().map_or(0, String::len));
        let _ = writeln!(
            out,
            "kernelversion: {}",
            quote(self.kernel_version.as_str())
        );
        let _ = writeln!(
            out,
            "kernelrelease: {}",
            quote(self.kernel_release.as_str())
        );
        let _ = writeln!(out, "target: {}", quote(self.target.as_str()));
        if let Some(arch) = self.architecture {
            let _ = writeln!(out, "architecture: {}", arch.driverkit_name());
        }
        if let Some(version) = &self.driver_version {
            let _ = writeln!(out, "driverversion: {}", quote(version.as_str()));
        }
        let output_extra: Vec<_> = self
            .extra
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("output.").map(|k| (k, v)))
            .collect();
        if self.module_output.is_some() || self.probe_output.is_some() || !output_extra.is_empty() {
            out.push_str("output:\n");
            if let Some(module) = &self.module_output {
                let _ = writeln!(out, "  module: {}", quote(module));
            }
            if let Some(probe) = &self.probe_output {
                let _ = writeln!(out, "  probe: {}", quote(probe));
            }
            let nested: serde_yaml::Mapping = output_extra
                .into_iter()
                .map(|(k, v)| (serde_yaml::Value::from(k), v.clone()))
                .collect();
            for line in block(&nested).lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        if !self.kernel_urls.is_empty() {
            out.push_str("kernelurls:\n");
            for url in &self.kernel_urls {
                let _ = writeln!(out, "  - {}", quote(url));
            }
        }
        if let Some(data) = &self.kernel_config_data {
            let _ = writeln!(out, "kernelconfigdata: {}", quote(data));
        }
        let top: serde_yaml::Mapping = self
            .extra
            .iter()
            .filter(|(k, _)| !k.starts_with("output."))
            .map(|(k, v)| (serde_yaml::Value::from(k.as_str()), v.clone()))
            .collect();
        out.push_str(&block(&top));
        out
    }
}

/// A YAML double-quoted scalar: JSON string syntax is a subset of it.
fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Unknown keys as serde_yaml writes them, so that any value round-trips.
fn block(mapping: &serde_yaml::Mapping) -> String {
    if mapping.is_empty() {
        return String::new();
    }
    // Serializing a `Value` built by parsing cannot fail: it has no non-string-keyed maps
    // that YAML cannot express.
    serde_yaml::to_string(mapping).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_round_trip_at_any_depth() {
        let text = "kernelversion: 1\nkernelrelease: 5.10.0\ntarget: debian\n\
                    output:\n  module: output/master/x86_64/falco_debian_5.10.0_1.ko\n  extra: [1, {a: b}]\n\
                    builder:\n  image: x\n  retries: 3\nflag: true\n";
        let config = DriverConfig::parse(text).unwrap();
        assert_eq!(config.extra.len(), 3);
        assert_eq!(config.line_of("output.extra"), Some(6));
        assert_eq!(config.line_of("builder"), Some(7));
        let again = DriverConfig::parse(&config.to_yaml()).unwrap();
        assert_eq!(again, config);
    }
}
