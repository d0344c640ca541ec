//! The release pipeline as a thin binary over the falco-artifacts libraries.
//!
//! `cargo run --example release -- demo` runs everything that exists so far on an embedded
//! default; `plan` prints what a release event would produce. Packaging, publishing, drivers
//! and images join as their crates land.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use falco_artifacts::core::package::{load_manifest, Format, ManifestOptions, SourceDate};
use falco_artifacts::core::{
    version_from_git, Arch, Channel, KeyAlgorithm, PgpSigner, Publisher, Release, ReleaseEvent,
    ReleasePolicy, RepoKind, Signer,
};
use std::sync::Arc;

use falco_artifacts::core::{Artifact, ArtifactKind, LocalArtifact};
use falco_artifacts::deb::DebBuilder;
use falco_artifacts::publish::{AptRepository, BinRepository, RepoStore, VerifyOptions};
use falco_artifacts::rpm::RpmBuilder;
use falco_artifacts::tar::TarballBuilder;
use serde::Serialize;

#[derive(Parser)]
#[command(about = "Build and publish Falco's release artifacts")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print what a release event would build and where it would go.
    Plan {
        /// A tag event (`0.39.0`, `v0.39.0`, `0.45.0-rc1`).
        #[arg(long, conflicts_with = "merge")]
        tag: Option<String>,
        /// A merge event: the version is computed from the git repository at this path.
        #[arg(long, value_name = "REPO")]
        merge: Option<PathBuf>,
        /// The branch the merge went into.
        #[arg(long, default_value = "master")]
        branch: String,
        /// The package manifest (default: the embedded sample).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run everything that exists on an embedded default: a sample payload, a generated key,
    /// a throwaway git history, and a `file://` repository under `target/`.
    Demo {
        /// Where to put the key, the history and the repository.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// One artifact a release produces.
#[derive(Serialize)]
struct Planned {
    kind: &'static str,
    arch: Arch,
    file_name: String,
    /// Path inside the repository root, in download.falco.org's layout.
    path: String,
}

#[derive(Serialize)]
struct Plan {
    version: String,
    channel: String,
    artifacts: Vec<Planned>,
    image_tags: Vec<String>,
}

fn sample_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample/falco.yaml")
}

fn plan(
    release: &Release,
    manifest: &Path,
    source_date: SourceDate,
) -> Result<Plan, Box<dyn std::error::Error>> {
    let mut artifacts = Vec::new();
    for arch in Arch::ALL {
        let options = ManifestOptions {
            version: Some(release.version.clone()),
            arch: Some(arch),
            source_date: Some(source_date),
        };
        let spec = load_manifest(manifest, &options)?;
        let channel = &release.channel;
        for (kind, format, repo) in [
            ("deb", Format::Deb, RepoKind::Deb),
            ("rpm", Format::Rpm, RepoKind::Rpm),
            ("tarball", Format::Tar, RepoKind::Bin),
        ] {
            let file_name = spec.file_name(format);
            let dir = match repo {
                RepoKind::Deb => format!("packages/{}/stable", channel.repository(repo)),
                RepoKind::Rpm => format!("packages/{}", channel.repository(repo)),
                RepoKind::Bin => format!("packages/{}/{arch}", channel.repository(repo)),
            };
            artifacts.push(Planned {
                kind,
                arch,
                path: format!("{dir}/{file_name}"),
                file_name,
            });
        }
    }
    let base = if release.version.is_stable() {
        release.version.to_string()
    } else {
        "master".to_owned()
    };
    let mut image_tags: Vec<String> = Arch::ALL.iter().map(|a| format!("{a}-{base}")).collect();
    image_tags.push(base);
    Ok(Plan {
        version: release.version.to_string(),
        channel: release.channel.name().to_string(),
        artifacts,
        image_tags,
    })
}

fn print_plan(plan: &Plan) {
    println!("release {} -> channel {}", plan.version, plan.channel);
    for a in &plan.artifacts {
        println!("  {:<8} {:<8} {}", a.kind, a.arch.to_string(), a.path);
    }
    println!("  images   {}", plan.image_tags.join(", "));
}

fn source_date() -> Result<SourceDate, Box<dyn std::error::Error>> {
    match SourceDate::from_env() {
        Ok(date) => Ok(date),
        Err(falco_artifacts::core::package::SourceDateError::Missing) => {
            // The demo's own fixed date, so two demo runs give the same plan.
            Ok(SourceDate::from_secs(1_700_000_000))
        }
        Err(e) => Err(e.into()),
    }
}

fn run_plan(
    tag: Option<String>,
    merge: Option<PathBuf>,
    branch: String,
    manifest: Option<PathBuf>,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let event = match (tag, merge) {
        (Some(name), _) => ReleaseEvent::Tag { name },
        (None, Some(repo)) => ReleaseEvent::Merge {
            branch,
            version: version_from_git(&repo)?,
        },
        (None, None) => return Err("give --tag <TAG> or --merge <REPO>".into()),
    };
    let release = event.resolve(&ReleasePolicy::default())?;
    let plan = plan(
        &release,
        &manifest.unwrap_or_else(sample_manifest),
        source_date()?,
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print_plan(&plan);
    }
    Ok(())
}

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

/// Packs the release for every arch (DEB, RPM, tarball), publishes the DEBs into the APT
/// repository and the tarballs into the bin repository of the release's channel, and
/// verifies both. RPMs are built and signed into `build/`; the YUM repository comes with its
/// own issue.
async fn package_and_publish(
    release: &Release,
    out: &Path,
    store: &RepoStore,
    date: SourceDate,
    signer: &Arc<dyn Signer>,
) -> Result<(), Box<dyn std::error::Error>> {
    let build = out.join("build").join(release.channel.name().as_ref());
    std::fs::create_dir_all(&build)?;
    let mut debs: Vec<Arc<dyn Artifact>> = Vec::new();
    let mut tarballs: Vec<Arc<dyn Artifact>> = Vec::new();
    for arch in Arch::ALL {
        let options = ManifestOptions {
            version: Some(release.version.clone()),
            arch: Some(arch),
            source_date: Some(date),
        };
        let spec = load_manifest(&sample_manifest(), &options)?;

        let deb = DebBuilder::new(&spec).build()?.write_to_dir(&build)?;
        let deb_path = deb.path.ok_or("pkg-deb wrote no file")?;
        let deb_name = spec.file_name(Format::Deb);
        let asc = signer.sign_detached_armored(&mut std::fs::File::open(&deb_path)?)?;
        debs.push(Arc::new(
            LocalArtifact::from_path(ArtifactKind::Deb, &deb_path)?
                .with_version(spec.version.clone())
                .with_arch(arch),
        ));
        debs.push(Arc::new(
            LocalArtifact::from_bytes(
                ArtifactKind::Signature,
                format!("{deb_name}.asc"),
                asc.into_bytes(),
            )?
            .with_version(spec.version.clone())
            .with_arch(arch)
            .with_repository(RepoKind::Deb),
        ));

        let tarball = TarballBuilder::new(&spec)
            .with_signer(signer.as_ref())
            .build(&build)?;
        tarballs.extend(tarball.artifacts(&spec)?);

        let rpm = RpmBuilder::new(&spec)
            .with_signer(signer.as_ref())
            .build()?
            .write_to_dir(&build)?;
        println!(
            "  built    {}",
            rpm.strip_prefix(out).unwrap_or(&rpm).display()
        );
    }
    let apt = AptRepository::builder(store.clone())
        .with_signer(Arc::clone(signer))
        .build()?;
    let bin = BinRepository::builder(store.clone()).build()?;
    let channel = &release.channel;
    for (kind, report) in [
        ("deb", apt.publish(channel, &debs).await?),
        ("tarball", bin.publish(channel, &tarballs).await?),
    ] {
        println!(
            "  {kind:<8} {} uploaded, {} unchanged, {} pruned",
            report.uploaded.len(),
            report.unchanged.len(),
            report.pruned.len()
        );
    }
    let checks = VerifyOptions::default();
    let (apt_check, bin_check) = (
        apt.verify(channel, &checks).await?,
        bin.verify(channel, &checks).await?,
    );
    if !apt_check.is_clean() || !bin_check.is_clean() {
        return Err(format!("verification found problems: {apt_check:?} {bin_check:?}").into());
    }
    println!(
        "  verified packages/{} and packages/{}",
        channel.repository(RepoKind::Deb),
        channel.repository(RepoKind::Bin)
    );
    Ok(())
}

fn run_demo(out: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
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
    demo_history(&history)?;
    let dev_version = version_from_git(&history)?;
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
    let store = RepoStore::from_url(&format!("file://{}", repo.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "3. plans, packages and publishing (source date {date}) into {}",
        repo.display()
    );
    for event in &events {
        let release = event.resolve(&policy)?;
        let plan = plan(&release, &sample_manifest(), date)?;
        print_plan(&plan);
        let json = serde_json::to_string_pretty(&plan)?;
        let name = format!("plan-{}.json", plan.channel);
        std::fs::write(repo.join(&name), &json)?;
        std::fs::write(
            repo.join(format!("{name}.asc")),
            signer.sign_detached_armored(&mut json.as_bytes())?,
        )?;
        runtime.block_on(package_and_publish(&release, &out, &store, date, &signer))?;
    }
    println!(
        "\nThe repository is file://{repo}\n\
         APT:      deb [signed-by={key}] file://{repo}/packages/deb stable main\n\
         APT dev:  deb [signed-by={key}] file://{repo}/packages/deb-dev stable main\n\
         Tarballs: file://{repo}/packages/bin/index.html\n\
         Verify:   gpg --import {key} && gpg --verify {repo}/plan-stable.json.asc\n\
         RPMs are built and signed under {build}; the YUM repository joins this demo with its issue.",
        repo = repo.display(),
        key = public.display(),
        build = out.join("build").display(),
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Plan {
            tag,
            merge,
            branch,
            manifest,
            json,
        } => run_plan(tag, merge, branch, manifest, json),
        Cmd::Demo { out } => run_demo(out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
