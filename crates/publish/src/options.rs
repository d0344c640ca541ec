//! Settings shared by every repository format.

use crate::protocol::lock::LockOptions;

/// How a repository commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepositoryOptions {
    /// The repository lock.
    pub lock: LockOptions,
    /// How many index generations stay content-addressed (`by-hash/`), the live one included,
    /// so a client that read an older index a moment ago still finds what it names. At least 1.
    pub index_generations: usize,
}

impl Default for RepositoryOptions {
    /// The default lock, three index generations.
    fn default() -> Self {
        RepositoryOptions {
            lock: LockOptions::default(),
            index_generations: 3,
        }
    }
}
