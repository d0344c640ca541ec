//! `index.html`: the same listing as `index.json`, for a person with a browser.

use std::fmt::Write as _;

use crate::index::RepoIndex;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a relative key for an `href`: `+` must be `%2B`, or S3 reads a space.
fn href(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

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
