//! The few files a root filesystem needs besides the packages' own: users and groups, the
//! OS description, and dpkg's database so that scanners (and `dpkg -l`) see what is installed.

use std::fmt::Write as _;

use falco_artifacts_pkg_deb::Control;

use crate::error::ImageError;
use crate::layer::{LayerTree, Node};

const ORIGIN: &str = "the root filesystem skeleton";

/// `root` and `nobody`, as Debian's base-passwd has them; no login shell is assumed to exist.
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
    nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// The default `/etc/os-release`: what the layer is made of, in the keys tools read.
pub(crate) fn default_os_release(version_id: Option<&str>) -> String {
    let mut text = String::from(
        "PRETTY_NAME=\"Debian GNU/Linux (minimal runtime by falco-artifacts)\"\n\
         NAME=\"Debian GNU/Linux\"\nID=debian\n",
    );
    if let Some(version) = version_id {
        let _ = writeln!(text, "VERSION_ID=\"{version}\"");
    }
    text.push_str("HOME_URL=\"https://www.debian.org/\"\n");
    text
}

/// One package as dpkg's status file records it.
pub(crate) struct StatusEntry<'a> {
    pub(crate) control: &'a Control,
    /// Every path the package installed, `/`-rooted, in archive order.
    pub(crate) files: Vec<String>,
    /// Its `md5sums` control file, if any.
    pub(crate) md5sums: Option<&'a [u8]>,
}

/// The dpkg status text: one stanza per package (sorted by name), `Status` after `Package`.
pub(crate) fn dpkg_status(entries: &[StatusEntry<'_>]) -> String {
    let mut text = String::new();
    for entry in entries {
        let control = entry.control;
        let _ = writeln!(text, "Package: {}", control.package());
        text.push_str("Status: install ok installed\n");
        for (name, value) in control.fields() {
            if !name.eq_ignore_ascii_case("package") {
                let _ = writeln!(text, "{name}: {value}");
            }
        }
        text.push('\n');
    }
    text
}

/// Adds `/etc/passwd`, `/etc/group`, `/etc/os-release` (unless a package shipped one or
/// `os_release` overrides it), `/tmp`, `/root` and dpkg's database.
pub(crate) fn add(
    tree: &mut LayerTree,
    entries: &[StatusEntry<'_>],
    os_release: &str,
    replace_os_release: bool,
) -> Result<String, ImageError> {
    let bytes = |mode, data: &[u8]| Node::Bytes {
        mode,
        data: data.to_vec(),
    };
    tree.set("etc/passwd", bytes(0o644, PASSWD.as_bytes()), ORIGIN)?;
    tree.set("etc/group", bytes(0o644, GROUP.as_bytes()), ORIGIN)?;
    // base-files ships /etc/os-release as a link to ../usr/lib/os-release; keep the
    // distribution's own description when it is there.
    if replace_os_release || !tree.contains("etc/os-release") {
        tree.set(
            "etc/os-release",
            bytes(0o644, os_release.as_bytes()),
            ORIGIN,
        )?;
    }
    tree.set("tmp", Node::Dir { mode: 0o1777 }, ORIGIN)?;
    tree.set("root", Node::Dir { mode: 0o700 }, ORIGIN)?;
    let status = dpkg_status(entries);
    tree.set(
        "var/lib/dpkg/status",
        bytes(0o644, status.as_bytes()),
        ORIGIN,
    )?;
    for entry in entries {
        let name = entry.control.package();
        let mut list = String::from("/.\n");
        for file in &entry.files {
            let _ = writeln!(list, "{file}");
        }
        tree.set(
            &format!("var/lib/dpkg/info/{name}.list"),
            bytes(0o644, list.as_bytes()),
            ORIGIN,
        )?;
        if let Some(md5sums) = entry.md5sums {
            tree.set(
                &format!("var/lib/dpkg/info/{name}.md5sums"),
                bytes(0o644, md5sums),
                ORIGIN,
            )?;
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_stanzas_say_installed_and_keep_every_field() {
        let control = Control::parse(
            "Package: zlib1g\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n\
             Description: compression library - runtime\n zlib is a library.\n",
        )
        .unwrap();
        let text = dpkg_status(&[StatusEntry {
            control: &control,
            files: vec![],
            md5sums: None,
        }]);
        assert_eq!(
            text,
            "Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\
             Architecture: amd64\nDescription: compression library - runtime\n zlib is a library.\n\n"
        );
    }
}
