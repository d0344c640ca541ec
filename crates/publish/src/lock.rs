//! The repository lock: a lease any store can hold, built on create-if-absent alone.
//!
//! The lock is a sequence of slot objects `<repo>/.publish/lock/<seq>`, each written once with
//! `PutMode::Create` and never changed: `held by H for L` or `free`. The newest slot is the
//! lock's state. Taking the lock (when the newest slot `n` is free, or held past its lease) is
//! creating slot `n + 1`; releasing it is creating slot `n + 1` as free. Because every slot can
//! be created by exactly one writer, two publishers can never both take the lock from the same
//! state, stealing an expired lease included, on any store with an atomic create-if-absent
//! (S3 `If-None-Match: *`, GCS, Azure, and `LocalFileSystem`'s hard-link publish). No
//! compare-and-swap on a mutable object is needed, so `file://` is exactly as safe as S3.
//!
//! Two rules keep that true when the store's answers are stale or torn:
//! - a slot number that may have existed is never created again: when the newest listed slot
//!   cannot be read (deleted since the listing, because the lock moved on), the listing is
//!   taken again; acquisition never falls back to a low number;
//! - no publisher's clock is trusted against another's: a lease runs from the slot's
//!   `last_modified` as the *store* stamped it, compared with the store's time now (read from a
//!   probe object the taker writes), or from when this taker first saw that slot, by its own
//!   monotonic clock; whichever ends first. A slot that cannot be parsed (torn by a power
//!   loss) counts as held for one lease from its `last_modified`, then is taken over.
//!
//! A holder checks before each commit step that slot `n + 1` does not exist yet and that its
//! own lease (measured from before its slot was created, so it ends first) has a margin left;
//! if not, it stops with [`PublishError::LockLost`] or [`PublishError::LeaseExpired`].

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::PublishError;
use crate::store::{Created, RepoStore};

/// Where the lock's slots live, relative to the repository.
pub(crate) const LOCK_PREFIX: &str = ".publish/lock";
/// Where a taker writes the probe that tells it the store's time.
const CLOCK_PREFIX: &str = ".publish/lock/clock-";
/// How many old slots stay behind the newest; older ones are deleted by the next holder.
const KEEP_SLOTS: u64 = 8;

/// How the repository lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockOptions {
    /// How long a holder may keep the lock; after that another publisher may take it over.
    pub lease: Duration,
    /// How long to wait for a held lock before giving up with [`PublishError::LockHeld`].
    pub wait: Duration,
    /// How long to sleep between looks at a held lock (a random quarter is added).
    pub poll: Duration,
}

impl Default for LockOptions {
    /// A 5-minute lease, waiting up to 10 minutes, looking every 200 ms.
    fn default() -> Self {
        LockOptions {
            lease: Duration::from_secs(300),
            wait: Duration::from_secs(600),
            poll: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SlotState {
    Held,
    Free,
}

/// One slot of the lock, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slot {
    state: SlotState,
    holder: String,
    /// The holder's clock when it wrote the slot: for people reading it, never for decisions.
    written: DateTime<Utc>,
    /// `written` plus the lease, on the holder's clock: for people and older readers.
    expires: DateTime<Utc>,
    /// The lease, which runs from the store's `last_modified` of the slot. Absent in slots
    /// written before it existed, whose lease is `expires - written`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_ms: Option<u64>,
}

impl Slot {
    fn lease(&self) -> Duration {
        match self.lease_ms {
            Some(ms) => Duration::from_millis(ms),
            None => (self.expires - self.written).to_std().unwrap_or_default(),
        }
    }
}

fn slot_key(seq: u64) -> String {
    format!("{LOCK_PREFIX}/{seq:020}")
}

fn slot_seq(key: &str) -> Option<u64> {
    key.strip_prefix(LOCK_PREFIX)?
        .strip_prefix('/')?
        .parse()
        .ok()
}

/// The state of the lock as last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockState {
    /// The newest slot's sequence number.
    pub seq: u64,
    /// Who wrote it.
    pub holder: String,
    /// Whether it is held (true) or was released.
    pub held: bool,
    /// When its lease ends: the slot's `last_modified` as the store stamped it, plus the lease.
    pub expires: DateTime<Utc>,
}

/// The newest slot as read: its contents (`None` when torn or unparsable) and the store's
/// time stamp of it.
#[derive(Debug, Clone)]
struct Newest {
    seq: u64,
    slot: Option<Slot>,
    modified: DateTime<Utc>,
}

impl Newest {
    fn is_free(&self) -> bool {
        matches!(&self.slot, Some(slot) if slot.state == SlotState::Free)
    }

    fn holder(&self) -> String {
        match &self.slot {
            Some(slot) => slot.holder.clone(),
            None => format!("an unreadable slot ({})", slot_key(self.seq)),
        }
    }

    /// The lease this slot claims; an unreadable one is given the reader's own.
    fn lease(&self, fallback: Duration) -> Duration {
        self.slot.as_ref().map_or(fallback, Slot::lease)
    }

    /// When the lease ends, in store time.
    fn expires(&self, fallback: Duration) -> DateTime<Utc> {
        let lease =
            chrono::Duration::from_std(self.lease(fallback)).unwrap_or(chrono::Duration::MAX);
        self.modified
            .checked_add_signed(lease)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// What one listing says.
enum Look {
    /// No slot at all: the lock was never taken.
    Empty,
    /// The newest slot.
    Newest(Newest),
    /// The newest listed slot is gone: the listing is older than the lock's state.
    Stale,
}

/// Every slot number listed, in order.
async fn slot_seqs(store: &RepoStore) -> Result<Vec<u64>, PublishError> {
    let mut seqs: Vec<u64> = store
        .list(LOCK_PREFIX)
        .await?
        .iter()
        .filter_map(|(key, _)| slot_seq(key))
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

async fn look(store: &RepoStore) -> Result<Look, PublishError> {
    let mut listed: Vec<(u64, DateTime<Utc>)> = store
        .list(LOCK_PREFIX)
        .await?
        .iter()
        .filter_map(|(key, meta)| Some((slot_seq(key)?, meta.last_modified)))
        .collect();
    listed.sort_unstable_by_key(|(seq, _)| *seq);
    let Some(&(last, modified)) = listed.last() else {
        return Ok(Look::Empty);
    };
    let Some(bytes) = store.get(&slot_key(last)).await? else {
        return Ok(Look::Stale);
    };
    let slot = serde_json::from_slice::<Slot>(&bytes).ok();
    Ok(Look::Newest(Newest {
        seq: last,
        slot,
        modified,
    }))
}

/// Reads the lock's state without taking it, for verification.
pub(crate) async fn state(store: &RepoStore) -> Result<Option<LockState>, PublishError> {
    let fallback = LockOptions::default().lease;
    // A stale listing means the lock is moving right now; a few looks settle it.
    for _ in 0..8 {
        match look(store).await? {
            Look::Empty => return Ok(None),
            Look::Stale => sleep_jittered(Duration::from_millis(20)).await,
            Look::Newest(newest) => {
                return Ok(Some(LockState {
                    seq: newest.seq,
                    holder: newest.holder(),
                    held: !newest.is_free(),
                    expires: newest.expires(fallback),
                }))
            }
        }
    }
    Err(PublishError::LockHeld {
        repository: store.root().to_owned(),
        holder: "publishers moving the lock faster than it can be read".into(),
        expires: Utc::now(),
        waited: Duration::ZERO,
    })
}

/// The store's time now, read from the `last_modified` of an object written for that.
async fn store_now(store: &RepoStore) -> Result<DateTime<Utc>, PublishError> {
    let nonce: u64 = rand::thread_rng().gen();
    let key = format!("{CLOCK_PREFIX}{nonce:016x}");
    store.create_volatile(&key, Vec::new().into()).await?;
    let meta = store.head(&key).await?;
    // Best effort: a probe left behind is an empty object the next probe does not read.
    let _ = store.delete(&key).await;
    Ok(meta.map_or_else(Utc::now, |m| m.last_modified))
}

fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".into());
    let nonce: u64 = rand::thread_rng().gen();
    format!("{host}:{}:{nonce:016x}", std::process::id())
}

fn payload(slot: &Slot) -> object_store::PutPayload {
    // Serializing a struct of strings and dates cannot fail.
    serde_json::to_vec(slot).unwrap_or_default().into()
}

/// How a taker judges a held slot's lease: by store time, and by its own monotonic clock
/// since it first saw that slot as the newest.
#[derive(Default)]
struct Watch {
    /// The slot being watched and when this taker first saw it.
    seen: Option<(u64, Instant)>,
    /// Store time minus local time, read once.
    offset: Option<chrono::Duration>,
}

impl Watch {
    async fn expired(
        &mut self,
        store: &RepoStore,
        newest: &Newest,
        fallback: Duration,
    ) -> Result<bool, PublishError> {
        let first_seen = match self.seen {
            Some((seq, at)) if seq == newest.seq => at,
            _ => {
                let now = Instant::now();
                self.seen = Some((newest.seq, now));
                now
            }
        };
        if first_seen.elapsed() >= newest.lease(fallback) {
            return Ok(true);
        }
        let offset = match self.offset {
            Some(offset) => offset,
            None => {
                let offset = store_now(store).await? - Utc::now();
                self.offset = Some(offset);
                offset
            }
        };
        Ok(newest.expires(fallback) <= Utc::now() + offset)
    }
}

/// A held repository lock. Release it with [`LockGuard::release`]; a guard that is dropped
/// instead (a crash) leaves the lease to expire.
#[derive(Debug)]
pub(crate) struct LockGuard {
    store: RepoStore,
    seq: u64,
    holder: String,
    taken: Instant,
    lease: Duration,
}

impl LockGuard {
    /// Takes the lock of the repository at `store`, waiting as `options` say.
    pub(crate) async fn acquire(
        store: &RepoStore,
        options: &LockOptions,
    ) -> Result<LockGuard, PublishError> {
        let holder = holder_name();
        let start = Instant::now();
        let lease_ms = u64::try_from(options.lease.as_millis()).unwrap_or(u64::MAX);
        let mut watch = Watch::default();
        loop {
            let next = match look(store).await? {
                Look::Empty => 0,
                Look::Stale => {
                    if start.elapsed() >= options.wait {
                        return Err(PublishError::LockHeld {
                            repository: store.root().to_owned(),
                            holder: "a publisher (the lock moved on while being read)".into(),
                            expires: Utc::now(),
                            waited: start.elapsed(),
                        });
                    }
                    sleep_jittered(options.poll / 8).await;
                    continue;
                }
                Look::Newest(newest) => {
                    if newest.is_free() || watch.expired(store, &newest, options.lease).await? {
                        newest.seq + 1
                    } else {
                        if start.elapsed() >= options.wait {
                            return Err(PublishError::LockHeld {
                                repository: store.root().to_owned(),
                                holder: newest.holder(),
                                expires: newest.expires(options.lease),
                                waited: start.elapsed(),
                            });
                        }
                        sleep_jittered(options.poll).await;
                        continue;
                    }
                }
            };
            let now = Utc::now();
            let slot = Slot {
                state: SlotState::Held,
                holder: holder.clone(),
                written: now,
                expires: now
                    .checked_add_signed(
                        chrono::Duration::from_std(options.lease).unwrap_or(chrono::Duration::MAX),
                    )
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
                lease_ms: Some(lease_ms),
            };
            // Taken before the create: the store stamps the slot later, so our lease ends
            // before any taker's view of it.
            let taken = Instant::now();
            // Created::Exists: another publisher created that slot first (look again), unless it
            // is ours: a create that landed but whose answer was lost is retried by the store
            // client, and the retry finds our own slot. Created::New is read back too: some
            // S3-compatible servers (moto among them) check `If-None-Match` and write in two
            // steps, so two racing creates can both succeed and the later one wins.
            store
                .create_volatile(&slot_key(next), payload(&slot))
                .await?;
            let created = written_by(store, next, &holder, SlotState::Held).await?;
            if !created {
                sleep_jittered(options.poll / 8).await;
                continue;
            }
            // A slot number is free to create again once cleaned away, which happens only after
            // the lock moved at least KEEP_SLOTS further. If we were that late (paused between
            // reading slot `next - 1` and creating `next`), a newer slot exists: ours is not the
            // lock's state, so it goes and we look again.
            let listed = slot_seqs(store).await?;
            if listed.last().is_some_and(|&newest| newest > next) {
                let _ = store.delete(&slot_key(next)).await;
                continue;
            }
            // Best effort: a slot left behind costs a few bytes and is removed by the next
            // holder, so a failure here must not fail the publish.
            for old in listed.iter().filter(|&&s| s + KEEP_SLOTS < next) {
                let _ = store.delete(&slot_key(*old)).await;
            }
            return Ok(LockGuard {
                store: store.clone(),
                seq: next,
                holder,
                taken,
                lease: options.lease,
            });
        }
    }

    /// Fails with [`PublishError::LockLost`] when another publisher took the lock over, and
    /// with [`PublishError::LeaseExpired`] when our lease (less a tenth, for the commit's own
    /// requests) ran out; called before each commit step that other publishers could see.
    pub(crate) async fn check(&self) -> Result<(), PublishError> {
        let next = slot_key(self.seq + 1);
        if let Some(bytes) = self.store.get(&next).await? {
            let by = serde_json::from_slice::<Slot>(&bytes)
                .map(|s| s.holder)
                .unwrap_or_else(|_| "an unreadable slot".into());
            return Err(self.lost(by));
        }
        if self.taken.elapsed() + self.lease / 10 >= self.lease {
            return Err(PublishError::LeaseExpired {
                repository: self.store.root().to_owned(),
                lease: self.lease,
            });
        }
        Ok(())
    }

    fn lost(&self, by: String) -> PublishError {
        PublishError::LockLost {
            repository: self.store.root().to_owned(),
            by,
        }
    }

    /// Releases the lock. Fails with [`PublishError::LockLost`] when another publisher had
    /// already taken it over.
    pub(crate) async fn release(self) -> Result<(), PublishError> {
        let now = Utc::now();
        let slot = Slot {
            state: SlotState::Free,
            holder: self.holder.clone(),
            written: now,
            expires: now,
            lease_ms: Some(0),
        };
        match self
            .store
            .create(&slot_key(self.seq + 1), payload(&slot))
            .await?
        {
            Created::New => Ok(()),
            Created::Exists
                if written_by(&self.store, self.seq + 1, &self.holder, SlotState::Free).await? =>
            {
                Ok(())
            }
            Created::Exists => {
                let by = match self.store.get(&slot_key(self.seq + 1)).await? {
                    Some(bytes) => serde_json::from_slice::<Slot>(&bytes)
                        .map(|s| s.holder)
                        .unwrap_or_else(|_| "an unreadable slot".into()),
                    None => "an unknown publisher".into(),
                };
                Err(self.lost(by))
            }
        }
    }
}

/// Whether slot `seq` is one `holder` wrote in `state`: an earlier attempt of our own create.
async fn written_by(
    store: &RepoStore,
    seq: u64,
    holder: &str,
    state: SlotState,
) -> Result<bool, PublishError> {
    Ok(store
        .get(&slot_key(seq))
        .await?
        .and_then(|bytes| serde_json::from_slice::<Slot>(&bytes).ok())
        .is_some_and(|slot| slot.holder == holder && slot.state == state))
}

async fn sleep_jittered(base: Duration) {
    let extra = rand::thread_rng().gen_range(0..=base.as_millis() / 4 + 1);
    let extra = u64::try_from(extra).unwrap_or(0);
    tokio::time::sleep(base + Duration::from_millis(extra)).await;
}

#[cfg(test)]
mod tests {
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
        let inner: Arc<dyn object_store::ObjectStore> =
            Arc::new(object_store::memory::InMemory::new());
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
        let options = crate::StoreOptions {
            endpoint: Some(s3.endpoint()),
            region: Some(s3.region().into()),
            access_key_id: Some(s3.access_key().into()),
            secret_access_key: Some(s3.secret_key().into()),
            allow_http: true,
            path_style: true,
            ..crate::StoreOptions::default()
        };
        let stores = (0..8)
            .map(|_| RepoStore::from_url_with("s3://falco-lock/repo", &options).unwrap())
            .collect();
        contend(stores, 4, Duration::from_millis(5)).await;
        let store = RepoStore::from_url_with("s3://falco-lock/repo", &options).unwrap();
        let state = state(&store).await.unwrap().unwrap();
        assert_eq!(state.seq, 63, "32 takes and 32 releases: slots 0 to 63");
        assert!(!state.held);
    }
}
