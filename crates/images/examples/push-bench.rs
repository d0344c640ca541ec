//! Benchmark: build a `FROM scratch` image from a release tarball holding `<payload>` as
//! `/usr/bin/falco`, push it, then push it again unchanged; the same with the `docker push`
//! CLI on the same engine to a second registry. It prints wall times and the bytes each
//! registry process read while each push ran (`rchar` of `/proc/<pid>/io`: the request
//! bodies it received, plus the little it read from its own disk).
//!
//! `cargo run --release -p falco-artifacts-images --example push-bench -- <payload-file>`
//!
//! dockerd and docker-registry are started through testkit (needs root) and stopped at exit.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions, SourceDate};
use falco_artifacts_core::Arch;
use falco_artifacts_images::{
    BuildContext, CredentialStore, Engine, ImageRef, ImageSpec, PushOptions, PushReport,
};
use falco_artifacts_pkg_tar::TarballBuilder;
use falco_artifacts_testkit::{DockerEngine, Registry};

fn rchar(pid: u32) -> Result<u64, Box<dyn std::error::Error>> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))?;
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .ok_or("no rchar in /proc/<pid>/io")?
        .trim()
        .parse()
        .map_err(Into::into)
}

fn tarball(dir: &Path, payload: &Path) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
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

/// Times `f` and measures what the registry process read meanwhile.
async fn timed<F, T>(registry: &Registry, f: F) -> Result<(T, f64, u64), Box<dyn std::error::Error>>
where
    F: std::future::Future<Output = Result<T, Box<dyn std::error::Error>>>,
{
    let before = rchar(registry.pid())?;
    let start = Instant::now();
    let value = f.await?;
    let secs = start.elapsed().as_secs_f64();
    Ok((value, secs, rchar(registry.pid())?.saturating_sub(before)))
}

fn line(what: &str, secs: f64, bytes: u64, extra: &str) {
    println!(
        "  {what:<44} {secs:8.2} s  {:>12} bytes ({:.1} MiB) received by the registry {extra}",
        bytes,
        bytes as f64 / (1024.0 * 1024.0)
    );
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let payload = std::env::args()
        .nth(1)
        .ok_or("usage: push-bench <payload-file>")?;
    let dir = tempfile::tempdir()?;
    let tarball = tarball(dir.path(), Path::new(&payload))?;
    let docker = DockerEngine::start()?;
    let ours = Registry::start()?;
    let peer = Registry::start()?;
    let engine = Engine::connect(&docker.docker_host()).await?;
    let date = SourceDate::from_secs(1_700_000_000);
    let spec = ImageSpec::builder(
        "falcosecurity/falco".parse()?,
        Arch::X86_64,
        BuildContext::release_tarball(&tarball),
        date,
    )
    .build()?;
    let start = Instant::now();
    let image = engine.build(&spec, |_| {}).await?;
    println!(
        "  {:<44} {:8.2} s  (tarball {} MiB)",
        "build (context streamed from the tarball)",
        start.elapsed().as_secs_f64(),
        std::fs::metadata(&tarball)?.len() >> 20
    );

    let target = ImageRef::new(
        ours.address().parse()?,
        spec.name().clone(),
        "x86_64-0.39.0".parse()?,
    );
    let push = || async {
        let reports: Vec<PushReport> = engine
            .push(
                &image,
                std::slice::from_ref(&target),
                &CredentialStore::new(),
                &PushOptions::default(),
                |_| {},
            )
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(reports.into_iter().next().ok_or("no report")?)
    };
    let (first, t1, b1) = timed(&ours, push()).await?;
    line(
        "ours: first push",
        t1,
        b1,
        &format!("({} layer sent)", first.layers_pushed),
    );
    let (second, t2, b2) = timed(&ours, push()).await?;
    line(
        "ours: second push, unchanged",
        t2,
        b2,
        &format!(
            "({} layer sent, {} already there)",
            second.layers_pushed, second.layers_existing
        ),
    );
    println!(
        "  ours: second/first wall time {:.3} ({:.1}x faster)",
        t2 / t1,
        t1 / t2
    );

    let peer_ref = format!("{}/falcosecurity/falco:x86_64-0.39.0", peer.address());
    let status = docker.cli()?.args(["tag", &image.id, &peer_ref]).status()?;
    if !status.success() {
        return Err("docker tag failed".into());
    }
    let cli_push = || async {
        let output = docker.cli()?.args(["push", &peer_ref]).output()?;
        if !output.status.success() {
            return Err(format!("docker push: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    let ((), p1, pb1) = timed(&peer, cli_push()).await?;
    line("docker push (CLI): first push", p1, pb1, "");
    let ((), p2, pb2) = timed(&peer, cli_push()).await?;
    line("docker push (CLI): second push, unchanged", p2, pb2, "");
    println!("  docker push: second/first wall time {:.3}", p2 / p1);
    println!(
        "  ratio docker-push/ours, first push: {:.2}x (above 1 means ours is faster)",
        p1 / t1
    );
    println!("  ratio docker-push/ours, second push: {:.2}x", p2 / t2);
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
