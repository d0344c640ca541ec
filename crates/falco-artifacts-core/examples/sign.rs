//! `sign <armored-secret-key> <file>`: writes `<file>.asc`, a detached armored SHA-256
//! signature, streaming the file. Used by `scripts/bench` against `gpg --detach-sign`; with
//! `--generate <key-out>` it writes a new Ed25519 key instead.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;

use falco_artifacts_core::{KeyAlgorithm, PgpSigner, Signer};

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    match args {
        [flag, out] if flag == "--generate" => {
            let signer = PgpSigner::generate("bench <bench@example.com>", KeyAlgorithm::Ed25519)?;
            std::fs::write(out, signer.secret_key_armored()?)?;
            Ok(())
        }
        [key, file] => {
            let signer = PgpSigner::from_armored_file(Path::new(key), None)?;
            let mut data = BufReader::with_capacity(1 << 16, File::open(file)?);
            std::fs::write(
                format!("{file}.asc"),
                signer.sign_detached_armored(&mut data)?,
            )?;
            Ok(())
        }
        _ => Err("usage: sign <armored-secret-key> <file> | sign --generate <key-out>".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
