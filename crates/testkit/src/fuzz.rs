//! Bounded fuzzing on the stable toolchain: seeded mutations of real inputs (packages from
//! `dpkg-deb`, `rpmbuild`, GNU tar, real driverkit configs, the sample manifest), a fixed time
//! and iteration budget, and a check of peak memory afterwards. `cargo fuzz` targets go deeper
//! for people with nightly; these run in every `scripts/test`.
//!
//! A failing input is written to `$TMPDIR/falco-artifacts-fuzz/` and named in the panic, with
//! the seed and iteration that reproduce it (`FUZZ_SEED=<seed>`); commit it as a regression
//! test. `FUZZ_SECONDS` changes the time budget of every target (default 20).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long and how hard one target is fuzzed, and how much memory it may take.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Wall-clock time for the mutations (the seeds themselves always run).
    pub time: Duration,
    /// Most mutated inputs.
    pub max_iterations: u64,
    /// Most resident memory the test process may have reached (its `VmHWM`) at the end.
    pub max_rss: u64,
}

impl Budget {
    /// `FUZZ_SECONDS` (default 20 s), at most a million inputs, 1 GiB of peak memory.
    pub fn from_env() -> Self {
        let secs = std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(20);
        Budget {
            time: Duration::from_secs(secs),
            max_iterations: 1_000_000,
            max_rss: 1 << 30,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Inputs tried, seeds included.
    pub inputs: u64,
    /// The process's peak resident memory at the end, in bytes.
    pub peak_rss: u64,
}

/// A small xorshift generator: deterministic, so a failure reproduces from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Values that sit on the edges parsers get wrong.
const INTERESTING: [u64; 10] = [
    0,
    1,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 31,
    1 << 40,
    u64::MAX,
];

/// One to four mutations of `input`, some taking bytes from `other` (another seed).
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            out.push(rng.next_u64() as u8);
            continue;
        }
        let at = rng.below(out.len());
        match rng.below(9) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => out[at] = *b"\0\xff\x7f\x800 \n:-/".get(rng.below(11)).unwrap_or(&0),
            2 => {
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let width = [1, 2, 4, 8][rng.below(4)];
                let bytes = value.to_be_bytes();
                let bytes = if rng.below(2) == 0 {
                    bytes[8 - width..].to_vec()
                } else {
                    let mut le = value.to_le_bytes()[..width].to_vec();
                    le.truncate(width);
                    le
                };
                let end = (at + width).min(out.len());
                out[at..end].copy_from_slice(&bytes[..end - at]);
            }
            3 => {
                // An ASCII number, where tar and ar keep theirs.
                let digits = format!("{:o}", INTERESTING[rng.below(INTERESTING.len())]);
                let end = (at + digits.len()).min(out.len());
                out[at..end].copy_from_slice(&digits.as_bytes()[..end - at]);
            }
            4 => {
                let len = 1 + rng.below(64);
                let end = (at + len).min(out.len());
                out.drain(at..end);
            }
            5 => {
                let len = 1 + rng.below(64);
                let end = (at + len).min(out.len());
                let chunk = out[at..end].to_vec();
                let to = rng.below(out.len());
                out.splice(to..to, chunk);
            }
            6 => {
                let bytes: Vec<u8> = (0..1 + rng.below(16))
                    .map(|_| rng.next_u64() as u8)
                    .collect();
                out.splice(at..at, bytes);
            }
            7 if !other.is_empty() => {
                let from = rng.below(other.len());
                let len = (1 + rng.below(512)).min(other.len() - from);
                let end = (at + len).min(out.len());
                out.splice(at..end, other[from..from + len].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// The process's peak resident memory (`VmHWM`), in bytes; 0 where `/proc` does not say.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Runs `check` on every seed, then on mutations of them until the budget is spent; panics
/// (naming the saved input) when `check` panics, and when peak memory exceeds the budget.
/// `check` must itself assert what must hold (no write outside its directory, …); any
/// result the code under test returns, error or not, is fine.
pub fn fuzz(
    name: &str,
    seeds: &[Vec<u8>],
    budget: Budget,
    mut check: impl FnMut(&[u8]),
) -> Outcome {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng::new(seed);
    let mut run = |input: &[u8], iteration: u64| {
        if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
            let path = save(name, iteration, input);
            panic!(
                "{name}: input {iteration} (FUZZ_SEED={seed}) failed; saved to {}",
                path.display()
            );
        }
    };
    let mut inputs = 0;
    for seed_input in seeds {
        run(seed_input, inputs);
        inputs += 1;
    }
    let start = Instant::now();
    while start.elapsed() < budget.time && inputs < budget.max_iterations {
        let base = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base, other);
        run(&input, inputs);
        inputs += 1;
    }
    let peak = peak_rss();
    assert!(
        peak <= budget.max_rss,
        "{name}: peak memory {peak} bytes is over the budget of {}",
        budget.max_rss
    );
    eprintln!(
        "fuzz {name}: {inputs} inputs in {:.1?}, peak memory {} MiB",
        start.elapsed(),
        peak >> 20
    );
    Outcome {
        inputs,
        peak_rss: peak,
    }
}

/// Writes a failing input where a developer can pick it up.
fn save(name: &str, iteration: u64, input: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join("falco-artifacts-fuzz");
    let path = dir.join(format!("{name}-{iteration}.bin"));
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input));
    path
}

/// Every file in `dir` (not recursive), sorted by name: a committed corpus.
pub fn seeds_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list the fuzz seeds in {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_bounded() {
        let seed = b"kernelversion: 1\nkernelrelease: 5.10.0\n".to_vec();
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            let x = mutate(&mut a, &seed, b"other");
            assert_eq!(x, mutate(&mut b, &seed, b"other"));
            assert!(x.len() < seed.len() + 4 * 600);
        }
        assert!(peak_rss() > 0);
    }
}
