//! Scenario 3 of the protocol's known ways to serve a missing file: the package files
//! retention prunes stay until no kept index generation names them. A client that read a
//! top file (`InRelease`, `repomd.xml`, `index.json`) a moment ago must find everything it
//! names, for as long as that generation is kept by hash.

use std::collections::VecDeque;
use std::io::Read as _;
use std::num::NonZeroUsize;
use std::sync::Arc;

use falco_artifacts_core::{
    Artifact, ChannelConfig, Publisher, RepoKind, Retention, Sha256Digest, VerifyOptions,
};
use falco_artifacts_publish::{
    AptRepository, BinRepository, RepoIndex, RepoStore, RepositoryOptions, YumRepository,
};
use falco_artifacts_testkit::HttpServer;

use crate::common::{encode, file_store, http_get, shared_signer, tarball};

/// Index generations kept by hash, the live one included.
const KEPT: usize = 3;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Apt,
    Yum,
    Bin,
}

impl Kind {
    fn repo_kind(self) -> RepoKind {
        match self {
            Kind::Apt => RepoKind::Deb,
            Kind::Yum => RepoKind::Rpm,
            Kind::Bin => RepoKind::Bin,
        }
    }

    /// The repository's path in the store, on the development channel.
    fn dir(self) -> &'static str {
        match self {
            Kind::Apt => "packages/deb-dev",
            Kind::Yum => "packages/rpm-dev",
            Kind::Bin => "packages/bin-dev",
        }
    }

    /// The top file, relative to the repository.
    fn top(self) -> &'static str {
        match self {
            Kind::Apt => "dists/stable/InRelease",
            Kind::Yum => "repodata/repomd.xml",
            Kind::Bin => "index.json",
        }
    }

    fn publisher(self, store: RepoStore) -> Arc<dyn Publisher> {
        let options = RepositoryOptions {
            index_generations: KEPT,
            ..RepositoryOptions::default()
        };
        match self {
            Kind::Apt => Arc::new(
                AptRepository::builder(store)
                    .with_signer(shared_signer())
                    .with_options(options)
                    .build()
                    .unwrap(),
            ),
            Kind::Yum => Arc::new(
                YumRepository::builder(store)
                    .with_signer(shared_signer())
                    .with_options(options)
                    .build()
                    .unwrap(),
            ),
            Kind::Bin => Arc::new(
                BinRepository::builder(store)
                    .with_options(options)
                    .build()
                    .unwrap(),
            ),
        }
    }

    /// The artifacts of dev version `n` (each version prunes the one before).
    fn artifacts(self, n: usize) -> (Vec<Arc<dyn Artifact>>, Box<dyn std::any::Any>) {
        let version = format!("0.45.0-{n}+abcdef0");
        match self {
            Kind::Apt => {
                let built = crate::aptclient::deb(&version, "x86_64", "a");
                (built.artifacts.clone(), Box::new(built))
            }
            Kind::Yum => {
                let built = crate::yumclient::rpm(&version, "x86_64", "a", true);
                (built.artifacts.clone(), Box::new(built))
            }
            Kind::Bin => {
                let built = tarball(&version, "x86_64", "a");
                (built.artifacts.clone(), Box::new(built))
            }
        }
    }

    /// The keys a client holding `top` reads: the indexes it names and the package files
    /// they name. Each index is fetched by its content address, as a client does.
    fn named(self, url: &str, top: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(top);
        let mut keys = Vec::new();
        match self {
            Kind::Apt => {
                let sha256 = text
                    .split("SHA256:")
                    .nth(1)
                    .expect("a SHA256 section in InRelease");
                for line in sha256.lines() {
                    let parts: Vec<&str> = line.split_whitespace().collect();
                    let [sha, _, path] = parts[..] else { continue };
                    let Some(dir) = path.strip_suffix("/Packages") else {
                        continue;
                    };
                    let by_hash = format!("dists/stable/{dir}/by-hash/SHA256/{sha}");
                    let packages = fetch(url, &by_hash);
                    keys.push(by_hash);
                    keys.extend(
                        String::from_utf8_lossy(&packages)
                            .lines()
                            .filter_map(|l| l.strip_prefix("Filename: "))
                            .map(str::to_owned),
                    );
                }
            }
            Kind::Yum => {
                let primary = hrefs(&text)
                    .into_iter()
                    .find(|h| h.ends_with("-primary.xml.gz"))
                    .expect("repomd.xml names a primary.xml.gz");
                let gz = fetch(url, &primary);
                let mut xml = String::new();
                flate2::read::MultiGzDecoder::new(&gz[..])
                    .read_to_string(&mut xml)
                    .unwrap();
                keys.push(primary);
                keys.extend(hrefs(&xml));
            }
            Kind::Bin => {
                keys.push(format!("by-hash/SHA256/{}", Sha256Digest::of_bytes(top)));
                let index: RepoIndex = serde_json::from_slice(top).unwrap();
                keys.extend(index.files.into_iter().map(|e| e.path));
            }
        }
        assert!(keys.len() > 1, "{self:?}: the top file names packages");
        keys
    }
}

/// Every `href="…"` of an XML text.
fn hrefs(xml: &str) -> Vec<String> {
    xml.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The object at `key` under `url`, which must be there.
fn fetch(url: &str, key: &str) -> Vec<u8> {
    let (status, body) = http_get(&format!("{url}/{}", encode(key)));
    assert_eq!(status, 200, "{url}/{key}");
    body
}

/// Dev versions 1..=3 then `KEPT` more with keep-last-1: after every commit, everything each
/// kept generation names is downloadable and `verify` is clean; in the end, the files pruned
/// by the commits whose predecessors are no longer kept are gone.
async fn pruned_files_stay_while_kept(kind: Kind, store: RepoStore, site_url: &str) {
    let repo = kind.publisher(store);
    let mut channel = ChannelConfig::development().to_builder();
    for k in [RepoKind::Deb, RepoKind::Rpm, RepoKind::Bin] {
        channel = channel.with_retention(k, Retention::KeepLast(NonZeroUsize::new(1).unwrap()));
    }
    let channel = channel.build().unwrap();
    let url = format!("{site_url}/{}", kind.dir());
    let mut tops: VecDeque<Vec<u8>> = VecDeque::new();
    let mut pruned: Vec<Vec<String>> = Vec::new();
    for n in 1..=3 + KEPT {
        let (artifacts, _built) = kind.artifacts(n);
        let report = repo.publish(&channel, &artifacts).await.unwrap();
        // Reported by the commit that dropped them, not by the one that deletes them.
        assert_eq!(
            report.pruned.is_empty(),
            n == 1,
            "{kind:?} v{n}: {report:?}"
        );
        pruned.push(report.pruned.iter().map(|f| f.key.clone()).collect());

        tops.push_front(fetch(&url, kind.top()));
        tops.truncate(KEPT);
        for (age, top) in tops.iter().enumerate() {
            for key in kind.named(&url, top) {
                let (status, _) = http_get(&format!("{url}/{}", encode(&key)));
                assert_eq!(
                    status, 200,
                    "{kind:?} after v{n}: {key}, named by the generation {age} behind, is gone"
                );
            }
        }
        let verify = repo
            .verify(&channel, kind.repo_kind(), &VerifyOptions::default())
            .await
            .unwrap();
        assert!(
            verify.is_clean(),
            "{kind:?} after v{n}: {:?}",
            verify.problems
        );
    }
    // Pruned by commit c (1-based), last named by commit c - 1, which is no longer kept from
    // commit c + KEPT - 1 on.
    let commits = pruned.len();
    for (c, keys) in pruned.iter().enumerate().map(|(i, k)| (i + 1, k)) {
        let gone = c + KEPT - 1 <= commits;
        for key in keys {
            let (status, _) = http_get(&format!("{url}/{}", encode(key)));
            assert_eq!(
                status == 404,
                gone,
                "{kind:?}: {key}, pruned by commit {c} of {commits}, status {status}"
            );
        }
    }
}

async fn on_file(kind: Kind) {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    pruned_files_stay_while_kept(kind, file_store(site.path()), &http.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pruned_files_stay_while_a_kept_generation_names_them_apt() {
    on_file(Kind::Apt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pruned_files_stay_while_a_kept_generation_names_them_yum() {
    on_file(Kind::Yum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pruned_files_stay_while_a_kept_generation_names_them_bin() {
    on_file(Kind::Bin).await;
}

#[cfg(feature = "s3")]
mod s3 {
    use falco_artifacts_testkit::MotoS3;

    use super::{pruned_files_stay_while_kept, Kind};
    use crate::common::s3_store;

    async fn on_s3(kind: Kind, bucket: &str) {
        let s3 = MotoS3::start().unwrap();
        let store = s3_store(&s3, bucket);
        let url = format!("{}/{bucket}", s3.endpoint());
        pruned_files_stay_while_kept(kind, store, &url).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn pruned_files_stay_while_a_kept_generation_names_them_apt_on_s3() {
        on_s3(Kind::Apt, "falco-deferred-apt").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn pruned_files_stay_while_a_kept_generation_names_them_yum_on_s3() {
        on_s3(Kind::Yum, "falco-deferred-yum").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn pruned_files_stay_while_a_kept_generation_names_them_bin_on_s3() {
        on_s3(Kind::Bin, "falco-deferred-bin").await;
    }
}
