//! Spreading a plan over many CI jobs: `--shard K/N` keeps the builds whose kernel hashes to
//! shard K, and `plan --matrix N` describes the N jobs as a GitHub Actions `strategy.matrix`.
//!
//! A build's shard depends only on its kernel (architecture, target, kernel release and kernel
//! version) and N: the builds of one kernel, whatever their driver version, land in one shard
//! and share one unpacked tree, and adding configs never moves an existing build to another
//! shard. SHA-256 spreads kernels evenly; each shard's estimated cost (its outputs) is in the
//! matrix so that an unbalanced split is visible.

use std::fmt;
use std::str::FromStr;

use falco_artifacts_core::Sha256Digest;
use serde::Serialize;

use crate::{Build, Plan};

/// One of N shards, numbered from 1: `2/4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: usize,
    count: usize,
}

/// `--shard` text that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard {text:?}: expected K/N with 1 <= K <= N, e.g. 2/4")]
pub struct ShardError {
    /// The text given.
    pub text: String,
}

impl Shard {
    /// Shard `index` (1-based) of `count`.
    pub fn new(index: usize, count: usize) -> Result<Shard, ShardError> {
        if count == 0 || index == 0 || index > count {
            return Err(ShardError {
                text: format!("{index}/{count}"),
            });
        }
        Ok(Shard { index, count })
    }

    /// Every shard of `count`.
    pub fn all(count: usize) -> impl Iterator<Item = Shard> {
        (1..=count).map(move |index| Shard { index, count })
    }

    /// K.
    pub fn index(&self) -> usize {
        self.index
    }

    /// N.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether `build` belongs to this shard.
    pub fn holds(&self, build: &Build) -> bool {
        shard_index(build, self.count) == self.index
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError {
            text: text.to_owned(),
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let k = k.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).map_err(|_| bad())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The kernel a build compiles against: what keeps builds together.
fn kernel_key(build: &Build) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        build.arch, build.target, build.kernel_release, build.kernel_version
    )
}

/// The 1-based shard of `build` among `count`.
fn shard_index(build: &Build, count: usize) -> usize {
    let digest = Sha256Digest::of_bytes(kernel_key(build).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    (u64::from_be_bytes(first) % count.max(1) as u64) as usize + 1
}

/// One job of a matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixJob {
    /// `K/N`, for `driver-grid build --shard`.
    pub shard: String,
    /// Builds in the shard.
    pub builds: usize,
    /// Outputs in the shard (the estimated cost).
    pub outputs: usize,
}

impl Plan {
    /// The builds of `shard`, in plan order.
    pub fn shard(&self, shard: Shard) -> Plan {
        Plan {
            builds: self
                .builds
                .iter()
                .filter(|b| shard.holds(b))
                .cloned()
                .collect(),
        }
    }

    /// The `count` jobs that together build the plan.
    pub fn matrix(&self, count: usize) -> Vec<MatrixJob> {
        Shard::all(count.max(1))
            .map(|shard| {
                let part = self.shard(shard);
                MatrixJob {
                    shard: shard.to_string(),
                    builds: part.builds.len(),
                    outputs: part.output_count(),
                }
            })
            .collect()
    }

    /// The matrix as GitHub Actions reads it with `fromJSON`:
    /// `{"include":[{"shard":"1/4","builds":3,"outputs":5},…]}`.
    pub fn github_matrix(&self, count: usize) -> serde_json::Value {
        serde_json::json!({ "include": self.matrix(count) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n() {
        let shard: Shard = "2/4".parse().unwrap();
        assert_eq!((shard.index(), shard.count()), (2, 4));
        assert_eq!(shard.to_string(), "2/4");
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
