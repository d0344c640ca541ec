//! Prints a `.deb`'s control file and data tree, or extracts the tree.
//!
//! ```text
//! cargo run -p falco-artifacts-pkg-deb --example read-deb -- falco-0.39.0-x86_64.deb
//! cargo run -p falco-artifacts-pkg-deb --example read-deb -- falco-0.39.0-x86_64.deb --extract out/
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use falco_artifacts_pkg_deb::{AbsoluteSymlinks, DataKind, DebReader, ExtractOptions};

#[derive(Parser)]
#[command(about = "Show or extract a .deb")]
struct Args {
    /// The package.
    deb: PathBuf,
    /// Extract the data tree here instead of listing it.
    #[arg(long)]
    extract: Option<PathBuf>,
    /// Rewrite absolute symlinks to point inside the extracted tree instead of refusing them.
    #[arg(long)]
    rebase_symlinks: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("read-deb: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reader = DebReader::open(&args.deb)?;
    print!("{}", reader.control().raw());
    println!("-- {} + {}", reader.control_member(), reader.data_member());
    let entries = match &args.extract {
        Some(dir) => {
            let options = ExtractOptions {
                absolute_symlinks: if args.rebase_symlinks {
                    AbsoluteSymlinks::Rebase
                } else {
                    AbsoluteSymlinks::Reject
                },
                ..ExtractOptions::default()
            };
            reader.extract(dir, &options)?
        }
        None => reader.entries()?,
    };
    for entry in &entries {
        let what = match &entry.kind {
            DataKind::File { size } => format!("{size}"),
            DataKind::Dir => "dir".into(),
            DataKind::Symlink { target } => format!("-> {target}"),
            DataKind::HardLink { target } => format!("link to {target}"),
            DataKind::Special { kind } => format!("special {kind}"),
        };
        println!(
            "{:o} {}/{} {} {what}",
            entry.mode, entry.owner, entry.group, entry.path
        );
    }
    Ok(())
}
