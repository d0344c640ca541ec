//! The eBPF probe: compiled against the same kernel headers as the module.
//!
//! Kernel headers carry the host architecture's inline assembly, which clang refuses to
//! parse for `-target bpf`; so, as Falco's own `driver/bpf/Makefile` does, clang compiles
//! to LLVM bitcode with the kernel's include paths and config, and `llc -march=bpf` emits the
//! eBPF object. Unused inline functions (all of the assembly) never reach the BPF backend.

use std::path::Path;
use std::process::Command;

use falco_artifacts_core::Arch;

use super::unpack::KernelTree;

/// The kernel's name for `arch` (`ARCH=`, `arch/<name>/include`).
pub(crate) fn kernel_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86",
        Arch::Aarch64 => "arm64",
    }
}

/// `clang … -emit-llvm -c <source> -o <bitcode>` with kbuild's `LINUXINCLUDE` for `tree`.
pub(crate) fn clang_command(
    tree: &KernelTree,
    arch: Arch,
    driver_dir: &Path,
    source: &Path,
    bitcode: &Path,
) -> Command {
    let karch = kernel_arch(arch);
    let (src, obj) = (&tree.source_dir, &tree.build_dir);
    let mut command = Command::new("clang");
    command.args(["-O2", "-g", "-emit-llvm", "-fno-stack-protector"]);
    // Debug info names the sources; the build directories are temporary, so name them by
    // what they are, which keeps the object reproducible.
    command.arg(format!("-fdebug-prefix-map={}=/", tree.root.display()));
    command.arg(format!(
        "-fdebug-prefix-map={}=/driver",
        driver_dir.display()
    ));
    command.args(["-D__KERNEL__", "-D__BPF_TRACING__"]);
    command.arg(format!("-D__TARGET_ARCH_{karch}"));
    // The driver's own headers first, then LINUXINCLUDE in kbuild's order.
    if let Some(dir) = source.parent() {
        command.arg(format!("-I{}", dir.display()));
    }
    command.arg(format!("-I{}", driver_dir.display()));
    for (tree, dir) in [
        (src, format!("arch/{karch}/include")),
        (obj, format!("arch/{karch}/include/generated")),
        (src, "include".to_owned()),
        (obj, "include".to_owned()),
        (src, format!("arch/{karch}/include/uapi")),
        (obj, format!("arch/{karch}/include/generated/uapi")),
        (src, "include/uapi".to_owned()),
        (obj, "include/generated/uapi".to_owned()),
    ] {
        command.arg(format!("-I{}", tree.join(dir).display()));
    }
    command
        .arg("-include")
        .arg(src.join("include/linux/kconfig.h"));
    command.args([
        "-Wno-unused-value",
        "-Wno-pointer-sign",
        "-Wno-compare-distinct-pointer-types",
        "-Wno-gnu-variable-sized-type-not-at-end",
        "-Wno-address-of-packed-member",
        "-Wno-tautological-compare",
        "-Wno-unknown-warning-option",
    ]);
    command.arg("-c").arg(source).arg("-o").arg(bitcode);
    command
}

/// `llc -march=bpf -filetype=obj <bitcode> -o <object>`.
pub(crate) fn llc_command(bitcode: &Path, object: &Path) -> Command {
    let mut command = Command::new("llc");
    command
        .args(["-march=bpf", "-filetype=obj"])
        .arg(bitcode)
        .arg("-o")
        .arg(object);
    command
}
