//! The index of prebuilt drivers, from a listing of published objects.

use falco_artifacts_driver_grid::{DriverIndex, PublishedObject, INDEX_HTML_KEY, INDEX_JSON_KEY};

fn object(key: &str, size: u64) -> PublishedObject {
    PublishedObject {
        key: key.to_owned(),
        size,
        last_modified: "2026-11-20T10:00:00Z".to_owned(),
    }
}

#[test]
fn index_json_version_json_and_html() {
    let objects = [
        object(
            "driver/10.2.0+driver/x86_64/falco_ubuntu_5.15.0-1019-aws_38~20.04.1.ko",
            4_000_000,
        ),
        object(
            "driver/10.2.0+driver/x86_64/falco_ubuntu_5.15.0-1019-aws_38~20.04.1.o",
            900,
        ),
        object(
            "driver/10.2.0+driver/aarch64/falco_bottlerocket_5.15.160_1_1.27.0.ko",
            2048,
        ),
        object(
            "driver/9.1.0+driver/x86_64/falco_almalinux_4.18.0-513.5.1.el8_9.x86_64_1.o",
            5000,
        ),
        object(
            "driver/2aa88dcf6243982697811df4c1b484bcbe9488a2/falco_ubuntu-aws_4.15.0-1057-aws_1.ko",
            10,
        ),
        // Not drivers: ignored.
        object("driver/site/index.json", 10),
        object("driver/10.2.0+driver/x86_64/notes.txt", 10),
        object("packages/deb/stable/falco-0.44.0-x86_64.deb", 10),
    ];
    let index = DriverIndex::build(&objects, "https://download.example.invalid/");
    assert_eq!(index.versions.len(), 3);

    let versions: Vec<String> = serde_json::from_str(&index.index_json()).unwrap();
    assert_eq!(
        versions,
        [
            "10.2.0+driver",
            "9.1.0+driver",
            "2aa88dcf6243982697811df4c1b484bcbe9488a2"
        ]
    );

    let v10 = index
        .versions
        .keys()
        .find(|v| v.as_str() == "10.2.0+driver")
        .unwrap();
    let site: serde_json::Value = serde_json::from_str(&index.version_json(v10)).unwrap();
    assert_eq!(
        site["index"],
        serde_json::json!({
            "lib": ["10.2.0+driver"],
            "arch": ["aarch64", "x86_64"],
            "kind": ["ebpf", "kmod"],
            "target": ["bottlerocket", "ubuntu"],
        })
    );
    let entries = &site["drivers"];
    assert_eq!(entries.as_array().unwrap().len(), 3);
    assert_eq!(
        entries[1],
        serde_json::json!({
            "lib": "10.2.0+driver",
            "arch": "x86_64",
            "kind": "kmod",
            "kernel": "5.15.0-1019-aws",
            "target": "ubuntu",
            "name": "falco_ubuntu_5.15.0-1019-aws_38~20.04.1.ko",
            "download": "https://download.example.invalid/driver/10.2.0%2Bdriver/x86_64/falco_ubuntu_5.15.0-1019-aws_38~20.04.1.ko",
            "sizebytes": 4_000_000,
            "size": "3.8 MiB",
            "lastmodified": "2026-11-20T10:00:00Z"
        })
    );
    assert_eq!(entries[0]["arch"], "aarch64");
    assert_eq!(entries[0]["kernel"], "5.15.160");
    assert_eq!(entries[2]["kind"], "ebpf");

    let legacy = index
        .versions
        .iter()
        .find(|(v, _)| v.as_str().starts_with("2aa88"))
        .unwrap()
        .1;
    assert_eq!(legacy[0].arch, "x86_64");
    assert_eq!(
        legacy[0].download,
        "https://download.example.invalid/driver/2aa88dcf6243982697811df4c1b484bcbe9488a2/falco_ubuntu-aws_4.15.0-1057-aws_1.ko"
    );
    let alma = &index
        .versions
        .iter()
        .find(|(v, _)| v.as_str() == "9.1.0+driver")
        .unwrap()
        .1[0];
    assert_eq!(alma.kernel, "4.18.0-513.5.1.el8_9.x86_64");

    // The page is the same whatever the drivers: it loads the JSON files.
    assert_eq!(index.index_html(), falco_artifacts_driver_grid::SITE_PAGE);
    assert!(index.index_html().len() < 100 * 1024);

    let files = index.files();
    let keys: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            INDEX_JSON_KEY,
            "driver/site/2aa88dcf6243982697811df4c1b484bcbe9488a2.json",
            "driver/site/9.1.0+driver.json",
            "driver/site/10.2.0+driver.json",
            INDEX_HTML_KEY,
        ]
    );
}

#[test]
fn an_empty_listing_gives_an_empty_index() {
    let index = DriverIndex::build(&[], "https://download.example.invalid");
    assert_eq!(index.index_json(), "[]");
    assert_eq!(index.files().len(), 2);
    assert!(index
        .index_html()
        .contains("<h1>Falco prebuilt drivers</h1>"));
    let unknown: serde_json::Value =
        serde_json::from_str(&index.version_json(&"1.0.0+driver".parse().unwrap())).unwrap();
    assert_eq!(
        unknown,
        serde_json::json!({"index": {"lib": [], "arch": [], "kind": [], "target": []}, "drivers": []})
    );
}
