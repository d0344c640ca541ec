//! `release drivers`: the sample driverkit configs are validated and planned against the
//! driver repository, drivers already built are published under `driver/`, and the index of
//! prebuilt drivers lists them.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

mod common;
use common::{run, write_test_key};

#[test]
fn built_drivers_are_published_and_indexed_and_the_plan_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key_file) = write_test_key(dir.path());
    let built = dir.path().join("output/9.0.0+driver/x86_64");
    std::fs::create_dir_all(&built).unwrap();
    std::fs::write(
        built.join("falco_debian_6.1.192-2-amd64_1.ko"),
        b"module bytes",
    )
    .unwrap();
    std::fs::write(
        built.join("falco_debian_6.1.192-2-amd64_1.o"),
        b"probe bytes",
    )
    .unwrap();
    let repo = dir.path().join("repo");
    let url = format!("file://{}", repo.display());
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample");
    let drivers = |built: Option<&std::path::Path>| {
        let configs = format!("{sample}/driverkit/config");
        let releases = format!("{sample}/falco-releases.txt");
        let key = key_file.display().to_string();
        let built = built.map(|b| b.display().to_string());
        let mut args = vec![
            "drivers",
            "--configs",
            &configs,
            "--releases",
            &releases,
            "--repo",
            &url,
            "--key-file",
            &key,
            "--json",
        ];
        if let Some(built) = &built {
            args.extend(["--built", built]);
        }
        let out = run(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };

    let first = drivers(None);
    assert_eq!(first["configs"], 4);
    assert_eq!(
        first["shipped"],
        serde_json::json!(["9.0.0+driver", "8.0.0+driver"])
    );
    assert_eq!(first["outputs_to_build"], 8);

    let published = drivers(Some(&dir.path().join("output")));
    assert_eq!(
        published["uploaded"],
        serde_json::json!([
            "driver/9.0.0+driver/x86_64/falco_debian_6.1.192-2-amd64_1.ko",
            "driver/9.0.0+driver/x86_64/falco_debian_6.1.192-2-amd64_1.o"
        ])
    );
    assert_eq!(
        std::fs::read(repo.join("driver/9.0.0+driver/x86_64/falco_debian_6.1.192-2-amd64_1.ko"))
            .unwrap(),
        b"module bytes"
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("driver/site/index.json")).unwrap())
            .unwrap();
    assert!(index.to_string().contains("9.0.0+driver"), "{index}");

    // `release index` rewrites a lost index from a listing of the repository.
    std::fs::remove_file(repo.join("driver/site/index.json")).unwrap();
    let key = key_file.display().to_string();
    let out = run(&["index", "--repo", &url, "--key-file", &key]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 driver versions"),
        "{out:?}"
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(repo.join("driver/site/index.json")).unwrap()
        )
        .unwrap(),
        index
    );

    // Published outputs leave the plan; publishing again uploads nothing.
    let again = drivers(Some(&dir.path().join("output")));
    assert_eq!(again["outputs_to_build"], 6);
    assert_eq!(again["already_published"], 2);
    assert_eq!(again["uploaded"], serde_json::json!([]));
}

#[test]
fn since_a_commit_only_changed_configs_are_planned() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key_file) = write_test_key(dir.path());
    let checkout = dir.path().join("checkout");
    let configs = checkout.join("driverkit/config");
    std::fs::create_dir_all(&configs).unwrap();
    let copy = std::process::Command::new("cp")
        .args([
            "-r",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/sample/driverkit/config/."
            ),
        ])
        .arg(&configs)
        .status()
        .unwrap();
    assert!(copy.success());
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&checkout)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "configs"]);
    // A contributor adds one kernel.
    let new = configs.join("9.0.0+driver/x86_64/debian_6.1.193-1-amd64_1.yaml");
    let old = configs.join("9.0.0+driver/x86_64/debian_6.1.192-2-amd64_1.yaml");
    std::fs::write(
        &new,
        std::fs::read_to_string(old)
            .unwrap()
            .replace("6.1.192-2-amd64", "6.1.193-1-amd64"),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "a new kernel"]);

    let url = format!("file://{}", dir.path().join("repo").display());
    let out = run(&[
        "drivers",
        "--configs",
        configs.to_str().unwrap(),
        "--since",
        "HEAD~1",
        "--repo",
        &url,
        "--key-file",
        key_file.to_str().unwrap(),
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["configs"], 5);
    assert_eq!(report["to_build"], 1, "{report}");
    assert_eq!(report["outputs_to_build"], 2, "{report}");
}
