//! The final report of a run: every artifact with its repository, digest and URL.

use falco_artifacts_core::PublishReport;
use serde::Serialize;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Written by this run.
    Uploaded,
    /// Already there with the same bytes.
    Unchanged,
    /// Removed by retention.
    Pruned,
}

/// One file of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportEntry {
    /// `deb`, `rpm-dev`, `bin`, …
    pub repository: String,
    /// The file name.
    pub file_name: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Where to download it.
    pub url: String,
    /// What this run did with it.
    pub status: FileStatus,
}

/// The report of a whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The version released.
    pub version: String,
    /// The channel.
    pub channel: String,
    /// What the gate checked.
    pub gate: String,
    /// Every file, in repository order.
    pub files: Vec<ReportEntry>,
    /// Repositories verified clean after publishing.
    pub verified: Vec<String>,
    /// The images step, when it ran.
    pub images: Option<crate::ImagesReport>,
}

impl RunReport {
    /// Nothing was uploaded or pruned: the same release had already been published.
    pub fn is_noop(&self) -> bool {
        self.files.iter().all(|f| f.status == FileStatus::Unchanged)
    }

    /// Adds one repository's publish report; `path` gives a published file's path under the
    /// repository root.
    pub(crate) fn add(&mut self, base_url: &str, report: &PublishReport) {
        for (status, list) in [
            (FileStatus::Uploaded, &report.uploaded),
            (FileStatus::Unchanged, &report.unchanged),
            (FileStatus::Pruned, &report.pruned),
        ] {
            for file in list {
                self.files.push(ReportEntry {
                    repository: file.repository.clone(),
                    file_name: file.file_name.clone(),
                    sha256: file.sha256.to_hex(),
                    size: file.size,
                    url: format!(
                        "{}/packages/{}/{}",
                        base_url.trim_end_matches('/'),
                        file.repository,
                        file.key
                    ),
                    status,
                });
            }
        }
    }

    /// A table for people.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "release {} -> channel {} (gate: {})\n",
            self.version, self.channel, self.gate
        );
        if self.is_noop() {
            out.push_str("already published: nothing to do\n");
        }
        for f in &self.files {
            let status = match f.status {
                FileStatus::Uploaded => "uploaded",
                FileStatus::Unchanged => "unchanged",
                FileStatus::Pruned => "pruned",
            };
            out.push_str(&format!(
                "  {status:<9} {:<8} {}  {}\n",
                f.repository,
                &f.sha256[..16.min(f.sha256.len())],
                f.url
            ));
        }
        for r in &self.verified {
            out.push_str(&format!("  verified  {r}\n"));
        }
        if let Some(images) = &self.images {
            for pushed in &images.pushed {
                out.push_str(&format!("  pushed    {pushed}\n"));
            }
            for index in &images.indexes {
                out.push_str(&format!("  index     {index}\n"));
            }
        }
        out
    }
}

/// What `prune --orphans` found, and whether it deleted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphansReport {
    /// The orphans, in repository order, each sorted by key.
    pub orphans: Vec<falco_artifacts_core::Orphan>,
    /// Whether they were deleted (otherwise a dry run).
    pub deleted: bool,
}

impl OrphansReport {
    /// One line per orphan (full key and size) under a line saying what was done.
    pub fn to_text(&self) -> String {
        let n = self.orphans.len();
        let mut text = if self.deleted {
            format!("{n} orphans deleted\n")
        } else if n == 0 {
            "0 orphans\n".to_owned()
        } else {
            format!("{n} orphans (dry run: nothing deleted; add --confirm to delete them)\n")
        };
        for orphan in &self.orphans {
            text.push_str(&format!(
                "  packages/{}/{}  {} bytes\n",
                orphan.repository, orphan.key, orphan.size
            ));
        }
        text
    }
}
