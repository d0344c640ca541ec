//! Publishing built drivers, the index of prebuilt drivers, cleanup and stats on a real
//! `file://` repository served over loopback HTTP (`python3 -m http.server`), fetched with
//! curl; the same proofs run on S3 in `repo_s3.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use falco_artifacts_driver_grid::publish::{FailMode, FailingStore, RepoStore, VerifyOptions};
use falco_artifacts_driver_grid::{
    scan_built, BuiltDriver, BuiltError, CleanupError, CleanupMode, CleanupSelection,
    DriverRepository, DriverVersion, RepositoryError,
};
use falco_artifacts_testkit::{require_tool, HttpServer};

/// Driverkit's output directory: two driver versions by arch, and a legacy commit.
pub(crate) const BUILT: [(&str, &[u8]); 5] = [
    (
        "10.2.0+driver/x86_64/falco_ubuntu-generic_5.15.0-91-generic_101.ko",
        b"ko 10.2.0 x86_64",
    ),
    (
        "10.2.0+driver/x86_64/falco_ubuntu-generic_5.15.0-91-generic_101.o",
        b"probe 10.2.0 x86_64",
    ),
    (
        "10.2.0+driver/aarch64/falco_bottlerocket_5.15.160_1_1.27.0.ko",
        b"ko 10.2.0 aarch64",
    ),
    (
        "9.1.0+driver/x86_64/falco_almalinux_4.18.0-513.5.1.el8_9.x86_64_1.ko",
        b"ko 9.1.0",
    ),
    (
        "2aa88dcf6243982697811df4c1b484bcbe9488a2/falco_ubuntu-aws_4.15.0-1057-aws_1.ko",
        b"ko legacy",
    ),
];

/// A driver another tool published before: in the listing, not in the generic index.
pub(crate) const FOREIGN: (&str, &[u8]) = (
    "driver/8.0.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.ko",
    b"ko 8.0.0 from elsewhere",
);

pub(crate) fn built_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, body) in files {
        write(&dir.path().join("output").join(path), body);
    }
    dir
}

fn write(path: &Path, body: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

fn curl() -> PathBuf {
    require_tool("curl", "Debian package curl").unwrap()
}

/// `GET url` with curl: status and body.
pub(crate) fn http_get(url: &str) -> (u16, Vec<u8>) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new(curl())
        .args(["-sS", "-o"])
        .arg(out.path())
        .args(["-w", "%{http_code}", url])
        .output()
        .unwrap();
    assert!(output.status.success(), "curl {url}: {output:?}");
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    (status, std::fs::read(out.path()).unwrap())
}

/// The counting store under `store`, and a driver repository over it.
pub(crate) fn counted(store: &RepoStore, base_url: &str) -> (Arc<FailingStore>, DriverRepository) {
    let failing = Arc::new(FailingStore::new(Arc::clone(store.object_store())));
    let repo = DriverRepository::new(RepoStore::new(failing.clone(), store.root()).unwrap())
        .unwrap()
        .with_base_url(base_url);
    (failing, repo)
}

fn keys(built: &[BuiltDriver]) -> Vec<String> {
    built.iter().map(|b| b.key.clone()).collect()
}

/// The whole life of a driver repository at `store` (served at `site_url`, the URL of the
/// store's root): publish, skip, index over HTTP, stats, cleanup dry run and confirm.
/// `seed` puts an object into the store behind the repository's back.
pub(crate) async fn lifecycle(store: RepoStore, site_url: &str, seed: &dyn Fn(&str, &[u8])) {
    let (failing, repo) = counted(&store, site_url);
    seed(FOREIGN.0, FOREIGN.1);
    let dir = built_dir(&BUILT[..4]);
    let built = scan_built(dir.path()).unwrap();
    assert_eq!(built.len(), 4);

    // First publish: everything goes up and the index is written.
    let first = repo.publish(&built).await.unwrap();
    assert_eq!(first.uploaded, keys(&built));
    assert!(first.skipped.is_empty());
    assert!(first.index.is_some());

    // Second publish of the same drivers: a listing of each of its driver versions and of
    // the site (whatever else the repository holds), and the top index.json for the files
    // waiting for deletion that listings leave out; nothing else.
    failing.reset();
    let second = repo.publish(&built).await.unwrap();
    assert!(second.uploaded.is_empty(), "{second:?}");
    assert_eq!(second.skipped, keys(&built));
    assert!(second.index.is_none());
    let log = failing.log();
    let versions: std::collections::BTreeSet<_> =
        built.iter().map(|b| b.driver_version.to_string()).collect();
    assert_eq!(log.len(), versions.len() + 2, "{log:#?}");
    assert!(
        log.iter()
            .all(|l| l.contains(" list ") || l.ends_with(" get driver/index.json")),
        "{log:#?}"
    );
    for version in &versions {
        assert!(
            log.iter()
                .any(|l| l.ends_with(&format!("driver/{version}"))),
            "{log:#?}"
        );
    }
    assert!(log.iter().any(|l| l.ends_with("driver/site")), "{log:#?}");

    // One more driver: uploaded alone; the published ones cost no request each.
    write(&dir.path().join("output").join(BUILT[4].0), BUILT[4].1);
    let built = scan_built(dir.path()).unwrap();
    failing.reset();
    let third = repo.publish(&built).await.unwrap();
    assert_eq!(third.uploaded, [format!("driver/{}", BUILT[4].0)]);
    assert_eq!(third.skipped.len(), 4);
    let log = failing.log();
    for skipped in &third.skipped {
        assert!(
            !log.iter().any(|line| line.ends_with(skipped.as_str())),
            "a request for the skipped {skipped}: {log:#?}"
        );
    }
    // The repository lock reads its slot back and lists once more after creating it, the
    // upload is checked again under the lock, and the top file's version is read for fencing
    // (on this store, which cannot write conditionally, the first conditional write is asked
    // and refused once): a few requests, not one per published driver.
    assert!(
        log.len() < 38,
        "publishing one driver took {} requests: {log:#?}",
        log.len()
    );
    // Only the site file of the version it went to is rewritten, with the list of versions;
    // the other versions' files and the page are left alone.
    let site_puts: Vec<&str> = log
        .iter()
        .filter(|line| line.contains(" put") && line.contains("driver/site/"))
        .map(|line| line.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        site_puts,
        [
            "driver/site/2aa88dcf6243982697811df4c1b484bcbe9488a2.json",
            "driver/site/index.json"
        ],
        "{log:#?}"
    );

    // The index, as a tool and a person read it.
    let (status, body) = http_get(&format!("{site_url}/driver/site/index.json"));
    assert_eq!(status, 200);
    let versions: Vec<String> = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        versions,
        [
            "10.2.0+driver",
            "9.1.0+driver",
            "8.0.0+driver",
            "2aa88dcf6243982697811df4c1b484bcbe9488a2"
        ]
    );
    let (status, body) = http_get(&format!("{site_url}/driver/site/10.2.0%2Bdriver.json"));
    assert_eq!(status, 200);
    let site_json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let entries = site_json["drivers"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 3);
    let x86_ko = entries
        .iter()
        .find(|e| e["arch"] == "x86_64" && e["kind"] == "kmod")
        .unwrap();
    assert_eq!(x86_ko["target"], "ubuntu-generic");
    assert_eq!(x86_ko["kernel"], "5.15.0-91-generic");
    assert_eq!(x86_ko["sizebytes"], BUILT[0].1.len());
    assert_eq!(
        x86_ko["download"],
        format!("{site_url}/driver/10.2.0%2Bdriver/x86_64/falco_ubuntu-generic_5.15.0-91-generic_101.ko")
    );
    for entry in &entries {
        let (status, body) = http_get(entry["download"].as_str().unwrap());
        assert_eq!(status, 200, "{entry}");
        assert_eq!(body.len() as u64, entry["sizebytes"].as_u64().unwrap());
    }

    let (status, html) = http_get(&format!("{site_url}/driver/site/index.html"));
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    assert_eq!(html, falco_artifacts_driver_grid::SITE_PAGE);
    // The page links what the per-version files list.
    let mut links = Vec::new();
    for version in &versions {
        let (status, body) = http_get(&format!(
            "{site_url}/driver/site/{}.json",
            version.replace('+', "%2B")
        ));
        assert_eq!(status, 200, "{version}");
        let site_json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for driver in site_json["drivers"].as_array().unwrap() {
            links.push(driver["download"].as_str().unwrap().to_owned());
        }
    }
    // A module and a probe for ubuntu, one module each for the others.
    assert_eq!(links.len(), 6, "{links:?}");
    let expected: BTreeMap<String, &[u8]> = BUILT
        .iter()
        .map(|(k, b)| (format!("driver/{k}"), *b))
        .chain([(FOREIGN.0.to_owned(), FOREIGN.1)])
        .collect();
    for link in &links {
        assert!(!link.contains('+'), "{link}: `+` must be %2B");
        let (status, body) = http_get(link);
        assert_eq!(status, 200, "{link} does not resolve");
        let key = link
            .strip_prefix(&format!("{site_url}/"))
            .unwrap()
            .replace("%2B", "+");
        assert_eq!(body, expected[&key], "{link}");
    }
    assert!(links
        .iter()
        .any(|l| l.contains("/driver/9.1.0%2Bdriver/x86_64/")));

    // The generic repository underneath is consistent, apart from the foreign driver.
    let report = repo
        .generic()
        .verify(&VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert!(
        report.problems[0].to_string().contains("8.0.0+driver"),
        "{report:?}"
    );

    // Stats from the listing.
    let stats = repo.stats().await.unwrap();
    assert_eq!(stats.total.configs, 5);
    assert_eq!((stats.total.modules, stats.total.probes), (5, 1));
    assert_eq!(stats.rows[0].driver_version.as_str(), "10.2.0+driver");
    assert_eq!(stats.rows.len(), 5);

    // Cleanup: a dry run lists and deletes nothing.
    let shipped: [DriverVersion; 1] = ["10.2.0+driver".parse().unwrap()];
    let older = CleanupSelection::OlderThan(shipped[0].clone());
    let before = repo.listing().await.unwrap().existing_keys();
    failing.reset();
    let dry = repo
        .cleanup(&older, &shipped, CleanupMode::DryRun)
        .await
        .unwrap();
    // One listing, and the top index.json for the files waiting for deletion it leaves out.
    assert_eq!(failing.requests(), 2, "{:#?}", failing.log());
    assert!(!dry.deleted);
    assert_eq!(
        dry.plan.keys,
        [
            format!("driver/{}", BUILT[4].0),
            FOREIGN.0.to_owned(),
            format!("driver/{}", BUILT[3].0),
        ]
    );
    assert_eq!(dry.plan.versions.len(), 3);
    assert_eq!(
        repo.listing().await.unwrap().existing_keys().len(),
        before.len()
    );

    // Nothing named: refused, nothing deleted ("not shipped" alone never deletes). A shipped
    // version named: refused too.
    assert!(matches!(
        repo.cleanup(
            &CleanupSelection::Versions(Vec::new()),
            &shipped,
            CleanupMode::Confirm
        )
        .await
        .unwrap_err(),
        RepositoryError::Cleanup(CleanupError::NothingSelected)
    ));
    assert!(matches!(
        repo.cleanup(
            &CleanupSelection::Versions(shipped.to_vec()),
            &shipped,
            CleanupMode::Confirm
        )
        .await
        .unwrap_err(),
        RepositoryError::Cleanup(CleanupError::Protected { .. })
    ));
    assert_eq!(
        repo.listing().await.unwrap().existing_keys().len(),
        before.len()
    );
    // Named versions only: 8.0.0+driver goes alone.
    let named = CleanupSelection::Versions(vec!["8.0.0+driver".parse().unwrap()]);
    let one = repo
        .cleanup(&named, &shipped, CleanupMode::DryRun)
        .await
        .unwrap();
    assert_eq!(one.plan.versions.len(), 1);
    assert!(one
        .plan
        .keys
        .iter()
        .all(|k| k.starts_with("driver/8.0.0+driver/")));

    // Confirmed: the old versions go, the shipped one stays, the index follows.
    let done = repo
        .cleanup(&older, &shipped, CleanupMode::Confirm)
        .await
        .unwrap();
    assert!(done.deleted);
    let after = repo.listing().await.unwrap().existing_keys();
    for key in &dry.plan.keys {
        assert!(!after.contains(key), "{key} survived the cleanup");
    }
    // The indexed ones are still served to a reader of the generic index before the
    // cleanup, until no kept generation names them (issue 16 scenario 3); the foreign file
    // no index named went at once.
    for key in &dry.plan.keys {
        let url = format!("{site_url}/{}", key.replace('+', "%2B"));
        let status = http_get(&url).0;
        if key == FOREIGN.0 {
            // S3 says 403 to an anonymous reader without the right to list the bucket.
            assert!(matches!(status, 403 | 404), "{url}");
        } else {
            assert_eq!(status, 200, "{url}");
        }
    }
    for key in BUILT[..3].iter().map(|(k, _)| format!("driver/{k}")) {
        assert!(after.contains(&key), "{key} is shipped and was deleted");
    }
    let (_, body) = http_get(&format!("{site_url}/driver/site/index.json"));
    let versions: Vec<String> = serde_json::from_slice(&body).unwrap();
    assert_eq!(versions, ["10.2.0+driver"]);
    let gone = format!("{site_url}/driver/site/9.1.0%2Bdriver.json");
    assert!(matches!(http_get(&gone).0, 403 | 404), "{gone}");
    let report = repo
        .generic()
        .verify(&VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    // A second confirmed cleanup has nothing left to do.
    let again = repo
        .cleanup(&older, &shipped, CleanupMode::Confirm)
        .await
        .unwrap();
    assert!(again.plan.is_empty() && !again.deleted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_skip_index_and_cleanup_on_a_file_repository() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let store = RepoStore::from_url(&format!("file://{}", site.path().display())).unwrap();
    let root = site.path().to_owned();
    lifecycle(store, &http.url(), &|key, body| {
        write(&root.join(key), body)
    })
    .await;
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

#[test]
fn built_files_off_the_naming_rule_are_refused_by_name() {
    let cases: [(&str, &str); 5] = [
        (
            "10.2.0+driver/x86_64/falco-ubuntu_5.15.0_1.ko",
            "naming rule",
        ),
        ("10.2.0+driver/x86_64/notes.txt", "naming rule"),
        ("10.2.0+driver/x86_64/falco_Ubuntu_5.15.0_1.ko", "target"),
        (
            "10.2.0+driver/i386/falco_ubuntu_5.15.0_1.ko",
            "architecture",
        ),
        ("latest/x86_64/falco_ubuntu_5.15.0_1.ko", "driver version"),
    ];
    for (path, what) in cases {
        let dir = built_dir(&[BUILT[0], (path, b"x")]);
        let err = scan_built(dir.path()).unwrap_err();
        let text = format!(
            "{err}: {}",
            std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        let shown = path.split('/').find(|p| text.contains(*p));
        assert!(shown.is_some() && text.contains(what), "{path}: {text}");
        assert!(text.contains("expected"), "{path}: {text}");
        assert!(
            matches!(
                err,
                BuiltError::BadFile { .. }
                    | BuiltError::ArchDirectory { .. }
                    | BuiltError::DriverVersionDirectory { .. }
            ),
            "{err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unwritable_store_fails_clearly_and_changes_nothing() {
    let dir = built_dir(&BUILT);
    let built = scan_built(dir.path()).unwrap();

    // `driver` is a regular file: no directory can be made under it, even by root.
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("driver"), b"in the way").unwrap();
    let store = RepoStore::from_url(&format!("file://{}", site.path().display())).unwrap();
    let before = snapshot(site.path());
    let repo = DriverRepository::new(store).unwrap();
    let err = repo.publish(&built).await.unwrap_err();
    assert!(matches!(err, RepositoryError::Store { .. }), "{err:?}");
    assert!(err.to_string().contains("driver repository"), "{err}");
    assert_eq!(snapshot(site.path()), before);

    // A store that stops accepting writes at the first upload: nothing lands, and a retry
    // publishes everything.
    let site = tempfile::tempdir().unwrap();
    let store = RepoStore::from_url(&format!("file://{}", site.path().display())).unwrap();
    let (failing, repo) = counted(&store, "");
    let scratch = tempfile::tempdir().unwrap();
    let scratch_store =
        RepoStore::from_url(&format!("file://{}", scratch.path().display())).unwrap();
    let (probe, scratch_repo) = counted(&scratch_store, "");
    scratch_repo.publish(&built).await.unwrap();
    let first_write = probe
        .log()
        .iter()
        .position(|line| line.contains("put("))
        .unwrap() as u64
        + 1;
    failing.set_mode(FailMode::From(first_write));
    let err = repo.publish(&built).await.unwrap_err();
    assert!(
        matches!(
            err,
            RepositoryError::Store {
                action: "publish to",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        snapshot(site.path()).is_empty(),
        "{:?}",
        snapshot(site.path())
    );
    failing.reset();
    assert_eq!(repo.publish(&built).await.unwrap().uploaded.len(), 5);
}

/// Two publishers of different drivers at once: both land, and the index written last lists
/// both, because each index is built from a listing taken under the repository lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishers_both_end_up_in_the_index() {
    let site = tempfile::tempdir().unwrap();
    let url = format!("file://{}", site.path().display());
    let open = || DriverRepository::new(RepoStore::from_url(&url).unwrap()).unwrap();
    let (a, b) = (built_dir(&BUILT[..2]), built_dir(&BUILT[2..]));
    let (built_a, built_b) = (scan_built(a.path()).unwrap(), scan_built(b.path()).unwrap());
    let (repo_a, repo_b) = (open(), open());
    let (ra, rb) = tokio::join!(repo_a.publish(&built_a), repo_b.publish(&built_b));
    assert_eq!(ra.unwrap().uploaded.len() + rb.unwrap().uploaded.len(), 5);
    let index: Vec<String> =
        serde_json::from_slice(&std::fs::read(site.path().join("driver/site/index.json")).unwrap())
            .unwrap();
    assert_eq!(index.len(), 3, "{index:?}");
    let mut listed = 0;
    for version in &index {
        let site_json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(site.path().join(format!("driver/site/{version}.json"))).unwrap(),
        )
        .unwrap();
        listed += site_json["drivers"].as_array().unwrap().len();
    }
    assert_eq!(listed, 5);
    let report = open()
        .generic()
        .verify(&VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// A publish that died between its uploads and the index leaves the index behind the drivers;
/// the next publish, with nothing to upload, notices it from the listing and rewrites it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_or_stale_index_is_rewritten_without_uploading() {
    let site = tempfile::tempdir().unwrap();
    let store = RepoStore::from_url(&format!("file://{}", site.path().display())).unwrap();
    let (failing, repo) = counted(&store, "");
    let dir = built_dir(&BUILT);
    let built = scan_built(dir.path()).unwrap();
    repo.publish(&built).await.unwrap();

    std::fs::remove_file(site.path().join("driver/site/index.json")).unwrap();
    let outcome = repo.publish(&built).await.unwrap();
    assert!(outcome.uploaded.is_empty());
    assert_eq!(outcome.index.unwrap().versions.len(), 3);
    assert!(site.path().join("driver/site/index.json").exists());

    // A driver newer than the index (put there by another tool) in a driver version this
    // publish goes to makes it stale too.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let touched = "driver/10.2.0+driver/x86_64/falco_debian_5.10.197-1-amd64_1.ko";
    write(&site.path().join(touched), b"ko 10.2.0 from elsewhere");
    let outcome = repo.publish(&built).await.unwrap();
    assert_eq!(outcome.index.unwrap().versions.len(), 3);
    let listed = std::fs::read_to_string(site.path().join("driver/site/10.2.0+driver.json"));
    assert!(listed.unwrap().contains("5.10.197-1-amd64"));

    // One in a version it does not touch is not looked for (a publish lists only its own
    // versions, so its cost does not grow with the repository): `regenerate_index` adds it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&site.path().join(FOREIGN.0), FOREIGN.1);
    assert!(repo.publish(&built).await.unwrap().index.is_none());
    assert_eq!(repo.regenerate_index().await.unwrap().versions.len(), 4);

    failing.reset();
    assert!(repo.publish(&built).await.unwrap().index.is_none());
    let versions: std::collections::BTreeSet<_> =
        built.iter().map(|b| b.driver_version.clone()).collect();
    // A listing per driver version, and the top index.json for the files waiting for
    // deletion it leaves out.
    assert_eq!(
        failing.requests() as usize,
        versions.len() + 2,
        "{:#?}",
        failing.log()
    );
}
