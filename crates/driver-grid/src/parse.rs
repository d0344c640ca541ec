//! Parsing driverkit configs as they exist in the wild.

use std::collections::BTreeMap;

use falco_artifacts_core::{Arch, UnknownArch};
use serde_yaml::Value;

use crate::config::{DriverConfig, KeyLines};

use crate::ident::InvalidIdentifier;

/// Why a config file could not be read as a driverkit config.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The text is not YAML.
    #[error("not valid YAML")]
    Yaml {
        /// The 1-based line serde_yaml stopped at, when known.
        line: Option<usize>,
        /// What the YAML parser said.
        #[source]
        source: serde_yaml::Error,
    },
    /// The document is not a mapping of keys (empty, a list or a scalar).
    #[error("the document is not a mapping of driverkit keys")]
    NotMapping,
    /// A required key is absent.
    #[error("required key `{key}` is missing")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// A key holds the wrong kind of value.
    #[error("`{key}` must be {expected}")]
    WrongType {
        /// The key (`output.module` for nested keys).
        key: String,
        /// What it must hold.
        expected: &'static str,
        /// Its 1-based line, when known.
        line: Option<usize>,
    },
    /// A key holds an invalid identifier.
    #[error("`{key}` is invalid")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Its 1-based line, when known.
        line: Option<usize>,
        /// Why.
        #[source]
        source: InvalidIdentifier,
    },
    /// `architecture` names no architecture we know.
    #[error("`architecture` is invalid")]
    Architecture {
        /// Its 1-based line, when known.
        line: Option<usize>,
        /// Why.
        #[source]
        source: UnknownArch,
    },
}

impl ParseError {
    /// The 1-based line the problem is on, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Yaml { line, .. }
            | ParseError::WrongType { line, .. }
            | ParseError::Invalid { line, .. }
            | ParseError::Architecture { line, .. } => *line,
            ParseError::NotMapping | ParseError::MissingKey { .. } => None,
        }
    }
}

pub(crate) const KNOWN_KEYS: &[&str] = &[
    "kernelversion",
    "kernelrelease",
    "target",
    "architecture",
    "output",
    "kernelurls",
    "kernelconfigdata",
    "driverversion",
];

impl DriverConfig {
    /// Parses a config as driverkit would read it.
    ///
    /// Accepted as found in the wild: `kernelversion` as an integer, a quoted or a bare string
    /// (`38~20.04.1`, `1_1.27.0`); `kernelurls` as a flow list, a block list or absent;
    /// `output.module`/`output.probe` as a path, `""` or absent; CRLF line ends; no
    /// `architecture`. Unknown keys are kept in [`DriverConfig::extra`].
    ///
    /// ```
    /// use falco_artifacts_driver_grid::DriverConfig;
    ///
    /// let config = DriverConfig::parse(
    ///     "kernelversion: 38~20.04.1\r\nkernelrelease: 5.15.0-1019-aws\r\ntarget: ubuntu\r\n\
    ///      output:\r\n  module: output/7.0.0+driver/x86_64/falco_ubuntu_5.15.0-1019-aws_38~20.04.1.ko\r\n  \
    ///      probe: \"\"\r\nkernelurls: [\"https://example.invalid/h.deb\"]\r\n",
    /// )?;
    /// assert_eq!(config.kernel_version.as_str(), "38~20.04.1");
    /// assert!(config.probe_output.is_none() && config.extra.is_empty());
    /// assert_eq!(config.line_of("target"), Some(3));
    /// # Ok::<(), falco_artifacts_driver_grid::ParseError>(())
    /// ```
    pub fn parse(text: &str) -> Result<DriverConfig, ParseError> {
        // Nearly every real config is the plain shape the fast reader accepts; anything it is
        // not sure about goes through the full YAML parser, with the same result.
        let raw = match crate::fast_parse::read(text) {
            Some(raw) => raw,
            None => read_yaml(text)?,
        };
        let mut config = raw.finish()?;
        config.lines.text = crate::config::TextQuirks::of(text);
        Ok(config)
    }
}

/// The keys of a config as strings, before identifiers are checked: what both readers produce.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RawConfig {
    pub(crate) kernel_version: Option<String>,
    pub(crate) kernel_release: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) architecture: Option<String>,
    pub(crate) driver_version: Option<String>,
    pub(crate) kernel_config_data: Option<String>,
    pub(crate) kernel_urls: Vec<String>,
    pub(crate) module_output: Option<String>,
    pub(crate) probe_output: Option<String>,
    pub(crate) extra: BTreeMap<String, Value>,
    pub(crate) lines: Vec<(String, usize)>,
}

impl RawConfig {
    fn finish(self) -> Result<DriverConfig, ParseError> {
        let lines = KeyLines {
            entries: self.lines,
            text: Default::default(),
        };
        let invalid = |key: &'static str| {
            let line = lines.get(key);
            move |source| ParseError::Invalid { key, line, source }
        };
        let kernel_version = self
            .kernel_version
            .ok_or(ParseError::MissingKey {
                key: "kernelversion",
            })?
            .parse()
            .map_err(invalid("kernelversion"))?;
        let kernel_release = self
            .kernel_release
            .ok_or(ParseError::MissingKey {
                key: "kernelrelease",
            })?
            .parse()
            .map_err(invalid("kernelrelease"))?;
        let target = self
            .target
            .ok_or(ParseError::MissingKey { key: "target" })?
            .parse()
            .map_err(invalid("target"))?;
        let architecture = self
            .architecture
            .map(|a| a.parse::<Arch>())
            .transpose()
            .map_err(|source| ParseError::Architecture {
                line: lines.get("architecture"),
                source,
            })?;
        let driver_version = self
            .driver_version
            .map(|v| v.parse())
            .transpose()
            .map_err(invalid("driverversion"))?;
        Ok(DriverConfig {
            kernel_release,
            kernel_version,
            target,
            architecture,
            module_output: self.module_output.filter(|o| !o.is_empty()),
            probe_output: self.probe_output.filter(|o| !o.is_empty()),
            kernel_urls: self.kernel_urls,
            kernel_config_data: self.kernel_config_data,
            driver_version,
            extra: self.extra,
            lines,
        })
    }
}

/// Reads a config with the full YAML parser.
pub(crate) fn read_yaml(text: &str) -> Result<RawConfig, ParseError> {
    let value: Value = serde_yaml::from_str(text).map_err(|source| ParseError::Yaml {
        line: source.location().map(|l| l.line()),
        source,
    })?;
    let Value::Mapping(mapping) = value else {
        return Err(ParseError::NotMapping);
    };
    let scan = scan(text);
    let lines = KeyLines {
        entries: scan
            .iter()
            .map(|entry| (entry.key.clone(), entry.line))
            .collect(),
        text: Default::default(),
    };
    let raw = |key: &str| {
        scan.iter()
            .find(|entry| entry.key == key)
            .and_then(|entry| entry.raw.clone())
    };

    let mut fields: BTreeMap<String, Value> = BTreeMap::new();
    let mut extra = BTreeMap::new();
    for (key, value) in mapping {
        let key = key_text(&key, None)?;
        if KNOWN_KEYS.contains(&key.as_str()) {
            fields.insert(key, value);
        } else {
            extra.insert(key, value);
        }
    }

    let scalar = |key: &'static str| -> Result<Option<String>, ParseError> {
        match fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // An unquoted number is kept as written (`1.10` must not become `1.1`).
            Some(Value::Number(n)) => Ok(Some(raw(key).unwrap_or_else(|| n.to_string()))),
            Some(_) => Err(ParseError::WrongType {
                key: key.to_owned(),
                expected: "a string or a number",
                line: lines.get(key),
            }),
        }
    };

    let kernel_urls = match fields.get("kernelurls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ParseError::WrongType {
                    key: "kernelurls".to_owned(),
                    expected: "a list of URL strings",
                    line: lines.get("kernelurls"),
                }),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ParseError::WrongType {
                key: "kernelurls".to_owned(),
                expected: "a list of URL strings",
                line: lines.get("kernelurls"),
            })
        }
    };

    let mut module_output = None;
    let mut probe_output = None;
    match fields.get("output") {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(output)) => {
            for (key, value) in output {
                let key = key_text(key, lines.get("output"))?;
                let slot = match key.as_str() {
                    "module" => &mut module_output,
                    "probe" => &mut probe_output,
                    _ => {
                        extra.insert(format!("output.{key}"), value.clone());
                        continue;
                    }
                };
                *slot = match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    _ => {
                        let key = format!("output.{key}");
                        return Err(ParseError::WrongType {
                            line: lines.get(&key).or(lines.get("output")),
                            key,
                            expected: "a path string or \"\"",
                        });
                    }
                };
            }
        }
        Some(_) => {
            return Err(ParseError::WrongType {
                key: "output".to_owned(),
                expected: "a mapping with `module` and/or `probe`",
                line: lines.get("output"),
            })
        }
    }

    Ok(RawConfig {
        kernel_version: scalar("kernelversion")?,
        kernel_release: scalar("kernelrelease")?,
        target: scalar("target")?,
        architecture: scalar("architecture")?,
        driver_version: scalar("driverversion")?,
        kernel_config_data: scalar("kernelconfigdata")?,
        kernel_urls,
        module_output,
        probe_output,
        extra,
        lines: lines.entries,
    })
}

fn key_text(key: &Value, line: Option<usize>) -> Result<String, ParseError> {
    match key {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ParseError::WrongType {
            key: "?".to_owned(),
            expected: "a mapping whose keys are strings",
            line,
        }),
    }
}

struct ScannedKey {
    key: String,
    line: usize,
    /// The scalar text after the colon, for short plain values.
    raw: Option<String>,
}

/// Finds the line of each top-level key and of each key nested in `output`, and the raw text
/// of short plain scalars. The YAML parser has already accepted the text; this only locates.
fn scan(text: &str) -> Vec<ScannedKey> {
    let mut keys = Vec::new();
    let mut parent: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let Some(colon) = trimmed.find(':') else {
            continue;
        };
        let key = trimmed[..colon]
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        let nested = trimmed.len() != line.len();
        let full = match (nested, &parent) {
            (false, _) => {
                parent = Some(key.to_owned());
                key.to_owned()
            }
            (true, Some(p)) if p == "output" => format!("output.{key}"),
            (true, _) => continue,
        };
        let value = trimmed[colon + 1..].trim();
        let value = value.split(" #").next().unwrap_or(value).trim();
        let raw = (!value.is_empty() && value.len() < 128).then(|| value.to_owned());
        keys.push(ScannedKey {
            key: full,
            line: index + 1,
            raw,
        });
    }
    keys
}
