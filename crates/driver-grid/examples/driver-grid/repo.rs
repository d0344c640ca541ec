//! The commands on a repository: `publish`, `index`, `cleanup`, `stats --repo`, and the
//! listing `plan --repo` reads.

use std::error::Error;
use std::io::Write;
use std::path::Path;

use falco_artifacts_driver_grid::publish::{RepoStore, StoreOptions};
use falco_artifacts_driver_grid::{
    scan_built, CleanupMode, CleanupSelection, DriverRepository, DriverVersion, ExistingKeys,
    KernelList,
};

/// Where the repository is and how its index links downloads.
pub(crate) struct RepoArgs {
    /// `file:///srv/www`, `s3://bucket/prefix`, `memory:///`.
    pub(crate) url: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`): path-style, plain HTTP allowed.
    pub(crate) s3_endpoint: Option<String>,
    /// Prefix of download links in the index (`https://download.falco.org`).
    pub(crate) base_url: String,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, std::io::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

pub(crate) fn open(args: &RepoArgs) -> Result<DriverRepository, Box<dyn Error>> {
    let mut options = StoreOptions::default();
    if let Some(endpoint) = &args.s3_endpoint {
        options.endpoint = Some(endpoint.clone());
        options.allow_http = endpoint.starts_with("http://");
        options.path_style = true;
    }
    let store = RepoStore::from_url_with(&args.url, &options)?;
    Ok(DriverRepository::new(store)?.with_base_url(args.base_url.clone()))
}

/// `publish <built-dir> --repo <url>`: uploads what the repository lacks, then the index.
pub(crate) fn publish(
    args: &RepoArgs,
    built_dir: &Path,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    // The directory is checked whole before the repository is touched.
    let built = scan_built(built_dir)?;
    let repo = open(args)?;
    let outcome = runtime()?.block_on(repo.publish(&built))?;
    if json {
        let value = serde_json::json!({
            "uploaded": outcome.uploaded,
            "skipped": outcome.skipped,
            "index_written": outcome.index.is_some(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        for key in &outcome.uploaded {
            writeln!(out, "uploaded {key}")?;
        }
        writeln!(
            out,
            "{} uploaded, {} already published{}",
            outcome.uploaded.len(),
            outcome.skipped.len(),
            if outcome.index.is_some() {
                ", index written"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// `index --repo <url>`: rewrites the index of prebuilt drivers from a listing.
pub(crate) fn index(args: &RepoArgs, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let repo = open(args)?;
    let index = runtime()?.block_on(repo.regenerate_index())?;
    for (version, entries) in index.versions.iter().rev() {
        writeln!(out, "{version}: {} drivers", entries.len())?;
    }
    writeln!(
        out,
        "index written: driver/site/index.json, index.html and {} driver versions",
        index.versions.len()
    )?;
    Ok(())
}

/// `cleanup --repo <url> (--versions <v>... | --older-than <v>) [--confirm]`: deletes (or
/// lists) the named driver versions, never a shipped one.
pub(crate) fn cleanup(
    args: &RepoArgs,
    selection: &CleanupSelection,
    shipped: &[DriverVersion],
    confirm: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    let repo = open(args)?;
    let mode = if confirm {
        CleanupMode::Confirm
    } else {
        CleanupMode::DryRun
    };
    let outcome = runtime()?.block_on(repo.cleanup(selection, shipped, mode))?;
    if json {
        let value = serde_json::json!({
            "protected": shipped,
            "versions": outcome.plan.versions,
            "keys": outcome.plan.keys,
            "deleted": outcome.deleted,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    let verb = if outcome.deleted {
        "deleted"
    } else {
        "would delete"
    };
    for key in &outcome.plan.keys {
        writeln!(out, "{verb} {key}")?;
    }
    for (version, count) in &outcome.plan.versions {
        writeln!(out, "{version}: {count} objects")?;
    }
    if outcome.plan.is_empty() {
        writeln!(out, "nothing to clean up")?;
    } else if !outcome.deleted {
        writeln!(out, "dry run: nothing deleted; add --confirm to delete")?;
    }
    Ok(())
}

/// `stats --repo <url>`: counts from one listing.
pub(crate) fn stats(
    args: &RepoArgs,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    let repo = open(args)?;
    let stats = runtime()?.block_on(repo.stats())?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&stats.to_json())?)?;
    } else {
        write!(out, "{}", stats.to_table())?;
    }
    Ok(())
}

/// The keys a repository holds, from one listing, for `plan --repo`.
pub(crate) fn existing(args: &RepoArgs) -> Result<ExistingKeys, Box<dyn Error>> {
    let repo = open(args)?;
    Ok(runtime()?.block_on(repo.listing())?.existing_keys())
}

/// `coverage --kernels <list.json> --repo <url>`: kernels of the list without a driver.
pub(crate) fn coverage(
    args: &RepoArgs,
    list: &KernelList,
    versions: &[DriverVersion],
    site: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    let repo = open(args)?;
    let runtime = runtime()?;
    // Reproducible when SOURCE_DATE_EPOCH says when; now otherwise.
    let generated = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let coverage = runtime.block_on(repo.coverage(list, versions, &generated))?;
    if site {
        runtime.block_on(repo.write_coverage(&coverage))?;
    }
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&coverage.to_json())?
        )?;
    } else {
        write!(out, "{}", coverage.to_table())?;
        if site {
            writeln!(out, "written: driver/site/coverage.json")?;
        }
    }
    Ok(())
}
