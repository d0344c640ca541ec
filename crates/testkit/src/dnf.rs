//! Real `dnf` confined to a temporary root: its own configuration, no host repositories, cache
//! and rpm database inside the root, trusting only the key it is given for packages and for
//! `repomd.xml` (`gpgcheck=1`, `repo_gpgcheck=1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::{require_tool, TestkitError};

/// A sandboxed `dnf --installroot` for one repository.
///
/// ```no_run
/// # fn key() -> String { String::new() }
/// use falco_artifacts_testkit::DnfSandbox;
///
/// let dnf = DnfSandbox::new("http://127.0.0.1:8000/packages/rpm", &key())?;
/// dnf.must(&["install", "falco"])?;
/// assert!(dnf.installed("falco")?.is_some());
/// # Ok::<(), falco_artifacts_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct DnfSandbox {
    dir: TempDir,
    dnf: PathBuf,
    rpm: PathBuf,
    repo_url: String,
}

fn io(action: String) -> impl FnOnce(std::io::Error) -> TestkitError {
    move |e| TestkitError::io(action, e)
}

impl DnfSandbox {
    /// A sandbox whose only repository is `repo_url`, signed by `public_key_armored`.
    pub fn new(repo_url: &str, public_key_armored: &str) -> Result<Self, TestkitError> {
        let dnf = require_tool("dnf", "Debian package dnf")?;
        let rpm = require_tool("rpm", "Debian package rpm")?;
        let dir = tempfile::tempdir().map_err(io("create a temporary directory".into()))?;
        let root = dir.path();
        for sub in ["root", "cache", "repos.d", "log"] {
            let path = root.join(sub);
            std::fs::create_dir_all(&path).map_err(io(format!("create {}", path.display())))?;
        }
        let write = |name: &str, text: &str| {
            let path = root.join(name);
            std::fs::write(&path, text).map_err(io(format!("write {}", path.display())))
        };
        write(
            "dnf.conf",
            "[main]\ngpgcheck=1\nrepo_gpgcheck=1\ninstall_weak_deps=0\nkeepcache=0\n",
        )?;
        write("repository-key.asc", public_key_armored)?;
        Ok(DnfSandbox {
            dir,
            dnf,
            rpm,
            repo_url: repo_url.to_owned(),
        })
    }

    /// The install root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Runs `dnf <args>` against the repository only.
    pub fn run(&self, args: &[&str]) -> Result<Output, TestkitError> {
        self.run_in(&self.root(), args)
    }

    fn run_in(&self, root: &Path, args: &[&str]) -> Result<Output, TestkitError> {
        let d = self.dir.path();
        Command::new(&self.dnf)
            .arg("-y")
            .arg(format!("--installroot={}", root.display()))
            .arg(format!("--config={}", d.join("dnf.conf").display()))
            .arg(format!("--setopt=reposdir={}", d.join("repos.d").display()))
            .arg(format!("--setopt=cachedir={}", d.join("cache").display()))
            .arg(format!("--setopt=logdir={}", d.join("log").display()))
            .arg(format!("--repofrompath=falco,{}", self.repo_url))
            .args(["--repo=falco", "--releasever=1", "--nodocs"])
            .args([
                "--setopt=falco.gpgcheck=1",
                "--setopt=falco.repo_gpgcheck=1",
            ])
            .arg(format!(
                "--setopt=falco.gpgkey=file://{}",
                d.join("repository-key.asc").display()
            ))
            .args(["--setopt=install_weak_deps=0", "--setopt=tsflags=noscripts"])
            // Metadata is fetched afresh each time: tests publish between runs.
            .args(["--refresh", "--setopt=metadata_expire=0"])
            .args(args)
            .output()
            .map_err(io(format!("run dnf {}", args.join(" "))))
    }

    /// Runs `dnf <args>`; an error with dnf's output unless it succeeds.
    pub fn must(&self, args: &[&str]) -> Result<String, TestkitError> {
        self.must_in(&self.root(), args)
    }

    fn must_in(&self, root: &Path, args: &[&str]) -> Result<String, TestkitError> {
        let out = self.run_in(root, args)?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(TestkitError::Check {
                what: format!("dnf {}", args.join(" ")),
                detail: text,
            });
        }
        Ok(text)
    }

    /// `name-version-release` of the installed `package`, if any.
    pub fn installed(&self, package: &str) -> Result<Option<String>, TestkitError> {
        let out = Command::new(&self.rpm)
            .arg(format!("--root={}", self.root().display()))
            .args(["-q", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}", package])
            .output()
            .map_err(io(format!("run rpm -q {package}")))?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// Downloads `<package>-<version>` as dnf does (checking its digest and signature), into a
    /// fresh root so any version can be fetched; the package's bytes.
    pub fn download(&self, package: &str, version: &str) -> Result<Vec<u8>, TestkitError> {
        let dest = self.dir.path().join("download");
        let root = self.dir.path().join("download-root");
        for dir in [&dest, &root] {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
        }
        self.must_in(
            &root,
            &[
                "install",
                "--downloadonly",
                &format!("--downloaddir={}", dest.display()),
                &format!("{package}-{version}"),
            ],
        )?;
        let file = std::fs::read_dir(&dest)
            .map_err(io(format!("list {}", dest.display())))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "rpm"))
            .ok_or_else(|| TestkitError::Check {
                what: format!("dnf download {package}-{version}"),
                detail: "dnf downloaded nothing".into(),
            })?;
        std::fs::read(&file).map_err(io(format!("read {}", file.display())))
    }
}
