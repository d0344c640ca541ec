//! A falcosecurity/libs source configured by the builder as driverkit configures it: a small
//! project in the shape of libs (`driver/CMakeLists.txt`, `Makefile.in`, `driver_config.h.in`,
//! `cmake/modules`) without the legacy probe, built by `driver-grid build` with driver and
//! device names from the options; the probe a config asks for is reported, not failed.

use std::path::Path;

use falco_artifacts_driver_grid::build::DEFAULT_DRIVER_NAME;

use crate::build::headers;
use crate::build_falco::{index_names, modinfo, run, serve_headers, tool, write_config};

/// A small project in the shape of falcosecurity/libs: `cmake/modules/compute_versions.cmake`,
/// `driver/CMakeLists.txt` configuring `Makefile.in` and `driver_config.h.in` into `src/` with
/// the sources, as libs does; no `bpf/` (like libs after the legacy probe was dropped).
fn write_libs_project(root: &Path) {
    let driver = root.join("driver");
    std::fs::create_dir_all(&driver).unwrap();
    std::fs::create_dir_all(root.join("cmake/modules")).unwrap();
    std::fs::write(
        root.join("cmake/modules/compute_versions.cmake"),
        "function(compute_versions API_VERSION_FILE SCHEMA_VERSION_FILE)\n\
         \x20 file(STRINGS ${API_VERSION_FILE} API_VERSION)\n\
         \x20 set(PPM_API_CURRENT_VERSION ${API_VERSION} PARENT_SCOPE)\n\
         endfunction()\n",
    )
    .unwrap();
    std::fs::write(driver.join("API_VERSION"), "8.0.0\n").unwrap();
    std::fs::write(driver.join("SCHEMA_VERSION"), "3.0.0\n").unwrap();
    std::fs::write(
        driver.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.12)\nproject(driver NONE)\n\
         if(NOT DEFINED DRIVER_VERSION)\n  message(FATAL_ERROR \"No DRIVER_VERSION set\")\nendif()\n\
         if(NOT DEFINED DRIVER_NAME)\n  set(DRIVER_NAME \"scap\")\nendif()\n\
         if(NOT DEFINED DRIVER_DEVICE_NAME)\n  set(DRIVER_DEVICE_NAME \"${DRIVER_NAME}\")\nendif()\n\
         include(compute_versions RESULT_VARIABLE RESULT)\n\
         if(RESULT STREQUAL NOTFOUND)\n  message(FATAL_ERROR \"no compute_versions in ${CMAKE_MODULE_PATH}\")\nendif()\n\
         compute_versions(API_VERSION SCHEMA_VERSION)\n\
         configure_file(Makefile.in src/Makefile)\n\
         configure_file(driver_config.h.in src/driver_config.h)\n\
         foreach(FILENAME main.c)\n  configure_file(${FILENAME} src/${FILENAME} COPYONLY)\nendforeach()\n",
    )
    .unwrap();
    std::fs::write(
        driver.join("Makefile.in"),
        "@DRIVER_NAME@-y += main.o\nobj-m += @DRIVER_NAME@.o\n\n\
         KERNELDIR ?= /lib/modules/$(shell uname -r)/build\n\
         TOP := $(shell pwd)\nall:\n\t$(MAKE) -C $(KERNELDIR) M=$(TOP) modules\n",
    )
    .unwrap();
    std::fs::write(
        driver.join("driver_config.h.in"),
        "#pragma once\n#define DRIVER_VERSION \"${DRIVER_VERSION}\"\n\
         #define DRIVER_NAME \"${DRIVER_NAME}\"\n#define DRIVER_DEVICE_NAME \"${DRIVER_DEVICE_NAME}\"\n\
         #define DRIVER_COMMIT \"\"\n#define PPM_API \"${PPM_API_CURRENT_VERSION}\"\n",
    )
    .unwrap();
    std::fs::write(
        driver.join("main.c"),
        "// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n#include \"driver_config.h\"\n\
         static int __init drv_init(void) { return 0; }\nstatic void __exit drv_exit(void) {}\n\
         module_init(drv_init);\nmodule_exit(drv_exit);\nMODULE_LICENSE(\"GPL\");\n\
         MODULE_VERSION(DRIVER_VERSION);\nMODULE_INFO(build_commit, DRIVER_COMMIT);\n\
         MODULE_INFO(device, DRIVER_DEVICE_NAME);\nMODULE_INFO(api_version, PPM_API);\n",
    )
    .unwrap();
}

#[test]
fn libs_source_is_configured_like_driverkit_and_a_probe_it_lacks_is_reported() {
    for (name, package) in [
        ("cmake", "cmake"),
        ("make", "make"),
        ("gcc-12", "gcc-12"),
        ("strip", "binutils"),
        ("modinfo", "kmod"),
    ] {
        tool(name, package);
    }
    assert_eq!(DEFAULT_DRIVER_NAME, "falco");
    let headers = headers();
    let release = headers.release.clone();
    let mirror = tempfile::tempdir().unwrap();
    let (_server, urls) = serve_headers(&headers, mirror.path());
    let cwd = tempfile::tempdir().unwrap();
    write_libs_project(&cwd.path().join("libs"));
    let checkout_before = std::fs::read_dir(cwd.path().join("libs/driver"))
        .unwrap()
        .count();
    write_config(
        &cwd.path().join("config"),
        "9.0.0+driver",
        &release,
        &urls,
        true,
    );
    let site = cwd.path().join("site");
    let repo = format!("file://{}", site.display());
    let args = [
        "build",
        "config",
        "--driver-source",
        "libs",
        "--driver-name",
        "mydrv",
        "--device-name",
        "mydev",
        "--work",
        "work",
        "--quiet",
        "--repo",
        &repo,
    ];
    let output = run(cwd.path(), &args);
    // The probe this driver version cannot have is not a failure.
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("probe not supported by this driver version"),
        "{text}"
    );
    assert!(text.contains("1 built, 0 failed"), "{text}");
    let ko = cwd.path().join(format!(
        "output/9.0.0+driver/x86_64/falco_debian_{release}_1.ko"
    ));
    assert_eq!(modinfo(&ko, "name"), "mydrv");
    assert_eq!(modinfo(&ko, "version"), "9.0.0+driver");
    // driverkit's last configure step, and the device name option.
    assert_eq!(modinfo(&ko, "build_commit"), "9.0.0+driver");
    assert_eq!(modinfo(&ko, "device"), "mydev");
    // compute_versions ran from the checkout's cmake/modules.
    assert_eq!(modinfo(&ko, "api_version"), "8.0.0");
    assert!(!cwd
        .path()
        .join(format!(
            "output/9.0.0+driver/x86_64/falco_debian_{release}_1.o"
        ))
        .exists());
    let names = index_names(&site, "9.0.0+driver");
    assert_eq!(names, format!("kmod falco_debian_{release}_1.ko\n"));
    // The checkout itself was not written to: cmake ran on a copy in the sources cache.
    assert_eq!(
        std::fs::read_dir(cwd.path().join("libs/driver"))
            .unwrap()
            .count(),
        checkout_before
    );

    // Configured once per driver version: a second run with a new config reuses it.
    write_config(
        &cwd.path().join("config"),
        "9.0.0+driver",
        &release,
        &urls,
        false,
    );
    std::fs::remove_file(&ko).unwrap();
    let output = run(cwd.path(), &args[..args.len() - 2]);
    assert!(output.status.success(), "{output:?}");
    let logs = cwd.path().join("work/logs/9.0.0+driver/x86_64");
    let log = std::fs::read_to_string(logs.join(format!("debian_{release}_1.log"))).unwrap();
    assert!(
        log.contains("reusing the configured driver source"),
        "{log}"
    );

    // A directory that is no driver source is a clear error for the build.
    let output = run(
        cwd.path(),
        &[
            "build",
            "config",
            "--driver-source",
            "site",
            "--work",
            "work2",
            "--output",
            "output2",
            "--quiet",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("is not a driver source"), "{text}");
}
