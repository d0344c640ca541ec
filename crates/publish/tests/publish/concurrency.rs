//! Issue 16, proof item (a): eight publishers at once on one repository, with retention on,
//! several package names, removals, and the same release published twice at the same
//! moment, while a reader fetches the top file and everything it names the whole time, the
//! way users do: real `apt-get update` + `apt-get download` of every listed package for APT;
//! `dnf makecache`, then `repomd.xml`, every document it names and every package
//! `primary.xml` names, each digest checked, for YUM. No read may fail, ever (a 404, a hash
//! sum mismatch, a bad signature), and at the end nothing is lost: the index holds exactly the
//! newest versions retention keeps, each reported published, and verify is clean.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use falco_artifacts_core::{
    Artifact, ChannelConfig, PublishReport, Publisher, RepoKind, Retention, Sha256Digest,
    VerifyOptions,
};
use falco_artifacts_publish::{
    AptRepository, LockOptions, RepoStore, RepositoryOptions, YumRepository,
};
use falco_artifacts_testkit::HttpServer;
use futures::TryStreamExt as _;
use quick_xml::events::Event;
use quick_xml::Reader as XmlReader;

use crate::aptclient::{named_deb, AptSandbox};
use crate::common::{encode, file_store, http_get, shared_signer};
use crate::yumclient::{named_rpm, DnfSandbox};

const PUBLISHERS: usize = 8;
/// Rounds per publisher: 5 rounds of 4 releases give each name 6 or 7 versions, so retention
/// and the maintainer's prune both drop some, and enough commits follow the first drops for
/// their files to leave the store during the race. Kept small: the machine has 2 cores.
const ROUNDS: usize = 5;
/// Retention groups by package name (and architecture): three names, three groups.
const NAMES: [&str; 3] = ["falco", "falco-debug", "falcoctl"];
/// What publishes keep per name.
const PUBLISH_KEEPS: usize = 3;
/// What the maintainer's `apply_retention` keeps per name: the final state.
const PRUNE_KEEPS: usize = 2;
/// How often a waiting publisher looks at the lock on `file://`, and on moto, where each
/// look is two requests to a single-process server on a 2-core machine.
const FILE_POLL: Duration = Duration::from_millis(20);
#[cfg(feature = "s3")]
const S3_POLL: Duration = Duration::from_millis(200);
/// Index generations whose files stay readable: the repository's promise to a reader is
/// bounded by commits, and a reader lags the live state by as many commits as land during
/// one of its cycles (at most 15 measured here, under a load of 11 on 2 cores). Small enough
/// that removed files do leave the store during the race (checked). Each failed read reports
/// its lag, so a reader slower than the window would be told apart from a broken commit.
const GENERATIONS: usize = 20;

fn dev(keep: usize) -> ChannelConfig {
    let keep = Retention::KeepLast(NonZeroUsize::new(keep).unwrap());
    ChannelConfig::development()
        .to_builder()
        .with_retention(RepoKind::Deb, keep)
        .with_retention(RepoKind::Rpm, keep)
        .build()
        .unwrap()
}

/// The race's repository options: looking at a held lock every `poll`.
fn options(poll: Duration) -> RepositoryOptions {
    RepositoryOptions {
        lock: LockOptions {
            poll,
            ..LockOptions::default()
        },
        index_generations: GENERATIONS,
    }
}

/// One release of one package: what is published, and what a reader must get for it.
struct Release {
    name: &'static str,
    version: String,
    artifacts: Vec<Arc<dyn Artifact>>,
    /// The package file's name and digest.
    file: String,
    sha256: Sha256Digest,
    _files: Box<dyn std::any::Any + Send + Sync>,
}

/// A format in the race: its repository kind, a repository on a store, and a release.
pub(crate) struct Format {
    kind: RepoKind,
    make: fn(RepoStore, RepositoryOptions) -> Arc<dyn Publisher>,
    build: fn(&'static str, &str) -> Release,
}

pub(crate) const APT: Format = Format {
    kind: RepoKind::Deb,
    make: |store, options| {
        Arc::new(
            AptRepository::builder(store)
                .with_signer(shared_signer())
                .with_options(options)
                .build()
                .unwrap(),
        )
    },
    build: |name, version| {
        let built = named_deb(name, version, "x86_64", "race");
        Release {
            name,
            version: version.to_owned(),
            artifacts: built.artifacts.clone(),
            file: built.name(),
            sha256: built.sha256,
            _files: Box::new(built),
        }
    },
};

const YUM: Format = Format {
    kind: RepoKind::Rpm,
    make: |store, options| {
        Arc::new(
            YumRepository::builder(store)
                .with_signer(shared_signer())
                .with_options(options)
                .build()
                .unwrap(),
        )
    },
    build: |name, version| {
        let built = named_rpm(name, version, "x86_64", "race", true);
        Release {
            name,
            version: version.to_owned(),
            artifacts: built.artifacts.clone(),
            file: built.name(),
            sha256: built.sha256,
            _files: Box::new(built),
        }
    },
};

/// Release `k` (of 4) of round `r`: publishers `2k` and `2k + 1` publish it at the same
/// moment. Versions arrive out of order (the highest `k` of a round is the oldest), and each
/// round gives one name two releases.
fn release_of(round: usize, k: usize) -> (&'static str, String) {
    let n = 1 + round * 4 + (3 - k);
    (
        NAMES[(k + round) % NAMES.len()],
        format!("0.45.0-{n}+abcdef0"),
    )
}

/// One reading cycle of a client: the digests of every package it downloaded, each checked
/// against the index it read; an error is the client's own output.
pub(crate) type Cycle = Box<dyn FnMut() -> Result<Vec<Sha256Digest>, String> + Send>;

/// Every publish and prune of the race, in the order they started: `None` while running,
/// then whether it changed the repository (made a commit). Tells how many commits may have
/// landed while a reader read.
#[derive(Default)]
struct Commits(Mutex<Vec<Option<bool>>>);

/// What was running when a read started: the operations started by then, and which of them
/// were still running.
struct Mark {
    started: usize,
    running: Vec<usize>,
}

impl Commits {
    async fn around<T>(
        &self,
        f: impl std::future::Future<Output = T>,
        changed: impl Fn(&T) -> bool,
    ) -> T {
        let id = {
            let mut ops = self.0.lock().unwrap();
            ops.push(None);
            ops.len() - 1
        };
        let out = f.await;
        self.0.lock().unwrap()[id] = Some(changed(&out));
        out
    }

    fn mark(&self) -> Mark {
        let ops = self.0.lock().unwrap();
        Mark {
            started: ops.len(),
            running: (0..ops.len()).filter(|&i| ops[i].is_none()).collect(),
        }
    }

    /// How many commits may have landed since `mark`: of the operations running at the mark
    /// or started since, those that changed the repository or are still running.
    fn since(&self, mark: &Mark) -> u64 {
        let ops = self.0.lock().unwrap();
        let landed = |&i: &usize| ops[i] != Some(false);
        let n = mark.running.iter().filter(|i| landed(i)).count()
            + (mark.started..ops.len()).filter(|i| landed(i)).count();
        n as u64
    }

    /// The commits made.
    fn made(&self) -> u64 {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|o| **o == Some(true))
            .count() as u64
    }
}

/// Sets its flag when dropped: however the reader ends, returning or panicking.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A reader cycling in a thread of its own until the publishers are done.
struct Reader {
    cycles: Arc<AtomicU64>,
    /// Set when the reader stops early (it failed), so no publisher waits for it any more.
    stopped: Arc<AtomicBool>,
    /// Its cycles, the most commits that may have landed during one, and the cycle back
    /// for a last read; or why a read failed.
    task: tokio::task::JoinHandle<Result<(u64, u64, Cycle), String>>,
}

impl Reader {
    fn spawn(
        mut cycle: Cycle,
        commits: &Arc<Commits>,
        done: &Arc<AtomicBool>,
        by_digest: &BTreeMap<Sha256Digest, Arc<Release>>,
    ) -> Reader {
        let (cycles, stopped) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (commits, done) = (Arc::clone(commits), Arc::clone(done));
        let (counted, by_digest) = (Arc::clone(&cycles), by_digest.clone());
        let set_on_drop = SetOnDrop(Arc::clone(&stopped));
        let task = tokio::task::spawn_blocking(move || {
            let _stopped = set_on_drop;
            let mut max_lag = 0;
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                let mark = commits.mark();
                let read = cycle();
                let lag = commits.since(&mark);
                max_lag = max_lag.max(lag);
                n += 1;
                let read = read.map_err(|e| {
                    format!(
                        "reader cycle {n} (up to {lag} commits landed during it, \
                         {GENERATIONS} generations are kept): {e}"
                    )
                })?;
                if let Some(stray) = read.iter().find(|d| !by_digest.contains_key(d)) {
                    return Err(format!(
                        "reader cycle {n}: a package no one published: {stray}"
                    ));
                }
                counted.store(n, Ordering::SeqCst);
            }
            Ok((n, max_lag, cycle))
        });
        Reader {
            cycles,
            stopped,
            task,
        }
    }

    fn progress(&self) -> (Arc<AtomicU64>, Arc<AtomicBool>) {
        (Arc::clone(&self.cycles), Arc::clone(&self.stopped))
    }
}

/// What a race measured, printed by each test.
pub(crate) struct Measured {
    elapsed: Duration,
    /// Package files deleted from the store by the end.
    deleted: usize,
    /// Each reader's cycles.
    cycles: Vec<u64>,
    /// The most commits that could have landed during one reader cycle.
    max_lag: u64,
    commits: u64,
}

impl Measured {
    pub(crate) fn print(&self, what: &str) {
        eprintln!(
            "{what}: {:?}, {} commits, {} packages deleted, reader cycles {:?}, \
             at most {} commits during one cycle",
            self.elapsed, self.commits, self.deleted, self.cycles, self.max_lag
        );
    }
}

/// Runs the race for `format` on repositories made by `store()` whose publishers look at a
/// held lock every `poll`, read by each of `cycles` in a loop of its own.
pub(crate) async fn race(
    format: &Format,
    store: impl Fn() -> RepoStore,
    poll: Duration,
    cycles: Vec<Cycle>,
) -> Measured {
    let releases: Vec<Vec<Arc<Release>>> = (0..ROUNDS)
        .map(|r| {
            (0..PUBLISHERS / 2)
                .map(|k| {
                    let (name, version) = release_of(r, k);
                    Arc::new((format.build)(name, &version))
                })
                .collect()
        })
        .collect();
    // A repository in use already: version 0 of each name, oldest of all, so the first
    // reads have something to read and retention has something to drop.
    let seeds: Vec<Arc<Release>> = NAMES
        .iter()
        .map(|name| Arc::new((format.build)(name, "0.45.0-0+abcdef0")))
        .collect();
    let seeder = (format.make)(store(), options(poll));
    for seed in &seeds {
        seeder
            .publish(&dev(PUBLISH_KEEPS), &seed.artifacts)
            .await
            .unwrap();
    }
    let by_digest: BTreeMap<Sha256Digest, Arc<Release>> = releases
        .iter()
        .flatten()
        .chain(&seeds)
        .map(|r| (r.sha256, Arc::clone(r)))
        .collect();
    let start = Instant::now();
    let commits = Arc::new(Commits::default());
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<Reader> = cycles
        .into_iter()
        .map(|cycle| Reader::spawn(cycle, &commits, &done, &by_digest))
        .collect();

    // The maintainer: applies the stricter retention over and over while publishers run.
    let maintainer = {
        let (repo, commits, done) = (
            (format.make)(store(), options(poll)),
            Arc::clone(&commits),
            Arc::clone(&done),
        );
        let kind = format.kind;
        tokio::spawn(async move {
            let mut pruned = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let channel = dev(PRUNE_KEEPS);
                let apply = repo.apply_retention(&channel, kind);
                let outcome = commits.around(apply, |o| o.as_ref().is_ok_and(|p| !p.is_empty()));
                pruned.extend(outcome.await.unwrap());
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            pruned
        })
    };

    // The publishers: all start each round at once; twins publish the same release. A round
    // ends once every reader finished a cycle, so every round overlaps a read of each.
    let barrier = Arc::new(tokio::sync::Barrier::new(PUBLISHERS));
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let repo = (format.make)(store(), options(poll));
        let (barrier, commits) = (Arc::clone(&barrier), Arc::clone(&commits));
        let progress: Vec<_> = readers.iter().map(Reader::progress).collect();
        let mine: Vec<Arc<Release>> = releases
            .iter()
            .map(|round| Arc::clone(&round[p / 2]))
            .collect();
        publishers.push(tokio::spawn(async move {
            let mut reports: Vec<(Arc<Release>, PublishReport)> = Vec::new();
            for release in mine {
                barrier.wait().await;
                let read_before: Vec<u64> = progress
                    .iter()
                    .map(|(c, _)| c.load(Ordering::SeqCst))
                    .collect();
                let channel = dev(PUBLISH_KEEPS);
                let publish = repo.publish(&channel, &release.artifacts);
                let outcome = commits.around(publish, |o| o.as_ref().is_ok_and(|r| !r.is_noop()));
                let report = outcome.await.unwrap_or_else(|e| {
                    panic!("publisher {p}: {} {}: {e}", release.name, release.version)
                });
                reports.push((release, report));
                let waiting = || {
                    progress
                        .iter()
                        .zip(&read_before)
                        .any(|((c, stopped), &before)| {
                            c.load(Ordering::SeqCst) <= before && !stopped.load(Ordering::SeqCst)
                        })
                };
                while waiting() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            reports
        }));
    }
    let mut reports = Vec::new();
    for publisher in publishers {
        reports.extend(publisher.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let pruned = maintainer.await.unwrap();
    let mut finished = Vec::new();
    for reader in readers {
        finished.push(reader.task.await.unwrap().unwrap_or_else(|e| panic!("{e}")));
    }
    let elapsed = start.elapsed();

    // Twins both succeed, and between them upload each file of their release exactly once.
    let mut uploaded: BTreeMap<String, usize> = BTreeMap::new();
    for (release, report) in &reports {
        for file in report.uploaded.iter().chain(&report.unchanged) {
            assert!(
                release
                    .artifacts
                    .iter()
                    .any(|a| a.file_name() == file.file_name),
                "{} reported for {} {}",
                file.file_name,
                release.name,
                release.version
            );
        }
        for file in &report.uploaded {
            *uploaded.entry(file.file_name.clone()).or_default() += 1;
        }
    }
    for release in releases.iter().flatten() {
        for artifact in &release.artifacts {
            assert_eq!(
                uploaded.get(artifact.file_name()),
                Some(&1),
                "{} uploaded once by the twins",
                artifact.file_name()
            );
        }
    }

    // Nothing lost: the index holds the packages of the newest PRUNE_KEEPS versions of each
    // name, and only those (the final prune runs once more with everything in).
    let repo = (format.make)(store(), options(poll));
    repo.apply_retention(&dev(PRUNE_KEEPS), format.kind)
        .await
        .unwrap();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for name in NAMES {
        let mut versions: Vec<&Release> = releases
            .iter()
            .flatten()
            .chain(&seeds)
            .map(Arc::as_ref)
            .filter(|r| r.name == name)
            .collect();
        versions.sort_by_key(|r| {
            r.version
                .split(['-', '+'])
                .nth(1)
                .unwrap()
                .parse::<u32>()
                .unwrap()
        });
        for kept in versions.iter().rev().take(PRUNE_KEEPS) {
            expected.insert(kept.file.clone());
        }
    }
    let listed: BTreeSet<String> = repo
        .list(&dev(PRUNE_KEEPS), format.kind)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.file_name)
        .collect();
    assert_eq!(
        listed, expected,
        "the newest {PRUNE_KEEPS} versions of each name"
    );
    assert!(
        !pruned.is_empty() || reports.iter().any(|(_, r)| !r.pruned.is_empty()),
        "retention removed something during the race"
    );
    // And some of what it removed has left the store while the readers read.
    let stored: BTreeSet<String> = store()
        .object_store()
        .list(None)
        .map_ok(|meta| meta.location.filename().unwrap_or_default().to_owned())
        .try_collect()
        .await
        .unwrap();
    let deleted = releases
        .iter()
        .flatten()
        .chain(&seeds)
        .filter(|r| !stored.contains(&r.file))
        .count();
    assert!(
        deleted > 0,
        "no removed package left the store during the race"
    );
    let report = repo
        .verify(&dev(PRUNE_KEEPS), format.kind, &VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);

    // A client reading the final state gets exactly those packages.
    let mut measured = Measured {
        elapsed,
        cycles: Vec::new(),
        max_lag: 0,
        commits: commits.made(),
        deleted,
    };
    for (cycles, max_lag, mut cycle) in finished {
        let read: BTreeSet<String> = cycle()
            .unwrap_or_else(|e| panic!("the final read: {e}"))
            .iter()
            .map(|d| by_digest[d].file.clone())
            .collect();
        assert_eq!(read, expected, "what a client reads at the end");
        assert!(
            cycles >= ROUNDS as u64,
            "the reader read during every round ({cycles} cycles)"
        );
        measured.cycles.push(cycles);
        measured.max_lag = measured.max_lag.max(max_lag);
    }
    measured
}

/// A reading cycle of real `apt-get`: `update` (signature and hashes of every index
/// checked), then `download` of every package the lists name, in one run (each hash checked).
pub(crate) fn apt_reader(repo_url: &str) -> Cycle {
    let apt = AptSandbox::new(repo_url);
    Box::new(move || {
        let apt = apt.client();
        apt.update().map_err(|e| e.to_string())?;
        let listed = apt.listed().map_err(|e| e.to_string())?;
        let wanted: Vec<(&str, &str)> = listed
            .iter()
            .map(|(p, v)| (p.as_str(), v.as_str()))
            .collect();
        let debs = apt.download_all(&wanted).map_err(|e| e.to_string())?;
        Ok(debs.iter().map(|d| Sha256Digest::of_bytes(d)).collect())
    })
}

/// The `(sha256, href)` of each `data` of `repomd.xml` or `package` of `primary.xml`.
fn located(xml: &str, element: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut reader = XmlReader::from_str(xml);
    let (mut checksum, mut href, mut in_checksum) = (None, None, false);
    let mut out = Vec::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) if e.name().as_ref() == b"checksum" => in_checksum = true,
            Event::Text(t) if in_checksum => {
                // A hex digest: nothing to unescape.
                checksum = Some(t.decode().map_err(|e| e.to_string())?.trim().to_owned());
                in_checksum = false;
            }
            Event::Empty(e) | Event::Start(e) if e.name().as_ref() == b"location" => {
                let attr = e
                    .try_get_attribute("href")
                    .map_err(|e| e.to_string())?
                    .ok_or("a location without href")?;
                // Our file names hold nothing XML escapes.
                href = Some(String::from_utf8_lossy(&attr.value).into_owned());
            }
            Event::End(e) if e.name().as_ref() == element => match (checksum.take(), href.take()) {
                (Some(c), Some(h)) => out.push((c, h)),
                other => return Err(format!("an entry without checksum or href: {other:?}")),
            },
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

/// GETs `repo_url/href`, failing unless it is served with SHA-256 `sha256`.
fn fetch_checked(repo_url: &str, href: &str, sha256: &str) -> Result<Vec<u8>, String> {
    let url = format!("{repo_url}/{}", encode(href));
    let (status, body) = http_get(&url);
    if status != 200 {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let got = Sha256Digest::of_bytes(&body);
    if got.to_string() != sha256 {
        return Err(format!("GET {url}: SHA-256 {got}, the index says {sha256}"));
    }
    Ok(body)
}

/// What a YUM client reads after the top file: `repomd.xml`, each document it names and each
/// package `primary.xml` names, every digest checked; the packages' digests.
fn yum_walk(repo_url: &str) -> Result<Vec<Sha256Digest>, String> {
    let (status, repomd) = http_get(&format!("{repo_url}/repodata/repomd.xml"));
    if status != 200 {
        return Err(format!("GET repomd.xml: HTTP {status}"));
    }
    let repomd = String::from_utf8(repomd).map_err(|e| e.to_string())?;
    let mut packages = Vec::new();
    for (sha256, href) in located(&repomd, b"data")? {
        let body = fetch_checked(repo_url, &href, &sha256)?;
        if href.ends_with("-primary.xml.gz") {
            let mut xml = String::new();
            flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_string(&mut xml)
                .map_err(|e| format!("{href}: {e}"))?;
            packages = located(&xml, b"package")?;
        }
    }
    packages
        .iter()
        .map(|(sha256, href)| {
            fetch_checked(repo_url, href, sha256).map(|b| Sha256Digest::of_bytes(&b))
        })
        .collect()
}

/// A reading cycle of real `dnf makecache` (the signature of `repomd.xml` and every
/// document's digest checked), then a [`yum_walk`] of what it names.
fn dnf_reader(repo_url: &str) -> Cycle {
    let dnf = DnfSandbox::new(repo_url);
    let repo_url = repo_url.to_owned();
    Box::new(move || {
        dnf.makecache_ok()?;
        yum_walk(&repo_url)
    })
}

/// A reading cycle of [`yum_walk`] alone: quicker than dnf, so most of its reads overlap a
/// commit.
fn walk_reader(repo_url: &str) -> Cycle {
    let repo_url = repo_url.to_owned();
    Box::new(move || yum_walk(&repo_url))
}

/// Proof item (a) for APT on `file://` served over HTTP, read by real `apt-get`.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn apt_readers_never_fail_while_eight_publishers_add_prune_and_race_on_file() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let reader = apt_reader(&format!("{}/packages/deb-dev", http.url()));
    let measured = race(&APT, || file_store(site.path()), FILE_POLL, vec![reader]).await;
    measured.print("apt on file");
}

/// Proof item (a) for YUM on `file://` served over HTTP, read by real `dnf` and, at the same
/// time, by a client walking `repomd.xml` and `primary.xml`.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn yum_readers_never_fail_while_eight_publishers_add_prune_and_race_on_file() {
    let site = tempfile::tempdir().unwrap();
    let http = HttpServer::serve(site.path()).unwrap();
    let url = format!("{}/packages/rpm-dev", http.url());
    let readers = vec![dnf_reader(&url), walk_reader(&url)];
    let measured = race(&YUM, || file_store(site.path()), FILE_POLL, readers).await;
    measured.print("yum on file");
}

/// Proof item (a) for APT on S3 (moto), read by real `apt-get` from the public bucket.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn apt_readers_never_fail_while_eight_publishers_add_prune_and_race_on_s3() {
    let s3 = falco_artifacts_testkit::MotoS3::start().unwrap();
    let bucket = "falco-apt-race";
    crate::common::s3_store(&s3, bucket);
    let options = crate::common::s3_options(&s3);
    let reader = apt_reader(&format!("{}/{bucket}/packages/deb-dev", s3.endpoint()));
    let store = || RepoStore::from_url_with(&format!("s3://{bucket}"), &options).unwrap();
    let measured = race(&APT, store, S3_POLL, vec![reader]).await;
    measured.print("apt on s3");
}
