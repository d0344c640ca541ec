//! The repository lock: a lease any store can hold, built on create-if-absent alone.
//!
//! The lock is a sequence of slot objects `<repo>/.publish/lock/<seq>`, each written once with
//! `PutMode::Create` and never changed: `held by H until T` or `free`. The newest slot is the
//! lock's state. Taking the lock (when the newest slot `n` is free, or held past its lease) is
//! creating slot `n + 1`; releasing it is creating slot `n + 1` as free. Because every slot can
//! be created by exactly one writer, two publishers can never both take the lock from the same
//! state, stealing an expired lease included, on any store with an atomic create-if-absent
//! (S3 `If-None-Match: *`, GCS, Azure, and `LocalFileSystem`'s hard-link publish). No
//! compare-and-swap on a mutable object is needed, so `file://` is exactly as safe as S3.
//!
//! A holder checks before its commit point that slot `n + 1` does not exist yet; if its lease
//! ran out and another publisher took over, it stops with [`PublishError::LockLost`].

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::PublishError;
use crate::store::{Created, RepoStore};

/// Where the lock's slots live, relative to the repository.
pub(crate) const LOCK_PREFIX: &str = ".publish/lock";
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
    written: DateTime<Utc>,
    expires: DateTime<Utc>,
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
    /// When its lease ends.
    pub expires: DateTime<Utc>,
}

/// The newest slot and every slot sequence seen.
async fn newest(store: &RepoStore) -> Result<(Option<(u64, Slot)>, Vec<u64>), PublishError> {
    let mut seqs: Vec<u64> = store
        .list(LOCK_PREFIX)
        .await?
        .iter()
        .filter_map(|(key, _)| slot_seq(key))
        .collect();
    seqs.sort_unstable();
    let Some(&last) = seqs.last() else {
        return Ok((None, seqs));
    };
    let key = slot_key(last);
    // A slot listed a moment ago cannot vanish: only slots far behind the newest are deleted.
    let Some(bytes) = store.get(&key).await? else {
        return Ok((None, seqs));
    };
    let slot: Slot =
        serde_json::from_slice(&bytes).map_err(|source| PublishError::Corrupt { key, source })?;
    Ok((Some((last, slot)), seqs))
}

/// Reads the lock's state without taking it, for verification.
pub(crate) async fn state(store: &RepoStore) -> Result<Option<LockState>, PublishError> {
    Ok(newest(store).await?.0.map(|(seq, slot)| LockState {
        seq,
        holder: slot.holder,
        held: slot.state == SlotState::Held,
        expires: slot.expires,
    }))
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
        let lease = chrono::Duration::from_std(options.lease).unwrap_or(chrono::Duration::MAX);
        loop {
            let (newest, seqs) = newest(store).await?;
            let now = Utc::now();
            let next = match &newest {
                None => 0,
                Some((seq, slot)) if slot.state == SlotState::Free || slot.expires <= now => {
                    seq + 1
                }
                Some((_, slot)) => {
                    if start.elapsed() >= options.wait {
                        return Err(PublishError::LockHeld {
                            repository: store.root().to_owned(),
                            holder: slot.holder.clone(),
                            expires: slot.expires,
                            waited: start.elapsed(),
                        });
                    }
                    sleep_jittered(options.poll).await;
                    continue;
                }
            };
            let slot = Slot {
                state: SlotState::Held,
                holder: holder.clone(),
                written: now,
                expires: now
                    .checked_add_signed(lease)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            };
            let taken = Instant::now();
            match store
                .create_volatile(&slot_key(next), payload(&slot))
                .await?
            {
                Created::New => {
                    // Best effort: a slot left behind costs a few bytes and is removed by the
                    // next holder, so a failure here must not fail the publish.
                    for old in seqs.iter().filter(|&&s| s + KEEP_SLOTS < next) {
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
                // Another publisher created that slot first; look again.
                Created::Exists => sleep_jittered(options.poll / 8).await,
            }
        }
    }

    /// Fails with [`PublishError::LockLost`] when another publisher took the lock over, and
    /// with [`PublishError::LeaseExpired`] when our lease (less a tenth, for clock skew) ran
    /// out; called right before the commit point.
    pub(crate) async fn check(&self) -> Result<(), PublishError> {
        let next = slot_key(self.seq + 1);
        if let Some(bytes) = self.store.get(&next).await? {
            let by = serde_json::from_slice::<Slot>(&bytes)
                .map(|s| s.holder)
                .unwrap_or_else(|_| "an unreadable slot".into());
            return Err(self.lost(by));
        }
        // Leave a margin for clock differences and the commit's own requests.
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
        };
        match self
            .store
            .create(&slot_key(self.seq + 1), payload(&slot))
            .await?
        {
            Created::New => Ok(()),
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

    #[tokio::test]
    async fn many_contenders_each_hold_it_alone() {
        let store = memory();
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let store = store.clone();
            let inside = Arc::clone(&inside);
            tasks.push(tokio::spawn(async move {
                let guard = LockGuard::acquire(&store, &quick(60_000, 30_000))
                    .await
                    .unwrap();
                let was = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert_eq!(was, 0, "two holders at once");
                tokio::time::sleep(Duration::from_millis(2)).await;
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                guard.release().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let slots = store.list(LOCK_PREFIX).await.unwrap().len() as u64;
        assert!(slots <= KEEP_SLOTS + 2, "old slots are cleaned up: {slots}");
    }
}
