//! Faults at every request of a publish, for every format on every backend: the request
//! fails before it is made or after it was applied, once (a transient error) or for good (the
//! publisher died there). After each failure the repository reads as the old or the new state
//! (verify finds nothing an unfinished publish does not explain, no index names a missing
//! file); a healthy re-run then completes, verifies clean and lists the version. The faults
//! are injected by [`RepoStore::with_faults`], so `file://` runs through its real direct path
//! to the disk, as a publish does.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use falco_artifacts_core::{Channel, Problem, Publisher, RepoKind, VerifyOptions};
use falco_artifacts_publish::{
    FailMode, Faults, LockOptions, RepoStore, RepositoryOptions, StoreOptions,
};
use falco_artifacts_testkit::HttpServer;
use futures::future::join_all;

use crate::common::check_index_over_http;
use crate::contract::{dev_keeping_two, Built, Format, FORMATS};

/// A repository under injected faults: the faults its store consults, the publisher that
/// fails and the one that re-runs (the same repository; the failing one has a short lease so
/// that its crashes are taken over quickly, the other a lease no publish outlasts), what one
/// release of it is, and what a client checks after each failure.
pub(crate) struct Subject<'a> {
    pub(crate) faults: &'a Faults,
    pub(crate) failing: &'a dyn Publisher,
    pub(crate) repo: &'a dyn Publisher,
    pub(crate) channel: &'a dyn Channel,
    pub(crate) kind: RepoKind,
    pub(crate) release: &'a dyn Fn(&str) -> Built,
    pub(crate) client_check: &'a dyn Fn(),
}

/// What verify may report after a failed publish: files uploaded but not yet indexed, the
/// lock of a publisher that died, and the states core documents as an unfinished publish that
/// clients do not see (APT's canonical names or signatures behind or ahead of `InRelease`).
fn explained_by_an_unfinished_publish(problem: &Problem) -> bool {
    matches!(
        problem,
        Problem::Unindexed { .. }
            | Problem::StaleLock { .. }
            | Problem::CanonicalAhead { .. }
            | Problem::SignatureBehind { .. }
    )
}

/// What verify reports of `repo` that an unfinished publish does not explain: a broken
/// repository, which a failure must never leave.
pub(crate) async fn unexplained_problems(
    repo: &dyn Publisher,
    channel: &dyn Channel,
    kind: RepoKind,
) -> Vec<Problem> {
    let report = repo
        .verify(channel, kind, &VerifyOptions::default())
        .await
        .unwrap();
    report
        .problems
        .into_iter()
        .filter(|p| !explained_by_an_unfinished_publish(p))
        .collect()
}

/// The names `subject`'s repository lists.
async fn listed(subject: &Subject<'_>) -> BTreeSet<String> {
    subject
        .repo
        .list(subject.channel, subject.kind)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.file_name)
        .collect()
}

/// Publishes a few versions, then publishes version after version while `mode` fails request
/// 1, 2, 3, … in turn, checking the repository after each failure and after a healthy re-run.
/// Returns how many requests were failed (the requests one publish makes).
pub(crate) async fn fail_at_every_request(subject: &Subject<'_>, mode: fn(u64) -> FailMode) -> u64 {
    let (faults, repo, channel, kind) =
        (subject.faults, subject.repo, subject.channel, subject.kind);
    let version = |n: u64| format!("0.45.0-{n}+abcdef0");
    for n in 1..=3 {
        let built = (subject.release)(&version(n));
        repo.publish(channel, &built.artifacts).await.unwrap();
    }
    let mut before = listed(subject).await;
    let mut request = 1;
    let mut outlasted = 0;
    loop {
        let built = (subject.release)(&version(3 + request));
        faults.reset();
        faults.set_mode(mode(request));
        let outcome = subject.failing.publish(channel, &built.artifacts).await;
        let requests = faults.requests();
        faults.set_mode(FailMode::Never);
        if outcome.is_ok() && requests < request {
            // The whole publish needed fewer requests: every one has been failed.
            return request - 1;
        }
        let log = faults.log();
        if requests < request {
            // It stopped on its own before request `request` (its short lease ran out on a
            // loaded machine): fail the same request again, so none goes untested.
            outlasted += 1;
            assert!(outlasted < 10, "{outcome:?}\n{log:#?}");
            eprintln!("request {request} not reached: {outcome:?}; again");
            repo.publish(channel, &built.artifacts).await.unwrap();
            before = listed(subject).await;
            continue;
        }
        let transient = matches!(
            mode(request),
            FailMode::Once(_) | FailMode::OnceAfterApply(_)
        );
        assert!(outcome.is_err() || transient, "{log:#?}");

        // What clients see now: the old or the new state, never a broken index.
        let broken = unexplained_problems(repo, channel, kind).await;
        assert!(
            broken.is_empty(),
            "failing request {request}: {broken:?}\n{log:#?}"
        );
        (subject.client_check)();
        let during = listed(subject).await;

        // Publishing again completes (after a crashed holder's lease ran out, if need be).
        let rerun = repo.publish(channel, &built.artifacts).await.unwrap();
        let report = repo
            .verify(channel, kind, &VerifyOptions::default())
            .await
            .unwrap();
        // A re-run with nothing left to do (the failed publish committed) takes no lock, so
        // the lock of a publisher that died after its commit stays until the next commit
        // takes it over; nothing else may be left.
        let noop = rerun.uploaded.is_empty() && rerun.pruned.is_empty();
        let left: Vec<&Problem> = report
            .problems
            .iter()
            .filter(|p| !(noop && matches!(p, Problem::StaleLock { .. })))
            .collect();
        assert!(
            left.is_empty(),
            "after re-running request {request}: {left:?}\n{log:#?}"
        );
        let after = listed(subject).await;
        let package = built.artifacts[0].file_name();
        assert!(after.contains(package), "{package} missing: {after:?}");
        assert_eq!(after.len(), before.len(), "retention keeps as many files");
        assert!(
            during == before || during == after,
            "failing request {request} listed neither the old nor the new state: {during:?}\n{log:#?}"
        );
        before = after;
        request += 1;
        assert!(
            request < 200,
            "a publish should not need this many requests"
        );
    }
}

/// A lease short enough that a crashed publisher's lock is taken over quickly.
fn lease(lease: Duration) -> RepositoryOptions {
    RepositoryOptions {
        lock: LockOptions {
            lease,
            wait: Duration::from_secs(60),
            poll: Duration::from_millis(20),
        },
        ..RepositoryOptions::default()
    }
}

/// Runs [`fail_at_every_request`] for `format` on `store` in `mode`, the failing publisher
/// holding the lock for `lease_length`; `client_check` is given the repository's directory in
/// the store. Returns the requests failed, and the wall time.
async fn run(
    format: &Format,
    store: RepoStore,
    lease_length: Duration,
    mode: fn(u64) -> FailMode,
    client_check: &dyn Fn(&str),
) -> (u64, Duration) {
    let started = Instant::now();
    let faults = Arc::new(Faults::default());
    let store = store.with_faults(Arc::clone(&faults));
    let failing = (format.make)(store.clone(), lease(lease_length));
    let repo = (format.make)(store, lease(Duration::from_secs(60)));
    let channel = dev_keeping_two(format.kind);
    let dir = format.dir(&channel);
    let release = |version: &str| (format.release)(version, "x");
    let check = || client_check(&dir);
    let subject = Subject {
        faults: &faults,
        failing: failing.as_ref(),
        repo: repo.as_ref(),
        channel: &channel,
        kind: format.kind,
        release: &release,
        client_check: &check,
    };
    let failed = fail_at_every_request(&subject, mode).await;
    assert!(
        failed >= 10,
        "{}: only {failed} requests were failed",
        format.name
    );
    (failed, started.elapsed())
}

/// A fault mode by name: what to fail when request `n` is the one to fail.
type Mode = (&'static str, fn(u64) -> FailMode);

/// A store for one run, and the client check of its repository directory.
type Backend = (RepoStore, Box<dyn Fn(&str)>);

const TRANSIENT: [Mode; 2] = [
    ("once", FailMode::Once),
    ("once-after-apply", FailMode::OnceAfterApply),
];

const CRASH: [Mode; 2] = [
    ("from", FailMode::From),
    ("from-after-apply", FailMode::FromAfterApply),
];

/// Every format in every mode of `modes` at once, each on a fresh store from `store`.
async fn every_format(
    modes: &[Mode],
    lease_length: Duration,
    store: impl Fn(&Format, &str) -> Backend,
) {
    let runs = FORMATS
        .iter()
        .flat_map(|format| modes.iter().map(move |(name, mode)| (format, *name, *mode)));
    let runs: Vec<_> = runs
        .map(|(format, name, mode)| {
            let (repo_store, check) = store(format, name);
            async move {
                let (failed, took) = run(format, repo_store, lease_length, mode, &*check).await;
                eprintln!(
                    "{} {name}: {failed} requests failed in {took:?}",
                    format.name
                );
            }
        })
        .collect();
    join_all(runs).await;
}

/// A `file://` store in a fresh directory, served over HTTP: bin and generic indexes are then
/// downloaded and every file they name checked, the way a client does. Without fsync: the
/// faults are requests failing, not power losses, and waiting for the disk of a loaded machine
/// would only make a publish outlast its short lease.
fn on_file(
    dirs: &std::sync::Mutex<Vec<tempfile::TempDir>>,
) -> impl Fn(&Format, &str) -> Backend + '_ {
    move |format, _| {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            fsync: false,
            ..StoreOptions::default()
        };
        let url = format!("file://{}", dir.path().display());
        let store = RepoStore::from_url_with(&url, &options).unwrap();
        let check: Box<dyn Fn(&str)> = match format.name {
            "bin" | "generic" => {
                let http = HttpServer::serve(dir.path()).unwrap();
                Box::new(move |repo_dir: &str| {
                    check_index_over_http(&format!("{}/{repo_dir}", http.url()));
                })
            }
            _ => Box::new(|_: &str| {}),
        };
        dirs.lock().unwrap().push(dir);
        (store, check)
    }
}

fn in_memory(_: &Format, _: &str) -> Backend {
    (
        RepoStore::new(Arc::new(object_store::memory::InMemory::new()), "").unwrap(),
        Box::new(|_: &str| {}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_on_file_survives_a_transient_failure_at_every_request() {
    let dirs = std::sync::Mutex::default();
    every_format(&TRANSIENT, Duration::from_secs(1), on_file(&dirs)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_on_file_survives_a_crash_at_every_request() {
    let dirs = std::sync::Mutex::default();
    every_format(&CRASH, Duration::from_secs(1), on_file(&dirs)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_in_memory_survives_a_failure_at_every_request() {
    let modes: Vec<_> = TRANSIENT.into_iter().chain(CRASH).collect();
    every_format(&modes, Duration::from_secs(1), in_memory).await;
}

/// Each run on its own `moto_server` (one Python process serves one core), read back by
/// verify only: the crash test below downloads like a client.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_on_s3_survives_a_transient_failure_at_every_request() {
    let servers = std::sync::Mutex::new(Vec::new());
    every_format(&TRANSIENT, Duration::from_secs(2), |format, mode| {
        let s3 = falco_artifacts_testkit::MotoS3::start().unwrap();
        let store = crate::common::s3_store(&s3, &format!("faults-{}-{mode}", format.name));
        servers.lock().unwrap().push(s3);
        (store, Box::new(|_: &str| {}))
    })
    .await;
}

/// A publisher dying at every request of a publish to S3, for the tarball repository.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bin_on_s3_survives_a_crash_at_every_request() {
    let s3 = falco_artifacts_testkit::MotoS3::start().unwrap();
    let store = crate::common::s3_store(&s3, "faults-bin-from");
    let url = format!("{}/faults-bin-from", s3.endpoint());
    let bin = FORMATS.iter().find(|f| f.name == "bin").unwrap();
    let check = |dir: &str| {
        check_index_over_http(&format!("{url}/{dir}"));
    };
    run(bin, store, Duration::from_secs(2), FailMode::From, &check).await;
}

/// Every format, failing once and dying at every request, on one Azurite (Node serves the
/// runs' requests concurrently); bin and generic are downloaded from the public container
/// like a client.
#[cfg(feature = "azure")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_on_azure_survives_a_failure_at_every_request() {
    let azurite = falco_artifacts_testkit::Azurite::start().unwrap();
    let modes: Vec<_> = TRANSIENT.into_iter().chain(CRASH).collect();
    every_format(&modes, Duration::from_secs(2), |format, mode| {
        let container = format!("faults-{}-{mode}", format.name);
        let store = crate::common::azure_store(&azurite, &container);
        let url = format!("{}/{container}", azurite.endpoint());
        let check: Box<dyn Fn(&str)> = match format.name {
            "bin" | "generic" => Box::new(move |dir: &str| {
                check_index_over_http(&format!("{url}/{dir}"));
            }),
            _ => Box::new(|_: &str| {}),
        };
        (store, check)
    })
    .await;
}
