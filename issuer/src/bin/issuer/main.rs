//! `issuer`: issue and manage residence permits. Wires the command line to the library; every
//! error becomes one line on stderr with its reason code, a hint, and an exit code (0 done,
//! 1 refused, 2 usage or I/O error); with `--json` also one JSON object on stdout.

mod batch;
mod card;
mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let json = cli.json;
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {} [{}]", e.message, e.code);
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            if json {
                let mut v = permit_shared::reason::command_error_json(
                    e.code,
                    &e.message,
                    e.hint.as_deref(),
                    e.exit,
                );
                if !e.problems.is_empty() {
                    v["error"]["problems"] = serde_json::json!(e.problems);
                }
                if let Some(d) = e.details {
                    v["error"]["details"] = *d;
                }
                // Best effort: the error is on stderr and in the exit code already.
                let _ = commands::print_json(&v);
            }
            ExitCode::from(e.exit)
        }
    }
}

/// A command line clap could not parse: clap's own message on stderr (exit 2), and with `--json`
/// anywhere on the line also the JSON error object (`USAGE`) on stdout. Help and version requests
/// print as usual (exit 0).
fn usage_error(e: &clap::Error) -> ExitCode {
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if !help && std::env::args_os().any(|a| a == "--json") {
        let v =
            permit_shared::reason::usage_error_json(&e.to_string(), "see `issuer --help`", code);
        let _ = commands::print_json(&v);
    }
    let _ = e.print();
    ExitCode::from(code)
}
