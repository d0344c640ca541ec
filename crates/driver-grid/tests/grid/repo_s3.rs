//! The repository proofs of `repo.rs` on S3: `moto_server` on loopback, path-style, a bucket
//! anyone may read like a public download bucket, fetched with curl.

use std::process::Command;

use falco_artifacts_driver_grid::publish::{RepoStore, StoreOptions};
use falco_artifacts_driver_grid::{scan_built, DriverRepository, RepositoryError};
use falco_artifacts_testkit::{require_tool, MotoS3};

use crate::repo::{built_dir, http_get, lifecycle, BUILT};

fn options(s3: &MotoS3) -> StoreOptions {
    StoreOptions {
        endpoint: Some(s3.endpoint()),
        region: Some(s3.region().into()),
        access_key_id: Some(s3.access_key().into()),
        secret_access_key: Some(s3.secret_key().into()),
        allow_http: true,
        path_style: true,
        ..StoreOptions::default()
    }
}

/// A public-read bucket and a store on it.
fn public_store(s3: &MotoS3, bucket: &str) -> RepoStore {
    s3.create_bucket(bucket).unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    let auth = format!(
        "Authorization: AWS4-HMAC-SHA256 Credential={}/20000101/{}/s3/aws4_request, \
         SignedHeaders=host, Signature=0",
        s3.access_key(),
        s3.region()
    );
    let status = Command::new(require_tool("curl", "Debian package curl").unwrap())
        .args(["-fsS", "-o", "/dev/null", "-X", "PUT", "-H", &auth])
        // Without it the server parses the body as a form and drops it.
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &policy,
        ])
        .arg(format!("{}/{bucket}?policy", s3.endpoint()))
        .status()
        .unwrap();
    assert!(status.success(), "setting the bucket policy failed");
    RepoStore::from_url_with(&format!("s3://{bucket}"), &options(s3)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_skip_index_and_cleanup_on_s3() {
    let s3 = MotoS3::start().unwrap();
    let store = public_store(&s3, "falco-drivers");
    let site = format!("{}/falco-drivers", s3.endpoint());
    lifecycle(store, &site, &|key, body| {
        s3.put_object("falco-drivers", key, body).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_bucket_fails_clearly_and_creates_nothing() {
    let s3 = MotoS3::start().unwrap();
    let store = RepoStore::from_url_with("s3://no-such-bucket", &options(&s3)).unwrap();
    let dir = built_dir(&BUILT);
    let built = scan_built(dir.path()).unwrap();
    let err = DriverRepository::new(store)
        .unwrap()
        .publish(&built)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RepositoryError::Store { action: "list", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("cannot list the driver repository"),
        "{err}"
    );
    assert!(
        s3.get_object("no-such-bucket", "driver/site/index.json")
            .is_err()
            || s3
                .get_object("no-such-bucket", "driver/site/index.json")
                .unwrap()
                .is_none()
    );
}

/// Coverage on a repository in S3: per driver version and arch, the kernels of
/// kernel-crawler's lists without a module (or a probe where one is expected), then the
/// report published beside the site for the page to show.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coverage_of_kernel_crawlers_lists_against_a_repository_in_s3() {
    use falco_artifacts_driver_grid::core::Arch;
    use falco_artifacts_driver_grid::{Coverage, KernelList};

    let s3 = MotoS3::start().unwrap();
    let store = public_store(&s3, "falco-coverage");
    let built: [(&str, &[u8]); 5] = [
        (
            "10.2.0+driver/x86_64/falco_debian_6.1.119-1-amd64_1.ko",
            b"a",
        ),
        (
            "10.2.0+driver/x86_64/falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko",
            b"b",
        ),
        (
            "9.1.0+driver/x86_64/falco_debian_6.1.119-1-amd64_1.ko",
            b"c",
        ),
        ("9.1.0+driver/x86_64/falco_debian_6.1.119-1-amd64_1.o", b"d"),
        (
            "9.1.0+driver/x86_64/falco_centos_3.10.0-1160.119.1.el7.x86_64_1.ko",
            b"e",
        ),
    ];
    let dir = built_dir(&built);
    let repo = DriverRepository::new(store).unwrap();
    repo.publish(&scan_built(dir.path()).unwrap())
        .await
        .unwrap();

    let fixture = |arch: &str| {
        std::fs::read_to_string(
            crate::fixture("kernel-crawler")
                .join(arch)
                .join("list.json"),
        )
        .unwrap()
    };
    let mut list = KernelList::parse(&fixture("x86_64"), Some(Arch::X86_64)).unwrap();
    list.entries.extend(
        KernelList::parse(&fixture("aarch64"), Some(Arch::Aarch64))
            .unwrap()
            .entries,
    );
    let shipped = [
        "10.2.0+driver".parse().unwrap(),
        "9.1.0+driver".parse().unwrap(),
    ];
    let coverage: Coverage = repo
        .coverage(&list, &shipped, "2026-12-02T00:00:00Z")
        .await
        .unwrap();

    let v10 = &coverage.versions[&shipped[0]];
    let v9 = &coverage.versions[&shipped[1]];
    // 10.x is module-only: no probe is ever missing.
    assert_eq!(
        (
            v10["x86_64"].kernels,
            v10["x86_64"].missing_modules(),
            v10["x86_64"].missing_probes()
        ),
        (6, 4, 0)
    );
    assert_eq!(
        (v10["aarch64"].kernels, v10["aarch64"].missing_modules()),
        (2, 2)
    );
    let missing: Vec<&str> = v10["x86_64"]
        .missing
        .iter()
        .map(|m| m.kernelrelease.as_str())
        .collect();
    assert_eq!(
        missing,
        [
            "5.10.228-219.884.amzn2.x86_64",
            "3.10.0-1160.119.1.el7.x86_64",
            "6.6.60-flatcar",
            "5.15.0-94-generic"
        ]
    );
    // 9.1.0 has the legacy probe: expected where the kernel allows one (not centos 3.10).
    assert_eq!(
        (
            v9["x86_64"].missing_modules(),
            v9["x86_64"].missing_probes()
        ),
        (4, 4)
    );
    assert!(v9["x86_64"]
        .missing
        .iter()
        .all(|m| m.target != "centos" && m.target != "debian"));
    let amzn_arm = v9["aarch64"]
        .missing
        .iter()
        .find(|m| m.target == "amazonlinux2")
        .unwrap();
    assert_eq!(
        amzn_arm.missing,
        ["kmod"],
        "aarch64 4.14 is below the probe's minimum"
    );

    let json = coverage.to_json();
    assert_eq!(json["generated"], "2026-12-02T00:00:00Z");
    assert_eq!(json["versions"]["10.2.0+driver"]["x86_64"]["kernels"], 6);
    assert_eq!(
        json["versions"]["9.1.0+driver"]["x86_64"]["missing"][0],
        serde_json::json!({"target": "amazonlinux2", "kernelrelease": "5.10.228-219.884.amzn2.x86_64",
                           "kernelversion": "1", "missing": ["kmod", "ebpf"]})
    );
    let table = coverage.to_table();
    assert!(
        table.contains("10.2.0+driver        x86_64          6          4         0"),
        "{table}"
    );
    assert!(
        table.contains("missing kmod 10.2.0+driver aarch64: ubuntu-aws 6.5.0-1025-aws 26~22.04.1"),
        "{table}"
    );

    // Published for the page, read back over plain HTTP from the bucket.
    repo.write_coverage(&coverage).await.unwrap();
    let (status, body) = http_get(&format!(
        "{}/falco-coverage/driver/site/coverage.json",
        s3.endpoint()
    ));
    assert_eq!(status, 200);
    let served: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served, json);
    // Rewriting the site keeps the coverage report.
    repo.regenerate_index().await.unwrap();
    assert!(s3
        .get_object("falco-coverage", "driver/site/coverage.json")
        .unwrap()
        .is_some());
}
