//! `Packages` stanzas: written from a package's control fields, read back from the last index.

use std::fmt::Write as _;

use falco_artifacts_core::Sha256Digest;

/// One package in a `Packages` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stanza {
    /// The stanza's text, newline-terminated, without the blank separator line.
    pub(crate) text: String,
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) architecture: String,
    /// The pool path relative to the repository (`stable/falco-0.39.0-x86_64.deb`).
    pub(crate) filename: String,
    pub(crate) size: u64,
    pub(crate) sha256: Sha256Digest,
}

/// Fields the repository computes; taken out of the package's own control text.
const COMPUTED: [&str; 5] = ["Filename", "Size", "MD5sum", "SHA256", "SHA1"];

impl Stanza {
    /// A stanza for a package: its control fields, then where and what the file is.
    pub(crate) fn new<'a>(
        fields: impl Iterator<Item = (&'a str, &'a str)>,
        filename: &str,
        size: u64,
        md5: &[u8; 16],
        sha256: Sha256Digest,
    ) -> Option<Stanza> {
        let mut text = String::new();
        let (mut package, mut version, mut architecture) = (None, None, None);
        for (name, value) in fields {
            if COMPUTED.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                continue;
            }
            match name.to_ascii_lowercase().as_str() {
                "package" => package = Some(value.to_owned()),
                "version" => version = Some(value.to_owned()),
                "architecture" => architecture = Some(value.to_owned()),
                _ => {}
            }
            let _ = writeln!(text, "{name}: {value}");
        }
        let md5: String = md5.iter().map(|b| format!("{b:02x}")).collect();
        let _ = write!(
            text,
            "Filename: {filename}\nSize: {size}\nMD5sum: {md5}\nSHA256: {sha256}\n"
        );
        Some(Stanza {
            text,
            package: package?,
            version: version?,
            architecture: architecture?,
            filename: filename.to_owned(),
            size,
            sha256,
        })
    }

    /// The key two stanzas are the same package by.
    pub(crate) fn key(&self) -> (&str, &str, &str) {
        (&self.package, &self.version, &self.architecture)
    }
}

/// What is wrong with a `Packages` file we read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stanza {stanza} lacks a valid {field}")]
pub struct BadStanza {
    /// The stanza's position, from 1.
    pub stanza: usize,
    /// The field.
    pub field: &'static str,
}

/// Parses every stanza of a `Packages` file, in one pass over its lines.
pub(crate) fn parse(text: &str) -> Result<Vec<Stanza>, BadStanza> {
    let mut out = Vec::new();
    for (i, block) in text.split("\n\n").enumerate() {
        let block = block.trim_matches('\n');
        if block.is_empty() {
            continue;
        }
        let bad = |field| BadStanza {
            stanza: i + 1,
            field,
        };
        let (mut package, mut version, mut architecture, mut filename, mut size, mut sha256) =
            (None, None, None, None, None, None);
        for line in block.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name {
                "Package" => package = Some(value),
                "Version" => version = Some(value),
                "Architecture" => architecture = Some(value),
                "Filename" => filename = Some(value),
                "Size" => size = Some(value),
                "SHA256" => sha256 = Some(value),
                _ => {}
            }
        }
        out.push(Stanza {
            text: format!("{block}\n"),
            package: package.ok_or_else(|| bad("Package"))?.to_owned(),
            version: version.ok_or_else(|| bad("Version"))?.to_owned(),
            architecture: architecture.ok_or_else(|| bad("Architecture"))?.to_owned(),
            filename: filename.ok_or_else(|| bad("Filename"))?.to_owned(),
            size: size
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("Size"))?,
            sha256: sha256
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("SHA256"))?,
        });
    }
    Ok(out)
}

/// Renders stanzas, blank-line separated.
#[cfg(test)]
fn render(stanzas: &[&Stanza]) -> String {
    let mut out = String::new();
    for (i, stanza) in stanzas.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&stanza.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_drops_computed_fields() {
        let sha = Sha256Digest::of_bytes(b"deb");
        let fields = [
            ("Package", "falco"),
            ("Version", "0.39.0"),
            ("Architecture", "amd64"),
            ("Size", "1"),
            ("Description", "Falco\n runtime security\n .\n more"),
        ];
        let stanza = Stanza::new(
            fields.into_iter(),
            "stable/falco-0.39.0-x86_64.deb",
            3,
            &[0; 16],
            sha,
        )
        .unwrap();
        assert!(stanza
            .text
            .contains("Description: Falco\n runtime security\n .\n more\n"));
        assert_eq!(stanza.text.matches("Size:").count(), 1);
        let text = render(&[&stanza, &stanza]);
        let back = parse(&text).unwrap();
        assert_eq!(back, vec![stanza.clone(), stanza]);
        assert!(parse("Package: x\n").is_err());
    }
}
