//! `index.html`: the same listing as `index.json`, for a person with a browser.

use std::fmt::Write as _;

use falco_artifacts_core::web::{html_escape as escape, url_path as href};

use crate::index::RepoIndex;

/// Renders the page: one section per first path component, a row per file.
pub(crate) fn render(index: &RepoIndex) -> String {
    let title = escape(&index.repository);
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>{title}</h1>\n"
    );
    let mut group: Option<&str> = None;
    for entry in &index.files {
        if group != Some(entry.group()) {
            if group.is_some() {
                out.push_str("</table>\n");
            }
            group = Some(entry.group());
            let _ = write!(
                out,
                "<h2>{}</h2>\n<table>\n<tr><th>file</th><th>version</th><th>arch</th>\
                 <th>size</th><th>sha256</th><th>time</th></tr>\n",
                escape(if entry.group().is_empty() {
                    "/"
                } else {
                    entry.group()
                })
            );
        }
        let _ = writeln!(
            out,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
             <td><code>{}</code></td><td>{}</td></tr>",
            href(&entry.path),
            escape(&entry.name),
            escape(
                &entry
                    .version
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            entry.arch.map(|a| a.file_name()).unwrap_or_default(),
            entry.size,
            entry.sha256,
            entry.time.format("%Y-%m-%dT%H:%M:%SZ"),
        );
    }
    if group.is_some() {
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// The page of a split index: one section per group with its file count and a link to the
/// group's bucket (the JSON list of its files), so the page's size follows the number of
/// groups, not of files.
pub(crate) fn render_buckets(index: &RepoIndex) -> String {
    let title = escape(&index.repository);
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>{title}</h1>\n"
    );
    for bucket in &index.buckets {
        let group = if bucket.group.is_empty() {
            "/"
        } else {
            &bucket.group
        };
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<p>{} files: <a href=\"{}\">list (JSON)</a></p>",
            escape(group),
            bucket.files,
            href(&bucket.key)
        );
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_encode_plus_and_names_are_escaped() {
        assert_eq!(
            href("x86_64/falco-0.45.0-1+abc.tgz"),
            "x86_64/falco-0.45.0-1%2Babc.tgz"
        );
        assert_eq!(escape("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
