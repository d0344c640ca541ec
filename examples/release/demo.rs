//! `release demo`: the whole pipeline on an embedded default, for a newcomer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use falco_artifacts::core::package::SourceDate;
use falco_artifacts::core::{
    version_from_git, Arch, Channel, ChildEnv, KeyAlgorithm, PgpSigner, Release, ReleaseEvent,
    ReleasePolicy, Signer,
};
use falco_artifacts::release::{
    load_specs, package_release, plan_release, DriversJob, Gate, Pipeline,
};

use crate::{print_drivers, print_plan, runtime, sample_dir, sample_manifest, source_date};

fn git(repo: &Path, args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=demo", "-c", "user.email=demo@example.com"])
        .args(args)
        .status()?;
    if !status.success() {
        return Err(format!("git {} failed", args.join(" ")).into());
    }
    Ok(())
}

/// A throwaway history like Falco's: 0.44.0 tagged on its release branch, master moved on.
fn demo_history(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
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
        git(
            dir,
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                &format!("feature {i}"),
            ],
        )?;
    }
    Ok(())
}

/// Packs the release for every arch (DEB, RPM, tarball), publishes them into the APT, YUM and
/// bin repositories of the release's channel and verifies them, through the same library calls
/// as `run`.
async fn package_and_publish(
    release: &Release,
    out: &Path,
    pipeline: &Pipeline,
    date: SourceDate,
    signer: &Arc<dyn Signer>,
) -> Result<(), Box<dyn std::error::Error>> {
    let build = out.join("build").join(release.channel.name().as_ref());
    let specs = load_specs(release, &sample_manifest(), &Arch::ALL, date)?;
    let packaged = package_release(&specs, signer.as_ref(), &build)?;
    // The demo has no tests of its own; it still goes through a gate like every release, one
    // whose command always passes.
    let gate = Gate::command(&["true".into()])?.check(
        &build.join("gate.log"),
        None,
        &ChildEnv::default(),
    )?;
    let report = pipeline.publish(release, &packaged, &gate).await?;
    for line in report.to_text().lines().skip(1) {
        println!("  {}", line.trim_start());
    }
    Ok(())
}

pub(crate) fn run_demo(out: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let out = out.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/falco-artifacts-demo")
    });
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let repo = out.join("repo");
    let keys = out.join("keys");
    std::fs::create_dir_all(&repo)?;
    std::fs::create_dir_all(&keys)?;

    println!("1. signing key (generated, Ed25519)");
    let pgp = PgpSigner::generate(
        "falco-artifacts demo <demo@example.com>",
        KeyAlgorithm::Ed25519,
    )?;
    std::fs::write(keys.join("signing-key.asc"), pgp.secret_key_armored()?)?;
    let package_signer: Arc<dyn Signer> = Arc::new(
        pgp.clone()
            .with_signature_time(source_date()?.system_time()),
    );
    let signer: Arc<dyn Signer> = Arc::new(pgp);
    let public = keys.join("signing-key.pub.asc");
    std::fs::write(&public, signer.public_key_armored()?)?;
    println!(
        "   fingerprint {}\n   public key  {}",
        signer.fingerprint(),
        public.display()
    );

    println!("2. release events");
    let history = out.join("git");
    // The version of a merge comes from git the way Falco computes it; a machine without git
    // still runs the rest of the demo with the version that history would give.
    let dev_version = match demo_history(&history).and_then(|()| Ok(version_from_git(&history)?)) {
        Ok(version) => version,
        Err(e) => {
            println!("   no git history ({e}): using the development version 0.45.0-3+0000000");
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
    let refused = ReleaseEvent::tag("nightly-build").resolve(&policy);
    if let Err(e) = refused {
        println!("   refused as expected: {e}");
    }

    let date = source_date()?;
    let pipeline = Pipeline::new(&format!("file://{}", repo.display()), Arc::clone(&signer))?;
    let runtime = runtime()?;
    println!(
        "3. plans, packages and publishing (source date {date}) into {}",
        repo.display()
    );
    for event in &events {
        let release = event.resolve(&policy)?;
        let plan = plan_release(&release, &sample_manifest(), date, None)?;
        print_plan(&plan);
        let json = serde_json::to_string_pretty(&plan)?;
        let name = format!("plan-{}.json", plan.channel);
        std::fs::write(repo.join(&name), &json)?;
        std::fs::write(
            repo.join(format!("{name}.asc")),
            signer.sign_detached_armored(&mut json.as_bytes())?,
        )?;
        runtime.block_on(package_and_publish(
            &release,
            &out,
            &pipeline,
            date,
            &package_signer,
        ))?;
    }
    println!("4. drivers: the sample driverkit configs against the driver repository");
    let drivers = runtime.block_on(pipeline.drivers(&DriversJob {
        configs: sample_dir().join("driverkit/config"),
        releases: Some(sample_dir().join("falco-releases.txt")),
        built: None,
        since: None,
        build: None,
    }))?;
    print_drivers(&drivers);
    println!(
        "   nothing is compiled here: building needs kernel headers and a driver source; \
         `release drivers --built <dir>` publishes what driverkit or the local builder made"
    );
    println!(
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
    );
    Ok(())
}
