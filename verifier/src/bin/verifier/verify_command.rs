//! `verifier verify`: loads the trust list, status list and state, expands the inputs, checks
//! each, prints the reports and saves the state.

use std::io::{Read as _, Write};
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;

use permit_shared::keys::{KeyError, PublicKey};
use permit_verifier::check::{self, Input};
use permit_verifier::demo;
use permit_verifier::normalise;
use permit_verifier::report::Report;
use permit_verifier::scan::ScanLimits;
use permit_verifier::session::{Session, SessionInput};
use permit_verifier::state::State;
use permit_verifier::verify::{self, ClockSource};

use crate::cli::VerifyArgs;
use crate::{Failure, fail, fail_with, io_fail, read_capped};

/// `verifier verify`: every input checked (in parallel), one report each on stdout, a summary
/// when there are several; the exit code is the worst report's.
pub(crate) fn run(a: &VerifyArgs) -> Result<u8, Failure> {
    let (at, clock_source) = verification_time(a)?;
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
    let bar = if many && !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Some(indicatif::ProgressBar::new(items.len() as u64))
    } else {
        None
    };
    let reports: Vec<Report> = items
        .par_iter()
        .map(|i| {
            let r = check_item(i, &ctx, &limits);
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
    print_reports(&mut out, &reports, a.json, a.reveal_id);
    if many {
        print_summary(&mut out, &reports, a.json);
    }
    Ok(worst_exit_code(&reports))
}

/// The `--at` time, or the device clock.
fn verification_time(a: &VerifyArgs) -> Result<(DateTime<Utc>, ClockSource), Failure> {
    Ok(match &a.at {
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
    })
}

/// The report for one input; a file that cannot be read gets an input-error report.
fn check_item(item: &Item, ctx: &verify::Context<'_>, limits: &ScanLimits) -> Report {
    match item {
        Item::Text { name, text } => check::check(name, Input::Text(text), ctx, limits),
        Item::File(p) => {
            let name = p.display().to_string();
            match read_capped(p, limits.max_file_bytes) {
                Ok(bytes) => check::check(&name, Input::Image(&bytes), ctx, limits),
                Err(f) => check::unreadable(&name, &f.message, ctx),
            }
        }
    }
}

/// Every report on `out`: JSON (pretty for one report, one line each for several) or text. A
/// closed stdout stops the output, not the run.
fn print_reports(out: &mut impl Write, reports: &[Report], json: bool, reveal_id: bool) {
    let many = reports.len() > 1;
    for r in reports {
        let text = if json {
            let v = r.to_json(reveal_id);
            if many {
                serde_json::to_string(&v).unwrap_or_default()
            } else {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            }
        } else {
            r.to_human(reveal_id)
        };
        if writeln!(out, "{text}").is_err() {
            break;
        }
    }
}

/// The exit code of the run: the worst report's (invalid over indeterminate over unreadable
/// over valid); 2 when there is no report.
fn worst_exit_code(reports: &[Report]) -> u8 {
    reports
        .iter()
        .map(Report::exit_code)
        .max_by_key(|c| match c {
            0 => 0,
            2 => 1,
            3 => 2,
            _ => 3,
        })
        .unwrap_or(2)
}

/// The counts of a run of several inputs: with `--json` one more JSON line on stdout, else on
/// stderr.
fn print_summary(out: &mut impl Write, reports: &[Report], json: bool) {
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
    if json {
        let _ = writeln!(out, "{summary}");
    } else {
        eprintln!("{}", summary["summary"]);
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
            if files.is_empty() {
                return Err(Failure {
                    code: "NO_IMAGES",
                    message: format!("{}: the directory holds no images", p.display()),
                    hint: Some("name image files (PNG, JPEG, …) or a directory of them, or `.txt` files of scanner text".into()),
                });
            }
            files.sort();
            for f in files {
                items.extend(file_items(f)?);
            }
        } else {
            items.extend(file_items(p.clone())?);
        }
    }
    Ok(items)
}

/// A file to check: an image (or any other file, which the scan then names as unreadable), or,
/// for a `.txt` file that is not an image, its scanner text with one code per line (each line an
/// item named `FILE:N`, or `FILE` when there is one).
fn file_items(path: PathBuf) -> Result<Vec<Item>, Failure> {
    let is_txt = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    if !is_txt {
        return Ok(vec![Item::File(path)]);
    }
    let bytes = read_capped(&path, 4 * 1024 * 1024)?;
    if image::guess_format(&bytes).is_ok() {
        return Ok(vec![Item::File(path)]);
    }
    let name = path.display().to_string();
    let text = String::from_utf8_lossy(&bytes);
    let lines = normalise::scanner_lines(&text);
    if lines.len() <= 1 {
        let text = lines.first().map_or_else(String::new, |l| (*l).to_owned());
        return Ok(vec![Item::Text { name, text }]);
    }
    Ok(lines
        .iter()
        .enumerate()
        .map(|(i, l)| Item::Text {
            name: format!("{name}:{}", i + 1),
            text: (*l).to_owned(),
        })
        .collect())
}
