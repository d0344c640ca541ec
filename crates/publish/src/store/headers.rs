//! What each uploaded object says to HTTP caches: its `Content-Type` and `Cache-Control`,
//! decided from its key.

use object_store::{Attribute, Attributes, PutMode, PutOptions};

/// How long caches may keep an object, by what the protocol does with its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectClass {
    /// Written once and never replaced: package files, signatures, content-addressed index
    /// files (`by-hash/`, `<sha256>-primary.xml.gz`).
    Immutable,
    /// Rewritten by every commit: top files, canonical index names, JSON indexes and pages.
    /// A CDN invalidation names these.
    Mutable,
    /// The protocol's own objects under `.publish/` (lock, bookkeeping): no client reads them.
    Internal,
}

/// The `Content-Type` and `Cache-Control` every upload carries, chosen from the object's key.
///
/// The defaults make a repository ready for a CDN: package files and content-addressed files
/// are cacheable for a year and `immutable`, the mutable names (`InRelease`, `Release*`,
/// `Packages*`, `repomd.xml*`, `index.json`, `index.html`, any other `.json`/`.html` such as
/// the driver site's files) for a minute, the protocol's `.publish/` objects not at all.
///
/// Headers travel with the object on stores that keep them (S3, `memory://`); on `file://` they
/// are not stored, and the HTTP server in front of the directory decides.
///
/// ```
/// use falco_artifacts_publish::{ObjectClass, ObjectHeaders};
///
/// let headers = ObjectHeaders::default();
/// assert_eq!(headers.class("packages/deb/dists/stable/InRelease"), ObjectClass::Mutable);
/// assert_eq!(headers.class("packages/rpm/falco-0.39.0-x86_64.rpm"), ObjectClass::Immutable);
/// assert_eq!(headers.content_type("packages/rpm/falco-0.39.0-x86_64.rpm"), "application/x-rpm");
/// assert!(headers.cache_control("packages/bin/index.json").contains("max-age=60"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHeaders {
    /// `Cache-Control` of [`ObjectClass::Immutable`] objects.
    pub immutable_cache_control: String,
    /// `Cache-Control` of [`ObjectClass::Mutable`] objects.
    pub mutable_cache_control: String,
    /// `Cache-Control` of [`ObjectClass::Internal`] objects.
    pub internal_cache_control: String,
    /// File-name patterns of mutable objects: an exact name, `prefix*` or `*suffix`. Checked
    /// after `.publish/` (internal) and content-addressed names (immutable); every other name is
    /// immutable.
    pub mutable_names: Vec<String>,
    /// `(file-name suffix, Content-Type)`, the first matching suffix wins;
    /// `application/octet-stream` when none does.
    pub content_types: Vec<(String, String)>,
}

impl Default for ObjectHeaders {
    fn default() -> Self {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        ObjectHeaders {
            immutable_cache_control: "public, max-age=31536000, immutable".into(),
            mutable_cache_control: "public, max-age=60, must-revalidate".into(),
            internal_cache_control: "no-store".into(),
            mutable_names: [
                "InRelease",
                "Release*",
                "Packages*",
                "repomd.xml*",
                "index.json",
                "index.html",
                "*.json",
                "*.html",
            ]
            .map(str::to_owned)
            .into(),
            content_types: pairs(&[
                (".deb", "application/vnd.debian.binary-package"),
                (".rpm", "application/x-rpm"),
                (".gz", "application/gzip"),
                (".tgz", "application/gzip"),
                (".xz", "application/x-xz"),
                (".zst", "application/zstd"),
                (".asc", "application/pgp-signature"),
                (".gpg", "application/pgp-signature"),
                (".sha256", "text/plain; charset=utf-8"),
                (".json", "application/json"),
                (".html", "text/html; charset=utf-8"),
                (".xml", "application/xml"),
                ("InRelease", "text/plain; charset=utf-8"),
                ("Release", "text/plain; charset=utf-8"),
                ("Packages", "text/plain; charset=utf-8"),
            ]),
        }
    }
}

/// Whether `name` matches `pattern` (`exact`, `prefix*` or `*suffix`).
fn matches(pattern: &str, name: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        name.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.ends_with(suffix)
    } else {
        name == pattern
    }
}

/// Whether a file name carries a SHA-256 (`<64 hex>-primary.xml.gz`, an index bucket): its
/// bytes never change under it.
fn names_a_digest(name: &str) -> bool {
    let mut run = 0;
    for c in name.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run == 64 {
            return true;
        }
    }
    false
}

impl ObjectHeaders {
    /// The class of the object at `key` (a full key or one relative to a repository).
    pub fn class(&self, key: &str) -> ObjectClass {
        let mut segments = key.split('/');
        let name = key.rsplit('/').next().unwrap_or(key);
        if segments.any(|s| s == ".publish") {
            ObjectClass::Internal
        } else if key.split('/').any(|s| s == "by-hash") || names_a_digest(name) {
            ObjectClass::Immutable
        } else if self.mutable_names.iter().any(|p| matches(p, name)) {
            ObjectClass::Mutable
        } else {
            ObjectClass::Immutable
        }
    }

    /// The `Content-Type` of the object at `key`.
    pub fn content_type(&self, key: &str) -> &str {
        let name = key.rsplit('/').next().unwrap_or(key);
        self.content_types
            .iter()
            .find(|(suffix, _)| name.ends_with(suffix.as_str()))
            .map_or("application/octet-stream", |(_, t)| t.as_str())
    }

    /// The `Cache-Control` of the object at `key`.
    pub fn cache_control(&self, key: &str) -> &str {
        match self.class(key) {
            ObjectClass::Immutable => &self.immutable_cache_control,
            ObjectClass::Mutable => &self.mutable_cache_control,
            ObjectClass::Internal => &self.internal_cache_control,
        }
    }

    /// The options of a put of `key` in `mode`, carrying its headers.
    pub(crate) fn put_options(&self, key: &str, mode: PutMode) -> PutOptions {
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::ContentType,
            self.content_type(key).to_owned().into(),
        );
        attributes.insert(
            Attribute::CacheControl,
            self.cache_control(key).to_owned().into(),
        );
        PutOptions {
            mode,
            attributes,
            ..PutOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_key_has_its_class_and_type() {
        let h = ObjectHeaders::default();
        let digest = "a".repeat(64);
        let cases = [
            (
                "deb/stable/falco-0.39.0-x86_64.deb",
                ObjectClass::Immutable,
                "application/vnd.debian.binary-package",
            ),
            (
                "deb/stable/falco-0.39.0-x86_64.deb.asc",
                ObjectClass::Immutable,
                "application/pgp-signature",
            ),
            (
                "deb/dists/stable/main/binary-amd64/by-hash/SHA256/abc",
                ObjectClass::Immutable,
                "application/octet-stream",
            ),
            (
                "deb/dists/stable/main/binary-amd64/Packages.gz",
                ObjectClass::Mutable,
                "application/gzip",
            ),
            (
                "deb/dists/stable/main/binary-amd64/Packages",
                ObjectClass::Mutable,
                "text/plain; charset=utf-8",
            ),
            (
                "deb/dists/stable/InRelease",
                ObjectClass::Mutable,
                "text/plain; charset=utf-8",
            ),
            (
                "deb/dists/stable/Release.gpg",
                ObjectClass::Mutable,
                "application/pgp-signature",
            ),
            (
                "rpm/repodata/repomd.xml",
                ObjectClass::Mutable,
                "application/xml",
            ),
            (
                "rpm/repodata/repomd.xml.asc",
                ObjectClass::Mutable,
                "application/pgp-signature",
            ),
            (
                &format!("rpm/repodata/{digest}-primary.xml.gz"),
                ObjectClass::Immutable,
                "application/gzip",
            ),
            (
                "rpm/falco-0.39.0-x86_64.rpm",
                ObjectClass::Immutable,
                "application/x-rpm",
            ),
            (
                "bin/x86_64/falco-0.39.0-x86_64.tar.gz",
                ObjectClass::Immutable,
                "application/gzip",
            ),
            (
                "bin/x86_64/falco-0.39.0-x86_64.tar.gz.sha256",
                ObjectClass::Immutable,
                "text/plain; charset=utf-8",
            ),
            ("bin/index.json", ObjectClass::Mutable, "application/json"),
            (
                "bin/index.html",
                ObjectClass::Mutable,
                "text/html; charset=utf-8",
            ),
            (
                "driver/site/7.0.0+driver.json",
                ObjectClass::Mutable,
                "application/json",
            ),
            (
                "driver/7.0.0+driver/x86_64/falco_ubuntu_5.15.0_1.ko",
                ObjectClass::Immutable,
                "application/octet-stream",
            ),
            (
                "bin/.publish/lock/00000001",
                ObjectClass::Internal,
                "application/octet-stream",
            ),
            (
                "deb/.publish/apt-state/x.json",
                ObjectClass::Internal,
                "application/json",
            ),
        ];
        for (key, class, content_type) in cases {
            assert_eq!(h.class(key), class, "{key}");
            assert_eq!(h.content_type(key), content_type, "{key}");
        }
        assert_eq!(
            h.cache_control("rpm/falco.rpm"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(h.cache_control("a/.publish/lock/1"), "no-store");
    }

    #[test]
    fn the_policy_is_configurable() {
        let h = ObjectHeaders {
            mutable_names: vec!["latest*".into()],
            mutable_cache_control: "max-age=5".into(),
            content_types: vec![(".ko".into(), "application/x-kernel-module".into())],
            ..ObjectHeaders::default()
        };
        assert_eq!(h.class("bin/latest.tar.gz"), ObjectClass::Mutable);
        assert_eq!(h.class("bin/index.json"), ObjectClass::Immutable);
        assert_eq!(h.cache_control("bin/latest.tar.gz"), "max-age=5");
        assert_eq!(h.content_type("d/x.ko"), "application/x-kernel-module");
        let opts = h.put_options("d/x.ko", PutMode::Create);
        assert!(matches!(opts.mode, PutMode::Create));
        assert_eq!(
            opts.attributes
                .get(&Attribute::ContentType)
                .map(|v| v.as_ref()),
            Some("application/x-kernel-module")
        );
    }
}
