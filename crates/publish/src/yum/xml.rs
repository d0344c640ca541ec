//! What reading and writing repodata XML share: the namespaces, attribute and text access on
//! quick-xml events, and the error a document we cannot read turns into.

use std::borrow::Cow;

use quick_xml::events::BytesStart;
use quick_xml::XmlVersion;

pub(super) const NS_COMMON: &str = "http://linux.duke.edu/metadata/common";
pub(super) const NS_RPM: &str = "http://linux.duke.edu/metadata/rpm";
pub(super) const NS_FILELISTS: &str = "http://linux.duke.edu/metadata/filelists";
pub(super) const NS_OTHER: &str = "http://linux.duke.edu/metadata/other";
pub(super) const NS_REPO: &str = "http://linux.duke.edu/metadata/repo";

/// A repodata document that is not what this crate (or createrepo_c) writes.
#[derive(Debug, thiserror::Error)]
pub enum BadMetadata {
    /// The XML itself does not parse.
    #[error("malformed XML at byte {position}")]
    Xml {
        /// Where the reader stopped.
        position: u64,
        /// The parser's error.
        #[source]
        source: quick_xml::Error,
    },
    /// An element lacks something the format requires.
    #[error("a <{element}> has no {what}")]
    Missing {
        /// The element.
        element: &'static str,
        /// The attribute or child it needs.
        what: &'static str,
    },
    /// A value does not parse.
    #[error("<{element}> has {what} {value:?}, expected {expected}")]
    Invalid {
        /// The element.
        element: &'static str,
        /// The attribute or child.
        what: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A compressed document does not decompress.
    #[error("cannot decompress it")]
    Decompress(#[source] std::io::Error),
    /// A document's digest is not the one `repomd.xml` gives.
    #[error("its sha256 is {actual}, repomd.xml says {expected}")]
    Digest {
        /// What `repomd.xml` says.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
}

/// The unescaped value of attribute `name`, if present.
pub(super) fn attr<'a>(
    start: &'a BytesStart<'_>,
    name: &str,
    position: u64,
) -> Result<Option<Cow<'a, str>>, BadMetadata> {
    let xml = |source: quick_xml::Error| BadMetadata::Xml { position, source };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| xml(e.into()))?;
        if attribute.key.as_ref() == name.as_bytes() {
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(xml)?;
            return Ok(Some(Cow::Owned(value.into_owned())));
        }
    }
    Ok(None)
}

/// The attribute `name`, required.
pub(super) fn required_attr(
    start: &BytesStart<'_>,
    element: &'static str,
    name: &'static str,
    position: u64,
) -> Result<String, BadMetadata> {
    attr(start, name, position)?
        .map(Cow::into_owned)
        .ok_or(BadMetadata::Missing {
            element,
            what: name,
        })
}

/// Parses `value` as a number of `element`'s `what`.
pub(super) fn number<T: std::str::FromStr>(
    value: &str,
    element: &'static str,
    what: &'static str,
) -> Result<T, BadMetadata> {
    value.parse().map_err(|_| BadMetadata::Invalid {
        element,
        what,
        value: value.to_owned(),
        expected: "a number",
    })
}
