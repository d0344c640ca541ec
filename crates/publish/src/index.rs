//! The index of a bin or generic repository: `index.json`, what the protocol reads back.

use chrono::{DateTime, Utc};
use falco_artifacts_core::{Arch, ArtifactKind, PublishedFile, Sha256Digest, Version};
use serde::{Deserialize, Serialize};

/// The canonical index name.
pub const INDEX_JSON: &str = "index.json";
/// The page a person browses.
pub const INDEX_HTML: &str = "index.html";
/// Where content-addressed copies of the index go.
pub const BY_HASH: &str = "by-hash/SHA256";

/// What kind of file an index entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// A `.deb` package.
    Deb,
    /// An `.rpm` package.
    Rpm,
    /// A release tarball.
    Tarball,
    /// A kernel module.
    KernelModule,
    /// An eBPF probe.
    EbpfProbe,
    /// A detached signature.
    Signature,
    /// A checksum file.
    Checksum,
    /// Anything else.
    Other,
}

impl From<ArtifactKind> for FileKind {
    fn from(kind: ArtifactKind) -> Self {
        match kind {
            ArtifactKind::Deb => FileKind::Deb,
            ArtifactKind::Rpm => FileKind::Rpm,
            ArtifactKind::Tarball => FileKind::Tarball,
            ArtifactKind::KernelModule => FileKind::KernelModule,
            ArtifactKind::EbpfProbe => FileKind::EbpfProbe,
            ArtifactKind::Signature => FileKind::Signature,
            ArtifactKind::Checksum => FileKind::Checksum,
            ArtifactKind::Other => FileKind::Other,
        }
    }
}

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Its key relative to the repository (`x86_64/falco-0.39.0-x86_64.tar.gz`).
    pub path: String,
    /// Its file name.
    pub name: String,
    /// What it is.
    pub kind: FileKind,
    /// The version it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Its architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// When it was first published.
    pub time: DateTime<Utc>,
}

impl IndexEntry {
    /// The first path component: the group the HTML page and
    /// [`GenericRepository::groups`](crate::GenericRepository::groups) list it under.
    pub fn group(&self) -> &str {
        group_of(&self.path)
    }

    /// The entry as core describes a published file.
    pub fn to_published(&self, repository: &str) -> PublishedFile {
        PublishedFile {
            repository: repository.to_owned(),
            key: self.path.clone(),
            file_name: self.name.clone(),
            sha256: self.sha256,
            size: self.size,
            version: self.version.clone(),
            arch: self.arch,
        }
    }
}

/// Bookkeeping of the commit protocol, carried from one index generation to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolState {
    /// Keys this generation's commit deleted; the next publisher deletes them again in case
    /// the publisher that deleted them died halfway through.
    #[serde(default)]
    pub pruned: Vec<String>,
    /// Content-addressed copies of earlier generations still kept, newest first.
    #[serde(default)]
    pub by_hash: Vec<String>,
    /// Buckets a generation written before deferred deletion stopped naming, deleted by the
    /// next publisher; now they wait in [`ProtocolState::deferred`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<String>,
    /// Keys (pruned files, retired buckets) that kept generations stopped naming but an older
    /// kept generation still names, one list per generation, newest first: each list is
    /// deleted by the commit after which no kept generation names its keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Vec<String>>,
}

/// One bucket of a split index: the entries of one group (first path component, e.g. a
/// driver version), stored content-addressed as a JSON array of [`IndexEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexBucket {
    /// The group (`10.2.0+driver`; `""` for files at the repository's root).
    pub group: String,
    /// Where the bucket is, relative to the repository (`by-hash/SHA256/<sha256>`).
    pub key: String,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// How many files it lists.
    pub files: usize,
}

/// A repository index: every file, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoIndex {
    /// The format version, 1.
    pub format: u32,
    /// The repository's path in the store (`packages/bin-dev`).
    pub repository: String,
    /// When this generation was written.
    pub generated: DateTime<Utc>,
    /// The files. In a split index the top file lists none itself: they are in
    /// [`RepoIndex::buckets`], and reading the index through the repository joins them here.
    pub files: Vec<IndexEntry>,
    /// A split index's buckets, one per group, so that a publish rewrites only the buckets
    /// of the groups it changes (empty in a single-file index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<IndexBucket>,
    /// The protocol's bookkeeping.
    #[serde(default)]
    pub protocol: ProtocolState,
    /// Buckets of [`RepoIndex::buckets`] whose entries were not read into
    /// [`RepoIndex::files`]: a publish that prunes nothing reads only the groups it touches,
    /// and carries the others over unchanged.
    #[serde(skip)]
    pub(crate) unread: Vec<IndexBucket>,
}

impl RepoIndex {
    /// An index of files known only by path, size and digest (the live files of an APT or
    /// YUM repository, for the shared create-if-absent checks).
    pub(crate) fn of_files<'a>(
        kind: FileKind,
        files: impl IntoIterator<Item = (&'a str, u64, Sha256Digest)>,
    ) -> Self {
        let mut index = RepoIndex::empty("");
        index.files = files
            .into_iter()
            .map(|(path, size, sha256)| IndexEntry {
                path: path.to_owned(),
                name: path.rsplit('/').next().unwrap_or(path).to_owned(),
                kind,
                version: None,
                arch: None,
                size,
                sha256,
                time: DateTime::<Utc>::UNIX_EPOCH,
            })
            .collect();
        // Sorted, as [`RepoIndex::get`] expects.
        index.files.sort_by(|a, b| a.path.cmp(&b.path));
        index
    }

    /// An empty index of `repository`.
    pub fn empty(repository: &str) -> Self {
        RepoIndex {
            format: 1,
            repository: repository.to_owned(),
            generated: DateTime::<Utc>::UNIX_EPOCH,
            files: Vec::new(),
            buckets: Vec::new(),
            protocol: ProtocolState::default(),
            unread: Vec::new(),
        }
    }

    /// The entry at `path`.
    pub fn get(&self, path: &str) -> Option<&IndexEntry> {
        self.files
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .and_then(|i| self.files.get(i))
    }

    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// The group of a key: its first path component (`""` for a key at the repository's root).
pub(crate) fn group_of(path: &str) -> &str {
    path.split_once('/').map_or("", |(first, _)| first)
}

/// The key of the content-addressed copy of bytes with digest `sha256`.
pub(crate) fn by_hash_key(sha256: &Sha256Digest) -> String {
    format!("{BY_HASH}/{sha256}")
}
