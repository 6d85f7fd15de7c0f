//! `verifier`: wires the command line to the library. Exit codes: 0 valid, 1 invalid, 2 usage or
//! input error, 3 indeterminate. Results go to stdout, diagnostics to stderr. An error that stops
//! the whole run (not one input's verdict) has a stable reason code: on stderr, and with `--json`
//! also as one JSON object on stdout.

mod cli;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use clap::Parser as _;
use rayon::prelude::*;

use permit_shared::keys::{KeyError, PublicKey};
use permit_verifier::check::{self, Input};
use permit_verifier::demo;
use permit_verifier::report::Report;
use permit_verifier::scan::{self, ScanLimits};
use permit_verifier::session::{Session, SessionInput};
use permit_verifier::state::State;
use permit_verifier::verify::{self, ClockSource};

use cli::{Cli, Command, VerifyArgs};

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
        Command::Verify(a) => run_verify(&a),
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

fn load_root(a: &VerifyArgs) -> Result<PublicKey, Failure> {
    match &a.root {
        None => demo::root()
            .map_err(|e| fail_with("ROOT_KEY_INVALID", format!("embedded demo root: {e}"))),
        Some(p) => {
            let bytes = read_capped(p, 64 * 1024)?;
            PublicKey::from_pem_or_jwk(&bytes).map_err(|e| {
                // A file that is not JSON is named by the parser's message alone (as before
                // the sniffing moved to `permit_shared`), so that the output stays the same.
                let detail = match e {
                    KeyError::JwkJson(detail) => detail,
                    other => other.to_string(),
                };
                fail_with("ROOT_KEY_INVALID", format!("{}: {detail}", p.display()))
            })
        }
    }
}

fn state_path(a: &VerifyArgs) -> Option<PathBuf> {
    if a.no_state {
        return None;
    }
    if let Some(p) = &a.state {
        return Some(p.clone());
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("gdrp-verifier").join("state.json"))
}

/// Expands the inputs: directories to their files (sorted), `-` to stdin lines.
enum Item {
    Text { name: String, text: String },
    File(PathBuf),
}

fn expand(inputs: &[PathBuf]) -> Result<Vec<Item>, Failure> {
    let mut items = Vec::new();
    for p in inputs {
        if p.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .take(4 * 1024 * 1024)
                .read_to_end(&mut buf)
                .map_err(|e| io_fail("stdin", &e))?;
            if image::guess_format(&buf).is_ok() {
                let tmp =
                    std::env::temp_dir().join(format!("verifier-stdin-{}", std::process::id()));
                std::fs::write(&tmp, &buf).map_err(|e| io_fail("stdin", &e))?;
                items.push(Item::File(tmp));
                continue;
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            let lines: Vec<&str> = text
                .split('\n')
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| !l.trim().is_empty())
                .collect();
            if lines.is_empty() {
                items.push(Item::Text {
                    name: "-".into(),
                    text: String::new(),
                });
            }
            let n = lines.len();
            for (i, l) in lines.into_iter().enumerate() {
                items.push(Item::Text {
                    name: if n == 1 {
                        "-".into()
                    } else {
                        format!("-:{}", i + 1)
                    },
                    text: l.to_owned(),
                });
            }
        } else if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| io_fail(p.display(), &e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .collect();
            files.sort();
            items.extend(files.into_iter().map(Item::File));
        } else {
            items.push(Item::File(p.clone()));
        }
    }
    Ok(items)
}

fn run_verify(a: &VerifyArgs) -> Result<u8, Failure> {
    let (at, clock_source) = match &a.at {
        None => (Utc::now(), ClockSource::System),
        Some(s) => (
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    fail(format!(
                        "--at `{s}` is not an RFC 3339 time (e.g. 2027-01-31T09:00:00+08:00)"
                    ))
                })?,
            ClockSource::Given,
        ),
    };
    let root = load_root(a)?;
    let trust_doc = match &a.trust {
        Some(p) => read_capped(p, permit_shared::trust::MAX_TRUST_LIST_BYTES as u64)?,
        None => {
            eprintln!(
                "warning: using the embedded TEST-ONLY demo trust list (pass --trust and --root for real permits)"
            );
            demo::TRUST_LIST.as_bytes().to_vec()
        }
    };
    let state_file = state_path(a);
    let state = match &state_file {
        Some(p) => State::load(p).map_err(|e| fail_with("STATE_UNREADABLE", e.to_string()))?,
        None => State::default(),
    };
    let status_doc = match &a.status {
        Some(p) => Some((
            p.display().to_string(),
            read_capped(p, permit_shared::status::MAX_TOKEN_BYTES as u64)?,
        )),
        None => None,
    };
    let session = Session::open(SessionInput {
        root: &root,
        trust_document: &trust_doc,
        status: status_doc.as_ref().map(|(n, b)| (n.as_str(), b.as_slice())),
        at,
        clock_source,
        state,
        status_grace: Duration::hours(i64::from(a.status_grace_hours)),
    })
    .map_err(|e| Failure {
        code: "TRUST_LIST_REFUSED",
        message: format!("trust list refused: {e}"),
        hint: Some(
            "pass the trust list signed by the root you pin (--trust FILE --root KEY)".into(),
        ),
    })?;
    let ctx = session.context();
    let limits = ScanLimits {
        time_budget: std::time::Duration::from_millis(a.time_budget_ms),
        ..ScanLimits::default()
    };
    let items = expand(&a.inputs)?;
    let many = items.len() > 1;
    let check = |item: &Item| -> Report {
        match item {
            Item::Text { name, text } => check::check(name, Input::Text(text), &ctx, &limits),
            Item::File(p) => {
                let name = p.display().to_string();
                match read_capped(p, limits.max_file_bytes) {
                    Ok(bytes) => check::check(&name, Input::Image(&bytes), &ctx, &limits),
                    Err(f) => check::unreadable(&name, &f.message, &ctx),
                }
            }
        }
    };
    let bar = if many && !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Some(indicatif::ProgressBar::new(items.len() as u64))
    } else {
        None
    };
    let reports: Vec<Report> = items
        .par_iter()
        .map(|i| {
            let r = check(i);
            if let Some(b) = &bar {
                b.inc(1);
            }
            r
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let state = session.finish(&reports);
    if let Some(p) = &state_file
        && let Err(e) = state.save(p)
    {
        eprintln!("warning: {e}");
    }
    let mut out = std::io::stdout().lock();
    for r in &reports {
        let text = if a.json {
            let v = r.to_json(a.reveal_id);
            if many {
                serde_json::to_string(&v).unwrap_or_default()
            } else {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            }
        } else {
            r.to_human(a.reveal_id)
        };
        if writeln!(out, "{text}").is_err() {
            break;
        }
    }
    let exit = reports
        .iter()
        .map(Report::exit_code)
        .max_by_key(|c| match c {
            0 => 0,
            2 => 1,
            3 => 2,
            _ => 3,
        })
        .unwrap_or(2);
    if many {
        let count = |v: verify::Verdict| {
            reports
                .iter()
                .filter(|r| r.verdict == v && !r.input_error)
                .count()
        };
        let summary = serde_json::json!({
            "summary": {
                "inputs": reports.len(),
                "valid": count(verify::Verdict::Valid),
                "invalid": count(verify::Verdict::Invalid),
                "indeterminate": count(verify::Verdict::Indeterminate),
                "unreadable": reports.iter().filter(|r| r.input_error).count(),
            }
        });
        if a.json {
            let _ = writeln!(out, "{summary}");
        } else {
            eprintln!("{}", summary["summary"]);
        }
    }
    Ok(exit)
}
