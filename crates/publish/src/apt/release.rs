//! The `Release` file: what the suite holds and the digests of every index in it.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use falco_artifacts_core::Sha256Digest;

/// One index file listed in `Release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Relative to `dists/<suite>/` (`main/binary-amd64/Packages.gz`).
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) sha256: Sha256Digest,
}

/// The fields of a `Release` file.
#[derive(Debug, Clone)]
pub(crate) struct Release<'a> {
    pub(crate) origin: &'a str,
    pub(crate) label: &'a str,
    pub(crate) suite: &'a str,
    pub(crate) component: &'a str,
    pub(crate) architectures: &'a [String],
    pub(crate) date: DateTime<Utc>,
    pub(crate) files: &'a [Listed],
}

impl Release<'_> {
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "Origin: {}\nLabel: {}\nSuite: {}\nCodename: {}\nDate: {}\nArchitectures: {}\n\
             Components: {}\nDescription: {} {} repository\nAcquire-By-Hash: yes\nSHA256:\n",
            self.origin,
            self.label,
            self.suite,
            self.suite,
            self.date.format("%a, %d %b %Y %H:%M:%S UTC"),
            self.architectures.join(" "),
            self.component,
            self.label,
            self.suite,
        );
        for file in self.files {
            let _ = writeln!(out, " {} {:>16} {}", file.sha256, file.size, file.path);
        }
        out
    }
}

/// The `SHA256` list of a `Release` file: path → (digest, size).
pub(crate) fn sha256_list(text: &str) -> Vec<(String, Sha256Digest, u64)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            inside = line.trim_end() == "SHA256:";
            continue;
        }
        if !inside {
            continue;
        }
        let mut parts = line.split_whitespace();
        if let (Some(sha), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next()) {
            if let (Ok(sha), Ok(size)) = (sha.parse(), size.parse()) {
                out.push((path.to_owned(), sha, size));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_what_it_renders() {
        let files = [Listed {
            path: "main/binary-amd64/Packages".into(),
            size: 12,
            sha256: Sha256Digest::of_bytes(b"p"),
        }];
        let arches = ["amd64".to_owned(), "arm64".to_owned()];
        let text = Release {
            origin: "Falco",
            label: "Falco",
            suite: "stable",
            component: "main",
            architectures: &arches,
            date: DateTime::<Utc>::UNIX_EPOCH,
            files: &files,
        }
        .render();
        assert!(
            text.contains("Date: Thu, 01 Jan 1970 00:00:00 UTC\n"),
            "{text}"
        );
        assert!(text.contains("Acquire-By-Hash: yes\n"));
        // SHA-256 only: apt has not trusted MD5 or SHA-1 for a Release since 1.1 (2015), and
        // hashing a large index with MD5 cost more than the rest of adding a package.
        assert!(!text.contains("MD5Sum"));
        assert_eq!(
            sha256_list(&text),
            [("main/binary-amd64/Packages".to_owned(), files[0].sha256, 12)]
        );
    }
}
