//! `issuer`: issue and manage residence permits. Wires the command line to the library; every
//! error becomes one line on stderr, a hint, and an exit code (0 done, 1 refused, 2 usage or
//! I/O error).

mod batch;
mod card;
mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            ExitCode::from(e.exit)
        }
    }
}
