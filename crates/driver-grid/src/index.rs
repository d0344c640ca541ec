//! The public index of prebuilt drivers: `driver/site/index.json`, one
//! `driver/site/<driverversion>.json` per driver version and `driver/site/index.html`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::plan::download_path;
use crate::DriverVersion;

/// A published object as a store listing describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedObject {
    /// Its key, e.g. `driver/7.0.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.ko`.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last modified, as the store reports it (RFC 3339).
    pub last_modified: String,
}

/// One driver in `<driverversion>.json`, in the shape Falco's driver site reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexEntry {
    /// The driver version.
    pub lib: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// `kmod` or `ebpf`.
    pub kind: String,
    /// The kernel release.
    pub kernel: String,
    /// The driverkit target.
    pub target: String,
    /// The file name.
    pub name: String,
    /// The download URL (`+` as `%2B`).
    pub download: String,
    /// The size in bytes.
    pub sizebytes: u64,
    /// The size for people (`3.2 MiB`).
    pub size: String,
    /// When it was published.
    pub lastmodified: String,
    #[serde(skip)]
    pub(crate) kernel_version: String,
}

/// The index of every prebuilt driver, by driver version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverIndex {
    /// Entries per driver version, each list sorted by arch, target, kernel and kind.
    pub versions: BTreeMap<DriverVersion, Vec<IndexEntry>>,
}

/// Key of the list of driver versions.
pub const INDEX_JSON_KEY: &str = "driver/site/index.json";
/// Key of the page for people.
pub const INDEX_HTML_KEY: &str = "driver/site/index.html";
/// Key of the coverage report the page shows (see [`Coverage`](crate::Coverage)).
pub const COVERAGE_JSON_KEY: &str = "driver/site/coverage.json";

/// The drivers page: plain HTML with its script inline (no external script, style or CDN).
/// It loads `index.json`, then the `<driverversion>.json` of the chosen version on demand,
/// and filters by arch, kind, target and kernel text; the choice lives in the URL hash
/// (`#version=10.2.0%2Bdriver&target=ubuntu-gcp&kernel=6.5`). When `coverage.json` is
/// published beside it, a section lists the kernels without a prebuilt driver.
pub const SITE_PAGE: &str = include_str!("site.html");

/// Splits `falco_<target>_<kernelrelease>_<kernelversion>.{ko,o}`. Targets hold no `_`, but
/// both kernel parts may (`4.18.0-513.5.1.el8_9.x86_64`, `1_1.27.0`): the `_` of `x86_64` never
/// separates, the release extends over each `_`-separated part that is not all digits, and the
/// version starts at the first part that is (or at the last part).
pub(crate) fn split_name(name: &str) -> Option<(&str, &str, &str, &'static str)> {
    let (stem, kind) = if let Some(stem) = name.strip_suffix(".ko") {
        (stem, "kmod")
    } else {
        (name.strip_suffix(".o")?, "ebpf")
    };
    let rest = stem.strip_prefix("falco_")?;
    let (target, rest) = rest.split_once('_')?;
    let separators: Vec<usize> = rest
        .match_indices('_')
        .map(|(at, _)| at)
        .filter(|&at| !(rest[..at].ends_with("x86") && rest[at + 1..].starts_with("64")))
        .collect();
    let mut release_end = *separators.first()?;
    for &next in &separators[1..] {
        let part = &rest[release_end + 1..next];
        if part.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        release_end = next;
    }
    let (release, version) = (&rest[..release_end], &rest[release_end + 1..]);
    (!target.is_empty() && !release.is_empty() && !version.is_empty())
        .then_some((target, release, version, kind))
}

impl DriverIndex {
    /// Builds the index from a listing of the repository: keys `driver/<lib>/<file>` (the old
    /// x86_64-only layout) and `driver/<lib>/<arch>/<file>`; other keys are ignored.
    /// `base_url` prefixes download links (`https://download.falco.org`).
    pub fn build(objects: &[PublishedObject], base_url: &str) -> DriverIndex {
        let base = base_url.trim_end_matches('/');
        let mut versions: BTreeMap<DriverVersion, Vec<IndexEntry>> = BTreeMap::new();
        for object in objects {
            let parts: Vec<&str> = object.key.split('/').collect();
            let (lib, arch, name) = match parts.as_slice() {
                ["driver", lib, name] => (*lib, "x86_64", *name),
                ["driver", lib, arch @ ("x86_64" | "aarch64"), name] => (*lib, *arch, *name),
                _ => continue,
            };
            let (Ok(version), Some((target, release, kernel_version, kind))) =
                (lib.parse::<DriverVersion>(), split_name(name))
            else {
                continue;
            };
            versions.entry(version).or_default().push(IndexEntry {
                lib: lib.to_owned(),
                arch: arch.to_owned(),
                kind: kind.to_owned(),
                kernel: release.to_owned(),
                target: target.to_owned(),
                name: name.to_owned(),
                download: format!("{base}/{}", download_path(&object.key)),
                sizebytes: object.size,
                size: human_size(object.size),
                lastmodified: object.last_modified.clone(),
                kernel_version: kernel_version.to_owned(),
            });
        }
        for entries in versions.values_mut() {
            entries.sort_by_key(|e| {
                (
                    e.arch.clone(),
                    e.target.clone(),
                    e.kernel.clone(),
                    e.kernel_version.clone(),
                    e.kind != "kmod",
                )
            });
        }
        DriverIndex { versions }
    }

    /// `index.json`: the driver versions, newest first, as a JSON array of strings.
    pub fn index_json(&self) -> String {
        versions_json(self.versions.keys())
    }

    /// `<driverversion>.json` in the shape Falco's drivers page reads:
    /// `{"index": {"lib": [...], "arch": [...], "kind": [...], "target": [...]}, "drivers": [...]}`,
    /// the index holding the distinct values of each field, sorted (both empty when the
    /// version is unknown).
    pub fn version_json(&self, version: &DriverVersion) -> String {
        let entries = self
            .versions
            .get(version)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let distinct = |field: fn(&IndexEntry) -> &str| -> Vec<&str> {
            let values: BTreeSet<&str> = entries.iter().map(field).collect();
            values.into_iter().collect()
        };
        let site = serde_json::json!({
            "index": {
                "lib": distinct(|e| &e.lib),
                "arch": distinct(|e| &e.arch),
                "kind": distinct(|e| &e.kind),
                "target": distinct(|e| &e.target),
            },
            "drivers": entries,
        });
        // Compact: the file of a driver version with 50,000 drivers is rewritten at each
        // publish into it, and pretty-printing would nearly double it.
        site.to_string()
    }

    /// `index.html`: one page of constant size whatever the number of drivers (see
    /// [`SITE_PAGE`]).
    pub fn index_html(&self) -> String {
        SITE_PAGE.to_owned()
    }

    /// Every file of the site as `(key, contents)`: `index.json`, one `<driverversion>.json`
    /// per driver version, `index.html`.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![(INDEX_JSON_KEY.to_owned(), self.index_json().into_bytes())];
        for version in self.versions.keys() {
            files.push((
                format!("driver/site/{version}.json"),
                self.version_json(version).into_bytes(),
            ));
        }
        files.push((INDEX_HTML_KEY.to_owned(), self.index_html().into_bytes()));
        files
    }
}

/// `index.json` of `versions`: newest first, a JSON array of strings.
pub(crate) fn versions_json<'a>(
    versions: impl IntoIterator<Item = &'a DriverVersion, IntoIter: DoubleEndedIterator>,
) -> String {
    let names: Vec<&str> = versions
        .into_iter()
        .rev()
        .map(DriverVersion::as_str)
        .collect();
    serde_json::to_string_pretty(&names).unwrap_or_default()
}

/// Sizes for people, in binary units with one decimal.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes() {
        assert_eq!(
            split_name("falco_ubuntu_5.15.0-1019-aws_1_1.27.0.ko"),
            Some(("ubuntu", "5.15.0-1019-aws", "1_1.27.0", "kmod"))
        );
        assert_eq!(
            split_name("falco_almalinux_4.18.0-513.5.1.el8_9.x86_64_1.o"),
            Some(("almalinux", "4.18.0-513.5.1.el8_9.x86_64", "1", "ebpf"))
        );
        assert_eq!(
            split_name("falco_talos_6.1.58-talos_1_v1.5.5.ko"),
            Some(("talos", "6.1.58-talos", "1_v1.5.5", "kmod"))
        );
        assert_eq!(
            split_name("falco_rocky_4.18.0-477.10.1.el8_8.x86_64_1.ko"),
            Some(("rocky", "4.18.0-477.10.1.el8_8.x86_64", "1", "kmod"))
        );
        assert_eq!(
            split_name("falco_centos_3.10.0-1160.119.1.el7.x86_64_1.ko"),
            Some(("centos", "3.10.0-1160.119.1.el7.x86_64", "1", "kmod"))
        );
        assert_eq!(split_name("falco_x.txt"), None);
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 * 1024 * 1024 + 200 * 1024), "3.2 MiB");
    }
}
