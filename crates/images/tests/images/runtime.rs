//! Runtime images assembled from real Debian packages (fetched by
//! `scripts/fetch-test-image-debs`): a g++-built, dynamically linked `/usr/bin/falco` runs in
//! the `falco` variant under a real dockerd and fails to start from a bare scratch image; the
//! layers are reproducible; the `falco-driver-loader` variant has a working make, gcc and kmod.

use std::path::{Path, PathBuf};
use std::process::Command;

use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};
use falco_artifacts_core::{Arch, Version};
use falco_artifacts_images::{
    DebSource, ImageError, ImageRef, ImageVariant, OciImage, RegistryClient, RootfsSpec, Tag,
};
use falco_artifacts_pkg_deb::{DebReader, ExtractOptions};
use falco_artifacts_pkg_tar::TarballBuilder;
use falco_artifacts_testkit::{require_tool, DockerEngine, Registry};

use crate::common::*;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cached `.deb` files, fetched on first use.
pub(crate) fn debs() -> PathBuf {
    let dir = std::env::var_os("FALCO_TEST_IMAGE_DEBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-image-debs"));
    let script = workspace().join("scripts/fetch-test-image-debs");
    let status = Command::new(&script).arg(&dir).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "cannot fetch the Debian packages of the image tests into {}: run {} (needs apt-get and \
         the Debian archive) or set FALCO_TEST_IMAGE_DEBS ({status:?})",
        dir.display(),
        script.display()
    );
    dir
}

/// A small C++ program that needs libstdc++ and libgcc_s (it throws and catches).
pub(crate) fn compile_payload(dir: &Path) -> PathBuf {
    let gxx = require_tool("g++", "Debian package g++").unwrap();
    let source = dir.join("falco.cpp");
    std::fs::write(
        &source,
        "#include <iostream>\n#include <stdexcept>\n#include <string>\n\
         int main(int argc, char **argv) {\n\
           try { throw std::runtime_error(\"unwound\"); }\n\
           catch (const std::exception &e) {\n\
             std::cout << \"falco payload ok: \" << e.what() << \", args \" << argc - 1 << std::endl;\n\
           }\n\
           return 0;\n\
         }\n",
    )
    .unwrap();
    let binary = dir.join("falco");
    let out = Command::new(gxx)
        .args(["-O1", "-Wl,--no-as-needed", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "g++: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let readelf = require_tool("readelf", "Debian package binutils").unwrap();
    let dynamic = Command::new(readelf)
        .arg("-d")
        .arg(&binary)
        .output()
        .unwrap();
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        dynamic.contains("libstdc++.so.6") && dynamic.contains("libgcc_s.so.1"),
        "{dynamic}"
    );
    binary
}

/// A release tarball (pkg-tar) holding `binary` as `/usr/bin/falco` and a config file.
pub(crate) fn release_tarball(dir: &Path, version: &str, binary: &Path) -> PathBuf {
    let yaml = format!(
        "name: falco\nversion: {version}\narch: x86_64\nmaintainer: Test <t@example.invalid>\n\
         description: d\nlicense: Apache-2.0\nsource_date: {SOURCE_DATE}\ncontents:\n\
         - {{ dst: /usr/bin/falco, src: {src}, mode: \"0755\" }}\n\
         - {{ dst: /etc/falco/falco.yaml, inline: \"rules_files: []\\n\", type: config-noreplace }}\n",
        src = binary.display()
    );
    let spec = load_manifest_str(&yaml, dir, &ManifestOptions::default()).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    TarballBuilder::new(&spec).build(&out).unwrap().path
}

/// Falco's real driver source: Debian's falcosecurity-scap-dkms, unpacked by pkg-deb.
fn driver_source(debs: &Path, dir: &Path) -> PathBuf {
    let deb = std::fs::read_dir(debs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("falcosecurity-scap-dkms_")
        })
        .expect("falcosecurity-scap-dkms in the package cache");
    let out = dir.join("scap-dkms");
    DebReader::open(&deb)
        .unwrap()
        .extract(&out, &ExtractOptions::default())
        .unwrap();
    let src = out.join("usr/src");
    let tree = std::fs::read_dir(&src)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(tree.join("Makefile").is_file() && tree.join("bpf/Makefile").is_file());
    tree
}

fn reference(registry: &Registry, name: &str, tag: &str) -> ImageRef {
    ImageRef::new(
        registry.address().parse().unwrap(),
        name.parse().unwrap(),
        tag.parse::<Tag>().unwrap(),
    )
}

#[test]
fn a_package_set_without_the_dependencies_names_what_is_missing() {
    let debs = debs();
    let only = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&debs).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("libstdc++6_")
        {
            std::fs::copy(&path, only.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let work = tempfile::tempdir().unwrap();
    let err = RootfsSpec::builder(
        DebSource::dir(only.path()),
        Arch::X86_64,
        ["libstdc++6", "zlib1g"],
    )
    .build()
    .unwrap()
    .assemble(work.path(), source_date())
    .unwrap_err();
    let text = err.to_string();
    let ImageError::MissingDependencies { missing } = &err else {
        panic!("{err}")
    };
    let needed: Vec<&str> = missing
        .iter()
        .map(|m| m.needed.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        needed,
        ["gcc-12-base", "libc6", "libgcc-s1", "zlib1g"],
        "{text}"
    );
    assert!(
        text.contains("(needed by libstdc++6)") && text.contains("zlib1g (asked for)"),
        "{text}"
    );
    assert!(
        std::fs::read_dir(work.path()).unwrap().next().is_none(),
        "nothing unpacked"
    );
}

#[tokio::test]
async fn falco_runs_in_the_runtime_image_and_not_in_scratch() {
    let debs = debs();
    let dir = tempfile::tempdir().unwrap();
    let binary = compile_payload(dir.path());
    let version: Version = "0.39.0".parse().unwrap();
    let tarball = release_tarball(dir.path(), "0.39.0", &binary);
    let source = DebSource::dir(&debs);

    let falco = ImageVariant::falco();
    let built = falco
        .assemble(
            &source,
            Arch::X86_64,
            &tarball,
            &version,
            &dir.path().join("one"),
            source_date(),
        )
        .unwrap();
    // Built again elsewhere: byte-identical layers, config and manifest.
    let again = falco
        .assemble(
            &source,
            Arch::X86_64,
            &tarball,
            &version,
            &dir.path().join("two"),
            source_date(),
        )
        .unwrap();
    let digests = |b: &falco_artifacts_images::BuiltVariant| {
        b.image
            .layers
            .iter()
            .map(|l| l.digest.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(digests(&built), digests(&again));
    assert_eq!(built.image.digest, again.image.digest);
    let names: Vec<&str> = built
        .rootfs
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for wanted in [
        "libc6",
        "libstdc++6",
        "libgcc-s1",
        "gcc-12-base",
        "zlib1g",
        "ca-certificates",
        "openssl",
        "libssl3",
    ] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }

    let docker = DockerEngine::start().unwrap();
    let registry = Registry::start().unwrap();
    let engine = connect(&docker).await;
    let client = RegistryClient::new(registry.address().parse().unwrap(), None).unwrap();
    let name = "falcosecurity/falco".parse().unwrap();
    let tag: Tag = "x86_64-0.39.0".parse().unwrap();
    let pushed = client
        .push_image(&name, &built.image, std::slice::from_ref(&tag))
        .await
        .unwrap();
    assert_eq!(pushed.digest, built.image.digest);
    assert_eq!(pushed.uploaded.len(), 4, "three layers and the config");
    // The unchanged variant pushed again uploads nothing.
    let repushed = client
        .push_image(&name, &again.image, std::slice::from_ref(&tag))
        .await
        .unwrap();
    assert!(repushed.uploaded.is_empty(), "{repushed:?}");

    let image = reference(&registry, "falcosecurity/falco", tag.as_ref());
    engine.pull(&image).await.unwrap();
    let out = engine
        .run(&image.to_string(), None, &["-o", "x"])
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout, "falco payload ok: unwound, args 2\n", "{out:?}");

    // The same payload layer alone, FROM scratch: the dynamic loader is not there.
    let scratch = OciImage::builder(Arch::X86_64, source_date())
        .with_layer(built.payload.layer.clone(), "payload only")
        .with_entrypoint(["/usr/bin/falco"])
        .build();
    client
        .push_image(&name, &scratch, &["scratch".parse().unwrap()])
        .await
        .unwrap();
    let scratch_ref = reference(&registry, "falcosecurity/falco", "scratch");
    engine.pull(&scratch_ref).await.unwrap();
    // runc reports the failed exec either when starting or as the container's exit.
    match engine.run(&scratch_ref.to_string(), None, &[]).await {
        Err(ImageError::Engine { action, source }) => {
            assert!(action.starts_with("start a container"), "{action}");
            assert!(
                source.to_string().contains("no such file or directory"),
                "{source}"
            );
        }
        Ok(out) => {
            assert_ne!(out.exit_code, 0, "{out:?}");
            assert!(out.stdout.is_empty(), "{out:?}");
            assert_eq!(
                out.stderr, "exec /usr/bin/falco: no such file or directory\n",
                "{out:?}"
            );
        }
        Err(other) => panic!("{other}"),
    }

    // What skopeo sees from the outside: our OCI manifest, three layers, amd64.
    let inspect = skopeo_json(&image.to_string(), None);
    assert_eq!(inspect["Architecture"], "amd64", "{inspect}");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3, "{inspect}");
    assert_eq!(inspect["Digest"], built.image.digest.as_str(), "{inspect}");
}

#[tokio::test]
async fn the_driver_loader_variant_has_make_gcc_and_kmod() {
    let debs = debs();
    let dir = tempfile::tempdir().unwrap();
    let binary = compile_payload(dir.path());
    let version: Version = "0.39.0".parse().unwrap();
    let tarball = release_tarball(dir.path(), "0.39.0", &binary);
    let driver = driver_source(&debs, dir.path());
    let variant = ImageVariant::falco_driver_loader(&driver, "7.3.0+driver");
    let built = variant
        .assemble(
            &DebSource::dir(&debs),
            Arch::X86_64,
            &tarball,
            &version,
            &dir.path().join("work"),
            source_date(),
        )
        .unwrap();
    assert!(built
        .payload
        .files
        .iter()
        .any(|f| f.path == "/usr/src/falco-7.3.0+driver/bpf/Makefile"));

    let docker = DockerEngine::start().unwrap();
    let registry = Registry::start().unwrap();
    let engine = connect(&docker).await;
    let client = RegistryClient::new(registry.address().parse().unwrap(), None).unwrap();
    let name = "falcosecurity/falco-driver-loader".parse().unwrap();
    client
        .push_image(&name, &built.image, &["x86_64-master".parse().unwrap()])
        .await
        .unwrap();
    let image = reference(
        &registry,
        "falcosecurity/falco-driver-loader",
        "x86_64-master",
    );
    engine.pull(&image).await.unwrap();
    for (tool, expected) in [
        ("/usr/bin/make", "GNU Make"),
        ("/usr/bin/gcc", "gcc"),
        ("/sbin/modinfo", "kmod version"),
    ] {
        let out = engine
            .run(&image.to_string(), Some(&[tool]), &["--version"])
            .await
            .unwrap();
        assert_eq!(out.exit_code, 0, "{tool}: {out:?}");
        assert!(out.stdout.contains(expected), "{tool}: {out:?}");
    }
}

/// The `falco` preset's packages served as an APT repository (index by `dpkg-scanpackages`)
/// give the same layer as the same files from a directory; a package whose bytes do not match
/// the index is refused.
#[test]
fn packages_from_an_apt_repository_give_the_same_layer() {
    let debs = debs();
    let scan = require_tool("dpkg-scanpackages", "Debian package dpkg-dev").unwrap();
    let repo = tempfile::tempdir().unwrap();
    let pool = repo.path().join("pool/main");
    std::fs::create_dir_all(&pool).unwrap();
    let local = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&debs).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let wanted = [
            "libc6_",
            "libstdc++6_",
            "libgcc-s1_",
            "gcc-12-base_",
            "zlib1g_",
        ];
        if wanted.iter().any(|w| name.starts_with(w)) {
            std::fs::copy(&path, pool.join(&name)).unwrap();
            std::fs::copy(&path, local.path().join(&name)).unwrap();
        }
    }
    let index = Command::new(scan)
        .args(["--multiversion", "pool", "/dev/null"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(
        index.status.success(),
        "{}",
        String::from_utf8_lossy(&index.stderr)
    );
    let dists = repo.path().join("dists/bookworm/main/binary-amd64");
    std::fs::create_dir_all(&dists).unwrap();
    let write_index = |text: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, text).unwrap();
        std::fs::write(dists.join("Packages.gz"), gz.finish().unwrap()).unwrap();
    };
    write_index(&index.stdout);
    let server = falco_artifacts_testkit::HttpServer::serve(repo.path()).unwrap();
    let packages = ["libstdc++6", "zlib1g"];

    let cache = tempfile::tempdir().unwrap();
    let apt = DebSource::apt(server.url(), "bookworm", "main", cache.path());
    let assemble = |source: DebSource| {
        let work = tempfile::tempdir().unwrap();
        RootfsSpec::builder(source, Arch::X86_64, packages)
            .build()
            .unwrap()
            .assemble(work.path(), source_date())
    };
    let from_apt = assemble(apt.clone()).unwrap();
    let from_dir = assemble(DebSource::dir(local.path())).unwrap();
    assert_eq!(from_apt.layer.digest, from_dir.layer.digest);
    assert_eq!(from_apt.packages.len(), 5, "{:?}", from_apt.packages);

    // The index promises other bytes for zlib1g: refused, naming the URL.
    let text = String::from_utf8(index.stdout).unwrap();
    let mut tampered = String::new();
    let mut in_zlib = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("Package: ") {
            in_zlib = name == "zlib1g";
        }
        if in_zlib && line.starts_with("SHA256: ") {
            tampered.push_str(&format!("SHA256: {}\n", "0".repeat(64)));
        } else {
            tampered.push_str(line);
            tampered.push('\n');
        }
    }
    write_index(tampered.as_bytes());
    let fresh = tempfile::tempdir().unwrap();
    let err = assemble(DebSource::apt(
        server.url(),
        "bookworm",
        "main",
        fresh.path(),
    ))
    .unwrap_err();
    let ImageError::AptRepository { url, problem } = &err else {
        panic!("{err}")
    };
    assert!(url.contains("/pool/main/zlib1g_"), "{err}");
    assert!(problem.contains("the index says 0000"), "{err}");
}
