//! Objects ready for a CDN, on moto: every kind of object carries its `Content-Type` and
//! `Cache-Control` (and the configured ACL and encryption), and a CloudFront distribution
//! served by the same moto is invalidated with exactly the mutable keys each commit changed.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use falco_artifacts_core::{ChannelConfig, Publisher, Sha256Digest};
use falco_artifacts_publish::{
    BinRepository, CannedAcl, CdnError, CloudFrontOptions, ObjectClass, ObjectHeaders, RepoStore,
    ServerSideEncryption, StoreOptions, VerifyOptions,
};
use falco_artifacts_testkit::MotoS3;
use futures::TryStreamExt as _;

use crate::apt::apt;
use crate::aptclient::deb;
use crate::common::{check_index_over_http, curl, http_get, s3_options, tarball};
use crate::yum::yum;
use crate::yumclient::rpm;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const MUTABLE: &str = "public, max-age=60, must-revalidate";

/// The response headers of `HEAD url`, names lowercased.
fn head(url: &str) -> Vec<(String, String)> {
    let out = Command::new(curl())
        .args(["-sS", "-I", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl -I {url}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "HEAD {url}: {text}");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A SigV4-shaped header naming `service` (moto routes by it and checks no signature).
fn authorization(service: &str) -> String {
    format!(
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20000101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

/// `curl` with an AWS-shaped authorization; the body.
fn aws(service: &str, args: &[&str]) -> String {
    let out = Command::new(curl())
        .args(["-sS", "-f", "-H", &authorization(service)])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The texts of every `<tag>` element of `xml`.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(text, _)| text.to_owned()))
        .collect()
}

/// Creates a CloudFront distribution on moto; its id.
fn create_distribution(s3: &MotoS3) -> String {
    let config = r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
<CallerReference>falco-cdn-test</CallerReference><Comment>falco</Comment><Enabled>true</Enabled>
<Origins><Quantity>1</Quantity><Items><Origin><Id>bucket</Id><DomainName>falco-cdn.s3.amazonaws.com</DomainName>
<S3OriginConfig><OriginAccessIdentity></OriginAccessIdentity></S3OriginConfig></Origin></Items></Origins>
<DefaultCacheBehavior><TargetOriginId>bucket</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy><MinTTL>0</MinTTL></DefaultCacheBehavior>
</DistributionConfig>"#;
    let url = format!("{}/2020-05-31/distribution", s3.endpoint());
    let answer = aws(
        "cloudfront",
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/xml",
            "--data-binary",
            config,
            &url,
        ],
    );
    elements(&answer, "Id").into_iter().next().unwrap()
}

/// The paths of every invalidation of `distribution` on moto.
fn invalidations(s3: &MotoS3, distribution: &str) -> Vec<BTreeSet<String>> {
    let base = format!(
        "{}/2020-05-31/distribution/{distribution}/invalidation",
        s3.endpoint()
    );
    let list = aws("cloudfront", &[&base]);
    elements(&list, "Id")
        .into_iter()
        .map(|id| {
            let one = aws("cloudfront", &[&format!("{base}/{id}")]);
            elements(&one, "Path").into_iter().collect()
        })
        .collect()
}

/// Every mutable key under `prefix` of the bucket, as `/`-prefixed paths: after a first
/// publish, exactly what its commit wrote.
async fn mutable_paths(store: &RepoStore, prefix: &str) -> BTreeSet<String> {
    let headers = ObjectHeaders::default();
    let listed: Vec<_> = store
        .object_store()
        .list(Some(&object_store::path::Path::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    listed
        .iter()
        .map(|m| m.location.to_string())
        .filter(|k| headers.class(k) == ObjectClass::Mutable)
        .map(|k| format!("/{}", falco_artifacts_core::web::url_path(&k)))
        .collect()
}

fn options(s3: &MotoS3, cloudfront: Option<CloudFrontOptions>) -> StoreOptions {
    StoreOptions {
        acl: Some(CannedAcl::PublicRead),
        encryption: Some(ServerSideEncryption::S3Managed),
        cloudfront,
        ..s3_options(s3)
    }
}

fn cloudfront(s3: &MotoS3, id: &str) -> CloudFrontOptions {
    CloudFrontOptions {
        endpoint: Some(s3.endpoint()),
        attempts: 3,
        backoff: Duration::from_millis(20),
        ..CloudFrontOptions::new(id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kind_of_object_on_s3_carries_its_cdn_headers() {
    let s3 = MotoS3::start().unwrap();
    s3.create_public_bucket("falco-cdn").unwrap();
    let store = RepoStore::from_url_with("s3://falco-cdn", &options(&s3, None)).unwrap();
    let stable = ChannelConfig::stable();
    let built_deb = deb("0.39.0", "x86_64", "a");
    let built_rpm = rpm("0.39.0", "x86_64", "a", true);
    let built_tgz = tarball("0.39.0", "x86_64", "a");
    apt(store.clone())
        .publish(&stable, &built_deb.artifacts)
        .await
        .unwrap();
    yum(store.clone())
        .publish(&stable, &built_rpm.artifacts)
        .await
        .unwrap();
    BinRepository::builder(store.clone())
        .build()
        .unwrap()
        .publish(&stable, &built_tgz.artifacts)
        .await
        .unwrap();

    let site = format!("{}/falco-cdn/packages", s3.endpoint());
    let (_, packages) = http_get(&format!(
        "{site}/deb/dists/stable/main/binary-amd64/Packages"
    ));
    let by_hash = format!(
        "deb/dists/stable/main/binary-amd64/by-hash/SHA256/{}",
        Sha256Digest::of_bytes(&packages)
    );
    let (_, repomd) = http_get(&format!("{site}/rpm/repodata/repomd.xml"));
    let repomd = String::from_utf8(repomd).unwrap();
    let primary = repomd
        .split("href=\"")
        .filter_map(|r| r.split_once('"').map(|(h, _)| h.to_owned()))
        .find(|h| h.ends_with("-primary.xml.gz"))
        .unwrap();
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "deb/stable/falco-0.39.0-x86_64.deb".into(),
            "application/vnd.debian.binary-package",
            IMMUTABLE,
        ),
        (
            "deb/stable/falco-0.39.0-x86_64.deb.asc".into(),
            "application/pgp-signature",
            IMMUTABLE,
        ),
        (by_hash, "application/octet-stream", IMMUTABLE),
        (
            "deb/dists/stable/InRelease".into(),
            "text/plain; charset=utf-8",
            MUTABLE,
        ),
        (
            "deb/dists/stable/Release".into(),
            "text/plain; charset=utf-8",
            MUTABLE,
        ),
        (
            "deb/dists/stable/Release.gpg".into(),
            "application/pgp-signature",
            MUTABLE,
        ),
        (
            "deb/dists/stable/main/binary-amd64/Packages.gz".into(),
            "application/gzip",
            MUTABLE,
        ),
        (
            "rpm/falco-0.39.0-x86_64.rpm".into(),
            "application/x-rpm",
            IMMUTABLE,
        ),
        (format!("rpm/{primary}"), "application/gzip", IMMUTABLE),
        ("rpm/repodata/repomd.xml".into(), "application/xml", MUTABLE),
        (
            "rpm/repodata/repomd.xml.asc".into(),
            "application/pgp-signature",
            MUTABLE,
        ),
        (
            "bin/x86_64/falco-0.39.0-x86_64.tar.gz".into(),
            "application/gzip",
            IMMUTABLE,
        ),
        ("bin/index.json".into(), "application/json", MUTABLE),
        ("bin/index.html".into(), "text/html; charset=utf-8", MUTABLE),
    ];
    for (key, content_type, cache_control) in &cases {
        let headers = head(&format!("{site}/{key}"));
        assert_eq!(
            header(&headers, "content-type"),
            Some(*content_type),
            "{key}: {headers:?}"
        );
        assert_eq!(
            header(&headers, "cache-control"),
            Some(*cache_control),
            "{key}: {headers:?}"
        );
        assert_eq!(
            header(&headers, "x-amz-server-side-encryption"),
            Some("AES256"),
            "{key}: {headers:?}"
        );
    }
    // The canned ACL was applied: anyone may read.
    let acl = aws(
        "s3",
        &[&format!(
            "{}/falco-cdn/packages/bin/index.json?acl",
            s3.endpoint()
        )],
    );
    assert!(
        acl.contains("http://acs.amazonaws.com/groups/global/AllUsers"),
        "{acl}"
    );
    assert!(acl.contains("<Permission>READ</Permission>"), "{acl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cloudfront_is_told_exactly_the_mutable_keys_each_commit_changed() {
    let s3 = MotoS3::start().unwrap();
    s3.create_public_bucket("falco-cdn-inval").unwrap();
    let distribution = create_distribution(&s3);
    let store = RepoStore::from_url_with(
        "s3://falco-cdn-inval",
        &options(&s3, Some(cloudfront(&s3, &distribution))),
    )
    .unwrap();
    let stable = ChannelConfig::stable();
    let bin = BinRepository::builder(store.clone()).build().unwrap();
    let first = tarball("0.39.0", "x86_64", "a");
    let report = bin.publish(&stable, &first.artifacts).await.unwrap();
    let asked = report.invalidation.unwrap();
    assert!(asked.succeeded(), "{asked:?}");
    assert_eq!(asked.attempts, 1);
    assert_eq!(asked.target, format!("cloudfront:{distribution}"));
    let bin_paths: BTreeSet<String> = ["/packages/bin/index.html", "/packages/bin/index.json"]
        .map(str::to_owned)
        .into();
    assert_eq!(
        asked.paths.iter().cloned().collect::<BTreeSet<_>>(),
        bin_paths
    );
    assert_eq!(
        invalidations(&s3, &distribution),
        std::slice::from_ref(&bin_paths)
    );

    // Nothing to commit: nothing to invalidate.
    let again = bin.publish(&stable, &first.artifacts).await.unwrap();
    assert!(again.is_noop() && again.invalidation.is_none(), "{again:?}");
    assert_eq!(invalidations(&s3, &distribution).len(), 1);

    // An APT commit: its canonical index names and top files, never a package or by-hash file.
    let built = deb("0.39.0", "x86_64", "a");
    let report = apt(store.clone())
        .publish(&stable, &built.artifacts)
        .await
        .unwrap();
    let expected = mutable_paths(&store, "packages/deb").await;
    assert!(
        expected.contains("/packages/deb/dists/stable/InRelease"),
        "{expected:?}"
    );
    assert!(
        expected.contains("/packages/deb/dists/stable/main/binary-amd64/Packages.gz"),
        "{expected:?}"
    );
    assert!(expected
        .iter()
        .all(|p| !p.contains("by-hash") && !p.ends_with(".deb")));
    let asked = report.invalidation.unwrap();
    assert!(asked.succeeded(), "{asked:?}");
    assert_eq!(
        asked.paths.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(invalidations(&s3, &distribution), [bin_paths, expected]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_invalidation_is_retried_reported_and_never_undoes_the_publish() {
    let s3 = MotoS3::start().unwrap();
    s3.create_public_bucket("falco-cdn-fail").unwrap();
    let real = create_distribution(&s3);
    let store = RepoStore::from_url_with(
        "s3://falco-cdn-fail",
        &options(&s3, Some(cloudfront(&s3, "E0NOSUCHDISTRIBUTION"))),
    )
    .unwrap();
    let stable = ChannelConfig::stable();
    let bin = BinRepository::builder(store).build().unwrap();
    let built = tarball("0.39.0", "x86_64", "a");
    let report = bin.publish(&stable, &built.artifacts).await.unwrap();
    assert_eq!(report.uploaded.len(), built.artifacts.len());
    let asked = report.invalidation.unwrap();
    assert!(!asked.succeeded());
    assert_eq!(asked.attempts, 3, "retried");
    let failure = asked.failure.unwrap();
    match failure.0.downcast_ref::<CdnError>() {
        Some(CdnError::Refused { status, code, .. }) => {
            assert_eq!(*status, 404, "{failure}");
            assert_eq!(code, "NoSuchDistribution", "{failure}");
        }
        other => panic!("{other:?}"),
    }
    // The publish stands and verifies, and nothing reached the real distribution.
    assert!(bin
        .verify(&stable, &VerifyOptions::default())
        .await
        .unwrap()
        .is_clean());
    let index = check_index_over_http(&format!("{}/falco-cdn-fail/packages/bin", s3.endpoint()));
    assert_eq!(index.files.len(), built.artifacts.len());
    assert!(invalidations(&s3, &real).is_empty());
}
