//! Real `apt-get` confined to a temporary root: its own sources, lists, cache and dpkg status,
//! trusting only the key it is given (`signed-by=`), never reading the host's configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::{require_tool, TestkitError};

/// A sandboxed `apt-get` for one repository.
///
/// ```no_run
/// # fn key() -> String { String::new() }
/// use falco_artifacts_testkit::AptSandbox;
///
/// let apt = AptSandbox::new("http://127.0.0.1:8000/packages/deb", "stable", &key())?;
/// apt.update()?;
/// let deb: Vec<u8> = apt.download("falco", "0.45.0")?;
/// # Ok::<(), falco_artifacts_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct AptSandbox {
    dir: TempDir,
    apt_get: PathBuf,
}

fn create(path: &Path) -> Result<(), TestkitError> {
    std::fs::create_dir_all(path)
        .map_err(|e| TestkitError::io(format!("create {}", path.display()), e))
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), TestkitError> {
    std::fs::write(path, bytes)
        .map_err(|e| TestkitError::io(format!("write {}", path.display()), e))
}

impl AptSandbox {
    /// A sandbox whose only source is `deb [signed-by=<key>] <repo_url> <suite> main`.
    pub fn new(
        repo_url: &str,
        suite: &str,
        public_key_armored: &str,
    ) -> Result<Self, TestkitError> {
        let apt_get = require_tool("apt-get", "Debian package apt")?;
        require_tool("gpgv", "Debian package gpgv")?;
        let dir =
            tempfile::tempdir().map_err(|e| TestkitError::io("create a temporary directory", e))?;
        let root = dir.path();
        for sub in [
            "etc/apt/sources.list.d",
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/trusted.gpg.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
            "download",
        ] {
            create(&root.join(sub))?;
        }
        write(&root.join("var/lib/dpkg/status"), b"")?;
        // Read first (APT_CONFIG), so apt takes its configuration directories from the
        // sandbox and never reads the host's apt.conf.d (whose hooks would run on the host).
        write(
            &root.join("etc/apt/apt.conf"),
            format!(
                "Dir \"{r}/\";\nDir::Etc \"{r}/etc/apt/\";\nDir::Etc::Parts \"{r}/etc/apt/apt.conf.d/\";\n",
                r = root.display()
            ),
        )?;
        let key = root.join("repository-key.asc");
        write(&key, public_key_armored)?;
        write(
            &root.join("etc/apt/sources.list"),
            format!(
                "deb [signed-by={}] {repo_url} {suite} main\n",
                key.display()
            ),
        )?;
        let sandbox = AptSandbox { dir, apt_get };
        sandbox.check_confined()?;
        Ok(sandbox)
    }

    /// The host's apt configuration (its hooks, keys, sources) must not reach the sandbox.
    fn check_confined(&self) -> Result<(), TestkitError> {
        let root = self.dir.path();
        let apt_config = require_tool("apt-config", "Debian package apt")?;
        let out = Command::new(apt_config)
            .env("APT_CONFIG", root.join("etc/apt/apt.conf"))
            .arg("dump")
            .output()
            .map_err(|e| TestkitError::io("run apt-config dump", e))?;
        // apt-config prints keys in its own case (`Dir::Etc::parts`).
        let dump = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        let parts = format!("dir::etc::parts \"{}/etc/apt/apt.conf.d/\"", root.display())
            .to_ascii_lowercase();
        if !out.status.success() || !dump.contains(&parts) || dump.contains("post-invoke::") {
            return Err(TestkitError::Check {
                what: "apt sandbox confinement".into(),
                detail: format!("apt reads the host's configuration:\n{dump}"),
            });
        }
        Ok(())
    }

    fn run(&self, args: &[&str]) -> Result<Output, TestkitError> {
        let root = self.dir.path();
        Command::new(&self.apt_get)
            .env("APT_CONFIG", root.join("etc/apt/apt.conf"))
            .arg("-o")
            .arg(format!("Dir={}", root.display()))
            .arg("-o")
            .arg(format!(
                "Dir::State::status={}/var/lib/dpkg/status",
                root.display()
            ))
            .args([
                "-o",
                "Dir::Etc::main=apt.conf",
                "-o",
                "APT::Architecture=amd64",
                "-o",
                "APT::Architectures::=amd64",
                "-o",
                "Debug::NoLocking=true",
                "-o",
                "APT::Sandbox::User=root",
                "-o",
                "Acquire::Languages=none",
                "-o",
                "Acquire::Retries=0",
                "-o",
                "APT::Update::Error-Mode=any",
            ])
            .args(args)
            .current_dir(root.join("download"))
            .output()
            .map_err(|e| TestkitError::io(format!("run apt-get {}", args.join(" ")), e))
    }

    fn failed(what: String, out: &Output) -> TestkitError {
        TestkitError::Check {
            what,
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// `apt-get update` from empty lists; any error or warning (a hash mismatch, a bad or
    /// missing signature) is an error.
    pub fn update(&self) -> Result<(), TestkitError> {
        // Publishes a moment apart give files the same one-second mtime, and an HTTP server
        // answers apt's If-Modified-Since with 304 for a file apt holds an older copy of:
        // start each update from empty lists, so apt reads (and checks) the live state.
        let lists = self.dir.path().join("var/lib/apt/lists");
        let entries = std::fs::read_dir(&lists)
            .map_err(|e| TestkitError::io(format!("list {}", lists.display()), e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                std::fs::remove_file(&path)
                    .map_err(|e| TestkitError::io(format!("remove {}", path.display()), e))?;
            }
        }
        let out = self.run(&["update"])?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || text.contains("W:") || text.contains("E:") {
            return Err(Self::failed("apt-get update".into(), &out));
        }
        Ok(())
    }

    /// `apt-get download <package>=<version>` (apt checks the hash); the package's bytes.
    pub fn download(&self, package: &str, version: &str) -> Result<Vec<u8>, TestkitError> {
        let mut bytes = self.download_all(&[(package, version)])?;
        Ok(bytes.pop().unwrap_or_default())
    }

    /// Every `(package, version)` the lists of the last [`AptSandbox::update`] name, in the
    /// order of the lists: what apt would offer to download.
    pub fn listed(&self) -> Result<Vec<(String, String)>, TestkitError> {
        let lists = self.dir.path().join("var/lib/apt/lists");
        let entries = std::fs::read_dir(&lists)
            .map_err(|e| TestkitError::io(format!("list {}", lists.display()), e))?;
        let mut out = Vec::new();
        for path in entries.flatten().map(|e| e.path()) {
            if !path.to_string_lossy().ends_with("_Packages") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| TestkitError::io(format!("read {}", path.display()), e))?;
            for stanza in text.split("\n\n") {
                let field = |name: &str| {
                    stanza
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim().to_owned())
                };
                if let (Some(package), Some(version)) = (field("Package:"), field("Version:")) {
                    out.push((package, version));
                }
            }
        }
        Ok(out)
    }

    /// `apt-get download` of every `(package, version)` in one run (apt checks each hash
    /// against the lists); the packages' bytes, in the order asked.
    pub fn download_all(&self, packages: &[(&str, &str)]) -> Result<Vec<Vec<u8>>, TestkitError> {
        let args: Vec<String> = std::iter::once("download".to_owned())
            .chain(packages.iter().map(|(p, v)| format!("{p}={v}")))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&args)?;
        if !out.status.success() {
            return Err(Self::failed(format!("apt-get {}", args.join(" ")), &out));
        }
        let mut all = Vec::with_capacity(packages.len());
        for (package, version) in packages {
            let file = self.dir.path().join("download").join(format!(
                "{package}_{}_amd64.deb",
                version.replace(':', "%3a")
            ));
            let bytes = std::fs::read(&file)
                .map_err(|e| TestkitError::io(format!("read {}", file.display()), e))?;
            std::fs::remove_file(&file)
                .map_err(|e| TestkitError::io(format!("remove {}", file.display()), e))?;
            all.push(bytes);
        }
        Ok(all)
    }
}
