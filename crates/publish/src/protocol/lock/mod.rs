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
mod tests;
