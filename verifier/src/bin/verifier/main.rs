//! `verifier`: wires the command line to the library. Exit codes: 0 valid, 1 invalid, 2 usage or
//! input error, 3 indeterminate. Results go to stdout, diagnostics to stderr. An error that stops
//! the whole run (not one input's verdict) has a stable reason code: on stderr, and with `--json`
//! also as one JSON object on stdout.

mod cli;
mod load;
mod serve;
mod station;
mod verify_command;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;

use permit_verifier::scan::{self, ScanLimits};

use cli::{Cli, Command};

/// An error that stops the run: a stable reason code, a message naming what and where, a hint.
struct Failure {
    code: &'static str,
    message: String,
    hint: Option<String>,
}

/// A flag or argument the command cannot use (`USAGE`).
fn fail(message: impl Into<String>) -> Failure {
    fail_with("USAGE", message)
}

fn fail_with(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
        hint: None,
    }
}

/// A file or stream that could not be read or written (`IO_ERROR`).
fn io_fail(what: impl std::fmt::Display, e: &std::io::Error) -> Failure {
    fail_with("IO_ERROR", format!("{what}: {e}"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let json = matches!(&cli.command, Command::Verify(a) if a.json);
    let r = match cli.command {
        Command::Verify(a) => verify_command::run(&a),
        Command::Serve(a) => serve::run(&a),
        Command::Decode { image } => run_decode(&image),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {} [{}]", f.message, f.code);
            if let Some(h) = &f.hint {
                eprintln!("hint: {h}");
            }
            if json {
                let v = permit_shared::reason::command_error_json(
                    f.code,
                    &f.message,
                    f.hint.as_deref(),
                    2,
                );
                // A closed stdout is not worth a panic: the error is on stderr already.
                let _ = writeln!(std::io::stdout().lock(), "{v:#}");
            }
            ExitCode::from(2)
        }
    }
}

/// A command line clap could not parse: clap's own message on stderr (exit 2), and with `--json`
/// anywhere on the line also the JSON error object (`USAGE`) on stdout. Help and version requests
/// print as usual (exit 0).
fn usage_error(e: &clap::Error) -> ExitCode {
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    let help = matches!(
        e.kind(),
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
    );
    if !help && std::env::args_os().any(|a| a == "--json") {
        let v = permit_shared::reason::usage_error_json(
            &e.to_string(),
            "see `verifier verify --help`",
            code,
        );
        let _ = writeln!(std::io::stdout().lock(), "{v:#}");
    }
    let _ = e.print();
    ExitCode::from(code)
}

/// The file's bytes, refused (`FILE_TOO_LARGE`) when it is larger than `cap`.
fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| io_fail(path.display(), &e))?;
    if meta.len() > cap {
        return Err(fail_with(
            "FILE_TOO_LARGE",
            format!(
                "{}: {} bytes, more than the limit of {cap}",
                path.display(),
                meta.len()
            ),
        ));
    }
    std::fs::read(path).map_err(|e| io_fail(path.display(), &e))
}

fn run_decode(image: &Path) -> Result<u8, Failure> {
    let limits = ScanLimits::default();
    let bytes = read_capped(image, limits.max_file_bytes)?;
    match scan::scan_image_bytes(&bytes, &limits) {
        Ok(codes) => {
            let mut out = std::io::stdout().lock();
            for c in codes {
                if writeln!(out, "{}", c.text).is_err() {
                    break; // closed pipe
                }
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {}: {} [{}]", image.display(), e, e.code());
            Ok(2)
        }
    }
}
