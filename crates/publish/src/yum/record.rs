//! One package as the three repodata documents describe it, written with quick-xml in the
//! layout createrepo_c uses: its `<package>` element of `primary.xml`, `filelists.xml` and
//! `other.xml`.

use std::io;

use falco_artifacts_core::Sha256Digest;
use falco_artifacts_pkg_rpm::{FileInfo, FileKind, Relation, RpmInfo};
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// How many changelog entries `other.xml` keeps per package, as createrepo_c does by default.
const CHANGELOG_LIMIT: usize = 10;

/// A package's three `<package>` elements, kept as written so an unchanged package is never
/// re-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Elements {
    pub(crate) primary: String,
    pub(crate) filelists: String,
    pub(crate) other: String,
}

/// One package of the repository: what retention, listing and verification need, and its
/// elements when they were read or written (a package read from the bookkeeping alone has
/// none: its elements stay compressed in the live documents).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Record {
    pub(crate) name: String,
    pub(crate) arch: String,
    pub(crate) epoch: String,
    pub(crate) version: String,
    pub(crate) release: String,
    /// The SHA-256 of the `.rpm` (createrepo_c's `pkgid`).
    pub(crate) pkgid: Sha256Digest,
    pub(crate) size: u64,
    /// The `.rpm`'s key, relative to the repository (`location href`).
    pub(crate) href: String,
    #[serde(skip)]
    pub(crate) elements: Option<Elements>,
}

impl Record {
    /// `epoch:version-release`, for ordering.
    pub(crate) fn evr(&self) -> rpm_version::Evr<'_> {
        rpm_version::Evr::new(
            self.epoch.as_str(),
            self.version.as_str(),
            self.release.as_str(),
        )
    }

    /// Describes `info`, the `.rpm` of `size` bytes with digest `pkgid` stored at `href`.
    pub(crate) fn new(
        info: &RpmInfo,
        pkgid: Sha256Digest,
        size: u64,
        href: &str,
    ) -> io::Result<Self> {
        let epoch = info.epoch.unwrap_or(0).to_string();
        Ok(Record {
            name: info.name.clone(),
            arch: info.arch.clone(),
            epoch: epoch.clone(),
            version: info.version.clone(),
            release: info.release.clone(),
            pkgid,
            size,
            href: href.to_owned(),
            elements: Some(Elements {
                primary: primary(info, &epoch, &pkgid, size, href)?,
                filelists: filelists(info, &epoch, &pkgid)?,
                other: other(info, &epoch, &pkgid)?,
            }),
        })
    }
}

type W = Writer<Vec<u8>>;

fn into_string(writer: W) -> io::Result<String> {
    String::from_utf8(writer.into_inner())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn text_element(w: &mut W, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(text))
        .map(drop)
}

fn version_element(w: &mut W, info: &RpmInfo, epoch: &str) -> io::Result<()> {
    w.create_element("version")
        .with_attributes([
            ("epoch", epoch),
            ("ver", info.version.as_str()),
            ("rel", info.release.as_str()),
        ])
        .write_empty()
        .map(drop)
}

/// The `<package pkgid name arch>` opening filelists and other entries.
fn keyed_start<'a>(info: &'a RpmInfo, pkgid: &'a str) -> BytesStart<'a> {
    BytesStart::new("package").with_attributes([
        ("pkgid", pkgid),
        ("name", info.name.as_str()),
        ("arch", info.arch.as_str()),
    ])
}

/// createrepo_c's rule for the files `primary.xml` lists (what dependency solving asks about).
fn in_primary(path: &str) -> bool {
    path.starts_with("/etc/") || path.contains("bin/") || path == "/usr/lib/sendmail"
}

fn file_element(w: &mut W, file: &FileInfo) -> io::Result<()> {
    let mut element = w.create_element("file");
    if file.ghost {
        element = element.with_attribute(("type", "ghost"));
    } else if file.kind == FileKind::Dir {
        element = element.with_attribute(("type", "dir"));
    }
    element
        .write_text_content(BytesText::new(&file.path))
        .map(drop)
}

/// Whether createrepo_c leaves a requirement out: rpm's own capabilities (`rpmlib(…)`, which
/// rpm itself satisfies), and what the package satisfies itself (one of its own provides,
/// exactly, or one of its own files).
fn self_satisfied(r: &Relation, info: &RpmInfo) -> bool {
    r.name.starts_with("rpmlib(")
        || info
            .provides
            .iter()
            .any(|p| p.name == r.name && p.comparison == r.comparison && p.evr == r.evr)
        || (r.name.starts_with('/') && info.files.iter().any(|f| f.path == r.name))
}

fn relations(
    w: &mut W,
    tag: &str,
    list: &[Relation],
    requires: Option<&RpmInfo>,
) -> io::Result<()> {
    let mut seen: Vec<(&str, u32, &str)> = Vec::new();
    let kept: Vec<&Relation> = list
        .iter()
        .filter(|r| !requires.is_some_and(|info| self_satisfied(r, info)))
        .filter(|r| {
            let key = (r.name.as_str(), r.raw_flags, r.evr.as_str());
            let new = !seen.contains(&key);
            seen.push(key);
            new
        })
        .collect();
    if kept.is_empty() {
        return Ok(());
    }
    w.write_event(Event::Start(BytesStart::new(tag)))?;
    for r in kept {
        let mut entry = BytesStart::new("rpm:entry");
        entry.push_attribute(("name", r.name.as_str()));
        if let Some(cmp) = r.comparison {
            let (epoch, ver, rel) = r.split_evr();
            entry.push_attribute(("flags", cmp.repodata_flag()));
            entry.push_attribute(("epoch", epoch.unwrap_or("0")));
            entry.push_attribute(("ver", ver));
            if let Some(rel) = rel {
                entry.push_attribute(("rel", rel));
            }
        }
        if requires.is_some() && r.pre {
            entry.push_attribute(("pre", "1"));
        }
        w.write_event(Event::Empty(entry))?;
    }
    w.write_event(Event::End(BytesEnd::new(tag)))
}

fn primary(
    info: &RpmInfo,
    epoch: &str,
    pkgid: &Sha256Digest,
    size: u64,
    href: &str,
) -> io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let pkgid = pkgid.to_hex();
    let build = info.build_time.to_string();
    let sizes = [
        size.to_string(),
        info.installed_size.to_string(),
        info.archive_size.unwrap_or(0).to_string(),
    ];
    let range = [
        info.header_range.start.to_string(),
        info.header_range.end.to_string(),
    ];
    w.write_event(Event::Start(
        BytesStart::new("package").with_attributes([("type", "rpm")]),
    ))?;
    text_element(&mut w, "name", &info.name)?;
    text_element(&mut w, "arch", &info.arch)?;
    version_element(&mut w, info, epoch)?;
    w.create_element("checksum")
        .with_attributes([("type", "sha256"), ("pkgid", "YES")])
        .write_text_content(BytesText::new(&pkgid))?;
    text_element(&mut w, "summary", &info.summary)?;
    text_element(&mut w, "description", &info.description)?;
    text_element(&mut w, "packager", info.packager.as_deref().unwrap_or(""))?;
    text_element(&mut w, "url", info.url.as_deref().unwrap_or(""))?;
    // The build time stands for the file time too, so the same packages give the same bytes.
    w.create_element("time")
        .with_attributes([("file", build.as_str()), ("build", build.as_str())])
        .write_empty()?;
    w.create_element("size")
        .with_attributes([
            ("package", sizes[0].as_str()),
            ("installed", sizes[1].as_str()),
            ("archive", sizes[2].as_str()),
        ])
        .write_empty()?;
    w.create_element("location")
        .with_attribute(("href", href))
        .write_empty()?;
    w.write_event(Event::Start(BytesStart::new("format")))?;
    text_element(&mut w, "rpm:license", &info.license)?;
    text_element(&mut w, "rpm:vendor", info.vendor.as_deref().unwrap_or(""))?;
    text_element(&mut w, "rpm:group", info.group.as_deref().unwrap_or(""))?;
    text_element(
        &mut w,
        "rpm:buildhost",
        info.build_host.as_deref().unwrap_or(""),
    )?;
    text_element(
        &mut w,
        "rpm:sourcerpm",
        info.source_rpm.as_deref().unwrap_or(""),
    )?;
    w.create_element("rpm:header-range")
        .with_attributes([("start", range[0].as_str()), ("end", range[1].as_str())])
        .write_empty()?;
    relations(&mut w, "rpm:provides", &info.provides, None)?;
    relations(&mut w, "rpm:requires", &info.requires, Some(info))?;
    relations(&mut w, "rpm:conflicts", &info.conflicts, None)?;
    relations(&mut w, "rpm:obsoletes", &info.obsoletes, None)?;
    relations(&mut w, "rpm:suggests", &info.suggests, None)?;
    relations(&mut w, "rpm:enhances", &info.enhances, None)?;
    relations(&mut w, "rpm:recommends", &info.recommends, None)?;
    relations(&mut w, "rpm:supplements", &info.supplements, None)?;
    for file in info.files.iter().filter(|f| in_primary(&f.path)) {
        file_element(&mut w, file)?;
    }
    w.write_event(Event::End(BytesEnd::new("format")))?;
    w.write_event(Event::End(BytesEnd::new("package")))?;
    into_string(w)
}

fn filelists(info: &RpmInfo, epoch: &str, pkgid: &Sha256Digest) -> io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let pkgid = pkgid.to_hex();
    w.write_event(Event::Start(keyed_start(info, &pkgid)))?;
    version_element(&mut w, info, epoch)?;
    for file in &info.files {
        file_element(&mut w, file)?;
    }
    w.write_event(Event::End(BytesEnd::new("package")))?;
    into_string(w)
}

fn other(info: &RpmInfo, epoch: &str, pkgid: &Sha256Digest) -> io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let pkgid = pkgid.to_hex();
    w.write_event(Event::Start(keyed_start(info, &pkgid)))?;
    version_element(&mut w, info, epoch)?;
    // rpm stores the newest first; other.xml lists the kept ones oldest first.
    for entry in info.changelog.iter().take(CHANGELOG_LIMIT).rev() {
        let date = entry.time.to_string();
        w.create_element("changelog")
            .with_attributes([("author", entry.author.as_str()), ("date", date.as_str())])
            .write_text_content(BytesText::new(&entry.text))?;
    }
    w.write_event(Event::End(BytesEnd::new("package")))?;
    into_string(w)
}
