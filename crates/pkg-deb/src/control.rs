//! The control stanza of a binary package: parsed fields in file order, with the raw text kept.

use crate::error::ControlError;

/// A parsed `control` file (one deb822 paragraph).
///
/// Field names match case-insensitively, as dpkg does. A multi-line value keeps its
/// continuation lines exactly as written (leading space included), so a `Packages` index can
/// repeat it verbatim.
///
/// ```
/// use falco_artifacts_pkg_deb::Control;
///
/// let control = Control::parse(
///     "Package: falco\nVersion: 0.39.0\nArchitecture: amd64\nInstalled-Size: 12\n\
///      Description: Falco\n runtime security\n .\n more\n",
/// )?;
/// assert_eq!(control.package(), "falco");
/// assert_eq!(control.get("installed-size"), Some("12"));
/// assert_eq!(control.installed_size()?, Some(12));
/// assert_eq!(control.summary(), Some("Falco"));
/// assert_eq!(control.long_description().as_deref(), Some("runtime security\n\nmore"));
/// # Ok::<(), falco_artifacts_pkg_deb::ControlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    raw: String,
    fields: Vec<(String, String)>,
}

impl Control {
    /// Parses one paragraph; `Package`, `Version` and `Architecture` are required.
    pub fn parse(text: &str) -> Result<Control, ControlError> {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut ended = false;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let syntax = |problem| ControlError::Syntax {
                line: line_no,
                problem,
            };
            if line.trim().is_empty() {
                ended = !fields.is_empty();
                continue;
            }
            if ended {
                return Err(syntax("a second paragraph after a blank line"));
            }
            if line.chars().any(|c| c.is_control() && c != '\t') {
                return Err(syntax("control characters are not allowed"));
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = fields.last_mut() else {
                    return Err(syntax("a continuation line before any field"));
                };
                value.push('\n');
                value.push_str(line);
                continue;
            }
            if line.starts_with('#') {
                return Err(syntax("comments are not allowed in a binary control file"));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(syntax("expected `Field: value`"));
            };
            let valid_name = !name.is_empty()
                && !name.starts_with('-')
                && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            if !valid_name {
                return Err(syntax("a field name of printable ASCII characters"));
            }
            if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(ControlError::Duplicate {
                    line: line_no,
                    field: name.to_owned(),
                });
            }
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
        let control = Control {
            raw: text.to_owned(),
            fields,
        };
        for field in ["Package", "Version", "Architecture"] {
            if control.get(field).is_none_or(str::is_empty) {
                return Err(ControlError::Missing { field });
            }
        }
        Ok(control)
    }

    /// The value of `field` (case-insensitive), continuation lines included.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(field))
            .map(|(_, v)| v.as_str())
    }

    /// Every field in file order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The stanza as it was read.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// `Package`.
    pub fn package(&self) -> &str {
        self.get("Package").unwrap_or_default()
    }

    /// `Version`, as dpkg spells it (`0.45.0-36+1307474`).
    pub fn version(&self) -> &str {
        self.get("Version").unwrap_or_default()
    }

    /// `Architecture` (`amd64`, `arm64`, `all`).
    pub fn architecture(&self) -> &str {
        self.get("Architecture").unwrap_or_default()
    }

    /// `Installed-Size` in KiB, if present.
    pub fn installed_size(&self) -> Result<Option<u64>, ControlError> {
        self.get("Installed-Size")
            .map(|v| {
                v.parse().map_err(|_| ControlError::Value {
                    field: "Installed-Size",
                    value: v.to_owned(),
                    problem: "expected a number of KiB",
                })
            })
            .transpose()
    }

    /// The comma-separated entries of a relation field (`Depends`, `Suggests`…), trimmed.
    pub fn relation(&self, field: &str) -> Vec<&str> {
        self.get(field)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first line of `Description`.
    pub fn summary(&self) -> Option<&str> {
        self.get("Description")
            .map(|d| d.lines().next().unwrap_or_default().trim())
    }

    /// The rest of `Description`, unfolded: one leading space removed, ` .` lines empty.
    pub fn long_description(&self) -> Option<String> {
        let description = self.get("Description")?;
        let lines: Vec<&str> = description
            .lines()
            .skip(1)
            .map(|l| {
                let l = l.strip_prefix([' ', '\t']).unwrap_or(l);
                if l == "." {
                    ""
                } else {
                    l
                }
            })
            .collect();
        Some(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_stanzas_name_the_line() {
        let cases = [
            (
                "Package: a\nVersion: 1\n oops\nArchitecture: all\nbad line\n",
                5,
            ),
            (" leading\n", 1),
            ("Package: a\n\nVersion: 1\n", 3),
            ("Package: a\nPACKAGE: b\n", 2),
        ];
        for (text, line) in cases {
            match Control::parse(text).unwrap_err() {
                ControlError::Syntax { line: l, .. } | ControlError::Duplicate { line: l, .. } => {
                    assert_eq!(l, line, "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert_eq!(
            Control::parse("Package: a\nVersion: 1\n").unwrap_err(),
            ControlError::Missing {
                field: "Architecture"
            }
        );
    }

    #[test]
    fn relations_split() {
        let c =
            Control::parse("Package: a\nVersion: 1\nArchitecture: all\nDepends: x (>= 1), y | z\n")
                .unwrap();
        assert_eq!(c.relation("depends"), ["x (>= 1)", "y | z"]);
        assert!(c.relation("Suggests").is_empty());
    }
}
