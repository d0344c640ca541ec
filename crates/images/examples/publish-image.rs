//! Builds the container image of a release from its tarballs (one per arch, `FROM scratch`)
//! or a Dockerfile, tags it by channel, pushes it to a registry and its mirrors with progress
//! bars, and joins the arches in a multi-arch index on each registry:
//!
//! `cargo run -p falco-artifacts-images --example publish-image -- --tag 0.39.0
//!  --tarball x86_64=falco-0.39.0-x86_64.tar.gz [--tarball aarch64=…] --registry 127.0.0.1:5000
//!  [--mirror HOST:PORT]… [--copy-to HOST:PORT]… [--name falcosecurity/falco]
//!  [--credentials creds.yaml] [--docker-config ~/.docker/config.json] [--revision SHA]`
//!
//! Development builds: `--dev-version 0.45.0-36+1307474` instead of `--tag` (tag `master`).
//! The engine is `DOCKER_HOST` (or `/var/run/docker.sock`); the source date is
//! `SOURCE_DATE_EPOCH`. `--copy-to` copies the index tags registry to registry without the
//! engine once the primary is complete.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use falco_artifacts_core::package::SourceDate;
use falco_artifacts_core::{Arch, ChannelConfig, Release, ReleaseEvent, ReleasePolicy};
use falco_artifacts_images::{
    copy_tag, BuildContext, CredentialStore, Engine, ImageName, ImageRef, ImageSpec, OciLabels,
    PushEvent, PushOptions, RegistryAddr, RegistryClient, TagPolicy,
};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

struct Args {
    release: Release,
    tarballs: Vec<(Arch, PathBuf)>,
    registry: RegistryAddr,
    mirrors: Vec<RegistryAddr>,
    copy_to: Vec<RegistryAddr>,
    name: ImageName,
    credentials: CredentialStore,
    revision: Option<String>,
}

fn parse_args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut release, mut registry) = (None, None);
    let (mut tarballs, mut mirrors, mut copy_to) = (Vec::new(), Vec::new(), Vec::new());
    let mut name: ImageName = "falcosecurity/falco".parse()?;
    let mut credentials = CredentialStore::new();
    let mut revision = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--tag" => {
                release = Some(ReleaseEvent::tag(value()?).resolve(&ReleasePolicy::default())?)
            }
            "--dev-version" => {
                release = Some(Release {
                    version: value()?.parse()?,
                    channel: ChannelConfig::development(),
                })
            }
            "--tarball" => {
                let v = value()?;
                let (arch, path) = v.split_once('=').ok_or("--tarball wants ARCH=PATH")?;
                tarballs.push((arch.parse()?, PathBuf::from(path)));
            }
            "--registry" => registry = Some(value()?.parse()?),
            "--mirror" => mirrors.push(value()?.parse()?),
            "--copy-to" => copy_to.push(value()?.parse()?),
            "--name" => name = value()?.parse()?,
            "--credentials" => credentials = credentials.with_file(value()?.as_ref())?,
            "--docker-config" => credentials = credentials.with_docker_config(value()?.as_ref())?,
            "--revision" => revision = Some(value()?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok(Args {
        release: release.ok_or("give --tag or --dev-version")?,
        registry: registry.ok_or("give --registry")?,
        tarballs,
        mirrors,
        copy_to,
        name,
        credentials,
        revision,
    })
}

fn client(
    args: &Args,
    registry: &RegistryAddr,
) -> Result<RegistryClient, Box<dyn std::error::Error>> {
    Ok(RegistryClient::new(
        registry.clone(),
        args.credentials.get(registry).cloned(),
    )?)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    if args.tarballs.is_empty() {
        return Err("give at least one --tarball ARCH=PATH".into());
    }
    let date = SourceDate::from_env()?;
    let engine = Engine::from_env().await?;
    let primary = client(&args, &args.registry)?;
    let existing = primary.list_tags(&args.name).await?;
    let tags = TagPolicy::default().release_tags(&args.release.version, &existing)?;
    println!("release {} → tags {:?}", args.release.version, tags.names());

    let bars = MultiProgress::new();
    let byte_style =
        ProgressStyle::with_template("{prefix:>40} {bar:30} {bytes:>10}/{total_bytes:<10} {msg}")?;
    let registries: Vec<&RegistryAddr> = std::iter::once(&args.registry)
        .chain(&args.mirrors)
        .collect();
    let mut arches = Vec::new();
    for (arch, tarball) in &args.tarballs {
        let mut labels = OciLabels::new(&args.release.version, date)
            .with_source("https://github.com/falcosecurity/falco")
            .with_licenses("Apache-2.0");
        if let Some(revision) = &args.revision {
            labels = labels.with_revision(revision);
        }
        let spec = ImageSpec::builder(
            args.name.clone(),
            *arch,
            BuildContext::release_tarball(tarball),
            date,
        )
        .with_release(&args.release)
        .with_oci_labels(&labels)
        .with_entrypoint(["/usr/bin/falco"])
        .build()?;
        let spinner = bars.add(ProgressBar::new_spinner().with_prefix(format!("build {arch}")));
        spinner.enable_steady_tick(Duration::from_millis(120));
        let image = engine
            .build(&spec, |line| spinner.set_message(line.to_owned()))
            .await?;
        spinner.finish_with_message(format!("built {}", image.id));

        let targets: Vec<ImageRef> = registries
            .iter()
            .flat_map(|registry| {
                tags.for_arch(*arch)
                    .into_iter()
                    .map(|tag| ImageRef::new((*registry).clone(), args.name.clone(), tag))
            })
            .collect();
        let mut current: Option<(String, ProgressBar)> = None;
        let reports = engine
            .push(
                &image,
                &targets,
                &args.credentials,
                &PushOptions::default(),
                |event| match event {
                    PushEvent::Progress {
                        image,
                        status,
                        current: done,
                        total,
                    } => {
                        let key = image.to_string();
                        if current.as_ref().is_none_or(|(k, _)| *k != key) {
                            if let Some((_, bar)) = current.take() {
                                bar.finish();
                            }
                            let bar = bars.add(
                                ProgressBar::new(0)
                                    .with_style(byte_style.clone())
                                    .with_prefix(key.clone()),
                            );
                            current = Some((key, bar));
                        }
                        if let Some((_, bar)) = &current {
                            if let (Some(done), Some(total)) = (done, total) {
                                bar.set_length(total);
                                bar.set_position(done);
                            }
                            bar.set_message(status.to_owned());
                        }
                    }
                    PushEvent::Retrying {
                        image,
                        attempt,
                        error,
                    } => {
                        let _ = bars.println(format!(
                            "{image}: attempt {attempt} failed ({error}), retrying"
                        ));
                    }
                    _ => {}
                },
            )
            .await?;
        if let Some((_, bar)) = current.take() {
            bar.finish();
        }
        for report in &reports {
            println!(
                "pushed {}: {} layer(s) sent, {} already there, {}",
                report.image,
                report.layers_pushed,
                report.layers_existing,
                report.digest.as_deref().unwrap_or("no digest reported")
            );
        }
        arches.push(*arch);
    }

    for registry in &registries {
        let client = client(&args, registry)?;
        for tag in tags.tags() {
            let index = client.update_index(&args.name, tag, &arches).await?;
            println!(
                "index {registry}/{}:{tag} {} {:?}",
                args.name, index.digest, index.platforms
            );
        }
    }
    for target in &args.copy_to {
        let destination = client(&args, target)?;
        for tag in tags.tags() {
            let report = copy_tag(&primary, &args.name, &destination, &args.name, tag).await?;
            println!(
                "copied {}:{tag} to {target}: {} blob(s), {} bytes, {} already there, digest {}",
                args.name,
                report.blobs_copied,
                report.bytes_copied,
                report.blobs_present,
                report.digest
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
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
