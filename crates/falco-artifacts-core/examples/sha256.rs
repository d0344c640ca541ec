//! Prints `<sha256>  <file>` for each file, like `sha256sum`, streaming through core's digests.
//! Used by `scripts/bench` to compare against `sha256sum` on the same input.

use std::fs::File;
use std::process::ExitCode;

use falco_artifacts_core::Sha256Digest;

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in std::env::args().skip(1) {
        match File::open(&path).and_then(Sha256Digest::of_reader) {
            Ok((digest, _)) => println!("{digest}  {path}"),
            Err(e) => {
                eprintln!("{path}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
