//! What a publish would do: the dry run's answer.

use falco_artifacts_core::PublishedFile;

/// What a publish writes, keeps and prunes, computed without writing anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishPlan {
    /// The repository's path in the store.
    pub repository: String,
    /// Files that are new.
    pub upload: Vec<PublishedFile>,
    /// Files published before with other bytes, replaced because the channel allows it.
    pub replace: Vec<PublishedFile>,
    /// Files already published with the same bytes.
    pub unchanged: Vec<PublishedFile>,
    /// Files retention removes once the new index is live.
    pub prune: Vec<PublishedFile>,
    /// Index files written, in commit order (content-addressed, canonical, top).
    pub index_files: Vec<String>,
}

impl PublishPlan {
    /// True when the publish would change no file (the index is rewritten only if needed).
    pub fn is_noop(&self) -> bool {
        self.upload.is_empty() && self.replace.is_empty() && self.prune.is_empty()
    }
}
