//! A manifest with a directory entry of a few hundred files and a glob entry, generated on
//! disk, and the list of paths with modes every packager must then contain.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let tree = falco_artifacts_testkit::trees::TreeManifest::generate(dir.path(), 300).unwrap();
//! assert_eq!(tree.files.len(), 300 + 3);
//! assert!(tree.manifest.exists());
//! ```

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The generated manifest and what it installs.
#[derive(Debug, Clone)]
pub struct TreeManifest {
    /// The manifest file (`falco.yaml`).
    pub manifest: PathBuf,
    /// Every regular file installed, `(install path, permission bits)`, sorted.
    pub files: Vec<(String, u32)>,
    /// Every directory under the tree entry, `(install path, permission bits)`, sorted.
    pub dirs: Vec<(String, u32)>,
}

const MODES: [u32; 4] = [0o644, 0o755, 0o600, 0o750];

impl TreeManifest {
    /// Writes `count` files under `install/usr/share/falco/tree/` (spread over nested
    /// directories, with varied modes), three plugins matched by `plugins/*.so` next to a
    /// file the glob must skip, and a manifest with `src: install/` → `dst: /` and
    /// `src: plugins/*.so` → `dst: /usr/share/falco/plugins/`.
    pub fn generate(dir: &Path, count: usize) -> io::Result<TreeManifest> {
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        let put = |rel: &str, mode: u32| -> io::Result<()> {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, format!("{rel}\n"))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))
        };
        for i in 0..count {
            let mode = MODES[i % MODES.len()];
            let rel = format!(
                "usr/share/falco/tree/d{:02}/s{}/file-{i:04}.txt",
                i % 17,
                i % 3
            );
            put(&format!("install/{rel}"), mode)?;
            files.push((format!("/{rel}"), mode));
        }
        for d in 0..17.min(count) {
            let top = format!("usr/share/falco/tree/d{d:02}");
            let mode = if d % 2 == 0 { 0o755 } else { 0o750 };
            fs::set_permissions(
                dir.join("install").join(&top),
                fs::Permissions::from_mode(mode),
            )?;
            dirs.push((format!("/{top}"), mode));
            for s in 0..3 {
                if dir.join("install").join(format!("{top}/s{s}")).exists() {
                    dirs.push((format!("/{top}/s{s}"), 0o755));
                }
            }
        }
        for (name, mode) in [("liba.so", 0o755), ("libb.so", 0o700), ("libc.so", 0o644)] {
            put(&format!("plugins/{name}"), mode)?;
            files.push((format!("/usr/share/falco/plugins/{name}"), mode));
        }
        put("plugins/README.md", 0o644)?;
        files.sort();
        dirs.sort();
        let manifest = dir.join("falco.yaml");
        fs::write(
            &manifest,
            "name: falco\nversion: 0.45.0\narch: x86_64\n\
             maintainer: The Falco Authors <cncf-falco-dev@lists.cncf.io>\n\
             description: |\n  Cloud Native Runtime Security\n  A package made of a tree.\n\
             license: Apache-2.0\n\
             contents:\n\
             \x20 - src: install/\n    dst: /\n\
             \x20 - src: plugins/*.so\n    dst: /usr/share/falco/plugins/\n",
        )?;
        Ok(TreeManifest {
            manifest,
            files,
            dirs,
        })
    }
}

impl TreeManifest {
    /// Checks a listing in `ls -l` columns (`dpkg-deb -c`, `tar -tvzf`): every file and
    /// directory of the tree with its mode, nothing the glob had to skip, and as many regular
    /// files as the tree has. `path_of` turns a listed name (the sixth column) into the
    /// tree's path (`None` for names outside it). The error says which path is wrong.
    pub fn check_listing(
        &self,
        listing: &str,
        path_of: impl Fn(&str) -> Option<String>,
    ) -> Result<(), String> {
        let listed: std::collections::HashMap<String, &str> = listing
            .lines()
            .filter_map(|line| {
                let columns: Vec<&str> = line.split_whitespace().collect();
                Some((path_of(columns.get(5)?)?, *columns.first()?))
            })
            .collect();
        let expected = self
            .files
            .iter()
            .map(|(path, mode)| (path, ls_mode(*mode, false)))
            .chain(
                self.dirs
                    .iter()
                    .map(|(path, mode)| (path, ls_mode(*mode, true))),
            );
        for (path, mode) in expected {
            if listed.get(path.as_str()) != Some(&mode.as_str()) {
                return Err(format!(
                    "{path}: expected {mode}, listed {:?}",
                    listed.get(path.as_str())
                ));
            }
        }
        if listing.contains("README.md") {
            return Err("the glob took more than *.so: README.md is listed".into());
        }
        let files = listing.lines().filter(|l| l.starts_with('-')).count();
        if files != self.files.len() {
            return Err(format!(
                "{files} regular files listed, the tree has {}",
                self.files.len()
            ));
        }
        Ok(())
    }
}

/// `ls -l` permission text of a regular file (`-rwxr-x---`) or directory (`drwxr-xr-x`).
pub fn ls_mode(mode: u32, dir: bool) -> String {
    let mut s = String::from(if dir { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}
