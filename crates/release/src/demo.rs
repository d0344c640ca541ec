//! `release demo`: the whole pipeline on an embedded default, for a newcomer: a generated
//! key, a throwaway git history like Falco's, a development then a stable release packed,
//! published and verified into a `file://` repository, and the drivers step on sample configs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{
    version_from_git, Arch, Channel, ChildEnv, KeyAlgorithm, PgpSigner, Release, ReleaseEvent,
    ReleasePolicy, SignError, Signer, VersionError,
};

use crate::{load_specs, package_release, plan_release, DriversJob, Gate, Pipeline, PipelineError};

/// The demo's own source date when `SOURCE_DATE_EPOCH` is not set, so two runs agree.
const DEMO_SOURCE_DATE: u64 = 1_700_000_000;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A pipeline step failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The demo's key could not be made or used.
    #[error("the demo's signing key")]
    Sign(#[from] SignError),
    /// A file of the demo could not be written.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A plan could not be written as JSON.
    #[error("the plan as JSON")]
    Json(#[from] serde_json::Error),
    /// The fallback development version does not parse (a bug).
    #[error("the fallback development version")]
    Version(#[from] VersionError),
}

/// Why the demo's git history could not be made (the demo then goes on without it).
#[derive(Debug, thiserror::Error)]
enum GitError {
    #[error("git {args} could not start")]
    Start {
        args: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git {args} failed ({status})")]
    Failed {
        args: String,
        status: std::process::ExitStatus,
    },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Version(#[from] falco_artifacts_core::GitVersionError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), DemoError> {
    std::fs::write(path, bytes).map_err(io(path))
}

fn git(repo: &Path, args: &[&str]) -> Result<(), GitError> {
    let shown = args.join(" ");
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=demo", "-c", "user.email=demo@example.com"])
        .args(args)
        .status()
        .map_err(|source| GitError::Start {
            args: shown.clone(),
            source,
        })?;
    if !status.success() {
        return Err(GitError::Failed {
            args: shown,
            status,
        });
    }
    Ok(())
}

/// A throwaway history like Falco's: 0.44.0 tagged on its release branch, master moved on.
fn demo_history(dir: &Path) -> Result<(), GitError> {
    std::fs::create_dir_all(dir).map_err(|source| GitError::Io {
        path: dir.to_owned(),
        source,
    })?;
    git(dir, &["init", "-q", "-b", "master"])?;
    git(dir, &["commit", "-q", "--allow-empty", "-m", "start"])?;
    git(dir, &["checkout", "-qb", "release/0.44.x"])?;
    git(
        dir,
        &["commit", "-q", "--allow-empty", "-m", "release 0.44.0"],
    )?;
    git(dir, &["tag", "0.44.0"])?;
    git(dir, &["checkout", "-q", "master"])?;
    for i in 0..3 {
        let message = format!("feature {i}");
        git(dir, &["commit", "-q", "--allow-empty", "-m", &message])?;
    }
    Ok(())
}

/// Packs the release for every arch (DEB, RPM, tarball), publishes them into the APT, YUM and
/// bin repositories of the release's channel and verifies them, through the same library calls
/// as `run`.
async fn package_and_publish(
    release: &Release,
    manifest: &Path,
    build: &Path,
    pipeline: &Pipeline,
    date: SourceDate,
    signer: &dyn Signer,
    say: &mut impl FnMut(&str),
) -> Result<(), DemoError> {
    let build = build.join(release.channel.name().as_ref());
    let specs = load_specs(release, manifest, &Arch::ALL, date)?;
    let packaged = package_release(&specs, signer, &build)?;
    // The demo has no tests of its own; it still goes through a gate like every release, one
    // whose command always passes.
    let gate = Gate::command(&["true".into()])?.check(
        &build.join("gate.log"),
        None,
        &ChildEnv::default(),
    )?;
    let report = pipeline.publish(release, &packaged, &gate).await?;
    for line in report.to_text().lines().skip(1) {
        say(&format!("  {}", line.trim_start()));
    }
    Ok(())
}

/// Runs the demo on the sample in `sample` (`falco.yaml`, `driverkit/config`,
/// `falco-releases.txt`) into `out` (emptied first), telling `say` each line to show.
pub async fn run_demo(
    sample: &Path,
    out: &Path,
    mut say: impl FnMut(&str),
) -> Result<(), DemoError> {
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(io(out))?;
    }
    let repo = out.join("repo");
    let keys = out.join("keys");
    std::fs::create_dir_all(&repo).map_err(io(&repo))?;
    std::fs::create_dir_all(&keys).map_err(io(&keys))?;
    let manifest = sample.join("falco.yaml");
    let date = match SourceDate::from_env() {
        Err(falco_artifacts_core::package::SourceDateError::Missing) => {
            SourceDate::from_secs(DEMO_SOURCE_DATE)
        }
        other => other.map_err(PipelineError::from)?,
    };

    say("1. signing key (generated, Ed25519)");
    let pgp = PgpSigner::generate(
        "falco-artifacts demo <demo@example.com>",
        KeyAlgorithm::Ed25519,
    )?;
    write(&keys.join("signing-key.asc"), pgp.secret_key_armored()?)?;
    // Packages are signed at the source date, indexes when they are made.
    let package_signer = pgp.clone().with_signature_time(date.system_time());
    let signer: Arc<dyn Signer> = Arc::new(pgp);
    let public = keys.join("signing-key.pub.asc");
    write(&public, signer.public_key_armored()?)?;
    say(&format!(
        "   fingerprint {}\n   public key  {}",
        signer.fingerprint(),
        public.display()
    ));

    say("2. release events");
    let history = out.join("git");
    // The version of a merge comes from git the way Falco computes it; a machine without git
    // still runs the rest of the demo with the version that history would give.
    let dev_version = match demo_history(&history)
        .and_then(|()| version_from_git(&history).map_err(GitError::from))
    {
        Ok(version) => version,
        Err(e) => {
            say(&format!(
                "   no git history ({e}): using the development version 0.45.0-3+0000000"
            ));
            "0.45.0-3+0000000".parse()?
        }
    };
    let policy = ReleasePolicy::default();
    let events = [
        ReleaseEvent::Merge {
            branch: "master".into(),
            version: dev_version,
        },
        ReleaseEvent::tag("0.45.0"),
    ];
    if let Err(e) = ReleaseEvent::tag("nightly-build").resolve(&policy) {
        say(&format!("   refused as expected: {e}"));
    }

    let pipeline = Pipeline::new(&format!("file://{}", repo.display()), Arc::clone(&signer))?;
    say(&format!(
        "3. plans, packages and publishing (source date {date}) into {}",
        repo.display()
    ));
    for event in &events {
        let release = event.resolve(&policy).map_err(PipelineError::from)?;
        let plan = plan_release(&release, &manifest, &Arch::ALL, date, None)?;
        say(plan.to_text().trim_end());
        let json = serde_json::to_string_pretty(&plan)?;
        let name = format!("plan-{}.json", plan.channel);
        write(&repo.join(&name), &json)?;
        write(
            &repo.join(format!("{name}.asc")),
            signer.sign_detached_armored(&mut json.as_bytes())?,
        )?;
        let build = out.join("build");
        package_and_publish(
            &release,
            &manifest,
            &build,
            &pipeline,
            date,
            &package_signer,
            &mut say,
        )
        .await?;
    }
    say("4. drivers: the sample driverkit configs against the driver repository");
    let drivers = pipeline
        .drivers(&DriversJob {
            configs: sample.join("driverkit/config"),
            releases: Some(sample.join("falco-releases.txt")),
            built: None,
            since: None,
            build: None,
        })
        .await?;
    say(drivers.to_text().trim_end());
    say(
        "   nothing is compiled here: building needs kernel headers and a driver source; \
         `release drivers --built <dir>` publishes what driverkit or the local builder made",
    );
    say(&format!(
        "\nThe repository is file://{repo}\n\
         APT:      deb [signed-by={key}] file://{repo}/packages/deb stable main\n\
         APT dev:  deb [signed-by={key}] file://{repo}/packages/deb-dev stable main\n\
         YUM:      /etc/yum.repos.d/falcosecurity.repo\n\
         \n\
         [falcosecurity]\n\
         name=Falco\n\
         baseurl=file://{repo}/packages/rpm\n\
         enabled=1\n\
         gpgcheck=1\n\
         repo_gpgcheck=1\n\
         gpgkey=file://{key}\n\
         \n\
         YUM dev:  baseurl=file://{repo}/packages/rpm-dev\n\
         Tarballs: file://{repo}/packages/bin/index.html\n\
         Drivers:  file://{repo}/driver/site/index.html\n\
         Verify:   gpg --import {key} && gpg --verify {repo}/plan-stable.json.asc",
        repo = repo.display(),
        key = public.display(),
    ));
    Ok(())
}
