//! `primary.xml`, `filelists.xml` and `other.xml` as whole documents: assembled from the
//! packages' elements, and split back into them when the next publish reads the live ones.

use std::collections::BTreeMap;
use std::io;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::{Reader, Writer};

use super::record::{Elements, Record};
use super::xml::{self, BadMetadata, NS_COMMON, NS_FILELISTS, NS_OTHER, NS_RPM};

/// The three documents of a repodata generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Primary,
    Filelists,
    Other,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Primary, Kind::Filelists, Kind::Other];

    /// The `type` in `repomd.xml` and the suffix of the file name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Primary => "primary",
            Kind::Filelists => "filelists",
            Kind::Other => "other",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn root(self) -> &'static str {
        match self {
            Kind::Primary => "metadata",
            Kind::Filelists => "filelists",
            Kind::Other => "otherdata",
        }
    }

    /// This kind's element of `record`, when it has its elements.
    pub(crate) fn element(self, record: &Record) -> Option<&str> {
        let e = record.elements.as_ref()?;
        Some(match self {
            Kind::Primary => &e.primary,
            Kind::Filelists => &e.filelists,
            Kind::Other => &e.other,
        })
    }
}

/// The start of document `kind` listing `count` packages: the XML declaration and the root
/// element's start tag.
pub(crate) fn header(kind: Kind, count: usize) -> io::Result<Vec<u8>> {
    let mut w = Writer::new(Vec::new());
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.get_mut().push(b'\n');
    let count = count.to_string();
    let mut root = BytesStart::new(kind.root());
    match kind {
        Kind::Primary => {
            root.push_attribute(("xmlns", NS_COMMON));
            root.push_attribute(("xmlns:rpm", NS_RPM));
        }
        Kind::Filelists => root.push_attribute(("xmlns", NS_FILELISTS)),
        Kind::Other => root.push_attribute(("xmlns", NS_OTHER)),
    }
    root.push_attribute(("packages", count.as_str()));
    w.write_event(Event::Start(root))?;
    w.get_mut().push(b'\n');
    Ok(w.into_inner())
}

/// The end of document `kind`.
pub(crate) fn footer(kind: Kind) -> io::Result<Vec<u8>> {
    let mut w = Writer::new(Vec::new());
    w.write_event(Event::End(BytesEnd::new(kind.root())))?;
    w.get_mut().push(b'\n');
    Ok(w.into_inner())
}

/// The elements of `elements`, one per line, as they sit between header and footer. Each was
/// written by the same XML writer when its package was first published; reusing it verbatim
/// is what makes adding a package cost no re-encoding of the others.
pub(crate) fn fragment<'a>(elements: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::new();
    for element in elements {
        out.extend_from_slice(element.as_bytes());
        out.push(b'\n');
    }
    out
}

fn xml_err(reader: &Reader<&[u8]>, source: quick_xml::Error) -> BadMetadata {
    BadMetadata::Xml {
        position: reader.error_position(),
        source,
    }
}

/// The `<package>` elements directly under the root of `doc`, as written.
fn packages(doc: &str) -> Result<Vec<&str>, BadMetadata> {
    elements_at(doc, 2)
}

/// The `<package>` elements at nesting `level` (1: a fragment, 2: under a root element).
fn elements_at(doc: &str, level: usize) -> Result<Vec<&str>, BadMetadata> {
    let mut reader = Reader::from_str(doc);
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut out = Vec::new();
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match reader.read_event().map_err(|e| xml_err(&reader, e))? {
            Event::Start(e) => {
                depth += 1;
                if depth == level && e.name().as_ref() == b"package" {
                    start = before;
                }
            }
            Event::End(e) => {
                if depth == level && e.name().as_ref() == b"package" {
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    out.push(doc.get(start..end).ok_or(BadMetadata::Missing {
                        element: "package",
                        what: "end",
                    })?);
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

/// What `primary.xml` says of one package.
struct PrimaryFields {
    name: String,
    arch: String,
    epoch: String,
    version: String,
    release: String,
    pkgid: String,
    size: u64,
    href: String,
}

fn primary_fields(chunk: &str) -> Result<PrimaryFields, BadMetadata> {
    let mut reader = Reader::from_str(chunk);
    let mut depth = 0usize;
    let (mut name, mut arch, mut pkgid) = (None, None, None);
    let (mut evr, mut size, mut href) = (None, None, None);
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| xml_err(&reader, e))?;
        match &event {
            Event::Start(e) => {
                let tag = e.name().as_ref().to_vec();
                if depth == 1 && matches!(&tag[..], b"name" | b"arch" | b"checksum") {
                    let end = e.to_end().into_owned();
                    let raw = reader
                        .read_text(end.name())
                        .map_err(|e| xml_err(&reader, e))?;
                    let raw = raw.decode().map_err(|e| xml_err(&reader, e.into()))?;
                    let text = quick_xml::escape::unescape(&raw)
                        .map_err(|e| xml_err(&reader, e.into()))?
                        .into_owned();
                    match &tag[..] {
                        b"name" => name = Some(text),
                        b"arch" => arch = Some(text),
                        _ => pkgid = Some(text),
                    }
                } else {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Empty(e) if depth == 1 => match e.name().as_ref() {
                b"version" => {
                    evr = Some((
                        xml::attr(e, "epoch", position)?
                            .map_or_else(|| "0".to_owned(), |c| c.into_owned()),
                        xml::required_attr(e, "version", "ver", position)?,
                        xml::attr(e, "rel", position)?
                            .map(|c| c.into_owned())
                            .unwrap_or_default(),
                    ));
                }
                b"size" => {
                    let value = xml::required_attr(e, "size", "package", position)?;
                    size = Some(xml::number(&value, "size", "package")?);
                }
                b"location" => href = Some(xml::required_attr(e, "location", "href", position)?),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let missing = |what| BadMetadata::Missing {
        element: "package",
        what,
    };
    let (epoch, version, release) = evr.ok_or(missing("<version>"))?;
    Ok(PrimaryFields {
        name: name.ok_or(missing("<name>"))?,
        arch: arch.ok_or(missing("<arch>"))?,
        epoch,
        version,
        release,
        pkgid: pkgid.ok_or(missing("<checksum>"))?,
        size: size.ok_or(missing("<size>"))?,
        href: href.ok_or(missing("<location>"))?,
    })
}

/// The `pkgid` of a filelists or other `<package>` element.
fn keyed_pkgid(chunk: &str) -> Result<String, BadMetadata> {
    let mut reader = Reader::from_str(chunk);
    loop {
        let position = reader.buffer_position();
        match reader.read_event().map_err(|e| xml_err(&reader, e))? {
            Event::Start(e) => return xml::required_attr(&e, "package", "pkgid", position),
            Event::Eof => {
                return Err(BadMetadata::Missing {
                    element: "package",
                    what: "pkgid",
                })
            }
            _ => {}
        }
    }
}

/// The packages of a generation, from its three documents.
pub(crate) fn parse(
    primary: &str,
    filelists: &str,
    other: &str,
) -> Result<Vec<Record>, BadMetadata> {
    let keyed = |doc: &str| -> Result<BTreeMap<String, String>, BadMetadata> {
        packages(doc)?
            .into_iter()
            .map(|chunk| Ok((keyed_pkgid(chunk)?, chunk.to_owned())))
            .collect()
    };
    let mut filelists = keyed(filelists)?;
    let mut other = keyed(other)?;
    packages(primary)?
        .into_iter()
        .map(|chunk| {
            let fields = primary_fields(chunk)?;
            let pkgid = fields.pkgid.parse().map_err(|_| BadMetadata::Invalid {
                element: "checksum",
                what: "text",
                value: fields.pkgid.clone(),
                expected: "a SHA-256 digest in hex",
            })?;
            let missing = |what| BadMetadata::Missing {
                element: "package",
                what,
            };
            Ok(Record {
                elements: Some(Elements {
                    filelists: filelists
                        .remove(&fields.pkgid)
                        .ok_or(missing("filelists entry"))?,
                    other: other.remove(&fields.pkgid).ok_or(missing("other entry"))?,
                    primary: chunk.to_owned(),
                }),
                name: fields.name,
                arch: fields.arch,
                epoch: fields.epoch,
                version: fields.version,
                release: fields.release,
                pkgid,
                size: fields.size,
                href: fields.href,
            })
        })
        .collect()
}

/// The elements of a fragment of document `kind`, keyed as [`Kind::key`] keys a record.
pub(crate) fn split_fragment(
    kind: Kind,
    fragment: &str,
) -> Result<BTreeMap<String, String>, BadMetadata> {
    elements_at(fragment, 1)?
        .into_iter()
        .map(|element| {
            let key = match kind {
                Kind::Primary => primary_fields(element)?.href,
                Kind::Filelists | Kind::Other => keyed_pkgid(element)?,
            };
            Ok((key, element.to_owned()))
        })
        .collect()
}

impl Kind {
    /// How a fragment's elements are found for a record: `primary` by location, the others by
    /// `pkgid`.
    pub(crate) fn key(self, record: &Record) -> String {
        match self {
            Kind::Primary => record.href.clone(),
            Kind::Filelists | Kind::Other => record.pkgid.to_hex(),
        }
    }
}
