//! Text for the web: URL paths and HTML, written the same way by every index we publish.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 3986 unreserved characters stay; everything else, notably `+` (which S3 and some HTTP
/// servers read as a space), is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The same, keeping `/` so a whole key stays a path.
const PATH: &AsciiSet = &SEGMENT.remove(b'/');

/// One URL path segment: `7.0.0+driver` → `7.0.0%2Bdriver`.
///
/// ```
/// assert_eq!(falco_artifacts_core::web::url_segment("0.45.0-36+1307474"), "0.45.0-36%2B1307474");
/// ```
pub fn url_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A relative key as a URL path, `/` kept: `driver/7.0.0+driver/x86_64/a.ko` →
/// `driver/7.0.0%2Bdriver/x86_64/a.ko`.
///
/// ```
/// assert_eq!(falco_artifacts_core::web::url_path("a/b c+d.ko"), "a/b%20c%2Bd.ko");
/// ```
pub fn url_path(key: &str) -> String {
    utf8_percent_encode(key, PATH).to_string()
}

/// `text` escaped for HTML element content and quoted attributes.
///
/// ```
/// assert_eq!(falco_artifacts_core::web::html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
/// ```
pub fn html_escape(text: &str) -> String {
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
