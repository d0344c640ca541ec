//! `repodata/repomd.xml`: the top file naming each document of the live generation with its
//! digests and sizes.

use std::io;

use falco_artifacts_core::Sha256Digest;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::metadata::Kind;
use super::xml::{self, BadMetadata, NS_REPO, NS_RPM};

/// One `<data>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Data {
    pub(crate) kind: Kind,
    /// Relative to the repository (`repodata/<sha256>-primary.xml.gz`).
    pub(crate) href: String,
    /// Of the compressed file.
    pub(crate) checksum: Sha256Digest,
    pub(crate) size: u64,
    pub(crate) timestamp: i64,
}

fn text(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))
        .map(drop)
}

/// The `repomd.xml` naming `data`.
pub(crate) fn render(revision: i64, data: &[Data]) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Start(
        BytesStart::new("repomd").with_attributes([("xmlns", NS_REPO), ("xmlns:rpm", NS_RPM)]),
    ))?;
    text(&mut w, "revision", &revision.to_string())?;
    for d in data {
        w.write_event(Event::Start(
            BytesStart::new("data").with_attributes([("type", d.kind.name())]),
        ))?;
        w.create_element("checksum")
            .with_attribute(("type", "sha256"))
            .write_text_content(BytesText::new(&d.checksum.to_hex()))?;
        w.create_element("location")
            .with_attribute(("href", d.href.as_str()))
            .write_empty()?;
        text(&mut w, "timestamp", &d.timestamp.to_string())?;
        text(&mut w, "size", &d.size.to_string())?;
        w.write_event(Event::End(BytesEnd::new("data")))?;
    }
    w.write_event(Event::End(BytesEnd::new("repomd")))?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

/// What a reader needs of a `<data>` entry: where the document is and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) kind: Kind,
    pub(crate) href: String,
    pub(crate) checksum: Sha256Digest,
}

/// The primary, filelists and other entries of a `repomd.xml` (others, such as createrepo_c's
/// sqlite databases, are not ours to read).
pub(crate) fn parse(doc: &str) -> Result<Vec<Listed>, BadMetadata> {
    let mut reader = Reader::from_str(doc);
    let mut out = Vec::new();
    let mut current: Option<(Option<Kind>, Option<String>, Option<String>)> = None;
    loop {
        let position = reader.buffer_position();
        let xml_err = |source| BadMetadata::Xml { position, source };
        match reader.read_event().map_err(xml_err)? {
            Event::Start(e) if e.name().as_ref() == b"data" => {
                let kind = xml::required_attr(&e, "data", "type", position)?;
                current = Some((Kind::from_name(&kind), None, None));
            }
            Event::Start(e) if e.name().as_ref() == b"checksum" => {
                let end = e.to_end().into_owned();
                let raw = reader.read_text(end.name()).map_err(xml_err)?;
                let raw = raw.decode().map_err(|e| xml_err(e.into()))?;
                if let Some(c) = current.as_mut() {
                    c.2 = Some(raw.trim().to_owned());
                }
            }
            Event::Empty(e) if e.name().as_ref() == b"location" => {
                let href = xml::required_attr(&e, "location", "href", position)?;
                if let Some(c) = current.as_mut() {
                    c.1 = Some(href);
                }
            }
            Event::End(e) if e.name().as_ref() == b"data" => {
                if let Some((Some(kind), href, checksum)) = current.take() {
                    let href = href.ok_or(BadMetadata::Missing {
                        element: "data",
                        what: "<location>",
                    })?;
                    let checksum = checksum.ok_or(BadMetadata::Missing {
                        element: "data",
                        what: "<checksum>",
                    })?;
                    let checksum = checksum.parse().map_err(|_| BadMetadata::Invalid {
                        element: "checksum",
                        what: "text",
                        value: checksum,
                        expected: "a SHA-256 digest in hex",
                    })?;
                    out.push(Listed {
                        kind,
                        href,
                        checksum,
                    });
                }
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}
