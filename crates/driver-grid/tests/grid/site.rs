//! The drivers site in Falco's exact shape, and the page read by a real browser: headless
//! Debian chromium loads it from an HTTP server, picks a driver version and a target from the
//! URL, and every download link it shows fetches the driver.

use std::path::Path;

use falco_artifacts_driver_grid::core::Arch;
use falco_artifacts_driver_grid::publish::RepoStore;
use falco_artifacts_driver_grid::{scan_built, DriverRepository, KernelList, SITE_PAGE};
use falco_artifacts_testkit::{Chromium, HttpServer};

const DV: &str = "10.2.0+driver";

/// Built drivers of two driver versions, each file with its own bytes.
fn built(root: &Path) {
    let files = [
        (
            "10.2.0+driver/x86_64",
            "falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko",
        ),
        (
            "10.2.0+driver/x86_64",
            "falco_ubuntu-gcp_6.8.0-1015-gcp_16~22.04.1.ko",
        ),
        (
            "10.2.0+driver/aarch64",
            "falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko",
        ),
        ("10.2.0+driver/x86_64", "falco_debian_6.1.119-1-amd64_1.ko"),
        (
            "10.2.0+driver/x86_64",
            "falco_amazonlinux2_5.10.228-219.884.amzn2.x86_64_1.ko",
        ),
        (
            "9.1.0+driver/x86_64",
            "falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko",
        ),
        (
            "9.1.0+driver/x86_64",
            "falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.o",
        ),
    ];
    for (dir, name) in files {
        let dir = root.join("output").join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), format!("\x7fELF {dir:?} {name}")).unwrap();
    }
}

/// The `href`s of the rows of class `driver` in a dumped DOM.
fn driver_links(dom: &str) -> Vec<String> {
    dom.split("<tr class=\"driver\">")
        .skip(1)
        .filter_map(|row| {
            let row = &row[..row.find("</tr>")?];
            let start = row.find("href=\"")? + 6;
            let end = start + row[start..].find('"')?;
            Some(row[start..end].replace("&amp;", "&"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_has_falcos_shape_and_the_page_filters_and_links_in_chromium() {
    let chromium = Chromium::new().unwrap();
    let work = tempfile::tempdir().unwrap();
    let www = work.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let server = HttpServer::serve(&www).unwrap();
    let base = server.url().trim_end_matches('/').to_owned();

    built(&work.path().join("built"));
    let store = RepoStore::from_url(&format!("file://{}", www.display())).unwrap();
    let repo = DriverRepository::new(store).unwrap().with_base_url(&base);
    let drivers = scan_built(&work.path().join("built")).unwrap();
    repo.publish(&drivers).await.unwrap();

    // index.json: the driver versions, newest first.
    let site = www.join("driver/site");
    let versions: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("index.json")).unwrap()).unwrap();
    assert_eq!(versions, serde_json::json!([DV, "9.1.0+driver"]));
    // <driverversion>.json: {"index": {lib, arch, kind, target}, "drivers": [...]}, field by field.
    let v10: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join(format!("{DV}.json"))).unwrap()).unwrap();
    let top: Vec<&str> = v10
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["drivers", "index"]);
    assert_eq!(
        v10["index"],
        serde_json::json!({
            "lib": [DV],
            "arch": ["aarch64", "x86_64"],
            "kind": ["kmod"],
            "target": ["amazonlinux2", "debian", "ubuntu-gcp"],
        })
    );
    let drivers = v10["drivers"].as_array().unwrap();
    assert_eq!(drivers.len(), 5);
    let gcp = drivers
        .iter()
        .find(|d| d["arch"] == "x86_64" && d["kernel"] == "6.5.0-1025-gcp")
        .unwrap();
    let fields: Vec<&str> = gcp
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "arch",
            "download",
            "kernel",
            "kind",
            "lastmodified",
            "lib",
            "name",
            "size",
            "sizebytes",
            "target"
        ]
    );
    assert_eq!(gcp["lib"], DV);
    assert_eq!(gcp["kind"], "kmod");
    assert_eq!(gcp["target"], "ubuntu-gcp");
    assert_eq!(gcp["name"], "falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko");
    assert_eq!(
        gcp["download"],
        format!(
            "{base}/driver/10.2.0%2Bdriver/x86_64/falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko"
        )
    );
    assert!(gcp["sizebytes"].as_u64().unwrap() > 0);
    assert!(gcp["size"].as_str().unwrap().ends_with(" B"));
    assert!(gcp["lastmodified"].as_str().unwrap().ends_with('Z'));
    let page = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert_eq!(page, SITE_PAGE);
    assert!(
        !page.contains("<script src") && !page.contains("<link"),
        "everything is inline"
    );

    // The page in a browser: driver version and target from the URL.
    let url = format!("{base}/driver/site/index.html#version=10.2.0%2Bdriver&target=ubuntu-gcp");
    let dom = chromium.dump_dom(&url).unwrap();
    let links = driver_links(&dom);
    let mut expected = vec![
        format!(
            "{base}/driver/10.2.0%2Bdriver/aarch64/falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko"
        ),
        format!(
            "{base}/driver/10.2.0%2Bdriver/x86_64/falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.ko"
        ),
        format!(
            "{base}/driver/10.2.0%2Bdriver/x86_64/falco_ubuntu-gcp_6.8.0-1015-gcp_16~22.04.1.ko"
        ),
    ];
    let mut found = links.clone();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "{dom}");
    assert!(
        dom.contains("3 of 5 drivers of 10.2.0+driver match."),
        "{dom}"
    );
    // Each link fetches the driver the repository holds.
    for link in &links {
        let body = ureq::get(link)
            .call()
            .unwrap()
            .into_body()
            .read_to_vec()
            .unwrap();
        let key = link
            .strip_prefix(&format!("{base}/"))
            .unwrap()
            .replace("%2B", "+");
        assert_eq!(body, std::fs::read(www.join(&key)).unwrap(), "{link}");
    }

    // Arch, kind and kernel text narrow it further; another version loads its own file.
    let narrowed = chromium
        .dump_dom(&format!(
            "{base}/driver/site/index.html#version=10.2.0%2Bdriver&target=ubuntu-gcp&arch=x86_64&kind=kmod&kernel=6.8"
        ))
        .unwrap();
    assert_eq!(
        driver_links(&narrowed),
        [format!(
            "{base}/driver/10.2.0%2Bdriver/x86_64/falco_ubuntu-gcp_6.8.0-1015-gcp_16~22.04.1.ko"
        )],
        "{narrowed}"
    );
    let old = chromium
        .dump_dom(&format!(
            "{base}/driver/site/index.html#version=9.1.0%2Bdriver&kind=ebpf"
        ))
        .unwrap();
    assert_eq!(
        driver_links(&old),
        [format!(
            "{base}/driver/9.1.0%2Bdriver/x86_64/falco_ubuntu-gcp_6.5.0-1025-gcp_26~22.04.1.o"
        )],
        "{old}"
    );

    // The coverage section: kernels of kernel-crawler's lists without a driver.
    let list = |arch: &str, a| {
        let text = std::fs::read_to_string(
            crate::fixture("kernel-crawler")
                .join(arch)
                .join("list.json"),
        )
        .unwrap();
        KernelList::parse(&text, Some(a)).unwrap()
    };
    let mut kernels = list("x86_64", Arch::X86_64);
    kernels
        .entries
        .extend(list("aarch64", Arch::Aarch64).entries);
    let coverage = repo
        .coverage(&kernels, &[DV.parse().unwrap()], "2026-12-02T00:00:00Z")
        .await
        .unwrap();
    repo.write_coverage(&coverage).await.unwrap();
    let dom = chromium
        .dump_dom(&format!(
            "{base}/driver/site/index.html#version=10.2.0%2Bdriver&target=amazonlinux2"
        ))
        .unwrap();
    let missing: Vec<&str> = dom.split("<tr class=\"missing\">").skip(1).collect();
    assert_eq!(missing.len(), 1, "{dom}");
    assert!(
        missing[0].contains("4.14.355-275.582.amzn2.aarch64") && missing[0].contains("aarch64"),
        "{dom}"
    );
    assert!(
        dom.contains(
            "1 of the 8 kernels kernel-crawler lists lack a prebuilt driver of 10.2.0+driver"
        ),
        "{dom}"
    );

    // A screenshot stays in the test's output directory for people to look at.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("drivers-site");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("ubuntu-gcp.png");
    chromium.screenshot(&url, &shot).unwrap();
    let coverage_shot = shots.join("coverage-amazonlinux2.png");
    chromium
        .screenshot(
            &format!("{base}/driver/site/index.html#version=10.2.0%2Bdriver&target=amazonlinux2"),
            &coverage_shot,
        )
        .unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
}
