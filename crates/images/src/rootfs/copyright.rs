//! Licences from Debian's machine-readable copyright files (DEP-5).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The `License:` short names of `/usr/share/doc/<package>/copyright` under `root`, sorted
/// and each once (`GPL-2+ or Artistic` gives both names). Empty when the file is missing or
/// not machine-readable: a free-form file names no licence reliably.
pub(crate) fn licenses(root: &Path, package: &str) -> Vec<String> {
    let path = root.join("usr/share/doc").join(package).join("copyright");
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    parse(&text)
}

fn parse(text: &str) -> Vec<String> {
    let machine_readable = text
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("Format:") || l.starts_with("Format-Specification:"));
    if !machine_readable {
        return Vec::new();
    }
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(value) = line.strip_prefix("License:") else {
            continue;
        };
        let expression = value.trim().replace(',', " ");
        for word in expression.split_whitespace() {
            let lower = word.to_ascii_lowercase();
            if ["or", "and", "with", "exception"].contains(&lower.as_str()) || word.is_empty() {
                continue;
            }
            names.insert(word.trim_matches(|c| c == '(' || c == ')').to_owned());
        }
    }
    names.into_iter().filter(|n| !n.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep5_files_name_their_licences_and_free_form_ones_none() {
        let dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
                    Files: *\nCopyright: 1995 Jean-loup Gailly\nLicense: Zlib\n\n\
                    Files: debian/*\nLicense: GPL-2+ or Artistic\n text\n";
        assert_eq!(parse(dep5), ["Artistic", "GPL-2+", "Zlib"]);
        assert!(parse("This is the Debian GNU/Linux prepackaged version of X.\n").is_empty());
    }
}
