//! The RPM path of the local backend: a `kernel-devel`-like package made with pkg-rpm's
//! `RpmBuilder`, served over loopback HTTP, downloaded, unpacked with the pkg-rpm reader and
//! laid out as a kernel build directory, with `kernelconfigdata` written as its `.config`.

use std::path::Path;
use std::time::Duration;

use falco_artifacts_driver_grid::build::{
    BuildContext, CancelToken, DriverSource, Fetcher, GridJob, LocalBuilder,
};
use falco_artifacts_driver_grid::core::package::{load_manifest_str, ManifestOptions, SourceDate};
use falco_artifacts_driver_grid::core::{Arch, Version};
use falco_artifacts_driver_grid::{check_tree, Plan, PlanFilter};
use falco_artifacts_pkg_rpm::RpmBuilder;
use falco_artifacts_testkit::HttpServer;

const RELEASE: &str = "5.14.0-362.8.1.el9_3.x86_64";

fn kernel_devel(dir: &Path) -> std::path::PathBuf {
    let k = format!("/usr/src/kernels/{RELEASE}");
    let manifest = format!(
        "name: kernel-devel\nmaintainer: test <test@example.invalid>\ndescription: kernel-devel-like test package\n\
         license: GPL-2.0\ncontents:\n\
         \x20 - dst: {k}/Makefile\n    inline: \"VERSION = 5\\nPATCHLEVEL = 14\\n\"\n\
         \x20 - dst: {k}/include/linux/kconfig.h\n    inline: \"/* kconfig */\\n\"\n\
         \x20 - dst: {k}/include/generated/autoconf.h\n    inline: \"#define CONFIG_X86_64 1\\n\"\n\
         \x20 - dst: {k}/scripts/Makefile.build\n    inline: \"# kbuild\\n\"\n\
         \x20 - dst: {k}/.config\n    inline: \"CONFIG_PACKAGED=y\\n\"\n\
         \x20 - dst: {k}/arch/x86/include/asm\n    type: symlink\n    target: ../../../include/generated\n\
         \x20 - dst: /lib/modules/{RELEASE}/build\n    type: symlink\n    target: {k}\n"
    );
    let options = ManifestOptions {
        version: Some("5.14.0".parse::<Version>().unwrap()),
        arch: Some(Arch::X86_64),
        source_date: Some(SourceDate::from_secs(1_700_000_000)),
    };
    let spec = load_manifest_str(&manifest, dir, &options).unwrap();
    RpmBuilder::new(&spec)
        .build()
        .unwrap()
        .write_to_dir(dir)
        .unwrap()
}

#[test]
fn kernel_devel_rpm_unpacks_into_a_kernel_build_directory() {
    let mirror = tempfile::tempdir().unwrap();
    let rpm = kernel_devel(mirror.path());
    // The RPM lead's magic: the reader below must take the RPM path, not the .deb one.
    assert_eq!(std::fs::read(&rpm).unwrap()[..4], [0xed, 0xab, 0xee, 0xdb]);
    let server = HttpServer::serve(mirror.path()).unwrap();
    let url = format!(
        "{}/{}",
        server.url(),
        rpm.file_name().unwrap().to_string_lossy()
    );

    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("config/10.2.0+driver/x86_64");
    std::fs::create_dir_all(&dir).unwrap();
    // "CONFIG_FROM_KERNELCONFIGDATA=y\n" in base64.
    std::fs::write(
        dir.join(format!("centos_{RELEASE}_1.yaml")),
        format!(
            "kernelversion: 1\nkernelrelease: {RELEASE}\ntarget: centos\narchitecture: amd64\n\
             output:\n  module: output/10.2.0+driver/x86_64/falco_centos_{RELEASE}_1.ko\n\
             kernelurls: [\"{url}\"]\nkernelconfigdata: Q09ORklHX0ZST01fS0VSTkVMQ09ORklHREFUQT15Cg==\n"
        ),
    )
    .unwrap();
    let report = check_tree(&work.path().join("config")).unwrap();
    assert!(report.is_ok(), "{}", report.to_text());
    let plan = Plan::new(&report.valid, &PlanFilter::default());
    let jobs = GridJob::from_plan(&plan, &report.valid).unwrap();

    let builder = LocalBuilder::new(
        Fetcher::new(work.path().join("downloads")),
        work.path().join("kernels"),
        DriverSource::new(work.path()),
    );
    let steps = |_: &str| {};
    let mut ctx = BuildContext::new(
        &work.path().join("build.log"),
        Duration::from_secs(60),
        CancelToken::new(),
        &steps,
    )
    .unwrap();
    let tree = builder.prepare_kernel(&jobs[0], &mut ctx).unwrap();

    // kernel-devel keeps sources and generated files in one directory.
    assert!(tree
        .build_dir
        .ends_with(format!("usr/src/kernels/{RELEASE}")));
    assert_eq!(tree.source_dir, tree.build_dir);
    assert!(tree
        .build_dir
        .starts_with(tree.root.canonicalize().unwrap()));
    // The absolute `build` link now points inside the root, relatively.
    let build = tree.root.join(format!("lib/modules/{RELEASE}/build"));
    let target = std::fs::read_link(&build).unwrap();
    assert!(target.is_relative(), "{}", target.display());
    assert_eq!(build.canonicalize().unwrap(), tree.build_dir);
    // The relative link inside the package resolves as installed.
    let asm = tree.build_dir.join("arch/x86/include/asm/autoconf.h");
    assert_eq!(
        std::fs::read_to_string(asm).unwrap(),
        "#define CONFIG_X86_64 1\n"
    );
    // kernelconfigdata replaced the packaged .config.
    assert_eq!(
        std::fs::read_to_string(tree.build_dir.join(".config")).unwrap(),
        "CONFIG_FROM_KERNELCONFIGDATA=y\n"
    );

    // A second preparation reuses the tree and the download.
    let again = builder.prepare_kernel(&jobs[0], &mut ctx).unwrap();
    assert_eq!(again, tree);
    let log = std::fs::read_to_string(work.path().join("build.log")).unwrap();
    assert!(
        log.contains("(cached)") && log.contains("reusing the kernel tree"),
        "{log}"
    );
}
