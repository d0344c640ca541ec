//! Deferred deletion, once for every format: a file a commit stops naming (a package file
//! retention pruned, a split index's retired bucket) is still named by the generations before
//! it, which stay readable by hash for clients that read their top file a moment ago. So it is
//! deleted only by the commit after which no kept generation names it any more.
//!
//! The queue is carried in each generation's bookkeeping, one list per kept generation,
//! newest first: `deferred[i]` holds what the generation `i` steps behind the new one stopped
//! naming, which its predecessor (`i + 1` steps behind) still names. With `generations` kept
//! (the new one included), a list is due once its generation is the oldest kept one.

use std::collections::BTreeSet;

/// What one commit does with the deferred deletions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Deletions {
    /// The new generation's queue, newest first (see the module docs).
    pub(crate) deferred: Vec<Vec<String>>,
    /// What became due with this commit, sorted; recorded with the new generation so the
    /// next commit deletes it again, in case this publisher dies while deleting.
    pub(crate) due: Vec<String>,
    /// What this commit deletes, sorted: `due`, and what the previous commit deleted (once
    /// more, unless named again).
    pub(crate) delete: Vec<String>,
}

/// The deletions of the commit after a generation whose queue is `deferred` and whose own
/// commit deleted `deleted`: `stopped` are the keys this commit stops naming, `generations`
/// how many generations are kept (the new one included), `named` whether the new generation
/// names a key (such a key leaves the queue and is never deleted: it was published again).
pub(crate) fn advance(
    deferred: &[Vec<String>],
    deleted: &[String],
    stopped: impl IntoIterator<Item = String>,
    generations: usize,
    named: impl Fn(&str) -> bool,
) -> Deletions {
    let unnamed = |keys: &mut Vec<String>| keys.retain(|k| !named(k));
    let mut queue: Vec<Vec<String>> = Vec::with_capacity(deferred.len() + 1);
    queue.push(stopped.into_iter().collect());
    queue.extend(deferred.iter().cloned());
    queue.iter_mut().for_each(unnamed);
    // The list of the oldest kept generation (and any older) is named by no kept generation.
    let overdue = queue.split_off(queue.len().min(generations.saturating_sub(1)));
    while queue.last().is_some_and(Vec::is_empty) {
        queue.pop();
    }
    let due: BTreeSet<String> = overdue.into_iter().flatten().collect();
    let mut delete = due.clone();
    delete.extend(deleted.iter().filter(|k| !named(k)).cloned());
    Deletions {
        deferred: queue,
        due: due.into_iter().collect(),
        delete: delete.into_iter().collect(),
    }
}

/// Every key waiting in `deferred`: still named by a kept generation, not garbage.
pub(crate) fn waiting(deferred: &[Vec<String>]) -> BTreeSet<&str> {
    deferred.iter().flatten().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn one_generation_deletes_at_once() {
        let d = advance(&[], &[], keys(&["a"]), 1, |_| false);
        assert_eq!(d.due, keys(&["a"]));
        assert_eq!(d.delete, keys(&["a"]));
        assert!(d.deferred.is_empty());
    }

    #[test]
    fn a_pruned_key_waits_until_its_last_naming_generation_drops() {
        // Three kept: pruned by g1 (named by g0), g0 drops out of the window at g3.
        let g1 = advance(&[], &[], keys(&["a"]), 3, |_| false);
        assert!(g1.delete.is_empty());
        let g2 = advance(&g1.deferred, &g1.due, Vec::new(), 3, |_| false);
        assert!(g2.delete.is_empty());
        assert_eq!(g2.deferred, vec![Vec::new(), keys(&["a"])]);
        let g3 = advance(&g2.deferred, &g2.due, Vec::new(), 3, |_| false);
        assert_eq!(g3.delete, keys(&["a"]));
        assert!(g3.deferred.is_empty());
        // Deleted again once, in case g3's publisher died while deleting; then never again.
        let g4 = advance(&g3.deferred, &g3.due, Vec::new(), 3, |_| false);
        assert_eq!(g4.delete, keys(&["a"]));
        assert!(g4.due.is_empty());
        let g5 = advance(&g4.deferred, &g4.due, Vec::new(), 3, |_| false);
        assert!(g5.delete.is_empty());
    }

    #[test]
    fn a_key_named_again_is_never_deleted() {
        let g1 = advance(&[], &[], keys(&["a", "b"]), 2, |_| false);
        let g2 = advance(&g1.deferred, &g1.due, Vec::new(), 2, |k| k == "a");
        assert_eq!(g2.delete, keys(&["b"]));
        let g3 = advance(&g2.deferred, &g2.due, Vec::new(), 2, |k| k == "b");
        assert!(g3.delete.is_empty());
    }
}
