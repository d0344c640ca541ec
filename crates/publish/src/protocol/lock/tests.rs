//! The lock's unit tests, scenarios 4, 5 and 8 of the protocol's known failures among them.
use std::sync::Arc;

use super::*;

fn memory() -> RepoStore {
    RepoStore::new(Arc::new(object_store::memory::InMemory::new()), "repo").unwrap()
}

fn quick(lease_ms: u64, wait_ms: u64) -> LockOptions {
    LockOptions {
        lease: Duration::from_millis(lease_ms),
        wait: Duration::from_millis(wait_ms),
        poll: Duration::from_millis(10),
    }
}

#[tokio::test]
async fn a_held_lock_blocks_and_a_released_one_does_not() {
    let store = memory();
    let first = LockGuard::acquire(&store, &quick(60_000, 0)).await.unwrap();
    let err = LockGuard::acquire(&store, &quick(60_000, 50))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::LockHeld { .. }), "{err}");
    first.check().await.unwrap();
    first.release().await.unwrap();
    let second = LockGuard::acquire(&store, &quick(60_000, 0)).await.unwrap();
    assert_eq!(second.seq, 2);
    let state = state(&store).await.unwrap().unwrap();
    assert!(state.held);
    second.release().await.unwrap();
    assert!(!state_now(&store).await.held);
}

async fn state_now(store: &RepoStore) -> LockState {
    state(store).await.unwrap().unwrap()
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_holder_learns_it() {
    let store = memory();
    let crashed = LockGuard::acquire(&store, &quick(50, 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let thief = LockGuard::acquire(&store, &quick(60_000, 1_000))
        .await
        .unwrap();
    assert!(matches!(
        crashed.check().await,
        Err(PublishError::LockLost { .. })
    ));
    assert!(matches!(
        crashed.release().await,
        Err(PublishError::LockLost { .. })
    ));
    thief.check().await.unwrap();
    thief.release().await.unwrap();
}

/// Each store's task takes and releases the lock `rounds` times, holding it for `hold`;
/// no two ever hold it at once.
async fn contend(stores: Vec<RepoStore>, rounds: usize, hold: Duration) {
    let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for store in stores {
        let inside = Arc::clone(&inside);
        tasks.push(tokio::spawn(async move {
            for _ in 0..rounds {
                let guard = LockGuard::acquire(&store, &quick(60_000, 60_000))
                    .await
                    .unwrap();
                let was = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert_eq!(was, 0, "two holders at once");
                tokio::time::sleep(hold).await;
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                guard.check().await.unwrap();
                guard.release().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn many_contenders_each_hold_it_alone() {
    let store = memory();
    contend(vec![store.clone(); 16], 1, Duration::from_millis(2)).await;
    let slots = store.list(LOCK_PREFIX).await.unwrap().len() as u64;
    assert!(slots <= KEEP_SLOTS + 2, "old slots are cleaned up: {slots}");
}

/// Scenario 4: a listing older than the lock's state (slots deleted since) must never
/// lead back to slot 0, which was deleted long ago and could be created again.
#[tokio::test]
async fn a_stale_listing_never_retakes_a_deleted_slot() {
    let inner: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let live = RepoStore::new(inner.clone(), "repo").unwrap();
    let lagging = Arc::new(crate::FailingStore::new(inner));
    let stale = RepoStore::new(lagging.clone(), "repo").unwrap();
    LockGuard::acquire(&live, &quick(60_000, 0))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    // The lagging store's listing is taken now, while slot 0 and 1 exist.
    lagging.freeze_listings();
    assert!(matches!(look(&stale).await.unwrap(), Look::Newest(_)));
    // The lock moves on far enough for slots 0 and 1 to be cleaned away, then is held.
    for _ in 0..KEEP_SLOTS {
        LockGuard::acquire(&live, &quick(60_000, 0))
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }
    let holder = LockGuard::acquire(&live, &quick(60_000, 0)).await.unwrap();
    assert!(live.get(&slot_key(0)).await.unwrap().is_none());
    let err = LockGuard::acquire(&stale, &quick(60_000, 200))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::LockHeld { .. }), "{err}");
    assert!(
        live.get(&slot_key(0)).await.unwrap().is_none(),
        "slot 0 re-created"
    );
    // Once the listing catches up, the taker waits for the real holder like anyone.
    lagging.thaw_listings();
    let err = LockGuard::acquire(&stale, &quick(60_000, 100))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::LockHeld { .. }), "{err}");
    holder.check().await.unwrap();
    holder.release().await.unwrap();
    LockGuard::acquire(&stale, &quick(60_000, 0))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

/// Scenario 5: a holder whose clock runs an hour ahead writes an `expires` an hour away;
/// its lease still ends, for takers, when the store's clock says so.
#[tokio::test]
async fn a_holder_with_a_clock_ahead_does_not_block_takers() {
    let store = memory();
    let ahead = Utc::now() + chrono::Duration::hours(1);
    let slot = Slot {
        state: SlotState::Held,
        holder: "clock-ahead".into(),
        written: ahead,
        expires: ahead + chrono::Duration::milliseconds(50),
        lease_ms: Some(50),
    };
    store.create(&slot_key(0), payload(&slot)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let taker = LockGuard::acquire(&store, &quick(60_000, 2_000))
        .await
        .unwrap();
    assert_eq!(taker.seq, 1);
    taker.release().await.unwrap();
}

/// Scenario 5: a holder whose lease ran out learns it before deleting anything, and a
/// taker that cannot read the store's clock still ends the lease by its own monotonic one.
#[tokio::test]
async fn a_lease_ends_for_the_holder_before_any_taker_sees_it_end() {
    let store = memory();
    let holder = LockGuard::acquire(&store, &quick(100, 0)).await.unwrap();
    holder.check().await.unwrap();
    tokio::time::sleep(Duration::from_millis(95)).await;
    // Our margin is a tenth of the lease: at 95 ms of 100 the holder must stop already…
    assert!(matches!(
        holder.check().await,
        Err(PublishError::LeaseExpired { .. })
    ));
    // …while a taker may take over only once the whole lease has passed in store time.
    let taker = LockGuard::acquire(&store, &quick(60_000, 1_000))
        .await
        .unwrap();
    assert!(matches!(
        holder.check().await,
        Err(PublishError::LockLost { .. })
    ));
    taker.release().await.unwrap();
}

/// Scenario 8: a slot torn by a power loss (empty on `file://`, where slots are not
/// synced) counts as held for one lease from its time stamp, then is taken over.
#[tokio::test]
async fn a_torn_slot_on_file_is_recovered_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let store = RepoStore::from_url(&url).unwrap();
    let first = LockGuard::acquire(&store, &quick(60_000, 0)).await.unwrap();
    drop(first);
    let slot = dir.path().join(LOCK_PREFIX).join(format!("{:020}", 0));
    std::fs::write(&slot, b"").unwrap();
    let state = state(&store).await.unwrap().unwrap();
    assert!(
        state.held && state.holder.contains("unreadable"),
        "{state:?}"
    );
    let err = LockGuard::acquire(&store, &quick(60_000, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::LockHeld { .. }), "{err}");
    tokio::time::sleep(Duration::from_millis(80)).await;
    let taker = LockGuard::acquire(&store, &quick(50, 2_000)).await.unwrap();
    assert_eq!(taker.seq, 1);
    taker.release().await.unwrap();
    assert!(!state_now(&store).await.held);
}

/// Scenario 4 on a real S3 server: contenders on a multi-threaded runtime, whose
/// listings and reads interleave with other holders' slot writes and clean-ups.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contenders_on_moto_each_hold_it_alone() {
    let s3 = falco_artifacts_testkit::MotoS3::start().unwrap();
    s3.create_bucket("falco-lock").unwrap();
    let options = crate::store::moto_options(&s3);
    let stores = (0..8)
        .map(|_| RepoStore::from_url_with("s3://falco-lock/repo", &options).unwrap())
        .collect();
    contend(stores, 4, Duration::from_millis(5)).await;
    let store = RepoStore::from_url_with("s3://falco-lock/repo", &options).unwrap();
    let state = state(&store).await.unwrap().unwrap();
    assert_eq!(state.seq, 63, "32 takes and 32 releases: slots 0 to 63");
    assert!(!state.held);
}

/// Scenario 4 on Azure Blob Storage (Azurite): slots created with `If-None-Match: *`.
#[cfg(feature = "azure")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contenders_on_azurite_each_hold_it_alone() {
    let azurite = falco_artifacts_testkit::Azurite::start().unwrap();
    azurite.create_container("falco-lock").unwrap();
    let options = crate::store::azurite_options(&azurite);
    let stores = (0..8)
        .map(|_| RepoStore::from_url_with("az://falco-lock/repo", &options).unwrap())
        .collect();
    contend(stores, 4, Duration::from_millis(5)).await;
    let store = RepoStore::from_url_with("az://falco-lock/repo", &options).unwrap();
    let state = state(&store).await.unwrap().unwrap();
    assert_eq!(state.seq, 63, "32 takes and 32 releases: slots 0 to 63");
    assert!(!state.held);
}
