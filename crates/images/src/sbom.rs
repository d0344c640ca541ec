//! SPDX 2.3 JSON bills of materials: every Debian package of the root filesystem (name,
//! version, arch, licence) and the Falco payload (version, SHA-1 and SHA-256 of each file).

use falco_artifacts_core::package::SourceDate;
use serde_json::{json, Value};

use crate::payload::PayloadFile;
use crate::rootfs::InstalledPackage;

/// Where the SBOM sits in every image this crate assembles.
pub const SBOM_PATH: &str = "/usr/share/sbom/image.spdx.json";
/// Media type of an SPDX JSON document (the artifact type of the pushed SBOM).
pub const SPDX_MEDIA_TYPE: &str = "application/spdx+json";

/// Debian copyright short names and their SPDX identifiers; other names are kept in the
/// package's `licenseComments` only, since an SPDX expression may hold SPDX identifiers only.
const SPDX_NAMES: &[(&str, &str)] = &[
    ("apache-2.0", "Apache-2.0"),
    ("artistic-2.0", "Artistic-2.0"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("bsd-4-clause", "BSD-4-Clause"),
    ("cc0-1.0", "CC0-1.0"),
    ("curl", "curl"),
    ("expat", "MIT"),
    ("gfdl-1.3+", "GFDL-1.3-or-later"),
    ("gpl-2", "GPL-2.0-only"),
    ("gpl-2+", "GPL-2.0-or-later"),
    ("gpl-3", "GPL-3.0-only"),
    ("gpl-3+", "GPL-3.0-or-later"),
    ("isc", "ISC"),
    ("lgpl-2", "LGPL-2.0-only"),
    ("lgpl-2+", "LGPL-2.0-or-later"),
    ("lgpl-2.1", "LGPL-2.1-only"),
    ("lgpl-2.1+", "LGPL-2.1-or-later"),
    ("lgpl-3", "LGPL-3.0-only"),
    ("lgpl-3+", "LGPL-3.0-or-later"),
    ("mit", "MIT"),
    ("mpl-2.0", "MPL-2.0"),
    ("openssl", "OpenSSL"),
    ("x11", "X11"),
    ("zlib", "Zlib"),
];

fn spdx_license(names: &[String]) -> String {
    let mut ids: Vec<&str> = names
        .iter()
        .filter_map(|n| {
            let lower = n.to_ascii_lowercase();
            SPDX_NAMES
                .iter()
                .find(|(d, _)| *d == lower)
                .map(|(_, s)| *s)
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        "NOASSERTION".to_owned()
    } else {
        ids.join(" AND ")
    }
}

/// An SPDX identifier from free text: letters, digits, `.` and `-` only.
fn spdx_id(prefix: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{prefix}-{clean}")
}

/// Percent-encodes what a purl version cannot hold as is.
fn purl_version(version: &str) -> String {
    version
        .replace('%', "%25")
        .replace(':', "%3A")
        .replace('+', "%2B")
}

/// What the SBOM describes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SbomInput<'a> {
    /// `falco`, `falco-driver-loader`.
    pub(crate) variant: &'a str,
    pub(crate) falco_version: &'a str,
    pub(crate) deb_arch: &'a str,
    pub(crate) packages: &'a [InstalledPackage],
    pub(crate) payload: &'a [PayloadFile],
    pub(crate) created: SourceDate,
}

/// The SPDX 2.3 JSON document, pretty-printed with a trailing newline; the same input gives
/// the same bytes (the namespace is derived from the content, not random).
pub(crate) fn spdx_json(input: &SbomInput<'_>) -> Vec<u8> {
    let falco_id = "SPDXRef-Package-falco";
    let mut packages = vec![json!({
        "SPDXID": falco_id,
        "name": "falco",
        "versionInfo": input.falco_version,
        "downloadLocation": "https://github.com/falcosecurity/falco",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "Apache-2.0",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "APPLICATION",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": format!("pkg:generic/falco@{}", purl_version(input.falco_version)),
        }],
    })];
    let describes = |id: &str| {
        json!({
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": id,
        })
    };
    let mut relationships = vec![describes(falco_id)];
    for p in input.packages {
        let id = spdx_id("Package-deb", &p.name);
        let mut purl = format!(
            "pkg:deb/debian/{}@{}?arch={}",
            p.name,
            purl_version(&p.version),
            p.arch
        );
        if let Some(source) = &p.source {
            purl.push_str(&format!("&upstream={source}"));
        }
        let mut package = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": spdx_license(&p.licenses),
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }],
        });
        if !p.licenses.is_empty() {
            package["licenseComments"] =
                json!(format!("Debian copyright file: {}", p.licenses.join(", ")));
        }
        packages.push(package);
        relationships.push(describes(&id));
    }
    let mut files = Vec::new();
    for f in input.payload {
        let id = spdx_id("File", &f.path);
        files.push(json!({
            "SPDXID": id,
            "fileName": format!(".{}", f.path),
            "checksums": [
                { "algorithm": "SHA1", "checksumValue": f.sha1 },
                { "algorithm": "SHA256", "checksumValue": f.sha256 },
            ],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        relationships.push(json!({
            "spdxElementId": falco_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let name = format!(
        "{}-{}-{}",
        input.variant, input.falco_version, input.deb_arch
    );
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": "",
        "creationInfo": {
            "created": crate::spec::rfc3339(input.created),
            "creators": [format!("Tool: falco-artifacts-images-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "files": files,
        "relationships": relationships,
    });
    // A namespace unique to this content, as SPDX asks, yet reproducible.
    let content = serde_json::to_vec(&doc).unwrap_or_default();
    let hash = falco_artifacts_core::Sha256Digest::of_bytes(&content).to_hex();
    doc["documentNamespace"] = Value::String(format!("https://falco.org/spdx/{name}-{hash}"));
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_licence_names_become_an_spdx_expression_or_noassertion() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            spdx_license(&names(&["GPL-2+", "Expat", "public-domain"])),
            "GPL-2.0-or-later AND MIT"
        );
        assert_eq!(spdx_license(&names(&["public-domain"])), "NOASSERTION");
        assert_eq!(
            spdx_id("File", "/usr/bin/falco"),
            "SPDXRef-File--usr-bin-falco"
        );
        assert_eq!(
            purl_version("1:1.2.13.dfsg-1+deb12u1"),
            "1%3A1.2.13.dfsg-1%2Bdeb12u1"
        );
    }
}
