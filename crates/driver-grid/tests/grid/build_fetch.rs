//! Downloads of header packages from a real HTTP server on loopback: the cache keyed by URL,
//! a damaged cache entry downloaded again, checksums enforced, 404 not retried.

use std::time::{Duration, Instant};

use falco_artifacts_driver_grid::build::{FetchError, Fetcher};
use falco_artifacts_driver_grid::core::Sha256Digest;
use falco_artifacts_testkit::HttpServer;

#[test]
fn downloads_are_cached_by_url_and_checked() {
    let mirror = tempfile::tempdir().unwrap();
    let body = b"!<arch>\nnot really a package, but bytes with a digest\n".repeat(1000);
    std::fs::write(mirror.path().join("linux-headers.deb"), &body).unwrap();
    let server = HttpServer::serve(mirror.path()).unwrap();
    let url = format!("{}/linux-headers.deb", server.url());
    let cache = tempfile::tempdir().unwrap();

    let first = Fetcher::new(cache.path()).fetch(&url).unwrap();
    assert!(!first.cached);
    assert_eq!(first.size, body.len() as u64);
    assert_eq!(first.sha256, Sha256Digest::of_bytes(&body));
    assert_eq!(std::fs::read(&first.path).unwrap(), body);
    assert!(first.path.ends_with("linux-headers.deb"));

    // A new fetcher on the same cache: no request (the server could be gone).
    let again = Fetcher::new(cache.path()).fetch(&url).unwrap();
    assert!(again.cached);
    assert_eq!(again.path, first.path);

    // A damaged cache entry is downloaded again.
    std::fs::write(&first.path, b"damaged").unwrap();
    let repaired = Fetcher::new(cache.path()).fetch(&url).unwrap();
    assert!(!repaired.cached);
    assert_eq!(std::fs::read(&repaired.path).unwrap(), body);

    // An expected checksum that does not match: refused, and the cache keeps the good file.
    let wrong = Sha256Digest::of_bytes(b"something else");
    let fresh = tempfile::tempdir().unwrap();
    let err = Fetcher::new(fresh.path())
        .with_checksum(url.clone(), wrong)
        .fetch(&url)
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Checksum { expected, .. } if *expected == wrong),
        "{err}"
    );
    let cached: Vec<_> = walk(fresh.path());
    assert!(
        cached.iter().all(|p| !p.ends_with("linux-headers.deb")),
        "{cached:?}"
    );
    let right = Fetcher::new(fresh.path())
        .with_checksum(url.clone(), Sha256Digest::of_bytes(&body))
        .fetch(&url)
        .unwrap();
    assert_eq!(right.sha256, Sha256Digest::of_bytes(&body));

    // 404 is final: no retries (each would wait 0.5 s, then 1 s).
    let started = Instant::now();
    let err = Fetcher::new(fresh.path())
        .fetch(&format!("{}/missing.deb", server.url()))
        .unwrap_err();
    assert!(
        matches!(err, FetchError::NotFound { status: 404, .. }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(450));
}

#[test]
fn a_pinned_digest_rechecks_the_cache_and_plain_http_can_be_refused() {
    let mirror = tempfile::tempdir().unwrap();
    let body = b"header package bytes ".repeat(500);
    std::fs::write(mirror.path().join("linux-headers.deb"), &body).unwrap();
    let server = HttpServer::serve(mirror.path()).unwrap();
    let url = format!("{}/linux-headers.deb", server.url());
    let pin = Sha256Digest::of_bytes(&body);
    let cache = tempfile::tempdir().unwrap();
    let first = Fetcher::new(cache.path())
        .fetch_expecting(&url, Some(pin))
        .unwrap();
    assert!(!first.cached);

    // Someone with write access to the cache replaces the package and the digest the cache
    // recorded beside it: without a pin the cache cannot tell, with one it downloads again.
    let evil = b"#!/bin/sh\necho owned\n";
    std::fs::write(&first.path, evil).unwrap();
    let recorded = first.path.parent().unwrap().join("sha256");
    std::fs::write(&recorded, Sha256Digest::of_bytes(evil).to_hex()).unwrap();
    let fooled = Fetcher::new(cache.path()).fetch(&url).unwrap();
    assert!(fooled.cached && fooled.sha256 == Sha256Digest::of_bytes(evil));
    let checked = Fetcher::new(cache.path())
        .fetch_expecting(&url, Some(pin))
        .unwrap();
    assert!(!checked.cached, "the tampered entry was used");
    assert_eq!(std::fs::read(&checked.path).unwrap(), body);
    assert_eq!(checked.sha256, pin);

    // The server itself serving other bytes than pinned: refused, nothing cached under it.
    std::fs::write(mirror.path().join("linux-headers.deb"), b"changed upstream").unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let err = Fetcher::new(fresh.path())
        .fetch_expecting(&url, Some(pin))
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Checksum { expected, .. } if expected == pin),
        "{err}"
    );
    assert!(walk(fresh.path())
        .iter()
        .all(|p| !p.ends_with("linux-headers.deb")));

    // --require-https: a plain-http URL is refused before any request.
    let err = Fetcher::new(fresh.path())
        .with_require_https(true)
        .fetch(&url)
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::PlainHttp { url: u } if *u == url),
        "{err}"
    );
    assert!(err.to_string().contains("--require-https"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
