//! `issuer`: issue and manage residence permits. Wires the command line to the library; every
//! error becomes one line on stderr with its reason code, a hint, and an exit code (0 done,
//! 1 refused, 2 usage or I/O error); with `--json` also one JSON object on stdout.

mod batch;
mod card;
mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {} [{}]", e.message, e.code);
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            if json {
                let mut v = serde_json::json!({
                    "error": { "code": e.code, "message": e.message, "hint": e.hint },
                    "exit_code": e.exit,
                });
                if !e.problems.is_empty() {
                    v["error"]["problems"] = serde_json::json!(e.problems);
                }
                if let Some(d) = &e.details {
                    v["error"]["details"] = (**d).clone();
                }
                // Best effort: the error is on stderr and in the exit code already.
                let _ = commands::print_json(&v);
            }
            ExitCode::from(e.exit)
        }
    }
}
