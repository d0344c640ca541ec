//! Benchmark: assemble the `falco` runtime image (root filesystem from the `.deb` files of
//! `<debs-dir>`, payload from a release tarball holding `<payload>` as `/usr/bin/falco`) and
//! compare with the peer way: `dpkg-deb -x` of the same packages into one tree plus the payload,
//! then `docker build` of a `FROM scratch` image of that tree. Then push ours to a
//! docker-registry and push it again unchanged (the second push must upload no layer).
//!
//! `cargo run --release -p falco-artifacts-images --example runtime-bench -- <debs-dir> <payload>`
//!
//! dockerd and docker-registry are started through testkit (needs root) and stopped at exit.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions, SourceDate};
use falco_artifacts_core::{Arch, Version};
use falco_artifacts_images::{DebSource, ImageVariant, RegistryClient};
use falco_artifacts_pkg_tar::TarballBuilder;
use falco_artifacts_testkit::{DockerEngine, Registry};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn tarball(dir: &Path, payload: &Path) -> Result<PathBuf> {
    let yaml = format!(
        "name: falco\nversion: 0.39.0\narch: x86_64\nmaintainer: bench\ndescription: bench\n\
         license: Apache-2.0\nsource_date: 1700000000\ncontents:\n\
         - {{ dst: /usr/bin/falco, src: {}, mode: \"0755\" }}\n\
         - {{ dst: /etc/falco/falco.yaml, inline: \"rules_files: []\\n\" }}\n",
        payload.display()
    );
    let spec = load_manifest_str(&yaml, dir, &ManifestOptions::default())?;
    Ok(TarballBuilder::new(&spec).build(dir)?.path)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn run(command: &mut Command) -> Result<String> {
    let out = command.output()?;
    if !out.status.success() {
        return Err(format!("{command:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match bench().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runtime-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bench() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(debs), Some(payload)) = (args.next(), args.next()) else {
        return Err("usage: runtime-bench <debs-dir> <payload>".into());
    };
    let debs = PathBuf::from(debs);
    let dir = tempfile::tempdir()?;
    let tarball = tarball(dir.path(), Path::new(&payload))?;
    let date = SourceDate::from_secs(1_700_000_000);
    let version: Version = "0.39.0".parse()?;

    let start = Instant::now();
    let built = ImageVariant::falco().assemble(
        &DebSource::dir(&debs),
        Arch::X86_64,
        &tarball,
        &version,
        &dir.path().join("ours"),
        date,
    )?;
    let ours = start.elapsed().as_secs_f64();
    println!(
        "  ours: {} packages, rootfs + payload + SBOM layers in {ours:.3} s",
        built.rootfs.packages.len()
    );
    for layer in &built.image.layers {
        println!(
            "    layer {}: {:.2} MiB tar, {:.2} MiB gzip",
            &layer.digest[..19],
            mib(layer.tar_size),
            mib(layer.size)
        );
    }

    // The peer: the same packages unpacked by dpkg-deb, the payload next to them, docker build.
    let docker = DockerEngine::start()?;
    let start = Instant::now();
    let tree = dir.path().join("peer/rootfs");
    std::fs::create_dir_all(&tree)?;
    for package in &built.rootfs.packages {
        let deb = std::fs::read_dir(&debs)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{}_", package.name)))
            })
            .ok_or("a resolved package has no file")?;
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
    }
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("--strip-components=1")
        .arg("-C")
        .arg(&tree))?;
    std::fs::write(
        dir.path().join("peer/Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/usr/bin/falco\"]\n",
    )?;
    run(docker
        .cli()?
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", "peer:bench"])
        .arg(dir.path().join("peer")))?;
    let peer = start.elapsed().as_secs_f64();
    let size =
        run(docker
            .cli()?
            .args(["image", "inspect", "--format", "{{.Size}}", "peer:bench"]))?;
    let size: u64 = size.trim().parse()?;
    println!(
        "  peer (dpkg-deb -x + docker build FROM scratch): {peer:.3} s, one layer of {:.2} MiB",
        mib(size)
    );
    println!(
        "  ratio peer/ours: {:.2}x (above 1 means ours is faster)",
        peer / ours
    );

    let registry = Registry::start()?;
    let client = RegistryClient::new(registry.address().parse()?, None)?;
    let name = "falcosecurity/falco".parse()?;
    let tags = ["x86_64-0.39.0".parse()?];
    let start = Instant::now();
    let first = client.push_image(&name, &built.image, &tags).await?;
    let first_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let again = client.push_image(&name, &built.image, &tags).await?;
    let again_secs = start.elapsed().as_secs_f64();
    println!(
        "  push: {first_secs:.3} s, {} blobs uploaded; unchanged re-push: {again_secs:.3} s, {} uploaded, {} already there",
        first.uploaded.len(),
        again.uploaded.len(),
        again.skipped.len()
    );
    if !again.uploaded.is_empty() {
        return Err("the unchanged re-push uploaded blobs".into());
    }
    Ok(())
}
